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
	"slices"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// builtin is a built-in pattern with the lowercase words one of which a
// line must contain for the pattern to possibly match. Checking the words
// first keeps redaction close to the speed of reading the content.
type builtin struct {
	pattern  string
	triggers []string
	lines    bool // matched line by line; false: over the whole content
}

var builtins = []builtin{
	// PEM private keys of every kind: the body between the armour lines.
	{`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?P<secret>.*?)-----END [A-Z0-9 ]*PRIVATE KEY-----`, []string{"private key-----"}, false},
	// key = value, key: value and key => value where the key names a secret
	// (db_password, client_secret, api-key, auth_token …). The value may be
	// quoted.
	{`(?i)\b[\w.-]*(?:password|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\w.-]*["']?[ \t]*(?:=|:|=>)[ \t]*(?P<secret>"[^"\n]*"|'[^'\n]*'|[^\s"',;#]+)`,
		[]string{"pass", "secret", "token", "key", "credential"}, true},
	// "passwd" only with = or =>: "NOPASSWD:" in sudoers is a tag, not a
	// secret, and must stay visible.
	{`(?i)\b[\w.-]*passwd[\w.-]*["']?[ \t]*(?:=|=>)[ \t]*(?P<secret>"[^"\n]*"|'[^'\n]*'|[^\s"',;#]+)`, []string{"pass"}, true},
	// Directive style: "requirepass s3cret", "masterauth s3cret" (Redis),
	// "password s3cret" (netrc, chap-secrets).
	{`(?i)^[ \t]*(?:requirepass|masterauth|password|passwd)[ \t]+(?P<secret>[^\s=:]\S*)`, []string{"pass", "masterauth"}, true},
	// Credentials in URLs: scheme://user:secret@host.
	{`(?i)\b[a-z][a-z0-9+.-]*://[^:/\s@]+:(?P<secret>[^@\s/]+)@`, []string{"://"}, true},
	// HTTP authorization headers.
	{`(?i)\bauthorization[ \t]*:[ \t]*(?:bearer|basic|token)[ \t]+(?P<secret>\S+)`, []string{"authorization"}, true},
	// AWS access key IDs.
	{`\b(?P<secret>AKIA[0-9A-Z]{16})\b`, []string{"akia"}, true},
}

// Defaults are the built-in patterns.
var Defaults = func() []string {
	out := make([]string, len(builtins))
	for i, b := range builtins {
		out[i] = b.pattern
	}
	return out
}()

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
	whole    []rule   // run over the whole content
	lines    []rule   // run over each line that contains a trigger
	triggers [][]byte // every line rule's triggers
}

type rule struct {
	re       *regexp.Regexp
	secret   int // index of the "secret" group, or -1
	triggers [][]byte
}

// New compiles the patterns; with defaults the built-in ones come first.
// Configured patterns run over the whole content.
func New(patterns []string, defaults bool) (*Redactor, error) {
	r := &Redactor{}
	if defaults {
		for _, b := range builtins {
			re := regexp.MustCompile(b.pattern)
			ru := rule{re: re, secret: re.SubexpIndex("secret")}
			for _, t := range b.triggers {
				ru.triggers = append(ru.triggers, []byte(t))
			}
			if b.lines {
				r.lines = append(r.lines, ru)
				for _, t := range ru.triggers {
					if !slices.ContainsFunc(r.triggers, func(x []byte) bool { return bytes.Equal(x, t) }) {
						r.triggers = append(r.triggers, t)
					}
				}
			} else {
				r.whole = append(r.whole, ru)
			}
		}
	}
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redaction pattern %q: %w", p, err)
		}
		r.whole = append(r.whole, rule{re: re, secret: re.SubexpIndex("secret")})
	}
	return r, nil
}

// Redact returns content with every secret masked, and whether anything
// was. content is not modified.
func (r *Redactor) Redact(content []byte) ([]byte, bool) {
	out := content
	redacted := false
	// One lowercased copy serves the line rules and the whole-content
	// rules' triggers, until a rule changes the content.
	var lower []byte
	if len(r.lines) > 0 {
		lower = appendLower(make([]byte, 0, len(content)), content)
		if out, redacted = r.redactLines(out, lower); redacted {
			lower = nil
		}
	}
	for _, ru := range r.whole {
		if len(ru.triggers) > 0 {
			if lower == nil {
				lower = appendLower(make([]byte, 0, len(out)), out)
			}
			if !containsAny(lower, ru.triggers) {
				continue
			}
		}
		var red bool
		if out, red = ru.apply(out); red {
			redacted = true
			lower = nil
		}
	}
	return out, redacted
}

// redactLines applies the line rules to the lines that contain one of their
// triggers, copying the content only when something is masked. The
// triggers are found with one pass of bytes.Index each over lower, the
// content lowercased, so content without them costs little more than
// that copy.
func (r *Redactor) redactLines(content, lower []byte) ([]byte, bool) {
	var starts []int // line starts that hold a trigger
	for _, t := range r.triggers {
		for pos := 0; pos < len(lower); {
			i := bytes.Index(lower[pos:], t)
			if i < 0 {
				break
			}
			at := pos + i
			ls := bytes.LastIndexByte(lower[:at], '\n') + 1
			starts = append(starts, ls)
			le := bytes.IndexByte(lower[at:], '\n')
			if le < 0 {
				break
			}
			pos = at + le + 1
		}
	}
	if len(starts) == 0 {
		return content, false
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	var out []byte // nil until the first change
	done := 0      // bytes of content already copied into out
	redacted := false
	for _, ls := range starts {
		le := len(content)
		if i := bytes.IndexByte(content[ls:], '\n'); i >= 0 {
			le = ls + i
		}
		line, low := content[ls:le], lower[ls:le]
		changed := line
		any := false
		for _, ru := range r.lines {
			if !containsAny(low, ru.triggers) {
				continue
			}
			var red bool
			if changed, red = ru.apply(changed); red {
				any = true
			}
		}
		if !any {
			continue
		}
		redacted = true
		if out == nil {
			out = make([]byte, 0, len(content)+64)
		}
		out = append(out, content[done:ls]...)
		out = append(out, changed...)
		done = le
	}
	if out == nil {
		return content, false
	}
	return append(out, content[done:]...), redacted
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func containsAny(s []byte, words [][]byte) bool {
	for _, w := range words {
		if bytes.Contains(s, w) {
			return true
		}
	}
	return false
}

// apply replaces every match of the rule in b, or the "secret" group of
// it; it returns b itself when nothing matched.
func (ru rule) apply(b []byte) ([]byte, bool) {
	locs := ru.re.FindAllSubmatchIndex(b, -1)
	if len(locs) == 0 {
		return b, false
	}
	var out bytes.Buffer
	out.Grow(len(b))
	last := 0
	redacted := false
	for _, loc := range locs {
		start, end := loc[0], loc[1]
		if g := ru.secret; g >= 0 && loc[2*g] >= 0 {
			start, end = loc[2*g], loc[2*g+1]
		}
		if start < last || start == end {
			continue
		}
		out.Write(b[last:start])
		if bytes.Equal(b[start:end], []byte(Mask)) {
			out.Write(b[start:end])
		} else {
			out.WriteString(Mask)
			redacted = true
		}
		last = end
	}
	out.Write(b[last:])
	return out.Bytes(), redacted
}
