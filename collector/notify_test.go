package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/config"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// mailServer is a real SMTP server in the test process
// (emersion/go-smtp), a plain relay on loopback, that records what it
// accepts.
type mailServer struct {
	t       testing.TB
	addr    string
	mu      sync.Mutex
	got     []mailMsg
	arrived chan struct{}
	srv     *smtp.Server
	done    chan struct{}
	// hold, when set, delays the answer to each message until it is
	// closed.
	hold chan struct{}
	// refuse is the recipient the server refuses at RCPT, for good.
	refuse string
}

// mailMsg is one message the server accepted.
type mailMsg struct {
	From string
	To   []string
	Data []byte
}

// startMail starts a server on addr ("": a free port); it stops at the
// end of the test, or earlier with stop.
func startMail(t testing.TB, addr string) *mailServer {
	t.Helper()
	s := &mailServer{t: t, arrived: make(chan struct{}, 1), done: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{srv: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // returns when closed
	}()
	t.Cleanup(func() {
		s.stop()
		ln.Close() // Close misses a listener Serve has not registered yet
	})
	return s
}

// stop closes the server and waits for it.
func (s *mailServer) stop() {
	s.srv.Close()
	<-s.done
}

func (s *mailServer) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *mailServer) messages() []mailMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// waitFor waits until the server has accepted n messages; it fails after
// a generous deadline.
func (s *mailServer) waitFor(n int) []mailMsg {
	s.t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		if got := s.messages(); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("the SMTP server received %d messages, want %d", len(s.messages()), n)
		}
	}
}

type mailSession struct {
	srv  *mailServer
	from string
	to   []string
}

func (m *mailSession) Mail(from string, _ *smtp.MailOptions) error { m.from = from; return nil }
func (m *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	m.srv.mu.Lock()
	refuse := m.srv.refuse
	m.srv.mu.Unlock()
	if refuse != "" && strings.EqualFold(to, refuse) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	m.to = append(m.to, to)
	return nil
}
func (m *mailSession) Reset()        { m.from, m.to = "", nil }
func (m *mailSession) Logout() error { return nil }
func (m *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.srv.mu.Lock()
	m.srv.got = append(m.srv.got, mailMsg{From: m.from, To: m.to, Data: b})
	m.srv.mu.Unlock()
	select {
	case m.srv.arrived <- struct{}{}:
	default:
	}
	m.srv.mu.Lock()
	hold := m.srv.hold
	m.srv.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return nil
}

// parsedMail is a message taken apart as a mail client would.
type parsedMail struct {
	Header     mail.Header
	Subject    string
	Type       string
	PartTypes  []string
	Text, HTML string
}

func parseMail(t testing.TB, data []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	p := parsedMail{Header: m.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	p.Type = mt
	if !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %s, want multipart/alternative", mt)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part content type: %v", err)
		}
		p.PartTypes = append(p.PartTypes, pt+"; charset="+pp["charset"])
		var r io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(part)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read part body: %v", err)
		}
		switch text := strings.ReplaceAll(string(body), "\r\n", "\n"); pt {
		case "text/plain":
			p.Text = text
		case "text/html":
			p.HTML = text
		}
	}
	return p
}

// htmlLinks returns the link targets of an HTML body.
func htmlLinks(html string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		out = append(out, strings.ReplaceAll(m[1], "&amp;", "&"))
	}
	return out
}

// notifyClock is a settable clock.
type notifyClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *notifyClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *notifyClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func notifyTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// notifyPublicURL is the collector's public_url in these tests.
const notifyPublicURL = "https://drift.acme.test"

// notifyWorld is a collector's configuration and store with one tenant, Acme
// Corp, and one host, web-01, whose reports the test makes.
type notifyWorld struct {
	t      testing.TB
	cfg    *config.Collector
	st     store.Store
	tenant store.Tenant
	host   store.Host
	clock  *notifyClock
	mgr    *changes.Manager
	seq    uint64
}

// notifyConfig writes a collector configuration: storeBlock, an smtp
// block for the relay at mailPort, and notifyBody as the notify block of
// Acme Corp.
func notifyConfig(t testing.TB, storeBlock string, mailPort int, notifyBody string) *config.Collector {
	t.Helper()
	dir := t.TempDir()
	if storeBlock == "" {
		storeBlock = fmt.Sprintf("store \"sqlite\" {\n  path = %q\n}", filepath.Join(dir, "driftwatch.db"))
	}
	src := fmt.Sprintf(`listen     = "127.0.0.1:0"
public_url = %q
data_dir   = %q
insecure   = true
%s
smtp {
  host = "127.0.0.1"
  port = %d
  tls  = "none"
  from = "driftwatch <drift@msp.example>"
}
notify "Acme Corp" {
%s
}
`, notifyPublicURL, dir, storeBlock, mailPort, notifyBody)
	cfg, err := config.Parse([]byte(src), filepath.Join(dir, "collector.hcl"))
	if err != nil {
		if d, ok := config.AsDiagnostics(err); ok {
			var b strings.Builder
			d.WriteText(&b)
			t.Fatalf("config:\n%s", b.String())
		}
		t.Fatal(err)
	}
	return cfg
}

// newNotifyWorld opens cfg's store, creates the tenant and enrolls web-01; its
// clock starts at start.
func newNotifyWorld(t testing.TB, cfg *config.Collector, start time.Time) *notifyWorld {
	t.Helper()
	w := &notifyWorld{t: t, cfg: cfg, clock: &notifyClock{now: start}}
	st, err := OpenStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	w.mgr = &changes.Manager{Store: st, Now: w.clock.Now, Log: zaptest.NewLogger(t)}
	ctx := t.Context()
	if w.tenant, err = st.CreateTenant(ctx, "tn_acme", "Acme Corp", start.Add(-30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, store.Token{ID: "t_1", TenantID: w.tenant.ID, Hash: "token-hash", UsesLeft: 1, CreatedAt: start.Add(-30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w.host, err = st.Enroll(ctx, store.Enrollment{TokenHash: "token-hash", Name: "web-01", Labels: map[string]string{"env": "prod"},
		CredentialHash: "cred-hash", NewHostID: "h_web01", At: start.Add(-30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// report stores a report of web-01 received at at, with these changes,
// and reconciles them as ingestion does.
func (w *notifyWorld) report(at time.Time, cs ...baseline.Change) {
	w.t.Helper()
	w.seq++
	w.clock.Set(at)
	d := &baseline.Drift{Host: "web-01", Changes: cs}
	raw, err := json.Marshal(d)
	if err != nil {
		w.t.Fatal(err)
	}
	r := store.Report{TenantID: w.host.TenantID, HostID: w.host.ID, Sequence: w.seq, ReceivedAt: at, TakenAt: at,
		SnapshotDigest: baseline.Sum(fmt.Appendf(nil, "snapshot %d", w.seq)), AgentVersion: "test", Drift: raw, Changes: len(cs)}
	if _, err := w.mgr.Ingest(w.t.Context(), w.host, r, nil, d); err != nil {
		w.t.Fatalf("report %d: %v", w.seq, err)
	}
}

// notifier returns a notifier of the world's configuration on its clock.
func (w *notifyWorld) notifier(owner string, st store.Store) *notify.Notifier {
	w.t.Helper()
	n, err := NewNotifier(w.cfg, st, NotifyOptions{Log: zaptest.NewLogger(w.t).Named(owner), Now: w.clock.Now, Owner: owner})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *notifyWorld) tick(n *notify.Notifier, at time.Time) {
	w.t.Helper()
	w.clock.Set(at)
	if err := n.Tick(w.t.Context()); err != nil {
		w.t.Fatalf("tick at %v: %v", at, err)
	}
}

// item returns the drift item of a key.
func (w *notifyWorld) item(key string) store.DriftItem {
	w.t.Helper()
	page, _, err := w.st.DriftItems(w.t.Context(), w.tenant.ID, store.DriftFilter{Key: key})
	if err != nil || len(page) != 1 {
		w.t.Fatalf("drift items of %s: %v, %v", key, page, err)
	}
	return page[0]
}

// testFileChange is a text file's modification as an agent reports it.
func testFileChange(path, oldText, newText string) baseline.Change {
	key := "file:" + path
	item := func(text string) *baseline.Item {
		return &baseline.Item{Key: key, Attrs: baseline.Attrs{{Name: "mode", Value: "0644"}, {Name: "type", Value: "file"}},
			Content: baseline.Sum([]byte(text))}
	}
	return baseline.Change{
		Key: key, Kind: "file", Change: baseline.Modified,
		Attrs:       map[string]baseline.AttrChange{"sha256": {Old: baseline.Sum([]byte(oldText)).String(), New: baseline.Sum([]byte(newText)).String()}},
		ContentDiff: baseline.UnifiedDiff("a"+path, "b"+path, oldText, newText, 3),
		Old:         item(oldText), New: item(newText),
	}
}

// testPackageChange is a package upgrade.
func testPackageChange(name, from, to string) baseline.Change {
	key := "package:" + name
	return baseline.Change{
		Key: key, Kind: "package", Change: baseline.Modified, Attrs: map[string]baseline.AttrChange{"version": {Old: from, New: to}},
		Old: &baseline.Item{Key: key, Attrs: baseline.Attrs{{Name: "version", Value: from}}},
		New: &baseline.Item{Key: key, Attrs: baseline.Attrs{{Name: "version", Value: to}}},
	}
}

const sshdConfig = "/etc/ssh/sshd_config"

// notifyT0 is Wednesday 4 November 2026, 10:00 in New York.
var notifyT0 = notifyTime("2026-11-04T15:00:00Z")

const acmeNotifyBlock = `  time_zone    = "America/New_York"
  recipients   = ["Acme Ops <ops@acme.example>"]
  alert_level3 = ["oncall@msp.example"]
`

// TestAlertEmail: an unauthorized change to sshd_config (level 3 by the
// default rules) reaches on-call when its hold ends, as one alert whose
// subject, headers, parts and links say what changed, where, and that no
// ticket covers it; the level 1 change beside it waits for the digest.
func TestAlertEmail(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), acmeNotifyBlock), notifyT0)
	w.report(notifyT0,
		testFileChange(sshdConfig, "Port 22\nPermitRootLogin no\nPasswordAuthentication no\n", "Port 22\nPermitRootLogin yes\nPasswordAuthentication no\n"),
		testFileChange("/etc/motd", "welcome\n", "maintenance tonight\n"),
	)
	if it := w.item("file:" + sshdConfig); it.Level != 3 || it.Verdict != store.VerdictUnauthorized {
		t.Fatalf("sshd_config reconciled as level %d %s, want level 3 unauthorized", it.Level, it.Verdict)
	}
	n := w.notifier("c1", w.st)
	w.tick(n, notifyT0.Add(10*time.Second))
	if got := srv.messages(); len(got) != 0 {
		t.Fatalf("%d messages during the hold", len(got))
	}
	w.tick(n, notifyT0.Add(notify.Level3Hold+notify.Settle))
	got := srv.waitFor(1)
	w.tick(n, notifyT0.Add(5*time.Minute))
	if got = srv.messages(); len(got) != 1 {
		t.Fatalf("%d messages, want the one alert", len(got))
	}
	m := got[0]
	if m.From != "drift@msp.example" || !slices.Equal(m.To, []string{"oncall@msp.example"}) {
		t.Errorf("envelope from %s to %v", m.From, m.To)
	}
	p := parseMail(t, m.Data)
	if want := "[L3] Unauthorized change on web-01: file:/etc/ssh/sshd_config — Acme Corp"; p.Subject != want {
		t.Errorf("subject %q, want %q", p.Subject, want)
	}
	id := w.item("file:" + sshdConfig).ID
	email, err := w.st.EmailByKey(t.Context(), w.tenant.ID, "alert/h_web01/file:/etc/ssh/sshd_config/20261104T1500Z/to/oncall@msp.example")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"From":                `"driftwatch" <drift@msp.example>`,
		"To":                  "<oncall@msp.example>",
		"Message-Id":          "<" + email.ID + "@msp.example>",
		"Auto-Submitted":      "auto-generated",
		"Importance":          "high",
		"X-Driftwatch-Kind":   "alert",
		"X-Driftwatch-Host":   "web-01",
		"X-Driftwatch-Item":   "file:/etc/ssh/sshd_config",
		"X-Driftwatch-Tenant": "Acme Corp",
		"List-Unsubscribe":    "", // an alert is not a list
	} {
		if got := p.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if !slices.Equal(p.PartTypes, []string{"text/plain; charset=UTF-8", "text/html; charset=UTF-8"}) {
		t.Errorf("parts %v, want text then HTML", p.PartTypes)
	}
	driftURL := notifyPublicURL + "/ui/drift/" + id
	for _, want := range []string{
		"[L3 UNAUTHORIZED] file:/etc/ssh/sshd_config modified — NO TICKET",
		"first seen 2026-11-04 10:00 EST",
		"PermitRootLogin no → yes",
		"-PermitRootLogin no",
		"+PermitRootLogin yes",
		driftURL,
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.Text)
		}
	}
	for _, want := range []string{"web-01", "no ticket", `href="` + driftURL + `"`, "+PermitRootLogin yes"} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	if strings.Contains(p.Text+p.HTML, "motd") {
		t.Error("the level 1 change is in the alert")
	}
	links := htmlLinks(p.HTML)
	if len(links) == 0 {
		t.Fatal("the HTML part has no links")
	}
	for _, l := range links {
		if !strings.HasPrefix(l, notifyPublicURL+"/ui/") {
			t.Errorf("link %q is not under the public URL's web report", l)
		}
	}
	if !slices.Contains(links, notifyPublicURL+"/ui/notifications?t="+linkToken(t, w.st, w.tenant.ID, "oncall@msp.example", store.ListAlert)) {
		t.Errorf("no preference link in %q", links)
	}
	if strings.Contains(p.HTML, "<img") || strings.Contains(p.HTML, "<link") || strings.Contains(p.HTML, "src=") {
		t.Error("the HTML part loads something from outside")
	}
	if email.Status != store.EmailSent || email.Response == "" {
		t.Errorf("outbox: %s, response %q; want sent with the server's answer", email.Status, email.Response)
	}
}

// TestDigestEmail: Friday's digest lists the week's changes by host, each
// with its ticket or marked unauthorized, the diffs inline (a long one
// cut, with a link to the full one), the week's figures, a subject that
// says what matters, and a List-Unsubscribe header.
func TestDigestEmail(t *testing.T) {
	w, m := sendTestDigest(t)
	if !slices.Equal(m.To, []string{"ops@acme.example"}) {
		t.Errorf("digest to %v", m.To)
	}
	p := parseMail(t, m.Data)
	if !strings.HasPrefix(p.Subject, "2 unauthorized changes on 1 host — Acme Corp — week ") {
		t.Errorf("subject %q", p.Subject)
	}
	tok := linkToken(t, w.st, w.tenant.ID, "ops@acme.example", store.ListDigest)
	unsubscribe := "<" + notifyPublicURL + "/ui/notifications/unsubscribe?t=" + tok + ">"
	for name, want := range map[string]string{
		"List-Unsubscribe":      unsubscribe,
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Precedence":            "bulk",
		"X-Driftwatch-Kind":     "digest",
		"To":                    `"Acme Ops" <ops@acme.example>`,
	} {
		if got := p.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	nginx := w.item("file:/etc/nginx/upstreams.conf")
	for _, want := range []string{
		"This week in changes",
		"Acme Corp: 3 changes on 1 host (2 unauthorized, 0 other to review, 1 authorized)",
		"change success rate 33.3 %",
		"## web-01",
		"[L3 UNAUTHORIZED] file:/etc/ssh/sshd_config modified — NO TICKET",
		"[L1 AUTHORIZED] package:openssl modified — ticket CHG-1042",
		"version 3.0.13-1 → 3.0.15-1",
		"ticket: " + notifyPublicURL + "/ui/tickets/tk_1042",
		fmt.Sprintf("[diff cut: 80 of %d lines shown; full diff: %s/ui/drift/%s]", strings.Count(itemContentDiff(t, nginx), "\n"), notifyPublicURL, nginx.ID),
		"Email preferences: " + notifyPublicURL + "/ui/notifications?t=" + tok,
		"Unsubscribe: " + notifyPublicURL + "/ui/notifications/unsubscribe?t=" + tok,
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.Text)
		}
	}
	for _, want := range []string{"CHG-1042", "“Patch OpenSSL”", "change success rate", "See the full diff"} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	for _, l := range htmlLinks(p.HTML) {
		if !strings.HasPrefix(l, notifyPublicURL+"/ui/") {
			t.Errorf("link %q is not under the public URL's web report", l)
		}
	}
}

// sendTestDigest sends the digest of a week in which web-01 had three
// changes: sshd_config edited without a ticket (level 3), OpenSSL
// upgraded under CHG-1042, and a long nginx file rewritten without a
// ticket (level 1).
func sendTestDigest(t *testing.T) (*notifyWorld, mailMsg) {
	t.Helper()
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), acmeNotifyBlock), notifyT0)
	long := func(v string) string {
		var b strings.Builder
		for i := range 200 {
			fmt.Fprintf(&b, "upstream backend%03d { server 10.0.%d.%d:%s; }\n", i, i/250, i%250, v)
		}
		return b.String()
	}
	w.report(notifyT0,
		testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin yes\n"),
		testPackageChange("openssl", "3.0.13-1", "3.0.15-1"),
		testFileChange("/etc/nginx/upstreams.conf", long("8080"), long("8081")),
	)
	// An approved ticket covers the openssl upgrade.
	now := notifyT0.Add(time.Hour)
	tk, err := w.st.CreateTicket(t.Context(), store.TicketWrite{
		Ticket: store.Ticket{ID: "tk_1042", TenantID: w.tenant.ID, Reference: "CHG-1042", Title: "Patch OpenSSL", State: "approved",
			Class: "normal", Origin: "web", CreatedAt: now, UpdatedAt: now, Doc: []byte(`{}`)},
		Audit: store.AuditEntry{At: now, Actor: "lead@msp.example", Action: audit.ActionTicketCreate, Subject: "tk_1042"},
	})
	if err != nil {
		t.Fatal(err)
	}
	openssl := w.item("package:openssl")
	if _, err := w.st.SetVerdicts(t.Context(), w.tenant.ID, now, []store.VerdictUpdate{
		{ItemID: openssl.ID, Verdict: store.VerdictAuthorized, Level: 1, Rule: "authorized", Tickets: []string{tk.ID}, Reason: "CHG-1042"},
	}); err != nil {
		t.Fatal(err)
	}

	n := w.notifier("c1", w.st)
	w.tick(n, notifyT0.Add(notify.Level3Hold+notify.Settle)) // the alert about sshd_config
	srv.waitFor(1)
	w.tick(n, notifyTime("2026-11-06T20:59:50Z")) // Friday 15:59:50 in New York
	if len(srv.messages()) != 1 {
		t.Fatal("digest sent before its time")
	}
	w.tick(n, notifyTime("2026-11-06T21:00:05Z"))
	return w, srv.waitFor(2)[1]
}

// itemContentDiff returns the content diff a drift item's change holds.
func itemContentDiff(t *testing.T, di store.DriftItem) string {
	t.Helper()
	var c baseline.Change
	if err := json.Unmarshal(di.ChangeDoc, &c); err != nil {
		t.Fatal(err)
	}
	return c.ContentDiff
}

// TestDigestAcrossDaylightSaving: a digest "Fridays at 16:00" in Berlin
// goes out at 15:00 UTC before the spring change and 14:00 UTC after it,
// and covers the changes received between those instants, as its zone's
// wall clock reads them.
func TestDigestAcrossDaylightSaving(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), `  digest     = "0 16 * * FRI"
  time_zone  = "Europe/Berlin"
  recipients = ["ops@acme.example"]
`), notifyTime("2026-03-20T12:00:00Z"))
	n := w.notifier("c1", w.st)
	// Each report holds every change so far, as an agent's does.
	var cs []baseline.Change
	for _, r := range []struct{ at, path string }{
		{"2026-03-27T14:30:00Z", "/etc/before"},      // Friday 15:30 CET: last week's digest
		{"2026-03-27T15:30:00Z", "/etc/first"},       // Friday 16:30 CET
		{"2026-03-29T01:30:00Z", "/etc/at-the-jump"}, // Sunday 03:30 CEST, just after the change
		{"2026-04-03T13:30:00Z", "/etc/last"},        // Friday 15:30 CEST
		{"2026-04-03T14:30:00Z", "/etc/next-week"},   // Friday 16:30 CEST
	} {
		cs = append(cs, testFileChange(r.path, "a\n", "b\n"))
		w.report(notifyTime(r.at), cs...)
	}
	w.tick(n, notifyTime("2026-03-27T15:00:05Z")) // last week's
	srv.waitFor(1)
	w.tick(n, notifyTime("2026-04-03T13:59:59Z")) // 15:59:59 CEST
	w.tick(n, notifyTime("2026-04-03T14:00:05Z"))
	got := srv.waitFor(2)
	w.tick(n, notifyTime("2026-04-03T15:00:05Z")) // 16:00 CET would be now: nothing more
	if len(srv.messages()) != 2 {
		t.Fatalf("%d digests, want 2", len(srv.messages()))
	}
	run, err := w.st.LastScheduleRun(t.Context(), w.tenant.ID, "digest")
	if err != nil || !run.Due.Equal(notifyTime("2026-04-03T14:00:00Z")) {
		t.Errorf("last digest run due %v (%v), want 2026-04-03 14:00 UTC (16:00 CEST)", run.Due, err)
	}
	p := parseMail(t, got[1].Data)
	for _, want := range []string{"file:/etc/first", "first seen 2026-03-27 16:30 CET", "file:/etc/at-the-jump", "first seen 2026-03-29 03:30 CEST",
		"file:/etc/last", "first seen 2026-04-03 15:30 CEST", "3 changes on 1 host"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("second digest lacks %q:\n%s", want, p.Text)
		}
	}
	for _, not := range []string{"file:/etc/before", "file:/etc/next-week"} {
		if strings.Contains(p.Text, not) {
			t.Errorf("second digest has %s, outside its week", not)
		}
	}
}

// TestAlertCoalescingOfDriftItems: sshd_config edited again and again on
// one host gives one alert for the first edits and one update for the
// rest of the window, each showing the latest state, while an edit on
// another item gets its own alert.
func TestAlertCoalescingOfDriftItems(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), acmeNotifyBlock+`  level3_window = "10m"
`), notifyT0)
	n := w.notifier("c1", w.st)
	edit := func(at time.Duration, v string) {
		w.report(notifyT0.Add(at), testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin "+v+"\n"))
	}
	edit(0, "yes")
	w.tick(n, notifyT0.Add(5*time.Second))
	edit(20*time.Second, "prohibit-password")
	w.tick(n, notifyT0.Add(notify.Level3Hold+notify.Settle))
	first := srv.waitFor(1)
	p := parseMail(t, first[0].Data)
	if p.Subject != "[L3] Unauthorized change on web-01: file:/etc/ssh/sshd_config — Acme Corp" ||
		!strings.Contains(p.Text, "PermitRootLogin no → prohibit-password (changed 2 times; the latest state is shown)") {
		t.Errorf("first alert %q:\n%s", p.Subject, p.Text)
	}
	// More edits within the window, and one to sudoers.
	edit(3*time.Minute, "yes")
	edit(4*time.Minute, "without-password")
	w.report(notifyT0.Add(4*time.Minute+10*time.Second),
		testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin without-password\n"),
		testFileChange("/etc/sudoers", "root ALL=(ALL) ALL\n", "root ALL=(ALL) ALL\ndeploy ALL=(ALL) NOPASSWD: ALL\n"))
	for _, d := range []time.Duration{3 * time.Minute, 5 * time.Minute, 9 * time.Minute} {
		w.tick(n, notifyT0.Add(d))
	}
	got := srv.waitFor(2)
	if len(got) != 2 {
		t.Fatalf("%d messages within the window, want the first alert and the one about sudoers", len(got))
	}
	if s := parseMail(t, got[1].Data).Subject; s != "[L3] Unauthorized change on web-01: file:/etc/sudoers — Acme Corp" {
		t.Errorf("second alert %q", s)
	}
	w.tick(n, notifyT0.Add(10*time.Minute+notify.Settle))
	got = srv.waitFor(3)
	p = parseMail(t, got[2].Data)
	if p.Subject != "[L3] Update: Unauthorized change on web-01: file:/etc/ssh/sshd_config — Acme Corp" ||
		!strings.Contains(p.Text, "PermitRootLogin no → without-password (changed 2 times; the latest state is shown)") {
		t.Errorf("update %q:\n%s", p.Subject, p.Text)
	}
	for _, d := range []time.Duration{11 * time.Minute, 15 * time.Minute, 30 * time.Minute} {
		w.tick(n, notifyT0.Add(d))
	}
	if got := srv.messages(); len(got) != 3 {
		t.Errorf("%d messages in all, want 3", len(got))
	}
}

// TestSMTPDownThenUpTwoNotifiers: the mail server is away when an alert
// falls due and two collectors' notifiers tick; it is retried with
// backoff, with the server's absence recorded, and delivered once when
// the server is back.
func TestSMTPDownThenUpTwoNotifiers(t *testing.T) {
	addr := freeMailAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	w := newNotifyWorld(t, notifyConfig(t, "", p, acmeNotifyBlock), notifyT0)
	a, b := w.notifier("c1", w.st), w.notifier("c2", w.st)
	w.report(notifyT0, testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin yes\n"))
	due := notifyT0.Add(notify.Level3Hold + notify.Settle)
	w.tick(a, due)
	w.tick(b, due)
	es, err := w.st.Emails(t.Context(), w.tenant.ID, store.EmailFilter{})
	if err != nil || len(es) != 1 {
		t.Fatalf("outbox %v (%v), want one alert", es, err)
	}
	if e := es[0]; e.Status != store.EmailQueued || e.Attempts != 1 || !strings.Contains(e.LastError, addr) || !e.NextAttemptAt.After(due) {
		t.Fatalf("alert after a failed attempt: %+v", e)
	}
	retry := es[0].NextAttemptAt
	srv := startMail(t, addr)
	w.tick(a, retry.Add(-time.Second))
	w.tick(b, retry.Add(-time.Second))
	if len(srv.messages()) != 0 {
		t.Fatal("sent before its retry time")
	}
	var wg sync.WaitGroup
	for _, n := range []*notify.Notifier{a, b} {
		wg.Go(func() {
			if err := n.Tick(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	w.clock.Set(retry)
	wg.Wait()
	srv.waitFor(1)
	w.tick(a, retry.Add(time.Hour))
	w.tick(b, retry.Add(time.Hour))
	if got := srv.messages(); len(got) != 1 {
		t.Errorf("%d messages, want the alert once", len(got))
	}
	e, err := w.st.Email(t.Context(), w.tenant.ID, es[0].ID)
	if err != nil || e.Status != store.EmailSent || e.Attempts != 2 {
		t.Errorf("alert in the outbox: %+v (%v), want sent at the second attempt", e, err)
	}
}

// freeMailAddr returns a loopback address where nothing listens.
func freeMailAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeJobs: Serve runs the notifier of an smtp block and stops it
// when its context ends, and runs none without one; when serving fails,
// Serve returns its error instead of waiting for the notifier forever.
func TestServeJobs(t *testing.T) {
	srv := startMail(t, "")
	cfg := notifyConfig(t, "", srv.port(), acmeNotifyBlock)
	core, logs := observer.New(zapcore.InfoLevel)
	c, err := Open(t.Context(), cfg, zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Something listens on the address already: Serve fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg.ListenAddr = ln.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- c.Serve(context.Background(), nil) }()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("Serve on a taken address: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Serve did not return after failing to listen")
	}
	if n := logs.FilterMessage("notifier stopped").Len(); n != 1 {
		t.Errorf("notifier stopped %d times after the failed Serve, want once", n)
	}

	serve := func() {
		t.Helper()
		cfg.ListenAddr = "127.0.0.1:0"
		ctx, cancel := context.WithCancel(t.Context())
		ready := make(chan string, 1)
		go func() { errc <- c.Serve(ctx, func(addr string) { ready <- addr }) }()
		<-ready
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	serve()
	if started, stopped := logs.FilterMessage("notifier started").Len(), logs.FilterMessage("notifier stopped").Len(); started != 2 || stopped != 2 {
		t.Errorf("notifier started %d and stopped %d times in two serves, want 2 and 2", started, stopped)
	}
	cfg.SMTP, cfg.Notify = nil, nil
	serve()
	if logs.FilterMessage("notifier started").Len() != 2 || logs.FilterMessage("no smtp block: the collector sends no email").Len() != 1 {
		t.Error("Serve without an smtp block started a notifier, or did not say it sends no email")
	}
}

// TestStopWhileSending: a collector told to stop while the server has yet
// to answer a message waits for the answer and marks the message sent,
// instead of cutting the connection and sending it again later.
func TestStopWhileSending(t *testing.T) {
	srv := startMail(t, "")
	release := make(chan struct{})
	srv.mu.Lock()
	srv.hold = release
	srv.mu.Unlock()
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), acmeNotifyBlock), notifyT0)
	w.report(notifyT0, testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin yes\n"))
	w.clock.Set(notifyT0.Add(notify.Level3Hold + notify.Settle))
	n := w.notifier("c1", w.st)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	srv.waitFor(1) // the server has the message and holds its answer
	cancel()
	// Long enough for a connection cut at the cancel to be cut.
	time.Sleep(300 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	es, err := w.st.Emails(t.Context(), w.tenant.ID, store.EmailFilter{})
	if err != nil || len(es) != 1 || es[0].Status != store.EmailSent || es[0].Attempts != 1 {
		t.Errorf("outbox %+v (%v), want the alert sent at its first attempt", es, err)
	}
}

// TestLevel2Summary: level 2 changes (packages changed without a ticket,
// by the default rules) reach the tech lead in the hourly summary, which,
// being a list, can be unsubscribed from.
func TestLevel2Summary(t *testing.T) {
	srv := startMail(t, "")
	w := newNotifyWorld(t, notifyConfig(t, "", srv.port(), acmeNotifyBlock+`  alert_level2 = ["lead@msp.example"]
  level2_every = "1h"
`), notifyT0)
	w.report(notifyT0.Add(10*time.Minute), testPackageChange("openssl", "3.0.13-1", "3.0.15-1"))
	w.report(notifyT0.Add(20*time.Minute), testPackageChange("openssl", "3.0.13-1", "3.0.15-1"), testPackageChange("nginx", "1.24", "1.26"))
	if it := w.item("package:nginx"); it.Level != 2 {
		t.Fatalf("nginx upgrade at level %d, want 2", it.Level)
	}
	n := w.notifier("c1", w.st)
	w.tick(n, notifyT0.Add(59*time.Minute))
	if len(srv.messages()) != 0 {
		t.Fatal("summary sent before the hour ended")
	}
	w.tick(n, notifyT0.Add(time.Hour+notify.Settle))
	got := srv.waitFor(1)
	if !slices.Equal(got[0].To, []string{"lead@msp.example"}) {
		t.Errorf("summary to %v", got[0].To)
	}
	p := parseMail(t, got[0].Data)
	if want := "[L2] 2 unauthorized changes on 1 host — Acme Corp — 10:00–11:00"; p.Subject != want {
		t.Errorf("subject %q, want %q", p.Subject, want)
	}
	if h := p.Header.Get("List-Unsubscribe"); h != "<"+notifyPublicURL+"/ui/notifications/unsubscribe?t="+linkToken(t, w.st, w.tenant.ID, "lead@msp.example", store.ListSummary)+">" {
		t.Errorf("List-Unsubscribe %q", h)
	}
	for _, want := range []string{"[L2 UNAUTHORIZED] package:openssl modified", "version 1.24 → 1.26", "[L2 UNAUTHORIZED] package:nginx modified"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("summary text lacks %q:\n%s", want, p.Text)
		}
	}
}
