package collector

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/server"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/web"
)

// linkToken is the signed token of a recipient's links, as the store's
// key signs it.
func linkToken(t testing.TB, st store.Store, tenantID, recipient, list string) string {
	t.Helper()
	s, err := notify.SignerFromStore(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	return s.Sign(notify.Subscription{TenantID: tenantID, Recipient: recipient, List: list})
}

// twoRecipientsBlock sends Acme's digest to two people.
const twoRecipientsBlock = `  time_zone  = "America/New_York"
  recipients = ["Acme Ops <ops@acme.example>", "lead@acme.example"]
`

// Friday digests of weeks 45 and 46 in New York, just after 16:00.
var (
	digestWeek45 = notifyTime("2026-11-06T21:00:05Z")
	digestWeek46 = notifyTime("2026-11-13T21:00:05Z")
)

// prefsSite serves the world's web report, where the links of the emails
// lead.
func prefsSite(t *testing.T, w *notifyWorld) *httptest.Server {
	t.Helper()
	h, err := web.New(web.Options{Store: w.st, Log: zaptest.NewLogger(t).Named("web"), Now: w.clock.Now,
		PasswordParams: web.PasswordParams{Memory: 64, Time: 1, Threads: 1},
		NotifyPolicies: &TenantPolicies{Config: w.cfg.Notify, Store: w.st}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// onSite turns an absolute link of an email into the same link on site.
func onSite(t *testing.T, site *httptest.Server, link string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(link, notifyPublicURL)
	if !ok {
		t.Fatalf("link %q is not under %s", link, notifyPublicURL)
	}
	return site.URL + rest
}

type httpAnswer struct {
	status int
	body   string
}

func httpDo(t *testing.T, method, u, contentType, body string) httpAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpAnswer{status: resp.StatusCode, body: string(b)}
}

// oneClick posts the RFC 8058 one-click unsubscription a mail client
// sends to a List-Unsubscribe URL.
func oneClick(t *testing.T, u string) httpAnswer {
	t.Helper()
	return httpDo(t, http.MethodPost, u, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
}

// headerURL takes the URL out of a List-Unsubscribe header.
func headerURL(t *testing.T, h string) string {
	t.Helper()
	u, ok := strings.CutPrefix(h, "<")
	if u, ok2 := strings.CutSuffix(u, ">"); ok && ok2 {
		return u
	}
	t.Fatalf("List-Unsubscribe %q is not one <URL>", h)
	return ""
}

// byRecipient maps each message to its one envelope recipient.
func byRecipient(t *testing.T, ms []mailMsg) map[string]parsedMail {
	t.Helper()
	out := map[string]parsedMail{}
	for _, m := range ms {
		if len(m.To) != 1 {
			t.Fatalf("a message went to %v, want one recipient each", m.To)
		}
		if _, dup := out[m.To[0]]; dup {
			t.Fatalf("%s got two messages", m.To[0])
		}
		out[m.To[0]] = parseMail(t, m.Data)
	}
	return out
}

// sendDigestTo reports a change, fires the week 45 digest and waits for n
// messages.
func sendDigestTo(t *testing.T, srv *mailServer, w *notifyWorld, n int) (*notify.Notifier, []mailMsg) {
	t.Helper()
	w.report(notifyT0, testPackageChange("openssl", "3.0.13-1", "3.0.15-1"))
	nt := w.notifier("c1", w.st)
	w.tick(nt, digestWeek45)
	return nt, srv.waitFor(n)
}

// TestDigestPerRecipient: a digest to two people is two messages, one
// each, each with the recipient's own preference and unsubscribe links,
// and each link opens that recipient's preferences and no one else's.
func TestDigestPerRecipient(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), twoRecipientsBlock), notifyT0)
	site := prefsSite(t, w)
	_, got := sendDigestTo(t, srv, w, 2)
	msgs := byRecipient(t, got)
	others := map[string]string{"ops@acme.example": "lead@acme.example", "lead@acme.example": "ops@acme.example"}
	for rcpt, other := range others {
		p, ok := msgs[rcpt]
		if !ok {
			t.Fatalf("%s got no digest; messages went to %v", rcpt, slices.Collect(func(yield func(string) bool) {
				for k := range msgs {
					yield(k)
				}
			}))
		}
		if to := p.Header.Get("To"); !strings.Contains(to, rcpt) || strings.Contains(to, other) {
			t.Errorf("%s's copy is addressed To %q", rcpt, to)
		}
		tok := linkToken(t, w.st, w.tenant.ID, rcpt, store.ListDigest)
		unsub := headerURL(t, p.Header.Get("List-Unsubscribe"))
		if unsub != notifyPublicURL+"/ui/notifications/unsubscribe?t="+tok {
			t.Errorf("%s's List-Unsubscribe %q does not carry their token", rcpt, unsub)
		}
		prefs := notifyPublicURL + "/ui/notifications?t=" + tok
		if !slices.Contains(htmlLinks(p.HTML), prefs) || !strings.Contains(p.Text, prefs) {
			t.Errorf("%s's copy lacks their preference link %s", rcpt, prefs)
		}
		page := httpDo(t, http.MethodGet, onSite(t, site, prefs), "", "")
		if page.status != http.StatusOK || !strings.Contains(page.body, rcpt) || strings.Contains(page.body, other) {
			t.Errorf("%s's preference link: %d, shows them %v, shows %s %v", rcpt, page.status,
				strings.Contains(page.body, rcpt), other, strings.Contains(page.body, other))
		}
		confirm := httpDo(t, http.MethodGet, onSite(t, site, unsub), "", "")
		if confirm.status != http.StatusOK || !strings.Contains(confirm.body, `id="unsubscribe"`) {
			t.Errorf("%s's unsubscribe link opens %d without its button", rcpt, confirm.status)
		}
	}
	es, err := w.st.Emails(t.Context(), w.tenant.ID, store.EmailFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range es {
		keys = append(keys, e.DedupeKey)
		if e.Status != store.EmailSent || len(e.To) != 1 {
			t.Errorf("outbox email %s: %s to %v", e.DedupeKey, e.Status, e.To)
		}
	}
	slices.Sort(keys)
	if want := []string{"digest/2026-W45/to/lead@acme.example", "digest/2026-W45/to/ops@acme.example"}; !slices.Equal(keys, want) {
		t.Errorf("outbox keys %q, want %q", keys, want)
	}
	// Opening the pages changed nothing.
	if prefs, _ := w.st.NotifyPrefs(t.Context(), w.tenant.ID, ""); len(prefs) != 0 {
		t.Errorf("opening the links stored %+v", prefs)
	}
}

// TestRefusedRecipientFailsAlone: the server refuses one of two
// recipients for good; the other's message is delivered, and the outbox
// shows the refused one failed with the server's answer.
func TestRefusedRecipientFailsAlone(t *testing.T) {
	srv := startMail(t, "")
	srv.refuse = "lead@acme.example"
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), twoRecipientsBlock), notifyT0)
	_, got := sendDigestTo(t, srv, w, 1)
	if len(got) != 1 || !slices.Equal(got[0].To, []string{"ops@acme.example"}) {
		t.Fatalf("delivered %d messages, the first to %v; want one, to ops", len(got), got[0].To)
	}
	es, err := w.st.Emails(t.Context(), w.tenant.ID, store.EmailFilter{})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]store.Email{}
	for _, e := range es {
		status[notify.BareAddress(e.To[0])] = e
	}
	if e := status["ops@acme.example"]; e.Status != store.EmailSent {
		t.Errorf("ops's message is %s (%s), want sent", e.Status, e.LastError)
	}
	e := status["lead@acme.example"]
	if e.Status != store.EmailFailed || !strings.Contains(e.LastError, "550 5.1.1 No such user here") {
		t.Errorf("lead's message is %s with %q, want failed with the server's 550 answer", e.Status, e.LastError)
	}
}

// TestOneClickUnsubscribe: a mail client's one-click POST to one
// recipient's List-Unsubscribe URL answers 200, and the next digest goes
// to the other recipient only; the change is in the tenant's audit log.
func TestOneClickUnsubscribe(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), twoRecipientsBlock), notifyT0)
	site := prefsSite(t, w)
	n, got := sendDigestTo(t, srv, w, 2)
	lead := byRecipient(t, got)["lead@acme.example"]
	r := oneClick(t, onSite(t, site, headerURL(t, lead.Header.Get("List-Unsubscribe"))))
	if r.status != http.StatusOK || !strings.Contains(r.body, "Unsubscribed") {
		t.Fatalf("one-click unsubscribe: %d\n%s", r.status, r.body)
	}
	prefs, err := w.st.NotifyPrefs(t.Context(), w.tenant.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(prefs) != 1 || prefs[0].Recipient != "lead@acme.example" || prefs[0].List != store.ListDigest || prefs[0].Enabled ||
		prefs[0].Source != "one-click" {
		t.Errorf("stored preferences %+v", prefs)
	}

	w.report(digestWeek45.Add(24*time.Hour), testPackageChange("nginx", "1.24", "1.26"))
	w.tick(n, digestWeek46)
	w.tick(n, digestWeek46.Add(time.Second)) // drain anything left
	got = srv.messages()
	if len(got) != 3 || !slices.Equal(got[2].To, []string{"ops@acme.example"}) {
		var to [][]string
		for _, m := range got {
			to = append(to, m.To)
		}
		t.Fatalf("messages to %v; want week 46's digest to ops only", to)
	}
	if _, err := w.st.EmailByKey(t.Context(), w.tenant.ID, "digest/2026-W46/to/ops@acme.example"); err != nil {
		t.Errorf("week 46's digest to ops: %v", err)
	}
	if _, err := w.st.EmailByKey(t.Context(), w.tenant.ID, "digest/2026-W46/to/lead@acme.example"); err == nil {
		t.Error("week 46's digest was queued for lead, who unsubscribed")
	}
	entries, err := w.st.AuditEntries(t.Context(), w.tenant.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e store.AuditEntry) bool {
		return e.Action == "notify.preference" && e.Subject == "lead@acme.example" && bytes.Contains(e.Detail, []byte(`"enabled":false`))
	}) {
		t.Error("the audit log does not record the unsubscription")
	}
}

// TestForgedToken: a token altered in any part, or signed with another
// key, is refused with 403 by every page, and nothing is stored.
func TestForgedToken(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), twoRecipientsBlock), notifyT0)
	site := prefsSite(t, w)
	good := linkToken(t, w.st, w.tenant.ID, "lead@acme.example", store.ListDigest)
	payload, mac, _ := strings.Cut(good, ".")
	enc := base64.RawURLEncoding
	other, err := notify.NewSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	forged := map[string]string{
		"other recipient": enc.EncodeToString([]byte(w.tenant.ID+"\nops@acme.example\ndigest")) + "." + mac,
		"other list":      enc.EncodeToString([]byte(w.tenant.ID+"\nlead@acme.example\nalert")) + "." + mac,
		"altered MAC":     payload + "." + flip(mac),
		"other key":       other.Sign(notify.Subscription{TenantID: w.tenant.ID, Recipient: "lead@acme.example", List: store.ListDigest}),
		"no MAC":          payload,
		"garbage":         "not-a-token",
	}
	for name, tok := range forged {
		t.Run(name, func(t *testing.T) {
			q := "?t=" + url.QueryEscape(tok)
			if r := oneClick(t, site.URL+"/ui/notifications/unsubscribe"+q); r.status != http.StatusForbidden {
				t.Errorf("one-click POST: %d, want 403", r.status)
			}
			if r := httpDo(t, http.MethodGet, site.URL+"/ui/notifications/unsubscribe"+q, "", ""); r.status != http.StatusForbidden {
				t.Errorf("unsubscribe page: %d, want 403", r.status)
			}
			if r := httpDo(t, http.MethodGet, site.URL+"/ui/notifications"+q, "", ""); r.status != http.StatusForbidden {
				t.Errorf("preference page: %d, want 403", r.status)
			}
			form := url.Values{"t": {tok}, "csrf_token": {"x"}}
			if r := httpDo(t, http.MethodPost, site.URL+"/ui/notifications", "application/x-www-form-urlencoded", form.Encode()); r.status != http.StatusForbidden {
				t.Errorf("preference form: %d, want 403", r.status)
			}
		})
	}
	// The right token with a made-up form value is refused too.
	form := url.Values{"t": {good}, "csrf_token": {"made-up"}}
	if r := httpDo(t, http.MethodPost, site.URL+"/ui/notifications", "application/x-www-form-urlencoded", form.Encode()); r.status != http.StatusForbidden {
		t.Errorf("preference form without its form value: %d, want 403", r.status)
	}
	if prefs, _ := w.st.NotifyPrefs(t.Context(), w.tenant.ID, ""); len(prefs) != 0 {
		t.Errorf("forged tokens stored %+v", prefs)
	}
}

// TestNotifySettingsThroughAPI: an admin sets the notification settings
// of a tenant that has no notify block through the API; they read back as
// written, bad ones are refused naming the field and change nothing, and
// the running notifier sends the tenant's digest by them without a
// restart.
func TestNotifySettingsThroughAPI(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), acmeNotifyBlock), notifyT0)
	ctx := t.Context()
	globex, err := w.st.CreateTenant(ctx, "tn_globex", "Globex", notifyT0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	secret := auth.PrefixUserToken + "globex-admin-secret"
	if err := w.st.CreateUser(ctx, store.User{ID: "u_admin", TenantID: globex.ID, Email: "admin@globex.example", Role: store.RoleAdmin,
		TokenHash: auth.Hash(secret), CreatedAt: notifyT0}); err != nil {
		t.Fatal(err)
	}
	viewer := auth.PrefixUserToken + "globex-viewer-secret"
	if err := w.st.CreateUser(ctx, store.User{ID: "u_viewer", TenantID: globex.ID, Email: "viewer@globex.example", Role: store.RoleViewer,
		TokenHash: auth.Hash(viewer), CreatedAt: notifyT0}); err != nil {
		t.Fatal(err)
	}
	apiSrv := httptest.NewServer(server.New(server.Options{Store: w.st, Now: w.clock.Now}).Handler())
	t.Cleanup(apiSrv.Close)
	call := func(method, tenant, token, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, apiSrv.URL+api.PathTenants+"/"+url.PathEscape(tenant)+"/notify", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// The running notifier knows only Acme's block.
	n := w.notifier("c1", w.st)
	w.tick(n, notifyT0.Add(time.Minute))

	if code, _ := call(http.MethodGet, "Globex", secret, ""); code != http.StatusNotFound {
		t.Errorf("GET before any settings: %d, want 404", code)
	}
	settings := api.NotifySettings{Digest: "0 9 * * MON", TimeZone: "Europe/Berlin", Period: "week", Recipients: []string{"ops@globex.example"},
		AlertLevel2: []string{"lead@globex.example"}, Level2Every: "2h", QuietHours: "22:00-07:00", Mandatory: []string{"alert"}}
	body, _ := json.Marshal(settings)
	if code, b := call(http.MethodPut, "Globex", viewer, string(body)); code != http.StatusForbidden {
		t.Errorf("PUT by a viewer: %d %s, want 403", code, b)
	}
	if code, b := call(http.MethodPut, "Acme Corp", secret, string(body)); code != http.StatusNotFound {
		t.Errorf("PUT into another tenant: %d %s, want 404", code, b)
	}
	code, b := call(http.MethodPut, "Globex", secret, string(body))
	if code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, b)
	}
	code, b = call(http.MethodGet, "Globex", secret, "")
	var got api.TenantNotify
	if code != http.StatusOK || json.Unmarshal(b, &got) != nil {
		t.Fatalf("GET: %d %s", code, b)
	}
	if got.Tenant != "Globex" || got.Version != 1 || got.UpdatedBy != "admin@globex.example" {
		t.Errorf("GET: %+v", got)
	}
	gotJSON, _ := json.Marshal(got.Settings)
	if !bytes.Equal(gotJSON, body) {
		t.Errorf("settings read back as %s, want %s", gotJSON, body)
	}

	for _, tt := range []struct {
		name, body, field, says string
	}{
		{"bad cron", `{"digest": "61 * * * *", "recipients": ["ops@globex.example"]}`, "digest", "digest:"},
		{"bad time zone", `{"time_zone": "Mars/Olympus", "recipients": ["ops@globex.example"]}`, "time_zone", "Mars/Olympus"},
		{"bad address", `{"recipients": ["ops@globex.example", "not an address"]}`, "recipients[1]", "not an address"},
		{"bad mandatory", `{"recipients": ["ops@globex.example"], "mandatory": ["everything"]}`, "mandatory[0]", "everything"},
		{"no recipients", `{"digest": "0 9 * * MON"}`, "recipients", "send nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, b := call(http.MethodPut, "Globex", secret, tt.body)
			var e api.Error
			if code != http.StatusUnprocessableEntity || json.Unmarshal(b, &e) != nil || e.Field != tt.field || !strings.Contains(e.Error, tt.says) {
				t.Errorf("PUT %s: %d %s; want 422 naming %s", tt.body, code, b, tt.field)
			}
		})
	}
	if code, b := call(http.MethodGet, "Globex", secret, ""); code != http.StatusOK || !bytes.Contains(b, []byte(`"version":1`)) {
		t.Errorf("after refused PUTs: %d %s, want version 1 unchanged", code, b)
	}

	// Monday 9 November 2026, 09:00 in Berlin: the running notifier sends
	// Globex's digest by the stored settings.
	w.tick(n, notifyTime("2026-11-09T08:00:05Z"))
	msgs := srv.waitFor(1)
	if len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"ops@globex.example"}) {
		t.Fatalf("messages %v, want Globex's digest to ops@globex.example", msgs)
	}
	if s := parseMail(t, msgs[0].Data).Subject; !strings.Contains(s, "Globex") {
		t.Errorf("digest subject %q", s)
	}
}
