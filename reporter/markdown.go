package reporter

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mdEscaper escapes the Markdown characters that mean something anywhere
// in a line. HTML is escaped too: a Markdown renderer passes raw HTML on.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `{`, `\{`, `}`, `\}`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, `~`, `\~`, `&`, `\&`, `!`, `\!`, `$`, `\$`, `#`, `\#`,
)

// markdownCell escapes s for a table cell: inline Markdown only, where no
// block syntax applies.
func markdownCell(s string) string { return mdEscaper.Replace(VisibleText(s, false)) }

// MarkdownText escapes s for Markdown text on one line: special characters
// shown visibly, newlines as markers, Markdown and HTML metacharacters
// backslash-escaped, and a leading character that would start a list,
// quote or rule escaped too.
func MarkdownText(s string) string {
	s = mdEscaper.Replace(VisibleText(s, false))
	if s != "" {
		switch s[0] {
		case '+', '-', '=', '.', ':':
			s = `\` + s
		}
		// "1. " or "1) " would start an ordered list.
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i > 0 && i < len(s) && (s[i] == '.' || s[i] == ')') && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t') {
			s = s[:i] + `\` + s[i:]
		}
	}
	return s
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			if run > best {
				best = run
			}
		} else {
			run = 0
		}
	}
	return best
}

// MarkdownFence returns content as a fenced code block that the content
// cannot close: the fence is one backtick longer than the longest run of
// backticks in it, and at least three. Special characters are shown
// visibly; info is the block's language ("diff") or "".
func MarkdownFence(content, info string) string {
	content = VisibleText(content, true)
	n := max(3, longestRun(content, '`')+1)
	fence := strings.Repeat("`", n)
	var sb strings.Builder
	sb.WriteString(fence)
	sb.WriteString(strings.Map(func(r rune) rune {
		if r == '`' || r < 0x20 {
			return -1
		}
		return r
	}, info))
	sb.WriteByte('\n')
	sb.WriteString(content)
	if content != "" && !strings.HasSuffix(content, "\n") {
		sb.WriteByte('\n')
	}
	sb.WriteString(fence)
	sb.WriteByte('\n')
	return sb.String()
}

// mdWriter writes Markdown, remembering the first error.
type mdWriter struct {
	w   *bufio.Writer
	err error
}

func (m *mdWriter) printf(format string, args ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format, args...)
	}
}

func (m *mdWriter) raw(s string) {
	if m.err == nil {
		_, m.err = m.w.WriteString(s)
	}
}

func (m *mdWriter) table(cols []string, rows [][]string) {
	head := make([]string, len(cols))
	rule := make([]string, len(cols))
	for i, c := range cols {
		head[i] = markdownCell(c)
		rule[i] = "---"
	}
	m.raw("| " + strings.Join(head, " | ") + " |\n| " + strings.Join(rule, " | ") + " |\n")
	for _, r := range rows {
		cells := make([]string, len(cols))
		for i := range cols {
			if i < len(r) {
				cells[i] = markdownCell(r[i])
			}
		}
		m.raw("| " + strings.Join(cells, " | ") + " |\n")
	}
	m.raw("\n")
}

// WriteHostMarkdown writes a host's baseline documentation as Markdown.
// Nothing from the host can break out of its place: text is escaped,
// file content is fenced so it cannot close its fence.
func WriteHostMarkdown(w io.Writer, d *HostDocumentation) error {
	var buf strings.Builder
	m := &mdWriter{w: bufio.NewWriter(&buf)}
	writeHostMarkdown(m, d, "#")
	return flushMarkdown(m, &buf, w, "host "+d.Host.Name)
}

// WriteTenantMarkdown writes a tenant's baseline documentation, every host
// in name order, as Markdown.
func WriteTenantMarkdown(w io.Writer, d *TenantDocumentation) error {
	var buf strings.Builder
	m := &mdWriter{w: bufio.NewWriter(&buf)}
	m.printf("# %s\n\n", MarkdownText(d.Title()))
	m.printf("Generated %s. %s.\n\n", MarkdownText(d.Format(d.GeneratedAt)), plural(len(d.Hosts), "host", "hosts"))
	hosts := d.SortedHosts()
	m.table([]string{"Host", "Baseline", "Approved by", "Approved at", "Items"}, func() [][]string {
		rows := make([][]string, len(hosts))
		for i, h := range hosts {
			rows[i] = []string{h.Host.Name, "v" + strconv.Itoa(h.Meta.Version), h.Meta.ApprovedBy, h.Format(h.Meta.ApprovedAt), strconv.Itoa(h.Meta.Items)}
		}
		return rows
	}())
	for _, h := range hosts {
		writeHostMarkdown(m, h, "##")
	}
	return flushMarkdown(m, &buf, w, "tenant "+d.Tenant.Name)
}

func flushMarkdown(m *mdWriter, buf *strings.Builder, w io.Writer, what string) error {
	if m.err == nil {
		m.err = m.w.Flush()
	}
	if m.err != nil {
		return fmt.Errorf("write markdown documentation of %s: %w", what, m.err)
	}
	if _, err := io.WriteString(w, buf.String()); err != nil {
		return fmt.Errorf("write markdown documentation of %s: %w", what, err)
	}
	return nil
}

func writeHostMarkdown(m *mdWriter, d *HostDocumentation, h1 string) {
	h2, h3 := h1+"#", h1+"##"
	m.printf("%s %s\n\n", h1, MarkdownText(d.Title()))
	meta := d.Meta
	m.table([]string{"Field", "Value"}, func() [][]string {
		rows := [][]string{
			{"Tenant", d.Tenant.Name},
			{"Host", d.Host.Name},
		}
		if ls := labelList(d.Labels); len(ls) > 0 {
			rows = append(rows, []string{"Labels", strings.Join(ls, ", ")})
		}
		reviewed := "yes"
		if !meta.Reviewed {
			reviewed = "no: documents the host as found"
		}
		rows = append(rows,
			[]string{"Baseline version", "v" + strconv.Itoa(meta.Version)},
			[]string{"Approved by", meta.ApprovedBy},
			[]string{"Approved at", d.Format(meta.ApprovedAt)},
			[]string{"Reason", meta.Reason},
			[]string{"Tickets", strings.Join(meta.Tickets, ", ")},
			[]string{"Reviewed", reviewed},
			[]string{"Items", strconv.Itoa(meta.Items)},
			[]string{"Snapshot digest", meta.SnapshotDigest.String()},
		)
		if d.Snapshot != nil {
			rows = append(rows, []string{"Snapshot taken", d.Format(d.Snapshot.TakenAt)},
				[]string{"Agent version", d.Snapshot.AgentVersion})
		}
		rows = append(rows, []string{"Generated", d.Format(d.GeneratedAt)})
		return rows
	}())
	s := d.Sections()
	inv := s.Inventory
	if !inv.Empty() {
		m.printf("%s Inventory\n\n", h2)
		var rows [][]string
		for _, r := range [][2]string{{"Operating system", inv.OS}, {"Kernel", inv.Kernel}, {"Processor", inv.CPU},
			{"Memory", inv.Memory}, {"Host name", inv.Hostname}, {"Machine ID", inv.MachineID}} {
			if r[1] != "" {
				rows = append(rows, []string{r[0], r[1]})
			}
		}
		for _, e := range inv.Disks {
			rows = append(rows, []string{"Disk " + e.Name, withError(e.Summary, e.Error)})
		}
		for _, e := range inv.Interfaces {
			rows = append(rows, []string{"Interface " + e.Name, withError(e.Summary, e.Error)})
		}
		for _, e := range inv.Other {
			rows = append(rows, []string{e.Name, withError(e.Summary, e.Error)})
		}
		m.table([]string{"Item", "Value"}, rows)
	}
	for _, t := range s.Tables {
		m.printf("%s %s\n\n", h2, MarkdownText(t.Title))
		rows := make([][]string, len(t.Rows))
		for i, r := range t.Rows {
			rows[i] = append([]string(nil), r.Cells...)
			if r.Error != "" {
				rows[i][0] += " (error: " + r.Error + ")"
			}
		}
		m.table(t.Columns, rows)
	}
	writeFilesMarkdown(m, h2, h3, "File contents", s.Files)
	writeFilesMarkdown(m, h2, h3, "Commands", s.Commands)
	if len(d.Changes) > 0 || d.PreviousVersion > 0 {
		title := "Appendix: changes since v" + strconv.Itoa(d.PreviousVersion)
		if d.PreviousVersion == 0 {
			title = "Appendix: changes"
		}
		m.printf("%s %s\n\n", h2, MarkdownText(title))
		if len(d.Changes) == 0 {
			m.raw("No changes.\n\n")
		}
		rows := make([][]string, len(d.Changes))
		for i, c := range d.Changes {
			rows[i] = []string{d.Format(c.At), c.Key, string(c.Change), c.Summary, ticketList(c.Tickets), c.Verdict.Label(), c.AcceptedBy}
		}
		if len(rows) > 0 {
			m.table([]string{"First seen", "Item", "Change", "What", "Tickets", "Verdict", "Accepted by"}, rows)
		}
		for _, c := range d.Changes {
			if c.Diff == "" {
				continue
			}
			m.printf("%s %s\n\n", h3, MarkdownText(c.Key))
			m.raw(MarkdownFence(c.Diff, "diff"))
			m.raw("\n")
		}
	}
}

func writeFilesMarkdown(m *mdWriter, h2, h3, title string, files []DocFile) {
	if len(files) == 0 {
		return
	}
	m.printf("%s %s\n\n", h2, MarkdownText(title))
	for _, f := range files {
		m.printf("%s %s\n\n", h3, MarkdownText(f.Name))
		var notes []string
		if f.Meta != "" {
			notes = append(notes, f.Meta)
		}
		if f.Digest != "" {
			notes = append(notes, "sha256 "+f.Digest)
		}
		if f.Redacted {
			notes = append(notes, "secrets masked")
		}
		if len(notes) > 0 {
			m.printf("%s\n\n", MarkdownText(strings.Join(notes, " · ")))
		}
		if f.Error != "" {
			m.printf("Error: %s\n\n", MarkdownText(f.Error))
		}
		switch {
		case f.HasContent:
			m.raw(MarkdownFence(f.Content, ""))
			m.raw("\n")
		case f.Digest != "":
			m.raw("Content not captured: documented by digest only.\n\n")
		}
	}
}

func withError(s, err string) string {
	if err != "" {
		if s != "" {
			return s + " (error: " + err + ")"
		}
		return "error: " + err
	}
	return s
}

func ticketList(ts []TicketRef) string {
	if len(ts) == 0 {
		return "none"
	}
	refs := make([]string, len(ts))
	for i := range ts {
		refs[i] = ts[i].Label()
	}
	return strings.Join(refs, ", ")
}
