package connector

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Credentials are what a connector logs in with. Which fields it uses
// depends on its kind: Username and Password (basic auth: ServiceNow,
// Jira with an API token as the password), Token (a bearer token:
// ServiceNow OAuth), ClientID and ClientSecret (OAuth client
// credentials: HaloPSA; ConnectWise's clientId), Company, PublicKey and
// PrivateKey (ConnectWise member API keys), Secret (the shared secret of
// a signed webhook).
//
// They are kept as JSON in a file readable by the collector only, or in
// an environment variable. String and GoString hide them, so that a
// stray log line shows nothing.
type Credentials struct {
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	Token        string `json:"token,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Company      string `json:"company,omitempty"`
	PublicKey    string `json:"public_key,omitempty"`
	PrivateKey   string `json:"private_key,omitempty"`
	Secret       string `json:"secret,omitempty"`
}

// String hides the credentials.
func (Credentials) String() string { return "[credentials]" }

// GoString hides the credentials.
func (Credentials) GoString() string { return "[credentials]" }

// secrets lists the values that must never appear in a message.
func (c Credentials) secrets() []string {
	var out []string
	for _, s := range []string{c.Password, c.Token, c.ClientSecret, c.PrivateKey, c.Secret} {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	return out
}

// CredentialSource says where a connector's credentials are: a file or
// an environment variable holding their JSON. They are read at every
// use, so that a rotated secret needs no restart.
type CredentialSource struct {
	// File is an absolute path; Env the name of an environment variable.
	// Exactly one is set.
	File string
	Env  string
	// Inline are credentials given through the API, kept sealed in the
	// store and opened when the connector's configuration is read.
	Inline *Credentials
}

// Load reads and decodes the credentials. Errors name the file or
// variable, never its content, and wrap ErrAuth.
func (s CredentialSource) Load() (Credentials, error) {
	var raw []byte
	var where string
	switch {
	case s.File != "":
		where = "credentials file " + s.File
		b, err := os.ReadFile(s.File)
		if err != nil {
			return Credentials{}, fmt.Errorf("read %s: %w: %w", where, ErrAuth, err)
		}
		raw = b
	case s.Env != "":
		where = "environment variable " + s.Env
		v, ok := os.LookupEnv(s.Env)
		if !ok || strings.TrimSpace(v) == "" {
			return Credentials{}, fmt.Errorf("read %s: %w: it is not set", where, ErrAuth)
		}
		raw = []byte(v)
	case s.Inline != nil:
		return *s.Inline, nil
	default:
		return Credentials{}, nil
	}
	var c Credentials
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		// The JSON error may quote the content; say only where and what kind.
		return Credentials{}, fmt.Errorf("read %s: %w: not a JSON object with fields such as \"username\" and \"password\" (%s)", where, ErrAuth, jsonErrKind(err))
	}
	return c, nil
}

// jsonErrKind describes a JSON decoding error without quoting the input.
func jsonErrKind(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q has the wrong type", e.Field)
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed"
}

// redact replaces every secret of c in s.
func (c Credentials) redact(s string) string {
	for _, v := range c.secrets() {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// KeyFileName is the file under the collector's data directory that
// holds the key sealing credentials given through the API.
const KeyFileName = "connector-secrets.key"

// Sealer seals and opens credentials with AES-256-GCM. The connector's
// name is bound to the sealed bytes as additional data, so that sealed
// credentials copied to another connector do not open.
type Sealer struct {
	aead cipher.AEAD
}

// sealVersion is the first byte of sealed credentials.
const sealVersion = 1

// LoadSealer reads the 32-byte key at path, or creates it there (mode
// 0600, written once, never replaced) when there is none. Every
// collector sharing a store needs a copy of the same key file.
func LoadSealer(path string) (*Sealer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("create secrets key %s: %w", path, err)
		}
		if err := writeKey(path, key); err != nil {
			return nil, err
		}
		// Another process may have created it first: use what is there.
		key, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets key %s: %w", path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("read secrets key %s: want 32 bytes, found %d", path, len(key))
	}
	return NewSealer(key)
}

// writeKey creates the key file exclusively, so that an existing key is
// never replaced.
func writeKey(path string, key []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create secrets key %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create secrets key %s: %w", path, err)
	}
	_, werr := f.Write(key)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("create secrets key %s: %w", path, werr)
	}
	return nil
}

// NewSealer returns a Sealer with a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts the credentials of the named connector.
func (s *Sealer) Seal(name string, c Credentials) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("seal credentials of connector %s: %w", name, err)
	}
	nonce := make([]byte, s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal credentials of connector %s: %w", name, err)
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(name)), nil
}

// Open decrypts the credentials Seal sealed for the named connector. The
// error says only that they do not open: a wrong key, another
// connector's, or damaged.
func (s *Sealer) Open(name string, sealed []byte) (Credentials, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return Credentials{}, fmt.Errorf("open credentials of connector %s: %w: not sealed credentials", name, ErrAuth)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(name))
	if err != nil {
		return Credentials{}, fmt.Errorf("open credentials of connector %s: %w: they do not open with this collector's secrets key", name, ErrAuth)
	}
	var c Credentials
	if err := json.Unmarshal(plain, &c); err != nil {
		return Credentials{}, fmt.Errorf("open credentials of connector %s: %w: %s", name, ErrAuth, jsonErrKind(err))
	}
	return c, nil
}
