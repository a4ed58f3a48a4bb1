package connector

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// recorded serves recorded responses: route picks the testdata file (or
// a status) for each request, and every request is kept.
type recorded struct {
	t     *testing.T
	dir   string
	route func(r *http.Request, body []byte) (file string, status int, header http.Header)
	mu    sync.Mutex
	reqs  []*http.Request
}

func (rs *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	rs.mu.Lock()
	rs.reqs = append(rs.reqs, r.Clone(context.Background()))
	rs.mu.Unlock()
	file, status, hdr := rs.route(r, buf.Bytes())
	for k, v := range hdr {
		w.Header()[k] = v
	}
	var body []byte
	if file != "" {
		b, err := os.ReadFile(filepath.Join("testdata", rs.dir, file))
		if err != nil {
			rs.t.Errorf("recording %s: %v", file, err)
		}
		body = b
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (rs *recorded) requests() []*http.Request {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*http.Request(nil), rs.reqs...)
}

// env is a tenant over a real SQLite store with a Manager, and a syncer
// whose clock and sleeper the test controls.
type env struct {
	t       *testing.T
	m       *changes.Manager
	tickets ManagerTickets
	state   *MemoryState
	now     time.Time
	slept   []time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, state: &MemoryState{}, now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	e.m = &changes.Manager{Store: st, Now: func() time.Time { return e.now }}
	e.tickets = ManagerTickets{Manager: e.m}
	if _, err := st.CreateTenant(ctx, "tn_acme", "acme", e.now); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) options(log *zap.Logger) Options {
	return Options{Now: func() time.Time { return e.now }, Log: log,
		Sleep: func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil }}
}

func (e *env) syncer(src Source) *Syncer {
	return &Syncer{Source: src, TenantID: "tn_acme", Tickets: e.tickets, State: e.state, Log: zaptest.NewLogger(e.t), Now: func() time.Time { return e.now }}
}

func (e *env) ticket(ref string) *ticket.Ticket {
	e.t.Helper()
	tk, err := e.tickets.ByReference(context.Background(), "tn_acme", ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}

// credsFile writes credentials JSON to a file and returns its source.
func credsFile(t *testing.T, json string) CredentialSource {
	p := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(p, []byte(json), 0o600); err != nil {
		t.Fatal(err)
	}
	return CredentialSource{File: p}
}

const snSecret = "s3cr3t-Pa55w0rd"

// snRoute answers a full sync with two pages and an incremental one with
// the incremental recording.
func snRoute(r *http.Request, _ []byte) (string, int, http.Header) {
	if u, p, ok := r.BasicAuth(); !ok || u != "svc.driftwatch" || p != snSecret {
		return "401.json", http.StatusUnauthorized, nil
	}
	q := r.URL.Query()
	switch {
	case strings.Contains(q.Get("sysparm_query"), "sys_updated_on>="):
		return "incremental.json", 200, http.Header{"X-Total-Count": {"2"}}
	case q.Get("sysparm_offset") == "0":
		return "page1.json", 200, http.Header{"X-Total-Count": {"4"}}
	case q.Get("sysparm_offset") == "2":
		return "page2.json", 200, http.Header{"X-Total-Count": {"4"}}
	}
	return "", http.StatusBadRequest, nil
}

func snConfig(t *testing.T, url string) Config {
	return Config{Name: "acme-sn", Tenant: "acme", Kind: KindServiceNow, URL: url, PageSize: 2,
		Credentials: credsFile(t, `{"username": "svc.driftwatch", "password": "`+snSecret+`"}`),
		Mapping:     Mapping{Fields: map[string]string{"items": "u_driftwatch_items"}, TimeZone: "Europe/Berlin"}}
}

func TestServiceNowSync(t *testing.T) {
	e := newEnv(t)
	rs := &recorded{t: t, dir: "servicenow", route: snRoute}
	srv := httptest.NewServer(rs)
	defer srv.Close()
	src, err := New(snConfig(t, srv.URL), e.options(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	s := e.syncer(src)
	ctx := context.Background()

	res, err := s.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 3 || len(res.Rejects) != 1 || res.Rejects[0].Reference != "CHG0030003" || !strings.Contains(res.Rejects[0].Reason, "start_date") {
		t.Fatalf("first sync: %+v; want 3 created and CHG0030003 rejected for its start_date", res)
	}

	t.Run("mapping", func(t *testing.T) {
		tk := e.ticket("CHG0030001")
		want := ticket.Spec{
			Reference: "CHG0030001", Title: "Raise nginx worker_connections on web-01",
			Description: "Load tests show connection exhaustion at 768.\n\nAssignment group: Linux Ops\n\nImported from " +
				srv.URL + "/nav_to.do?uri=change_request.do%3Fsys_id%3Da1f3c2d41b2e5010f0f1a9b3604bcb11",
			Impact: "nginx reload, no downtime", RollbackPlan: "Restore nginx.conf from the previous baseline and reload.",
			Origin: ticket.Internal, Class: ticket.Normal,
			Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/nginx/**"}},
			Window: &policy.Window{Start: "2026-11-24T23:00:00", End: "2026-11-25T01:00:00", TimeZone: "Europe/Berlin"},
		}
		if diff := cmp.Diff(want, tk.Spec); diff != "" {
			t.Errorf("CHG0030001 spec (-want +got):\n%s", diff)
		}
		if tk.State != ticket.Approved || tk.Requester.Email != "beth.anglin@acme.example" || len(tk.Approvals) != 1 {
			t.Errorf("CHG0030001: state %s, requester %s, approvals %+v; want approved by an approval, requested by beth", tk.State, tk.Requester.Email, tk.Approvals)
		}
		if got := e.ticket("CHG0030002"); got.State != ticket.Reviewed || !slicesEqual(got.Scope.Items, []string{"package:libssl3", "package:openssl"}) {
			t.Errorf("CHG0030002 (authorize, approval requested): state %s items %v; want reviewed with both packages", got.State, got.Scope.Items)
		}
		if got := e.ticket("CHG0030004"); got.State != ticket.Implementing || got.Class != ticket.Standard {
			t.Errorf("CHG0030004 (standard, implement, no approval needed): state %s class %s; want implementing standard", got.State, got.Class)
		}
		if got := e.ticket("CHG0030003"); got != nil {
			t.Errorf("malformed CHG0030003 was imported: %+v", got)
		}
	})

	t.Run("paging", func(t *testing.T) {
		var offsets []string
		for _, r := range rs.requests() {
			offsets = append(offsets, r.URL.Query().Get("sysparm_offset")+"/"+r.URL.Query().Get("sysparm_limit"))
		}
		if diff := cmp.Diff([]string{"0/2", "2/2"}, offsets); diff != "" {
			t.Errorf("pages asked for (offset/limit) (-want +got):\n%s", diff)
		}
	})

	t.Run("incremental", func(t *testing.T) {
		before := e.ticket("CHG0030004").Version
		e.now = e.now.Add(time.Hour)
		res, err := s.SyncOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reqs := rs.requests()
		q := reqs[len(reqs)-1].URL.Query().Get("sysparm_query")
		if !strings.HasPrefix(q, "sys_updated_on>=2026-11-20 12:30:00^") {
			t.Errorf("second poll asked %q; want records updated since the newest of the first (2026-11-20 12:30:00)", q)
		}
		if res.Updated != 1 || res.Unchanged != 1 || res.Created != 0 {
			t.Errorf("second sync: %+v; want CHG0030002 updated and CHG0030004 unchanged", res)
		}
		if v := e.ticket("CHG0030004").Version; v != before {
			t.Errorf("unchanged CHG0030004 went from version %d to %d", before, v)
		}
		tk := e.ticket("CHG0030002")
		if tk.State != ticket.Approved || tk.History[len(tk.History)-1].Action != ActionSync {
			t.Errorf("CHG0030002 after approval in ServiceNow: state %s, history %+v", tk.State, tk.History)
		}
		st := s.Status()
		if st.LastSuccess != e.now || st.Created != 3 || st.Updated != 1 || st.Rejected != 1 || st.LastError != "" {
			t.Errorf("status %+v", st)
		}
	})
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

// A 429 asking for longer than the client waits inside a poll ends the
// poll with a RateLimitError; the syncer then waits what it asked.
func TestServiceNowRateLimitLongerThanAPoll(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(&recorded{t: t, dir: "servicenow", route: func(*http.Request, []byte) (string, int, http.Header) {
		return "", http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}}
	}})
	defer srv.Close()
	src, err := New(snConfig(t, srv.URL), e.options(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	s := e.syncer(src)
	_, err = s.SyncOnce(context.Background())
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Hour {
		t.Fatalf("error %v; want a RateLimitError asking for 1h", err)
	}
	if len(e.slept) != 0 {
		t.Errorf("slept %v inside the poll; a wait of an hour is the syncer's to make", e.slept)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var waits []time.Duration
	s.Sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		cancel()
		return context.Canceled
	}
	s.Run(ctx)
	if len(waits) != 1 || waits[0] != time.Hour {
		t.Errorf("Run waited %v after the 429; want Retry-After's 1h", waits)
	}
}

func TestServiceNowExpiredCredentials(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(&recorded{t: t, dir: "servicenow", route: snRoute})
	defer srv.Close()
	cfg := snConfig(t, srv.URL)
	cfg.Credentials = credsFile(t, `{"username": "svc.driftwatch", "password": "expired-`+snSecret+`"}`)
	core, logs := observer(zapcore.DebugLevel)
	src, _ := New(cfg, e.options(zap.New(core)))
	s := e.syncer(src)
	s.Log = zap.New(core)
	_, err := s.SyncOnce(context.Background())
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("error %v; want ErrAuth", err)
	}
	st := s.Status()
	if !st.AuthFailed || !strings.Contains(st.LastError, "401") || !strings.Contains(st.LastError, "User Not Authenticated") || st.Failures != 1 || !st.LastSuccess.IsZero() {
		t.Errorf("status %+v; want the 401 as last error", st)
	}
	if !st.Stale(e.now, time.Minute) {
		t.Error("a connector that never succeeded is not stale")
	}
	all := logs.String() + st.LastError + err.Error()
	if strings.Contains(all, snSecret) {
		t.Errorf("the password appears in the log or the error:\n%s", all)
	}
	if logs.Len() == 0 {
		t.Error("the failing request was not logged")
	}
}
