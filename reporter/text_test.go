package reporter

import (
	"testing"
)

func TestVisibleText(t *testing.T) {
	tests := []struct {
		name, in  string
		multiline bool
		want      string
	}{
		{"plain ASCII", "PermitRootLogin yes", false, "PermitRootLogin yes"},
		{"tab kept", "a\tb", false, "a\tb"},
		{"newline marked on one line", "a\nb", false, "a<U+000A>b"},
		{"newline kept in multiline", "a\nb\n", true, "a\nb\n"},
		{"carriage return marked", "a\r\n", true, "a<U+000D>\n"},
		{"NUL", "x\x00y", false, "x<U+0000>y"},
		{"escape sequence", "\x1b[31mred", false, "<U+001B>[31mred"},
		{"DEL and C1", "a\x7fb\u0085c", false, "a<U+007F>b<U+0085>c"},
		{"RTL override (Trojan Source)", "admin\u202E \u2066// check\u2069", false, "admin<U+202E> <U+2066>// check<U+2069>"},
		{"zero width", "pass\u200Bword\uFEFF", false, "pass<U+200B>word<U+FEFF>"},
		{"invalid UTF-8", "bad\xff\xfe!", false, `bad\xff\xfe!`},
		{"truncated rune", "caf\xc3", false, `caf\xc3`},
		{"ordinary Unicode untouched", "naïve 日本 ✓ 🎉", false, "naïve 日本 ✓ 🎉"},
		{"U+FFFD itself untouched", "\uFFFD", false, "\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VisibleText(tt.in, tt.multiline); got != tt.want {
				t.Errorf("VisibleText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestVisibleHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"markup escaped", `<a href="x">&'`, `&lt;a href=&#34;x&#34;&gt;&amp;&#39;`},
		{"bidi marked", "\u202E", `<span class="cc" title="U+202E RIGHT-TO-LEFT OVERRIDE">U+202E</span>`},
		{"invalid byte marked", "\xff<", `<span class="cc" title="byte that is not valid UTF-8">\xff</span>&lt;`},
		{"NUL marked", "\x00", `<span class="cc" title="U+0000 NULL">U+0000</span>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(visibleHTML(tt.in, false)); got != tt.want {
				t.Errorf("visibleHTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHighlight(t *testing.T) {
	tests := []struct{ s, q, want string }{
		{"PermitRootLogin yes", "root", "Permit<mark>Root</mark>Login yes"},
		{"<root> root", "root", "&lt;<mark>root</mark>&gt; <mark>root</mark>"},
		{"a<b", "<", "a<mark>&lt;</mark>b"},
		{"nothing", "", "nothing"},
		{"x\u202Ey", "y", `x<span class="cc" title="U+202E RIGHT-TO-LEFT OVERRIDE">U+202E</span><mark>y</mark>`},
	}
	for _, tt := range tests {
		if got := string(highlightHTML(tt.s, tt.q)); got != tt.want {
			t.Errorf("highlightHTML(%q, %q) = %q, want %q", tt.s, tt.q, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\r\nBcc: x@y\u202E", 100); got != "a Bcc: x@y<U+202E>" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine("ééééé", 5); got != "éé…" {
		t.Errorf("oneLine cut = %q, want a cut at a rune boundary", got)
	}
}
