package notify

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// mailerFor returns an SMTP mailer for the test server.
func mailerFor(t *testing.T, s *smtpServer, mode TLSMode, user string) *SMTP {
	t.Helper()
	cfg := SMTPConfig{Host: "127.0.0.1", Port: s.port(), TLS: mode, CAFile: s.CAFile, From: "driftwatch <drift@msp.example>", Timeout: 30 * time.Second}
	if user != "" {
		pw := filepath.Join(t.TempDir(), "smtp.pass")
		if err := os.WriteFile(pw, []byte(testPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Username, cfg.PasswordFile = user, pw
	}
	m, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// parsed is a received message taken apart as a mail client would.
type parsed struct {
	Header          mail.Header
	Subject         string
	ContentType     string
	Text, HTML      string
	PartTypes       []string
	PartEncodings   []string
	PartContentType []string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	var p parsed
	p.Header = m.Header
	p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	p.ContentType = mt
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
		enc := part.Header.Get("Content-Transfer-Encoding")
		p.PartEncodings = append(p.PartEncodings, enc)
		var r io.Reader = part
		if strings.EqualFold(enc, "quoted-printable") {
			r = quotedprintable.NewReader(part)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read part body: %v", err)
		}
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch pt {
		case "text/plain":
			p.Text = text
		case "text/html":
			p.HTML = text
		}
	}
	return p
}

// TestSMTPMessage sends one message over STARTTLS with AUTH PLAIN and
// checks what arrives, as a mail client reads it.
func TestSMTPMessage(t *testing.T) {
	srv := startSMTP(t, serverOptions{tls: StartTLS, user: "driftwatch"})
	m := mailerFor(t, srv, StartTLS, "driftwatch")
	long := strings.Repeat("sshd_config PermitRootLogin changed from no to yes; ", 6)
	msg := Message{
		ID:      "em-0123456789abcdef",
		Date:    time.Date(2026, 11, 6, 16, 0, 0, 0, mustZone(t, "America/New_York")),
		To:      []string{"ops@acme.example", "Tech Lead <lead@msp.example>"},
		Subject: "[Müller GmbH] This week in changes — 2026-W45",
		Text:    "3 changes on web01 — größer als erwartet\n" + long + "\nline with = sign and trailing space \n",
		HTML:    "<html><body><p>3 changes on <b>web01</b> — größer</p><p>" + long + "</p></body></html>\n",
		Headers: map[string]string{
			"List-Unsubscribe":      "<https://drift.example.com/notifications/unsubscribe?list=digest&tenant=t1>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			"X-Driftwatch-Tenant":   "Müller GmbH",
			"Auto-Submitted":        "auto-generated\r\nBcc: injected@evil.example",
		},
	}
	res := m.Send(t.Context(), []Message{msg})
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("send: %+v", res)
	}
	if res[0].Response == "" {
		t.Error("no server response recorded")
	}
	got := srv.waitFor(1)
	if len(got) != 1 {
		t.Fatalf("server received %d messages", len(got))
	}
	r := got[0]
	if r.From != "drift@msp.example" || !cmp.Equal(r.To, []string{"ops@acme.example", "lead@msp.example"}) {
		t.Errorf("envelope from %q to %q", r.From, r.To)
	}
	if !r.TLS || r.User != "driftwatch" {
		t.Errorf("TLS %v, authenticated as %q; want STARTTLS and driftwatch", r.TLS, r.User)
	}
	p := parse(t, r.Data)
	h := p.Header
	for name, want := range map[string]string{
		"From":                  `"driftwatch" <drift@msp.example>`,
		"Message-Id":            "<em-0123456789abcdef@msp.example>",
		"Mime-Version":          "1.0",
		"List-Unsubscribe":      "<https://drift.example.com/notifications/unsubscribe?list=digest&tenant=t1>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"User-Agent":            "driftwatch-collector",
		"Bcc":                   "",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if auto := h.Get("Auto-Submitted"); !strings.HasPrefix(auto, "auto-generated") {
		t.Errorf("Auto-Submitted = %q", auto)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[1].Name != "Tech Lead" || to[1].Address != "lead@msp.example" {
		t.Errorf("To = %v (%v)", to, err)
	}
	tenant, err := new(mime.WordDecoder).DecodeHeader(h.Get("X-Driftwatch-Tenant"))
	if err != nil || tenant != "Müller GmbH" {
		t.Errorf("X-Driftwatch-Tenant = %q (%v)", tenant, err)
	}
	date, err := h.Date()
	if err != nil || !date.Equal(msg.Date) {
		t.Errorf("Date = %v (%v), want %v", date, err, msg.Date)
	}
	if p.Subject != msg.Subject {
		t.Errorf("Subject = %q, want %q", p.Subject, msg.Subject)
	}
	if p.ContentType != "multipart/alternative" {
		t.Errorf("Content-Type %s", p.ContentType)
	}
	// Text first, HTML last: clients show the last part they can.
	if d := cmp.Diff([]string{"text/plain; charset=UTF-8", "text/html; charset=UTF-8"}, p.PartTypes); d != "" {
		t.Errorf("parts (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"quoted-printable", "quoted-printable"}, p.PartEncodings); d != "" {
		t.Errorf("part encodings (-want +got):\n%s", d)
	}
	if p.Text != msg.Text {
		t.Errorf("text body:\n%q\nwant\n%q", p.Text, msg.Text)
	}
	if p.HTML != msg.HTML {
		t.Errorf("HTML body:\n%q\nwant\n%q", p.HTML, msg.HTML)
	}
	for i, line := range strings.Split(string(r.Data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long, over SMTP's limit", i+1, len(line))
		}
	}
}

// TestSMTPModes sends through each kind of connection and login.
func TestSMTPModes(t *testing.T) {
	tests := []struct {
		name       string
		server     serverOptions
		client     TLSMode
		user, auth string
		wantTLS    bool
	}{
		{"local relay without TLS", serverOptions{tls: NoTLS}, NoTLS, "", "", false},
		{"STARTTLS without login", serverOptions{tls: StartTLS}, StartTLS, "", "", true},
		{"STARTTLS with PLAIN", serverOptions{tls: StartTLS, user: "dw"}, StartTLS, "dw", "plain", true},
		{"STARTTLS with LOGIN", serverOptions{tls: StartTLS, user: "dw"}, StartTLS, "dw", "login", true},
		{"implicit TLS with PLAIN", serverOptions{tls: ImplicitTLS, user: "dw"}, ImplicitTLS, "dw", "plain", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.server)
			cfg := mailerFor(t, srv, tt.client, tt.user).Config()
			cfg.Auth = AuthMethod(tt.auth)
			m, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Check(t.Context()); err != nil {
				t.Fatalf("check: %v", err)
			}
			res := m.Send(t.Context(), []Message{{ID: "m1", To: []string{"ops@acme.example"}, Subject: "s", Text: "t"}})
			if res[0].Err != nil {
				t.Fatalf("send: %v", res[0].Err)
			}
			got := srv.waitFor(1)
			if got[0].TLS != tt.wantTLS || got[0].User != tt.user {
				t.Errorf("TLS %v, user %q; want %v, %q", got[0].TLS, got[0].User, tt.wantTLS, tt.user)
			}
		})
	}
}

// TestSMTPConnectErrors checks the failures before any message: each is
// reported for every message, and none is permanent (they are retried).
func TestSMTPConnectErrors(t *testing.T) {
	plain := startSMTP(t, serverOptions{tls: NoTLS})
	secure := startSMTP(t, serverOptions{tls: StartTLS, user: "dw"})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	tests := []struct {
		name string
		cfg  func() SMTPConfig
		want string
	}{
		{"server down", func() SMTPConfig {
			c := mailerFor(t, plain, NoTLS, "").Config()
			c.Port = downPort
			return c
		}, "connection refused"},
		{"no STARTTLS offered", func() SMTPConfig { return mailerFor(t, plain, StartTLS, "").Config() }, "does not support STARTTLS"},
		{"untrusted certificate", func() SMTPConfig {
			c := mailerFor(t, secure, StartTLS, "dw").Config()
			c.CAFile = ""
			return c
		}, "certificate"},
		{"wrong password", func() SMTPConfig {
			c := mailerFor(t, secure, StartTLS, "dw").Config()
			pw := filepath.Join(t.TempDir(), "wrong")
			if err := os.WriteFile(pw, []byte("nope\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.PasswordFile = pw
			return c
		}, "535"},
		{"password file gone", func() SMTPConfig {
			c := mailerFor(t, secure, StartTLS, "dw").Config()
			c.PasswordFile = filepath.Join(t.TempDir(), "missing")
			return c
		}, "read SMTP password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewSMTP(tt.cfg())
			if err != nil {
				t.Fatal(err)
			}
			msgs := []Message{{ID: "a", To: []string{"a@x.example"}, Subject: "s", Text: "t"}, {ID: "b", To: []string{"b@x.example"}, Subject: "s", Text: "t"}}
			res := m.Send(t.Context(), msgs)
			for i, r := range res {
				if r.Err == nil || !strings.Contains(r.Err.Error(), tt.want) || r.Permanent {
					t.Errorf("message %d: error %v (permanent %v), want a temporary one with %q", i, r.Err, r.Permanent, tt.want)
				}
			}
			if err := m.Check(t.Context()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check: error %v, want one with %q", err, tt.want)
			}
		})
	}
	if n := len(plain.messages()) + len(secure.messages()); n != 0 {
		t.Errorf("servers received %d messages", n)
	}
}

// TestSMTPAnswers checks that each message gets its own outcome from the
// server's answer: 4xx temporary, 5xx permanent, the answer kept.
func TestSMTPAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    *smtp.SMTPError
		atData    bool
		permanent bool
		want      string
	}{
		{"greylisted at RCPT", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}, false, false, "451 4.7.1 Greylisted, try again later"},
		{"no such user", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, false, true, "550 5.1.1 No such user"},
		{"rejected content", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected as spam"}, true, true, "554 5.7.1 Message rejected as spam"},
		{"queue full", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}, true, false, "452 4.3.1 Insufficient system storage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, serverOptions{tls: NoTLS})
			srv.rejectWith(tt.answer, 1, tt.atData)
			m := mailerFor(t, srv, NoTLS, "")
			msgs := []Message{
				{ID: "first", To: []string{"a@x.example"}, Subject: "first", Text: "t"},
				{ID: "second", To: []string{"b@x.example"}, Subject: "second", Text: "t"},
			}
			res := m.Send(t.Context(), msgs)
			if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), tt.want) || res[0].Permanent != tt.permanent {
				t.Errorf("first: error %v, permanent %v; want %q, permanent %v", res[0].Err, res[0].Permanent, tt.want, tt.permanent)
			}
			if res[1].Err != nil {
				t.Errorf("second, on the same connection: %v", res[1].Err)
			}
			got := srv.waitFor(1)
			if len(got) != 1 || !bytes.Contains(got[0].Data, []byte("Subject: second")) {
				t.Errorf("server has %d messages, want the second only", len(got))
			}
		})
	}
}

func TestNewSMTPErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  SMTPConfig
		want string
	}{
		{"no host", SMTPConfig{From: "a@b.example"}, "no host"},
		{"bad tls", SMTPConfig{Host: "h", TLS: "ssl", From: "a@b.example"}, `tls "ssl"`},
		{"bad port", SMTPConfig{Host: "h", Port: 70000, From: "a@b.example"}, "port 70000"},
		{"bad from", SMTPConfig{Host: "h", From: "drift at example"}, "not an email address"},
		{"user without password", SMTPConfig{Host: "h", From: "a@b.example", Username: "u"}, "exactly one of password_file and password_env"},
		{"two passwords", SMTPConfig{Host: "h", From: "a@b.example", Username: "u", PasswordFile: "/p", PasswordEnv: "P"}, "exactly one"},
		{"password in clear", SMTPConfig{Host: "mail.example.com", TLS: NoTLS, From: "a@b.example", Username: "u", PasswordEnv: "P"}, "in clear"},
		{"bad auth", SMTPConfig{Host: "h", From: "a@b.example", Username: "u", PasswordEnv: "P", Auth: "cram-md5"}, `auth "cram-md5"`},
		{"missing ca file", SMTPConfig{Host: "h", From: "a@b.example", CAFile: "/nonexistent/ca.pem"}, "ca_file"},
	}
	for _, tt := range tests {
		_, err := NewSMTP(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
	m, err := NewSMTP(SMTPConfig{Host: "localhost", TLS: NoTLS, From: "a@b.example", Username: "u", PasswordEnv: "DW_TEST_SMTP_PASSWORD"})
	if err != nil {
		t.Fatalf("login without TLS to localhost: %v", err)
	}
	if c := m.Config(); c.Port != 25 || c.Auth != AuthPlain || c.Timeout != DefaultSMTPTimeout {
		t.Errorf("defaults: %+v", c)
	}
	if m, err := NewSMTP(SMTPConfig{Host: "h", From: "a@b.example"}); err != nil || m.Config().Port != 587 || m.Config().TLS != StartTLS {
		t.Errorf("default TLS: %+v, %v", m, err)
	}
}

// TestPasswordEnv reads the password from the environment at each
// connection.
func TestPasswordEnv(t *testing.T) {
	srv := startSMTP(t, serverOptions{tls: StartTLS, user: "dw"})
	cfg := mailerFor(t, srv, StartTLS, "dw").Config()
	cfg.PasswordFile, cfg.PasswordEnv = "", "DW_TEST_SMTP_PASSWORD"
	m, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DW_TEST_SMTP_PASSWORD", "wrong")
	if err := m.Check(t.Context()); err == nil {
		t.Fatal("check with the wrong password: no error")
	}
	t.Setenv("DW_TEST_SMTP_PASSWORD", testPassword)
	if err := m.Check(t.Context()); err != nil {
		t.Fatalf("check after the password changed: %v", err)
	}
}

func TestSendTest(t *testing.T) {
	srv := startSMTP(t, serverOptions{tls: StartTLS})
	m := mailerFor(t, srv, StartTLS, "")
	resp, err := SendTest(t.Context(), m, "oncall@msp.example", time.Date(2026, 11, 6, 21, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if resp == "" {
		t.Error("no server response")
	}
	got := srv.waitFor(1)
	p := parse(t, got[0].Data)
	if p.Subject != "driftwatch SMTP test" || !strings.Contains(p.Text, "Fri, 06 Nov 2026 21:00:00 UTC") || p.HTML == "" {
		t.Errorf("test message: subject %q, text %q", p.Subject, p.Text)
	}
	if _, err := SendTest(t.Context(), m, "not an address", time.Now()); err == nil {
		t.Error("test to a bad address: no error")
	}
	srv.rejectWith(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, 1, false)
	if _, err := SendTest(t.Context(), m, "nobody@msp.example", time.Now()); err == nil || !strings.Contains(err.Error(), "550 5.1.1 No such user") {
		t.Errorf("test to a refused address: error %v, want the server's answer", err)
	}
}

func TestWriteMessage(t *testing.T) {
	var buf bytes.Buffer
	msg := Message{ID: "preview-1", Date: time.Date(2026, 11, 6, 21, 0, 0, 0, time.UTC), To: []string{"ops@acme.example"},
		Subject: "This week in changes", Text: "no changes\n", HTML: "<p>no changes</p>\n"}
	if err := WriteMessage(&buf, "driftwatch <drift@msp.example>", msg); err != nil {
		t.Fatal(err)
	}
	p := parse(t, buf.Bytes())
	if p.Header.Get("Message-Id") != "<preview-1@msp.example>" || p.Text != msg.Text || p.HTML != msg.HTML {
		t.Errorf("written message: %+v", p)
	}
	if err := WriteMessage(&buf, "nobody", msg); err == nil {
		t.Error("bad from: no error")
	}
	if got := strconv.Quote(oneLine("a\r\nb\nc")); got != `"a b c"` {
		t.Errorf("oneLine = %s", got)
	}
}

// TestLongHeaders keeps every line within SMTP's limit when a subject or
// header holds a long path without spaces.
func TestLongHeaders(t *testing.T) {
	long := "file:/srv/" + strings.Repeat("deep/", 1000) + "ä.conf"
	var buf bytes.Buffer
	msg := Message{ID: "long", Date: time.Now(), To: []string{"ops@acme.example"}, Subject: "changed: " + long, Text: "t", HTML: "<p>t</p>",
		Headers: map[string]string{"X-Driftwatch-Item": long}}
	if err := WriteMessage(&buf, "drift@msp.example", msg); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(buf.String(), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i+1, len(line))
		}
	}
	p := parse(t, buf.Bytes())
	if !strings.HasPrefix(p.Subject, "changed: file:/srv/deep/") || !strings.HasSuffix(p.Subject, "…") {
		t.Errorf("subject %q, want the start of the path and an ellipsis", p.Subject)
	}
	if got := clip("ääää", 6); got != "ä…" {
		t.Errorf("clip(ääää, 6) = %q, want ä…: it must not cut a character", got)
	}
}
