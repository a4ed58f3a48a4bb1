package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Transaction is the package-manager transaction a drift item happened
// in, as the host's agent reported it.
type Transaction struct {
	// ID is the agent's name for it, unique per host.
	ID string `json:"id"`
	// Manager is apt, dpkg, dnf or rpm.
	Manager string `json:"manager"`
	// Command is its command line; User who ran it.
	Command string `json:"command,omitempty"`
	User    string `json:"user,omitempty"`
	// Started and Ended bound it; Ended is zero while it was in progress.
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Incomplete: the package manager did not report its end.
	Incomplete bool `json:"incomplete,omitempty"`
	// Packages are the packages it changed.
	Packages []Package `json:"packages,omitempty"`
}

// Package is one package a transaction changed.
type Package struct {
	Name   string `json:"name"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Action string `json:"action,omitempty"`
}

// Describe says what the transaction was, for people: "apt-get install
// -y nginx by alice".
func (t *Transaction) Describe() string {
	what := t.Command
	if what == "" {
		names := make([]string, 0, len(t.Packages))
		for _, p := range t.Packages {
			names = append(names, p.Name)
		}
		what = t.Manager + " transaction"
		if len(names) > 0 {
			what += " of " + strings.Join(names, ", ")
		}
	}
	if t.User != "" {
		what += " by " + t.User
	}
	return what
}

// StandardChangePrefix starts the reason of a verdict a standard change's
// package rule decided: "standard change CHG-7: apt-get upgrade -y by
// alice".
const StandardChangePrefix = "standard change "

// HasPackageRules reports whether a ticket of the engine has a package
// rule, so that drift items need their transactions to be judged.
func (e *Engine) HasPackageRules() bool { return len(e.std) > 0 }

// ruleMiss says why a standard change's package rule does not match a
// transaction, or "" when it does. loc is the ticket's window's time zone.
func ruleMiss(r *ticket.PackageRule, t *Transaction, loc *time.Location) string {
	switch {
	case !r.MatchManager(t.Manager):
		return fmt.Sprintf("its package rule is for %s, the transaction is %s's", r.Manager, t.Manager)
	case !r.MatchCommand(t.Command):
		return fmt.Sprintf("its package rule does not allow the command %q", t.Command)
	case len(r.Names) > 0 && len(t.Packages) == 0:
		return "its package rule names packages, and the transaction changed none it knows of"
	case !r.MatchTime(t.Started, loc):
		return fmt.Sprintf("its package rule does not allow a transaction starting %s", t.Started.In(loc).Format("Mon 2006-01-02 15:04 MST"))
	}
	for _, p := range t.Packages {
		if r.MatchName(p.Name) == "" {
			return fmt.Sprintf("its package rule does not cover package %s", p.Name)
		}
	}
	return ""
}

// standard applies the standard changes whose package rules match the
// transaction the item happened in, once the other tickets have decided
// r: one that authorizes it decides the verdict (unless another ticket
// authorized it already); the others are listed among the matches with
// why they do not.
func (e *Engine) standard(v *view, it *Item, fz *freeze, r *Result) {
	tx := it.Transaction
	byName := "host " + it.Host.Name
	var found []Match
	for _, i := range e.std {
		en := e.entries[i]
		how := en.covers(&v.host, byName)
		if how == "" {
			continue
		}
		loc := time.UTC
		if en.loc != nil {
			loc = en.loc
		}
		m := Match{Ticket: en.t.ID, Reference: en.t.Reference, State: en.t.State, Class: en.t.Class, Host: how,
			Pattern: "package transaction " + tx.ID}
		if miss := ruleMiss(en.t.Packages, tx, loc); miss != "" {
			m.Verdict, m.Reason = Unauthorized, "is a standard change, but "+miss
		} else {
			var dist time.Duration
			m.Verdict, dist = e.outcome(en, it.ObservedAt, fz)
			m.Reason = e.reason(en, it.ObservedAt, fz, hit{verdict: m.Verdict, dist: dist})
			if m.Verdict == Authorized {
				m.Reason = fmt.Sprintf("%s%s: %s", StandardChangePrefix, name(&m), tx.Describe())
			}
		}
		found = append(found, m)
	}
	if len(found) == 0 {
		return
	}
	slices.SortFunc(found, func(a, b Match) int {
		return cmp.Or(cmp.Compare(a.Verdict.rank(), b.Verdict.rank()), cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Ticket, b.Ticket))
	})
	best := found[0]
	decides := best.Verdict == Authorized && r.Verdict != Authorized
	if decides {
		r.Verdict, r.Reason, r.Ticket, r.Class = Authorized, best.Reason, best.Ticket, best.Class
		rest := slices.DeleteFunc(r.Covering, func(id string) bool { return id == best.Ticket })
		r.Covering = append([]string{best.Ticket}, rest...)
		r.Matches = append([]Match{best}, slices.DeleteFunc(r.Matches, func(m Match) bool { return m.Ticket == best.Ticket })...)
		found = found[1:]
	}
	for _, m := range found {
		if !slices.Contains(r.Covering, m.Ticket) {
			r.Covering = append(r.Covering, m.Ticket)
			r.Matches = append(r.Matches, m)
		}
	}
	if len(r.Matches) > MaxMatches {
		r.Matches = r.Matches[:MaxMatches]
	}
}

// IsStandardChange reports whether a stored verdict and its reason say
// that a standard change's package rule authorized the item. The reason
// of a verdict judged again names what caused it first ("ticket CHG-7
// approved: standard change CHG-7: …").
func IsStandardChange(verdict, reason string) bool {
	return verdict == string(Authorized) &&
		(strings.HasPrefix(reason, StandardChangePrefix) || strings.Contains(reason, ": "+StandardChangePrefix))
}
