package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server in the test process (emersion/go-smtp)
// that records what it receives.
type smtpServer struct {
	t    testing.TB
	addr string
	// CAFile is the PEM of the certificate it serves, for SMTPConfig.
	CAFile string

	mu       sync.Mutex
	received []received
	// reject answers RCPT (or DATA, when atData) with this error while
	// rejects > 0 (or always when rejects < 0).
	reject  *smtp.SMTPError
	rejects int
	atData  bool
	arrived chan struct{}
}

// received is one message the server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	User string // the authenticated user; empty without AUTH
}

type serverOptions struct {
	tls  TLSMode // NoTLS: plain; StartTLS: offers STARTTLS; ImplicitTLS: TLS from the start
	user string  // requires AUTH (PLAIN or LOGIN) as user with password "s3cret" when set
	addr string  // listen here; empty: a free port
}

const testPassword = "s3cret"

// testCert makes a self-signed certificate for 127.0.0.1 and writes its
// PEM to a file in dir.
func testCert(t testing.TB, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "driftwatch test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "smtp-ca.pem")
	if err := os.WriteFile(path, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return cert, path
}

// startSMTP starts a server; it stops at the end of the test.
func startSMTP(t testing.TB, o serverOptions) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t, arrived: make(chan struct{}, 1)}
	cert, caFile := testCert(t, t.TempDir())
	s.CAFile = caFile
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c, wantUser: o.user}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if o.tls != NoTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	if o.tls == ImplicitTLS {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns when closed
	}()
	t.Cleanup(func() {
		srv.Close()
		// Close misses a listener that Serve has not registered yet.
		ln.Close()
		<-done
	})
	return s
}

// port returns the port the server listens on.
func (s *smtpServer) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := net.LookupPort("tcp", p)
	return n
}

// rejectWith makes the server answer the next n messages (n < 0: all)
// with err, at RCPT or at DATA.
func (s *smtpServer) rejectWith(err *smtp.SMTPError, n int, atData bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject, s.rejects, s.atData = err, n, atData
}

// rejection returns the error to answer now at RCPT or DATA, if any.
func (s *smtpServer) rejection(data bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reject == nil || s.rejects == 0 || s.atData != data {
		return nil
	}
	if s.rejects > 0 {
		s.rejects--
	}
	return s.reject
}

// messages returns what the server accepted so far.
func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// waitFor waits until the server has accepted n messages, or fails after a
// generous deadline.
func (s *smtpServer) waitFor(n int) []received {
	s.t.Helper()
	deadline := time.After(30 * time.Second)
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

type session struct {
	srv      *smtpServer
	conn     *smtp.Conn
	wantUser string
	user     string
	from     string
	to       []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.wantUser || pass != testPassword {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.user = user
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.wantUser != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.srv.rejection(false); err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.srv.rejection(true); err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.received = append(s.srv.received, received{From: s.from, To: s.to, Data: b, TLS: isTLS, User: s.user})
	s.srv.mu.Unlock()
	select {
	case s.srv.arrived <- struct{}{}:
	default: // a wake-up is pending already
	}
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl has only as
// a client.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if response != nil { // initial response: the user name
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.user, string(response))
	}
	return nil, true, errors.New("unexpected AUTH LOGIN step")
}
