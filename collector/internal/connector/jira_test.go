package connector

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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
	jiraUser   = "svc.driftwatch@acme.example"
	jiraSecret = "ATATT3xFfGF0-jira-api-token-7Qm"
	jiraFilter = "project = OPS AND issuetype = Change"
	// jiraNext is the nextPageToken of the first page's recording.
	jiraNext = "Ch0jU3RyaW5nJlQxQlRMVU5JVXpFeSUyMCUyMCVFMyVBMiVBOBAC"
)

// jiraSearch is the body of a POST /rest/api/3/search/jql.
type jiraSearch struct {
	JQL           string   `json:"jql"`
	Fields        []string `json:"fields"`
	MaxResults    int      `json:"maxResults"`
	NextPageToken string   `json:"nextPageToken"`
}

// jiraServer plays Jira Cloud from the recordings and checks each
// search's JQL, fields and page size.
type jiraServer struct {
	t *testing.T
	*recorded
	mu       sync.Mutex
	searches []jiraSearch
	// approved serves OPS-1321's approval as decided.
	approved bool
	// limited answers the first search with a 429.
	limited bool
	// paged serves OPS-1320's approvals in two pages, the second declined.
	paged bool
}

func newJiraServer(t *testing.T) *jiraServer {
	js := &jiraServer{t: t}
	js.recorded = &recorded{t: t, dir: "jira", route: js.route}
	return js
}

func (js *jiraServer) route(r *http.Request, body []byte) (string, int, http.Header) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != jiraUser || p != jiraSecret {
		return "401.json", http.StatusUnauthorized, nil
	}
	switch {
	case r.URL.Path == "/rest/api/3/search/jql" && r.Method == http.MethodPost:
		if js.limited {
			js.limited = false
			return "", http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}
		}
		var s jiraSearch
		if err := json.Unmarshal(body, &s); err != nil {
			js.t.Errorf("search body %s: %v", body, err)
			return "", http.StatusBadRequest, nil
		}
		js.searches = append(js.searches, s)
		for _, f := range []string{"summary", "status", "labels", "updated", "customfield_10005", "customfield_10051", "customfield_10052"} {
			if !slices.Contains(s.Fields, f) {
				js.t.Errorf("search asked for fields %v; want %s among them", s.Fields, f)
			}
		}
		if s.MaxResults != 2 || !strings.HasPrefix(s.JQL, "("+jiraFilter+")") || !strings.HasSuffix(s.JQL, "ORDER BY updated ASC") {
			js.t.Errorf("search %+v: want maxResults 2 and the filter's JQL ordered by update", s)
			return "", http.StatusBadRequest, nil
		}
		switch {
		case strings.Contains(s.JQL, "updated >="):
			return "search-incremental.json", http.StatusOK, nil
		case s.NextPageToken == "":
			return "search-page1.json", http.StatusOK, nil
		case s.NextPageToken == jiraNext:
			return "search-page2.json", http.StatusOK, nil
		}
	case strings.HasPrefix(r.URL.Path, "/rest/servicedeskapi/request/") && strings.HasSuffix(r.URL.Path, "/approval"):
		key := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/rest/servicedeskapi/request/"), "/approval")
		file := "approval-" + key + ".json"
		if key == "OPS-1321" && js.approved {
			file = "approval-OPS-1321-approved.json"
		}
		if key == "OPS-1320" && js.paged {
			file = "approval-OPS-1320-page1.json"
			if r.URL.Query().Get("start") == "1" {
				file = "approval-OPS-1320-page2.json"
			}
		}
		if _, err := os.Stat(filepath.Join("testdata", "jira", file)); err != nil {
			return "", http.StatusNotFound, nil
		}
		return file, http.StatusOK, nil
	}
	return "", http.StatusNotFound, nil
}

func jiraConfig(t *testing.T, url, token string) Config {
	return Config{Name: "acme-jira", Tenant: "acme", Kind: KindJira, URL: url, Filter: jiraFilter, PageSize: 2,
		Credentials: credsFile(t, `{"username": "`+jiraUser+`", "token": "`+token+`"}`),
		Mapping: Mapping{Fields: map[string]string{"start": "customfield_10051", "end": "customfield_10052", "class": "customfield_10005"},
			ItemLabelPrefix: DefaultItemLabelPrefix, HostLabelPrefix: DefaultHostLabelPrefix, TimeZone: "Europe/Berlin"}}
}

func TestJiraSync(t *testing.T) {
	e := newEnv(t)
	js := newJiraServer(t)
	srv := httptest.NewServer(js)
	defer srv.Close()
	src, err := New(jiraConfig(t, srv.URL, jiraSecret), e.options(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	s := e.syncer(src)
	ctx := context.Background()

	res, err := s.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 3 || len(res.Rejects) != 1 || res.Rejects[0].Reference != "OPS-1324" || !strings.Contains(res.Rejects[0].Reason, "only one of start and end") {
		t.Fatalf("first sync: %+v; want 3 created and OPS-1324 rejected for its window without an end", res)
	}

	t.Run("mapping", func(t *testing.T) {
		tk := e.ticket("OPS-1320")
		want := ticket.Spec{
			Reference: "OPS-1320", Title: "Raise nginx worker_connections on web-01",
			Description: "Load tests show connection exhaustion at 768.\n\nImported from " + srv.URL + "/browse/OPS-1320",
			Origin:      ticket.Internal, Class: ticket.Normal,
			Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/nginx/**"}},
			Window: &policy.Window{Start: "2026-11-24T23:00:00", End: "2026-11-25T01:00:00", TimeZone: "Europe/Berlin"},
		}
		if diff := cmp.Diff(want, tk.Spec); diff != "" {
			t.Errorf("OPS-1320 spec (-want +got):\n%s", diff)
		}
		if tk.State != ticket.Approved || tk.Requester.Email != "beth.anglin@acme.example" || len(tk.Approvals) != 1 || tk.Approvals[0].By.Email != "cab.lead@acme.example" {
			t.Errorf("OPS-1320: state %s, requester %s, approvals %+v; want approved by the CAB lead, requested by beth", tk.State, tk.Requester.Email, tk.Approvals)
		}
		if got := e.ticket("OPS-1321"); got.State != ticket.Reviewed || !slicesEqual(got.Scope.Hosts, []string{"db-*"}) ||
			!slicesEqual(got.Scope.Items, []string{"package:libssl3", "package:openssl"}) || len(got.Approvals) != 0 {
			t.Errorf("OPS-1321 (awaiting approval, approval pending): state %s scope %+v approvals %+v", got.State, got.Scope, got.Approvals)
		}
		if got := e.ticket("OPS-1323"); got.State != ticket.Implementing || got.Class != ticket.Standard || !slicesEqual(got.Scope.Items, []string{"package:*"}) {
			t.Errorf("OPS-1323 (standard, implementing, no approvals): state %s class %s items %v", got.State, got.Class, got.Scope.Items)
		}
		if got := e.ticket("OPS-1324"); got != nil {
			t.Errorf("malformed OPS-1324 was imported: %+v", got)
		}
	})

	t.Run("paging", func(t *testing.T) {
		var tokens []string
		for _, s := range js.searches {
			tokens = append(tokens, s.NextPageToken)
		}
		if diff := cmp.Diff([]string{"", jiraNext}, tokens); diff != "" {
			t.Errorf("nextPageToken of each search (-want +got):\n%s", diff)
		}
		var approvals []string
		for _, r := range js.requests() {
			if strings.HasSuffix(r.URL.Path, "/approval") {
				approvals = append(approvals, strings.Split(r.URL.Path, "/")[4])
			}
		}
		if diff := cmp.Diff([]string{"OPS-1320", "OPS-1321", "OPS-1324", "OPS-1323"}, approvals); diff != "" {
			t.Errorf("approvals read (-want +got):\n%s", diff)
		}
	})

	t.Run("incremental", func(t *testing.T) {
		js.mu.Lock()
		js.approved = true
		js.mu.Unlock()
		before := e.ticket("OPS-1323").Version
		e.now = e.now.Add(time.Hour)
		res, err := s.SyncOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		jql := js.searches[len(js.searches)-1].JQL
		if want := "(" + jiraFilter + `) AND updated >= "2026/11/20 13:30" ORDER BY updated ASC`; jql != want {
			t.Errorf("second poll's JQL %q; want %q (the newest update, in the mapping's zone)", jql, want)
		}
		if res.Updated != 1 || res.Unchanged != 1 || res.Created != 0 {
			t.Errorf("second sync: %+v; want OPS-1321 updated and OPS-1323 unchanged", res)
		}
		if v := e.ticket("OPS-1323").Version; v != before {
			t.Errorf("unchanged OPS-1323 went from version %d to %d", before, v)
		}
		if tk := e.ticket("OPS-1321"); tk.State != ticket.Approved || len(tk.Approvals) != 1 || tk.History[len(tk.History)-1].Action != ActionSync {
			t.Errorf("OPS-1321 after its approval: state %s, approvals %+v, history %+v", tk.State, tk.Approvals, tk.History)
		}
	})
}

func TestJiraExpiredCredentials(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(newJiraServer(t))
	defer srv.Close()
	const expired = "ATATT3xFfGF0-expired-token-9Zk"
	core, logs := observer(zapcore.DebugLevel)
	src, _ := New(jiraConfig(t, srv.URL, expired), e.options(zap.New(core)))
	s := e.syncer(src)
	s.Log = zap.New(core)
	_, err := s.SyncOnce(context.Background())
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("error %v; want ErrAuth", err)
	}
	st := s.Status()
	if !st.AuthFailed || !strings.Contains(st.LastError, "401") || !strings.Contains(st.LastError, "Client must be authenticated") {
		t.Errorf("status %+v; want the 401 as last error", st)
	}
	all := logs.String() + st.LastError + err.Error()
	if strings.Contains(all, expired) {
		t.Errorf("the API token appears in the log or the error:\n%s", all)
	}
}

// TestJiraApprovalsPaged: the approvals endpoint is paged, and a decline
// on its second page rejects the request although the first page approved.
func TestJiraApprovalsPaged(t *testing.T) {
	e := newEnv(t)
	js := newJiraServer(t)
	js.paged = true
	srv := httptest.NewServer(js)
	defer srv.Close()
	src, err := New(jiraConfig(t, srv.URL, jiraSecret), e.options(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.syncer(src).SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tk := e.ticket("OPS-1320"); tk == nil || tk.State != ticket.Rejected {
		t.Fatalf("OPS-1320 with a decline on its second approvals page: %+v; want rejected", tk)
	}
	var starts []string
	for _, r := range js.requests() {
		if strings.HasSuffix(r.URL.Path, "/OPS-1320/approval") {
			starts = append(starts, r.URL.Query().Get("start"))
		}
	}
	if diff := cmp.Diff([]string{"0", "1"}, starts); diff != "" {
		t.Errorf("approval pages read of OPS-1320 (-want +got):\n%s", diff)
	}
}
