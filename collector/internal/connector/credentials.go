package connector

import (
	"encoding/json"
	"fmt"
	"os"
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
