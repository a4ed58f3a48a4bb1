package reconcile

import (
	"slices"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Verdict is what reconciliation makes of one drift item.
type Verdict string

// The verdicts, in order of precedence (see the package documentation).
const (
	// Authorized: an approved ticket (approved, implementing, implemented
	// or documented) covers the host and item, and the change was
	// observed inside its window, widened by the grace period, outside
	// any freeze unless the ticket is an emergency change.
	Authorized Verdict = "authorized"
	// Frozen: the change was observed during a freeze period, and no
	// emergency ticket authorizes it.
	Frozen Verdict = "frozen"
	// UnapprovedTicket: a ticket covers the change and its window, but it
	// is not approved yet (draft, submitted or reviewed).
	UnapprovedTicket Verdict = "unapproved_ticket"
	// OutOfWindow: an approved ticket covers the host and item, but the
	// change was observed outside its window and grace period.
	OutOfWindow Verdict = "out_of_window"
	// Unauthorized: no ticket covers the change (or only rejected or
	// cancelled ones, or ones neither approved nor in their window).
	Unauthorized Verdict = "unauthorized"
)

// Verdicts lists every verdict in order of precedence.
var Verdicts = []Verdict{Authorized, Frozen, UnapprovedTicket, OutOfWindow, Unauthorized}

// rank orders verdicts by precedence, 0 first.
func (v Verdict) rank() int {
	if i := slices.Index(Verdicts, v); i >= 0 {
		return i
	}
	return len(Verdicts)
}

// Host is the host a drift item was observed on.
type Host struct {
	// Name is the host's name, unique within its tenant.
	Name string `json:"name"`
	// Labels are the host's labels ("role": "web").
	Labels map[string]string `json:"labels,omitempty"`
}

// Item is one drift item to reconcile: one changed item on one host.
type Item struct {
	// ID is the caller's ID of the drift item, carried through.
	ID string `json:"id,omitempty"`
	// Host is where the change was observed.
	Host Host `json:"host"`
	// Key is the item's key, "file:/etc/ssh/sshd_config"; its kind is the
	// part before the colon.
	Key string `json:"key"`
	// Change is added, removed or modified.
	Change baseline.ChangeKind `json:"change"`
	// Attrs are the names of the attributes that changed ("mode",
	// "sha256", "version" …), sorted.
	Attrs []string `json:"attrs,omitempty"`
	// ObservedAt is when the change was first observed: the time of the
	// snapshot that showed it. It must be set: it is what windows and
	// freezes are judged by.
	ObservedAt time.Time `json:"observed_at"`
	// Transaction is the package-manager transaction the change happened
	// in, when the agent reported one; standard changes' package rules
	// judge it.
	Transaction *Transaction `json:"transaction,omitempty"`
}

// Kind returns the item's kind: "file", "package" …
func (it *Item) Kind() string { return baseline.KindOf(it.Key) }

// ItemsFromDrift turns a drift report into items to reconcile, one per
// change, observed when the drift's snapshot was taken, on the drift's
// host with the given labels.
func ItemsFromDrift(d *baseline.Drift, labels map[string]string) []Item {
	out := make([]Item, 0, len(d.Changes))
	for i := range d.Changes {
		c := &d.Changes[i]
		var attrs []string
		for name := range c.Attrs {
			attrs = append(attrs, name)
		}
		slices.Sort(attrs)
		out = append(out, Item{
			Host: Host{Name: d.Host, Labels: labels}, Key: c.ExactKey(), Change: c.Change,
			Attrs: attrs, ObservedAt: d.TakenAt,
		})
	}
	return out
}

// Match is one ticket whose scope covers a drift item, with what that
// ticket alone makes of it and why.
type Match struct {
	// Ticket is the ticket's ID.
	Ticket string `json:"ticket"`
	// Reference is its external reference, when it has one.
	Reference string `json:"reference,omitempty"`
	// State and Class are the ticket's when it was matched.
	State ticket.State `json:"state"`
	Class ticket.Class `json:"class"`
	// Verdict is what this ticket alone makes of the item.
	Verdict Verdict `json:"verdict"`
	// Host says why the host is in the ticket's scope: "host web-01",
	// "host glob web-*", "labels role=web,env=prod".
	Host string `json:"host"`
	// Pattern is the ticket's item pattern that matched.
	Pattern string `json:"pattern"`
	// Reason says why the ticket authorizes the item or why it does not.
	Reason string `json:"reason"`
}

// Result is a drift item's verdict, the tickets that cover it, and its
// escalation level.
type Result struct {
	// Item is the drift item judged.
	Item Item `json:"item"`
	// Verdict is the outcome, by precedence over the matched tickets.
	Verdict Verdict `json:"verdict"`
	// Reason explains the verdict in one sentence.
	Reason string `json:"reason"`
	// Ticket is the ID of the ticket that decided the verdict; empty for
	// unauthorized, and for a freeze no ticket would have authorized.
	Ticket string `json:"ticket,omitempty"`
	// Class is the deciding ticket's class; empty when there is none.
	Class ticket.Class `json:"class,omitempty"`
	// Freeze is the name of the freeze period that held when the change
	// was observed, if any.
	Freeze string `json:"freeze,omitempty"`
	// Covering are the IDs of every ticket whose scope covers the item,
	// the deciding one first, then by the precedence of their own
	// verdicts, out-of-window ones nearest first.
	Covering []string `json:"covering,omitempty"`
	// Matches explain the first MaxMatches of Covering: what each makes of
	// the item and why.
	Matches []Match `json:"matches,omitempty"`
	// Level is the escalation level, 1 to 3.
	Level int `json:"level"`
	// Rule is the name of the escalation rule that set Level, or
	// FallbackRule.
	Rule string `json:"rule"`
}
