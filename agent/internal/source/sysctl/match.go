package sysctl

import (
	"fmt"
	"path"
	"strings"
)

// pattern is a compiled Include or Exclude pattern: the dotted name split
// into segments.
type pattern struct {
	text string
	segs []string
}

// compilePattern checks and splits one pattern.
func compilePattern(p string) (pattern, error) {
	if p == "" {
		return pattern{}, fmt.Errorf("pattern %q: empty", p)
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return pattern{}, fmt.Errorf("pattern %q: empty segment", p)
		}
		if s == "**" {
			continue
		}
		if _, err := path.Match(segment(s), ""); err != nil {
			return pattern{}, fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	return pattern{text: p, segs: segs}, nil
}

// segment turns one segment of a dotted name (or pattern), where "/" stands
// for a dot inside a directory name (the VLAN interface eth0.100 is
// "eth0/100"), into a form path.Match can take: "*" must match that dot too.
func segment(s string) string { return strings.ReplaceAll(s, "/", ".") }

// match reports whether the dotted name, split into segments, matches p.
func (p pattern) match(name []string) bool { return matchSegs(p.segs, name) }

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			// "**" takes zero or more whole segments.
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(segment(pat[0]), segment(name[0])); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matchAny reports whether any of ps matches the split name.
func matchAny(ps []pattern, name []string) bool {
	for _, p := range ps {
		if p.match(name) {
			return true
		}
	}
	return false
}
