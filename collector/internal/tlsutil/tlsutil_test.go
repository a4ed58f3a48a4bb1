package tlsutil

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestEnsureSelfSignedGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	certFile, keyFile, err := EnsureSelfSigned(dir, []string{"localhost", "Drift.Example.com", "127.0.0.1", "[::1]", "localhost", ""}, now)
	if err != nil {
		t.Fatal(err)
	}
	if certFile != filepath.Join(dir, CertFileName) || keyFile != filepath.Join(dir, KeyFileName) {
		t.Errorf("files = %s, %s", certFile, keyFile)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %o, want 600", perm)
	}
	cert, err := readCert(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"localhost", "drift.example.com"}, cert.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if diff := cmp.Diff([]string{"127.0.0.1", "::1"}, ips); diff != "" {
		t.Errorf("IP addresses (-want +got):\n%s", diff)
	}
	if !cert.NotBefore.Before(now) || !cert.NotAfter.Equal(now.Add(Validity)) {
		t.Errorf("validity %s – %s, want from before %s for ten years", cert.NotBefore, cert.NotAfter, now)
	}
	if cert.IsCA {
		t.Error("certificate is a CA")
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Errorf("pair does not load: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("data dir holds %d entries, want the 2 files (no temporaries)", len(entries))
	}
}

func TestEnsureSelfSignedReuses(t *testing.T) {
	dir := t.TempDir()
	certFile, _, err := EnsureSelfSigned(dir, []string{"localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	first, err := FingerprintFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	// Other hosts and a later time do not change the pair.
	certFile2, _, err := EnsureSelfSigned(dir, []string{"other.example.com"}, now.Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	second, err := FingerprintFile(certFile2)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("fingerprint changed from %s to %s", first, second)
	}
}

func TestEnsureSelfSignedBadPair(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, certFile, keyFile string)
		at    time.Time
		names string // the file the error must name
		want  string
	}{
		{"corrupt key", func(t *testing.T, _, keyFile string) {
			write(t, keyFile, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
		}, now, KeyFileName, "read key"},
		{"key not PEM", func(t *testing.T, _, keyFile string) { write(t, keyFile, "garbage") }, now, KeyFileName, "no PEM PRIVATE KEY block"},
		{"corrupt certificate", func(t *testing.T, certFile, _ string) { write(t, certFile, "garbage") }, now, CertFileName, "no PEM CERTIFICATE block"},
		{"missing key", func(t *testing.T, _, keyFile string) { remove(t, keyFile) }, now, KeyFileName, "does not"},
		{"mismatched key", func(t *testing.T, _, keyFile string) {
			_, other, err := EnsureSelfSigned(t.TempDir(), nil, now)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(other)
			if err != nil {
				t.Fatal(err)
			}
			write(t, keyFile, string(b))
		}, now, KeyFileName, "does not belong to certificate"},
		{"expired", func(*testing.T, string, string) {}, now.Add(Validity + time.Hour), CertFileName, "expired on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile, err := EnsureSelfSigned(dir, []string{"localhost"}, now)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(certFile)
			tt.spoil(t, certFile, keyFile)
			_, _, err = EnsureSelfSigned(dir, []string{"localhost"}, tt.at)
			if err == nil {
				t.Fatal("EnsureSelfSigned succeeded with a bad pair")
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, tt.names)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want one naming %s and saying %q", err, tt.names, tt.want)
			}
			if after, _ := os.ReadFile(certFile); string(after) != string(before) && tt.name != "corrupt certificate" {
				t.Error("certificate was replaced")
			}
		})
	}
}

// TestEnsureSelfSignedKeyWithoutCert: a crash between the two writes
// leaves a key alone, which was never served and is replaced.
func TestEnsureSelfSignedKeyWithoutCert(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, err := EnsureSelfSigned(dir, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	remove(t, certFile)
	if _, _, err := EnsureSelfSigned(dir, nil, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Errorf("pair does not load: %v", err)
	}
}

func TestHandshakePinned(t *testing.T) {
	certFile, keyFile, err := EnsureSelfSigned(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := FingerprintFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("ab", 32)

	tests := []struct {
		name string
		pin  string
		ok   bool
	}{
		{"canonical pin", fp, true},
		{"display pin", "SHA256:" + FormatFingerprint(fp), true},
		{"wrong pin", wrong, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			served := make(chan error, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					served <- err
					return
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				srv := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
				err = srv.Handshake()
				if err == nil {
					_, err = srv.Write([]byte("ok"))
				}
				served <- err
			}()

			dialer := &net.Dialer{Timeout: 10 * time.Second}
			conn, err := tls.DialWithDialer(dialer, "tcp", ln.Addr().String(), &tls.Config{
				InsecureSkipVerify:    true,
				VerifyPeerCertificate: PinnedVerifier(tt.pin),
				MinVersion:            tls.VersionTLS12,
			})
			if tt.ok {
				if err != nil {
					t.Fatalf("handshake with the right pin: %v", err)
				}
				defer conn.Close()
				buf := make([]byte, 2)
				if _, err := conn.Read(buf); err != nil || string(buf) != "ok" {
					t.Errorf("read %q, %v", buf, err)
				}
				if err := <-served; err != nil {
					t.Errorf("server: %v", err)
				}
				return
			}
			if err == nil {
				conn.Close()
				t.Fatal("handshake with a wrong pin succeeded")
			}
			if !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), wrong) {
				t.Errorf("error %q does not name the fingerprint seen (%s) and expected (%s)", err, fp, wrong)
			}
			if err := <-served; err == nil {
				t.Error("server handshake succeeded with a client that refused it")
			}
		})
	}
}

func TestPinnedVerifier(t *testing.T) {
	der := []byte("not really a certificate")
	fp := Fingerprint(der)
	if err := PinnedVerifier(fp)([][]byte{der, []byte("intermediate")}, nil); err != nil {
		t.Errorf("matching leaf refused: %v", err)
	}
	if err := PinnedVerifier(fp)([][]byte{[]byte("intermediate"), der}, nil); err == nil {
		t.Error("pin matched a certificate that is not the leaf")
	}
	if err := PinnedVerifier(fp)(nil, nil); err == nil || !strings.Contains(err.Error(), "no certificate") {
		t.Errorf("no certificates: %v", err)
	}
	if err := PinnedVerifier("sha256:nope")([][]byte{der}, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("invalid pin: %v", err)
	}
}

func TestFingerprintForms(t *testing.T) {
	der := []byte{1, 2, 3}
	fp := Fingerprint(der)
	if len(fp) != 64 || strings.ToLower(fp) != fp {
		t.Fatalf("Fingerprint = %q, want 64 lowercase hex digits", fp)
	}
	display := FormatFingerprint(fp)
	if len(display) != 95 || strings.ToUpper(display) != display || strings.Count(display, ":") != 31 {
		t.Errorf("FormatFingerprint = %q, want 32 uppercase pairs joined by colons", display)
	}
	for _, in := range []string{fp, strings.ToUpper(fp), display, strings.ToLower(display), "sha256:" + fp, "SHA256:" + display, "  " + fp + "\n"} {
		got, err := ParseFingerprint(in)
		if err != nil || got != fp {
			t.Errorf("ParseFingerprint(%q) = %q, %v; want %q", in, got, err, fp)
		}
	}
	if got := FormatFingerprint("SHA256:" + strings.ToUpper(fp)); got != display {
		t.Errorf("FormatFingerprint of a non-canonical form = %q, want %q", got, display)
	}
	for _, in := range []string{"", fp[:62], fp + "00", "zz" + fp[2:], display[:len(display)-3], strings.Replace(display, ":", "", 1), "md5:" + fp, display[:2] + "::" + display[3:]} {
		if got, err := ParseFingerprint(in); err == nil {
			t.Errorf("ParseFingerprint(%q) = %q, want an error", in, got)
		}
	}
}

func TestFingerprintFile(t *testing.T) {
	certFile, _, err := EnsureSelfSigned(t.TempDir(), nil, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, filepath.Join(filepath.Dir(certFile), KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FingerprintFile(certFile)
	if err != nil || got != Fingerprint(pair.Certificate[0]) {
		t.Errorf("FingerprintFile = %q, %v; want %q", got, err, Fingerprint(pair.Certificate[0]))
	}
	missing := filepath.Join(t.TempDir(), "none.crt")
	if _, err := FingerprintFile(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
