package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

const hookSecret = "whsec-4f9a1c2e7b"

func TestWebhook(t *testing.T) {
	generic, err := os.ReadFile(filepath.Join("testdata", "webhook", "generic.json"))
	if err != nil {
		t.Fatal(err)
	}
	jiraEvent, err := os.ReadFile(filepath.Join("testdata", "webhook", "jira-issue-updated.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The Jira recording was sent at 2026-11-23T08:59:30Z.
	jiraSent := time.UnixMilli(1795424370000)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		kind    string
		body    []byte
		header  func(h http.Header)
		status  int
		created int
	}{
		{"generic signed", KindWebhook, generic, func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Add(-time.Minute).Unix(), 10))
			h.Set(HeaderSignature, Sign(hookSecret, now.Add(-time.Minute), generic))
		}, http.StatusAccepted, 1},
		{"generic bad signature", KindWebhook, generic, func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			h.Set(HeaderSignature, Sign("another-secret", now, generic))
		}, http.StatusUnauthorized, 0},
		{"generic body changed after signing", KindWebhook, append(bytes.Clone(generic), ' '), func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			h.Set(HeaderSignature, Sign(hookSecret, now, generic))
		}, http.StatusUnauthorized, 0},
		{"generic old timestamp", KindWebhook, generic, func(h http.Header) {
			old := now.Add(-10 * time.Minute)
			h.Set(HeaderTimestamp, strconv.FormatInt(old.Unix(), 10))
			h.Set(HeaderSignature, Sign(hookSecret, old, generic))
		}, http.StatusUnauthorized, 0},
		{"generic unsigned", KindWebhook, generic, func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		}, http.StatusUnauthorized, 0},
		{"jira signed", KindJira, jiraEvent, func(h http.Header) { h.Set(HeaderJiraSignature, SignJira(hookSecret, jiraEvent)) }, http.StatusAccepted, 1},
		{"jira bad signature", KindJira, jiraEvent, func(h http.Header) { h.Set(HeaderJiraSignature, SignJira("x", jiraEvent)) }, http.StatusUnauthorized, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.now = now
			if tc.kind == KindJira && jiraSent.Sub(now).Abs() > time.Minute {
				t.Fatalf("recording's timestamp %s is not near the test clock", jiraSent.UTC())
			}
			cfg := Config{Name: "acme-hook", Tenant: "acme", Kind: tc.kind, Credentials: credsFile(t, `{"secret": "`+hookSecret+`"}`),
				Mapping: Mapping{Fields: map[string]string{"reference": "change.id", "title": "change.summary", "hosts": "change.hosts",
					"items": "change.items", "start": "change.window.start", "end": "change.window.end", "state": "change.status", "approval": "change.approval"},
					ItemLabelPrefix: DefaultItemLabelPrefix, HostLabelPrefix: DefaultHostLabelPrefix}}
			if tc.kind == KindJira {
				cfg.Mapping.Fields = map[string]string{"start": "customfield_10051", "end": "customfield_10052"}
				srv := httptest.NewServer(&recorded{t: t, dir: "jira", route: func(r *http.Request, _ []byte) (string, int, http.Header) {
					if r.URL.Path == "/rest/servicedeskapi/request/OPS-1322/approval" {
						return "approval-OPS-1322.json", 200, nil
					}
					return "", 404, nil
				}})
				defer srv.Close()
				cfg.URL = srv.URL
			}
			src, _ := New(cfg, e.options(zaptest.NewLogger(t)))
			h := &Webhook{Config: cfg, Syncer: e.syncer(src), Options: e.options(zaptest.NewLogger(t))}
			req := httptest.NewRequest(http.MethodPost, "/hooks/acme-hook", bytes.NewReader(tc.body))
			tc.header(req.Header)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d (%s); want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status != http.StatusAccepted {
				return
			}
			var resp WebhookResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Created != tc.created {
				t.Fatalf("response %s; want %d created", rec.Body, tc.created)
			}
			ref := "DEPLOY-881"
			if tc.kind == KindJira {
				ref = "OPS-1322"
			}
			tk := e.ticket(ref)
			if tk == nil || tk.State != ticket.Approved || len(tk.Scope.Hosts) == 0 || len(tk.Scope.Items) == 0 || tk.Window == nil {
				t.Fatalf("ticket %s: %+v; want approved with hosts, items and a window", ref, tk)
			}
			// The same delivery again changes nothing.
			rec = httptest.NewRecorder()
			req = httptest.NewRequest(http.MethodPost, "/hooks/acme-hook", bytes.NewReader(tc.body))
			tc.header(req.Header)
			h.ServeHTTP(rec, req)
			json.Unmarshal(rec.Body.Bytes(), &resp)
			if rec.Code != http.StatusAccepted || resp.Created != 0 || resp.Unchanged != 1 {
				t.Errorf("second delivery: %d %s; want it unchanged", rec.Code, rec.Body)
			}
		})
	}
}

func TestWebhookRejectsMalformedRecord(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"records": [
	  {"reference": "DEPLOY-1", "title": "ok", "state": "approved", "approval": "approved", "hosts": ["web-01"], "items": ["file:/etc/app/**"]},
	  {"reference": "DEPLOY-2", "title": "bad state", "state": "sort of done", "hosts": ["web-02"]},
	  {"reference": "DEPLOY-3", "title": "bad host", "state": "draft", "hosts": ["web 03; rm -rf"]}
	]}`)
	cfg := Config{Name: "acme-hook", Kind: KindWebhook, Credentials: credsFile(t, `{"secret": "`+hookSecret+`"}`)}
	src, _ := New(cfg, e.options(zaptest.NewLogger(t)))
	s := e.syncer(src)
	h := &Webhook{Config: cfg, Syncer: s, Options: e.options(zaptest.NewLogger(t))}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(e.now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(hookSecret, e.now, body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var resp WebhookResponse
	json.Unmarshal(rec.Body.Bytes(), &resp)
	if rec.Code != http.StatusAccepted || resp.Created != 1 || len(resp.Rejects) != 2 ||
		resp.Rejects[0].Reference != "DEPLOY-2" || resp.Rejects[1].Reference != "DEPLOY-3" {
		t.Fatalf("%d %s; want DEPLOY-1 created and DEPLOY-2, DEPLOY-3 rejected by name", rec.Code, rec.Body)
	}
	if st := s.Status(); st.Rejected != 2 || len(st.Rejects) != 2 {
		t.Errorf("status %+v; want 2 rejects", st)
	}
	_ = context.Background()
}
