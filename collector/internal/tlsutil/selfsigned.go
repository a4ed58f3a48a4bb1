package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names of the self-signed pair in the data directory.
const (
	CertFileName = "self-signed.crt"
	KeyFileName  = "self-signed.key"
)

// Validity is how long a generated certificate is valid.
const Validity = 10 * 365 * 24 * time.Hour

// EnsureSelfSigned returns the self-signed certificate and key files in
// dataDir, generating them on the first call: an ECDSA P-256 key (PKCS #8
// PEM, mode 0600) and a certificate valid from an hour before now for ten
// years, with each of hosts as a subject alternative name (IP addresses as
// IP SANs, everything else as DNS names). Each file is written atomically
// (temporary file, fsync, rename), the key first, so the certificate's
// presence means the pair is complete.
//
// Later calls reuse the pair as it is, whatever hosts and now are: agents
// pin the certificate's fingerprint, so it is never replaced silently. A
// pair that cannot be used (unreadable, corrupt, mismatched, expired, or a
// certificate without its key) is an error that names the file; the
// operator removes both files to have a new pair generated, and enrolls the
// agents again. A key without a certificate is what a crash between the two
// writes leaves; it was never served, so it is replaced.
func EnsureSelfSigned(dataDir string, hosts []string, now time.Time) (certFile, keyFile string, err error) {
	if dataDir == "" {
		return "", "", errors.New("self-signed certificate: no data directory")
	}
	certFile = filepath.Join(dataDir, CertFileName)
	keyFile = filepath.Join(dataDir, KeyFileName)
	certExists, err := exists(certFile)
	if err != nil {
		return "", "", fmt.Errorf("self-signed certificate: %w", err)
	}
	if certExists {
		keyExists, err := exists(keyFile)
		if err != nil {
			return "", "", fmt.Errorf("self-signed certificate: %w", err)
		}
		if !keyExists {
			return "", "", fmt.Errorf("self-signed certificate %s exists but its key %s does not; restore the key, or remove the certificate to generate a new pair (agents pinned to the old one must enroll again)", certFile, keyFile)
		}
		if err := checkPair(certFile, keyFile, now); err != nil {
			return "", "", err
		}
		return certFile, keyFile, nil
	}
	if err := generate(dataDir, certFile, keyFile, hosts, now); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// checkPair checks that the pair can be served: both parse, the key
// belongs to the certificate and the certificate has not expired.
func checkPair(certFile, keyFile string, now time.Time) error {
	cert, err := readCert(certFile)
	if err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	key, err := readKey(keyFile)
	if err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("self-signed certificate: key %s does not belong to certificate %s", keyFile, certFile)
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("self-signed certificate %s expired on %s; remove it and %s to generate a new pair (agents pinned to the old one must enroll again)",
			certFile, cert.NotAfter.UTC().Format(time.DateOnly), keyFile)
	}
	return nil
}

// readKey parses the private key of a PEM file: PKCS #8 or SEC 1 EC.
func readKey(keyFile string) (crypto.Signer, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", keyFile, err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("read key %s: %w", keyFile, errNoPEM("PRIVATE KEY"))
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read key %s: %w", keyFile, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("read key %s: unsupported key type %T", keyFile, key)
		}
		return signer, nil
	}
}

func generate(dataDir, certFile, keyFile string, hosts []string, now time.Time) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("self-signed certificate: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("self-signed certificate: serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "driftwatch-collector", Organization: []string{"driftwatch"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	tmpl.DNSNames, tmpl.IPAddresses = sans(hosts)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("self-signed certificate: create: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("self-signed certificate: encode key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	return nil
}

// sans splits hosts into DNS names and IP addresses, leaving out empty and
// repeated ones; "[::1]" is taken as an IP address.
func sans(hosts []string) (names []string, ips []net.IP) {
	seen := map[string]bool{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(h)
		if !seen[h] {
			seen[h] = true
			names = append(names, h)
		}
	}
	return names, ips
}

// writeFileAtomic writes data to path so that a crash leaves either no
// file or the whole one: a temporary file in the same directory is
// written, synced and renamed over path, and the directory is synced.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: sync dir: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: sync dir: %w", path, err)
	}
	return nil
}
