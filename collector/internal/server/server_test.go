package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
)

// env is a collector over a real listener and an SQLite store.
type env struct {
	t   *testing.T
	st  *sqlite.Store
	srv *httptest.Server
}

func newEnv(t *testing.T, opt Options) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "collector.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opt.Store = st
	opt.Log = zaptest.NewLogger(t)
	srv := httptest.NewServer(New(opt).Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv}
}

func (e *env) tenant(name string) store.Tenant {
	e.t.Helper()
	id, err := auth.NewID(auth.PrefixTenantID)
	if err != nil {
		e.t.Fatal(err)
	}
	tn, err := e.st.CreateTenant(context.Background(), id, name, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// token creates an enrollment token and returns its secret.
func (e *env) token(tenantID string, uses int, expires time.Time) string {
	e.t.Helper()
	secret, hash, err := auth.NewSecret(auth.PrefixEnrollToken)
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := auth.NewID(auth.PrefixTokenID)
	err = e.st.CreateToken(context.Background(), store.Token{ID: id, TenantID: tenantID, Hash: hash,
		ExpiresAt: expires, UsesLeft: uses, CreatedAt: time.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func (e *env) client(cred string) *api.Client {
	e.t.Helper()
	c, err := api.NewClient(api.ClientOptions{BaseURL: e.srv.URL, Insecure: true, Credential: cred})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enroll enrolls a host of the tenant and returns its agent's client.
func (e *env) enroll(tenantID, name string) (api.EnrollResponse, *api.Client) {
	e.t.Helper()
	resp, err := e.client("").Enroll(context.Background(), api.EnrollRequest{
		Token: e.token(tenantID, 1, time.Time{}), Host: baseline.Host{Name: name}, AgentVersion: "1.0.0"})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, e.client(resp.Credential)
}

// raw sends a request with the protocol header (unless proto is "-").
func (e *env) raw(method, path, cred, proto string, body []byte, hdr map[string]string) (*http.Response, api.Error) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if proto != "-" {
		req.Header.Set(api.ProtocolHeader, proto)
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ae api.Error
	if resp.StatusCode >= 400 && method != http.MethodHead {
		if err := json.Unmarshal(b, &ae); err != nil {
			e.t.Fatalf("%s %s: %d answer is not an Error: %q", method, path, resp.StatusCode, b)
		}
	}
	return resp, ae
}

func (e *env) reportCount(tenantID, hostID string) int {
	e.t.Helper()
	n, err := e.st.ReportCount(context.Background(), tenantID, hostID)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// statusOf returns the status of a client error, or 0.
func statusOf(err error) (int, api.Error) {
	var se *api.StatusError
	if errors.As(err, &se) {
		return se.Status, se.Err
	}
	return 0, api.Error{}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func item(key string, attrs map[string]string) baseline.Item {
	return baseline.Item{Key: key, Source: "files.etc", Attrs: baseline.AttrsFromMap(attrs)}
}

// snapshots returns a host's first snapshot (with an item whose content
// is sshdConf) and a second one with one item modified, one removed and
// one added.
func snapshots(host string) (first, second *baseline.Snapshot, sshdConf []byte) {
	sshdConf = []byte("PermitRootLogin no\n")
	sshd := item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "owner": "root"})
	sshd.Digest = baseline.Sum(sshdConf)
	sshd.Content = baseline.Sum(sshdConf)
	first = &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: host}, TakenAt: t0, Items: []baseline.Item{
		item("file:/etc/hosts", map[string]string{"mode": "0644", "mtime": "2026-11-01T00:00:00Z"}),
		item("file:/etc/motd", map[string]string{"mode": "0644"}),
		sshd,
	}}
	sshd2 := sshd
	sshd2.Attrs = baseline.AttrsFromMap(map[string]string{"mode": "0600", "owner": "root"})
	// /etc/hosts was only touched: not drift, but part of the new state an
	// approval must rebuild.
	second = &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: host}, TakenAt: t0.Add(time.Hour), Items: []baseline.Item{
		item("file:/etc/hosts", map[string]string{"mode": "0644", "mtime": "2026-11-20T00:00:00Z"}),
		item("file:/etc/issue", map[string]string{"mode": "0644"}),
		sshd2,
	}}
	return first, second, sshdConf
}

func sources() []baseline.SourceStatus {
	return []baseline.SourceStatus{{Name: "files.etc", Kind: "file", Status: baseline.StatusOK, Items: 3, Took: time.Millisecond}}
}

// firstReport uploads the snapshot's blob and builds its first report.
func firstReport(t *testing.T, agent *api.Client, snap *baseline.Snapshot, blob []byte) api.Report {
	t.Helper()
	if err := agent.PutBlob(context.Background(), baseline.Sum(blob), blob); err != nil {
		t.Fatal(err)
	}
	enc, err := snap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return api.Report{Sequence: 1, SnapshotDigest: snap.Digest(), ItemCount: len(snap.Items), TakenAt: snap.TakenAt,
		AgentVersion: "1.0.0", Sources: sources(), Snapshot: enc, Blobs: snap.ContentDigests()}
}

// driftReport builds a report of snap's drift from old (baseline v1).
func driftReport(seq uint64, old, snap *baseline.Snapshot) api.Report {
	d := baseline.Diff(old, snap, baseline.DiffOptions{})
	d.BaselineVersion = 1
	return api.Report{Sequence: seq, SnapshotDigest: snap.Digest(), ItemCount: len(snap.Items), TakenAt: snap.TakenAt,
		AgentVersion: "1.0.1", Sources: sources(), Drift: d}
}

func TestEnroll(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	tests := []struct {
		name   string
		token  string
		status int
		msg    string
	}{
		{"ok", e.token(ta.ID, 1, time.Time{}), 0, ""},
		{"expired", e.token(ta.ID, 5, time.Now().Add(-time.Minute)), http.StatusForbidden, "enrollment token expired"},
		{"used up", e.token(ta.ID, 0, time.Time{}), http.StatusForbidden, "enrollment token used up"},
		{"wrong token", "dwe_nosuchtoken", http.StatusUnauthorized, "enrollment token not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.client("").Enroll(ctx, api.EnrollRequest{Token: tt.token, Host: baseline.Host{Name: "web01"}})
			if tt.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Tenant != "acme" || !strings.HasPrefix(resp.Credential, auth.PrefixHostCredential) || !strings.HasPrefix(resp.HostID, auth.PrefixHostID) {
					t.Errorf("answer = %+v", resp)
				}
				h, err := e.st.HostByCredentialHash(ctx, auth.Hash(resp.Credential))
				if err != nil || h.ID != resp.HostID {
					t.Errorf("stored host by credential = %+v, %v; want %s", h, err, resp.HostID)
				}
				return
			}
			status, ae := statusOf(err)
			if status != tt.status || ae.Field != "token" || ae.Error != tt.msg {
				t.Errorf("err = %v; want %d %q field token", err, tt.status, tt.msg)
			}
			if !api.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = false", err)
			}
		})
	}
}

func TestFirstReportCreatesBaseline(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	first, _, blob := snapshots("web01")

	// HEAD before and after the upload.
	if ok, err := agent.HasBlob(ctx, baseline.Sum(blob)); err != nil || ok {
		t.Fatalf("HasBlob before upload = %v, %v", ok, err)
	}
	rep := firstReport(t, agent, first, blob)
	if ok, err := agent.HasBlob(ctx, baseline.Sum(blob)); err != nil || !ok {
		t.Fatalf("HasBlob after upload = %v, %v", ok, err)
	}
	resp, err := agent.PostReport(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.ReportResponse{Sequence: 1, BaselineVersion: 1, BaselineDigest: first.Digest()}, resp); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	b, notModified, err := agent.Baseline(ctx, enr.HostID, 0)
	if err != nil || notModified {
		t.Fatalf("Baseline = %v, %v", notModified, err)
	}
	if b.Version != 1 || b.Reviewed || b.ApprovedBy != "driftwatch" || b.Reason != "initial documentation, not yet reviewed" ||
		b.SnapshotDigest != first.Digest() || b.Items != 3 || b.Host != "web01" {
		t.Errorf("baseline v1 = %+v", b.Meta)
	}
	snap, err := baseline.Unmarshal(b.Snapshot)
	if err != nil || snap.Digest() != first.Digest() {
		t.Errorf("baseline snapshot: %v, digest matches: %v", err, err == nil && snap.Digest() == first.Digest())
	}
	if _, notModified, err := agent.Baseline(ctx, enr.HostID, 1); err != nil || !notModified {
		t.Errorf("Baseline with If-None-Match \"1\" = %v, %v; want not modified", notModified, err)
	}
	// Another agent of the same tenant cannot read this host's baseline.
	_, other := e.enroll(ta.ID, "web02")
	if _, _, err := other.Baseline(ctx, enr.HostID, 0); !isStatus(err, http.StatusNotFound) {
		t.Errorf("other agent's Baseline: %v, want 404", err)
	}
}

func isStatus(err error, status int) bool {
	s, _ := statusOf(err)
	return s == status
}

func TestBlobs(t *testing.T) {
	e := newEnv(t, Options{MaxBlobSize: 16})
	ta := e.tenant("acme")
	enr, _ := e.enroll(ta.ID, "web01")
	content := []byte("hello")
	d := baseline.Sum(content).String()
	tests := []struct {
		name   string
		path   string
		body   []byte
		status int
		field  string
	}{
		{"new", d, content, http.StatusCreated, ""},
		{"existing", d, content, http.StatusNoContent, ""},
		{"mismatch", baseline.Sum([]byte("other")).String(), content, http.StatusBadRequest, "sha256"},
		{"bad digest", "nothex", content, http.StatusBadRequest, "sha256"},
		{"too large", baseline.Sum(bytes.Repeat([]byte("x"), 17)).String(), bytes.Repeat([]byte("x"), 17), http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, ae := e.raw(http.MethodPut, api.PathBlobs+tt.path, enr.Credential, api.ProtocolVersion, tt.body, nil)
			if resp.StatusCode != tt.status || ae.Field != tt.field {
				t.Errorf("status %d field %q (%s); want %d field %q", resp.StatusCode, ae.Field, ae.Error, tt.status, tt.field)
			}
		})
	}
	t.Run("no credential", func(t *testing.T) {
		resp, _ := e.raw(http.MethodPut, api.PathBlobs+d, "", api.ProtocolVersion, content, nil)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

func TestReportSequences(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	first, second, blob := snapshots("web01")
	if _, err := agent.PostReport(ctx, firstReport(t, agent, first, blob)); err != nil {
		t.Fatal(err)
	}

	t.Run("duplicate", func(t *testing.T) {
		resp, err := agent.PostReport(ctx, firstReport(t, agent, first, blob))
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Duplicate || resp.Sequence != 1 || resp.BaselineVersion != 1 {
			t.Errorf("resend = %+v, want duplicate", resp)
		}
		if n := e.reportCount(ta.ID, enr.HostID); n != 1 {
			t.Errorf("ReportCount = %d, want 1", n)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		for _, seq := range []uint64{5, 3} {
			resp, err := agent.PostReport(ctx, driftReport(seq, first, second))
			if err != nil {
				t.Fatalf("sequence %d: %v", seq, err)
			}
			if resp.Duplicate || resp.Sequence != seq {
				t.Errorf("sequence %d: answer %+v", seq, resp)
			}
		}
		if n := e.reportCount(ta.ID, enr.HostID); n != 3 {
			t.Errorf("ReportCount = %d, want 3", n)
		}
	})
}

func TestReportRefused(t *testing.T) {
	e := newEnv(t, Options{MaxReportSize: 4 << 10})
	ta := e.tenant("acme")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	first, _, blob := snapshots("web01")
	enc, err := first.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	valid := api.Report{Sequence: 1, SnapshotDigest: first.Digest(), ItemCount: 3, TakenAt: t0, Sources: sources()}
	with := func(f func(r *api.Report)) []byte {
		r := valid
		f(&r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		body   []byte
		status int
		field  string
	}{
		{"missing blob", with(func(r *api.Report) { r.Blobs = []baseline.Digest{baseline.Sum(blob)} }), http.StatusBadRequest, "report.blobs"},
		{"snapshot content missing", with(func(r *api.Report) { r.Snapshot = enc }), http.StatusBadRequest, "report.blobs"},
		{"oversized", with(func(r *api.Report) { r.AgentVersion = strings.Repeat("x", 5<<10) }), http.StatusRequestEntityTooLarge, ""},
		{"malformed JSON", []byte(`{"sequence": 1,`), http.StatusBadRequest, ""},
		{"trailing data", append(with(func(*api.Report) {}), " {}"...), http.StatusBadRequest, ""},
		{"wrong type", []byte(`{"sequence": "one"}`), http.StatusBadRequest, "report.sequence"},
		{"sequence 0", with(func(r *api.Report) { r.Sequence = 0 }), http.StatusBadRequest, "report.sequence"},
		{"no snapshot digest", with(func(r *api.Report) { r.SnapshotDigest = baseline.Digest{} }), http.StatusBadRequest, "report.snapshot_digest"},
		{"negative item count", with(func(r *api.Report) { r.ItemCount = -1 }), http.StatusBadRequest, "report.item_count"},
		{"no taken_at", with(func(r *api.Report) { r.TakenAt = time.Time{} }), http.StatusBadRequest, "report.taken_at"},
		{"snapshot digest mismatch", with(func(r *api.Report) {
			r.Snapshot = enc
			r.SnapshotDigest = baseline.Sum([]byte("x"))
		}), http.StatusBadRequest, "report.snapshot"},
		{"drift of other host", with(func(r *api.Report) {
			r.Drift = &baseline.Drift{Host: "db01", SnapshotDigest: first.Digest(), Changes: []baseline.Change{}}
		}), http.StatusBadRequest, "report.drift.host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, ae := e.raw(http.MethodPost, api.PathReports, enr.Credential, api.ProtocolVersion, tt.body, nil)
			if resp.StatusCode != tt.status || ae.Field != tt.field {
				t.Errorf("status %d field %q (%s); want %d field %q", resp.StatusCode, ae.Field, ae.Error, tt.status, tt.field)
			}
			if tt.name == "trailing data" && !strings.Contains(ae.Error, "trailing data after the report") {
				t.Errorf("error %q does not say the report has trailing data", ae.Error)
			}
			if n := e.reportCount(ta.ID, enr.HostID); n != 0 {
				t.Errorf("ReportCount = %d after a refused report, want 0", n)
			}
		})
	}
	t.Run("missing blob via client", func(t *testing.T) {
		r := valid
		r.Blobs = []baseline.Digest{baseline.Sum(blob)}
		_, err := agent.PostReport(ctx, r)
		status, ae := statusOf(err)
		if status != http.StatusBadRequest || ae.Field != "report.blobs" || !strings.Contains(ae.Error, baseline.Sum(blob).String()) {
			t.Errorf("err = %v; want 400 field report.blobs naming the blob", err)
		}
		if _, err := e.st.Baseline(ctx, ta.ID, enr.HostID, 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Baseline after refused report: %v, want not found", err)
		}
	})
	t.Run("user token", func(t *testing.T) {
		viewer, _ := userToken(t, e, ta.ID, store.RoleViewer)
		if _, err := viewer.PostReport(ctx, valid); !isStatus(err, http.StatusUnauthorized) {
			t.Errorf("user's PostReport: %v, want 401", err)
		}
	})
}

func TestProtocolHeader(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tt := range []struct{ name, proto, want string }{
		{"unsupported major", "2.0", "2.0"},
		{"missing", "-", api.ProtocolHeader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, ae := e.raw(http.MethodGet, api.PathHosts, "", tt.proto, nil, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if diff := cmp.Diff(api.SupportedMajors, ae.Supported); diff != "" {
				t.Errorf("supported (-want +got):\n%s", diff)
			}
			if !strings.Contains(ae.Error, tt.want) {
				t.Errorf("error %q does not name %q", ae.Error, tt.want)
			}
		})
	}
	t.Run("minor version ignored", func(t *testing.T) {
		resp, _ := e.raw(http.MethodGet, api.PathHosts, "", "1.7", nil, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401 (past the protocol check)", resp.StatusCode)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		resp, ae := e.raw(http.MethodGet, "/api/v1/nothing", "", api.ProtocolVersion, nil, nil)
		if resp.StatusCode != http.StatusNotFound || ae.Error == "" {
			t.Errorf("status %d, error %q; want 404 with an Error", resp.StatusCode, ae.Error)
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, Options{})
	ta, tb := e.tenant("acme"), e.tenant("globex")
	ctx := context.Background()
	enrA, agentA := e.enroll(ta.ID, "web01")
	first, second, blob := snapshots("web01")
	if _, err := agentA.PostReport(ctx, firstReport(t, agentA, first, blob)); err != nil {
		t.Fatal(err)
	}
	if _, err := agentA.PostReport(ctx, driftReport(2, first, second)); err != nil {
		t.Fatal(err)
	}
	enrB, _ := e.enroll(tb.ID, "db01")
	userB, credB := userToken(t, e, tb.ID, store.RoleAdmin)

	hosts, err := userB.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].ID != enrB.HostID || hosts[0].Tenant != "globex" {
		t.Errorf("tenant B's hosts = %+v, want only db01", hosts)
	}
	if _, _, err := userB.Baseline(ctx, enrA.HostID, 0); !isStatus(err, http.StatusNotFound) {
		t.Errorf("tenant B's user reading A's baseline: %v, want 404", err)
	}
	for _, path := range []string{"/drift", "/baselines"} {
		resp, ae := e.raw(http.MethodGet, api.PathHosts+"/"+enrA.HostID+path, credB, api.ProtocolVersion, nil, nil)
		if resp.StatusCode != http.StatusNotFound || ae.Error != "host not found" {
			t.Errorf("%s of A's host by B: %d %q, want 404 host not found", path, resp.StatusCode, ae.Error)
		}
	}
	body, _ := json.Marshal(api.ApproveRequest{SnapshotDigest: second.Digest(), Reason: "x", Tickets: []string{"CHG-1"}})
	resp, _ := e.raw(http.MethodPost, api.PathHosts+"/"+enrA.HostID+"/baseline", credB, api.ProtocolVersion, body, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("approve of A's host by B's admin: %d, want 404", resp.StatusCode)
	}
	// ?tenant cannot take a tenant's user to another tenant.
	resp, _ = e.raw(http.MethodGet, api.PathHosts+"/"+enrA.HostID+"/drift?tenant=acme", credB, api.ProtocolVersion, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("drift of A's host by B with ?tenant=acme: %d, want 404", resp.StatusCode)
	}

	t.Run("MSP-wide admin", func(t *testing.T) {
		secret, hash, _ := auth.NewSecret(auth.PrefixUserToken)
		if err := e.st.CreateUser(ctx, store.User{ID: "u_msp", Email: "root@msp.test", Role: store.RoleAdmin, TokenHash: hash, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		resp, ae := e.raw(http.MethodGet, api.PathHosts, secret, api.ProtocolVersion, nil, nil)
		if resp.StatusCode != http.StatusBadRequest || ae.Field != "tenant" {
			t.Errorf("without ?tenant: %d field %q, want 400 field tenant", resp.StatusCode, ae.Field)
		}
		resp, _ = e.raw(http.MethodGet, api.PathHosts+"?tenant=acme", secret, api.ProtocolVersion, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("with ?tenant=acme: %d, want 200", resp.StatusCode)
		}
	})
}

// userToken creates a user of the tenant with the role and returns its
// client and raw token.
func userToken(t *testing.T, e *env, tenantID, role string) (*api.Client, string) {
	t.Helper()
	secret, hash, err := auth.NewSecret(auth.PrefixUserToken)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := auth.NewID(auth.PrefixUserID)
	if err := e.st.CreateUser(context.Background(), store.User{ID: id, TenantID: tenantID, Email: id + "@test", Role: role, TokenHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return e.client(secret), secret
}

func TestHostsAndDrift(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	enr2, _ := e.enroll(ta.ID, "web02")
	viewer, viewerTok := userToken(t, e, ta.ID, store.RoleViewer)
	first, second, blob := snapshots("web01")
	if _, err := agent.PostReport(ctx, firstReport(t, agent, first, blob)); err != nil {
		t.Fatal(err)
	}
	rep := driftReport(2, first, second)
	if _, err := agent.PostReport(ctx, rep); err != nil {
		t.Fatal(err)
	}

	hosts, err := viewer.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 2 {
		t.Fatalf("hosts = %+v, want 2", hosts)
	}
	web01, web02 := hosts[0], hosts[1]
	if web01.ID != enr.HostID || web01.OpenDrift != 3 || web01.LastSeen == nil || web01.BaselineVersion != 1 || web01.AgentVersion != "1.0.1" {
		t.Errorf("web01 = %+v, want open_drift 3, last_seen set, baseline 1, agent 1.0.1", web01)
	}
	if web02.ID != enr2.HostID || web02.LastSeen != nil || web02.OpenDrift != 0 {
		t.Errorf("web02 = %+v, want last_seen null before a report", web02)
	}

	resp, _ := e.raw(http.MethodGet, api.PathHosts+"/"+enr.HostID+"/drift", viewerTok, api.ProtocolVersion, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("drift: %d", resp.StatusCode)
	}
	var hd api.HostDrift
	getJSON(t, e, api.PathHosts+"/"+enr.HostID+"/drift", viewerTok, &hd)
	if hd.Sequence != 2 || hd.Received == nil || hd.Drift == nil || len(hd.Drift.Changes) != 3 || hd.Host.Name != "web01" {
		t.Errorf("drift = %+v", hd)
	}
	if diff := cmp.Diff(rep.Drift.Summary, hd.Drift.Summary); diff != "" {
		t.Errorf("drift summary (-want +got):\n%s", diff)
	}
	var hd2 api.HostDrift
	getJSON(t, e, api.PathHosts+"/"+enr2.HostID+"/drift", viewerTok, &hd2)
	if hd2.Sequence != 0 || hd2.Received != nil || hd2.Drift != nil {
		t.Errorf("drift before a report = %+v", hd2)
	}

	// An agent credential is not a user token.
	resp, _ = e.raw(http.MethodGet, api.PathHosts, enr.Credential, api.ProtocolVersion, nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("hosts with an agent credential: %d, want 401", resp.StatusCode)
	}
}

func getJSON(t *testing.T, e *env, path, cred string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func TestApprove(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	first, second, blob := snapshots("web01")
	if _, err := agent.PostReport(ctx, firstReport(t, agent, first, blob)); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.PostReport(ctx, driftReport(2, first, second)); err != nil {
		t.Fatal(err)
	}
	_, viewerTok := userToken(t, e, ta.ID, store.RoleViewer)
	approverTok, hash, _ := auth.NewSecret(auth.PrefixUserToken)
	if err := e.st.CreateUser(ctx, store.User{ID: "u_appr", TenantID: ta.ID, Email: "boss@acme.test", Role: store.RoleApprover, TokenHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	path := api.PathHosts + "/" + enr.HostID + "/baseline"
	post := func(cred string, req api.ApproveRequest) (*http.Response, api.Error) {
		body, _ := json.Marshal(req)
		return e.raw(http.MethodPost, path, cred, api.ProtocolVersion, body, nil)
	}
	good := api.ApproveRequest{SnapshotDigest: second.Digest(), Reason: "sshd hardening", Tickets: []string{"CHG-1042"}}

	tests := []struct {
		name   string
		cred   string
		req    api.ApproveRequest
		status int
		field  string
	}{
		{"wrong role", viewerTok, good, http.StatusForbidden, ""},
		{"no reason", approverTok, api.ApproveRequest{SnapshotDigest: second.Digest(), Reason: "  ", Tickets: []string{"CHG-1"}}, http.StatusBadRequest, "reason"},
		{"no ticket", approverTok, api.ApproveRequest{SnapshotDigest: second.Digest(), Reason: "r"}, http.StatusBadRequest, "tickets"},
		{"unknown snapshot", approverTok, api.ApproveRequest{SnapshotDigest: baseline.Sum([]byte("x")), Reason: "r", Tickets: []string{"CHG-1"}}, http.StatusNotFound, "snapshot_digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, ae := post(tt.cred, tt.req)
			if resp.StatusCode != tt.status || ae.Field != tt.field {
				t.Errorf("status %d field %q (%s); want %d field %q", resp.StatusCode, ae.Field, ae.Error, tt.status, tt.field)
			}
		})
	}

	t.Run("success", func(t *testing.T) {
		resp, ae := post(approverTok, good)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d (%s), want 201", resp.StatusCode, ae.Error)
		}
		if got := resp.Header.Get("ETag"); got != `"2"` {
			t.Errorf("ETag %q, want \"2\"", got)
		}
		b, err := e.st.Baseline(ctx, ta.ID, enr.HostID, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := baseline.Meta{Host: "web01", Version: 2, SnapshotDigest: second.Digest(), Items: 3,
			ApprovedBy: "boss@acme.test", Reason: "sshd hardening", Tickets: []string{"CHG-1042"}, Reviewed: true}
		if diff := cmp.Diff(want, b.Meta, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "ApprovedAt" }, cmp.Ignore())); diff != "" {
			t.Errorf("baseline v2 (-want +got):\n%s", diff)
		}
		snap, err := baseline.Unmarshal(b.Snapshot)
		if err != nil || snap.Digest() != second.Digest() {
			t.Errorf("v2 snapshot: %v", err)
		}
		// The agent sees the new version.
		ab, _, err := agent.Baseline(ctx, enr.HostID, 1)
		if err != nil || ab == nil || ab.Version != 2 {
			t.Errorf("agent's Baseline after approval = %+v, %v; want v2", ab, err)
		}
	})
	t.Run("not a change from the current baseline", func(t *testing.T) {
		// The first report carries no drift: applied to the current
		// baseline (v2) it gives v2's state, not the first snapshot's.
		resp, ae := post(approverTok, api.ApproveRequest{SnapshotDigest: first.Digest(), Reason: "r", Tickets: []string{"CHG-1"}})
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("status %d (%s), want 409", resp.StatusCode, ae.Error)
		}
	})
}

func TestOperations(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	_, agent := e.enroll(ta.ID, "web01")
	first, _, blob := snapshots("web01")
	if _, err := agent.PostReport(ctx, firstReport(t, agent, first, blob)); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get(api.PathHealth); status != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", status, body)
	}
	if status, _ := get(api.PathReady); status != http.StatusOK {
		t.Errorf("/readyz = %d", status)
	}
	status, body := get(api.PathMetrics)
	if status != http.StatusOK {
		t.Errorf("/metrics = %d", status)
	}
	for _, want := range []string{"driftwatch_reports_ingested_total 1", "driftwatch_reports_rejected_total{reason=", "driftwatch_report_bytes_total", "driftwatch_report_ingest_seconds_bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The SQLite store's writer: the enrollment and the report were
	// written, and took time.
	metric := func(name string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("/metrics lacks %s", name)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	if busy, txs, commits := metric("driftwatch_store_writer_busy_seconds_total"), metric("driftwatch_store_write_transactions_total"),
		metric("driftwatch_store_commits_total"); busy <= 0 || txs < 2 || commits < 1 || commits > txs {
		t.Errorf("writer metrics: busy %gs, %g transactions in %g commits; want time, at least 2 transactions, at most one commit each", busy, txs, commits)
	}
	e.st.Close()
	if status, _ := get(api.PathReady); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a closed store = %d, want 503", status)
	}
}
