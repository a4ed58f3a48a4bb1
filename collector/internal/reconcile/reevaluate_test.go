package reconcile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// workflowTicket raises a ticket through the real workflow and takes it to
// reviewed: submitted by one engineer, reviewed by another.
func workflowTicket(t *testing.T, pol policy.Policy, w policy.Window, origin ticket.Origin) *ticket.Ticket {
	t.Helper()
	spec := ticket.Spec{
		Reference: "CHG0030001", Title: "Harden sshd", Description: "Disable password logins.",
		Impact: "sshd reloads.", RollbackPlan: "Restore sshd_config from the baseline.", Origin: origin,
		Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/ssh/**", "service:ssh"}},
		Window: &w,
	}
	requester := mspEng
	if origin == ticket.Customer {
		requester = ticket.Actor{ID: "c_eng", Email: "eng@acme.example", Role: ticket.RoleEngineer, TenantID: "acme"}
	}
	tk, err := ticket.New("t_ssh", "acme", spec, requester, pol, at("2025-03-01T08:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		act ticket.Action
		by  ticket.Actor
	}{{ticket.ActionSubmit, requester}, {ticket.ActionReview, mspEng2}} {
		if _, err := tk.Apply(step.act, step.by, pol, at("2025-03-02T08:00:00Z"), ""); err != nil {
			t.Fatal(err)
		}
	}
	return tk
}

// TestApprovedLate: a change made in the window under a ticket that was
// not approved yet becomes authorized when the approval comes, and the
// history says who approved it; items outside the ticket's reach are not
// judged again.
func TestApprovedLate(t *testing.T) {
	pol := policy.Default()
	tk := workflowTicket(t, pol, windowBerlin, ticket.Customer)
	other := tk.Clone()
	other.ID, other.Reference, other.Scope.Items = "t_other", "CHG0030002", []string{"package:*"}
	e, err := New("acme", pol, []*ticket.Ticket{tk, other})
	if err != nil {
		t.Fatal(err)
	}
	items := []Item{
		item(web01, "file:/etc/ssh/sshd_config", inWindow),               // in scope and window
		item(web01, "file:/etc/ssh/sshd_config", "2025-03-12T10:00:00Z"), // in scope, outside the window
		item(web02, "file:/etc/ssh/sshd_config", inWindow),               // another host
		item(web01, "package:openssh-server", inWindow),                  // the other ticket's
	}
	prev := e.EvaluateAll(items)
	wantPrev := []Verdict{UnapprovedTicket, Unauthorized, Unauthorized, UnapprovedTicket}
	for i, r := range prev {
		if r.Verdict != wantPrev[i] {
			t.Fatalf("item %d before approval: %s (%s), want %s", i, r.Verdict, r.Reason, wantPrev[i])
		}
	}

	// The MSP approves first: still pending the customer, nothing changes.
	approved := tk.Clone()
	if _, err := approved.Apply(ticket.ActionApprove, mspAppr, pol, at("2025-03-10T09:00:00Z"), ""); err != nil {
		t.Fatal(err)
	}
	e2, changes, err := e.Reevaluate(prev, approved)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Errorf("one of two approvals changed %d verdicts: %+v", len(changes), changes)
	}
	if r := e2.Evaluate(items[0]); !strings.Contains(r.Reason, "(awaiting the customer approval)") {
		t.Errorf("reason %q does not say the customer approval is pending", r.Reason)
	}

	// The customer approves a day after the change.
	if _, err := approved.Apply(ticket.ActionApprove, custAppr, pol, at("2025-03-11T16:30:00Z"), "ok"); err != nil {
		t.Fatal(err)
	}
	e3, changes, err := e2.Reevaluate(prev, approved)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("changes %+v, want the two items in scope", changes)
	}
	first := changes[0]
	if first.From != UnapprovedTicket || first.Result.Verdict != Authorized || !cmp.Equal(first.Result.Item, items[0]) {
		t.Errorf("first change %s → %s for %v", first.From, first.Result.Verdict, first.Result.Item)
	}
	wantReason := "CHG0030001 approved by appr@acme.example at 2025-03-11 16:30 UTC: unapproved_ticket → authorized, level 2 → 1"
	if first.Reason != wantReason {
		t.Errorf("reason\n%q, want\n%q", first.Reason, wantReason)
	}
	second := changes[1]
	if second.From != Unauthorized || second.Result.Verdict != OutOfWindow || second.FromLevel != 3 || second.Result.Level != 2 {
		t.Errorf("second change %s (level %d) → %s (level %d), want unauthorized (3) → out_of_window (2)",
			second.From, second.FromLevel, second.Result.Verdict, second.Result.Level)
	}
	// The engines before stay as they were.
	if r := e.Evaluate(items[0]); r.Verdict != UnapprovedTicket {
		t.Errorf("the first engine now says %s", r.Verdict)
	}
	if r := e3.Evaluate(items[0]); r.Verdict != Authorized {
		t.Errorf("the new engine says %s", r.Verdict)
	}
}

// TestWindowMoved: the vendor postpones the change; the ticket is amended,
// reviewed and approved again with a window a week later. A change seen in
// the old window is no longer authorized; one seen in the new window is.
func TestWindowMoved(t *testing.T) {
	pol := policy.Default()
	tk := workflowTicket(t, pol, windowBerlin, ticket.Internal)
	if _, err := tk.Apply(ticket.ActionApprove, mspAppr, pol, at("2025-03-03T08:00:00Z"), ""); err != nil {
		t.Fatal(err)
	}
	e, err := New("acme", pol, []*ticket.Ticket{tk})
	if err != nil {
		t.Fatal(err)
	}
	items := []Item{
		item(web01, "file:/etc/ssh/sshd_config", inWindow),
		item(web01, "service:ssh", "2025-03-15T22:00:00Z"),
		item(web01, "file:/etc/hosts", "2025-03-15T22:00:00Z"),
	}
	prev := e.EvaluateAll(items)
	if prev[0].Verdict != Authorized || prev[1].Verdict != OutOfWindow || prev[2].Verdict != Unauthorized {
		t.Fatalf("before: %s, %s, %s", prev[0].Verdict, prev[1].Verdict, prev[2].Verdict)
	}

	moved := tk.Clone()
	spec := moved.Spec
	spec.Window = &policy.Window{Start: "2025-03-15T22:00", End: "2025-03-16T02:00", TimeZone: "Europe/Berlin"}
	if _, err := moved.Amend(spec, mspEng, pol, at("2025-03-10T08:00:00Z"), "vendor postponed"); err != nil {
		t.Fatal(err)
	}
	// Amending the window withdrew the approval: both changes are now
	// under a ticket that is not approved.
	_, changes, err := e.Reevaluate(prev, moved)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range changes {
		got[c.Result.Item.Key] = string(c.From) + " → " + string(c.Result.Verdict)
	}
	want := map[string]string{
		"file:/etc/ssh/sshd_config": "authorized → unauthorized",
		"service:ssh":               "out_of_window → unapproved_ticket",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after amending (-want +got):\n%s", diff)
	}
	if len(changes) > 0 && !strings.HasPrefix(changes[0].Reason, "CHG0030001 amended by eng@msp.example at 2025-03-10 08:00 UTC; CHG0030001 window moved from 2025-03-08 22:00 – 2025-03-09 02:00 Europe/Berlin to 2025-03-15 22:00 – 2025-03-16 02:00 Europe/Berlin: ") {
		t.Errorf("reason %q", changes[0].Reason)
	}

	// Reviewed and approved again.
	for _, step := range []struct {
		act ticket.Action
		by  ticket.Actor
	}{{ticket.ActionReview, mspEng2}, {ticket.ActionApprove, mspAppr}} {
		if _, err := moved.Apply(step.act, step.by, pol, at("2025-03-11T08:00:00Z"), ""); err != nil {
			t.Fatal(err)
		}
	}
	_, changes, err = e.Reevaluate(prev, moved)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, c := range changes {
		got[c.Result.Item.Key] = string(c.From) + " → " + string(c.Result.Verdict)
	}
	want = map[string]string{
		"file:/etc/ssh/sshd_config": "authorized → out_of_window",
		"service:ssh":               "out_of_window → authorized",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after approving again (-want +got):\n%s", diff)
	}
	for _, c := range changes {
		if !strings.Contains(c.Reason, "window moved from 2025-03-08 22:00 – 2025-03-09 02:00 Europe/Berlin to 2025-03-15 22:00") {
			t.Errorf("reason %q does not say the window moved", c.Reason)
		}
	}
}

func TestReevaluateScope(t *testing.T) {
	pol := policy.Default()
	e := engine(t, pol, tk{id: "t_1", ref: "CHG1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}})
	items := []Item{
		item(web01, "file:/etc/nginx/nginx.conf", inWindow),
		item(web02, "file:/etc/nginx/nginx.conf", inWindow),
	}
	prev := e.EvaluateAll(items)

	t.Run("scope moves to another host", func(t *testing.T) {
		tk, _ := e.Ticket("t_1")
		moved := tk.Clone()
		moved.Scope.Hosts = []string{"web-02"}
		moved.Version++
		_, changes, err := e.Reevaluate(prev, moved)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 2 || changes[0].Result.Verdict != Unauthorized || changes[1].Result.Verdict != Authorized {
			t.Fatalf("changes %+v", changes)
		}
		if want := "CHG1 scope changed: authorized → unauthorized"; changes[0].Reason != want {
			t.Errorf("reason %q, want %q", changes[0].Reason, want)
		}
	})
	t.Run("a new ticket", func(t *testing.T) {
		nt := tk{id: "t_2", ref: "CHG2", state: ticket.Implementing, labels: []string{"role=web"}, items: []string{"file:/etc/nginx/*.conf"}}.build()
		next, changes, err := e.Reevaluate(prev, nt)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].Result.Item.Host.Name != "web-02" || changes[0].Reason != "CHG2 added (implementing): unauthorized → authorized" {
			t.Fatalf("changes %+v", changes)
		}
		if _, ok := next.Ticket("t_2"); !ok {
			t.Error("the new engine does not have the new ticket")
		}
		if _, ok := e.Ticket("t_2"); ok {
			t.Error("the old engine has the new ticket")
		}
	})
	t.Run("nothing that matters changed", func(t *testing.T) {
		tk, _ := e.Ticket("t_1")
		edited := tk.Clone()
		edited.Description = "reworded"
		edited.Version++
		_, changes, err := e.Reevaluate(prev, edited)
		if err != nil || len(changes) != 0 {
			t.Errorf("Reevaluate = %+v, %v; want no change", changes, err)
		}
	})
	t.Run("another tenant's ticket", func(t *testing.T) {
		bad := tk{id: "t_9", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/**"}}.build()
		bad.TenantID = "globex"
		if _, _, err := e.Reevaluate(prev, bad); err == nil {
			t.Error("Reevaluate took another tenant's ticket")
		}
	})
}

// TestRejudge judges everything again under a new policy with a freeze.
func TestRejudge(t *testing.T) {
	e := engine(t, policy.Default(), tk{id: "t_1", ref: "CHG1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"package:*"}})
	items := []Item{
		item(web01, "package:openssl", inWindow),
		item(web01, "package:openssl", "2025-03-20T12:00:00Z"),
	}
	prev := e.EvaluateAll(items)
	pol := policy.Default()
	pol.Freezes = []policy.Freeze{{Name: "march", Window: policy.Window{Start: "2025-03-08T00:00", End: "2025-03-09T00:00", TimeZone: "UTC"}, Reason: "audit"}}
	tk1, _ := e.Ticket("t_1")
	frozen, err := New("acme", pol, []*ticket.Ticket{tk1})
	if err != nil {
		t.Fatal(err)
	}
	changes := frozen.Rejudge(prev, "freeze march added")
	if len(changes) != 1 || changes[0].Result.Verdict != Frozen || changes[0].Reason != "freeze march added: authorized → frozen, level 1 → 2" {
		t.Fatalf("changes %+v", changes)
	}
	if got := frozen.Rejudge(frozen.EvaluateAll(items), "again"); len(got) != 0 {
		t.Errorf("judging the same again changed %+v", got)
	}
}
