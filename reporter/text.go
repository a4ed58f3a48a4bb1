package reporter

import (
	"fmt"
	"html/template"
	"strings"
	"unicode/utf8"
)

// Text from a host (item keys, file content, command output) is shown as
// it is, except for characters that would hide or disguise what it says:
// control characters, bidirectional overrides and isolates (the "Trojan
// Source" characters), zero-width characters, line and paragraph
// separators, and bytes that are not valid UTF-8. Those are shown as a
// visible marker instead: in HTML a marked span ("U+202E" titled
// "RIGHT-TO-LEFT OVERRIDE"), in text and Markdown "<U+202E>", and an
// invalid byte as \xNN.

// specialNames names the characters that are shown as markers, besides
// the C0 and C1 controls.
var specialNames = map[rune]string{
	0x00AD: "SOFT HYPHEN",
	0x061C: "ARABIC LETTER MARK",
	0x115F: "HANGUL CHOSEONG FILLER",
	0x1160: "HANGUL JUNGSEONG FILLER",
	0x180E: "MONGOLIAN VOWEL SEPARATOR",
	0x200B: "ZERO WIDTH SPACE",
	0x200C: "ZERO WIDTH NON-JOINER",
	0x200D: "ZERO WIDTH JOINER",
	0x200E: "LEFT-TO-RIGHT MARK",
	0x200F: "RIGHT-TO-LEFT MARK",
	0x2028: "LINE SEPARATOR",
	0x2029: "PARAGRAPH SEPARATOR",
	0x202A: "LEFT-TO-RIGHT EMBEDDING",
	0x202B: "RIGHT-TO-LEFT EMBEDDING",
	0x202C: "POP DIRECTIONAL FORMATTING",
	0x202D: "LEFT-TO-RIGHT OVERRIDE",
	0x202E: "RIGHT-TO-LEFT OVERRIDE",
	0x2060: "WORD JOINER",
	0x2061: "FUNCTION APPLICATION",
	0x2062: "INVISIBLE TIMES",
	0x2063: "INVISIBLE SEPARATOR",
	0x2064: "INVISIBLE PLUS",
	0x2066: "LEFT-TO-RIGHT ISOLATE",
	0x2067: "RIGHT-TO-LEFT ISOLATE",
	0x2068: "FIRST STRONG ISOLATE",
	0x2069: "POP DIRECTIONAL ISOLATE",
	0x206A: "INHIBIT SYMMETRIC SWAPPING",
	0x206B: "ACTIVATE SYMMETRIC SWAPPING",
	0x206C: "INHIBIT ARABIC FORM SHAPING",
	0x206D: "ACTIVATE ARABIC FORM SHAPING",
	0x206E: "NATIONAL DIGIT SHAPES",
	0x206F: "NOMINAL DIGIT SHAPES",
	0x3164: "HANGUL FILLER",
	0xFEFF: "ZERO WIDTH NO-BREAK SPACE",
	0xFFA0: "HALFWIDTH HANGUL FILLER",
	0xFFF9: "INTERLINEAR ANNOTATION ANCHOR",
	0xFFFA: "INTERLINEAR ANNOTATION SEPARATOR",
	0xFFFB: "INTERLINEAR ANNOTATION TERMINATOR",
}

// c0Names names the C0 control characters.
var c0Names = [32]string{
	"NULL", "START OF HEADING", "START OF TEXT", "END OF TEXT", "END OF TRANSMISSION", "ENQUIRY",
	"ACKNOWLEDGE", "BELL", "BACKSPACE", "CHARACTER TABULATION", "LINE FEED", "LINE TABULATION",
	"FORM FEED", "CARRIAGE RETURN", "SHIFT OUT", "SHIFT IN", "DATA LINK ESCAPE", "DEVICE CONTROL ONE",
	"DEVICE CONTROL TWO", "DEVICE CONTROL THREE", "DEVICE CONTROL FOUR", "NEGATIVE ACKNOWLEDGE",
	"SYNCHRONOUS IDLE", "END OF TRANSMISSION BLOCK", "CANCEL", "END OF MEDIUM", "SUBSTITUTE", "ESCAPE",
	"INFORMATION SEPARATOR FOUR", "INFORMATION SEPARATOR THREE", "INFORMATION SEPARATOR TWO",
	"INFORMATION SEPARATOR ONE",
}

// special reports whether r is shown as a marker, and its name. Tab is
// never special; newline is special only when multiline is false.
func special(r rune, multiline bool) (string, bool) {
	switch {
	case r == '\t':
		return "", false
	case r == '\n':
		if multiline {
			return "", false
		}
		return c0Names[r], true
	case r < 0x20:
		return c0Names[r], true
	case r < 0x7F:
		return "", false
	case r == 0x7F:
		return "DELETE", true
	case r < 0xA0:
		return "CONTROL", true
	case r == utf8.RuneError:
		return "", false
	}
	if n, ok := specialNames[r]; ok {
		return n, true
	}
	if r >= 0xE0000 && r <= 0xE007F {
		return "TAG CHARACTER", true
	}
	return "", false
}

// plain reports whether s can be shown as it is: valid UTF-8 with no
// special character.
func plain(s string, multiline bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7F || c == '\t' || c == '\n' && multiline {
			continue
		}
		if c < utf8.RuneSelf {
			return false
		}
		// Non-ASCII: decode the rest rune by rune.
		for _, r := range s[i:] {
			if r == utf8.RuneError {
				return false
			}
			if _, sp := special(r, multiline); sp {
				return false
			}
		}
		return true
	}
	return true
}

// markerCode is the short code shown for a special rune: "U+202E".
func markerCode(r rune) string { return fmt.Sprintf("U+%04X", r) }

// visibleHTML returns s escaped for HTML text, with special characters and
// invalid bytes as marked spans. Newlines are kept when multiline is set.
func visibleHTML(s string, multiline bool) template.HTML {
	if plain(s, multiline) {
		return template.HTML(template.HTMLEscapeString(s))
	}
	var sb strings.Builder
	sb.Grow(len(s) + 64)
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteString(template.HTMLEscapeString(s[start:i]))
			fmt.Fprintf(&sb, `<span class="cc" title="byte that is not valid UTF-8">\x%02x</span>`, s[i])
			i++
			start = i
			continue
		}
		if name, sp := special(r, multiline); sp {
			sb.WriteString(template.HTMLEscapeString(s[start:i]))
			sb.WriteString(`<span class="cc" title="`)
			sb.WriteString(markerCode(r))
			sb.WriteByte(' ')
			sb.WriteString(name)
			sb.WriteString(`">`)
			sb.WriteString(markerCode(r))
			sb.WriteString(`</span>`)
			i += size
			start = i
			continue
		}
		i += size
	}
	sb.WriteString(template.HTMLEscapeString(s[start:]))
	return template.HTML(sb.String())
}

// VisibleText returns s with every control character (except tab, and
// newline when multiline is set), bidirectional or zero-width character
// written as "<U+XXXX>" and every byte that is not valid UTF-8 as \xNN, so
// that plain text, Markdown and CSV show what a host string really holds.
func VisibleText(s string, multiline bool) string {
	if plain(s, multiline) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&sb, `\x%02x`, s[i])
			i++
			continue
		}
		if _, sp := special(r, multiline); sp {
			sb.WriteString("<" + markerCode(r) + ">")
		} else {
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}

// highlightHTML returns s escaped for HTML text like visibleHTML, with
// every case-insensitive occurrence of q wrapped in <mark>.
func highlightHTML(s, q string) template.HTML {
	q = strings.TrimSpace(q)
	if q == "" || !utf8.ValidString(s) {
		return visibleHTML(s, false)
	}
	ls, lq := strings.ToLower(s), strings.ToLower(q)
	if len(ls) != len(s) || len(lq) != len(q) {
		// Case folding changed byte lengths; offsets would not line up.
		return visibleHTML(s, false)
	}
	var sb strings.Builder
	for {
		i := strings.Index(ls, lq)
		if i < 0 {
			sb.WriteString(string(visibleHTML(s, false)))
			break
		}
		sb.WriteString(string(visibleHTML(s[:i], false)))
		sb.WriteString("<mark>")
		sb.WriteString(string(visibleHTML(s[i:i+len(q)], false)))
		sb.WriteString("</mark>")
		s, ls = s[i+len(q):], ls[i+len(q):]
	}
	return template.HTML(sb.String())
}

// truncateRunes cuts s to at most n bytes at a rune boundary and reports
// whether it cut.
func truncateRunes(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// oneLine returns s for a single-line context such as an email subject or
// a header: every run of whitespace and control characters becomes one
// space, special characters are written visibly, and the result is cut to
// max bytes with an ellipsis.
func oneLine(s string, max int) string {
	s = VisibleText(s, false)
	s = strings.Join(strings.Fields(strings.NewReplacer("<U+000A>", " ", "<U+000D>", " ").Replace(s)), " ")
	if t, cut := truncateRunes(s, max); cut {
		return t + "…"
	}
	return s
}
