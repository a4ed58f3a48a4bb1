package connector

import (
	"context"
	"encoding/base64"
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
	cwCompany  = "acme"
	cwPublic   = "Xq1Yv7NcZpR3sT0u"
	cwPrivate  = "pk-Lm3Vw8Hd2Fq9Zr6B"
	cwClientID = "3f2b8a4c-77d1-4e0a-9a51-driftwatch"
	cwBoard    = `(board/name="Change Management")`
)

// cwServer plays a ConnectWise Manage instance from the recordings and
// checks every request's authentication and parameters.
type cwServer struct {
	t *testing.T
	*recorded
	mu sync.Mutex
	// limited answers the first ticket list with a 429.
	limited bool
}

func newCWServer(t *testing.T) *cwServer {
	cs := &cwServer{t: t}
	cs.recorded = &recorded{t: t, dir: "connectwise", route: cs.route}
	return cs
}

func (cs *cwServer) route(r *http.Request, _ []byte) (string, int, http.Header) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(cwCompany+"+"+cwPublic+":"+cwPrivate))
	if r.Header.Get("Authorization") != want || r.Header.Get("clientId") != cwClientID {
		return "401.json", http.StatusUnauthorized, nil
	}
	if !strings.HasPrefix(r.Header.Get("Accept"), "application/vnd.connectwise.com+json; version=") {
		cs.t.Errorf("Accept %q; want the versioned ConnectWise media type", r.Header.Get("Accept"))
	}
	const api = "/v4_6_release/apis/3.0"
	q := r.URL.Query()
	switch {
	case r.URL.Path == api+"/service/tickets":
		if cs.limited {
			cs.limited = false
			return "", http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}
		}
		if q.Get("pageSize") != "2" || q.Get("orderBy") != "lastUpdated asc" || !strings.HasPrefix(q.Get("conditions"), cwBoard) {
			cs.t.Errorf("ticket list %s: want pageSize=2, orderBy=lastUpdated asc and the board's conditions", r.URL.RawQuery)
			return "", http.StatusBadRequest, nil
		}
		if strings.Contains(q.Get("conditions"), "lastUpdated") {
			// One full page without a Link header: the connector asks
			// for the next one, which is empty.
			if q.Get("page") == "1" {
				return "incremental.json", http.StatusOK, nil
			}
			return "empty.json", http.StatusOK, nil
		}
		link := func(page string) string {
			v := url.Values{"conditions": {q.Get("conditions")}, "orderBy": {q.Get("orderBy")}, "page": {page}, "pageSize": {"2"}}
			return "<https://" + "api-eu.myconnectwise.net" + api + "/service/tickets?" + v.Encode() + ">"
		}
		switch q.Get("page") {
		case "1":
			return "tickets-page1.json", http.StatusOK, http.Header{"Link": {link("2") + `; rel="next", ` + link("2") + `; rel="last"`}}
		case "2":
			return "tickets-page2.json", http.StatusOK, http.Header{"Link": {link("1") + `; rel="first", ` + link("1") + `; rel="prev"`}}
		}
	case strings.HasPrefix(r.URL.Path, api+"/service/tickets/") && strings.HasSuffix(r.URL.Path, "/configurations"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, api+"/service/tickets/"), "/configurations")
		return "configurations-" + id + ".json", http.StatusOK, nil
	}
	return "", http.StatusNotFound, nil
}

func cwConfig(t *testing.T, url string) Config {
	return Config{Name: "acme-cw", Tenant: "acme", Kind: KindConnectWise, URL: url, PageSize: 2,
		Credentials: credsFile(t, `{"company": "`+cwCompany+`", "public_key": "`+cwPublic+`", "private_key": "`+cwPrivate+`", "client_id": "`+cwClientID+`"}`),
		Mapping: Mapping{Fields: map[string]string{"start": "Change Window Start", "end": "Change Window End", "rollback_plan": "Backout Plan"},
			ItemLabelPrefix: DefaultItemLabelPrefix, HostLabelPrefix: DefaultHostLabelPrefix, TimeZone: "Europe/Berlin"}}
}

func TestConnectWiseSync(t *testing.T) {
	e := newEnv(t)
	cs := newCWServer(t)
	srv := httptest.NewServer(cs)
	defer srv.Close()
	src, err := New(cwConfig(t, srv.URL), e.options(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	s := e.syncer(src)
	ctx := context.Background()

	res, err := s.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 3 || len(res.Rejects) != 1 || res.Rejects[0].Reference != "CW-5125" || !strings.Contains(res.Rejects[0].Reason, "Change Window Start") {
		t.Fatalf("first sync: %+v; want 3 created and CW-5125 rejected for its Change Window Start", res)
	}

	t.Run("mapping", func(t *testing.T) {
		tk := e.ticket("CW-5123")
		link := srv.URL + "/v4_6_release/services/system_io/Service/fv_sr100_request.rails?companyName=acme&service_recid=5123"
		want := ticket.Spec{
			Reference: "CW-5123", Title: "Raise nginx worker_connections on web-01",
			Description:  "Company: Acme Corp\n\nImported from " + link,
			RollbackPlan: "Restore nginx.conf from the previous baseline and reload.",
			Origin:       ticket.Internal, Class: ticket.Normal,
			Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/nginx/**"}},
			Window: &policy.Window{Start: "2026-11-24T23:00:00", End: "2026-11-25T01:00:00", TimeZone: "Europe/Berlin"},
		}
		if diff := cmp.Diff(want, tk.Spec); diff != "" {
			t.Errorf("CW-5123 spec (-want +got):\n%s", diff)
		}
		if tk.State != ticket.Approved || tk.Requester.Email != "beth.anglin@acme.example" || len(tk.Approvals) != 1 {
			t.Errorf("CW-5123: state %s, requester %s, approvals %+v; want approved, requested by beth", tk.State, tk.Requester.Email, tk.Approvals)
		}
		if got := e.ticket("CW-5124"); got.State != ticket.Reviewed || !slicesEqual(got.Scope.Hosts, []string{"db-01", "db-02"}) ||
			!slicesEqual(got.Scope.Items, []string{"package:libssl3", "package:openssl"}) {
			t.Errorf("CW-5124 (pending approval, two configurations): state %s scope %+v", got.State, got.Scope)
		}
		if got := e.ticket("CW-5126"); got.State != ticket.Implementing || got.Class != ticket.Standard || len(got.Scope.Hosts) != 0 {
			t.Errorf("CW-5126 (standard, in progress, no configurations): state %s class %s hosts %v", got.State, got.Class, got.Scope.Hosts)
		}
		if got := e.ticket("CW-5125"); got != nil {
			t.Errorf("malformed CW-5125 was imported: %+v", got)
		}
	})

	t.Run("requests", func(t *testing.T) {
		var got []string
		for _, r := range cs.requests() {
			p := strings.TrimPrefix(r.URL.Path, "/v4_6_release/apis/3.0")
			if p == "/service/tickets" {
				p += "?page=" + r.URL.Query().Get("page")
			}
			if r.Host != strings.TrimPrefix(srv.URL, "http://") {
				t.Errorf("request went to %s", r.Host)
			}
			got = append(got, p)
		}
		want := []string{"/service/tickets?page=1", "/service/tickets/5123/configurations", "/service/tickets/5124/configurations",
			"/service/tickets?page=2", "/service/tickets/5126/configurations"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})

	t.Run("incremental", func(t *testing.T) {
		before := e.ticket("CW-5126").Version
		e.now = e.now.Add(time.Hour)
		res, err := s.SyncOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reqs := cs.requests()
		var conds string
		var pages []string
		for _, r := range reqs[5:] {
			if strings.HasSuffix(r.URL.Path, "/service/tickets") {
				conds = r.URL.Query().Get("conditions")
				pages = append(pages, r.URL.Query().Get("page"))
			}
		}
		if diff := cmp.Diff([]string{"1", "2"}, pages); diff != "" {
			t.Errorf("pages of the second poll (-want +got):\n%s", diff)
		}
		if want := cwBoard + " and lastUpdated>=[2026-11-20T12:30:00Z]"; conds != want {
			t.Errorf("second poll's conditions %q; want %q", conds, want)
		}
		if res.Updated != 1 || res.Unchanged != 1 || res.Created != 0 {
			t.Errorf("second sync: %+v; want CW-5124 updated and CW-5126 unchanged", res)
		}
		if v := e.ticket("CW-5126").Version; v != before {
			t.Errorf("unchanged CW-5126 went from version %d to %d", before, v)
		}
		if tk := e.ticket("CW-5124"); tk.State != ticket.Approved || tk.History[len(tk.History)-1].Action != ActionSync {
			t.Errorf("CW-5124 after approval in ConnectWise: state %s, history %+v", tk.State, tk.History)
		}
	})
}

func TestConnectWiseExpiredCredentials(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(newCWServer(t))
	defer srv.Close()
	cfg := cwConfig(t, srv.URL)
	const revoked = "pk-revoked-Lm3Vw8Hd2Fq9Zr6B"
	cfg.Credentials = credsFile(t, `{"company": "`+cwCompany+`", "public_key": "`+cwPublic+`", "private_key": "`+revoked+`", "client_id": "`+cwClientID+`"}`)
	core, logs := observer(zapcore.DebugLevel)
	src, _ := New(cfg, e.options(zap.New(core)))
	s := e.syncer(src)
	s.Log = zap.New(core)
	_, err := s.SyncOnce(context.Background())
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("error %v; want ErrAuth", err)
	}
	st := s.Status()
	if !st.AuthFailed || !strings.Contains(st.LastError, "401") || !strings.Contains(st.LastError, "Authentication failed") {
		t.Errorf("status %+v; want the 401 as last error", st)
	}
	all := logs.String() + st.LastError + err.Error()
	if strings.Contains(all, revoked) {
		t.Errorf("the private key appears in the log or the error:\n%s", all)
	}
	if logs.Len() == 0 {
		t.Error("the failing request was not logged")
	}
}
