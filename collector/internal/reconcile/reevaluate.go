package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Change is a drift item whose verdict or escalation level changed when it
// was judged again.
type Change struct {
	// From and FromLevel are the item's previous verdict and level.
	From      Verdict `json:"from"`
	FromLevel int     `json:"from_level"`
	// Result is the item's new result in full.
	Result Result `json:"result"`
	// Reason says what changed and how, for the item's history:
	// "CHG0030001 approved by bob@msp.example at 2025-03-09 10:00 UTC:
	// unapproved_ticket → authorized".
	Reason string `json:"reason"`
}

// Reevaluate puts a changed (or new) ticket in the engine and judges again
// the previous results it can affect: those it matched before and those
// its new scope covers. It returns the engine with the ticket in place and
// only the items whose verdict or level changed, in the order of prev, each
// with a reason naming the ticket's change (approved late, window moved,
// scope changed …). e does not change.
func (e *Engine) Reevaluate(prev []Result, t *ticket.Ticket) (*Engine, []Change, error) {
	next, err := e.With(t)
	if err != nil {
		return nil, nil, err
	}
	old := e.ticket(t.ID)
	why := describeChange(old, t)
	en := next.entries[next.byID[t.ID]]
	var out []Change
	for i := range prev {
		p := &prev[i]
		matched := slices.Contains(p.Covering, t.ID)
		if !matched && (en.covers(&p.Item.Host, "host") == "" || en.patterns.Match(p.Item.Key) == nil && (en.t.Packages == nil || p.Item.Transaction == nil)) {
			continue
		}
		if c, ok := compare(p, next.Evaluate(p.Item), why); ok {
			out = append(out, c)
		}
	}
	return next, out, nil
}

// Rejudge judges every previous result again with this engine, for a
// change that can affect any item (a new policy, a new freeze, tickets
// reloaded), and returns those whose verdict or level changed, in the
// order of prev, each with the given reason followed by the old and new
// verdicts.
func (e *Engine) Rejudge(prev []Result, reason string) []Change {
	var out []Change
	next := e.EvaluateAll(itemsOf(prev))
	for i := range prev {
		if c, ok := compare(&prev[i], next[i], reason); ok {
			out = append(out, c)
		}
	}
	return out
}

func itemsOf(rs []Result) []Item {
	out := make([]Item, len(rs))
	for i := range rs {
		out[i] = rs[i].Item
	}
	return out
}

// compare returns the change from p to r, if its verdict or level differ.
func compare(p *Result, r Result, why string) (Change, bool) {
	if p.Verdict == r.Verdict && p.Level == r.Level {
		return Change{}, false
	}
	reason := fmt.Sprintf("%s: %s → %s", why, p.Verdict, r.Verdict)
	if p.Level != r.Level {
		reason += fmt.Sprintf(", level %d → %d", p.Level, r.Level)
	}
	return Change{From: p.Verdict, FromLevel: p.Level, Result: r, Reason: reason}, true
}

// describeChange says what changed from old to t, for people: the step
// that moved it, a moved window, a changed scope or class.
func describeChange(old, t *ticket.Ticket) string {
	name := t.Name()
	if old == nil {
		return fmt.Sprintf("%s added (%s)", name, t.State)
	}
	var parts []string
	if old.State != t.State || len(old.Approvals) != len(t.Approvals) {
		parts = append(parts, name+" "+lastAction(t))
	}
	switch {
	case (old.Window == nil) != (t.Window == nil):
		parts = append(parts, fmt.Sprintf("%s window set to %s", name, windowText(t)))
	case old.Window != nil && *old.Window != *t.Window:
		parts = append(parts, fmt.Sprintf("%s window moved from %s to %s", name, windowText(old), windowText(t)))
	}
	if !slices.Equal(old.Scope.Hosts, t.Scope.Hosts) || !slices.Equal(old.Scope.Labels, t.Scope.Labels) || !slices.Equal(old.Scope.Items, t.Scope.Items) {
		parts = append(parts, name+" scope changed")
	}
	if old.Class != t.Class {
		parts = append(parts, fmt.Sprintf("%s class changed from %s to %s", name, old.Class, t.Class))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s updated (version %d → %d)", name, old.Version, t.Version)
	}
	return strings.Join(parts, "; ")
}

func windowText(t *ticket.Ticket) string {
	if t.Window == nil {
		return "none"
	}
	return t.Window.String()
}

// verbs say what each action did, for a change's reason.
var verbs = map[ticket.Action]string{
	ticket.ActionCreate: "created", ticket.ActionSubmit: "submitted", ticket.ActionReview: "reviewed",
	ticket.ActionApprove: "approved", ticket.ActionReject: "rejected", ticket.ActionStart: "went into implementation",
	ticket.ActionComplete: "implemented", ticket.ActionDocument: "documented", ticket.ActionAmend: "amended",
	ticket.ActionCancel: "cancelled",
}

// lastAction describes the ticket's last transition: "approved by
// bob@msp.example at 2025-03-09 10:00 UTC".
func lastAction(t *ticket.Ticket) string {
	if len(t.History) == 0 {
		return "is " + string(t.State)
	}
	tr := t.History[len(t.History)-1]
	verb := verbs[tr.Action]
	if verb == "" {
		verb = string(tr.Action)
	}
	s := fmt.Sprintf("%s by %s at %s", verb, tr.By.Email, tr.At.UTC().Format("2006-01-02 15:04 MST"))
	if len(tr.PendingApproval) > 0 {
		s += fmt.Sprintf(" (awaiting the %s approval)", tr.PendingApproval[0])
	}
	return s
}
