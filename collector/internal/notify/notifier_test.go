package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
)

// clock is a settable clock for the notifier.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// changeLog is a ChangeSource over changes held in memory, as the
// reconciler would have stored them.
type changeLog struct {
	mu      sync.Mutex
	changes map[string][]Change
}

func (l *changeLog) Add(tenantID string, cs ...Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changes == nil {
		l.changes = map[string][]Change{}
	}
	l.changes[tenantID] = append(l.changes[tenantID], cs...)
}

func (l *changeLog) Changes(_ context.Context, tenantID string, w Window) ([]Change, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Change
	for _, c := range l.changes[tenantID] {
		if w.Contains(c.At) {
			out = append(out, c)
		}
	}
	return out, nil
}

// textRenderer renders with text/template and html/template, as the
// reporter does, in a few lines.
type textRenderer struct {
	mu    sync.Mutex
	fails int // render errors to give before succeeding
}

var (
	listText = template.Must(template.New("text").Parse(
		"{{range .}}{{.At.UTC.Format \"2006-01-02 15:04\"}} {{.Host}} {{.Key}} {{.Kind}} (level {{.Level}}, {{.Verdict}})\n{{else}}No changes.\n{{end}}"))
	listHTML = htmltemplate.Must(htmltemplate.New("html").Parse(
		"<ul>{{range .}}<li>{{.Host}} <code>{{.Key}}</code> {{.Kind}} (level {{.Level}})</li>{{end}}</ul>"))
)

func (r *textRenderer) render(subject string, cs []Change) (Content, error) {
	r.mu.Lock()
	if r.fails > 0 {
		r.fails--
		r.mu.Unlock()
		return Content{}, errors.New("template broke")
	}
	r.mu.Unlock()
	var text, html bytes.Buffer
	if err := listText.Execute(&text, cs); err != nil {
		return Content{}, err
	}
	if err := listHTML.Execute(&html, cs); err != nil {
		return Content{}, err
	}
	return Content{Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

func (r *textRenderer) Digest(d DigestData) (Content, error) {
	return r.render(fmt.Sprintf("[%s] This %s in changes (%s): %d changes", d.Tenant.Name, d.Period, d.Label, len(d.Changes)), d.Changes)
}

func (r *textRenderer) Alert(a AlertData) (Content, error) {
	what := "changed"
	if a.Update {
		what = "changed again"
	}
	return r.render(fmt.Sprintf("[%s] LEVEL 3: %s %s on %s (%d changes)", a.Tenant.Name, a.Item, what, a.Host, len(a.Changes)), a.Changes)
}

func (r *textRenderer) Summary(s SummaryData) (Content, error) {
	return r.render(fmt.Sprintf("[%s] Level 2 changes: %d", s.Tenant.Name, len(s.Changes)), s.Changes)
}

// env is a collector's world for the notifier: a SQLite store, one
// tenant, a change log, an SMTP server and a clock.
type env struct {
	t        *testing.T
	path     string
	store    *sqlite.Store
	tenant   store.Tenant
	changes  *changeLog
	renderer *textRenderer
	clock    *clock
	srv      *smtpServer
	mailer   *SMTP
	policy   Policy
}

func newEnv(t *testing.T, s Settings) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "driftwatch.db"), changes: &changeLog{}, renderer: &textRenderer{}, clock: &clock{}}
	e.store = e.openStore()
	tn, err := e.store.CreateTenant(t.Context(), "t-acme", "acme", T)
	if err != nil {
		t.Fatal(err)
	}
	e.tenant = tn
	e.policy, err = s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	e.policy.TenantName = "acme"
	e.srv = startSMTP(t, serverOptions{tls: StartTLS, user: "driftwatch"})
	e.mailer = mailerFor(t, e.srv, StartTLS, "driftwatch")
	return e
}

// openStore opens the env's database file, as another collector would.
func (e *env) openStore() *sqlite.Store {
	e.t.Helper()
	s, err := sqlite.Open(e.t.Context(), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

func (e *env) notifier(owner string, s Store, change func(o *Options)) *Notifier {
	e.t.Helper()
	o := Options{
		Store: s, Changes: e.changes, Policies: Policies{e.policy}, Renderer: e.renderer, Mailer: e.mailer,
		Log: zaptest.NewLogger(e.t).Named(owner), Now: e.clock.Now, Owner: owner,
		UnsubscribeURL: "https://drift.msp.example/notifications/unsubscribe",
	}
	if change != nil {
		change(&o)
	}
	n, err := New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) tick(n *Notifier) {
	e.t.Helper()
	if err := n.Tick(e.t.Context()); err != nil {
		e.t.Fatalf("tick at %v: %v", e.clock.Now().UTC(), err)
	}
}

func (e *env) emails() []store.Email {
	e.t.Helper()
	es, err := e.store.Emails(e.t.Context(), e.tenant.ID, store.EmailFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

// email returns the one recipient's message of the planned email with
// dedupe key key.
func (e *env) email(key string) store.Email {
	e.t.Helper()
	var found []store.Email
	for _, em := range e.emails() {
		if strings.HasPrefix(em.DedupeKey, key+"/to/") {
			found = append(found, em)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("outbox holds %d messages of %q, want 1", len(found), key)
	}
	em, err := e.store.Email(e.t.Context(), e.tenant.ID, found[0].ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return em
}

func subjects(rs []received, t *testing.T) []string {
	var out []string
	for _, r := range rs {
		out = append(out, parse(t, r.Data).Subject)
	}
	return out
}

var digestOnly = Settings{Digest: "0 16 * * FRI", TimeZone: "America/New_York", Period: "week", Recipients: []string{"ops@acme.example"}}

// TestDigestOnceAcrossCollectors fires Friday's digest from two
// collectors on one database at once: one digest goes out, at 16:00 New
// York time the week the clocks changed, and once only.
func TestDigestOnceAcrossCollectors(t *testing.T) {
	e := newEnv(t, digestOnly)
	e.changes.Add(e.tenant.ID,
		chg("web01", "package:openssl", 1, utcTime("2026-10-31T14:00:00Z")),
		chg("db01", "file:/etc/hosts", 2, utcTime("2026-11-03T10:00:00Z")),
		chg("web01", "file:/etc/ssh/sshd_config", 3, utcTime("2026-11-06T20:30:00Z")),
	)
	a := e.notifier("collector-a", e.store, nil)
	b := e.notifier("collector-b", e.openStore(), nil)

	e.clock.Set(utcTime("2026-11-06T20:59:59Z")) // 15:59:59 EST
	e.tick(a)
	e.tick(b)
	if es := e.emails(); len(es) != 0 {
		t.Fatalf("%d emails before the digest's time", len(es))
	}

	e.clock.Set(utcTime("2026-11-06T21:00:10Z"))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range []*Notifier{a, b} {
		wg.Go(func() { errs[i] = n.Tick(t.Context()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := e.srv.waitFor(1)
	want := "[acme] This week in changes (2026-W45): 3 changes"
	if s := subjects(got, t); len(s) != 1 || s[0] != want {
		t.Fatalf("received %q, want one %q", s, want)
	}
	if got[0].To[0] != "ops@acme.example" {
		t.Errorf("digest to %v", got[0].To)
	}
	if es := e.emails(); len(es) != 1 {
		t.Errorf("outbox holds %d emails, want the one digest", len(es))
	}
	p := parse(t, got[0].Data)
	unsub, ok := strings.CutPrefix(p.Header.Get("List-Unsubscribe"), "<https://drift.msp.example/notifications/unsubscribe?t=")
	if !ok || p.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || p.Header.Get("Precedence") != "bulk" {
		t.Errorf("digest headers: %v", p.Header)
	}
	signer, err := SignerFromStore(t.Context(), e.store)
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := signer.Verify(strings.TrimSuffix(unsub, ">")); err != nil || sub != (Subscription{TenantID: "t-acme", Recipient: "ops@acme.example", List: "digest"}) {
		t.Errorf("List-Unsubscribe token speaks for %+v (%v)", sub, err)
	}
	if !strings.Contains(p.Text, "web01 file:/etc/ssh/sshd_config modified (level 3") {
		t.Errorf("digest text:\n%s", p.Text)
	}
	em := e.email("digest/2026-W45")
	if em.Status != store.EmailSent || em.Response == "" || em.ID != EmailID(e.tenant.ID, "digest/2026-W45/to/ops@acme.example") {
		t.Errorf("digest in the outbox: %+v", em)
	}
	if p.Header.Get("Message-Id") != "<"+em.ID+"@msp.example>" {
		t.Errorf("Message-ID %s, want the email's ID", p.Header.Get("Message-Id"))
	}
	run, err := e.store.LastScheduleRun(t.Context(), e.tenant.ID, "digest")
	if err != nil || !run.Due.Equal(utcTime("2026-11-06T21:00:00Z")) {
		t.Errorf("last digest run %+v (%v)", run, err)
	}

	// Later ticks that day send nothing more.
	for range 3 {
		e.clock.Add(5 * time.Minute)
		e.tick(a)
		e.tick(b)
	}
	if n := len(e.srv.messages()); n != 1 {
		t.Errorf("%d messages after more ticks, want 1", n)
	}

	// The next Friday, the next week's.
	e.clock.Set(utcTime("2026-11-13T21:00:05Z"))
	e.tick(b)
	got = e.srv.waitFor(2)
	if s := subjects(got, t); s[1] != "[acme] This week in changes (2026-W46): 0 changes" {
		t.Errorf("second digest %q", s[1])
	}
}

// TestDigestHeldInQuietHours queues a digest due at 23:00 and sends it
// when the quiet hours end.
func TestDigestHeldInQuietHours(t *testing.T) {
	s := digestOnly
	s.Digest = "0 23 * * FRI"
	s.QuietHours = "22:00-07:00"
	e := newEnv(t, s)
	n := e.notifier("c", e.store, nil)
	e.clock.Set(utcTime("2026-11-07T04:00:05Z")) // Friday 23:00:05 EST
	e.tick(n)
	es := e.emails()
	if len(es) != 1 || es[0].Status != store.EmailQueued || !es[0].NextAttemptAt.Equal(utcTime("2026-11-07T12:00:00Z")) {
		t.Fatalf("outbox %+v, want one digest queued for 07:00", es)
	}
	e.clock.Set(utcTime("2026-11-07T11:59:00Z"))
	e.tick(n)
	if len(e.srv.messages()) != 0 {
		t.Fatal("digest sent in quiet hours")
	}
	e.clock.Set(utcTime("2026-11-07T12:00:00Z"))
	e.tick(n)
	e.srv.waitFor(1)
}

var alerting = Settings{
	TimeZone: "America/New_York", AlertLevel3: []string{"oncall@msp.example"}, Level3Window: "10m",
	AlertLevel2: []string{"lead@msp.example"}, Level2Every: "1h",
}

// TestAlertCoalescing: a level 3 change reaches on-call within a minute;
// more changes to the item in the window go in one update, with a count.
func TestAlertCoalescing(t *testing.T) {
	e := newEnv(t, alerting)
	n := e.notifier("c", e.store, nil)
	const sshd = "file:/etc/ssh/sshd_config"
	e.changes.Add(e.tenant.ID, chg("web01", sshd, 3, at(time.Minute)), chg("web01", sshd, 3, at(time.Minute+20*time.Second)))

	e.clock.Set(at(time.Minute + 20*time.Second))
	e.tick(n)
	if len(e.srv.messages()) != 0 {
		t.Fatal("alert sent before the hold ended")
	}
	e.clock.Set(at(time.Minute + Level3Hold + Settle))
	e.tick(n)
	got := e.srv.waitFor(1)
	if s := subjects(got, t); s[0] != "[acme] LEVEL 3: "+sshd+" changed on web01 (2 changes)" || got[0].To[0] != "oncall@msp.example" {
		t.Errorf("alert %q to %v", s, got[0].To)
	}
	p := parse(t, got[0].Data)
	if p.Header.Get("X-Priority") != "1 (Highest)" || p.Header.Get("List-Unsubscribe") != "" {
		t.Errorf("alert headers: %v", p.Header)
	}

	e.changes.Add(e.tenant.ID, chg("web01", sshd, 3, at(4*time.Minute)), chg("web01", sshd, 3, at(6*time.Minute)))
	for _, d := range []time.Duration{5 * time.Minute, 7 * time.Minute, 9 * time.Minute} {
		e.clock.Set(at(d))
		e.tick(n)
	}
	if len(e.srv.messages()) != 1 {
		t.Fatalf("%d messages within the window, want the first alert only", len(e.srv.messages()))
	}
	e.clock.Set(at(10*time.Minute + Settle))
	e.tick(n)
	got = e.srv.waitFor(2)
	if s := subjects(got, t); s[1] != "[acme] LEVEL 3: "+sshd+" changed again on web01 (2 changes)" {
		t.Errorf("update %q", s[1])
	}
	for range 5 {
		e.clock.Add(time.Minute)
		e.tick(n)
	}
	if len(e.srv.messages()) != 2 {
		t.Errorf("%d messages, want 2", len(e.srv.messages()))
	}
}

// relayMailer is a mailer for a plain local relay at addr.
func relayMailer(t testing.TB, addr string) *SMTP {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	m, err := NewSMTP(SMTPConfig{Host: host, Port: p, TLS: NoTLS, From: "driftwatch <drift@msp.example>"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// freeAddr returns an address where nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// queueAlert makes a level 3 change due now and returns its alert's key.
func (e *env) queueAlert(n *Notifier) string {
	e.t.Helper()
	e.changes.Add(e.tenant.ID, chg("web01", "file:/etc/sudoers", 3, at(time.Minute)))
	e.clock.Set(at(time.Minute + Level3Hold + Settle))
	return "alert/h-web01/file:/etc/sudoers/20261104T1500Z"
}

func (e *env) drain(n *Notifier) DrainResult {
	e.t.Helper()
	r, err := n.Drain(e.t.Context())
	if err != nil {
		e.t.Fatalf("drain at %v: %v", e.clock.Now().UTC(), err)
	}
	return r
}

// TestSMTPDownThenUp: the server is down when the alert is due; the alert
// is retried with backoff and delivered once when the server is back.
func TestSMTPDownThenUp(t *testing.T) {
	e := newEnv(t, alerting)
	addr := freeAddr(t)
	e.mailer = relayMailer(t, addr)
	n := e.notifier("c", e.store, func(o *Options) { o.Retry = Retry{First: 30 * time.Second, Max: 10 * time.Minute, Attempts: 5} })
	key := e.queueAlert(n)
	e.tick(n) // plans, enqueues and tries to send
	em := e.email(key)
	if em.Status != store.EmailQueued || em.Attempts != 1 || !strings.Contains(em.LastError, "connection refused") {
		t.Fatalf("after the first try: status %s, attempts %d, last error %q", em.Status, em.Attempts, em.LastError)
	}
	first := e.clock.Now()
	if !em.NextAttemptAt.Equal(first.Add(30 * time.Second)) {
		t.Errorf("retry at %v, want 30s later", em.NextAttemptAt)
	}
	e.clock.Add(29 * time.Second)
	if r := e.drain(n); r != (DrainResult{}) {
		t.Errorf("drain before the retry is due: %+v", r)
	}
	e.clock.Add(time.Second)
	if r := e.drain(n); r.Retried != 1 {
		t.Errorf("second try: %+v, want a retry", r)
	}
	if em := e.email(key); !em.NextAttemptAt.Equal(e.clock.Now().Add(time.Minute)) || em.Attempts != 2 {
		t.Errorf("second retry at %v after %d attempts, want a minute later (backoff doubles)", em.NextAttemptAt, em.Attempts)
	}

	srv := startSMTP(t, serverOptions{tls: NoTLS, addr: addr}) // the server is back
	e.clock.Add(time.Minute)
	if r := e.drain(n); r.Sent != 1 {
		t.Errorf("third try: %+v, want sent", r)
	}
	for range 3 {
		e.clock.Add(time.Minute)
		e.tick(n)
	}
	if got := srv.waitFor(1); len(got) != 1 {
		t.Errorf("server received %d messages, want 1", len(got))
	}
	if em := e.email(key); em.Status != store.EmailSent || em.Attempts != 3 || !strings.Contains(em.LastError, "connection refused") {
		t.Errorf("sent email: status %s, attempts %d, last error %q (kept from the failures)", em.Status, em.Attempts, em.LastError)
	}
}

// TestTemporaryAnswer: a 4xx answer is recorded and retried; the message
// goes out once the server takes it.
func TestTemporaryAnswer(t *testing.T) {
	e := newEnv(t, alerting)
	e.srv.rejectWith(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}, 2, false)
	n := e.notifier("c", e.store, nil)
	key := e.queueAlert(n)
	e.tick(n)
	em := e.email(key)
	if !strings.Contains(em.LastError, "451 4.7.1 Greylisted, try again later") || em.Status != store.EmailQueued {
		t.Fatalf("after a 451: status %s, last error %q", em.Status, em.LastError)
	}
	e.clock.Add(DefaultRetry.First)
	if r := e.drain(n); r.Retried != 1 {
		t.Fatalf("second try: %+v", r)
	}
	e.clock.Add(2 * DefaultRetry.First)
	if r := e.drain(n); r.Sent != 1 {
		t.Fatalf("third try: %+v", r)
	}
	if got := e.srv.waitFor(1); len(got) != 1 {
		t.Errorf("server has %d messages", len(got))
	}
}

// TestGiveUp: a 5xx answer gives the email up at once; repeated 4xx
// answers give it up after the last attempt. Both stay listed, with the
// server's answer.
func TestGiveUp(t *testing.T) {
	t.Run("permanent", func(t *testing.T) {
		e := newEnv(t, alerting)
		e.srv.rejectWith(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, -1, false)
		n := e.notifier("c", e.store, nil)
		key := e.queueAlert(n)
		e.tick(n)
		em := e.email(key)
		if em.Status != store.EmailFailed || em.Attempts != 1 || !strings.Contains(em.LastError, "550 5.1.1 No such user") {
			t.Errorf("after a 550: status %s, attempts %d, last error %q", em.Status, em.Attempts, em.LastError)
		}
	})
	t.Run("attempts", func(t *testing.T) {
		e := newEnv(t, alerting)
		e.srv.rejectWith(&smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Try later"}, -1, false)
		n := e.notifier("c", e.store, func(o *Options) { o.Retry = Retry{First: time.Minute, Max: time.Minute, Attempts: 3} })
		key := e.queueAlert(n)
		e.tick(n)
		for range 2 {
			e.clock.Add(time.Minute)
			e.drain(n)
		}
		em := e.email(key)
		if em.Status != store.EmailFailed || em.Attempts != 3 || !strings.Contains(em.LastError, "421 4.4.2 Try later") {
			t.Errorf("after 3 attempts: status %s, attempts %d, last error %q", em.Status, em.Attempts, em.LastError)
		}
		failed, err := e.store.Emails(t.Context(), e.tenant.ID, store.EmailFilter{Status: store.EmailFailed})
		if err != nil || len(failed) != 1 {
			t.Errorf("failed listing: %v, %v", failed, err)
		}
	})
}

// TestTwoSenders drains one outbox from two collectors (two stores on one
// database file) at once: every message arrives once.
func TestTwoSenders(t *testing.T) {
	e := newEnv(t, alerting)
	const count = 25
	for i := range count {
		key := fmt.Sprintf("test/%02d", i)
		_, err := e.store.EnqueueEmail(t.Context(), store.Email{ID: EmailID(e.tenant.ID, key), TenantID: e.tenant.ID, DedupeKey: key,
			Kind: "test", To: []string{"ops@acme.example"}, Subject: key, Text: "t", HTML: "<p>t</p>", CreatedAt: T})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Set(T)
	senders := []*Notifier{
		e.notifier("a", e.store, func(o *Options) { o.Batch = 3 }),
		e.notifier("b", e.openStore(), func(o *Options) { o.Batch = 3 }),
	}
	var wg sync.WaitGroup
	results := make([]DrainResult, len(senders))
	errs := make([]error, len(senders))
	for i, n := range senders {
		wg.Go(func() { results[i], errs[i] = n.Drain(t.Context()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if results[0].Sent+results[1].Sent != count {
		t.Errorf("sent %d + %d, want %d in all", results[0].Sent, results[1].Sent, count)
	}
	got := e.srv.waitFor(count)
	seen := map[string]int{}
	for _, r := range got {
		seen[parse(t, r.Data).Header.Get("Message-Id")]++
	}
	if len(got) != count || len(seen) != count {
		t.Errorf("server received %d messages with %d Message-IDs, want %d each", len(got), len(seen), count)
	}
}

// TestCrashedSender: a collector that claimed emails and died holds them
// until its lease ends; then another sends them.
func TestCrashedSender(t *testing.T) {
	e := newEnv(t, alerting)
	n := e.notifier("c", e.store, func(o *Options) { o.Lease = 5 * time.Minute })
	key := e.queueAlert(n)
	if err := n.planTenant(t.Context(), e.policy); err != nil {
		t.Fatal(err)
	}
	claimed, err := e.store.ClaimEmails(t.Context(), store.EmailClaim{Token: "dead-collector/1", At: e.clock.Now(), Lease: 5 * time.Minute, Limit: 10})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim by the collector that dies: %v, %v", claimed, err)
	}
	e.clock.Add(4 * time.Minute)
	if r := e.drain(n); r != (DrainResult{}) {
		t.Errorf("drain while the dead claim holds: %+v", r)
	}
	e.clock.Add(time.Minute)
	if r := e.drain(n); r.Sent != 1 {
		t.Errorf("drain after the lease: %+v", r)
	}
	if em := e.email(key); em.Attempts != 2 || em.Status != store.EmailSent {
		t.Errorf("email: status %s, attempts %d", em.Status, em.Attempts)
	}
	e.srv.waitFor(1)
}

// TestRenderFailure: a renderer error leaves the digest's run to the next
// tick, which sends it.
func TestRenderFailure(t *testing.T) {
	e := newEnv(t, digestOnly)
	e.renderer.fails = 1
	n := e.notifier("c", e.store, nil)
	e.clock.Set(utcTime("2026-11-06T21:00:05Z"))
	if err := n.Tick(t.Context()); err == nil || !strings.Contains(err.Error(), "template broke") {
		t.Fatalf("tick with a broken renderer: %v", err)
	}
	e.clock.Add(DefaultInterval)
	e.tick(n)
	if got := e.srv.waitFor(1); len(got) != 1 {
		t.Errorf("%d digests", len(got))
	}
}

// TestUnknownTenant: a policy for a tenant that does not exist is an
// error of its own; the other tenants are served.
func TestUnknownTenant(t *testing.T) {
	e := newEnv(t, digestOnly)
	ghost := e.policy
	ghost.TenantName = "ghost"
	n := e.notifier("c", e.store, func(o *Options) { o.Policies = Policies{ghost, e.policy} })
	e.clock.Set(utcTime("2026-11-06T21:00:05Z"))
	err := n.Tick(t.Context())
	if err == nil || !strings.Contains(err.Error(), `tenant "ghost"`) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tick: error %v, want one naming the unknown tenant", err)
	}
	e.srv.waitFor(1)
}

// TestRun runs the notifier's loop until a level 3 alert has gone out.
func TestRun(t *testing.T) {
	e := newEnv(t, alerting)
	n := e.notifier("c", e.store, func(o *Options) { o.Interval = 10 * time.Millisecond })
	e.queueAlert(n)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	n.Poke()
	e.srv.waitFor(1)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if got := e.srv.messages(); len(got) != 1 {
		t.Errorf("%d messages, want 1", len(got))
	}
}

func TestPreviewDigest(t *testing.T) {
	e := newEnv(t, digestOnly)
	e.changes.Add(e.tenant.ID,
		chg("web01", "package:openssl", 1, utcTime("2026-11-02T14:00:00Z")),
		chg("web01", "service:nginx", 1, utcTime("2026-11-05T14:00:00Z")), // after the preview's time
	)
	n := e.notifier("c", e.store, nil)
	msg, err := n.PreviewDigest(t.Context(), "acme", utcTime("2026-11-04T15:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "[acme] This week in changes (2026-W45): 1 changes" || msg.To[0] != "ops@acme.example" {
		t.Errorf("preview: %q to %v", msg.Subject, msg.To)
	}
	var buf bytes.Buffer
	if err := WriteMessage(&buf, e.mailer.Config().From, msg); err != nil {
		t.Fatal(err)
	}
	if p := parse(t, buf.Bytes()); !strings.Contains(p.Text, "package:openssl") || strings.Contains(p.Text, "nginx") {
		t.Errorf("preview text:\n%s", p.Text)
	}
	if es := e.emails(); len(es) != 0 || len(e.srv.messages()) != 0 {
		t.Error("preview stored or sent something")
	}
	if _, err := n.PreviewDigest(t.Context(), "nobody", T); err == nil {
		t.Error("preview of an unknown tenant: no error")
	}
}

func TestNewOptions(t *testing.T) {
	e := newEnv(t, digestOnly)
	tests := []struct {
		name   string
		change func(o *Options)
		want   string
	}{
		{"no store", func(o *Options) { o.Store = nil }, "required"},
		{"bad retry", func(o *Options) { o.Retry = Retry{First: time.Minute, Max: time.Second, Attempts: 1} }, "retry"},
		{"http unsubscribe", func(o *Options) { o.UnsubscribeURL = "http://drift.example.com/u" }, "not an https URL"},
	}
	for _, tt := range tests {
		o := Options{Store: e.store, Changes: e.changes, Policies: Policies{}, Renderer: e.renderer, Mailer: e.mailer}
		tt.change(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
	n, err := New(Options{Store: e.store, Changes: e.changes, Policies: Policies{}, Renderer: e.renderer, Mailer: e.mailer})
	if err != nil {
		t.Fatal(err)
	}
	if n.Owner() == "" || n.o.Retry != DefaultRetry || n.o.Lease != DefaultLease {
		t.Errorf("defaults: %+v", n.o)
	}
	if d := (Retry{First: 30 * time.Second, Max: time.Hour, Attempts: 10}); d.Delay(1) != 30*time.Second || d.Delay(3) != 2*time.Minute || d.Delay(20) != time.Hour {
		t.Errorf("delays %v %v %v", d.Delay(1), d.Delay(3), d.Delay(20))
	}
}
