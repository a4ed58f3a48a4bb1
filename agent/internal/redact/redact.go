// Package redact masks secrets in configuration content before it is stored,
// printed or sent: passwords, tokens, API keys, credentials in URLs and PEM
// private keys.
//
// A pattern's match is replaced by Mask. When the pattern has a group named
// "secret", only that group is replaced, so "password = hunter2" reads
// "password = [REDACTED]" and a change elsewhere on the line still shows.
package redact

import (
	"bytes"
	"fmt"
	"regexp"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// Defaults are the built-in patterns.
var Defaults = []string{
	// PEM private keys of every kind: the body between the armour lines.
	`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?P<secret>.*?)-----END [A-Z0-9 ]*PRIVATE KEY-----`,
	// key = value, key: value and key => value where the key names a secret
	// (db_password, client_secret, api-key, auth_token …). The value may be
	// quoted.
	`(?i)\b[\w.-]*(?:password|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\w.-]*["']?[ \t]*(?:=|:|=>)[ \t]*(?P<secret>"[^"\n]*"|'[^'\n]*'|[^\s"',;#]+)`,
	// "passwd" only with = or =>: "NOPASSWD:" in sudoers is a tag, not a
	// secret, and must stay visible.
	`(?i)\b[\w.-]*passwd[\w.-]*["']?[ \t]*(?:=|=>)[ \t]*(?P<secret>"[^"\n]*"|'[^'\n]*'|[^\s"',;#]+)`,
	// Directive style: "requirepass s3cret", "masterauth s3cret" (Redis),
	// "password s3cret" (netrc, chap-secrets).
	`(?im)^[ \t]*(?:requirepass|masterauth|password|passwd)[ \t]+(?P<secret>[^\s=:]\S*)`,
	// Credentials in URLs: scheme://user:secret@host.
	`(?i)\b[a-z][a-z0-9+.-]*://[^:/\s@]+:(?P<secret>[^@\s/]+)@`,
	// HTTP authorization headers.
	`(?i)\bauthorization[ \t]*:[ \t]*(?:bearer|basic|token)[ \t]+(?P<secret>\S+)`,
	// AWS access key IDs.
	`\b(?P<secret>AKIA[0-9A-Z]{16})\b`,
}

// DigestOnly are the files whose content is never kept, only their digest:
// password hashes and private keys.
var DigestOnly = []string{
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
	"/etc/security/opasswd", "/etc/ssh/ssh_host_*_key",
	"**/id_rsa", "**/id_dsa", "**/id_ecdsa", "**/id_ed25519",
	"*.key", "*.p12", "*.pfx", "*.keytab", "*.jks",
	"/etc/ssl/private/**", "/etc/pki/tls/private/**",
}

// Redactor masks secrets with a list of patterns. It is safe for concurrent
// use.
type Redactor struct {
	patterns []*regexp.Regexp
	secret   []int // index of the "secret" group, or -1
}

// New compiles the patterns; with defaults the built-in ones come first.
func New(patterns []string, defaults bool) (*Redactor, error) {
	var all []string
	if defaults {
		all = append(all, Defaults...)
	}
	all = append(all, patterns...)
	r := &Redactor{}
	for _, p := range all {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redaction pattern %q: %w", p, err)
		}
		r.patterns = append(r.patterns, re)
		r.secret = append(r.secret, re.SubexpIndex("secret"))
	}
	return r, nil
}

// Redact returns content with every secret masked, and whether anything
// was. content is not modified.
func (r *Redactor) Redact(content []byte) ([]byte, bool) {
	out := content
	redacted := false
	for i, re := range r.patterns {
		locs := re.FindAllSubmatchIndex(out, -1)
		if len(locs) == 0 {
			continue
		}
		var b bytes.Buffer
		b.Grow(len(out))
		last := 0
		for _, loc := range locs {
			start, end := loc[0], loc[1]
			if g := r.secret[i]; g >= 0 && loc[2*g] >= 0 {
				start, end = loc[2*g], loc[2*g+1]
			}
			if start < last || start == end {
				continue
			}
			b.Write(out[last:start])
			if bytes.Equal(out[start:end], []byte(Mask)) {
				b.Write(out[start:end])
			} else {
				b.WriteString(Mask)
				redacted = true
			}
			last = end
		}
		b.Write(out[last:])
		out = b.Bytes()
	}
	return out, redacted
}
