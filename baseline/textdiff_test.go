package baseline

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// diffCases are pairs of contents that exercise the edges of unified diffs.
var diffCases = []struct {
	name string
	a, b string
}{
	{"one line changed", "a\nb\nc\n", "a\nB\nc\n"},
	{"insert at start", "b\nc\n", "a\nb\nc\n"},
	{"append at end", "a\nb\n", "a\nb\nc\n"},
	{"delete all", "a\nb\n", ""},
	{"from empty", "", "a\nb\n"},
	{"no trailing newline both", "a\nb", "a\nc"},
	{"newline added at end", "a\nb", "a\nb\n"},
	{"newline removed at end", "a\nb\n", "a\nb"},
	{"crlf", "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n"},
	{"crlf to lf", "a\r\nb\r\n", "a\nb\n"},
	{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n", "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\nY\n15\n"},
	{"merged hunks", "1\n2\n3\n4\n5\n6\n7\n8\n", "1\nX\n3\n4\n5\n6\nY\n8\n"},
	{"repeated lines", "x\nx\nx\ny\nx\nx\n", "x\nx\ny\nx\nx\nx\n"},
	{"sshd", "Port 22\nPermitRootLogin no\nPasswordAuthentication no\nX11Forwarding no\n", "Port 2222\nPermitRootLogin yes\nPasswordAuthentication no\nX11Forwarding no\nAllowUsers deploy\n"},
}

func goldenName(name string) string {
	return filepath.Join("testdata", "textdiff", strings.ReplaceAll(name, " ", "_")+".diff")
}

func TestUnifiedDiffGolden(t *testing.T) {
	for _, tt := range diffCases {
		t.Run(tt.name, func(t *testing.T) {
			got := UnifiedDiff("a/f", "b/f", tt.a, tt.b, DefaultContext)
			path := goldenName(tt.name)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diff differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// TestUnifiedDiffIsAPatch applies each diff to the old content with GNU
// patch and expects the new content, byte for byte.
func TestUnifiedDiffIsAPatch(t *testing.T) {
	patchBin, err := exec.LookPath("patch")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("GNU patch is required in CI (apt-get install patch)")
		}
		t.Skip("GNU patch not installed; install the patch package to run this test")
	}
	cases := append([]struct{ name, a, b string }{}, diffCases...)
	cases = append(cases,
		struct{ name, a, b string }{"unicode", "naïve = true\n日本\n", "naïve = false\n日本\n"},
		struct{ name, a, b string }{"long file", strings.Repeat("line\n", 500) + "end\n", strings.Repeat("line\n", 250) + "middle\n" + strings.Repeat("line\n", 250) + "end"},
	)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if got := applyPatch(t, patchBin, tt.a, UnifiedDiff("a/f", "b/f", tt.a, tt.b, DefaultContext)); got != tt.b {
				t.Errorf("patch gave %q, want %q", got, tt.b)
			}
		})
	}
}

func applyPatch(t testing.TB, patchBin, a, diff string) string {
	t.Helper()
	dir := t.TempDir()
	old := filepath.Join(dir, "f")
	if err := os.WriteFile(old, []byte(a), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	// --binary keeps CR bytes as they are; -o writes the result elsewhere.
	cmd := exec.Command(patchBin, "--binary", "-s", "-o", out, old)
	cmd.Stdin = strings.NewReader(diff)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if diff == "" {
		return a
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("patch failed: %v\n%s\ndiff:\n%s", err, stderr.String(), diff)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnifiedDiffEqual(t *testing.T) {
	if d := UnifiedDiff("a", "b", "same\n", "same\n", 3); d != "" {
		t.Errorf("diff of equal content = %q, want empty", d)
	}
}

func TestUnifiedDiffManyUniqueLines(t *testing.T) {
	// More unique lines than the UTF-16 surrogate range start: every line
	// must keep its identity.
	var a, b strings.Builder
	for i := range 60000 {
		a.WriteString("line ")
		a.WriteString(itoa(i))
		a.WriteString("\n")
		if i == 59000 {
			b.WriteString("changed\n")
			continue
		}
		b.WriteString("line ")
		b.WriteString(itoa(i))
		b.WriteString("\n")
	}
	d := UnifiedDiff("a", "b", a.String(), b.String(), 3)
	if strings.Count(d, "\n-") != 1 || strings.Count(d, "\n+") != 2 || !strings.Contains(d, "-line 59000\n+changed\n") {
		t.Errorf("unexpected diff:\n%s", d)
	}
}

func itoa(i int) string {
	return string(bytes.TrimLeft([]byte{byte('0' + i/10000%10), byte('0' + i/1000%10), byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)}, "0"))
}

// FuzzUnifiedDiff checks that every diff is a patch that GNU patch applies
// to the old content to give the new content.
func FuzzUnifiedDiff(f *testing.F) {
	for _, c := range diffCases {
		f.Add(c.a, c.b)
	}
	patchBin, _ := exec.LookPath("patch")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := UnifiedDiff("a/f", "b/f", a, b, DefaultContext)
		if (d == "") != (a == b) {
			t.Fatalf("empty diff = %v for equal = %v", d == "", a == b)
		}
		if d == "" {
			return
		}
		if got := applyOwn(t, a, d); got != b {
			t.Fatalf("applying the diff gave %q, want %q\n%s", got, b, d)
		}
		// GNU patch is slow to start; check it on small inputs only, and
		// not on content it treats specially (NUL bytes, lone CRs at line
		// ends are kept with --binary).
		if patchBin != "" && len(a)+len(b) < 256 && !strings.ContainsRune(a+b, 0) {
			if got := applyPatch(t, patchBin, a, d); got != b {
				t.Fatalf("GNU patch gave %q, want %q\n%s", got, b, d)
			}
		}
	})
}

// applyOwn applies a unified diff produced by UnifiedDiff; it is a strict
// reader of our own output, used to check every fuzzed diff quickly.
func applyOwn(t *testing.T, a, diff string) string {
	t.Helper()
	old := splitLines(a)
	lines := strings.SplitAfter(diff, "\n")
	var out strings.Builder
	pos := 0
	i := 2 // skip ---/+++
	for i < len(lines) && lines[i] != "" {
		h := lines[i]
		if !strings.HasPrefix(h, "@@ -") {
			t.Fatalf("want hunk header, have %q", h)
		}
		var start int
		spec := strings.Fields(h)[1][1:]
		n, _, _ := strings.Cut(spec, ",")
		for _, c := range n {
			start = start*10 + int(c-'0')
		}
		if strings.HasSuffix(spec, ",0") {
			start++
		}
		for pos < start-1 {
			out.WriteString(old[pos])
			pos++
		}
		i++
		for i < len(lines) && lines[i] != "" && !strings.HasPrefix(lines[i], "@@") {
			l := lines[i]
			text := l[1:]
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\\ No newline") {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			switch l[0] {
			case ' ':
				out.WriteString(text)
				pos++
			case '-':
				pos++
			case '+':
				out.WriteString(text)
			}
			i++
		}
	}
	for pos < len(old) {
		out.WriteString(old[pos])
		pos++
	}
	return out.String()
}
