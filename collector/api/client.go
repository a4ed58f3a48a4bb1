package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// DefaultTimeout bounds one request of a Client, including reading the
// answer, when ClientOptions.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxResponseBody is the most a Client reads of any answer's body: enough for
// a baseline whose snapshot is as large as a report may be, in base64.
const maxResponseBody = 2*MaxReportSize + 1<<20

// ErrFingerprintMismatch means the collector presented a TLS certificate
// other than the pinned one: the collector's certificate was replaced, or
// something else answers at its address. Errors that wrap it name both
// fingerprints.
var ErrFingerprintMismatch = errors.New("collector certificate fingerprint mismatch")

// ErrTooLarge means a report or blob exceeds MaxReportSize or MaxBlobSize.
// The Client refuses it before sending anything; IsPermanent reports true.
var ErrTooLarge = errors.New("too large")

// ClientOptions configures NewClient.
type ClientOptions struct {
	// BaseURL is the collector's base URL, "https://collector.example.com:8443";
	// a path prefix (behind a reverse proxy) is kept.
	BaseURL string
	// Fingerprint pins the collector's TLS certificate: the SHA-256 of the
	// leaf certificate's DER, as 64 hex characters, optionally separated by
	// colons and prefixed with "sha256:" (see NormalizeFingerprint). With
	// a fingerprint, only the pin is checked (a collector's certificate is
	// usually self-signed); without one, the certificate must verify
	// against the system roots.
	Fingerprint string
	// Credential is sent as "Authorization: Bearer <credential>": the
	// host's credential from Enroll, or a person's API token. Empty before
	// enrollment.
	Credential string
	// Insecure allows an http:// BaseURL, which sends the credential and
	// every report in clear text. For tests and trusted networks only.
	Insecure bool
	// Timeout bounds each request, including reading the answer;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// UserAgent is sent as User-Agent; "driftwatch/<ProtocolVersion>" when
	// empty.
	UserAgent string
	// HTTPClient replaces the client the Client builds. Its transport then
	// does all TLS verification: Fingerprint is not applied to it.
	HTTPClient *http.Client
}

// Client talks to a collector's API v1. It is safe for concurrent use.
//
// Its methods return a *StatusError (wrapped, see errors.As) when the
// collector answered with an unexpected status, and other errors when no
// answer arrived. IsPermanent tells which errors a retry cannot fix.
type Client struct {
	base       string // scheme://host[:port][/prefix], no trailing slash
	hc         *http.Client
	credential string
	userAgent  string
	timeout    time.Duration
}

// NewClient checks opt and returns a Client. It refuses an http:// base URL
// unless opt.Insecure is set, and a malformed fingerprint.
func NewClient(opt ClientOptions) (*Client, error) {
	u, err := parseBaseURL(opt.BaseURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !opt.Insecure {
		return nil, fmt.Errorf("collector URL %s: http sends the credential and reports in clear text; use https, or set insecure to allow it", opt.BaseURL)
	}
	c := &Client{
		base:       strings.TrimSuffix(u.String(), "/"),
		hc:         opt.HTTPClient,
		credential: opt.Credential,
		userAgent:  opt.UserAgent,
		timeout:    opt.Timeout,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "driftwatch/" + ProtocolVersion
	}
	if c.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if opt.Fingerprint != "" {
			fp, err := NormalizeFingerprint(opt.Fingerprint)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = pinnedTLSConfig(fp)
		}
		c.hc = &http.Client{Transport: tr}
	}
	return c, nil
}

// WithCredential returns a copy of c that sends cred as its bearer
// credential, sharing c's connections: after Enroll, the agent continues
// with c.WithCredential(resp.Credential).
func (c *Client) WithCredential(cred string) *Client {
	cc := *c
	cc.credential = cred
	return &cc
}

func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("collector URL is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("collector URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("collector URL %s: scheme must be https (or http with insecure)", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("collector URL %s: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("collector URL %s: must not carry a query, fragment or user", s)
	}
	return u, nil
}

// NormalizeFingerprint returns a certificate fingerprint as 64 lowercase hex
// characters. It accepts upper or lower case, colons between the bytes
// ("AB:CD:…", as openssl prints it) and a "sha256:" prefix.
func NormalizeFingerprint(s string) (string, error) {
	fp := strings.TrimSpace(s)
	if len(fp) >= 7 && strings.EqualFold(fp[:7], "sha256:") {
		fp = fp[7:]
	}
	fp = strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	if len(fp) != 2*sha256.Size {
		return "", fmt.Errorf("certificate fingerprint %q: want the SHA-256 as %d hex characters, have %d", s, 2*sha256.Size, len(fp))
	}
	if _, err := hex.DecodeString(fp); err != nil {
		return "", fmt.Errorf("certificate fingerprint %q: not hex", s)
	}
	return fp, nil
}

// CertFingerprint returns the fingerprint of a DER-encoded certificate: its
// SHA-256 as 64 lowercase hex characters.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// pinnedTLSConfig accepts exactly the leaf certificate whose fingerprint is
// fp. Chain and host name are not checked: the pin replaces them.
// ClientSessionCache stays nil, so every connection makes a full handshake
// and VerifyPeerCertificate always runs.
func pinnedTLSConfig(fp string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the pin below is the verification
		VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			if len(rawCerts) == 0 {
				return fmt.Errorf("%w: expected %s, collector presented no certificate", ErrFingerprintMismatch, fp)
			}
			if seen := CertFingerprint(rawCerts[0]); seen != fp {
				return fmt.Errorf("%w: expected %s, seen %s", ErrFingerprintMismatch, fp, seen)
			}
			return nil
		},
	}
}

// FetchFingerprint connects to the collector at baseURL (https only) and
// returns the fingerprint of the certificate it presents, without verifying
// it. It is for trust on first use: the agent shows the fingerprint to the
// operator, who confirms it against the collector's
// (driftwatch-collector prints its own), and then pins it with
// ClientOptions.Fingerprint for Enroll and every later request. It does not
// use a proxy. A ctx without deadline is bounded by DefaultTimeout.
func FetchFingerprint(ctx context.Context, baseURL string) (string, error) {
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("fetch certificate fingerprint of %s: not an https URL", baseURL)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	d := tls.Dialer{Config: &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         u.Hostname(),
		InsecureSkipVerify: true, // we only read the certificate; the operator verifies it
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("fetch certificate fingerprint of %s: %w", addr, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", fmt.Errorf("fetch certificate fingerprint of %s: no certificate presented", addr)
	}
	return CertFingerprint(certs[0].Raw), nil
}

// StatusError is a collector's answer with an unexpected status: its code
// and the Error body (empty for answers without one, such as to HEAD).
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Err is the decoded Error body.
	Err Error
}

// Error returns, for example,
// "collector: 400 Bad Request: sequence must be 1 or more (field report.sequence)".
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "collector: %d %s", e.Status, http.StatusText(e.Status))
	if e.Err.Error != "" {
		b.WriteString(": " + e.Err.Error)
	}
	if e.Err.Field != "" {
		b.WriteString(" (field " + e.Err.Field + ")")
	}
	if len(e.Err.Supported) > 0 {
		b.WriteString(" (supported protocol versions: " + strings.Join(e.Err.Supported, ", ") + ")")
	}
	return b.String()
}

// IsPermanent reports whether sending the same request again cannot
// succeed, so the caller must not retry it: a *StatusError with a 4xx
// status other than 408 (Request Timeout) and 429 (Too Many Requests), or
// ErrTooLarge. Everything else is temporary and worth retrying with
// backoff: 5xx, 408, 429, network errors, timeouts.
//
// ErrFingerprintMismatch is not permanent: the request is fine, the
// collector is not what was pinned. Keep the report and alert the operator.
// What to do with a permanent error is the caller's choice: a 401 means
// enroll again, a 400 on a report means the report will never be accepted.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrTooLarge) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status >= 400 && se.Status < 500 &&
			se.Status != http.StatusRequestTimeout && se.Status != http.StatusTooManyRequests
	}
	return false
}

// request is one call to the collector.
type request struct {
	method, path    string
	body            []byte
	contentType     string
	contentEncoding string
	ifNoneMatch     string
	noAuth          bool
}

// response is an answer, its body read (at most maxResponseBody bytes).
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends r and reads the answer within c.timeout. It returns an error
// only when no complete answer arrived; the caller judges the status.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set(ProtocolHeader, ProtocolVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.credential != "" && !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+c.credential)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.contentEncoding != "" {
		req.Header.Set("Content-Encoding", r.contentEncoding)
	}
	if r.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", r.ifNoneMatch)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err // a *url.Error: it names the method and URL
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	if len(b) > maxResponseBody {
		return nil, fmt.Errorf("%s %s: answer exceeds %d bytes", r.method, r.path, maxResponseBody)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// statusError builds the *StatusError of an unexpected answer.
func statusError(r *response) *StatusError {
	se := &StatusError{Status: r.status}
	if len(r.body) == 0 {
		return se
	}
	if err := json.Unmarshal(r.body, &se.Err); err != nil || se.Err.Error == "" {
		se.Err = Error{}
		// Not an Error body (a proxy's page, say): keep a short plain text.
		if ct := r.header.Get("Content-Type"); strings.HasPrefix(ct, "text/plain") {
			s := strings.TrimSpace(string(r.body))
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			se.Err.Error = s
		}
	}
	return se
}

// doJSON sends in (if not nil) as JSON and decodes a 2xx answer into out
// (if not nil).
func (c *Client) doJSON(ctx context.Context, r request, in, out any) error {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		r.body, r.contentType = b, "application/json"
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if resp.status < 200 || resp.status > 299 {
		return statusError(resp)
	}
	if out != nil {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// Enroll exchanges an enrollment token for the host's identity and
// credential. It sends no Authorization header. The credential is shown
// only in this answer; continue with c.WithCredential(resp.Credential).
// A 401 or 403 (token not known, expired or used up) is permanent.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (EnrollResponse, error) {
	var resp EnrollResponse
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: PathEnroll, noAuth: true}, req, &resp); err != nil {
		return EnrollResponse{}, fmt.Errorf("enroll host %s: %w", req.Host.Name, err)
	}
	if resp.HostID == "" || resp.Credential == "" {
		return EnrollResponse{}, fmt.Errorf("enroll host %s: answer has no host ID or credential", req.Host.Name)
	}
	return resp, nil
}

// PutBlob uploads content, whose SHA-256 is d. Uploading a blob the
// collector already has is harmless. Content larger than MaxBlobSize is
// refused with ErrTooLarge before anything is sent.
func (c *Client) PutBlob(ctx context.Context, d baseline.Digest, content []byte) error {
	if len(content) > MaxBlobSize {
		return fmt.Errorf("put blob %s: %d bytes: %w (limit %d)", d.Short(), len(content), ErrTooLarge, MaxBlobSize)
	}
	if content == nil {
		content = []byte{}
	}
	r := request{method: http.MethodPut, path: PathBlobs + d.String(), body: content, contentType: "application/octet-stream"}
	if err := c.doJSON(ctx, r, nil, nil); err != nil {
		return fmt.Errorf("put blob %s: %w", d.Short(), err)
	}
	return nil
}

// HasBlob reports whether the collector has the blob d for the host's
// tenant, so that the agent can skip uploading it.
func (c *Client) HasBlob(ctx context.Context, d baseline.Digest) (bool, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, path: PathBlobs + d.String()})
	if err != nil {
		return false, fmt.Errorf("check blob %s: %w", d.Short(), err)
	}
	switch resp.status {
	case http.StatusOK, http.StatusNoContent:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("check blob %s: %w", d.Short(), statusError(resp))
}

// PostReport sends a report, its JSON gzip-compressed. A report whose JSON
// exceeds MaxReportSize is refused with ErrTooLarge before anything is
// sent. Resending a report the collector stored already is answered like
// the first time, with Duplicate set; a 400 (the report is refused) is
// permanent.
func (c *Client) PostReport(ctx context.Context, rep Report) (ReportResponse, error) {
	// The snapshot dominates a first report: refuse it before encoding
	// when its base64 form alone exceeds the limit.
	if n := base64.StdEncoding.EncodedLen(len(rep.Snapshot)); n > MaxReportSize {
		return ReportResponse{}, fmt.Errorf("post report %d: snapshot of %d bytes encodes to %d: %w (limit %d)", rep.Sequence, len(rep.Snapshot), n, ErrTooLarge, MaxReportSize)
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		return ReportResponse{}, fmt.Errorf("post report %d: encode: %w", rep.Sequence, err)
	}
	return c.PostReportJSON(ctx, rep.Sequence, raw)
}

// gzipWriters holds gzip writers for report bodies: each holds several
// hundred KiB of compressor state, which an agent draining its queue would
// otherwise allocate for every report.
var gzipWriters sync.Pool

// PostReportJSON sends a report already encoded as JSON (a Report), as
// PostReport does: an agent that keeps its reports encoded (in its spool)
// sends them without decoding and encoding them again. seq is the
// report's sequence number, for messages.
func (c *Client) PostReportJSON(ctx context.Context, seq uint64, raw []byte) (ReportResponse, error) {
	rep := struct{ Sequence uint64 }{seq}
	if len(raw) > MaxReportSize {
		return ReportResponse{}, fmt.Errorf("post report %d: %d bytes: %w (limit %d)", rep.Sequence, len(raw), ErrTooLarge, MaxReportSize)
	}
	var buf bytes.Buffer
	zw, _ := gzipWriters.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(&buf)
	} else {
		zw.Reset(&buf)
	}
	_, err := zw.Write(raw)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	zw.Reset(io.Discard) // let go of this body's buffer
	gzipWriters.Put(zw)
	if err != nil {
		return ReportResponse{}, fmt.Errorf("post report %d: compress: %w", rep.Sequence, err)
	}
	r := request{
		method: http.MethodPost, path: PathReports,
		body: buf.Bytes(), contentType: "application/json", contentEncoding: "gzip",
	}
	var resp ReportResponse
	if err := c.doJSON(ctx, r, nil, &resp); err != nil {
		return ReportResponse{}, fmt.Errorf("post report %d: %w", rep.Sequence, err)
	}
	return resp, nil
}

// Baseline fetches the host's current approved baseline with its
// snapshot. With ifNoneMatchVersion > 0 (the version the caller has), an
// unchanged baseline gives (nil, true, nil). A 404 means the host has no
// baseline yet (or is not known).
func (c *Client) Baseline(ctx context.Context, hostID string, ifNoneMatchVersion int) (*Baseline, bool, error) {
	if hostID == "" {
		return nil, false, errors.New("get baseline: empty host ID")
	}
	r := request{method: http.MethodGet, path: PathHosts + "/" + url.PathEscape(hostID) + "/baseline"}
	if ifNoneMatchVersion > 0 {
		r.ifNoneMatch = `"` + strconv.Itoa(ifNoneMatchVersion) + `"`
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, false, fmt.Errorf("get baseline of host %s: %w", hostID, err)
	}
	switch {
	case resp.status == http.StatusNotModified:
		return nil, true, nil
	case resp.status < 200 || resp.status > 299:
		return nil, false, fmt.Errorf("get baseline of host %s: %w", hostID, statusError(resp))
	}
	var b Baseline
	if err := json.Unmarshal(resp.body, &b); err != nil {
		return nil, false, fmt.Errorf("get baseline of host %s: decode answer: %w", hostID, err)
	}
	return &b, false, nil
}

// Hosts lists the hosts of the caller's tenant, by name.
func (c *Client) Hosts(ctx context.Context) ([]Host, error) {
	var hosts []Host
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: PathHosts}, nil, &hosts); err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return hosts, nil
}

// Heartbeat tells the collector the agent is alive and how it is doing;
// the answer names the host's current baseline. (1.1)
func (c *Client) Heartbeat(ctx context.Context, hb Heartbeat) (HeartbeatResponse, error) {
	var resp HeartbeatResponse
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: PathHeartbeat}, hb, &resp); err != nil {
		return HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
	}
	return resp, nil
}

// PostEvents sends events of the agent's host; an event sent again is
// stored once. A 400 (an event is refused) is permanent. (1.1)
func (c *Client) PostEvents(ctx context.Context, events []Event) (EventsResponse, error) {
	var resp EventsResponse
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: PathEvents}, EventBatch{Events: events}, &resp); err != nil {
		return EventsResponse{}, fmt.Errorf("post %d events: %w", len(events), err)
	}
	return resp, nil
}

// HostEvents lists a host's events, newest first. (1.1)
func (c *Client) HostEvents(ctx context.Context, hostID string) ([]Event, error) {
	var evs []Event
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: PathHosts + "/" + url.PathEscape(hostID) + "/events"}, nil, &evs); err != nil {
		return nil, fmt.Errorf("events of host %s: %w", hostID, err)
	}
	return evs, nil
}

// HostStatus returns a host with its agent's newest heartbeat. (1.1)
func (c *Client) HostStatus(ctx context.Context, hostID string) (HostStatus, error) {
	var st HostStatus
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: PathHosts + "/" + url.PathEscape(hostID) + "/status"}, nil, &st); err != nil {
		return HostStatus{}, fmt.Errorf("status of host %s: %w", hostID, err)
	}
	return st, nil
}

// HostDrift returns a host's current drift. (1.1)
func (c *Client) HostDrift(ctx context.Context, hostID string) (HostDrift, error) {
	var d HostDrift
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: PathHosts + "/" + url.PathEscape(hostID) + "/drift"}, nil, &d); err != nil {
		return HostDrift{}, fmt.Errorf("drift of host %s: %w", hostID, err)
	}
	return d, nil
}

// Approve makes a snapshot the host reported its next baseline version
// and returns the new version's approval. (1.1)
func (c *Client) Approve(ctx context.Context, hostID string, req ApproveRequest) (baseline.Meta, error) {
	var b Baseline
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: PathHosts + "/" + url.PathEscape(hostID) + "/baseline"}, req, &b); err != nil {
		return baseline.Meta{}, fmt.Errorf("approve baseline of host %s: %w", hostID, err)
	}
	return b.Meta, nil
}

// Baselines lists a host's baseline versions, oldest first.
func (c *Client) Baselines(ctx context.Context, hostID string) ([]baseline.Meta, error) {
	var ms []baseline.Meta
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: PathHosts + "/" + url.PathEscape(hostID) + "/baselines"}, nil, &ms); err != nil {
		return nil, fmt.Errorf("baselines of host %s: %w", hostID, err)
	}
	return ms, nil
}

// GetJSON reads an API path (with its query) and decodes the answer into
// v: for the parts of the API this client has no method for.
func (c *Client) GetJSON(ctx context.Context, path string, v any) error {
	if !strings.HasPrefix(path, "/api/") {
		return fmt.Errorf("get %s: not an API path", path)
	}
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: path}, nil, v); err != nil {
		return fmt.Errorf("get %s: %w", path, err)
	}
	return nil
}
