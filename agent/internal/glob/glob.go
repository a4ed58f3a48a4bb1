// Package glob matches slash-separated paths against patterns with "**".
//
// A pattern that starts with "/" is anchored at the root and matched segment
// by segment: "*", "?" and "[…]" work within one segment as in path.Match,
// and a "**" segment matches zero or more whole segments
// ("/etc/**/*.conf"). A pattern with no "/" at all matches the last segment
// of a path at any depth ("*.swp"). A pattern that starts with "**/" matches
// at any depth too.
package glob

import (
	"fmt"
	"path"
	"strings"
)

// Pattern is a compiled pattern.
type Pattern struct {
	text     string
	segments []string // nil for a base-name pattern
	base     string   // the pattern for a base-name match
}

// Compile checks a pattern and compiles it.
func Compile(p string) (*Pattern, error) {
	if p == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	if !strings.Contains(p, "/") {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		return &Pattern{text: p, base: p}, nil
	}
	if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "**/") {
		return nil, fmt.Errorf("pattern %q: must start with \"/\" or \"**/\", or name a base name without \"/\"", p)
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if strings.Contains(s, "**") {
			return nil, fmt.Errorf("pattern %q: \"**\" must be a whole path segment", p)
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	return &Pattern{text: p, segments: segs}, nil
}

// String returns the pattern's text.
func (p *Pattern) String() string { return p.text }

// Match reports whether the slash-separated path name matches.
func (p *Pattern) Match(name string) bool {
	if p.segments == nil {
		ok, _ := path.Match(p.base, path.Base(name))
		return ok
	}
	return matchSegments(p.segments, strings.Split(strings.Trim(name, "/"), "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if matchSegments(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// HasMeta reports whether p contains any of the characters that make it a
// pattern rather than a literal path.
func HasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// Prefix returns the longest leading directory of an anchored pattern that
// has no pattern characters: where a walk for its matches starts.
func Prefix(p string) string {
	segs := strings.Split(p, "/")
	out := []string{}
	for _, s := range segs {
		if HasMeta(s) {
			break
		}
		out = append(out, s)
	}
	pre := strings.Join(out, "/")
	if pre == "" {
		return "/"
	}
	return pre
}

// Set is a list of patterns; it matches a path when any pattern does.
type Set []*Pattern

// CompileSet compiles every pattern, naming the first bad one.
func CompileSet(ps []string) (Set, error) {
	s := make(Set, 0, len(ps))
	for _, p := range ps {
		c, err := Compile(p)
		if err != nil {
			return nil, err
		}
		s = append(s, c)
	}
	return s, nil
}

// Match reports whether any pattern matches name.
func (s Set) Match(name string) bool {
	for _, p := range s {
		if p.Match(name) {
			return true
		}
	}
	return false
}
