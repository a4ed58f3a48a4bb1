package reporter

import (
	"bytes"
	"strings"
	"testing"
)

// An item a standard change authorized shows as "Authorized (standard
// change)" in the drift list, on its page and in emails; any other item
// keeps its verdict's label.
func TestStandardChangeLabel(t *testing.T) {
	r := newRenderer(t)

	rows := fixDriftRows(2)
	rows[0].Verdict, rows[0].StandardChange = VerdictAuthorized, true
	rows[1].Verdict, rows[1].StandardChange = VerdictUnauthorized, true // not authorized: no mark
	p := fixInbox(0)
	p.Rows = rows
	list := string(p.DriftRows(rows, true))
	if strings.Count(list, "Authorized (standard change)") != 1 || !strings.Contains(list, ">Unauthorized<") {
		t.Errorf("drift rows:\n%s", list)
	}

	page := fixDriftPage(ViewUnified)
	page.Item.Verdict, page.Item.StandardChange = VerdictAuthorized, true
	var b bytes.Buffer
	if err := r.Drift(&b, page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Authorized (standard change)") {
		t.Errorf("drift page does not show the standard change")
	}

	a := fixAlert()
	a.Changes[0].Verdict, a.Changes[0].StandardChange = VerdictAuthorized, true
	b.Reset()
	if err := r.AlertHTML(&b, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Authorized (standard change)") {
		t.Errorf("alert HTML does not show the standard change")
	}
	b.Reset()
	if err := r.AlertText(&b, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "AUTHORIZED (STANDARD CHANGE)") {
		t.Errorf("alert text does not show the standard change:\n%s", b.String())
	}
	if s := AlertSubject(a); !strings.Contains(s, "Authorized (standard change) change on") {
		t.Errorf("alert subject %q", s)
	}
}
