package reporter

import (
	"strings"
	"testing"
)

func TestMarkdownText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"*bold* _it_ `code` [link](x) <b>", `\*bold\* \_it\_ \` + "`" + `code\` + "`" + ` \[link\](x) \<b\>`},
		{"# heading", `\# heading`},
		{"- item", `\- item`},
		{"1. item", `1\. item`},
		{"12) item", `12\) item`},
		{"a | b", `a \| b`},
		{"&amp;", `\&amp;`},
		{"line\nbreak", `line\<U+000A\>break`},
		{"1.5 GiB", "1.5 GiB"},
	}
	for _, tt := range tests {
		if got := MarkdownText(tt.in); got != tt.want {
			t.Errorf("MarkdownText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMarkdownFence(t *testing.T) {
	tests := []struct {
		name, content, info, want string
	}{
		{"plain", "a\nb\n", "", "```\na\nb\n```\n"},
		{"no final newline", "a", "", "```\na\n```\n"},
		{"holds three backticks", "x\n```\ny\n", "", "````\nx\n```\ny\n````\n"},
		{"holds a longer run", "``````\n", "diff", "```````diff\n``````\n```````\n"},
		{"info cannot break the fence line", "a\n", "x`y\nz", "```xyz\na\n```\n"},
		{"hidden characters shown", "a\u202Eb\x00\n", "", "```\na<U+202E>b<U+0000>\n```\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MarkdownFence(tt.content, tt.info)
			if got != tt.want {
				t.Errorf("MarkdownFence = %q, want %q", got, tt.want)
			}
			// The block's own closing fence is its only line made of as
			// many backticks as the opening one.
			ls := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			fence := strings.TrimRight(ls[0], "abcdefghijklmnopqrstuvwxyz")
			for i, l := range ls[1 : len(ls)-1] {
				if strings.HasPrefix(strings.TrimSpace(l), fence) {
					t.Errorf("content line %d %q would close the fence %q", i+1, l, fence)
				}
			}
		})
	}
}
