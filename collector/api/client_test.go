package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/google/go-cmp/cmp"
)

const (
	testToken      = "enroll-token-1"
	testCredential = "host-credential-1"
)

// fakeCollector answers API v1 per the contract in openapi.yaml, and
// fails the test on a request that breaks it.
type fakeCollector struct {
	t        *testing.T
	requests atomic.Int64

	mu      sync.Mutex
	blobs   map[baseline.Digest][]byte
	reports []Report
	base    Baseline
}

func newFakeCollector(t *testing.T) *fakeCollector {
	return &fakeCollector{t: t, blobs: map[baseline.Digest][]byte{}}
}

func writeError(w http.ResponseWriter, r *http.Request, status int, e Error) {
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeCollector) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "" {
			f.t.Errorf("enroll: Authorization %q, want none", got)
		}
		var req EnrollRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, r, 400, Error{Error: err.Error()})
			return
		}
		if req.Token != testToken {
			writeError(w, r, 401, Error{Error: "enrollment token not known", Field: "token"})
			return
		}
		writeJSON(w, 200, EnrollResponse{HostID: "h-1", Tenant: "acme", Credential: testCredential})
	})
	mux.HandleFunc("PUT "+PathBlobs+"{sha256}", f.auth(func(w http.ResponseWriter, r *http.Request) {
		d, err := baseline.ParseDigest(r.PathValue("sha256"))
		if err != nil {
			writeError(w, r, 400, Error{Error: err.Error(), Field: "sha256"})
			return
		}
		b, _ := io.ReadAll(r.Body)
		if baseline.Sum(b) != d {
			writeError(w, r, 400, Error{Error: "content digest is not the one in the path", Field: "sha256"})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.blobs[d]; ok {
			w.WriteHeader(204)
			return
		}
		f.blobs[d] = b
		w.WriteHeader(201)
	}))
	mux.HandleFunc("HEAD "+PathBlobs+"{sha256}", f.auth(func(w http.ResponseWriter, r *http.Request) {
		d, err := baseline.ParseDigest(r.PathValue("sha256"))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		f.mu.Lock()
		_, ok := f.blobs[d]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(204)
	}))
	mux.HandleFunc("POST "+PathReports, f.auth(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Content-Encoding"); got != "gzip" {
			f.t.Errorf("report: Content-Encoding %q, want gzip", got)
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(w, r, 400, Error{Error: err.Error()})
			return
		}
		var rep Report
		if err := json.NewDecoder(zr).Decode(&rep); err != nil {
			writeError(w, r, 400, Error{Error: err.Error()})
			return
		}
		if rep.Sequence == 0 {
			writeError(w, r, 400, Error{Error: "sequence must be 1 or more", Field: "report.sequence"})
			return
		}
		f.mu.Lock()
		f.reports = append(f.reports, rep)
		f.mu.Unlock()
		writeJSON(w, 200, ReportResponse{Sequence: rep.Sequence, BaselineVersion: 3})
	}))
	mux.HandleFunc("GET "+PathHosts, f.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []Host{{ID: "h-1", Name: "web-01", Tenant: "acme", BaselineVersion: 3}})
	}))
	mux.HandleFunc("GET "+PathHosts+"/{id}/baseline", f.auth(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "h-1" {
			writeError(w, r, 404, Error{Error: "host not found"})
			return
		}
		f.mu.Lock()
		b := f.base
		f.mu.Unlock()
		etag := fmt.Sprintf("%q", fmt.Sprint(b.Version))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(304)
			return
		}
		writeJSON(w, 200, b)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if got := r.Header.Get(ProtocolHeader); got != ProtocolVersion {
			writeError(w, r, 400, Error{Error: fmt.Sprintf("protocol version %q is not supported", got), Supported: SupportedMajors})
			return
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			f.t.Errorf("%s %s: Accept %q, want application/json", r.Method, r.URL.Path, got)
		}
		if got := r.Header.Get("User-Agent"); got != "driftwatch-test" {
			f.t.Errorf("%s %s: User-Agent %q", r.Method, r.URL.Path, got)
		}
		mux.ServeHTTP(w, r)
	})
}

// auth refuses requests without the host's credential.
func (f *fakeCollector) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testCredential {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, r, 401, Error{Error: "credential not known"})
			return
		}
		h(w, r)
	}
}

// startTLS starts a TLS server for h and returns it with its certificate's
// fingerprint.
func startTLS(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(srv.Certificate().Raw)
	return srv, fmt.Sprintf("%x", sum)
}

// newTestClient starts a fake collector and returns a Client pinned to it
// with the host credential.
func newTestClient(t *testing.T) (*Client, *fakeCollector) {
	t.Helper()
	f := newFakeCollector(t)
	srv, fp := startTLS(t, f.handler())
	c, err := NewClient(ClientOptions{BaseURL: srv.URL, Fingerprint: fp, Credential: testCredential, UserAgent: "driftwatch-test"})
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func TestEnroll(t *testing.T) {
	f := newFakeCollector(t)
	srv, fp := startTLS(t, f.handler())
	c, err := NewClient(ClientOptions{BaseURL: srv.URL + "/", Fingerprint: fp, UserAgent: "driftwatch-test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	got, err := c.Enroll(ctx, EnrollRequest{Token: testToken, Host: baseline.Host{Name: "web-01"}, AgentVersion: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := EnrollResponse{HostID: "h-1", Tenant: "acme", Credential: testCredential}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("enroll (-want +got):\n%s", diff)
	}

	// Without the credential the next request is refused; with it, not.
	if _, err := c.Hosts(ctx); !IsPermanent(err) {
		t.Errorf("hosts without credential: %v, want a permanent 401", err)
	}
	if _, err := c.WithCredential(got.Credential).Hosts(ctx); err != nil {
		t.Errorf("hosts with credential: %v", err)
	}

	_, err = c.Enroll(ctx, EnrollRequest{Token: "wrong", Host: baseline.Host{Name: "web-01"}})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 || se.Err.Field != "token" {
		t.Errorf("enroll with wrong token: %v, want a 401 StatusError on field token", err)
	}
}

func TestPinning(t *testing.T) {
	srv, fp := startTLS(t, newFakeCollector(t).handler())
	upperColons := strings.ToUpper(fp[:2])
	for i := 2; i < len(fp); i += 2 {
		upperColons += ":" + strings.ToUpper(fp[i:i+2])
	}
	wrong := strings.Repeat("ab", 32)
	tests := []struct {
		name     string
		pin      string
		mismatch bool
	}{
		{"lowercase", fp, false},
		{"uppercase with colons and prefix", "sha256:" + upperColons, false},
		{"wrong", wrong, true},
		{"no pin, system roots", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(ClientOptions{BaseURL: srv.URL, Fingerprint: tt.pin, Credential: testCredential, UserAgent: "driftwatch-test"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Hosts(context.Background())
			switch {
			case tt.pin == "":
				// httptest's certificate is not signed by a system root.
				if err == nil {
					t.Fatal("no pin: self-signed certificate accepted")
				}
			case tt.mismatch:
				if !errors.Is(err, ErrFingerprintMismatch) {
					t.Fatalf("err = %v, want ErrFingerprintMismatch", err)
				}
				t.Logf("mismatch: %v", err)
				if msg := err.Error(); !strings.Contains(msg, fp) || !strings.Contains(msg, wrong) {
					t.Errorf("message %q does not show both fingerprints", msg)
				}
				if IsPermanent(err) {
					t.Error("fingerprint mismatch is permanent, want temporary")
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestFetchFingerprint(t *testing.T) {
	srv, fp := startTLS(t, newFakeCollector(t).handler())
	got, err := FetchFingerprint(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got != fp {
		t.Errorf("FetchFingerprint = %s, want %s", got, fp)
	}
	if _, err := FetchFingerprint(context.Background(), "http://"+srv.Listener.Addr().String()); err == nil {
		t.Error("FetchFingerprint of an http URL: no error")
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	const fp = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: fp, want: fp},
		{in: strings.ToUpper(fp), want: fp},
		{in: "SHA256:" + fp, want: fp},
		{in: " sha256:58:91:B5:B5:22:D5:DF:08:6D:0F:F0:B1:10:FB:D9:D2:1B:B4:FC:71:63:AF:34:D0:82:86:A2:E8:46:F6:BE:03\n", want: fp},
		{in: fp[:62], wantErr: true},
		{in: fp[:63] + "g", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NormalizeFingerprint(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNewClientOptions(t *testing.T) {
	plain := httptest.NewServer(newFakeCollector(t).handler())
	t.Cleanup(plain.Close)
	tests := []struct {
		name    string
		opt     ClientOptions
		wantErr string
	}{
		{"http refused", ClientOptions{BaseURL: plain.URL}, "insecure"},
		{"http allowed with insecure", ClientOptions{BaseURL: plain.URL, Insecure: true}, ""},
		{"empty URL", ClientOptions{}, "empty"},
		{"other scheme", ClientOptions{BaseURL: "ftp://collector"}, "scheme"},
		{"no host", ClientOptions{BaseURL: "https:///api"}, "no host"},
		{"bad fingerprint", ClientOptions{BaseURL: "https://collector", Fingerprint: "abc"}, "fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Credential, tt.opt.UserAgent = testCredential, "driftwatch-test"
			c, err := NewClient(tt.opt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Hosts(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// testReport returns a report whose drift is a real baseline.Diff.
func testReport(t *testing.T) Report {
	t.Helper()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	item := func(key, mode, content string) baseline.Item {
		return baseline.Item{Key: key, Source: "files.etc",
			Attrs:  baseline.Attrs{{Name: "mode", Value: mode}, {Name: "type", Value: "file"}},
			Digest: baseline.Sum([]byte(content)), Content: baseline.Sum([]byte(content))}
	}
	old := &baseline.Snapshot{Host: baseline.Host{Name: "web-01"}, TakenAt: at.Add(-time.Hour), Items: []baseline.Item{
		item("file:/etc/motd", "0644", "hello\n"),
		item("file:/etc/removed", "0644", "gone\n"),
	}}
	cur := &baseline.Snapshot{Host: baseline.Host{Name: "web-01"}, TakenAt: at, Items: []baseline.Item{
		item("file:/etc/added", "0644", "new\n"),
		item("file:/etc/motd", "0600", "hello, world\n"),
	}}
	drift := baseline.Diff(old, cur, baseline.DiffOptions{})
	if drift.Summary.Total() != 3 {
		t.Fatalf("test drift has %d changes, want 3", drift.Summary.Total())
	}
	enc, err := cur.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return Report{
		Sequence: 7, SnapshotDigest: cur.Digest(), ItemCount: len(cur.Items), TakenAt: at,
		AgentVersion: "0.1.0",
		Sources:      []baseline.SourceStatus{{Name: "files.etc", Kind: "file", Status: baseline.StatusOK, Items: 2, Took: 150 * time.Millisecond}},
		Drift:        drift, Snapshot: enc,
		Blobs: []baseline.Digest{cur.Items[0].Content, cur.Items[1].Content},
	}
}

// itemComparer compares items with Item.Equal, which go-cmp would
// otherwise call on nil pointers (Change.Old of an added item).
var itemComparer = cmp.Comparer(func(a, b *baseline.Item) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
})

func TestPostReport(t *testing.T) {
	c, f := newTestClient(t)
	rep := testReport(t)
	got, err := c.PostReport(context.Background(), rep)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ReportResponse{Sequence: 7, BaselineVersion: 3}); got != want {
		t.Errorf("response = %+v, want %+v", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reports) != 1 {
		t.Fatalf("collector got %d reports, want 1", len(f.reports))
	}
	if diff := cmp.Diff(rep, f.reports[0], itemComparer); diff != "" {
		t.Errorf("report as received (-sent +received):\n%s", diff)
	}
}

func TestPostReportTooLarge(t *testing.T) {
	c, f := newTestClient(t)
	tests := []struct {
		name string
		edit func(*Report)
	}{
		// Refused before encoding: the snapshot's base64 alone is too large.
		{"snapshot", func(r *Report) { r.Snapshot = make([]byte, MaxReportSize*3/4+1) }},
		// Refused after encoding: the JSON is too large.
		{"warnings", func(r *Report) {
			r.Sources[0].Warnings = []string{strings.Repeat("w", MaxReportSize/2), strings.Repeat("w", MaxReportSize/2)}
		}},
	}
	for _, tt := range tests {
		rep := testReport(t)
		tt.edit(&rep)
		_, err := c.PostReport(context.Background(), rep)
		if !errors.Is(err, ErrTooLarge) || !IsPermanent(err) {
			t.Errorf("%s: err = %v, want a permanent ErrTooLarge", tt.name, err)
		}
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("collector got %d requests, want none", n)
	}
}

func TestBlobs(t *testing.T) {
	c, f := newTestClient(t)
	ctx := context.Background()
	content := []byte("Port 22\nPermitRootLogin no\n")
	d := baseline.Sum(content)

	has, err := c.HasBlob(ctx, d)
	if err != nil || has {
		t.Fatalf("HasBlob before upload = %v, %v; want false, nil", has, err)
	}
	for range 2 { // 201, then 204
		if err := c.PutBlob(ctx, d, content); err != nil {
			t.Fatal(err)
		}
	}
	has, err = c.HasBlob(ctx, d)
	if err != nil || !has {
		t.Fatalf("HasBlob after upload = %v, %v; want true, nil", has, err)
	}

	err = c.PutBlob(ctx, baseline.Sum([]byte("other")), content)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 400 || se.Err.Field != "sha256" {
		t.Errorf("PutBlob with wrong digest: %v, want 400 on field sha256", err)
	}

	_, err = c.WithCredential("revoked").HasBlob(ctx, d)
	if !errors.As(err, &se) || se.Status != 401 || !IsPermanent(err) {
		t.Errorf("HasBlob with revoked credential: %v, want a permanent 401", err)
	}

	n := f.requests.Load()
	big := make([]byte, MaxBlobSize+1)
	if err := c.PutBlob(ctx, baseline.Sum(big), big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("PutBlob of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	if got := f.requests.Load(); got != n {
		t.Errorf("oversize blob was sent")
	}
}

func TestBaseline(t *testing.T) {
	c, f := newTestClient(t)
	ctx := context.Background()
	want := Baseline{
		Meta: baseline.Meta{Host: "web-01", Version: 3, ApprovedBy: "alice",
			ApprovedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Reason: "sshd hardening", Tickets: []string{"CHG-1042"}, Reviewed: true},
		Snapshot: []byte("{\"format\":1}\n"),
	}
	f.base = want

	got, notModified, err := c.Baseline(ctx, "h-1", 2)
	if err != nil || notModified {
		t.Fatalf("Baseline(have v2) = %v, %v; want the baseline", notModified, err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("baseline (-want +got):\n%s", diff)
	}
	if _, _, err := c.Baseline(ctx, "h-1", 0); err != nil {
		t.Errorf("Baseline without If-None-Match: %v", err)
	}

	got, notModified, err = c.Baseline(ctx, "h-1", 3)
	if err != nil || !notModified || got != nil {
		t.Errorf("Baseline(have v3) = %v, %v, %v; want nil, true, nil", got, notModified, err)
	}

	_, _, err = c.Baseline(ctx, "nope", 0)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 {
		t.Errorf("Baseline of unknown host: %v, want 404", err)
	}
}

func TestHosts(t *testing.T) {
	c, _ := newTestClient(t)
	got, err := c.Hosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Host{{ID: "h-1", Name: "web-01", Tenant: "acme", BaselineVersion: 3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
}

// TestStatusError checks how answers with an unexpected status surface,
// and which are permanent.
func TestStatusError(t *testing.T) {
	tests := []struct {
		status    int
		body      string
		ctype     string
		wantMsg   string
		permanent bool
	}{
		{400, `{"error":"sequence must be 1 or more","field":"report.sequence"}`, "application/json",
			"collector: 400 Bad Request: sequence must be 1 or more (field report.sequence)", true},
		{400, `{"error":"protocol version 2.0 is not supported","supported":["1","3"]}`, "application/json",
			"collector: 400 Bad Request: protocol version 2.0 is not supported (supported protocol versions: 1, 3)", true},
		{401, `{"error":"credential not known"}`, "application/json", "collector: 401 Unauthorized: credential not known", true},
		{403, `{"error":"enrollment token expired","field":"token"}`, "application/json", "collector: 403 Forbidden: enrollment token expired (field token)", true},
		{404, `{"error":"host not found"}`, "application/json", "collector: 404 Not Found: host not found", true},
		{413, `{"error":"report body exceeds 67108864 bytes"}`, "application/json", "collector: 413 Request Entity Too Large: report body exceeds 67108864 bytes", true},
		{408, ``, "", "collector: 408 Request Timeout", false},
		{429, `{"error":"slow down"}`, "application/json", "collector: 429 Too Many Requests: slow down", false},
		{500, `{"error":"store: disk full"}`, "application/json", "collector: 500 Internal Server Error: store: disk full", false},
		{502, "bad gateway\n", "text/plain; charset=utf-8", "collector: 502 Bad Gateway: bad gateway", false},
		{503, `<html>down</html>`, "text/html", "collector: 503 Service Unavailable", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			srv, fp := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			c, err := NewClient(ClientOptions{BaseURL: srv.URL, Fingerprint: fp})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.PostReport(context.Background(), Report{Sequence: 1})
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *StatusError", err)
			}
			if se.Status != tt.status || se.Error() != tt.wantMsg {
				t.Errorf("StatusError = %d %q, want %d %q", se.Status, se.Error(), tt.status, tt.wantMsg)
			}
			if got := IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
		})
	}
}

func TestIsPermanentNetwork(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.StartTLS()
	url := srv.URL
	srv.Close() // nothing listens there any more

	c, err := NewClient(ClientOptions{BaseURL: url, Fingerprint: strings.Repeat("0", 64), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Hosts(context.Background())
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if IsPermanent(err) {
		t.Errorf("connection refused (%v) is permanent, want temporary", err)
	}
	if IsPermanent(nil) {
		t.Error("IsPermanent(nil) = true")
	}
}

func TestResponseTooLarge(t *testing.T) {
	srv, fp := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, io.LimitReader(neverEnding('x'), maxResponseBody+1))
	}))
	c, err := NewClient(ClientOptions{BaseURL: srv.URL, Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hosts(context.Background()); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err = %v, want an answer-too-large error", err)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	copy(p, bytes.Repeat([]byte{byte(b)}, len(p)))
	return len(p), nil
}
