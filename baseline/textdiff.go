package baseline

import (
	"strconv"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// DefaultContext is the number of unchanged lines a unified diff shows
// around each change.
const DefaultContext = 3

// lineOp is one line of an edit script.
type lineOp struct {
	op   diffmatchpatch.Operation
	line string // with its newline, if it had one
}

// splitLines splits s after every newline; the last line keeps no newline
// when s does not end with one. CR stays part of its line, so CRLF content
// round-trips.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := make([]string, 0, strings.Count(s, "\n")+1)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// lineRune maps a line index to a rune, skipping the surrogate range that a
// Go string cannot hold.
func lineRune(i int) rune {
	if i >= 0xD800 {
		i += 0x800
	}
	return rune(i)
}

func runeLine(r rune) int {
	if r >= 0xE000 {
		r -= 0x800
	}
	return int(r)
}

// lineDiff computes a line-level edit script from a to b with go-diff. Its
// timeout is off, so the result never depends on how busy the machine is.
func lineDiff(a, b string) []lineOp {
	al, bl := splitLines(a), splitLines(b)
	index := make(map[string]int, len(al)+len(bl))
	var lines []string
	encode := func(ls []string) []rune {
		rs := make([]rune, len(ls))
		for i, l := range ls {
			n, ok := index[l]
			if !ok {
				n = len(lines)
				index[l] = n
				lines = append(lines, l)
			}
			rs[i] = lineRune(n)
		}
		return rs
	}
	ar, br := encode(al), encode(bl)
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0
	diffs := dmp.DiffMainRunes(ar, br, false)
	ops := make([]lineOp, 0, len(al)+len(bl))
	for _, d := range diffs {
		for _, r := range d.Text {
			ops = append(ops, lineOp{op: d.Type, line: lines[runeLine(r)]})
		}
	}
	return ops
}

// UnifiedDiff returns a unified diff from a to b with the given lines of
// context, under the names oldName and newName, or "" when a and b are equal.
// It is a real patch: GNU patch applied to a yields b, including for content
// without a trailing newline ("\ No newline at end of file") and with CRLF
// line ends.
func UnifiedDiff(oldName, newName, a, b string, context int) string {
	if a == b {
		return ""
	}
	if context < 0 {
		context = DefaultContext
	}
	ops := lineDiff(a, b)
	var sb strings.Builder
	sb.WriteString("--- " + oldName + "\n+++ " + newName + "\n")

	// Walk the script, cutting it into hunks: runs of changes with up to
	// context equal lines around them, merged when two are close.
	n := len(ops)
	i := 0
	oldLine, newLine := 0, 0 // lines consumed before ops[i]
	for i < n {
		// Find the next change.
		j := i
		oldAt, newAt := oldLine, newLine
		for j < n && ops[j].op == diffmatchpatch.DiffEqual {
			j++
			oldAt++
			newAt++
		}
		if j == n {
			break
		}
		start := j - context
		if start < i {
			start = i
		}
		lead := j - start
		hOld, hNew := oldAt-lead, newAt-lead
		// Extend the hunk until context*2 equal lines follow a change.
		end := j
		for end < n {
			if ops[end].op != diffmatchpatch.DiffEqual {
				end++
				continue
			}
			k := end
			for k < n && ops[k].op == diffmatchpatch.DiffEqual {
				k++
			}
			if k == n || k-end > 2*context {
				tail := k - end
				if tail > context {
					tail = context
				}
				end += tail
				break
			}
			end = k
		}
		// Count and write the hunk ops[start:end].
		oldCount, newCount := 0, 0
		for _, o := range ops[start:end] {
			if o.op != diffmatchpatch.DiffInsert {
				oldCount++
			}
			if o.op != diffmatchpatch.DiffDelete {
				newCount++
			}
		}
		sb.WriteString("@@ -" + hunkRange(hOld, oldCount) + " +" + hunkRange(hNew, newCount) + " @@\n")
		for _, o := range ops[start:end] {
			switch o.op {
			case diffmatchpatch.DiffEqual:
				sb.WriteByte(' ')
			case diffmatchpatch.DiffDelete:
				sb.WriteByte('-')
			case diffmatchpatch.DiffInsert:
				sb.WriteByte('+')
			}
			sb.WriteString(o.line)
			if !strings.HasSuffix(o.line, "\n") {
				sb.WriteString("\n\\ No newline at end of file\n")
			}
		}
		// Advance the line counters past the hunk.
		for _, o := range ops[i:end] {
			if o.op != diffmatchpatch.DiffInsert {
				oldLine++
			}
			if o.op != diffmatchpatch.DiffDelete {
				newLine++
			}
		}
		i = end
	}
	return sb.String()
}

// hunkRange formats one side of a hunk header the way diff -u does: the first
// line and the count, the count left out when it is 1, and for an empty side
// the line before it.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return strconv.Itoa(start) + ",0"
	case 1:
		return strconv.Itoa(start + 1)
	default:
		return strconv.Itoa(start+1) + "," + strconv.Itoa(count)
	}
}
