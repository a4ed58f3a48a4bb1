// Package report renders drift for a terminal: a summary line first, then
// each change grouped by source, with its attribute changes and content
// diff, and what to do to roll it back.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/driftwatch/driftwatch/baseline"
)

// Header describes what the drift was computed against, for the first
// lines of the report.
type Header struct {
	// Baseline is the approved baseline compared against, if any.
	Baseline *baseline.Meta
}

// WriteJSON writes the drift report as JSON.
func WriteJSON(w io.Writer, d *baseline.Drift) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

var marks = map[baseline.ChangeKind]string{baseline.Added: "+", baseline.Removed: "-", baseline.Modified: "~"}

// WriteText writes the drift as a person reads it first.
func WriteText(w io.Writer, d *baseline.Drift, h Header) error {
	ew := &errWriter{w: w}
	if h.Baseline != nil {
		b := h.Baseline
		ew.printf("%s: compared with baseline v%d (approved %s by %s: %q", d.Host, b.Version,
			b.ApprovedAt.Format("2006-01-02 15:04 MST"), b.ApprovedBy, b.Reason)
		if len(b.Tickets) > 0 {
			ew.printf(", tickets %s", strings.Join(b.Tickets, ", "))
		}
		ew.printf(")\n")
	}
	if d.Empty() {
		ew.printf("no drift\n")
		return ew.err
	}
	n := d.Summary.Total()
	plural := "s"
	if n == 1 {
		plural = ""
	}
	ew.printf("drift: %d change%s (%s)\n", n, plural, d.Summary)
	groups := map[string][]*baseline.Change{}
	var names []string
	for i := range d.Changes {
		c := &d.Changes[i]
		if _, ok := groups[c.Source]; !ok {
			names = append(names, c.Source)
		}
		groups[c.Source] = append(groups[c.Source], c)
	}
	sort.Strings(names)
	for _, name := range names {
		label := name
		if label == "" {
			label = "(unknown source)"
		}
		ew.printf("\n%s\n", label)
		for _, c := range groups[name] {
			writeChange(ew, c, h)
		}
	}
	return ew.err
}

func writeChange(ew *errWriter, c *baseline.Change, h Header) {
	ew.printf("  %s %s  %s", marks[c.Change], c.Key, c.Change)
	if c.Redacted {
		ew.printf(" (redacted)")
	}
	ew.printf("\n")
	var names []string
	for name := range c.Attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := c.Attrs[name]
		old, new := a.Old, a.New
		if name == baseline.AttrSHA256 {
			old, new = short(old), short(new)
		}
		switch c.Change {
		case baseline.Added:
			ew.printf("      %s: %s\n", name, new)
		case baseline.Removed:
			ew.printf("      %s: %s\n", name, old)
		default:
			if baseline.IsInformational(name) {
				ew.printf("      %s: %s → %s (informational)\n", name, orNone(old), orNone(new))
			} else {
				ew.printf("      %s: %s → %s\n", name, orNone(old), orNone(new))
			}
		}
	}
	if c.Note != "" {
		ew.printf("      %s\n", c.Note)
	}
	if c.ContentDiff != "" {
		for _, line := range strings.SplitAfter(strings.TrimSuffix(c.ContentDiff, "\n"), "\n") {
			ew.printf("      %s", strings.TrimSuffix(line, "\n"))
			ew.printf("\n")
		}
	}
	if hint := rollback(c, h); hint != "" {
		ew.printf("      rollback: %s\n", hint)
	}
}

// rollback says how to return an item to its baseline state, as commands
// where the baseline holds everything needed.
func rollback(c *baseline.Change, h Header) string {
	version := "the baseline"
	if h.Baseline != nil {
		version = fmt.Sprintf("baseline v%d", h.Baseline.Version)
	}
	if c.Kind != baseline.KindFile {
		if c.Change == baseline.Added {
			return "remove it, or approve it into a new baseline"
		}
		return fmt.Sprintf("restore the values of %s shown above", version)
	}
	path := shellQuote(strings.TrimPrefix(c.Key, "file:"))
	if c.KeyRaw != "" {
		path = "(the path above; it holds bytes that are not UTF-8)"
	}
	old := func(name string) string {
		if a, ok := c.Attrs[name]; ok {
			return a.Old
		}
		if c.Old != nil {
			v, _ := c.Old.Attrs.Get(name)
			return v
		}
		return ""
	}
	switch c.Change {
	case baseline.Added:
		if c.New != nil {
			if t, _ := c.New.Attrs.Get(baseline.AttrType); t == "dir" {
				return "rmdir " + path + ", or approve it into a new baseline"
			}
		}
		return "rm " + path + ", or approve it into a new baseline"
	case baseline.Removed:
		switch old(baseline.AttrType) {
		case "symlink":
			return fmt.Sprintf("ln -s %s %s", shellQuote(old(baseline.AttrTarget)), path)
		case "dir":
			return fmt.Sprintf("mkdir -m %s %s && chown %s:%s %s", old(baseline.AttrMode), path, old(baseline.AttrUID), old(baseline.AttrGID), path)
		}
		if c.ContentDiff != "" {
			return fmt.Sprintf("recreate it with the content above (from %s), then chmod %s and chown %s:%s", version, old(baseline.AttrMode), old(baseline.AttrUID), old(baseline.AttrGID))
		}
		return fmt.Sprintf("restore it from a backup matching %s (sha256 above)", version)
	}
	var steps []string
	if a, ok := c.Attrs[baseline.AttrTarget]; ok && a.Old != "" {
		steps = append(steps, fmt.Sprintf("ln -sfn %s %s", shellQuote(a.Old), path))
	}
	if _, ok := c.Attrs[baseline.AttrSHA256]; ok {
		switch {
		case c.ContentDiff != "":
			steps = append(steps, "apply the diff above in reverse (patch -R "+path+")")
		case c.Redacted:
			steps = append(steps, "restore the redacted value from your secret store")
		default:
			steps = append(steps, fmt.Sprintf("restore the content from a backup matching %s (sha256 above)", version))
		}
	}
	if a, ok := c.Attrs[baseline.AttrMode]; ok && a.Old != "" {
		steps = append(steps, fmt.Sprintf("chmod %s %s", a.Old, path))
	}
	_, uid := c.Attrs[baseline.AttrUID]
	_, gid := c.Attrs[baseline.AttrGID]
	if uid || gid {
		steps = append(steps, fmt.Sprintf("chown %s:%s %s", old(baseline.AttrUID), old(baseline.AttrGID), path))
	}
	if len(steps) == 0 {
		return ""
	}
	return strings.Join(steps, "; ")
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>*?()[]{}#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func short(hex string) string {
	if len(hex) > 12 {
		return hex[:12] + "…"
	}
	return hex
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
