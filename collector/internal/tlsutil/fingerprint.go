package tlsutil

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Fingerprint returns the canonical fingerprint of a certificate: the
// SHA-256 of its DER encoding as 64 lowercase hex digits.
func Fingerprint(certDER []byte) string {
	sum := sha256.Sum256(certDER)
	return hex.EncodeToString(sum[:])
}

// FormatFingerprint renders a fingerprint for people: 32 uppercase hex
// pairs joined by colons ("AB:CD:…"), as browsers and
// "openssl x509 -fingerprint -sha256" show it. fp may be in any form
// ParseFingerprint accepts; a string that is not a fingerprint comes back
// unchanged.
func FormatFingerprint(fp string) string {
	canon, err := ParseFingerprint(fp)
	if err != nil {
		return fp
	}
	var b strings.Builder
	b.Grow(sha256.Size*3 - 1)
	for i := 0; i < len(canon); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(canon[i : i+2]))
	}
	return b.String()
}

// ParseFingerprint accepts a SHA-256 fingerprint as 64 hex digits or as 32
// hex pairs joined by colons, in either case, optionally prefixed with
// "sha256:" or "SHA256:" and surrounded by space, and returns its canonical
// form (see Fingerprint).
func ParseFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 7 && strings.EqualFold(t[:7], "sha256:") {
		t = t[7:]
	}
	if strings.Contains(t, ":") {
		pairs := strings.Split(t, ":")
		if len(pairs) != sha256.Size {
			return "", fmt.Errorf("fingerprint %q: want %d colon-separated hex pairs, got %d groups", s, sha256.Size, len(pairs))
		}
		for _, p := range pairs {
			if len(p) != 2 {
				return "", fmt.Errorf("fingerprint %q: group %q is not a hex pair", s, p)
			}
		}
		t = strings.Join(pairs, "")
	}
	if len(t) != 2*sha256.Size {
		return "", fmt.Errorf("fingerprint %q: want %d hex digits of a SHA-256, got %d characters", s, 2*sha256.Size, len(t))
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return "", fmt.Errorf("fingerprint %q: not hex: %w", s, err)
	}
	return hex.EncodeToString(b), nil
}

// FingerprintFile returns the canonical fingerprint of the first
// certificate in a PEM file.
func FingerprintFile(certFile string) (string, error) {
	cert, err := readCert(certFile)
	if err != nil {
		return "", err
	}
	return Fingerprint(cert.Raw), nil
}

// PinnedVerifier returns a function for tls.Config.VerifyPeerCertificate
// that accepts a peer only when its leaf certificate's fingerprint is fp
// (in any form ParseFingerprint accepts). It replaces chain verification,
// so the tls.Config must set InsecureSkipVerify; the pin alone decides, and
// the certificate's names and validity period are not checked. The error
// for a wrong certificate names the fingerprint seen and the one expected.
// When fp is not a fingerprint, every peer is refused with an error that
// says so.
//
//	cfg := &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: tlsutil.PinnedVerifier(fp)}
func PinnedVerifier(fp string) func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	want, perr := ParseFingerprint(fp)
	return func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		if perr != nil {
			return fmt.Errorf("pinned certificate: %w", perr)
		}
		if len(rawCerts) == 0 {
			return fmt.Errorf("pinned certificate: peer presented no certificate, expected fingerprint %s", want)
		}
		if seen := Fingerprint(rawCerts[0]); seen != want {
			return fmt.Errorf("pinned certificate: peer presented fingerprint %s, expected %s", seen, want)
		}
		return nil
	}
}

// readCert parses the first CERTIFICATE block of a PEM file.
func readCert(certFile string) (*x509.Certificate, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate %s: %w", certFile, err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("read certificate %s: %w", certFile, errNoPEM("CERTIFICATE"))
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("read certificate %s: %w", certFile, err)
		}
		return cert, nil
	}
}

func errNoPEM(typ string) error {
	return errors.New("no PEM " + typ + " block")
}
