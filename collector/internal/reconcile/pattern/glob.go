package pattern

import (
	"fmt"
	"unicode/utf8"
)

// MatchGlob reports whether all of s matches the glob pat: "*" matches any
// run of characters, "/" included (split at separators first where they
// matter), "?" one character, "[…]" one character of a class ("[a-z]",
// "[^0-9]", "[!0-9]"), and "\" makes the next character literal. A pat
// that CheckGlob refuses may match wrongly.
func MatchGlob(pat, s string) bool {
	px, sx := 0, 0
	starPx, starSx := -1, 0
	for px < len(pat) || sx < len(s) {
		if px < len(pat) {
			switch c := pat[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, w := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += w
					continue
				}
			case '[':
				if sx < len(s) {
					r, w := utf8.DecodeRuneInString(s[sx:])
					if ok, n := matchClass(pat[px:], r); ok {
						px += n
						sx += w
						continue
					}
				}
			case '\\':
				if px+1 < len(pat) && sx < len(s) && pat[px+1] == s[sx] {
					px += 2
					sx++
					continue
				}
			default:
				if sx < len(s) && c == s[sx] {
					px++
					sx++
					continue
				}
			}
		}
		// Mismatch: let the last "*" swallow one more character.
		if starPx >= 0 && starSx < len(s) {
			_, w := utf8.DecodeRuneInString(s[starSx:])
			starSx += w
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

// matchClass matches r against the class that class starts with ("[…]"),
// returning whether it matched and the length of the class text.
func matchClass(class string, r rune) (bool, int) {
	i := 1
	negate := false
	if i < len(class) && (class[i] == '^' || class[i] == '!') {
		negate = true
		i++
	}
	matched := false
	for first := true; i < len(class); first = false {
		if class[i] == ']' && !first {
			return matched != negate, i + 1
		}
		lo, n := classChar(class[i:])
		i += n
		hi := lo
		if i+1 < len(class) && class[i] == '-' && class[i+1] != ']' {
			hi, n = classChar(class[i+1:])
			i += 1 + n
		}
		if lo <= r && r <= hi {
			matched = true
		}
	}
	return false, len(class) // unterminated; CheckGlob refuses it
}

// classChar reads one possibly escaped character of a class.
func classChar(s string) (rune, int) {
	if s[0] == '\\' && len(s) > 1 {
		r, w := utf8.DecodeRuneInString(s[1:])
		return r, 1 + w
	}
	return utf8.DecodeRuneInString(s)
}

// CheckGlob reports what is wrong with a glob: an unterminated or empty
// character class, a range that runs backwards, or a trailing "\".
func CheckGlob(seg string) error {
	for i := 0; i < len(seg); i++ {
		switch seg[i] {
		case '\\':
			if i+1 == len(seg) {
				return fmt.Errorf("glob %q ends with \"\\\", which escapes nothing", seg)
			}
			i++
		case '[':
			j := i + 1
			if j < len(seg) && (seg[j] == '^' || seg[j] == '!') {
				j++
			}
			start := j
			closed := false
			for j < len(seg) {
				if seg[j] == ']' && j > start {
					closed = true
					break
				}
				if seg[j] == '\\' && j+1 == len(seg) {
					break
				}
				lo, n := classChar(seg[j:])
				j += n
				if j+1 < len(seg) && seg[j] == '-' && seg[j+1] != ']' {
					hi, n := classChar(seg[j+1:])
					if hi < lo {
						return fmt.Errorf("glob %q: character range %c-%c runs backwards", seg, lo, hi)
					}
					j += 1 + n
				}
			}
			if !closed {
				return fmt.Errorf("glob %q: character class %q has no closing \"]\"", seg, seg[i:])
			}
			i = j
		}
	}
	return nil
}
