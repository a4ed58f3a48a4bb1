package reporter

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
)

// ChangeLogColumns are the CSV export's columns.
var ChangeLogColumns = []string{"time", "tenant", "host", "item", "change", "what changed", "verdict", "ticket",
	"ticket title", "owner", "who needs to know", "notes"}

// csvCell makes a value safe for a spreadsheet: special characters shown
// visibly, and a value that a spreadsheet would take for a formula (it
// starts with =, +, -, @, a tab or a carriage return) prefixed with a
// single quote.
func csvCell(s string) string {
	s = VisibleText(s, true)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteChangeLogCSV writes change log entries as CSV (RFC 4180, CRLF line
// ends) with a header row, times in RFC 3339 in loc (nil: UTC). Every cell
// is escaped against formula injection. It writes nothing when it fails.
func WriteChangeLogCSV(w io.Writer, entries []ChangeLogEntry, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = true
	if err := cw.Write(ChangeLogColumns); err != nil {
		return fmt.Errorf("write change log csv header: %w", err)
	}
	for i, e := range entries {
		ticket, title := "", ""
		if e.Ticket != nil {
			ticket, title = e.Ticket.Label(), e.Ticket.Title
		}
		at := ""
		if !e.At.IsZero() {
			at = e.At.In(loc).Format(time.RFC3339)
		}
		verdict := ""
		if e.Verdict != "" {
			verdict = string(e.Verdict)
		}
		row := []string{at, e.Host.TenantName, e.Host.Name, e.Key, string(e.Change), e.Summary, verdict, ticket, title,
			e.Owner, strings.Join(e.NeedsToKnow, ", "), e.Notes}
		for j := range row {
			row[j] = csvCell(row[j])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write change log csv row %d: %w", i+1, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write change log csv: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write change log csv: %w", err)
	}
	return nil
}
