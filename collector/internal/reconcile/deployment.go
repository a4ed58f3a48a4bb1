package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// The deployment window by default: drift observed from 10 minutes before
// a deployment to 30 minutes after it is taken to be the deployment's. A
// tenant's policy may set another (policy.Policy.DeploymentWindow).
const (
	DefaultDeploymentBefore = policy.DefaultDeploymentBefore
	DefaultDeploymentAfter  = policy.DefaultDeploymentAfter
)

// PolicyDeploymentWindow returns the deployment window a policy sets; the
// zero window (the defaults) when it sets none.
func PolicyDeploymentWindow(p policy.Policy) DeploymentWindow {
	if p.DeploymentWindow == nil {
		return DeploymentWindow{}
	}
	return DeploymentWindow{Before: time.Duration(p.DeploymentWindow.Before), After: time.Duration(p.DeploymentWindow.After)}
}

// DeploymentWindow is how long before and after a deployment the drift
// on its hosts is taken to be caused by it. A zero Before and After mean
// the defaults.
type DeploymentWindow struct {
	Before time.Duration
	After  time.Duration
}

func (w DeploymentWindow) orDefault() DeploymentWindow {
	if w.Before == 0 && w.After == 0 {
		return DeploymentWindow{Before: DefaultDeploymentBefore, After: DefaultDeploymentAfter}
	}
	return w
}

// String says the window for people: "10m before to 30m after".
func (w DeploymentWindow) String() string {
	return fmt.Sprintf("%s before to %s after", policy.Duration(w.Before), policy.Duration(w.After))
}

// Deployment is a CI deployment note as reconciliation sees it: a commit
// deployed under a ticket to some hosts at a time.
type Deployment struct {
	// ID is the caller's ID of the deployment.
	ID string `json:"id"`
	// Ticket is the ID of the ticket it was deployed under.
	Ticket string `json:"ticket"`
	// Environment, Commit, Repository and PipelineURL describe it.
	Environment string `json:"environment,omitempty"`
	Commit      string `json:"commit"`
	Repository  string `json:"repository,omitempty"`
	PipelineURL string `json:"pipeline_url,omitempty"`
	// Hosts are the names of the hosts deployed to.
	Hosts []string `json:"hosts"`
	// At is when it was deployed.
	At time.Time `json:"at"`
	// By is who recorded it.
	By string `json:"by,omitempty"`
}

// DeploymentMarker is in the reason of every verdict a deployment
// decided, before the commit: "CHG0030001 deployed commit 4f2a… to prod".
const DeploymentMarker = " deployed commit "

// deployments is the engine's deployments by host name, each host's
// ordered by time.
type deployments struct {
	window DeploymentWindow
	byHost map[string][]*Deployment
}

// WithDeployments returns an engine that also judges by the given
// deployments, each of which authorizes the drift on its hosts observed
// within w of its time (zero: the default window) when its ticket is
// approved, even where the ticket's own scope does not cover the item or
// its window missed it. A freeze still holds against any deployment but
// one of an emergency ticket; a ticket not approved (or not among the
// engine's tickets) makes its deployments authorize nothing. The
// deployments replace any the engine had; e does not change. The error
// names a deployment without a time or hosts, or a negative window.
func (e *Engine) WithDeployments(ds []Deployment, w DeploymentWindow) (*Engine, error) {
	w = w.orDefault()
	if w.Before < 0 || w.After < 0 {
		return nil, fmt.Errorf("reconcile tenant %s: deployment window %s: a negative duration", e.tenant, w)
	}
	idx := &deployments{window: w, byHost: map[string][]*Deployment{}}
	for i := range ds {
		d := ds[i]
		switch {
		case d.At.IsZero():
			return nil, fmt.Errorf("reconcile tenant %s: deployment %s has no time", e.tenant, d.ID)
		case len(d.Hosts) == 0:
			return nil, fmt.Errorf("reconcile tenant %s: deployment %s has no hosts", e.tenant, d.ID)
		}
		d.Hosts = slices.Clone(d.Hosts)
		for _, h := range d.Hosts {
			if list := idx.byHost[h]; len(list) == 0 || list[len(list)-1] != &d {
				idx.byHost[h] = append(list, &d)
			}
		}
	}
	for _, list := range idx.byHost {
		slices.SortFunc(list, func(a, b *Deployment) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID)) })
	}
	next := *e
	next.views = newViewCache()
	next.deploys = idx
	return &next, nil
}

// DeploymentWindow returns the window the engine judges deployments by.
func (e *Engine) DeploymentWindow() DeploymentWindow {
	if e.deploys == nil {
		return DeploymentWindow{}.orDefault()
	}
	return e.deploys.window
}

// deployed lets a deployment decide r when one of an approved ticket
// covers its host and time, and no other ticket authorizes it already;
// fz is the freeze that held when the change was observed.
func (e *Engine) deployed(r *Result, fz *freeze) {
	if e.deploys == nil {
		return
	}
	d, tk := e.deploys.nearest(e, r.Item.Host.Name, r.Item.ObservedAt)
	if d == nil || (r.Verdict == Authorized && r.Ticket != tk.ID) {
		return
	}
	w := e.deploys.window
	deployed := fmt.Sprintf("%s%s%s", tk.Name(), DeploymentMarker, d.Commit)
	if d.Environment != "" {
		deployed += " to " + d.Environment
	}
	deployed += " at " + d.At.UTC().Format("2006-01-02 15:04 MST")
	if fz != nil && tk.Class != ticket.Emergency {
		if r.Verdict == Frozen {
			r.Reason += fmt.Sprintf("; %s would authorize it, but is a %s change, not an emergency", deployed, tk.Class)
		}
		return
	}
	var when string
	switch dist := r.Item.ObservedAt.Sub(d.At); {
	case dist < 0:
		when = roundDur(-dist).String() + " before it"
	case dist > 0:
		when = roundDur(dist).String() + " after it"
	default:
		when = "at its time"
	}
	reason := fmt.Sprintf("(%s), and the change was observed %s, inside the deployment window (%s)", approvers(tk), when, w)
	m := Match{Ticket: tk.ID, Reference: tk.Reference, State: tk.State, Class: tk.Class, Verdict: Authorized,
		Host: fmt.Sprintf("deployment %s to host %s", d.ID, r.Item.Host.Name), Reason: reason}
	r.Verdict, r.Ticket, r.Class = Authorized, tk.ID, tk.Class
	r.Reason = deployed + " " + reason
	matches := []Match{m}
	for _, o := range r.Matches {
		if o.Ticket != tk.ID {
			matches = append(matches, o)
		}
	}
	r.Matches = matches[:min(len(matches), MaxMatches)]
	r.Covering = append([]string{tk.ID}, slices.DeleteFunc(slices.Clone(r.Covering), func(id string) bool { return id == tk.ID })...)
}

// nearest returns the deployment to host whose window holds t and whose
// ticket authorizes, nearest to t (then the later, then by ID), with its
// ticket; nil when there is none.
func (ix *deployments) nearest(e *Engine, host string, t time.Time) (*Deployment, *ticket.Ticket) {
	list := ix.byHost[host]
	if len(list) == 0 {
		return nil, nil
	}
	// The deployments whose window can hold t are those at t-After to
	// t+Before.
	lo, _ := slices.BinarySearchFunc(list, t.Add(-ix.window.After), func(d *Deployment, at time.Time) int { return d.At.Compare(at) })
	var best *Deployment
	var bestTicket *ticket.Ticket
	var bestDist time.Duration
	for _, d := range list[lo:] {
		if d.At.After(t.Add(ix.window.Before)) {
			break
		}
		tk := e.ticket(d.Ticket)
		if tk == nil || !tk.State.Authorizes() {
			continue
		}
		dist := t.Sub(d.At).Abs()
		if best == nil || dist < bestDist || (dist == bestDist && (d.At.After(best.At) || d.At.Equal(best.At) && strings.Compare(d.ID, best.ID) > 0)) {
			best, bestTicket, bestDist = d, tk, dist
		}
	}
	return best, bestTicket
}
