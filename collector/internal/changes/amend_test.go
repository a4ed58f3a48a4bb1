package changes

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Linking a drift item to a ticket amends the ticket's scope to cover
// the item, records it in the ticket's history and the audit log, sends
// an approved ticket back for review, and decides the verdict again.
func TestAmend(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.motdTicket("CHG-1")
	f.act("CHG-1", ticket.ActionSubmit, alice)
	f.act("CHG-1", ticket.ActionReview, bob)
	f.act("CHG-1", ticket.ActionApprove, carol)
	f.report(1,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "cc"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0600", "sha256": "bb"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}))
	sshd := f.items()["file:/etc/ssh/sshd_config"]
	if sshd.Verdict != store.VerdictUnauthorized {
		t.Fatalf("sshd_config before linking: %s", sshd.Verdict)
	}
	f.now = f.now.Add(time.Minute)

	l, err := f.m.Amend(ctx, "tn_acme", "CHG-1", sshd.ID, alice, "same maintenance")
	if err != nil {
		t.Fatalf("Amend: %v", err)
	}
	if !l.Amended || l.Before != ticket.Approved || l.Ticket.State != ticket.Submitted || l.HostName != "web-01" {
		t.Errorf("link: amended %v, %s → %s, host %q; want amended, approved → submitted, web-01", l.Amended, l.Before, l.Ticket.State, l.HostName)
	}
	tk, err := f.m.Ticket(ctx, "tn_acme", "CHG-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tk.Scope.Items, "file:/etc/ssh/sshd_config") || !slices.Equal(tk.Scope.Hosts, []string{"web-01"}) {
		t.Errorf("scope after linking: %+v", tk.Scope)
	}
	last := tk.History[len(tk.History)-1]
	if last.By.Email != alice.Email || last.Comment != "linked drift file:/etc/ssh/sshd_config on web-01: same maintenance" {
		t.Errorf("ticket history: %+v", last)
	}
	// The ticket went back for review: the item names it, unapproved.
	sshd = f.items()["file:/etc/ssh/sshd_config"]
	if sshd.Verdict != store.VerdictUnapprovedTicket || !slices.Contains(sshd.Tickets, tk.ID) {
		t.Errorf("sshd_config after linking: %s, tickets %v", sshd.Verdict, sshd.Tickets)
	}
	es, err := f.st.AuditEntries(ctx, "tn_acme", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := es[len(es)-1]
	var detail map[string]any
	if err := json.Unmarshal(e.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	if e.Action != audit.ActionTicketUpdate || e.Actor != alice.Email || e.Subject != tk.ID || detail["drift_item"] != sshd.ID ||
		detail["key"] != "file:/etc/ssh/sshd_config" || detail["to"] != string(ticket.Submitted) {
		t.Errorf("audit entry: %s by %s on %s, %s", e.Action, e.Actor, e.Subject, e.Detail)
	}

	// Linking again changes nothing of the ticket and writes no entry.
	l, err = f.m.Amend(ctx, "tn_acme", tk.ID, sshd.ID, bob, "again")
	if err != nil || l.Amended {
		t.Fatalf("second link: amended %v, %v", l.Amended, err)
	}
	es2, err := f.st.AuditEntries(ctx, "tn_acme", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(es2) != len(es) {
		t.Errorf("a link that changes nothing wrote %d audit entries", len(es2)-len(es))
	}

	t.Run("errors", func(t *testing.T) {
		if _, err := f.m.Amend(ctx, "tn_acme", "CHG-404", sshd.ID, alice, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown ticket: %v, want ErrNotFound", err)
		}
		if _, err := f.m.Amend(ctx, "tn_acme", "CHG-1", "d_nope", alice, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown item: %v, want ErrNotFound", err)
		}
		// A viewer may not amend: the ticket stays as it was.
		viewer := ticket.Actor{ID: "u_v", Email: "vic@msp.test", Role: ticket.RoleViewer}
		tk2 := f.motdTicket("CHG-2")
		if _, err := f.m.Amend(ctx, "tn_acme", tk2.ID, sshd.ID, viewer, "x"); !errors.Is(err, ticket.ErrForbidden) {
			t.Errorf("a viewer amends a ticket: %v, want ErrForbidden", err)
		}
		after, err := f.m.Ticket(ctx, "tn_acme", "CHG-2")
		if err != nil {
			t.Fatal(err)
		}
		if after.Version != tk2.Version || len(after.Scope.Items) != len(tk2.Scope.Items) {
			t.Errorf("refused amendment: version %d → %d, items %v", tk2.Version, after.Version, after.Scope.Items)
		}
	})
}

func TestKeyPattern(t *testing.T) {
	for _, key := range []string{"file:/etc/motd", "file:/etc/a*b?[c]\\d", "package:libc6", "port:tcp/22"} {
		p := KeyPattern(key)
		if !ScopeHasItem(ticket.Scope{Items: []string{p}}, key) {
			t.Errorf("pattern %q does not match %q", p, key)
		}
	}
	if ScopeHasItem(ticket.Scope{Items: []string{KeyPattern("file:/etc/a*")}}, "file:/etc/ab") {
		t.Error("the pattern of file:/etc/a* matches file:/etc/ab")
	}
}
