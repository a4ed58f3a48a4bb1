package connector

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

const (
	haloSecret   = "hs-9Qv2xLr7TbN4kZ"
	haloClientID = "5a1c9e07-driftwatch"
	haloTok1     = "hl1.eyJhbGciOiJSUzI1NiIsImtpZCI6IjQ2In0.c2VydmljZS1kcml2dHdhdGNo.a1"
	haloTok2     = "hl2.eyJhbGciOiJSUzI1NiIsImtpZCI6IjQ2In0.c2VydmljZS1kcml2dHdhdGNo.b2"
)

// haloServer plays a HaloPSA instance from the recordings: it issues the
// recorded tokens in turn, accepts only tokens it issued and has not
// revoked, and checks every request's parameters.
type haloServer struct {
	t *testing.T
	*recorded

	mu sync.Mutex
	// tokens are the token recordings issued in turn; the last repeats.
	tokens []string
	issued int
	forms  []url.Values
	valid  map[string]bool
	// approved serves ticket 1043 after its approval.
	approved bool
	// refuse answers token requests with invalid_client.
	refuse bool
	// useless issues tokens the API refuses.
	useless bool
	// limited answers the first ticket list with a 429.
	limited bool
}

func newHaloServer(t *testing.T) *haloServer {
	hs := &haloServer{t: t, tokens: []string{"token-1.json", "token-2.json"}, valid: map[string]bool{}}
	hs.recorded = &recorded{t: t, dir: "halopsa", route: hs.route}
	return hs
}

func (hs *haloServer) revoke() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.valid = map[string]bool{}
}

func (hs *haloServer) set(f func(hs *haloServer)) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	f(hs)
}

func (hs *haloServer) route(r *http.Request, body []byte) (string, int, http.Header) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if r.URL.Path == "/auth/token" {
		form, err := url.ParseQuery(string(body))
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			hs.t.Errorf("token request %s %s (%s): want a form POST", r.Method, r.URL, r.Header.Get("Content-Type"))
			return "token-invalid-client.json", http.StatusBadRequest, nil
		}
		hs.forms = append(hs.forms, form)
		if hs.refuse || form.Get("grant_type") != "client_credentials" || form.Get("scope") != "all" ||
			form.Get("client_id") != haloClientID || form.Get("client_secret") != haloSecret {
			return "token-invalid-client.json", http.StatusBadRequest, nil
		}
		file := hs.tokens[min(hs.issued, len(hs.tokens)-1)]
		hs.issued++
		hs.valid[map[string]string{"token-1.json": haloTok1, "token-2.json": haloTok2}[file]] = !hs.useless
		return file, http.StatusOK, nil
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); !ok || !hs.valid[tok] {
		return "", http.StatusUnauthorized, nil
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/api/Tickets":
		if hs.limited {
			hs.limited = false
			return "", http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}
		}
		if q.Get("pageinate") != "true" || q.Get("page_size") != "2" || q.Get("requesttype") != "12,14" {
			hs.t.Errorf("ticket list %s: want pageinate=true, page_size=2, requesttype=12,14", r.URL.RawQuery)
			return "", http.StatusBadRequest, nil
		}
		switch {
		case q.Get("lastupdatefromdate") != "":
			return "tickets-incremental.json", http.StatusOK, nil
		case q.Get("page_no") == "1":
			return "tickets-page1.json", http.StatusOK, nil
		case q.Get("page_no") == "2":
			return "tickets-page2.json", http.StatusOK, nil
		}
	case strings.HasPrefix(r.URL.Path, "/api/Tickets/"):
		if q.Get("includedetails") != "true" {
			hs.t.Errorf("ticket %s: want includedetails=true", r.URL)
		}
		id := strings.TrimPrefix(r.URL.Path, "/api/Tickets/")
		if id == "1043" && hs.approved {
			return "ticket-1043-approved.json", http.StatusOK, nil
		}
		return "ticket-" + id + ".json", http.StatusOK, nil
	}
	return "", http.StatusNotFound, nil
}

func haloConfig(t *testing.T, url string) Config {
	return Config{Name: "acme-halo", Tenant: "acme", Kind: KindHaloPSA, URL: url, Filter: "12, 14", PageSize: 2,
		Credentials: credsFile(t, `{"client_id": "`+haloClientID+`", "client_secret": "`+haloSecret+`"}`),
		Mapping:     Mapping{ItemLabelPrefix: DefaultItemLabelPrefix, HostLabelPrefix: DefaultHostLabelPrefix, TimeZone: "Europe/Berlin"}}
}

func TestHaloPSASync(t *testing.T) {
	e := newEnv(t)
	hs := newHaloServer(t)
	srv := httptest.NewServer(hs)
	defer srv.Close()
	src, err := New(haloConfig(t, srv.URL), e.options(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	s := e.syncer(src)
	ctx := context.Background()

	res, err := s.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 3 || len(res.Rejects) != 1 || res.Rejects[0].Reference != "HALO-1044" || !strings.Contains(res.Rejects[0].Reason, "ends") {
		t.Fatalf("first sync: %+v; want 3 created and HALO-1044 rejected for its window", res)
	}

	t.Run("mapping", func(t *testing.T) {
		tk := e.ticket("HALO-1042")
		want := ticket.Spec{
			Reference: "HALO-1042", Title: "Raise nginx worker_connections on web-01",
			Description: "Load tests show connection exhaustion at 768.\n\nClient: Acme Corp, site: Frankfurt DC\n\nImported from " + srv.URL + "/ticket?id=1042",
			Impact:      "nginx reload, no downtime", RollbackPlan: "Restore nginx.conf from the previous baseline and reload.",
			Origin: ticket.Internal, Class: ticket.Normal,
			Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/nginx/**"}},
			Window: &policy.Window{Start: "2026-11-24T23:00:00", End: "2026-11-25T01:00:00", TimeZone: "Europe/Berlin"},
		}
		if diff := cmp.Diff(want, tk.Spec); diff != "" {
			t.Errorf("HALO-1042 spec (-want +got):\n%s", diff)
		}
		if tk.State != ticket.Approved || tk.Requester.Email != "beth.anglin@acme.example" || len(tk.Approvals) != 1 {
			t.Errorf("HALO-1042: state %s, requester %s, approvals %+v; want approved, requested by beth", tk.State, tk.Requester.Email, tk.Approvals)
		}
		got := e.ticket("HALO-1043")
		if got.State != ticket.Reviewed || !slicesEqual(got.Scope.Items, []string{"package:libssl3", "package:openssl"}) ||
			!slicesEqual(got.Scope.Hosts, []string{"db-*"}) || got.Window == nil || got.Window.Start != "2026-11-26T03:00:00" || got.Window.End != "2026-11-26T05:00:00" {
			t.Errorf("HALO-1043 (awaiting approval at a CAB step, scope in tags): state %s scope %+v window %+v", got.State, got.Scope, got.Window)
		}
		if got := e.ticket("HALO-1045"); got.State != ticket.Implementing || got.Class != ticket.Standard || !slicesEqual(got.Scope.Items, []string{"package:*"}) {
			t.Errorf("HALO-1045 (standard, in progress, no approval process): state %s class %s items %v", got.State, got.Class, got.Scope.Items)
		}
		if got := e.ticket("HALO-1044"); got != nil {
			t.Errorf("HALO-1044 with a window that ends before it starts was imported: %+v", got)
		}
	})

	t.Run("requests", func(t *testing.T) {
		var pages []string
		for _, r := range hs.requests() {
			if r.URL.Path == "/api/Tickets" {
				pages = append(pages, r.URL.Query().Get("page_no"))
			}
			if r.URL.Path != "/auth/token" && r.Header.Get("Authorization") != "Bearer "+haloTok1 {
				t.Errorf("%s sent Authorization %q; want the token", r.URL.Path, r.Header.Get("Authorization"))
			}
		}
		if diff := cmp.Diff([]string{"1", "2"}, pages); diff != "" {
			t.Errorf("pages asked for (-want +got):\n%s", diff)
		}
		if hs.issued != 1 {
			t.Errorf("%d tokens asked for; want one for the whole poll", hs.issued)
		}
	})

	t.Run("incremental", func(t *testing.T) {
		hs.set(func(hs *haloServer) { hs.approved = true })
		before := e.ticket("HALO-1045").Version
		e.now = e.now.Add(10 * time.Minute)
		res, err := s.SyncOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var from []string
		for _, r := range hs.requests() {
			if r.URL.Path == "/api/Tickets" {
				from = append(from, r.URL.Query().Get("lastupdatefromdate"))
			}
		}
		if diff := cmp.Diff([]string{"", "", "2026-11-20T12:30:00"}, from); diff != "" {
			t.Errorf("lastupdatefromdate of each list request (-want +got):\n%s", diff)
		}
		if res.Updated != 1 || res.Unchanged != 1 || res.Created != 0 || len(res.Rejects) != 0 {
			t.Errorf("second sync: %+v; want HALO-1043 updated and HALO-1045 unchanged", res)
		}
		if v := e.ticket("HALO-1045").Version; v != before {
			t.Errorf("unchanged HALO-1045 went from version %d to %d", before, v)
		}
		if tk := e.ticket("HALO-1043"); tk.State != ticket.Approved || tk.History[len(tk.History)-1].Action != ActionSync {
			t.Errorf("HALO-1043 after approval in HaloPSA: state %s, history %+v", tk.State, tk.History)
		}
		if hs.issued != 1 {
			t.Errorf("%d tokens asked for; the first is good for an hour", hs.issued)
		}
	})

	t.Run("token expired by the clock", func(t *testing.T) {
		e.now = e.now.Add(time.Hour)
		if _, err := s.SyncOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if hs.issued != 2 {
			t.Errorf("%d tokens asked for; want a new one after an hour", hs.issued)
		}
	})
}

func TestHaloPSATokenRefused(t *testing.T) {
	e := newEnv(t)
	hs := newHaloServer(t)
	srv := httptest.NewServer(hs)
	defer srv.Close()
	core, logs := observer(zapcore.DebugLevel)
	src, _ := New(haloConfig(t, srv.URL), e.options(zap.New(core)))
	s := e.syncer(src)
	s.Log = zap.New(core)
	ctx := context.Background()
	if _, err := s.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("revoked token is renewed once", func(t *testing.T) {
		hs.revoke()
		res, err := s.SyncOnce(ctx)
		if err != nil {
			t.Fatalf("sync after the token was revoked: %v; want it renewed", err)
		}
		if hs.issued != 2 || res.Unchanged != 2 {
			t.Errorf("%d tokens issued, result %+v; want a second token and the records unchanged", hs.issued, res)
		}
	})

	t.Run("token refused after renewal", func(t *testing.T) {
		hs.set(func(hs *haloServer) { hs.useless = true })
		hs.revoke()
		issued := hs.issued
		_, err := s.SyncOnce(ctx)
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("error %v; want ErrAuth", err)
		}
		if hs.issued != issued+1 {
			t.Errorf("%d tokens asked for; want exactly one renewal", hs.issued-issued)
		}
	})

	t.Run("client refused", func(t *testing.T) {
		hs.set(func(hs *haloServer) { hs.refuse = true })
		hs.revoke()
		_, err := s.SyncOnce(ctx)
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("error %v; want ErrAuth", err)
		}
		st := s.Status()
		if !st.AuthFailed || !strings.Contains(st.LastError, "invalid_client") || st.Failures == 0 {
			t.Errorf("status %+v; want the refused client as last error", st)
		}
	})

	for _, f := range hs.forms {
		if f.Get("client_secret") != haloSecret {
			t.Fatalf("token request without the secret: %v", f)
		}
	}
	all := logs.String() + s.Status().LastError
	for _, secret := range []string{haloSecret, haloTok1, haloTok2} {
		if strings.Contains(all, secret) {
			t.Errorf("a secret appears in the log or the status:\n%s", all)
		}
	}
	if logs.Len() == 0 {
		t.Error("the refused credentials were not logged")
	}
}

func TestHaloPSAMisconfigured(t *testing.T) {
	e := newEnv(t)
	cfg := haloConfig(t, "http://127.0.0.1:1")
	cfg.Credentials = credsFile(t, `{"username": "svc", "password": "`+haloSecret+`"}`)
	src, _ := New(cfg, e.options(zaptest.NewLogger(t)))
	_, _, err := src.Poll(context.Background(), Cursor{})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "client_secret") || strings.Contains(err.Error(), haloSecret) {
		t.Errorf("error %v; want ErrAuth naming client_secret, without the password", err)
	}
	cfg = haloConfig(t, "http://127.0.0.1:1")
	cfg.Filter = ""
	src, _ = New(cfg, e.options(zaptest.NewLogger(t)))
	if _, _, err := src.Poll(context.Background(), Cursor{}); err == nil || !strings.Contains(err.Error(), "ticket types") {
		t.Errorf("poll without ticket types: %v; want an error asking for them", err)
	}
}

func TestCheckFilter(t *testing.T) {
	for _, tc := range []struct {
		kind, filter string
		ok           bool
	}{
		{KindHaloPSA, "12", true},
		{KindHaloPSA, "12, 14", true},
		{KindHaloPSA, "", false},
		{KindHaloPSA, "Change Request", false},
		{KindHaloPSA, "12,", false},
		{KindConnectWise, "", true},
		{KindConnectWise, `board/name="Change Management"`, true},
	} {
		if got := CheckFilter(tc.kind, tc.filter); (got == "") != tc.ok {
			t.Errorf("CheckFilter(%s, %q) = %q; want ok %v", tc.kind, tc.filter, got, tc.ok)
		}
	}
}
