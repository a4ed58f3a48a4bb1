package reporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/google/go-cmp/cmp"
)

// TestParseBaselineDiffs parses every golden diff of the baseline package
// and writes it back byte for byte: whatever baseline.UnifiedDiff writes,
// the reporter reads.
func TestParseBaselineDiffs(t *testing.T) {
	files, err := filepath.Glob("../baseline/testdata/textdiff/*.diff")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no diffs under ../baseline/testdata/textdiff")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fd, err := ParseUnifiedDiff(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if got := fd.String(); got != string(b) {
				t.Errorf("written back differently:\n%s", cmp.Diff(string(b), got))
			}
		})
	}
}

// line is a compact form of a DiffLine for comparisons.
type line struct {
	Kind      string
	Old, New  int
	Text      string
	NoNewline bool
}

func lines(h Hunk) []line {
	out := make([]line, len(h.Lines))
	for i, l := range h.Lines {
		out[i] = line{string(rune(l.Kind)), l.Old, l.New, l.Text, l.NoNewline}
	}
	return out
}

func TestParseUnifiedDiff(t *testing.T) {
	tests := []struct {
		name         string
		diff         string
		oldName      string
		newName      string
		hunks        [][]line
		added, remov int
	}{
		{
			name: "no newline at end on both sides",
			diff: baseline.UnifiedDiff("a/f", "b/f", "a\nb", "a\nc", 3),
			hunks: [][]line{{
				{" ", 1, 1, "a", false},
				{"-", 2, 0, "b", true},
				{"+", 0, 2, "c", true},
			}},
			oldName: "a/f", newName: "b/f", added: 1, remov: 1,
		},
		{
			name: "newline added at end",
			diff: baseline.UnifiedDiff("a/f", "b/f", "x\ny", "x\ny\n", 3),
			hunks: [][]line{{
				{" ", 1, 1, "x", false},
				{"-", 2, 0, "y", true},
				{"+", 0, 2, "y", false},
			}},
			oldName: "a/f", newName: "b/f", added: 1, remov: 1,
		},
		{
			name:    "from empty: old side has zero lines",
			diff:    "--- /dev/null\n+++ b/etc/new\n@@ -0,0 +1,2 @@\n+one\n+two\n",
			oldName: "/dev/null", newName: "b/etc/new",
			hunks: [][]line{{{"+", 0, 1, "one", false}, {"+", 0, 2, "two", false}}},
			added: 2,
		},
		{
			name:    "to empty: new side has zero lines",
			diff:    "--- a/etc/old\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-one\n-two\n",
			oldName: "a/etc/old", newName: "/dev/null",
			hunks: [][]line{{{"-", 1, 0, "one", false}, {"-", 2, 0, "two", false}}},
			remov: 2,
		},
		{
			name:    "insertion after line 5 with zero old count",
			diff:    "--- a\n+++ b\n@@ -5,0 +6 @@\n+inserted\n",
			oldName: "a", newName: "b",
			hunks: [][]line{{{"+", 0, 6, "inserted", false}}},
			added: 1,
		},
		{
			name:    "counts left out mean one line; git header and time stamps",
			diff:    "diff --git a/x b/x\nindex 1234567..89abcde 100644\n--- a/x\t2024-11-20 06:02:00.000000000 +0100\n+++ b/x\t2024-11-20 06:03:00.000000000 +0100\n@@ -3 +3 @@ section name\n-old\n+new\n",
			oldName: "a/x", newName: "b/x",
			hunks: [][]line{{{"-", 3, 0, "old", false}, {"+", 0, 3, "new", false}}},
			added: 1, remov: 1,
		},
		{
			name:    "empty context line whose space was stripped",
			diff:    "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n",
			oldName: "a", newName: "b",
			hunks: [][]line{{{" ", 1, 1, "a", false}, {" ", 2, 2, "", false}, {"-", 3, 0, "b", false}, {"+", 0, 3, "c", false}}},
			added: 1, remov: 1,
		},
		{
			name:    "CRLF content keeps its CR",
			diff:    baseline.UnifiedDiff("a/f", "b/f", "a\r\nb\r\n", "a\r\nB\r\n", 3),
			oldName: "a/f", newName: "b/f",
			hunks: [][]line{{{" ", 1, 1, "a\r", false}, {"-", 2, 0, "b\r", false}, {"+", 0, 2, "B\r", false}}},
			added: 1, remov: 1,
		},
		{
			name:    "two hunks",
			diff:    baseline.UnifiedDiff("a/f", "b/f", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n", 1),
			oldName: "a/f", newName: "b/f",
			hunks: [][]line{
				{{" ", 1, 1, "1", false}, {"-", 2, 0, "2", false}, {"+", 0, 2, "X", false}, {" ", 3, 3, "3", false}},
				{{" ", 10, 10, "10", false}, {"-", 11, 0, "11", false}, {"+", 0, 11, "Y", false}, {" ", 12, 12, "12", false}},
			},
			added: 2, remov: 2,
		},
		{
			name:  "hunks without file names",
			diff:  "@@ -1 +1 @@\n-a\n+b\n",
			hunks: [][]line{{{"-", 1, 0, "a", false}, {"+", 0, 1, "b", false}}},
			added: 1, remov: 1,
		},
		{name: "empty diff", diff: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, err := ParseUnifiedDiff(tt.diff)
			if err != nil {
				t.Fatal(err)
			}
			if fd.OldName != tt.oldName || fd.NewName != tt.newName {
				t.Errorf("names %q, %q; want %q, %q", fd.OldName, fd.NewName, tt.oldName, tt.newName)
			}
			var got [][]line
			for _, h := range fd.Hunks {
				got = append(got, lines(h))
			}
			if diff := cmp.Diff(tt.hunks, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if fd.Added != tt.added || fd.Removed != tt.remov {
				t.Errorf("+%d -%d, want +%d -%d", fd.Added, fd.Removed, tt.added, tt.remov)
			}
		})
	}
}

func TestParseUnifiedDiffErrors(t *testing.T) {
	tests := []struct {
		name, diff, want string
	}{
		{"missing +++", "--- a\n@@ -1 +1 @@\n", `line 2: want "+++ "`},
		{"bad hunk header", "--- a\n+++ b\n@@ -x +1 @@\n-a\n", `line 3: hunk header "@@ -x +1 @@": old range: start "x"`},
		{"fewer lines than counted", "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n", "hunk at line 3: 2 old and 2 new lines missing"},
		{"more removed lines than counted", "--- a\n+++ b\n@@ -1 +1 @@\n-a\n-b\n+c\n", "line 5: removed line beyond the old count of the hunk at line 3"},
		{"unknown line kind", "--- a\n+++ b\n@@ -1 +1 @@\n*a\n", `line 4: want a line starting with ' ', '+', '-' or '\', have "*a"`},
		{"no newline marker first", "--- a\n+++ b\n@@ -1 +1 @@\n\\ No newline at end of file\n", "line 4: "},
		{"text after the hunks", "--- a\n+++ b\n@@ -1 +1 @@\n-a\n+b\ngarbage\n", `line 6: want a hunk header`},
		{"no header and no hunk", "just text\n", `no "---" header and no hunk`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseUnifiedDiff(tt.diff)
			if err == nil {
				t.Fatalf("parsed; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestSplitPairsRemovedWithAdded(t *testing.T) {
	fd, err := ParseUnifiedDiff("--- a\n+++ b\n@@ -1,4 +1,3 @@\n ctx\n-old1\n-old2\n+new1\n ctx2\n+tail\n")
	if err == nil {
		t.Fatal("the counts above do not match; want an error")
	}
	fd, err = ParseUnifiedDiff("--- a\n+++ b\n@@ -1,4 +1,4 @@\n ctx\n-old1\n-old2\n+new1\n ctx2\n+tail\n")
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ L, R string }
	var got []pair
	for _, r := range fd.Hunks[0].Split() {
		var p pair
		if r.Left != nil {
			p.L = string(rune(r.Left.Kind)) + r.Left.Text
		}
		if r.Right != nil {
			p.R = string(rune(r.Right.Kind)) + r.Right.Text
		}
		got = append(got, p)
	}
	want := []pair{{" ctx", " ctx"}, {"-old1", "+new1"}, {"-old2", ""}, {" ctx2", " ctx2"}, {"", "+tail"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// FuzzParseUnifiedDiff checks that parsing never panics and that whatever
// parses writes back to a diff that parses to the same lines.
func FuzzParseUnifiedDiff(f *testing.F) {
	f.Add(baseline.UnifiedDiff("a/f", "b/f", "a\nb", "a\nc\n", 3))
	f.Add("--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n\\ No newline at end of file\n")
	f.Add("@@ -1,2 +1 @@\n-a\n-b\n+c\n")
	f.Fuzz(func(t *testing.T, s string) {
		fd, err := ParseUnifiedDiff(s)
		if err != nil {
			return
		}
		again, err := ParseUnifiedDiff(fd.String())
		if err != nil {
			t.Fatalf("written back %q does not parse: %v", fd.String(), err)
		}
		if !cmp.Equal(fd.Hunks, again.Hunks) {
			t.Fatalf("hunks differ after writing back:\n%s", cmp.Diff(fd.Hunks, again.Hunks))
		}
	})
}
