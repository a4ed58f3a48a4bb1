package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/mail"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode is how the connection to the SMTP server is encrypted.
type TLSMode string

// TLS modes.
const (
	// StartTLS connects in plain text and requires STARTTLS (port 587).
	StartTLS TLSMode = "starttls"
	// ImplicitTLS connects with TLS from the start (port 465).
	ImplicitTLS TLSMode = "tls"
	// NoTLS does not encrypt: for a relay on the same host or network.
	NoTLS TLSMode = "none"
)

// AuthMethod is how the collector logs in to the SMTP server.
type AuthMethod string

// Auth methods.
const (
	AuthNone  AuthMethod = "none"
	AuthPlain AuthMethod = "plain"
	AuthLogin AuthMethod = "login"
)

// Defaults of SMTPConfig.
const (
	DefaultSMTPTimeout = 30 * time.Second
	userAgent          = "driftwatch-collector"
)

// SMTPConfig says how to reach the SMTP server.
type SMTPConfig struct {
	Host string
	// Port is the server's port; 0 is 587 for StartTLS, 465 for
	// ImplicitTLS and 25 for NoTLS.
	Port int
	// TLS is the encryption; empty is StartTLS.
	TLS TLSMode
	// CAFile is a PEM file of the CAs that sign the server's certificate,
	// for a private relay; empty: the system's.
	CAFile string
	// Username logs in when set, with Auth (default AuthPlain) and the
	// password read at each connection from PasswordFile (its first line)
	// or the environment variable PasswordEnv, so that it never sits in
	// the configuration and a changed password needs no restart.
	Username     string
	PasswordFile string
	PasswordEnv  string
	Auth         AuthMethod
	// From is the sender, with or without a name:
	// "driftwatch <drift@example.com>".
	From string
	// HELO is the name the collector greets with; empty: its host name.
	HELO string
	// Timeout bounds the connection and each command; 0 is
	// DefaultSMTPTimeout.
	Timeout time.Duration
}

// Message is an email ready to send.
type Message struct {
	// ID is the local part of the Message-ID; the sender's domain follows
	// it. The same email keeps it across attempts.
	ID string
	// Date is the Date header.
	Date    time.Time
	To      []string
	Subject string
	HTML    string
	Text    string
	// Headers are extra header fields (List-Unsubscribe …).
	Headers map[string]string
}

// Result is the outcome of sending one message.
type Result struct {
	// Response is the server's answer when it accepted the message.
	Response string
	// Err is why it was not sent: the server's answer, or why the server
	// could not be reached. Nil when it was sent.
	Err error
	// Permanent is set when the server refused the message for good (a
	// 5xx answer to it); other errors are worth a retry.
	Permanent bool
}

// Mailer sends messages.
type Mailer interface {
	// Send sends msgs in order, over one connection where it can, and
	// returns one Result per message. It does not retry; it gives up on
	// the messages left when ctx ends.
	Send(ctx context.Context, msgs []Message) []Result
}

// SMTP is a Mailer that sends through an SMTP server with go-mail. It is
// safe for concurrent use; each Send opens its own connection.
type SMTP struct {
	cfg    SMTPConfig
	from   *mail.Address
	domain string
	tls    *tls.Config
}

// NewSMTP checks cfg and returns a Mailer for it. The password is not read
// here but at each connection.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = StartTLS
	case StartTLS, ImplicitTLS, NoTLS:
	default:
		return nil, fmt.Errorf("smtp: tls %q: want %q, %q or %q", cfg.TLS, StartTLS, ImplicitTLS, NoTLS)
	}
	if cfg.Port == 0 {
		cfg.Port = map[TLSMode]int{StartTLS: 587, ImplicitTLS: 465, NoTLS: 25}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d is not from 1 to 65535", cfg.Port)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("smtp: timeout %v is negative", cfg.Timeout)
	}
	switch {
	case cfg.Username == "":
		cfg.Auth = AuthNone
	case cfg.Auth == "":
		cfg.Auth = AuthPlain
	case cfg.Auth != AuthPlain && cfg.Auth != AuthLogin && cfg.Auth != AuthNone:
		return nil, fmt.Errorf("smtp: auth %q: want %q or %q", cfg.Auth, AuthPlain, AuthLogin)
	}
	if cfg.Auth != AuthNone {
		if (cfg.PasswordFile == "") == (cfg.PasswordEnv == "") {
			return nil, errors.New("smtp: a username needs a password from exactly one of password_file and password_env")
		}
		if cfg.TLS == NoTLS && !isLoopback(cfg.Host) {
			return nil, fmt.Errorf("smtp: logging in to %s without TLS would send the password in clear; use tls = %q or %q", cfg.Host, StartTLS, ImplicitTLS)
		}
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from %q is not an email address: %w", cfg.From, err)
	}
	_, domain, ok := strings.Cut(from.Address, "@")
	if !ok || domain == "" {
		return nil, fmt.Errorf("smtp: from %q has no domain", cfg.From)
	}
	tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp: read ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	return &SMTP{cfg: cfg, from: from, domain: domain, tls: tc}, nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Config returns the configuration with its defaults filled in.
func (s *SMTP) Config() SMTPConfig { return s.cfg }

// Address returns host:port of the server.
func (s *SMTP) Address() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

// password reads the password, each time, from its file or variable.
func (s *SMTP) password() (string, error) {
	if s.cfg.PasswordFile != "" {
		b, err := os.ReadFile(s.cfg.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("read SMTP password: %w", err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		pw = strings.TrimSuffix(pw, "\r")
		if pw == "" {
			return "", fmt.Errorf("read SMTP password: %s is empty", s.cfg.PasswordFile)
		}
		return pw, nil
	}
	pw, ok := os.LookupEnv(s.cfg.PasswordEnv)
	if !ok || pw == "" {
		return "", fmt.Errorf("read SMTP password: environment variable %s is not set", s.cfg.PasswordEnv)
	}
	return pw, nil
}

// client returns a go-mail client for one connection, and a function that
// closes the connection it dialled, for the paths on which go-mail does
// not.
func (s *SMTP) client() (*gomail.Client, func(), error) {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.tls),
	}
	switch s.cfg.TLS {
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Auth != AuthNone {
		pw, err := s.password()
		if err != nil {
			return nil, nil, err
		}
		auth := gomail.SMTPAuthPlain
		if s.cfg.Auth == AuthLogin {
			auth = gomail.SMTPAuthLogin
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(pw))
	}
	var mu sync.Mutex
	var conns []net.Conn
	dialer := &net.Dialer{Timeout: s.cfg.Timeout}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		if s.cfg.TLS == ImplicitTLS {
			c, err = (&tls.Dialer{NetDialer: dialer, Config: s.tls}).DialContext(ctx, network, addr)
		} else {
			c, err = dialer.DialContext(ctx, network, addr)
		}
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
	opts = append(opts, gomail.WithDialContextFunc(dial))
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("smtp client for %s: %w", s.Address(), err)
	}
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close() // closed already on the normal path
		}
	}
	return c, closeAll, nil
}

// Check connects, greets, starts TLS and logs in as a send would, and
// quits without sending.
func (s *SMTP) Check(ctx context.Context) error {
	c, closeAll, err := s.client()
	if err != nil {
		return err
	}
	defer closeAll()
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", s.Address(), err)
	}
	if err := c.CloseWithSMTPClient(sc); err != nil {
		return fmt.Errorf("quit SMTP server %s: %w", s.Address(), err)
	}
	return nil
}

// Send sends msgs over one connection.
func (s *SMTP) Send(ctx context.Context, msgs []Message) []Result {
	results := make([]Result, len(msgs))
	built := make([]*gomail.Msg, 0, len(msgs))
	index := make([]int, 0, len(msgs))
	for i, m := range msgs {
		gm, err := s.build(m)
		if err != nil {
			results[i] = Result{Err: err, Permanent: true}
			continue
		}
		built = append(built, gm)
		index = append(index, i)
	}
	if len(built) == 0 {
		return results
	}
	fail := func(err error) []Result {
		for _, i := range index {
			results[i] = Result{Err: err}
		}
		return results
	}
	c, closeAll, err := s.client()
	if err != nil {
		return fail(err)
	}
	defer closeAll()
	// A cancelled ctx cuts the connection; go-mail heeds only its
	// timeouts once connected.
	stop := context.AfterFunc(ctx, closeAll)
	defer stop()
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fail(fmt.Errorf("connect to SMTP server %s: %w", s.Address(), err))
	}
	_ = c.SendWithSMTPClient(sc, built...) // each message carries its own outcome
	_ = c.CloseWithSMTPClient(sc)          // the messages' outcomes are what count
	for j, gm := range built {
		i := index[j]
		switch {
		case gm.IsDelivered():
			// Delivered even when a later command (RSET) failed.
			results[i] = Result{Response: gm.ServerResponse()}
		case gm.HasSendError():
			results[i] = Result{Err: &answerError{addr: s.Address(), err: gm.SendError()}, Permanent: permanent(gm.SendError())}
		case ctx.Err() != nil:
			results[i] = Result{Err: fmt.Errorf("send to SMTP server %s: %w", s.Address(), ctx.Err())}
		default:
			results[i] = Result{Err: fmt.Errorf("SMTP server %s: message not sent", s.Address())}
		}
	}
	return results
}

// answerError is the server's refusal of a message, with its answer
// shown as the server gave it: 451 4.7.1 Greylisted, not Go's quoted form.
type answerError struct {
	addr string
	err  error
}

// quotedAnswer matches an SMTP answer as net/textproto formats it:
// 451 "4.7.1 Greylisted".
var quotedAnswer = regexp.MustCompile(`\b([2-5][0-9][0-9]) ("(?:[^"\\]|\\.)*")`)

func (e *answerError) Error() string {
	msg := quotedAnswer.ReplaceAllStringFunc(e.err.Error(), func(m string) string {
		code, quoted, _ := strings.Cut(m, " ")
		if text, err := strconv.Unquote(quoted); err == nil {
			return code + " " + text
		}
		return m
	})
	return "SMTP server " + e.addr + ": " + msg
}

func (e *answerError) Unwrap() error { return e.err }

// permanent reports whether err is the server's 5xx answer to a message.
func permanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) || se.IsTemp() {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return se.ErrorCode() >= 500 && se.ErrorCode() < 600
	}
	return false
}

// build turns m into a go-mail message: multipart/alternative with the
// text part first and the HTML part last (the one mail clients prefer),
// UTF-8, quoted-printable.
func (s *SMTP) build(m Message) (*gomail.Msg, error) {
	return buildMessage(s.from, s.domain, m)
}

func buildMessage(from *mail.Address, domain string, m Message) (*gomail.Msg, error) {
	gm := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP), gomail.WithNoDefaultUserAgent())
	gm.FromMailAddress(from)
	if err := gm.To(m.To...); err != nil {
		return nil, fmt.Errorf("message %s: recipients: %w", m.ID, err)
	}
	gm.Subject(clip(oneLine(m.Subject), maxHeader))
	gm.SetMessageIDWithValue(oneLine(m.ID) + "@" + domain)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	gm.SetDateWithValue(date)
	gm.SetUserAgent(userAgent)
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		v := clip(oneLine(m.Headers[k]), maxHeader)
		switch k {
		case string(gomail.HeaderListUnsubscribe), string(gomail.HeaderListUnsubscribePost):
			gm.SetGenHeaderPreformatted(gomail.Header(k), v) // angle brackets and commas as written
		default:
			gm.SetGenHeader(gomail.Header(oneLine(k)), v)
		}
	}
	gm.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return gm, nil
}

// maxHeader bounds a header value, in bytes: a long value without spaces
// cannot be folded, and SMTP allows lines of at most 998 bytes.
const maxHeader = 900

// clip cuts s to at most n bytes, at a character boundary, marking the
// cut with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-len("…")], "") + "…"
}

// oneLine keeps a header value on one line: a line break in it would
// start a header of its own.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// WriteMessage writes m as the message the collector would send from
// from, in RFC 5322 form: for a preview, or to keep as an .eml file.
func WriteMessage(w io.Writer, from string, m Message) error {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return fmt.Errorf("write message: from %q: %w", from, err)
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	gm, err := buildMessage(addr, domain, m)
	if err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if _, err := gm.WriteTo(w); err != nil {
		return fmt.Errorf("write message %s: %w", m.ID, err)
	}
	return nil
}
