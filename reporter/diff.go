package reporter

import (
	"fmt"
	"strconv"
	"strings"
)

// LineKind says what a line of a diff is.
type LineKind byte

// The kinds of diff lines.
const (
	LineContext LineKind = ' '
	LineAdded   LineKind = '+'
	LineRemoved LineKind = '-'
)

// DiffLine is one line of a hunk.
type DiffLine struct {
	Kind LineKind
	// Old and New are the line's numbers in the old and new content; 0 on
	// the side the line does not exist.
	Old, New int
	// Text is the line without its newline; a CR of a CRLF line end stays.
	Text string
	// NoNewline says the line is the last of its side and has no newline
	// ("\ No newline at end of file").
	NoNewline bool
}

// Hunk is one "@@ -a,b +c,d @@" section of a unified diff.
type Hunk struct {
	OldStart, OldCount int
	NewStart, NewCount int
	// Section is the text after the second "@@", often a function name.
	Section string
	Lines   []DiffLine
}

// Header returns the hunk's header line.
func (h *Hunk) Header() string {
	s := "@@ -" + hunkSide(h.OldStart, h.OldCount) + " +" + hunkSide(h.NewStart, h.NewCount) + " @@"
	if h.Section != "" {
		s += " " + h.Section
	}
	return s
}

func hunkSide(start, count int) string {
	if count == 1 {
		return strconv.Itoa(start)
	}
	return strconv.Itoa(start) + "," + strconv.Itoa(count)
}

// FileDiff is a parsed unified diff of one file.
type FileDiff struct {
	OldName, NewName string
	Hunks            []Hunk
	// Added and Removed count the added and removed lines.
	Added, Removed int
}

// ParseUnifiedDiff parses a unified diff of one file, as
// baseline.UnifiedDiff writes it and as diff -u and git diff do: optional
// lines before "---" (git's "diff --git", "index"), the "---" and "+++"
// names (a tab and a time stamp after a name are dropped), then hunks.
// Counts left out of a hunk header are 1; a context line whose leading
// space was stripped (an empty line) is accepted. The lines of each hunk
// must match its header's counts. An empty string is an empty diff.
func ParseUnifiedDiff(s string) (*FileDiff, error) {
	fd := &FileDiff{}
	if s == "" {
		return fd, nil
	}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	i := 0
	// Header: anything up to "--- ", then "+++ ".
	for i < len(lines) && !strings.HasPrefix(lines[i], "--- ") && !strings.HasPrefix(lines[i], "@@ ") {
		i++
	}
	if i < len(lines) && strings.HasPrefix(lines[i], "--- ") {
		fd.OldName = diffFileName(lines[i][4:])
		i++
		if i >= len(lines) || !strings.HasPrefix(lines[i], "+++ ") {
			return nil, fmt.Errorf("parse diff: line %d: want \"+++ \" after \"--- \"", i+1)
		}
		fd.NewName = diffFileName(lines[i][4:])
		i++
	}
	if i == len(lines) {
		if fd.OldName == "" {
			return nil, fmt.Errorf("parse diff: no \"---\" header and no hunk")
		}
		return fd, nil
	}
	for i < len(lines) {
		if !strings.HasPrefix(lines[i], "@@ ") {
			return nil, fmt.Errorf("parse diff: line %d: want a hunk header \"@@ -a,b +c,d @@\", have %q", i+1, clip(lines[i]))
		}
		h, err := parseHunkHeader(lines[i])
		if err != nil {
			return nil, fmt.Errorf("parse diff: line %d: %w", i+1, err)
		}
		headerLine := i + 1
		i++
		oldLeft, newLeft := h.OldCount, h.NewCount
		oldNo, newNo := h.OldStart, h.NewStart
		if h.OldCount == 0 {
			oldNo++ // an empty side names the line before it
		}
		if h.NewCount == 0 {
			newNo++
		}
		for i < len(lines) && (oldLeft > 0 || newLeft > 0 || strings.HasPrefix(lines[i], `\`)) {
			l := lines[i]
			if strings.HasPrefix(l, `\`) {
				if len(h.Lines) == 0 {
					return nil, fmt.Errorf("parse diff: line %d: %q before any line of its hunk", i+1, clip(l))
				}
				h.Lines[len(h.Lines)-1].NoNewline = true
				i++
				continue
			}
			var kind LineKind
			text := ""
			if l == "" {
				kind = LineContext
			} else {
				kind, text = LineKind(l[0]), l[1:]
			}
			switch kind {
			case LineContext:
				if oldLeft == 0 || newLeft == 0 {
					return nil, fmt.Errorf("parse diff: line %d: context line beyond the counts of the hunk at line %d", i+1, headerLine)
				}
				h.Lines = append(h.Lines, DiffLine{Kind: kind, Old: oldNo, New: newNo, Text: text})
				oldNo++
				newNo++
				oldLeft--
				newLeft--
			case LineRemoved:
				if oldLeft == 0 {
					return nil, fmt.Errorf("parse diff: line %d: removed line beyond the old count of the hunk at line %d", i+1, headerLine)
				}
				h.Lines = append(h.Lines, DiffLine{Kind: kind, Old: oldNo, Text: text})
				oldNo++
				oldLeft--
				fd.Removed++
			case LineAdded:
				if newLeft == 0 {
					return nil, fmt.Errorf("parse diff: line %d: added line beyond the new count of the hunk at line %d", i+1, headerLine)
				}
				h.Lines = append(h.Lines, DiffLine{Kind: kind, New: newNo, Text: text})
				newNo++
				newLeft--
				fd.Added++
			default:
				return nil, fmt.Errorf("parse diff: line %d: want a line starting with ' ', '+', '-' or '\\', have %q", i+1, clip(l))
			}
			i++
		}
		if oldLeft > 0 || newLeft > 0 {
			return nil, fmt.Errorf("parse diff: hunk at line %d: %d old and %d new lines missing at the end of the diff", headerLine, oldLeft, newLeft)
		}
		fd.Hunks = append(fd.Hunks, h)
	}
	return fd, nil
}

// clip shortens a line for an error message.
func clip(s string) string {
	if t, cut := truncateRunes(s, 60); cut {
		return t + "…"
	}
	return s
}

// diffFileName drops the time stamp some tools write after a tab.
func diffFileName(s string) string {
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		s = s[:i]
	}
	return s
}

func parseHunkHeader(l string) (Hunk, error) {
	var h Hunk
	rest, ok := strings.CutPrefix(l, "@@ -")
	if !ok {
		return h, fmt.Errorf("hunk header %q: want \"@@ -\"", clip(l))
	}
	oldPart, rest, ok := strings.Cut(rest, " +")
	if !ok {
		return h, fmt.Errorf("hunk header %q: want \" +\" after the old range", clip(l))
	}
	newPart, section, ok := strings.Cut(rest, " @@")
	if !ok {
		return h, fmt.Errorf("hunk header %q: want \" @@\" after the new range", clip(l))
	}
	var err error
	if h.OldStart, h.OldCount, err = parseRange(oldPart); err != nil {
		return h, fmt.Errorf("hunk header %q: old range: %w", clip(l), err)
	}
	if h.NewStart, h.NewCount, err = parseRange(newPart); err != nil {
		return h, fmt.Errorf("hunk header %q: new range: %w", clip(l), err)
	}
	h.Section = strings.TrimPrefix(section, " ")
	return h, nil
}

func parseRange(s string) (start, count int, err error) {
	a, b, hasCount := strings.Cut(s, ",")
	start, err = strconv.Atoi(a)
	if err != nil || start < 0 {
		return 0, 0, fmt.Errorf("start %q is not a line number", a)
	}
	count = 1
	if hasCount {
		count, err = strconv.Atoi(b)
		if err != nil || count < 0 {
			return 0, 0, fmt.Errorf("count %q is not a number", b)
		}
	}
	const maxLines = 1 << 30
	if start > maxLines || count > maxLines {
		return 0, 0, fmt.Errorf("range %q is too large", s)
	}
	return start, count, nil
}

// SplitRow is one row of a side-by-side diff: a removed line beside the
// added line that replaced it, or a context line on both sides. A side is
// nil where it has no line.
type SplitRow struct {
	Left, Right *DiffLine
}

// Split pairs the hunk's lines for a side-by-side view: each run of
// removed lines is set beside the run of added lines that follows it.
func (h *Hunk) Split() []SplitRow {
	rows := make([]SplitRow, 0, len(h.Lines))
	ls := h.Lines
	for i := 0; i < len(ls); {
		if ls[i].Kind == LineContext {
			rows = append(rows, SplitRow{Left: &ls[i], Right: &ls[i]})
			i++
			continue
		}
		j := i
		for j < len(ls) && ls[j].Kind == LineRemoved {
			j++
		}
		k := j
		for k < len(ls) && ls[k].Kind == LineAdded {
			k++
		}
		removed, added := ls[i:j], ls[j:k]
		for n := 0; n < len(removed) || n < len(added); n++ {
			var r SplitRow
			if n < len(removed) {
				r.Left = &removed[n]
			}
			if n < len(added) {
				r.Right = &added[n]
			}
			rows = append(rows, r)
		}
		if k == i {
			k++ // a line of no known kind (not from ParseUnifiedDiff): skip it
		}
		i = k
	}
	return rows
}

// String writes the diff back in unified form.
func (fd *FileDiff) String() string {
	var sb strings.Builder
	if fd.OldName != "" || fd.NewName != "" {
		sb.WriteString("--- " + fd.OldName + "\n+++ " + fd.NewName + "\n")
	}
	for i := range fd.Hunks {
		h := &fd.Hunks[i]
		sb.WriteString(h.Header() + "\n")
		for _, l := range h.Lines {
			sb.WriteByte(byte(l.Kind))
			sb.WriteString(l.Text)
			sb.WriteByte('\n')
			if l.NoNewline {
				sb.WriteString("\\ No newline at end of file\n")
			}
		}
	}
	return sb.String()
}
