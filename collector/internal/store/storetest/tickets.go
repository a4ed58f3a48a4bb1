package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// ticketTests are the tests of the Tickets methods.
func ticketTests() []test {
	return []test{
		{"TicketCRUD", testTicketCRUD},
		{"TicketReference", testTicketReference},
		{"TicketRace", testTicketRace},
		{"TicketList", testTicketList},
		{"OpenTickets", testOpenTickets},
		{"Policy", testPolicy},
		{"ApplyDrift", testApplyDrift},
		{"ApplyDriftResolved", testApplyDriftResolved},
		{"ApplyDriftAtomic", testApplyDriftAtomic},
		{"ApplyDriftLarge", testApplyDriftLarge},
		{"SetVerdicts", testSetVerdicts},
		{"ApplyDriftVerdicts", testApplyDriftVerdicts},
		{"DriftInbox", testDriftInbox},
		{"DriftKeyPattern", testDriftKeyPattern},
		{"DriftVerdictOrder", testDriftVerdictOrder},
		{"ResolveDrift", testResolveDrift},
		{"DriftCounts", testDriftCounts},
		{"AuditChain", testAuditChain},
		{"AuditConcurrent", testAuditConcurrent},
		{"TicketTenantIsolation", testTicketTenantIsolation},
	}
}

// auditEntry is an audit entry by alice at at.
func auditEntry(action, subject string, at time.Time) store.AuditEntry {
	return store.AuditEntry{At: at, Actor: "alice@example.com", Action: action, Subject: subject,
		Detail: fmt.Appendf(nil, `{"subject": %q,  "note": "<b>&"}`, subject)}
}

// newTicket is a draft ticket created at t0.
func newTicket(tenantID, id, ref string) store.Ticket {
	return store.Ticket{
		ID: id, TenantID: tenantID, Reference: ref, Title: "Change " + id, State: "draft",
		Class: "customer", Origin: "web", CreatedAt: t0, UpdatedAt: t0,
		// Odd spacing and key order, which must come back as sent.
		Doc: fmt.Appendf(nil, `{"id": %q,  "title":"Change %s", "a": [1, 2]}`, id, id),
	}
}

func createTicket(t *testing.T, s store.Store, tk store.Ticket) store.Ticket {
	t.Helper()
	got, err := s.CreateTicket(t.Context(), store.TicketWrite{Ticket: tk, Audit: auditEntry(audit.ActionTicketCreate, tk.ID, tk.UpdatedAt)})
	must(t, "create ticket "+tk.ID, err)
	return got
}

// storedTicket is tk as a store gives it back at version v.
func storedTicket(tk store.Ticket, v int) store.Ticket {
	tk.WindowStart, tk.WindowEnd = stored(tk.WindowStart), stored(tk.WindowEnd)
	tk.CreatedAt, tk.UpdatedAt, tk.FinishedAt = stored(tk.CreatedAt), stored(tk.UpdatedAt), stored(tk.FinishedAt)
	tk.Version = v
	return tk
}

// auditLog reads a tenant's whole audit log.
func auditLog(t *testing.T, s store.Store, tenantID string) []store.AuditEntry {
	t.Helper()
	var es []store.AuditEntry
	for e, err := range store.AuditLog(t.Context(), s, tenantID, 0) {
		must(t, "audit log", err)
		checkUTC(t, "audit entry", e.At)
		es = append(es, e)
	}
	return es
}

// verifyAudit fails unless a tenant's audit log is whole and n entries
// long.
func verifyAudit(t *testing.T, s store.Store, tenantID string, n int) {
	t.Helper()
	res, err := store.VerifyAudit(t.Context(), s, tenantID)
	must(t, "verify audit log", err)
	if res.Break != nil || res.Checked != n {
		t.Errorf("audit log of tenant %s: %d entries good, break %v; want %d and no break", tenantID, res.Checked, res.Break, n)
	}
}

// actions lists entries' actions and subjects.
func actions(es []store.AuditEntry) []string {
	var as []string
	for _, e := range es {
		as = append(as, e.Action+" "+e.Subject)
	}
	return as
}

func testTicketCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	tk := newTicket("a", "CHG-1", "JIRA-7")
	tk.WindowStart, tk.WindowEnd = t0.Add(24*time.Hour), t0.Add(26*time.Hour)
	got, err := s.CreateTicket(ctx, store.TicketWrite{
		Ticket:     tk,
		Transition: &store.TicketTransition{Actor: "alice@example.com", Role: "requester", To: "draft", Comment: "new"},
		Audit:      auditEntry(audit.ActionTicketCreate, "CHG-1", t0),
	})
	must(t, "create ticket", err)
	want := storedTicket(tk, 1)
	diff(t, "created ticket", want, got)
	read, err := s.Ticket(ctx, "a", "CHG-1")
	must(t, "read ticket", err)
	diff(t, "ticket read back (document as sent)", want, read)
	checkUTC(t, "ticket", read.WindowStart, read.WindowEnd, read.CreatedAt, read.UpdatedAt)

	// An edit without a change of state needs no transition.
	edit := read
	edit.Title, edit.UpdatedAt = "Open port 443 on the web tier", t0.Add(time.Minute)
	edit.Doc = []byte(`{"title":"Open port 443 on the web tier"}`)
	edit.CreatedAt = t0.Add(time.Hour) // ignored
	got, err = s.UpdateTicket(ctx, store.TicketWrite{Ticket: edit, Audit: auditEntry(audit.ActionTicketUpdate, "CHG-1", edit.UpdatedAt)})
	must(t, "edit ticket", err)
	want = storedTicket(edit, 2)
	want.CreatedAt = stored(t0)
	diff(t, "edited ticket", want, got)

	// A change of state with its transition.
	approve := got
	approve.State, approve.UpdatedAt = "approved", t0.Add(2*time.Minute)
	tr := &store.TicketTransition{Actor: "bob@example.com", Role: "approver", From: "draft", To: "approved", Comment: "go ahead"}
	got, err = s.UpdateTicket(ctx, store.TicketWrite{Ticket: approve, Transition: tr, Audit: auditEntry(audit.ActionTicketApprove, "CHG-1", approve.UpdatedAt)})
	must(t, "approve ticket", err)
	if got.Version != 3 || got.State != "approved" {
		t.Errorf("approved ticket at version %d in state %s, want 3 approved", got.Version, got.State)
	}
	if tr.TicketID != "" || !tr.At.IsZero() {
		t.Errorf("UpdateTicket changed the caller's transition: %+v", tr)
	}

	// Writes that are refused leave the ticket as it is.
	stale := approve // version 2
	stale.State = "implementing"
	cases := []struct {
		name string
		w    store.TicketWrite
		err  error
	}{
		{"stale version", store.TicketWrite{Ticket: stale, Transition: &store.TicketTransition{From: "approved", To: "implementing"},
			Audit: auditEntry(audit.ActionTicketTransition, "CHG-1", t0)}, store.ErrConflict},
		{"state change without a transition", store.TicketWrite{Ticket: withVersion(stale, 3), Audit: auditEntry(audit.ActionTicketTransition, "CHG-1", t0)}, store.ErrInvalid},
		{"transition from the wrong state", store.TicketWrite{Ticket: withVersion(stale, 3), Transition: &store.TicketTransition{From: "draft", To: "implementing"},
			Audit: auditEntry(audit.ActionTicketTransition, "CHG-1", t0)}, store.ErrInvalid},
		{"transition to another state", store.TicketWrite{Ticket: withVersion(stale, 3), Transition: &store.TicketTransition{From: "approved", To: "closed"},
			Audit: auditEntry(audit.ActionTicketTransition, "CHG-1", t0)}, store.ErrInvalid},
		{"document not JSON", store.TicketWrite{Ticket: withDoc(withVersion(got, 3), `{"title":`), Audit: auditEntry(audit.ActionTicketUpdate, "CHG-1", t0)}, store.ErrInvalid},
		{"no document", store.TicketWrite{Ticket: withDoc(withVersion(got, 3), ""), Audit: auditEntry(audit.ActionTicketUpdate, "CHG-1", t0)}, store.ErrInvalid},
		{"audit entry without action", store.TicketWrite{Ticket: withVersion(got, 3), Audit: store.AuditEntry{At: t0}}, store.ErrInvalid},
		{"audit entry of another tenant", store.TicketWrite{Ticket: withVersion(got, 3), Audit: store.AuditEntry{TenantID: "b", Action: "ticket.update", At: t0}}, store.ErrInvalid},
		{"window ends before it starts", store.TicketWrite{Ticket: withWindow(withVersion(got, 3), t0.Add(time.Hour), t0), Audit: auditEntry(audit.ActionTicketUpdate, "CHG-1", t0)}, store.ErrInvalid},
		{"no such ticket", store.TicketWrite{Ticket: withVersion(newTicket("a", "CHG-404", ""), 1), Audit: auditEntry(audit.ActionTicketUpdate, "CHG-404", t0)}, store.ErrNotFound},
	}
	for _, tt := range cases {
		_, err := s.UpdateTicket(ctx, tt.w)
		wantErr(t, "update with "+tt.name, err, tt.err)
	}
	read, err = s.Ticket(ctx, "a", "CHG-1")
	must(t, "read ticket", err)
	diff(t, "ticket after refused writes", got, read)

	for _, tt := range []struct {
		name string
		tk   store.Ticket
		err  error
	}{
		{"the same ID", newTicket("a", "CHG-1", ""), store.ErrExists},
		{"no ID", newTicket("a", "", ""), store.ErrInvalid},
		{"no state", func() store.Ticket { tk := newTicket("a", "CHG-2", ""); tk.State = ""; return tk }(), store.ErrInvalid},
		{"an unknown tenant", newTicket("nobody", "CHG-2", ""), store.ErrNotFound},
	} {
		_, err := s.CreateTicket(ctx, store.TicketWrite{Ticket: tt.tk, Audit: auditEntry(audit.ActionTicketCreate, tt.tk.ID, t0)})
		wantErr(t, "create ticket with "+tt.name, err, tt.err)
	}
	_, err = s.Ticket(ctx, "a", "CHG-404")
	wantErr(t, "unknown ticket", err, store.ErrNotFound)

	trs, err := s.TicketTransitions(ctx, "a", "CHG-1")
	must(t, "transitions", err)
	diff(t, "transitions", []store.TicketTransition{
		{TicketID: "CHG-1", Version: 1, At: stored(t0), Actor: "alice@example.com", Role: "requester", From: "", To: "draft", Comment: "new"},
		{TicketID: "CHG-1", Version: 3, At: stored(t0.Add(2 * time.Minute)), Actor: "bob@example.com", Role: "approver", From: "draft", To: "approved", Comment: "go ahead"},
	}, trs)
	_, err = s.TicketTransitions(ctx, "a", "CHG-404")
	wantErr(t, "transitions of an unknown ticket", err, store.ErrNotFound)

	// Every write that was stored has its audit entry, and no other.
	es := auditLog(t, s, "a")
	diff(t, "audit log", []string{"ticket.create CHG-1", "ticket.update CHG-1", "ticket.approve CHG-1"}, actions(es))
	verifyAudit(t, s, "a", 3)
}

func withVersion(tk store.Ticket, v int) store.Ticket { tk.Version = v; return tk }
func withDoc(tk store.Ticket, doc string) store.Ticket {
	tk.Doc = []byte(doc)
	return tk
}
func withWindow(tk store.Ticket, start, end time.Time) store.Ticket {
	tk.WindowStart, tk.WindowEnd = start, end
	return tk
}

func testTicketReference(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	a1 := createTicket(t, s, newTicket("a", "CHG-1", "JIRA-7"))
	// Tickets without a reference do not collide.
	createTicket(t, s, newTicket("a", "CHG-2", ""))
	createTicket(t, s, newTicket("a", "CHG-3", ""))
	// The same reference in another tenant is another ticket.
	b1 := createTicket(t, s, newTicket("b", "CHG-1", "JIRA-7"))

	_, err := s.CreateTicket(ctx, store.TicketWrite{Ticket: newTicket("a", "CHG-4", "JIRA-7"), Audit: auditEntry("ticket.create", "CHG-4", t0)})
	wantErr(t, "create with a reference taken in the tenant", err, store.ErrExists)
	up := newTicket("a", "CHG-2", "JIRA-7")
	up.Version = 1
	_, err = s.UpdateTicket(ctx, store.TicketWrite{Ticket: up, Audit: auditEntry("ticket.update", "CHG-2", t0)})
	wantErr(t, "update to a reference taken in the tenant", err, store.ErrExists)

	got, err := s.TicketByReference(ctx, "a", "JIRA-7")
	must(t, "ticket by reference", err)
	diff(t, "tenant a's JIRA-7", a1, got)
	got, err = s.TicketByReference(ctx, "b", "JIRA-7")
	must(t, "ticket by reference", err)
	diff(t, "tenant b's JIRA-7", b1, got)
	for _, ref := range []string{"JIRA-8", ""} {
		_, err = s.TicketByReference(ctx, "a", ref)
		wantErr(t, fmt.Sprintf("ticket by reference %q", ref), err, store.ErrNotFound)
	}
	// CHG-4 was not created; its audit entry was not appended.
	diff(t, "audit log of tenant a", []string{"ticket.create CHG-1", "ticket.create CHG-2", "ticket.create CHG-3"}, actions(auditLog(t, s, "a")))
}

// testTicketRace updates one ticket from one version at once: exactly one
// update wins.
func testTicketRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	tk := createTicket(t, s, newTicket("a", "CHG-1", ""))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			up := tk
			up.State, up.UpdatedAt = "submitted", t0.Add(time.Duration(i+1)*time.Minute)
			up.Title = fmt.Sprintf("edit %d", i)
			_, errs[i] = s.UpdateTicket(ctx, store.TicketWrite{Ticket: up,
				Transition: &store.TicketTransition{Actor: fmt.Sprintf("user%d", i), From: "draft", To: "submitted"},
				Audit:      auditEntry(audit.ActionTicketTransition, "CHG-1", up.UpdatedAt)})
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("updates %d and %d of version 1 both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("update %d: error %v, want ErrConflict or success", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no update of version 1 succeeded")
	}
	got, err := s.Ticket(ctx, "a", "CHG-1")
	must(t, "ticket", err)
	if got.Version != 2 || got.Title != fmt.Sprintf("edit %d", won) {
		t.Errorf("ticket at version %d titled %q, want version 2 by the winner %d", got.Version, got.Title, won)
	}
	trs, err := s.TicketTransitions(ctx, "a", "CHG-1")
	must(t, "transitions", err)
	if len(trs) != 1 || trs[0].Actor != fmt.Sprintf("user%d", won) {
		t.Errorf("transitions %+v, want the winner's only", trs)
	}
	es := auditLog(t, s, "a")
	if len(es) != 2 {
		t.Errorf("audit log has %d entries, want 2 (creation and the winning update)", len(es))
	}
	verifyAudit(t, s, "a", 2)
}

func testTicketList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	day := 24 * time.Hour
	type spec struct {
		id, state  string
		updated    time.Duration
		start, end time.Duration // window from t0; -1: none
	}
	specs := []spec{
		{"CHG-1", "draft", 1 * time.Minute, -1, -1},
		{"CHG-2", "approved", 5 * time.Minute, 1 * day, 1*day + 2*time.Hour},
		{"CHG-3", "approved", 3 * time.Minute, 3 * day, 3*day + time.Hour},
		{"CHG-4", "implementing", 3 * time.Minute, 2 * day, -1}, // no end
		{"CHG-5", "closed", 7 * time.Minute, -1, 1 * day},       // no start
		{"CHG-6", "rejected", 2 * time.Minute, -1, -1},
		{"CHG-7", "approved", 6 * time.Minute, 5 * day, 6 * day},
	}
	for _, sp := range specs {
		tk := newTicket("a", sp.id, "")
		tk.State, tk.UpdatedAt = sp.state, t0.Add(sp.updated)
		if sp.start >= 0 {
			tk.WindowStart = t0.Add(sp.start)
		}
		if sp.end >= 0 {
			tk.WindowEnd = t0.Add(sp.end)
		}
		createTicket(t, s, tk)
	}
	ids := func(ts []store.Ticket) []string {
		var out []string
		for _, tk := range ts {
			out = append(out, tk.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.TicketFilter
		want []string
	}{
		// Newest update first; CHG-3 and CHG-4 tie and go by ID, descending.
		{"all", store.TicketFilter{}, []string{"CHG-5", "CHG-7", "CHG-2", "CHG-4", "CHG-3", "CHG-6", "CHG-1"}},
		{"states", store.TicketFilter{States: []string{"approved", "implementing"}}, []string{"CHG-7", "CHG-2", "CHG-4", "CHG-3"}},
		{"updated since", store.TicketFilter{UpdatedSince: t0.Add(5 * time.Minute)}, []string{"CHG-5", "CHG-7", "CHG-2"}},
		// CHG-2 ends at day 1 + 2h, CHG-5 at day 1, CHG-4 runs from day 2 on.
		{"window overlapping day 1 to 2", store.TicketFilter{WindowFrom: t0.Add(day + time.Hour), WindowTo: t0.Add(2 * day)},
			[]string{"CHG-2", "CHG-4"}},
		{"window from day 4", store.TicketFilter{WindowFrom: t0.Add(4 * day)}, []string{"CHG-7", "CHG-4"}},
		{"window until day 1", store.TicketFilter{WindowTo: t0.Add(day)}, []string{"CHG-5", "CHG-2"}},
		{"window and state", store.TicketFilter{WindowFrom: t0, WindowTo: t0.Add(10 * day), States: []string{"approved"}},
			[]string{"CHG-7", "CHG-2", "CHG-3"}},
		{"nothing", store.TicketFilter{States: []string{"cancelled"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := s.Tickets(ctx, "a", tt.f)
			must(t, "list tickets", err)
			diff(t, "tickets", tt.want, ids(got))
			if next != "" {
				t.Errorf("one page holds them all, but next is %q", next)
			}
			// The same, two at a time.
			var paged []store.Ticket
			f := tt.f
			f.Limit = 2
			for i := 0; ; i++ {
				page, next, err := s.Tickets(ctx, "a", f)
				must(t, "list a page of tickets", err)
				if len(page) > 2 {
					t.Fatalf("page of %d tickets, limit 2", len(page))
				}
				paged = append(paged, page...)
				if next == "" {
					break
				}
				if i > len(specs) {
					t.Fatal("paging does not end")
				}
				f.Cursor = next
			}
			diff(t, "tickets two at a time", tt.want, ids(paged))
		})
	}
	all, _, err := s.Tickets(ctx, "a", store.TicketFilter{})
	must(t, "list tickets", err)
	for _, tk := range all {
		checkUTC(t, "listed ticket", tk.WindowStart, tk.WindowEnd, tk.CreatedAt, tk.UpdatedAt)
		if !bytes.HasPrefix(tk.Doc, []byte(`{"id": "`+tk.ID+`",  "title"`)) {
			t.Errorf("listed ticket %s has document %s, not as sent", tk.ID, tk.Doc)
		}
	}
	for _, bad := range []string{"not a cursor", "WzEsMl0"} {
		_, _, err := s.Tickets(ctx, "a", store.TicketFilter{Cursor: bad})
		wantErr(t, fmt.Sprintf("list with cursor %q", bad), err, store.ErrInvalid)
	}
}

func testOpenTickets(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	for _, sp := range []struct {
		id       string
		finished time.Duration // -1: not finished
	}{
		{"CHG-1", -1},
		{"CHG-2", 1 * time.Hour},
		{"CHG-3", 10 * time.Hour},
		{"CHG-4", -1},
		{"CHG-5", 48 * time.Hour},
	} {
		tk := newTicket("a", sp.id, "")
		if sp.finished >= 0 {
			tk.State, tk.FinishedAt, tk.UpdatedAt = "closed", t0.Add(sp.finished), t0.Add(sp.finished)
		}
		createTicket(t, s, tk)
	}
	for _, tt := range []struct {
		since time.Time
		want  []string
	}{
		{t0.Add(10 * time.Hour), []string{"CHG-1", "CHG-3", "CHG-4", "CHG-5"}},
		{t0.Add(11 * time.Hour), []string{"CHG-1", "CHG-4", "CHG-5"}},
		{t0.Add(100 * time.Hour), []string{"CHG-1", "CHG-4"}},
		{time.Time{}, []string{"CHG-1", "CHG-2", "CHG-3", "CHG-4", "CHG-5"}},
	} {
		got, err := s.OpenTickets(ctx, "a", tt.since)
		must(t, "open tickets", err)
		var ids []string
		for _, tk := range got {
			ids = append(ids, tk.ID)
		}
		diff(t, fmt.Sprintf("open tickets finished since %v", tt.since), tt.want, ids)
	}
	// A ticket reopened (FinishedAt cleared) is open again.
	tk, err := s.Ticket(ctx, "a", "CHG-2")
	must(t, "ticket", err)
	tk.State, tk.FinishedAt, tk.UpdatedAt = "draft", time.Time{}, t0.Add(200*time.Hour)
	_, err = s.UpdateTicket(ctx, store.TicketWrite{Ticket: tk, Transition: &store.TicketTransition{Actor: "alice@example.com", From: "closed", To: "draft"},
		Audit: auditEntry(audit.ActionTicketTransition, "CHG-2", tk.UpdatedAt)})
	must(t, "reopen", err)
	got, err := s.OpenTickets(ctx, "a", t0.Add(100*time.Hour))
	must(t, "open tickets", err)
	if len(got) != 3 || got[1].ID != "CHG-2" {
		t.Errorf("open tickets after reopening CHG-2: %d, want CHG-1, CHG-2, CHG-4", len(got))
	}
}

func testPolicy(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	_, err := s.Policy(ctx, "a")
	wantErr(t, "policy never set", err, store.ErrNotFound)

	p1 := store.Policy{TenantID: "a", Doc: []byte(`{"rules": [ {"match":"file:/etc/*", "level":3} ]}`), UpdatedAt: t0, UpdatedBy: "alice@example.com"}
	got, err := s.PutPolicy(ctx, p1, auditEntry(audit.ActionPolicyUpdate, "policy", t0))
	must(t, "put first policy", err)
	want := p1
	want.Version, want.UpdatedAt = 1, stored(t0)
	diff(t, "first policy", want, got)
	read, err := s.Policy(ctx, "a")
	must(t, "policy", err)
	diff(t, "policy read back (document as sent)", want, read)
	checkUTC(t, "policy", read.UpdatedAt)

	// Another writer that read no policy, or version 1 after version 2.
	_, err = s.PutPolicy(ctx, p1, auditEntry(audit.ActionPolicyUpdate, "policy", t0))
	wantErr(t, "put a policy over one not read", err, store.ErrConflict)
	p2 := read
	p2.Doc, p2.UpdatedAt, p2.UpdatedBy = []byte(`{"rules":[]}`), t0.Add(time.Hour), "bob@example.com"
	got, err = s.PutPolicy(ctx, p2, auditEntry(audit.ActionPolicyUpdate, "policy", t0.Add(time.Hour)))
	must(t, "put second policy", err)
	if got.Version != 2 {
		t.Errorf("second policy at version %d, want 2", got.Version)
	}
	_, err = s.PutPolicy(ctx, p2, auditEntry(audit.ActionPolicyUpdate, "policy", t0))
	wantErr(t, "put a policy at a stale version", err, store.ErrConflict)

	for _, tt := range []struct {
		name string
		p    store.Policy
		a    store.AuditEntry
		err  error
	}{
		{"not JSON", store.Policy{TenantID: "a", Version: 2, Doc: []byte("rules: []"), UpdatedAt: t0}, auditEntry("policy.update", "policy", t0), store.ErrInvalid},
		{"no audit action", store.Policy{TenantID: "a", Version: 2, Doc: []byte("{}"), UpdatedAt: t0}, store.AuditEntry{At: t0}, store.ErrInvalid},
		{"unknown tenant", store.Policy{TenantID: "nobody", Doc: []byte("{}"), UpdatedAt: t0}, auditEntry("policy.update", "policy", t0), store.ErrNotFound},
	} {
		_, err := s.PutPolicy(ctx, tt.p, tt.a)
		wantErr(t, "put policy with "+tt.name, err, tt.err)
	}
	read, err = s.Policy(ctx, "a")
	must(t, "policy", err)
	if read.Version != 2 || string(read.Doc) != `{"rules":[]}` || read.UpdatedBy != "bob@example.com" {
		t.Errorf("policy after refused writes: %+v, want version 2 by bob", read)
	}
	diff(t, "audit log", []string{"policy.update policy", "policy.update policy"}, actions(auditLog(t, s, "a")))
}

// idGen hands out item IDs in increasing order.
type idGen struct {
	mu     sync.Mutex
	prefix string
	n      int
}

func (g *idGen) next() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return fmt.Sprintf("%s%05d", g.prefix, g.n)
}

// observation is the change of key into state.
func observation(key, state string) store.DriftObservation {
	change := baseline.Modified
	if state == "new" {
		change = baseline.Added
	}
	return store.DriftObservation{
		Key: key, Kind: baseline.KindOf(key), Change: change,
		StateDigest: baseline.Sum([]byte(key + "\x00" + state)).String(),
		// Odd spacing, which must come back as sent.
		ChangeDoc: fmt.Appendf(nil, `{"key": %q,  "change": %q, "new": {"state": %q}}`, key, change, state),
	}
}

// drifter sends a host's drift reports: each report is the host's full
// drift, its state after the previous report and the changes given.
type drifter struct {
	t     *testing.T
	s     store.Store
	h     store.Host
	ids   *idGen
	seq   uint64
	state map[string]string
	// items maps each key to the ID of its newest item.
	items map[string]string
}

func newDrifter(t *testing.T, s store.Store, h store.Host, ids *idGen) *drifter {
	return &drifter{t: t, s: s, h: h, ids: ids, state: map[string]string{}, items: map[string]string{}}
}

// observations are the host's full drift in the current state, by key,
// each with a new ID.
func (d *drifter) observations() []store.DriftObservation {
	var obs []store.DriftObservation
	for _, k := range slices.Sorted(maps.Keys(d.state)) {
		o := observation(k, d.state[k])
		o.NewID = d.ids.next()
		obs = append(obs, o)
	}
	return obs
}

// report applies the next report at at, after the changes: key → state,
// "" for a key that no longer drifts.
func (d *drifter) report(at time.Time, changes map[string]string) store.ApplyResult {
	d.t.Helper()
	for k, v := range changes {
		if v == "" {
			delete(d.state, k)
		} else {
			d.state[k] = v
		}
	}
	d.seq++
	res, err := d.s.ApplyDrift(d.t.Context(), d.h.TenantID, d.h.ID, d.seq, at, d.observations())
	must(d.t, fmt.Sprintf("apply report %d of %s", d.seq, d.h.Name), err)
	if res.Stale {
		d.t.Fatalf("report %d of %s taken for stale", d.seq, d.h.Name)
	}
	for _, it := range res.Opened {
		d.items[it.Key] = it.ID
	}
	return res
}

// item reads the newest item of key.
func (d *drifter) item(key string) store.DriftItem {
	d.t.Helper()
	id, ok := d.items[key]
	if !ok {
		d.t.Fatalf("no item of %s", key)
	}
	it, err := d.s.DriftItem(d.t.Context(), d.h.TenantID, id)
	must(d.t, "drift item "+key, err)
	checkUTC(d.t, "drift item "+key, it.FirstSeen, it.ChangedAt, it.LastSeen, it.ResolvedAt)
	return it
}

// history reads the events of the newest item of key.
func (d *drifter) history(key string) []string {
	d.t.Helper()
	es, err := d.s.DriftHistory(d.t.Context(), d.h.TenantID, d.items[key])
	must(d.t, "history of "+key, err)
	var out []string
	for _, e := range es {
		checkUTC(d.t, "drift event", e.At)
		out = append(out, fmt.Sprintf("%s %s→%s #%d", e.Event, e.FromStatus, e.ToStatus, e.ReportSeq))
	}
	return out
}

// keys lists items' keys, in order.
func keys(items []store.DriftItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

// openedItem is the item an observation opened in report seq at at, as
// a store gives it back.
func openedItem(h store.Host, o store.DriftObservation, id string, seq uint64, at time.Time) store.DriftItem {
	return store.DriftItem{
		ID: id, TenantID: h.TenantID, HostID: h.ID, Key: o.Key, Kind: o.Kind, Change: o.Change,
		StateDigest: o.StateDigest, ChangeDoc: o.ChangeDoc,
		FirstSeen: stored(at), ChangedAt: stored(at), LastSeen: stored(at), FirstSeq: seq, LastSeq: seq,
		Current: true, Status: store.DriftOpen,
	}
}

func testApplyDrift(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	d := newDrifter(t, s, h, &idGen{prefix: "item"})
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)

	// Report 1: three keys drift.
	res := d.report(t1, map[string]string{"file:/etc/hosts": "v1", "package:openssl": "new", "sysctl:net.ipv4.ip_forward": "1"})
	if len(res.Opened) != 3 || len(res.Updated)+len(res.Closed)+len(res.Superseded)+res.Unchanged != 0 {
		t.Fatalf("report 1: %d opened, %d updated, %d closed, %d superseded, %d unchanged; want 3 opened only",
			len(res.Opened), len(res.Updated), len(res.Closed), len(res.Superseded), res.Unchanged)
	}
	hosts := d.item("file:/etc/hosts")
	want := openedItem(h, observation("file:/etc/hosts", "v1"), hosts.ID, 1, t1)
	diff(t, "opened item as returned", want, res.Opened[0])
	diff(t, "opened item read back (change document as sent)", want, hosts)

	// Report 2: hosts seen again, openssl modified again, ip_forward
	// returned to its baseline, sshd_config new.
	res = d.report(t2, map[string]string{"package:openssl": "v2", "sysctl:net.ipv4.ip_forward": "", "file:/etc/ssh/sshd_config": "v1"})
	if res.Unchanged != 1 {
		t.Errorf("report 2: %d unchanged, want 1", res.Unchanged)
	}
	diff(t, "report 2 opened", []string{"file:/etc/ssh/sshd_config"}, keys(res.Opened))
	diff(t, "report 2 updated", []string{"package:openssl"}, keys(res.Updated))
	diff(t, "report 2 closed", []string{"sysctl:net.ipv4.ip_forward"}, keys(res.Closed))

	ssl := d.item("package:openssl")
	o := observation("package:openssl", "v2")
	wantSSL := openedItem(h, o, ssl.ID, 1, t1)
	wantSSL.ChangedAt, wantSSL.LastSeen, wantSSL.LastSeq = stored(t2), stored(t2), 2
	diff(t, "item modified again", wantSSL, ssl)
	diff(t, "item modified again as returned", wantSSL, res.Updated[0])

	fwd := d.item("sysctl:net.ipv4.ip_forward")
	wantFwd := openedItem(h, observation("sysctl:net.ipv4.ip_forward", "1"), fwd.ID, 1, t1)
	wantFwd.Current, wantFwd.Status, wantFwd.ResolvedAt = false, store.DriftReverted, stored(t2)
	wantFwd.Reason = fwd.Reason
	diff(t, "item returned to its baseline (last seen in report 1)", wantFwd, fwd)
	diff(t, "closed item as returned", wantFwd, res.Closed[0])
	if fwd.Reason == "" || fwd.ResolvedBy != "" {
		t.Errorf("reverted item: reason %q by %q, want a reason and no person", fwd.Reason, fwd.ResolvedBy)
	}

	// An item seen again was last seen in report 2.
	hosts = d.item("file:/etc/hosts")
	if !hosts.LastSeen.Equal(stored(t2)) || hosts.LastSeq != 2 || !hosts.FirstSeen.Equal(stored(t1)) || !hosts.ChangedAt.Equal(stored(t1)) {
		t.Errorf("item seen again: first %v changed %v last %v #%d; want first and changed at report 1, last at report 2",
			hosts.FirstSeen, hosts.ChangedAt, hosts.LastSeen, hosts.LastSeq)
	}

	diff(t, "history of the item modified again", []string{"opened →open #1", "modified open→open #2"}, d.history("package:openssl"))
	diff(t, "history of the reverted item", []string{"opened →open #1", "reverted open→reverted #2"}, d.history("sysctl:net.ipv4.ip_forward"))
	es, err := s.DriftHistory(ctx, "a", ssl.ID)
	must(t, "history", err)
	if es[1].FromDigest != observation("package:openssl", "new").StateDigest || es[1].ToDigest != o.StateDigest || !es[1].At.Equal(stored(t2)) {
		t.Errorf("modified event %+v, want the old and new digests at report 2", es[1])
	}

	// Older and repeated reports are stale and change nothing.
	before, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)
	for _, seq := range []uint64{1, 2} {
		res, err := s.ApplyDrift(ctx, "a", h.ID, seq, t3, []store.DriftObservation{{Key: "file:/etc/motd", Kind: "file",
			Change: baseline.Added, StateDigest: "x", ChangeDoc: []byte(`{}`), NewID: "stale"}})
		must(t, fmt.Sprintf("apply report %d again", seq), err)
		if !res.Stale || len(res.Opened)+len(res.Closed) != 0 {
			t.Errorf("report %d again: %+v, want stale and nothing done", seq, res)
		}
	}
	after, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)
	diff(t, "items after stale reports", before, after)

	// Out of order: report 5 arrives before report 4.
	d.seq = 4
	res = d.report(t3, map[string]string{"file:/etc/hosts": ""})
	diff(t, "report 5 closed", []string{"file:/etc/hosts"}, keys(res.Closed))
	res, err = s.ApplyDrift(ctx, "a", h.ID, 4, t3.Add(-time.Second), []store.DriftObservation{observationWithID("file:/etc/hosts", "v1", "late")})
	must(t, "apply report 4 after 5", err)
	if !res.Stale {
		t.Errorf("report 4 after report 5 not stale: %+v", res)
	}
	if _, err := s.DriftItem(ctx, "a", "late"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("report 4 after report 5 opened an item: %v", err)
	}

	// A key that returns to drift after it was reverted is a new item.
	old := d.items["sysctl:net.ipv4.ip_forward"]
	res = d.report(t3.Add(time.Minute), map[string]string{"sysctl:net.ipv4.ip_forward": "1"})
	diff(t, "report 6 opened", []string{"sysctl:net.ipv4.ip_forward"}, keys(res.Opened))
	if res.Opened[0].ID == old {
		t.Errorf("drift again after a revert reopened the old item %s", old)
	}

	// An empty report closes every current item.
	d.state = map[string]string{}
	res = d.report(t3.Add(2*time.Minute), nil)
	diff(t, "empty report closed", []string{"file:/etc/ssh/sshd_config", "package:openssl", "sysctl:net.ipv4.ip_forward"}, keys(res.Closed))
	open, err := s.OpenDriftForHost(ctx, "a", h.ID)
	must(t, "open drift", err)
	if len(open) != 0 {
		t.Errorf("open drift after an empty report: %v", keys(open))
	}

	// Unknown hosts.
	for _, tt := range []struct{ tenant, host string }{{"a", "no-such-host"}, {"nobody", h.ID}} {
		_, err := s.ApplyDrift(ctx, tt.tenant, tt.host, 1, t1, nil)
		wantErr(t, fmt.Sprintf("apply drift of host %s of tenant %s", tt.host, tt.tenant), err, store.ErrNotFound)
	}
}

func observationWithID(key, state, id string) store.DriftObservation {
	o := observation(key, state)
	o.NewID = id
	return o
}

// testApplyDriftResolved follows items after a person resolved them.
func testApplyDriftResolved(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	d := newDrifter(t, s, h, &idGen{prefix: "item"})
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	d.report(t1, map[string]string{"k:accepted": "v1", "k:promoted": "v1", "k:revert": "v1", "k:accepted-then-modified": "v1", "k:open": "v1"})
	resolve := func(key, status string) {
		t.Helper()
		_, err := s.ResolveDrift(ctx, "a", store.DriftResolution{ItemIDs: []string{d.items[key]}, Status: status, By: "carol@example.com", At: t1},
			auditEntry("drift."+status, d.items[key], t1))
		must(t, "resolve "+key+" as "+status, err)
	}
	resolve("k:accepted", store.DriftAccepted)
	resolve("k:promoted", store.DriftPromoted)
	resolve("k:revert", store.DriftRevertRequested)
	resolve("k:accepted-then-modified", store.DriftAccepted)
	oldModified := d.items["k:accepted-then-modified"]

	// Report 2: resolved items in the same state are seen again, not
	// reopened; the revert happened; an accepted item changed again.
	res := d.report(t2, map[string]string{"k:revert": "", "k:accepted-then-modified": "v2"})
	if res.Unchanged != 3 {
		t.Errorf("report 2: %d unchanged, want 3 (accepted, promoted and open seen again)", res.Unchanged)
	}
	diff(t, "report 2 closed", []string{"k:revert"}, keys(res.Closed))
	diff(t, "report 2 superseded", []string{"k:accepted-then-modified"}, keys(res.Superseded))
	diff(t, "report 2 opened", []string{"k:accepted-then-modified"}, keys(res.Opened))
	if len(res.Updated) != 0 {
		t.Errorf("report 2 updated %v, want none", keys(res.Updated))
	}
	if it := d.item("k:revert"); it.Status != store.DriftReverted || it.Current {
		t.Errorf("revert-requested item that reverted: %s, current %v; want reverted, not current", it.Status, it.Current)
	}
	if it := d.item("k:accepted"); it.Status != store.DriftAccepted || !it.Current || it.LastSeq != 2 {
		t.Errorf("accepted item seen again: %s, current %v, last #%d; want accepted, current, last #2", it.Status, it.Current, it.LastSeq)
	}
	sup, err := s.DriftItem(ctx, "a", oldModified)
	must(t, "superseded item", err)
	if sup.Status != store.DriftAccepted || sup.Current || sup.LastSeq != 1 {
		t.Errorf("superseded item: %s, current %v, last #%d; want accepted, not current, last #1", sup.Status, sup.Current, sup.LastSeq)
	}
	if it := d.item("k:accepted-then-modified"); it.ID == oldModified || it.Status != store.DriftOpen || it.FirstSeq != 2 {
		t.Errorf("new state of an accepted item: %s %s first #%d, want a new open item from report 2", it.ID, it.Status, it.FirstSeq)
	}

	// Report 3: the accepted and promoted keys no longer drift (the agent
	// compares with the new baseline); they keep their status.
	res = d.report(t3, map[string]string{"k:accepted": "", "k:promoted": ""})
	diff(t, "report 3 closed", []string{"k:accepted", "k:promoted"}, keys(res.Closed))
	for i, status := range []string{store.DriftAccepted, store.DriftPromoted} {
		if c := res.Closed[i]; c.Status != status || c.Current || c.LastSeq != 2 {
			t.Errorf("closed %s: %s, current %v, last #%d; want %s, not current, last #2", c.Key, c.Status, c.Current, c.LastSeq, status)
		}
	}
	diff(t, "history of the accepted item", []string{"opened →open #1", "resolved open→accepted #0", "cleared accepted→accepted #3"}, d.history("k:accepted"))
	hist, err := s.DriftHistory(ctx, "a", oldModified)
	must(t, "history", err)
	if len(hist) != 3 || hist[2].Event != store.DriftEventSuperseded || hist[2].ReportSeq != 2 {
		t.Errorf("history of the superseded item: %+v, want opened, resolved, superseded in report 2", hist)
	}
}

// testApplyDriftAtomic checks that a report that fails is not applied at
// all.
func testApplyDriftAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	d := newDrifter(t, s, h, &idGen{prefix: "item"})
	d.report(t0, map[string]string{"k:1": "v1", "k:2": "v1"})
	before, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)

	taken := d.items["k:1"]
	valid := func() []store.DriftObservation {
		return []store.DriftObservation{observationWithID("k:2", "v2", "n1"), observationWithID("k:3", "v1", "n2")}
	}
	tests := []struct {
		name string
		edit func(obs []store.DriftObservation) []store.DriftObservation
		err  error
	}{
		{"new ID taken", func(obs []store.DriftObservation) []store.DriftObservation { obs[1].NewID = taken; return obs }, store.ErrExists},
		{"key twice", func(obs []store.DriftObservation) []store.DriftObservation {
			return append(obs, observationWithID("k:3", "v2", "n3"))
		}, store.ErrInvalid},
		{"new ID twice", func(obs []store.DriftObservation) []store.DriftObservation { obs[1].NewID = "n1"; return obs }, store.ErrInvalid},
		{"no new ID", func(obs []store.DriftObservation) []store.DriftObservation { obs[1].NewID = ""; return obs }, store.ErrInvalid},
		{"no key", func(obs []store.DriftObservation) []store.DriftObservation { obs[0].Key = ""; return obs }, store.ErrInvalid},
		{"no digest", func(obs []store.DriftObservation) []store.DriftObservation { obs[0].StateDigest = ""; return obs }, store.ErrInvalid},
		{"unknown change", func(obs []store.DriftObservation) []store.DriftObservation { obs[0].Change = "renamed"; return obs }, store.ErrInvalid},
		{"document not JSON", func(obs []store.DriftObservation) []store.DriftObservation {
			obs[1].ChangeDoc = []byte("{")
			return obs
		}, store.ErrInvalid},
	}
	for _, tt := range tests {
		_, err := s.ApplyDrift(ctx, "a", h.ID, 2, t0.Add(time.Minute), tt.edit(valid()))
		wantErr(t, "apply report with "+tt.name, err, tt.err)
	}
	after, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)
	diff(t, "items after refused reports", before, after)
	// Report 2 was not applied: it can still come.
	res, err := s.ApplyDrift(ctx, "a", h.ID, 2, t0.Add(time.Minute), valid())
	must(t, "apply report 2", err)
	if res.Stale || len(res.Opened) != 1 || len(res.Updated) != 1 || len(res.Closed) != 1 {
		t.Errorf("report 2 after refused attempts: %d opened, %d updated, %d closed, stale %v; want 1, 1, 1",
			len(res.Opened), len(res.Updated), len(res.Closed), res.Stale)
	}
	_, err = s.ApplyDrift(ctx, "a", h.ID, 1<<63, t0, nil)
	wantErr(t, "apply report 2^63", err, store.ErrInvalid)
	_, err = s.ApplyDrift(ctx, "a", h.ID, 9, time.Time{}, nil)
	wantErr(t, "apply report without a time", err, store.ErrInvalid)
}

// testApplyDriftLarge applies reports of thousands of items: new, the same,
// modified again, gone.
func testApplyDriftLarge(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	d := newDrifter(t, s, h, &idGen{prefix: "item"})
	const n = 1200 // more than a page (MaxPageSize)
	first := map[string]string{}
	for i := range n {
		first[fmt.Sprintf("file:/etc/conf.d/%05d", i)] = "v1"
	}
	res := d.report(t0, first)
	if len(res.Opened) != n {
		t.Fatalf("report 1 opened %d items, want %d", len(res.Opened), n)
	}
	second := map[string]string{}
	for i := range n {
		k := fmt.Sprintf("file:/etc/conf.d/%05d", i)
		switch i % 3 {
		case 1:
			second[k] = "v2"
		case 2:
			second[k] = ""
		}
	}
	for i := range n / 3 {
		second[fmt.Sprintf("file:/etc/new.d/%05d", i)] = "v1"
	}
	res = d.report(t0.Add(time.Minute), second)
	if res.Unchanged != n/3 || len(res.Updated) != n/3 || len(res.Closed) != n/3 || len(res.Opened) != n/3 {
		t.Errorf("report 2: %d unchanged, %d updated, %d closed, %d opened; want %d each",
			res.Unchanged, len(res.Updated), len(res.Closed), len(res.Opened), n/3)
	}
	for _, it := range res.Updated {
		if it.StateDigest != observation(it.Key, "v2").StateDigest || it.LastSeq != 2 || !it.Current {
			t.Fatalf("updated item %s: digest %s last #%d current %v", it.Key, it.StateDigest, it.LastSeq, it.Current)
		}
	}
	for _, it := range res.Closed {
		if it.Status != store.DriftReverted || it.LastSeq != 1 || it.Current {
			t.Fatalf("closed item %s: %s last #%d current %v", it.Key, it.Status, it.LastSeq, it.Current)
		}
	}
	open, err := s.OpenDriftForHost(ctx, "a", h.ID)
	must(t, "open drift", err)
	if len(open) != n {
		t.Errorf("%d open items, want %d", len(open), n)
	}
	if !slices.IsSortedFunc(open, func(a, b store.DriftItem) int { return cmpString(a.Key, b.Key) }) {
		t.Errorf("open drift not sorted by key")
	}
	for _, it := range open {
		if it.LastSeq != 2 {
			t.Fatalf("open item %s last seen in report %d, want 2", it.Key, it.LastSeq)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testSetVerdicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	d := newDrifter(t, s, h, &idGen{prefix: "item"})
	d.report(t0, map[string]string{"k:x": "v1", "k:y": "v1"})
	x, y := d.items["k:x"], d.items["k:y"]
	t1 := t0.Add(time.Minute)

	events, err := s.SetVerdicts(ctx, "a", t1, []store.VerdictUpdate{
		{ItemID: x, Verdict: store.VerdictUnauthorized, Level: 3, Rule: "etc-files", Reason: "no ticket covers k:x"},
		{ItemID: y, Verdict: store.VerdictAuthorized, Level: 1, Rule: "default", Tickets: []string{"CHG-1"}, Reason: "CHG-1"},
	})
	must(t, "set verdicts", err)
	diff(t, "verdict events", []store.DriftEvent{
		{ItemID: x, At: stored(t1), Event: store.DriftEventVerdict, FromStatus: "open", ToStatus: "open",
			ToVerdict: store.VerdictUnauthorized, ToLevel: 3, Reason: "no ticket covers k:x"},
		{ItemID: y, At: stored(t1), Event: store.DriftEventVerdict, FromStatus: "open", ToStatus: "open",
			ToVerdict: store.VerdictAuthorized, ToLevel: 1, Reason: "CHG-1"},
	}, events)
	it := d.item("k:y")
	if it.Verdict != store.VerdictAuthorized || it.Level != 1 || it.Rule != "default" || it.VerdictReason != "CHG-1" || !slices.Equal(it.Tickets, []string{"CHG-1"}) {
		t.Errorf("item after its verdict: %+v", it)
	}
	if it := d.item("k:x"); it.Tickets != nil {
		t.Errorf("item without tickets has tickets %#v, want nil", it.Tickets)
	}

	// The same verdicts again: no events. A new rule alone: no event, but
	// the rule is written. A new level: an event.
	events, err = s.SetVerdicts(ctx, "a", t1.Add(time.Minute), []store.VerdictUpdate{
		{ItemID: x, Verdict: store.VerdictUnauthorized, Level: 3, Rule: "etc-files", Reason: "no ticket covers k:x"},
		{ItemID: y, Verdict: store.VerdictAuthorized, Level: 1, Rule: "web-tier", Tickets: []string{"CHG-2"}, Reason: "CHG-1"},
	})
	must(t, "set the same verdicts", err)
	if len(events) != 0 {
		t.Errorf("unchanged verdicts made events %+v", events)
	}
	if it := d.item("k:y"); it.Rule != "web-tier" || !slices.Equal(it.Tickets, []string{"CHG-2"}) {
		t.Errorf("item after a new rule and ticket: rule %s tickets %v", it.Rule, it.Tickets)
	}
	t3 := t1.Add(2 * time.Minute)
	events, err = s.SetVerdicts(ctx, "a", t3, []store.VerdictUpdate{
		{ItemID: x, Verdict: store.VerdictUnauthorized, Level: 2, Rule: "etc-files", Reason: "downgraded"},
	})
	must(t, "set a new level", err)
	diff(t, "level event", []store.DriftEvent{{ItemID: x, At: stored(t3), Event: store.DriftEventVerdict, FromStatus: "open", ToStatus: "open",
		FromVerdict: store.VerdictUnauthorized, ToVerdict: store.VerdictUnauthorized, FromLevel: 3, ToLevel: 2, Reason: "downgraded"}}, events)
	diff(t, "history", []string{"opened →open #1", "verdict open→open #0", "verdict open→open #0"}, d.history("k:x"))

	// The items of a ticket follow the verdicts.
	for _, tt := range []struct {
		ticket string
		want   []string
	}{{"CHG-1", nil}, {"CHG-2", []string{"k:y"}}} {
		items, _, err := s.DriftItems(ctx, "a", store.DriftFilter{Ticket: tt.ticket})
		must(t, "items of "+tt.ticket, err)
		diff(t, "items of "+tt.ticket, tt.want, keys(items))
	}

	// A batch with a bad update writes nothing.
	before := d.item("k:x")
	for _, tt := range []struct {
		name string
		us   []store.VerdictUpdate
		err  error
	}{
		{"an unknown item", []store.VerdictUpdate{{ItemID: x, Verdict: store.VerdictAuthorized, Level: 1}, {ItemID: "no-such-item", Level: 1}}, store.ErrNotFound},
		{"level 4", []store.VerdictUpdate{{ItemID: x, Verdict: store.VerdictAuthorized, Level: 1}, {ItemID: y, Level: 4}}, store.ErrInvalid},
		{"an item twice", []store.VerdictUpdate{{ItemID: x, Level: 1}, {ItemID: x, Level: 2}}, store.ErrInvalid},
	} {
		_, err := s.SetVerdicts(ctx, "a", t3, tt.us)
		wantErr(t, "set verdicts with "+tt.name, err, tt.err)
	}
	diff(t, "item after refused verdicts", before, d.item("k:x"))
	_, err = s.SetVerdicts(ctx, "a", time.Time{}, nil)
	wantErr(t, "set verdicts without a time", err, store.ErrInvalid)
}

// testApplyDriftVerdicts: observations judged before they are applied
// are written with their verdicts in the same transaction, with the
// history and ticket links SetVerdicts would give them.
func testApplyDriftVerdicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	ids := &idGen{prefix: "item"}
	apply := func(seq uint64, at time.Time, obs ...store.DriftObservation) store.ApplyResult {
		t.Helper()
		for i := range obs {
			obs[i].NewID = ids.next()
		}
		res, err := s.ApplyDrift(ctx, "a", h.ID, seq, at, obs)
		must(t, fmt.Sprintf("apply report %d", seq), err)
		return res
	}
	judged := func(key, state string, v store.VerdictUpdate) store.DriftObservation {
		o := observation(key, state)
		o.Verdict = &v
		return o
	}
	history := func(id string) []string {
		t.Helper()
		es, err := s.DriftHistory(ctx, "a", id)
		must(t, "history of "+id, err)
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s %s/%d→%s/%d #%d %s", e.Event, e.FromVerdict, e.FromLevel, e.ToVerdict, e.ToLevel, e.ReportSeq, e.Reason))
		}
		return out
	}
	ticketItems := func(ticket string) []string {
		t.Helper()
		items, _, err := s.DriftItems(ctx, "a", store.DriftFilter{Ticket: ticket})
		must(t, "items of "+ticket, err)
		return keys(items)
	}
	unauth := store.VerdictUpdate{Verdict: store.VerdictUnauthorized, Level: 3, Rule: "etc-files", Reason: "no ticket covers it"}
	chg1 := store.VerdictUpdate{Verdict: store.VerdictAuthorized, Level: 1, Rule: "default", Tickets: []string{"CHG-1", `CHG "1"`}, Reason: "CHG-1"}

	// Opened with verdicts: the items read back judged, in the inbox's
	// priority order, with an opened and a verdict event each.
	res := apply(1, t0, judged("k:x", "v1", unauth), judged("k:y", "v1", chg1), observation("k:z", "v1"))
	x, y, z := res.Opened[0], res.Opened[1], res.Opened[2]
	if x.Verdict != store.VerdictUnauthorized || x.Level != 3 || y.Verdict != store.VerdictAuthorized || !slices.Equal(y.Tickets, []string{"CHG-1", `CHG "1"`}) || z.Verdict != "" {
		t.Errorf("opened items: %+v", res.Opened)
	}
	for _, want := range res.Opened {
		got, err := s.DriftItem(ctx, "a", want.ID)
		must(t, "item "+want.Key, err)
		diff(t, "item "+want.Key+" as stored", want, got)
	}
	inbox, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "inbox", err)
	diff(t, "inbox order", []string{"k:x", "k:z", "k:y"}, keys(inbox))
	diff(t, "history of k:x", []string{"opened /0→/0 #1 ", "verdict /0→unauthorized/3 #1 no ticket covers it"}, history(x.ID))
	diff(t, "history of k:z", []string{"opened /0→/0 #1 "}, history(z.ID))
	diff(t, "items of CHG-1", []string{"k:y"}, ticketItems("CHG-1"))

	// Modified: a new verdict and ticket list is an event and relinks; the
	// same verdict is no event; no verdict keeps the item's own.
	// A ticket ID with quotes, a backslash, a comma and braces comes back
	// as given.
	odd := `odd "id", {x}\y`
	chg2 := store.VerdictUpdate{Verdict: store.VerdictAuthorized, Level: 1, Rule: "web-tier", Tickets: []string{"CHG-2", odd}, Reason: "CHG-2"}
	t1 := t0.Add(time.Minute)
	res = apply(2, t1, judged("k:x", "v2", chg2), judged("k:y", "v2", chg1), observation("k:z", "v2"))
	diff(t, "updated", []string{"k:x", "k:y", "k:z"}, keys(res.Updated))
	for _, want := range res.Updated {
		got, err := s.DriftItem(ctx, "a", want.ID)
		must(t, "item "+want.Key, err)
		diff(t, "item "+want.Key+" as stored", want, got)
	}
	if u := res.Updated[0]; u.Verdict != store.VerdictAuthorized || u.Rule != "web-tier" || !slices.Equal(u.Tickets, []string{"CHG-2", odd}) {
		t.Errorf("k:x after its new verdict: %+v", u)
	}
	if u := res.Updated[2]; u.Verdict != "" || u.Level != 0 {
		t.Errorf("k:z without a verdict: %+v", u)
	}
	diff(t, "history of k:x", []string{"opened /0→/0 #1 ", "verdict /0→unauthorized/3 #1 no ticket covers it",
		"modified unauthorized/3→unauthorized/3 #2 ", "verdict unauthorized/3→authorized/1 #2 CHG-2"}, history(x.ID))
	diff(t, "history of k:y", []string{"opened /0→/0 #1 ", "verdict /0→authorized/1 #1 CHG-1",
		"modified authorized/1→authorized/1 #2 "}, history(y.ID))
	diff(t, "items of CHG-1", []string{"k:y"}, ticketItems("CHG-1"))
	diff(t, "items of CHG-2", []string{"k:x"}, ticketItems("CHG-2"))
	diff(t, "items of "+odd, []string{"k:x"}, ticketItems(odd))

	// A level out of range is refused, and nothing is written.
	bad := judged("k:y", "v3", store.VerdictUpdate{Verdict: store.VerdictUnauthorized, Level: 4})
	bad.NewID = ids.next()
	_, err = s.ApplyDrift(ctx, "a", h.ID, 3, t1.Add(time.Minute), []store.DriftObservation{bad})
	wantErr(t, "apply a verdict of level 4", err, store.ErrInvalid)
	got, err := s.DriftItem(ctx, "a", y.ID)
	must(t, "k:y", err)
	diff(t, "k:y after the refused report", res.Updated[1], got)
}

// inboxFixture makes items with known verdicts, levels and times on two
// hosts and returns their drifters.
func inboxFixture(t *testing.T, s store.Store) (web1, web2 *drifter) {
	ctx := t.Context()
	ids := &idGen{prefix: "item"}
	web1 = newDrifter(t, s, enroll(t, s, "a", "web1"), ids)
	web2 = newDrifter(t, s, enroll(t, s, "a", "web2"), ids)
	t1, t2, t3, t4 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute), t0.Add(4*time.Minute)
	web1.report(t1, map[string]string{"k:a": "v", "k:b": "v", "k:c": "v"})
	web1.report(t2, map[string]string{"k:d": "v", "k:e": "v", "k:i": "v"})
	web2.report(t3, map[string]string{"k:f": "v", "k:g": "v"})
	web1.report(t4, map[string]string{"k:h": "v"})
	id := func(k string) string {
		if id, ok := web1.items[k]; ok {
			return id
		}
		return web2.items[k]
	}
	_, err := s.SetVerdicts(ctx, "a", t4, []store.VerdictUpdate{
		{ItemID: id("k:a"), Verdict: store.VerdictUnauthorized, Level: 3},
		{ItemID: id("k:b"), Verdict: store.VerdictAuthorized, Level: 3, Tickets: []string{"CHG-1"}},
		{ItemID: id("k:c"), Verdict: store.VerdictUnapprovedTicket, Level: 2, Tickets: []string{"CHG-2"}},
		{ItemID: id("k:d"), Verdict: store.VerdictUnauthorized, Level: 3},
		// k:e is not reconciled.
		{ItemID: id("k:f"), Verdict: store.VerdictOutOfWindow, Level: 1, Tickets: []string{"CHG-1"}},
		{ItemID: id("k:g"), Verdict: store.VerdictUnauthorized, Level: 2},
		{ItemID: id("k:h"), Verdict: store.VerdictAuthorized, Level: 1, Tickets: []string{"CHG-1"}},
		{ItemID: id("k:i"), Verdict: store.VerdictUnauthorized, Level: 3},
	})
	must(t, "set verdicts", err)
	return web1, web2
}

func testDriftInbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	web1, web2 := inboxFixture(t, s)
	t2, t4 := t0.Add(2*time.Minute), t0.Add(4*time.Minute)
	_, err := s.ResolveDrift(ctx, "a", store.DriftResolution{ItemIDs: []string{web1.items["k:c"]}, Status: store.DriftAccepted,
		By: "carol@example.com", At: t4}, auditEntry(audit.ActionDriftAccept, web1.items["k:c"], t4))
	must(t, "accept k:c", err)

	tests := []struct {
		name string
		f    store.DriftFilter
		want []string
	}{
		// Level 3 first: unauthorized (k:i and k:d of report 2 tie on time,
		// k:i has the higher ID; then k:a of report 1), not reconciled
		// (k:e), authorized (k:b); level 2: unauthorized, then unapproved
		// ticket; level 1: out of window, then authorized.
		{"all", store.DriftFilter{}, []string{"k:i", "k:d", "k:a", "k:e", "k:b", "k:g", "k:c", "k:f", "k:h"}},
		{"open", store.DriftFilter{Statuses: []string{store.DriftOpen}}, []string{"k:i", "k:d", "k:a", "k:e", "k:b", "k:g", "k:f", "k:h"}},
		{"accepted", store.DriftFilter{Statuses: []string{store.DriftAccepted}}, []string{"k:c"}},
		{"open or accepted", store.DriftFilter{Statuses: []string{store.DriftOpen, store.DriftAccepted}}, []string{"k:i", "k:d", "k:a", "k:e", "k:b", "k:g", "k:c", "k:f", "k:h"}},
		{"host", store.DriftFilter{HostIDs: []string{web2.h.ID}}, []string{"k:g", "k:f"}},
		{"host and status", store.DriftFilter{HostIDs: []string{web1.h.ID}, Statuses: []string{store.DriftOpen}}, []string{"k:i", "k:d", "k:a", "k:e", "k:b", "k:h"}},
		{"unauthorized", store.DriftFilter{Verdicts: []string{store.VerdictUnauthorized}}, []string{"k:i", "k:d", "k:a", "k:g"}},
		{"not reconciled", store.DriftFilter{Verdicts: []string{""}}, []string{"k:e"}},
		{"level 1", store.DriftFilter{Levels: []int{1}}, []string{"k:f", "k:h"}},
		{"levels 0 and 2", store.DriftFilter{Levels: []int{0, 2}}, []string{"k:e", "k:g", "k:c"}},
		{"changed in [t2, t4)", store.DriftFilter{Since: t2, Until: t4}, []string{"k:i", "k:d", "k:e", "k:g", "k:f"}},
		{"ticket", store.DriftFilter{Ticket: "CHG-1"}, []string{"k:b", "k:f", "k:h"}},
		{"exact key", store.DriftFilter{Key: "k:a"}, []string{"k:a"}},
		{"key pattern", store.DriftFilter{Key: "k:*", Levels: []int{3}}, []string{"k:i", "k:d", "k:a", "k:b"}},
		{"no such key", store.DriftFilter{Key: "k:"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := s.DriftItems(ctx, "a", tt.f)
			must(t, "drift items", err)
			diff(t, "inbox", tt.want, keys(got))
			if next != "" {
				t.Errorf("one page holds them all, but next is %q", next)
			}
			for _, limit := range []int{1, 3} {
				var paged []store.DriftItem
				f := tt.f
				f.Limit = limit
				for i := 0; ; i++ {
					page, next, err := s.DriftItems(ctx, "a", f)
					must(t, "drift items page", err)
					if len(page) > limit {
						t.Fatalf("page of %d items, limit %d", len(page), limit)
					}
					paged = append(paged, page...)
					if next == "" {
						break
					}
					if i > 10 {
						t.Fatal("paging does not end")
					}
					f.Cursor = next
				}
				diff(t, fmt.Sprintf("inbox %d at a time", limit), tt.want, keys(paged))
			}
		})
	}

	// A page's cursor stays good when items ahead of it change.
	page, next, err := s.DriftItems(ctx, "a", store.DriftFilter{Limit: 3})
	must(t, "first page", err)
	diff(t, "first page", []string{"k:i", "k:d", "k:a"}, keys(page))
	_, err = s.SetVerdicts(ctx, "a", t4, []store.VerdictUpdate{{ItemID: page[0].ID, Verdict: store.VerdictAuthorized, Level: 1}})
	must(t, "set verdict", err)
	page, _, err = s.DriftItems(ctx, "a", store.DriftFilter{Limit: 3, Cursor: next})
	must(t, "second page", err)
	diff(t, "second page after an item of the first changed", []string{"k:e", "k:b", "k:g"}, keys(page))

	for _, tt := range []struct {
		name string
		f    store.DriftFilter
	}{
		{"a bad cursor", store.DriftFilter{Cursor: "!!"}},
		{"a cursor of tickets", store.DriftFilter{Cursor: store.TicketCursor{UpdatedAt: t0, ID: "CHG-1"}.String()}},
		{"an unknown status", store.DriftFilter{Statuses: []string{"closed"}}},
		{"level 7", store.DriftFilter{Levels: []int{7}}},
	} {
		_, _, err := s.DriftItems(ctx, "a", tt.f)
		wantErr(t, "drift items with "+tt.name, err, store.ErrInvalid)
	}
}

// testDriftKeyPattern checks that only "*" is special in a key pattern.
func testDriftKeyPattern(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	d := newDrifter(t, s, enroll(t, s, "a", "web1"), &idGen{prefix: "item"})
	d.report(t0, map[string]string{
		`file:/etc/a%b`: "v", `file:/etc/a_b`: "v", `file:/etc/[ab]`: "v", `file:/etc/a?b`: "v",
		`file:/etc/a\b`: "v", `file:/etc/A_B`: "v", `file:/etc/axb`: "v",
	})
	for _, tt := range []struct {
		pattern string
		want    []string
	}{
		{`file:/etc/a%*`, []string{`file:/etc/a%b`}},
		{`file:/etc/a_*`, []string{`file:/etc/a_b`}},
		{`file:/etc/[*`, []string{`file:/etc/[ab]`}},
		{`file:/etc/a?*`, []string{`file:/etc/a?b`}},
		{`file:/etc/a\*`, []string{`file:/etc/a\b`}},
		{`*B`, []string{`file:/etc/A_B`}},
		{`file:/etc/a*b`, []string{`file:/etc/axb`, `file:/etc/a_b`, `file:/etc/a?b`, `file:/etc/a\b`, `file:/etc/a%b`}},
		{`file:/etc/a_b`, []string{`file:/etc/a_b`}},
	} {
		got, _, err := s.DriftItems(ctx, "a", store.DriftFilter{Key: tt.pattern})
		must(t, "drift items", err)
		// Same priority and time: by ID, descending, which is by key
		// descending here.
		want := slices.Clone(tt.want)
		slices.Sort(want)
		slices.Reverse(want)
		diff(t, fmt.Sprintf("items of pattern %q", tt.pattern), want, keys(got))
	}
}

// testDriftVerdictOrder checks the inbox order of every verdict at one
// level, and of levels against verdicts.
func testDriftVerdictOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	d := newDrifter(t, s, enroll(t, s, "a", "web1"), &idGen{prefix: "item"})
	verdicts := map[string]string{
		"k:authorized": store.VerdictAuthorized, "k:frozen": store.VerdictFrozen, "k:out-of-window": store.VerdictOutOfWindow,
		"k:unapproved": store.VerdictUnapprovedTicket, "k:unauthorized": store.VerdictUnauthorized, "k:unknown": "reviewed-later",
		"k:level3-authorized": store.VerdictAuthorized, "k:level1-unauthorized": store.VerdictUnauthorized,
	}
	changes := map[string]string{"k:not-reconciled": "v"}
	for k := range verdicts {
		changes[k] = "v"
	}
	d.report(t0, changes)
	var us []store.VerdictUpdate
	for k, v := range verdicts {
		level := 2
		switch k {
		case "k:level3-authorized":
			level = 3
		case "k:level1-unauthorized":
			level = 1
		}
		us = append(us, store.VerdictUpdate{ItemID: d.items[k], Verdict: v, Level: level})
	}
	_, err := s.SetVerdicts(ctx, "a", t0, us)
	must(t, "set verdicts", err)
	got, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)
	diff(t, "inbox order", []string{
		"k:not-reconciled", "k:level3-authorized", // level 3 (not reconciled counts as 3)
		"k:unauthorized", "k:frozen", "k:unknown", "k:unapproved", "k:out-of-window", "k:authorized", // level 2
		"k:level1-unauthorized", // level 1
	}, keys(got))
}

func testResolveDrift(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	d := newDrifter(t, s, h, &idGen{prefix: "item"})
	d.report(t0, map[string]string{"k:p": "v", "k:q": "v", "k:r": "v", "k:s": "v"})
	p, q, r, sID := d.items["k:p"], d.items["k:q"], d.items["k:r"], d.items["k:s"]
	t1 := t0.Add(time.Minute)
	accept := store.DriftResolution{ItemIDs: []string{q, p}, Status: store.DriftAccepted, By: "carol@example.com", At: t1,
		Reason: "emergency fix by the on-call engineer", TicketRef: "INC-7"}
	got, err := s.ResolveDrift(ctx, "a", accept, auditEntry(audit.ActionDriftAccept, "k:p k:q", t1))
	must(t, "accept", err)
	diff(t, "accepted items, in the order given", []string{"k:q", "k:p"}, keys(got))
	for _, it := range got {
		if it.Status != store.DriftAccepted || it.ResolvedBy != "carol@example.com" || !it.ResolvedAt.Equal(stored(t1)) ||
			it.Reason != accept.Reason || it.TicketRef != "INC-7" || !it.Current {
			t.Errorf("accepted item %s: %+v", it.Key, it)
		}
	}
	again, err := s.ResolveDrift(ctx, "a", accept, auditEntry(audit.ActionDriftAccept, "k:p k:q", t1.Add(time.Minute)))
	must(t, "accept again", err)
	diff(t, "items accepted again", got, again)

	// Accepted, then promoted into the baseline.
	t2 := t1.Add(time.Hour)
	got, err = s.ResolveDrift(ctx, "a", store.DriftResolution{ItemIDs: []string{p}, Status: store.DriftPromoted, By: "dave@example.com", At: t2},
		auditEntry(audit.ActionDriftPromote, "k:p", t2))
	must(t, "promote", err)
	if got[0].Status != store.DriftPromoted || got[0].TicketRef != "INC-7" || got[0].ResolvedBy != "dave@example.com" {
		t.Errorf("promoted item: %+v, want promoted by dave, the ticket reference kept", got[0])
	}

	// k:s is revert-requested and then reverted by the next report.
	_, err = s.ResolveDrift(ctx, "a", store.DriftResolution{ItemIDs: []string{sID}, Status: store.DriftRevertRequested, By: "carol@example.com", At: t2},
		auditEntry(audit.ActionDriftRevert, "k:s", t2))
	must(t, "request revert", err)
	d.report(t2, map[string]string{"k:s": ""})

	before, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)
	nAudit := len(auditLog(t, s, "a"))
	for _, tt := range []struct {
		name string
		r    store.DriftResolution
		a    store.AuditEntry
		err  error
	}{
		{"a promoted item", store.DriftResolution{ItemIDs: []string{p}, Status: store.DriftAccepted, By: "x", At: t2}, auditEntry("drift.accept", "", t2), store.ErrConflict},
		{"a reverted item among open ones", store.DriftResolution{ItemIDs: []string{r, sID}, Status: store.DriftAccepted, By: "x", At: t2}, auditEntry("drift.accept", "", t2), store.ErrConflict},
		{"an unknown item", store.DriftResolution{ItemIDs: []string{r, "no-such-item"}, Status: store.DriftAccepted, By: "x", At: t2}, auditEntry("drift.accept", "", t2), store.ErrNotFound},
		{"status reverted", store.DriftResolution{ItemIDs: []string{r}, Status: store.DriftReverted, By: "x", At: t2}, auditEntry("drift.accept", "", t2), store.ErrInvalid},
		{"no person", store.DriftResolution{ItemIDs: []string{r}, Status: store.DriftAccepted, At: t2}, auditEntry("drift.accept", "", t2), store.ErrInvalid},
		{"no items", store.DriftResolution{Status: store.DriftAccepted, By: "x", At: t2}, auditEntry("drift.accept", "", t2), store.ErrInvalid},
		{"an item twice", store.DriftResolution{ItemIDs: []string{r, r}, Status: store.DriftAccepted, By: "x", At: t2}, auditEntry("drift.accept", "", t2), store.ErrInvalid},
		{"no audit time", store.DriftResolution{ItemIDs: []string{r}, Status: store.DriftAccepted, By: "x", At: t2}, store.AuditEntry{Action: "drift.accept"}, store.ErrInvalid},
	} {
		_, err := s.ResolveDrift(ctx, "a", tt.r, tt.a)
		wantErr(t, "resolve "+tt.name, err, tt.err)
	}
	after, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)
	diff(t, "items after refused resolutions", before, after)

	// One audit entry per resolution that changed something.
	es := auditLog(t, s, "a")
	if len(es) != nAudit || nAudit != 3 {
		t.Errorf("audit log has %d entries, then %d; want 3 (accept, promote, revert request)", nAudit, len(es))
	}
	diff(t, "audit actions", []string{"drift.accept k:p k:q", "drift.promote k:p", "drift.revert_request k:s"}, actions(es))
	verifyAudit(t, s, "a", 3)

	hist, err := s.DriftHistory(ctx, "a", p)
	must(t, "history", err)
	var steps []string
	for _, e := range hist {
		steps = append(steps, fmt.Sprintf("%s %s→%s by %s", e.Event, e.FromStatus, e.ToStatus, e.Actor))
	}
	diff(t, "history of k:p", []string{"opened →open by ", "resolved open→accepted by carol@example.com", "resolved accepted→promoted by dave@example.com"}, steps)
	_, err = s.DriftHistory(ctx, "a", "no-such-item")
	wantErr(t, "history of an unknown item", err, store.ErrNotFound)
}

func testDriftCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	web1, web2 := inboxFixture(t, s)
	t5 := t0.Add(5 * time.Minute)
	// k:c accepted and k:g revert-requested; k:h gone.
	_, err := s.ResolveDrift(ctx, "a", store.DriftResolution{ItemIDs: []string{web1.items["k:c"]}, Status: store.DriftAccepted, By: "x", At: t5},
		auditEntry(audit.ActionDriftAccept, "k:c", t5))
	must(t, "accept", err)
	_, err = s.ResolveDrift(ctx, "a", store.DriftResolution{ItemIDs: []string{web2.items["k:g"]}, Status: store.DriftRevertRequested, By: "x", At: t5},
		auditEntry(audit.ActionDriftRevert, "k:g", t5))
	must(t, "request revert", err)
	web1.report(t5, map[string]string{"k:h": ""})

	got, err := s.DriftCounts(ctx, "a")
	must(t, "drift counts", err)
	h1, h2 := web1.h.ID, web2.h.ID
	diff(t, "drift counts", []store.DriftCount{
		{HostID: h1, Status: store.DriftOpen, Verdict: "", Level: 0, Count: 1},                                   // k:e
		{HostID: h1, Status: store.DriftOpen, Verdict: store.VerdictAuthorized, Level: 3, Count: 1},              // k:b
		{HostID: h1, Status: store.DriftOpen, Verdict: store.VerdictUnauthorized, Level: 3, Count: 3},            // k:a, k:d, k:i
		{HostID: h2, Status: store.DriftOpen, Verdict: store.VerdictOutOfWindow, Level: 1, Count: 1},             // k:f
		{HostID: h2, Status: store.DriftRevertRequested, Verdict: store.VerdictUnauthorized, Level: 2, Count: 1}, // k:g
	}, got)

	open, err := s.OpenDriftForHost(ctx, "a", h1)
	must(t, "open drift", err)
	diff(t, "open drift of web1", []string{"k:a", "k:b", "k:d", "k:e", "k:i"}, keys(open))
	for _, it := range open {
		if it.LastSeq != 4 || !it.LastSeen.Equal(stored(t5)) {
			t.Errorf("open item %s last seen %v #%d, want report 4 at %v", it.Key, it.LastSeen, it.LastSeq, stored(t5))
		}
	}
	open, err = s.OpenDriftForHost(ctx, "a", "no-such-host")
	must(t, "open drift of an unknown host", err)
	if len(open) != 0 {
		t.Errorf("open drift of an unknown host: %v", keys(open))
	}
	got, err = s.DriftCounts(ctx, "nobody")
	must(t, "drift counts of an unknown tenant", err)
	if len(got) != 0 {
		t.Errorf("drift counts of an unknown tenant: %v", got)
	}
}

func testAuditChain(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	head, err := s.AuditHead(ctx, "a")
	must(t, "audit head", err)
	if head != (audit.Head{}) {
		t.Errorf("head of an empty chain: %+v", head)
	}
	verifyAudit(t, s, "a", 0)

	var appended []store.AuditEntry
	details := [][]byte{nil, []byte(`{"b": 1,   "a": [true, null]}`), []byte(`"just text"`), []byte("{\n\t\"multi\": \"line\"\n}"), []byte(`{}`)}
	for i, detail := range details {
		e := store.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "alice@example.com", Action: audit.ActionBaselineAdd,
			Subject: fmt.Sprintf("host-%d", i), Detail: detail}
		got, err := s.AppendAudit(ctx, withTenant(e, "a"))
		must(t, "append", err)
		want := e
		want.TenantID, want.Seq, want.At = "a", uint64(i+1), stored(e.At)
		if i > 0 {
			want.PrevHash = appended[i-1].Hash
		}
		want.Hash = audit.Hash(want.PrevHash, want)
		diff(t, fmt.Sprintf("appended entry %d", i+1), want, got)
		appended = append(appended, got)
	}
	es, err := s.AuditEntries(ctx, "a", 0, 0)
	must(t, "audit entries", err)
	diff(t, "entries read back (detail as sent)", appended, es)
	es, err = s.AuditEntries(ctx, "a", 2, 2)
	must(t, "audit entries after 2", err)
	diff(t, "two entries after 2", appended[2:4], es)
	es, err = s.AuditEntries(ctx, "a", 5, 0)
	must(t, "audit entries after the last", err)
	if len(es) != 0 {
		t.Errorf("entries after the last: %d", len(es))
	}
	head, err = s.AuditHead(ctx, "a")
	must(t, "audit head", err)
	diff(t, "audit head", audit.Head{Seq: 5, Hash: appended[4].Hash}, head)
	verifyAudit(t, s, "a", 5)

	// The export verifies as the stored chain does.
	var b bytes.Buffer
	n, err := audit.ExportJSONLines(&b, store.AuditLog(ctx, s, "a", 0))
	must(t, "export", err)
	res, err := audit.Verify(audit.ReadJSONLines(&b))
	must(t, "verify the export", err)
	if n != 5 || res.Checked != 5 || res.Break != nil {
		t.Errorf("export of %d entries verified %d, break %v; want 5 and none", n, res.Checked, res.Break)
	}

	for _, tt := range []struct {
		name string
		e    store.AuditEntry
		err  error
	}{
		{"no action", store.AuditEntry{TenantID: "a", At: t0}, store.ErrInvalid},
		{"no time", store.AuditEntry{TenantID: "a", Action: "x"}, store.ErrInvalid},
		{"no tenant", store.AuditEntry{Action: "x", At: t0}, store.ErrInvalid},
		{"detail not JSON", store.AuditEntry{TenantID: "a", Action: "x", At: t0, Detail: []byte("{")}, store.ErrInvalid},
		{"detail not UTF-8", store.AuditEntry{TenantID: "a", Action: "x", At: t0, Detail: []byte("\"\xff\"")}, store.ErrInvalid},
		{"an unknown tenant", store.AuditEntry{TenantID: "nobody", Action: "x", At: t0}, store.ErrNotFound},
	} {
		_, err := s.AppendAudit(ctx, tt.e)
		wantErr(t, "append with "+tt.name, err, tt.err)
	}
	// Seq, PrevHash and Hash given by the caller are the store's to set.
	got, err := s.AppendAudit(ctx, store.AuditEntry{TenantID: "b", Seq: 99, PrevHash: "forged", Hash: "forged", Action: "x", At: t0})
	must(t, "append to tenant b", err)
	if got.Seq != 1 || got.PrevHash != "" || got.Hash != audit.Hash("", got) {
		t.Errorf("first entry of tenant b: %+v, want seq 1 chained by the store", got)
	}
	verifyAudit(t, s, "a", 5)
	verifyAudit(t, s, "b", 1)
}

func withTenant(e store.AuditEntry, tenantID string) store.AuditEntry {
	e.TenantID = tenantID
	return e
}

// testAuditConcurrent appends to one chain from many goroutines, through
// AppendAudit and the methods that append an entry with their change:
// no two entries get one number, and none is skipped.
func testAuditConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	const writers, each = 6, 15
	for w := range writers {
		createTicket(t, s, newTicket("a", fmt.Sprintf("CHG-%d", w), ""))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := s.AppendAudit(ctx, store.AuditEntry{TenantID: "a", At: t0, Actor: fmt.Sprintf("writer%d", w), Action: "test.append",
					Subject: fmt.Sprintf("%d/%d", w, i)})
				errs <- err
			}
		})
		wg.Go(func() {
			id := fmt.Sprintf("CHG-%d", w)
			for i := range each {
				tk, err := s.Ticket(ctx, "a", id)
				if err != nil {
					errs <- err
					return
				}
				tk.Title, tk.UpdatedAt = fmt.Sprintf("edit %d", i), t0.Add(time.Duration(i)*time.Second)
				_, err = s.UpdateTicket(ctx, store.TicketWrite{Ticket: tk, Audit: store.AuditEntry{At: t0, Actor: fmt.Sprintf("writer%d", w),
					Action: audit.ActionTicketUpdate, Subject: id}})
				errs <- err
			}
		})
	}
	wg.Go(func() {
		version := 0
		for range each {
			p, err := s.PutPolicy(ctx, store.Policy{TenantID: "a", Version: version, Doc: []byte(`{}`), UpdatedAt: t0},
				store.AuditEntry{At: t0, Actor: "policy", Action: audit.ActionPolicyUpdate})
			errs <- err
			version = p.Version
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "concurrent write", err)
	}
	es := auditLog(t, s, "a")
	want := writers + 2*writers*each + each
	if len(es) != want {
		t.Fatalf("audit log has %d entries, want %d", len(es), want)
	}
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d: a gap or a repeat", i+1, e.Seq)
		}
	}
	verifyAudit(t, s, "a", want)
}

// testTicketTenantIsolation tries every method of the Tickets interface on
// tenant a's data through tenant b.
func testTicketTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	tkA := createTicket(t, s, newTicket("a", "CHG-1", "JIRA-7"))
	_, err := s.PutPolicy(ctx, store.Policy{TenantID: "a", Doc: []byte(`{"tenant":"a"}`), UpdatedAt: t0}, auditEntry("policy.update", "policy", t0))
	must(t, "put policy", err)
	ha := enroll(t, s, "a", "web1")
	hb := enroll(t, s, "b", "web1")
	da := newDrifter(t, s, ha, &idGen{prefix: "item"})
	da.report(t0, map[string]string{"k:1": "v", "k:2": "v"})
	_, err = s.SetVerdicts(ctx, "a", t0, []store.VerdictUpdate{{ItemID: da.items["k:1"], Verdict: store.VerdictAuthorized, Level: 1, Tickets: []string{"CHG-1"}}})
	must(t, "set verdicts", err)
	item := da.items["k:2"]
	headA, err := s.AuditHead(ctx, "a")
	must(t, "audit head", err)
	itemsA, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)

	upd := tkA
	upd.TenantID = "b"
	lookups := []struct {
		name string
		fn   func() error
		want error
	}{
		{"Ticket", func() error { _, err := s.Ticket(ctx, "b", "CHG-1"); return err }, store.ErrNotFound},
		{"TicketByReference", func() error { _, err := s.TicketByReference(ctx, "b", "JIRA-7"); return err }, store.ErrNotFound},
		{"TicketTransitions", func() error { _, err := s.TicketTransitions(ctx, "b", "CHG-1"); return err }, store.ErrNotFound},
		{"UpdateTicket", func() error {
			_, err := s.UpdateTicket(ctx, store.TicketWrite{Ticket: upd, Audit: auditEntry("ticket.update", "CHG-1", t0)})
			return err
		}, store.ErrNotFound},
		{"UpdateTicket with tenant a's audit entry", func() error {
			_, err := s.UpdateTicket(ctx, store.TicketWrite{Ticket: upd, Audit: withTenant(auditEntry("ticket.update", "CHG-1", t0), "a")})
			return err
		}, store.ErrInvalid},
		{"Policy", func() error { _, err := s.Policy(ctx, "b"); return err }, store.ErrNotFound},
		{"PutPolicy with tenant a's audit entry", func() error {
			_, err := s.PutPolicy(ctx, store.Policy{TenantID: "b", Doc: []byte(`{}`), UpdatedAt: t0}, withTenant(auditEntry("policy.update", "policy", t0), "a"))
			return err
		}, store.ErrInvalid},
		{"ApplyDrift", func() error {
			_, err := s.ApplyDrift(ctx, "b", ha.ID, 9, t0, []store.DriftObservation{observationWithID("k:9", "v", "item-b")})
			return err
		}, store.ErrNotFound},
		{"SetVerdicts", func() error {
			_, err := s.SetVerdicts(ctx, "b", t0, []store.VerdictUpdate{{ItemID: item, Verdict: store.VerdictAuthorized, Level: 1}})
			return err
		}, store.ErrNotFound},
		{"DriftItem", func() error { _, err := s.DriftItem(ctx, "b", item); return err }, store.ErrNotFound},
		{"DriftHistory", func() error { _, err := s.DriftHistory(ctx, "b", item); return err }, store.ErrNotFound},
		{"ResolveDrift", func() error {
			_, err := s.ResolveDrift(ctx, "b", store.DriftResolution{ItemIDs: []string{item}, Status: store.DriftAccepted, By: "x", At: t0},
				auditEntry("drift.accept", item, t0))
			return err
		}, store.ErrNotFound},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name+" of tenant a's data through tenant b", tt.fn(), tt.want)
		})
	}
	listings := []struct {
		name string
		n    func() (int, error)
	}{
		{"Tickets", func() (int, error) { ts, _, err := s.Tickets(ctx, "b", store.TicketFilter{}); return len(ts), err }},
		{"OpenTickets", func() (int, error) { ts, err := s.OpenTickets(ctx, "b", time.Time{}); return len(ts), err }},
		{"DriftItems", func() (int, error) { ds, _, err := s.DriftItems(ctx, "b", store.DriftFilter{}); return len(ds), err }},
		{"DriftItems of a's host", func() (int, error) {
			ds, _, err := s.DriftItems(ctx, "b", store.DriftFilter{HostIDs: []string{ha.ID}})
			return len(ds), err
		}},
		{"DriftItems of a's ticket", func() (int, error) {
			ds, _, err := s.DriftItems(ctx, "b", store.DriftFilter{Ticket: "CHG-1"})
			return len(ds), err
		}},
		{"OpenDriftForHost", func() (int, error) { ds, err := s.OpenDriftForHost(ctx, "b", ha.ID); return len(ds), err }},
		{"DriftCounts", func() (int, error) { cs, err := s.DriftCounts(ctx, "b"); return len(cs), err }},
		{"AuditEntries", func() (int, error) { es, err := s.AuditEntries(ctx, "b", 0, 0); return len(es), err }},
		{"AuditHead", func() (int, error) { h, err := s.AuditHead(ctx, "b"); return int(h.Seq), err }},
	}
	for _, tt := range listings {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.n()
			must(t, tt.name, err)
			if n != 0 {
				t.Errorf("%s of tenant b gives %d of tenant a's", tt.name, n)
			}
		})
	}

	// Tenant b has IDs, references and item IDs of its own.
	createTicket(t, s, newTicket("b", "CHG-1", "JIRA-7"))
	db := newDrifter(t, s, hb, &idGen{prefix: "item"})
	res := db.report(t0, map[string]string{"k:1": "w"})
	if res.Opened[0].ID != da.items["k:1"] {
		t.Errorf("tenant b's first item is %s, tenant a's %s: the same ID should be possible", res.Opened[0].ID, da.items["k:1"])
	}

	// Tenant a is untouched by the attempts.
	got, err := s.Ticket(ctx, "a", "CHG-1")
	must(t, "ticket", err)
	diff(t, "tenant a's ticket", tkA, got)
	p, err := s.Policy(ctx, "a")
	must(t, "policy", err)
	if p.Version != 1 || string(p.Doc) != `{"tenant":"a"}` {
		t.Errorf("tenant a's policy: %+v", p)
	}
	after, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
	must(t, "drift items", err)
	diff(t, "tenant a's drift items", itemsA, after)
	head, err := s.AuditHead(ctx, "a")
	must(t, "audit head", err)
	diff(t, "tenant a's audit head", headA, head)
	verifyAudit(t, s, "a", int(headA.Seq))
	verifyAudit(t, s, "b", 1)
}

// RunAuditTamper changes a store's audit table directly with SQL, as
// someone with access to the database could, and checks that
// store.VerifyAudit names the first entry broken and why. open returns a
// new, empty store and a function that runs SQL on its database behind
// the store's back; unguard is the SQL that lifts the append-only guard
// the migrations put on the audit table.
func RunAuditTamper(t *testing.T, open func(t *testing.T) (store.Store, func(query string) error), unguard string) {
	// setup appends five entries to tenant a's chain and two to tenant b's.
	setup := func(t *testing.T) (store.Store, func(string) error, []store.AuditEntry) {
		s, exec := open(t)
		createTenant(t, s, "a")
		createTenant(t, s, "b")
		var es []store.AuditEntry
		for i := range 5 {
			e, err := s.AppendAudit(t.Context(), store.AuditEntry{TenantID: "a", At: t0.Add(time.Duration(i) * time.Minute),
				Actor: "alice@example.com", Action: audit.ActionTicketApprove, Subject: fmt.Sprintf("CHG-%d", i+1),
				Detail: fmt.Appendf(nil, `{"ticket": "CHG-%d", "approved": true}`, i+1)})
			must(t, "append", err)
			es = append(es, e)
		}
		for range 2 {
			_, err := s.AppendAudit(t.Context(), store.AuditEntry{TenantID: "b", At: t0, Actor: "bob@example.com", Action: audit.ActionPolicyUpdate})
			must(t, "append", err)
		}
		return s, exec, es
	}
	tests := []struct {
		name    string
		guarded bool // run without lifting the guard: the change must be refused
		sql     func(es []store.AuditEntry) string
		want    *audit.Break
		checked int
	}{
		{name: "UPDATE refused", guarded: true, checked: 5,
			sql: func([]store.AuditEntry) string {
				return `UPDATE audit_log SET detail = '{"approved": false}' WHERE tenant_id = 'a' AND seq = 2`
			}},
		{name: "DELETE refused", guarded: true, checked: 5,
			sql: func([]store.AuditEntry) string { return `DELETE FROM audit_log WHERE tenant_id = 'a' AND seq = 2` }},
		{name: "detail altered", checked: 2, want: &audit.Break{Seq: 3, Problem: audit.ContentAltered},
			sql: func([]store.AuditEntry) string {
				return `UPDATE audit_log SET detail = '{"ticket": "CHG-3", "approved": false}' WHERE tenant_id = 'a' AND seq = 3`
			}},
		{name: "first actor altered", checked: 0, want: &audit.Break{Seq: 1, Problem: audit.ContentAltered},
			sql: func([]store.AuditEntry) string {
				return `UPDATE audit_log SET actor = 'mallory@example.com' WHERE tenant_id = 'a' AND seq = 1`
			}},
		{name: "altered and rehashed", checked: 3, want: &audit.Break{Seq: 4, Problem: audit.ChainBroken},
			sql: func(es []store.AuditEntry) string {
				e := es[2]
				e.Actor = "mallory@example.com"
				return fmt.Sprintf(`UPDATE audit_log SET actor = 'mallory@example.com', hash = '%s' WHERE tenant_id = 'a' AND seq = 3`,
					audit.Hash(e.PrevHash, e))
			}},
		{name: "middle entry deleted", checked: 2, want: &audit.Break{Seq: 3, Problem: audit.SequenceGap},
			sql: func([]store.AuditEntry) string { return `DELETE FROM audit_log WHERE tenant_id = 'a' AND seq = 3` }},
		{name: "newest entries deleted", checked: 3, want: &audit.Break{Seq: 4, Problem: audit.Truncated},
			sql: func([]store.AuditEntry) string { return `DELETE FROM audit_log WHERE tenant_id = 'a' AND seq >= 4` }},
		{name: "entry forged after the head", checked: 5, want: &audit.Break{Seq: 6, Problem: audit.ContentAltered},
			sql: func(es []store.AuditEntry) string {
				return fmt.Sprintf(`INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash)
					VALUES ('a', 6, '2026-03-01T12:10:00.000000Z', 'mallory@example.com', 'drift.accept', 'all', NULL, '%s', '%s')`,
					es[4].Hash, strings.Repeat("0", 64))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, exec, es := setup(t)
			if tt.guarded {
				if err := exec(tt.sql(es)); err == nil {
					t.Errorf("the audit table took %q", tt.sql(es))
				}
			} else {
				must(t, "lift the guard", exec(unguard))
				must(t, "tamper", exec(tt.sql(es)))
			}
			res, err := store.VerifyAudit(t.Context(), s, "a")
			must(t, "verify", err)
			if res.Checked != tt.checked {
				t.Errorf("%d entries checked good, want %d", res.Checked, tt.checked)
			}
			switch {
			case tt.want == nil && res.Break != nil:
				t.Errorf("break %v, want none", res.Break)
			case tt.want != nil && res.Break == nil:
				t.Errorf("no break, want %s at entry %d", tt.want.Problem, tt.want.Seq)
			case tt.want != nil && (res.Break.Seq != tt.want.Seq || res.Break.Problem != tt.want.Problem):
				t.Errorf("break %v, want %s at entry %d", res.Break, tt.want.Problem, tt.want.Seq)
			}
			// audit.Verify on the entries alone finds the same, but for
			// removed newest entries: only the recorded head shows those.
			plain, err := audit.Verify(store.AuditLog(t.Context(), s, "a", 0))
			must(t, "verify the entries", err)
			if tt.want != nil && tt.want.Problem != audit.Truncated &&
				(plain.Break == nil || plain.Break.Seq != tt.want.Seq || plain.Break.Problem != tt.want.Problem) {
				t.Errorf("audit.Verify: break %v, want %s at entry %d", plain.Break, tt.want.Problem, tt.want.Seq)
			}
			// Tenant b's chain is its own.
			verifyAudit(t, s, "b", 2)
		})
	}
}

// BenchItems is the number of drift items RunDriftBenchmarks seeds:
// DRIFTWATCH_BENCH_ITEMS, or 200,000.
func BenchItems(tb testing.TB) int {
	v := os.Getenv("DRIFTWATCH_BENCH_ITEMS")
	if v == "" {
		return 200000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("DRIFTWATCH_BENCH_ITEMS=%q: want a positive number", v)
	}
	return n
}

// BenchObservations is a host's drift of n items for benchmarks: keys
// file:/etc/bench/000000 …, each with a change document of a few hundred
// bytes, in state state, new items named prefix-000000 ….
func BenchObservations(n int, prefix, state string) []store.DriftObservation {
	obs := make([]store.DriftObservation, n)
	for i := range obs {
		key := fmt.Sprintf("file:/etc/bench/%06d", i)
		obs[i] = store.DriftObservation{
			Key: key, Kind: "file", Change: baseline.Modified,
			StateDigest: baseline.Sum([]byte(key + "\x00" + state)).String(),
			ChangeDoc: fmt.Appendf(nil, `{"key":%q,"kind":"file","change":"modified","attrs":{"mode":{"old":"0644","new":"0600"},`+
				`"sha256":{"old":"%x","new":"%x"}},"redacted":false,"content_diff":"--- a\n+++ b\n@@ -1 +1 @@\n-%s\n+%s\n"}`,
				key, baseline.Sum([]byte(key)), baseline.Sum([]byte(state)), key, state),
			NewID: fmt.Sprintf("%s-%06d", prefix, i),
		}
	}
	return obs
}

// RunDriftBenchmarks measures a store with items drift items of one
// tenant, in hosts of 10,000 items: the first inbox page (the query every
// visit of the web report makes), a deep page, a host's page, the
// overview counts, and a host's report applied (10,000 items unchanged,
// and a third of them modified). s must be new and empty. afterSeed, when
// not nil, runs once the items are stored (to update statistics, say).
func RunDriftBenchmarks(b *testing.B, s store.Store, items int, afterSeed func() error) {
	ctx := b.Context()
	const perHost = 10000
	start := time.Now()
	if _, err := s.CreateTenant(ctx, "bench", "Bench", t0); err != nil {
		b.Fatal(err)
	}
	verdicts := []string{store.VerdictAuthorized, store.VerdictUnauthorized, store.VerdictOutOfWindow, store.VerdictUnapprovedTicket}
	var hosts []store.Host
	for h := 0; h*perHost < items; h++ {
		name := fmt.Sprintf("web%03d", h)
		host := benchHost(b, s, name)
		hosts = append(hosts, host)
		n := min(perHost, items-h*perHost)
		at := t0.Add(time.Duration(h) * time.Minute)
		if _, err := s.ApplyDrift(ctx, "bench", host.ID, 1, at, BenchObservations(n, name, "v1")); err != nil {
			b.Fatal(err)
		}
		us := make([]store.VerdictUpdate, n)
		for i := range us {
			us[i] = store.VerdictUpdate{ItemID: fmt.Sprintf("%s-%06d", name, i), Verdict: verdicts[i%4], Level: i%3 + 1, Rule: "bench"}
		}
		if _, err := s.SetVerdicts(ctx, "bench", at, us); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d drift items on %d hosts in %v", items, len(hosts), time.Since(start).Round(time.Millisecond))
	if afterSeed != nil {
		if err := afterSeed(); err != nil {
			b.Fatal(err)
		}
	}

	open := []string{store.DriftOpen}
	deep := store.DriftFilter{Statuses: open, Limit: 50}
	for range 100 {
		_, next, err := s.DriftItems(ctx, "bench", deep)
		if err != nil {
			b.Fatal(err)
		}
		deep.Cursor = next
	}
	for _, bb := range []struct {
		name string
		f    store.DriftFilter
	}{
		{"InboxFirstPage", store.DriftFilter{Statuses: open, Limit: 50}},
		{"InboxAllStatuses", store.DriftFilter{Limit: 50}},
		{"InboxPage100", deep},
		{"InboxHost", store.DriftFilter{HostIDs: []string{hosts[len(hosts)/2].ID}, Statuses: open, Limit: 50}},
		{"InboxUnauthorized", store.DriftFilter{Statuses: open, Verdicts: []string{store.VerdictUnauthorized}, Limit: 50}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				page, _, err := s.DriftItems(ctx, "bench", bb.f)
				if err != nil || len(page) != 50 {
					b.Fatalf("page of %d items, %v", len(page), err)
				}
			}
		})
	}
	b.Run("Counts", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.DriftCounts(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Reports of the first host: the same drift again, and a third of it
	// modified and back.
	host, seq := hosts[0], uint64(1)
	same := BenchObservations(min(perHost, items), "same", "v1")
	b.Run("ApplyUnchanged10k", func(b *testing.B) {
		for b.Loop() {
			seq++
			res, err := s.ApplyDrift(ctx, "bench", host.ID, seq, t0.Add(time.Hour), same)
			if err != nil || res.Unchanged != len(same) {
				b.Fatalf("%d unchanged, %v", res.Unchanged, err)
			}
		}
	})
	b.Run("ApplyModified3k", func(b *testing.B) {
		states := [2][]store.DriftObservation{BenchObservations(min(perHost, items), "m", "v1"), BenchObservations(min(perHost, items), "m", "v1")}
		v2 := BenchObservations(min(perHost, items), "m", "v2")
		for i := range states[1] {
			if i%3 == 0 {
				states[1][i] = v2[i]
			}
		}
		i := 0
		for b.Loop() {
			i++
			seq++
			if _, err := s.ApplyDrift(ctx, "bench", host.ID, seq, t0.Add(time.Hour), states[i%2]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchHost enrolls a host of the bench tenant.
func benchHost(b *testing.B, s store.Store, name string) store.Host {
	tok := store.Token{ID: "tok-" + name, TenantID: "bench", Hash: "tokhash-" + name, UsesLeft: 1, CreatedAt: t0}
	if err := s.CreateToken(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	h, err := s.Enroll(b.Context(), store.Enrollment{TokenHash: tok.Hash, Name: name, CredentialHash: "cred-" + name,
		NewHostID: "host-" + name, At: t0})
	if err != nil {
		b.Fatal(err)
	}
	return h
}
