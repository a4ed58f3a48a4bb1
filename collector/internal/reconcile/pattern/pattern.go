package pattern

import (
	"fmt"
	"slices"
	"strings"

	"github.com/driftwatch/driftwatch/baseline"
)

// Kinds are the item kinds a pattern may name, in the order error messages
// list them.
var Kinds = []string{
	baseline.KindFile, baseline.KindPackage, baseline.KindService, baseline.KindSysctl,
	baseline.KindUser, baseline.KindGroup, baseline.KindPort, baseline.KindCommand,
	baseline.KindInventory,
}

// Pattern is a compiled kind:glob pattern. Its zero value matches nothing;
// a compiled Pattern is safe for concurrent use.
type Pattern struct {
	text    string   // as written
	kind    string   // the item kind
	literal bool     // the glob has no metacharacters: text is the exact key
	prefix  string   // the key's literal start: kind, ":" and the glob up to its first metacharacter
	bucket  string   // see Bucket
	segs    []string // the glob split at "/", for a pattern that is not literal
	whole   bool     // the name is one segment: "/" separates nothing (sysctl)
}

// Compile checks a pattern and compiles it. Errors name the pattern and
// say what is wrong with it.
func Compile(s string) (*Pattern, error) {
	kind, glob, ok := strings.Cut(s, ":")
	switch {
	case strings.TrimSpace(s) == "":
		return nil, fmt.Errorf("empty pattern: want kind:glob such as \"file:/etc/nginx/**\" or \"package:openssl\"")
	case !ok:
		return nil, fmt.Errorf("pattern %q has no kind: want kind:glob such as \"file:/etc/nginx/**\" or \"package:openssl\"", s)
	case !slices.Contains(Kinds, kind):
		return nil, fmt.Errorf("pattern %q: unknown kind %q (known kinds: %s)", s, kind, strings.Join(Kinds, ", "))
	case glob == "":
		return nil, fmt.Errorf("pattern %q has nothing after %q: use %q for every %s item", s, kind+":", kind+":"+everything(kind), kind)
	case kind == baseline.KindFile && !strings.HasPrefix(glob, "/") && !strings.HasPrefix(glob, "**"):
		return nil, fmt.Errorf("pattern %q: file patterns must be absolute paths such as \"file:/%s\"", s, glob)
	case strings.TrimSpace(glob) != glob:
		return nil, fmt.Errorf("pattern %q has leading or trailing spaces", s)
	}
	segs := []string{glob}
	if kind != baseline.KindSysctl {
		segs = strings.Split(glob, "/")
	}
	for i, seg := range segs {
		switch {
		case seg == "" && i == 0 && kind == baseline.KindFile:
			// The empty segment before a file path's leading "/".
		case seg == "" && i == len(segs)-1:
			return nil, fmt.Errorf("pattern %q ends with \"/\": use %q for everything below it", s, s+"**")
		case seg == "":
			return nil, fmt.Errorf("pattern %q has an empty path segment (\"//\" or a leading \"/\")", s)
		case seg == "**":
		case strings.Contains(seg, "**"):
			return nil, fmt.Errorf("pattern %q: \"**\" must be a whole path segment such as \"/etc/**/*.conf\"; within a segment use \"*\"", s)
		default:
			if err := CheckGlob(seg); err != nil {
				return nil, fmt.Errorf("pattern %q: %w", s, err)
			}
		}
	}
	p := &Pattern{text: s, kind: kind, whole: kind == baseline.KindSysctl}
	if i := strings.IndexAny(glob, `*?[\`); i >= 0 {
		// A "**" segment may match nothing, so the "/" before it is not
		// part of every matching key.
		lit := glob[:i]
		if strings.HasPrefix(glob[i:], "**") && strings.HasSuffix(lit, "/") {
			// Every match is lit without its "/", or starts with lit.
			lit = lit[:len(lit)-1]
			p.prefix = kind + ":" + lit
			p.bucket = p.prefix
		} else {
			// Every match starts with lit: with lit up to its last "/",
			// then a "/".
			p.prefix = kind + ":" + lit
			p.bucket = kind + ":"
			if j := strings.LastIndexByte(lit, '/'); j > 0 {
				p.bucket = kind + ":" + lit[:j]
			}
		}
		// "**/**" is "**"; keep one, so that matching stays cheap.
		p.segs = slices.CompactFunc(segs, func(a, b string) bool { return a == "**" && b == "**" })
	} else {
		p.literal = true
		p.prefix = s
		p.bucket = s
	}
	return p, nil
}

// everything is the glob that matches every item of a kind.
func everything(kind string) string {
	if kind == baseline.KindFile {
		return "/**"
	}
	return "**"
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.text }

// Kind returns the item kind the pattern matches.
func (p *Pattern) Kind() string { return p.kind }

// Literal returns the one key the pattern matches and true when it has no
// metacharacters.
func (p *Pattern) Literal() (string, bool) { return p.text, p.literal }

// Prefix returns what every key the pattern matches starts with: the
// kind, the colon and the glob's literal start.
func (p *Pattern) Prefix() string { return p.prefix }

// Bucket returns a start of the keys the pattern matches that Buckets
// lists for each of them: the key itself for a literal pattern; else the
// literal start up to a "/" (every key the pattern matches equals the
// bucket or continues it with a "/"), or just the kind and colon. Indexes
// use it to try only the patterns that can match a key.
func (p *Pattern) Bucket() string { return p.bucket }

// Buckets calls yield with every bucket a pattern that matches key can be
// in: key's kind and colon, each start of key that ends just before a
// "/", and key itself. It does not allocate.
func Buckets(key string, yield func(bucket string)) {
	kind := strings.IndexByte(key, ':')
	if kind < 0 {
		return
	}
	yield(key[:kind+1])
	for i := kind + 2; i < len(key); i++ {
		if key[i] == '/' {
			yield(key[:i])
		}
	}
	if len(key) > kind+1 {
		yield(key)
	}
}

// Match reports whether an item key matches the pattern.
func (p *Pattern) Match(key string) bool {
	if p.literal {
		return key == p.text
	}
	if !strings.HasPrefix(key, p.prefix) {
		return false
	}
	name := key[len(p.kind)+1:]
	if p.whole {
		return p.segs[0] == "**" || MatchGlob(p.segs[0], name)
	}
	return matchSegs(p.segs, name, true)
}

// matchSegs reports whether the segments of name (name split at "/") match
// segs. more says that name still holds a segment: an empty name with more
// set is one empty segment, as before a leading "/".
func matchSegs(segs []string, name string, more bool) bool {
	for len(segs) > 0 {
		if segs[0] == "**" {
			rest := segs[1:]
			if len(rest) == 0 {
				return true
			}
			for {
				if matchSegs(rest, name, more) {
					return true
				}
				if !more {
					return false
				}
				name, more = skipSeg(name)
			}
		}
		if !more {
			return false
		}
		seg := name
		if i := strings.IndexByte(name, '/'); i >= 0 {
			seg = name[:i]
		}
		if !matchSeg(segs[0], seg) {
			return false
		}
		name, more = skipSeg(name)
		segs = segs[1:]
	}
	return !more
}

// skipSeg drops name's first segment, saying whether another follows.
func skipSeg(name string) (string, bool) {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[i+1:], true
	}
	return "", false
}

// matchSeg matches one segment, literally when the pattern segment has no
// metacharacters.
func matchSeg(pat, seg string) bool {
	if !strings.ContainsAny(pat, `*?[\`) {
		return pat == seg
	}
	return MatchGlob(pat, seg)
}

// Set is a list of compiled patterns; it matches a key when any of its
// patterns does.
type Set []*Pattern

// CompileSet compiles every pattern; the error names the first bad one
// with its index.
func CompileSet(ps []string) (Set, error) {
	out := make(Set, 0, len(ps))
	for i, s := range ps {
		p, err := Compile(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Match returns the first pattern that matches key, or nil.
func (s Set) Match(key string) *Pattern {
	for _, p := range s {
		if p.Match(key) {
			return p
		}
	}
	return nil
}
