package e2e

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// mailRelay is a real SMTP server in the test process (emersion/go-smtp)
// that records what the collector sends it.
type mailRelay struct {
	t       *testing.T
	addr    string
	mu      sync.Mutex
	got     []relayed
	arrived chan struct{}
}

type relayed struct {
	At   time.Time
	From string
	To   []string
	Data []byte
}

func startRelay(t *testing.T) *mailRelay {
	t.Helper()
	r := &mailRelay{t: t, arrived: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns when closed
	}()
	t.Cleanup(func() {
		srv.Close()
		ln.Close()
		<-done
	})
	return r
}

func (r *mailRelay) messages() []relayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor waits until the server has received n messages; it fails
// after a generous deadline, naming what it waited for.
func (r *mailRelay) waitFor(n int, what string) []relayed {
	r.t.Helper()
	deadline := time.After(3 * time.Minute)
	for {
		if got := r.messages(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("timed out waiting for %s: the SMTP server received %d messages, want %d", what, len(r.messages()), n)
		}
	}
}

type relaySession struct {
	r    *mailRelay
	from string
	to   []string
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }
func (s *relaySession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.got = append(s.r.got, relayed{At: time.Now(), From: s.from, To: s.to, Data: b})
	s.r.mu.Unlock()
	select {
	case s.r.arrived <- struct{}{}:
	default:
	}
	return nil
}

// email is a message as a mail client reads it.
type email struct {
	Header     mail.Header
	Subject    string
	Text, HTML string
}

func readEmail(t *testing.T, data []byte) email {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	e := email{Header: m.Header}
	if e.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q (%v), want multipart/alternative", mt, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var rd io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			rd = quotedprintable.NewReader(part)
		}
		body, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch text := strings.ReplaceAll(string(body), "\r\n", "\n"); pt {
		case "text/plain":
			e.Text = text
		case "text/html":
			e.HTML = text
		}
	}
	return e
}

// secret is a credential written into a watched file: the agent redacts
// it before anything leaves the host, so no email may ever show it.
const secret = "Br3akGlass-e2e-9f27c"

// TestNotifyAlertAndDigest runs the collector with smtp and notify blocks
// pointing at an SMTP server in the test, and an enrolled agent as a
// service. An unauthorized edit of sshd_config (level 3 by the tenant's
// rules) reaches on-call as one alert once its hold ends; the digest
// preview for the tenant shows the change; and the credential the edit
// left in the file appears in neither, nor anywhere in the collector's
// data.
func TestNotifyAlertAndDigest(t *testing.T) {
	t.Parallel()
	relay := startRelay(t)
	e := newEnv(t, "")
	e.collector.stop(t)

	_, port, _ := net.SplitHostPort(relay.addr)
	b, err := os.ReadFile(e.ccfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, e.ccfg, string(b)+fmt.Sprintf(`
smtp {
  host = "127.0.0.1"
  port = %s
  tls  = "none"
  from = "driftwatch <drift@msp.test>"
}

notify "acme" {
  time_zone    = "Europe/Berlin"
  recipients   = ["ops@acme.test"]
  alert_level3 = ["oncall@msp.test"]
}
`, port))
	// The default rules make an unauthorized change under /etc/ssh level
	// 3; this host's tree sits in a temporary directory, so the tenant
	// names it the same way.
	pol := filepath.Join(e.dir, "policy.hcl")
	writeFile(t, pol, `escalation_defaults = true

escalation "ssh-config" {
  description = "SSH configuration changed without a ticket."
  items       = ["file:**/etc/ssh/**"]
  verdicts    = ["unauthorized", "frozen"]
  level       = 3
}
`)
	must(t, collectorBin, "policy", "load", "-config", e.ccfg, "-tenant", "acme", "-file", pol, "-as", "lead@msp.test")
	e.startCollector()
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})

	// The smtp test command goes straight through the server.
	out := must(t, collectorBin, "smtp", "test", "-config", e.ccfg, "-to", "tester@acme.test")
	if !strings.Contains(out, "sent to tester@acme.test through "+relay.addr) {
		t.Errorf("smtp test said %q", out)
	}
	got := relay.waitFor(1, "the SMTP test message")
	if m := readEmail(t, got[0].Data); m.Subject != "driftwatch SMTP test" || !slices.Equal(got[0].To, []string{"tester@acme.test"}) {
		t.Errorf("test message %q to %v", m.Subject, got[0].To)
	}

	// An editor's save of sshd_config: root login allowed, and a
	// credential left in a comment.
	cfg := filepath.Join(e.tree, "ssh", "sshd_config")
	edited := time.Now()
	writeFile(t, cfg+".tmp", "PermitRootLogin yes\n# break-glass account, remove after the incident: backup_password = "+secret+"\n")
	if err := os.Rename(cfg+".tmp", cfg); err != nil {
		t.Fatal(err)
	}
	e.waitDrift("the edit at the collector", map[string]string{"file:" + cfg: "modified"})

	got = relay.waitFor(2, "the level 3 alert")
	alert := got[1]
	latency := alert.At.Sub(edited)
	t.Logf("alert arrived %v after the edit", latency.Round(time.Millisecond))
	if !slices.Equal(alert.To, []string{"oncall@msp.test"}) || alert.From != "drift@msp.test" {
		t.Errorf("alert from %s to %v", alert.From, alert.To)
	}
	m := readEmail(t, alert.Data)
	if want := "[L3] Unauthorized change on web-01: file:" + cfg + " — acme"; m.Subject != want {
		t.Errorf("alert subject %q, want %q", m.Subject, want)
	}
	for _, want := range []string{
		"[L3 UNAUTHORIZED] file:" + cfg + " modified — NO TICKET",
		"+PermitRootLogin yes",
		"backup_password = [REDACTED]",
		e.url + "/ui/drift/",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("alert text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `href="`+e.url+`/ui/drift/`) {
		t.Error("the alert's HTML part does not link the change in the web report")
	}

	// The digest preview shows the week so far.
	html := must(t, collectorBin, "digest", "preview", "-config", e.ccfg, "-tenant", "acme")
	for _, want := range []string{"This week in changes", "file:" + cfg, "PermitRootLogin yes", "backup_password = [REDACTED]"} {
		if !strings.Contains(html, want) {
			t.Errorf("digest preview lacks %q", want)
		}
	}
	dir := filepath.Join(e.dir, "preview")
	files := must(t, collectorBin, "digest", "preview", "-config", e.ccfg, "-tenant", "acme", "-period", "day", "-o", dir)
	want := []string{filepath.Join(dir, "digest.html"), filepath.Join(dir, "digest.txt"), filepath.Join(dir, "digest.eml")}
	if got := strings.Fields(files); !slices.Equal(got, want) {
		t.Errorf("digest preview -o wrote %q, want %q", got, want)
	}
	emlData, err := os.ReadFile(filepath.Join(dir, "digest.eml"))
	if err != nil {
		t.Fatal(err)
	}
	eml := readEmail(t, emlData)
	txt, err := os.ReadFile(filepath.Join(dir, "digest.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if eml.Text != strings.ReplaceAll(string(txt), "\r\n", "\n") || !strings.Contains(eml.Text, "Changes on ") ||
		!strings.Contains(eml.Text, "[L3 UNAUTHORIZED] file:"+cfg) {
		t.Errorf("daily preview: text part and digest.txt differ or miss the change:\n%s", eml.Text)
	}
	if to := eml.Header.Get("To"); to != "<ops@acme.test>" {
		t.Errorf("preview to %q", to)
	}
	if !strings.Contains(eml.Header.Get("List-Unsubscribe"), e.url+"/ui/notifications/unsubscribe?t=") {
		t.Errorf("preview List-Unsubscribe %q", eml.Header.Get("List-Unsubscribe"))
	}

	// The credential is nowhere: not in the emails, the previews, or the
	// collector's data.
	for i, r := range relay.messages() {
		if bytes.Contains(r.Data, []byte(secret)) || strings.Contains(readEmail(t, r.Data).Text+readEmail(t, r.Data).HTML, secret) {
			t.Errorf("message %d carries the secret", i)
		}
	}
	if strings.Contains(html, secret) {
		t.Error("the digest preview shows the secret")
	}
	for _, root := range []string{dir, filepath.Join(e.dir, "cdata")} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the secret", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(relay.messages()); n != 2 {
		t.Errorf("the SMTP server received %d messages, want the test message and the alert", n)
	}
}
