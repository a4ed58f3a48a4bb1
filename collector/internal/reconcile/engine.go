package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile/pattern"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Engine reconciles one tenant's drift items against its tickets under its
// policy; the items given to it must be that tenant's. It indexes the
// tickets by host name, label and host glob, so that judging an item looks
// only at the tickets that can cover its host, and keeps for each host it
// has judged lately (up to MaxCachedHosts) the patterns of those tickets by
// their literal start, so that an item is tried only against patterns that
// can match it.
//
// An Engine's tickets and policy do not change once built, and it is safe
// for concurrent use; With and Reevaluate return a new one with a ticket
// replaced.
type Engine struct {
	tenant  string
	pol     policy.Policy
	grace   time.Duration
	freezes []freeze
	rules   Rules

	entries []*entry
	views   *viewCache
	byID    map[string]int32
	byHost  map[string][]int32            // literal host name → entries
	byLabel map[string]map[string][]int32 // first label key → value → entries
	byGlob  map[string][]int32            // literal start of a host glob ("" for "*") → entries
	buckets map[string]int32              // pattern bucket → its number
	pbucket [][]int32                     // entry → the number of each pattern's bucket
	std     []int32                       // entries with a package rule (see standard.go)

	deploys *deployments // CI deployments (see WithDeployments); nil: none
}

// freeze is a freeze period with its bounds.
type freeze struct {
	policy.Freeze
	start, end time.Time
}

// entry is one ticket, compiled. Engines made by With share entries, so an
// entry does not change once compiled.
type entry struct {
	t        *ticket.Ticket
	hosts    []string // literal host names
	globs    []string // host globs
	labels   []label  // all must hold
	patterns pattern.Set
	window   bool      // the ticket has a window
	from, to time.Time // the window widened by the grace period
	loc      *time.Location

	labelText  string   // "labels role=web,env=prod"
	globText   []string // "host glob web-*", one per glob
	windowText string   // " its window 2025-03-08 22:00 – 2025-03-09 02:00 Europe/Berlin ± 30m"
	approved   string   // "approved by a@x, b@y"
}

type label struct{ key, value string }

// New builds the engine of one tenant from its policy and tickets, of
// which it keeps copies. Tickets of any state may be given: rejected and
// cancelled ones are listed among an item's matches but authorize nothing.
// The error names a ticket of another tenant, a duplicate ID, a ticket
// whose scope or window does not compile, or a policy that does not
// validate.
func New(tenantID string, pol policy.Policy, tickets []*ticket.Ticket) (*Engine, error) {
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("reconcile tenant %s: %w", tenantID, err)
	}
	rules, err := CompileRules(pol.Rules())
	if err != nil {
		return nil, fmt.Errorf("reconcile tenant %s: %w", tenantID, err)
	}
	pol.Approvers, pol.Freezes, pol.Escalation = slices.Clone(pol.Approvers), slices.Clone(pol.Freezes), slices.Clone(pol.Escalation)
	e := &Engine{tenant: tenantID, pol: pol, grace: time.Duration(pol.Grace), rules: rules, views: newViewCache()}
	for _, f := range pol.Freezes {
		start, end, _ := f.Bounds()
		e.freezes = append(e.freezes, freeze{Freeze: f, start: start, end: end})
	}
	e.entries = make([]*entry, 0, len(tickets))
	for _, t := range tickets {
		en, err := e.compile(t)
		if err != nil {
			return nil, err
		}
		e.entries = append(e.entries, en)
	}
	if err := e.index(); err != nil {
		return nil, err
	}
	return e, nil
}

// compile checks one ticket and compiles its scope and window. The entry
// holds a copy of the ticket, so that changing the caller's does not
// change the engine.
func (e *Engine) compile(t *ticket.Ticket) (*entry, error) {
	t = t.Clone()
	if t.TenantID != e.tenant {
		return nil, fmt.Errorf("reconcile tenant %s: ticket %s belongs to tenant %s", e.tenant, t.Name(), t.TenantID)
	}
	en := &entry{t: t}
	var err error
	if en.patterns, err = pattern.CompileSet(t.Scope.Items); err != nil {
		return nil, fmt.Errorf("reconcile ticket %s: scope.items%w", t.Name(), err)
	}
	for _, h := range t.Scope.Hosts {
		if !strings.ContainsAny(h, `*?[\`) {
			en.hosts = append(en.hosts, h)
			continue
		}
		if err := pattern.CheckGlob(h); err != nil {
			return nil, fmt.Errorf("reconcile ticket %s: scope.hosts: %w", t.Name(), err)
		}
		en.globs = append(en.globs, h)
		en.globText = append(en.globText, "host glob "+h)
	}
	for _, l := range t.Scope.Labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("reconcile ticket %s: scope.labels: %q is not key=value", t.Name(), l)
		}
		en.labels = append(en.labels, label{k, v})
	}
	if len(en.labels) > 0 {
		en.labelText = "labels " + strings.Join(t.Scope.Labels, ",")
	}
	if t.Window != nil {
		start, end, err := t.Window.Bounds()
		if err != nil {
			return nil, fmt.Errorf("reconcile ticket %s: window.%w", t.Name(), err)
		}
		en.window = true
		en.from, en.to = start.Add(-e.grace), end.Add(e.grace)
		en.loc = t.Window.Location()
		en.windowText = fmt.Sprintf(" its window %s ± %s", t.Window, policy.Duration(e.grace))
	}
	en.approved = approvers(t)
	return en, nil
}

// index builds the lookups from the entries.
func (e *Engine) index() error {
	e.byID = make(map[string]int32, len(e.entries))
	e.byHost = make(map[string][]int32)
	e.byLabel = make(map[string]map[string][]int32)
	e.byGlob = make(map[string][]int32)
	e.buckets = make(map[string]int32)
	e.pbucket = make([][]int32, len(e.entries))
	e.std = nil
	for i, en := range e.entries {
		idx := int32(i)
		if en.t.Packages != nil {
			e.std = append(e.std, idx)
		}
		if j, dup := e.byID[en.t.ID]; dup {
			return fmt.Errorf("reconcile tenant %s: tickets %s and %s have the same ID %s", e.tenant, e.entries[j].t.Name(), en.t.Name(), en.t.ID)
		}
		e.byID[en.t.ID] = idx
		for _, h := range en.hosts {
			e.byHost[h] = append(e.byHost[h], idx)
		}
		for _, g := range en.globs {
			start := g[:strings.IndexAny(g, `*?[\`)]
			if list := e.byGlob[start]; len(list) == 0 || list[len(list)-1] != idx {
				e.byGlob[start] = append(list, idx)
			}
		}
		e.pbucket[i] = make([]int32, len(en.patterns))
		for j, p := range en.patterns {
			b, ok := e.buckets[p.Bucket()]
			if !ok {
				b = int32(len(e.buckets))
				e.buckets[p.Bucket()] = b
			}
			e.pbucket[i][j] = b
		}
		if len(en.labels) > 0 {
			l := en.labels[0]
			m := e.byLabel[l.key]
			if m == nil {
				m = make(map[string][]int32)
				e.byLabel[l.key] = m
			}
			m[l.value] = append(m[l.value], idx)
		}
	}
	return nil
}

// With returns an engine with a copy of t in place of the ticket with its
// ID, or with it added. e does not change.
func (e *Engine) With(t *ticket.Ticket) (*Engine, error) {
	en, err := e.compile(t)
	if err != nil {
		return nil, err
	}
	next := *e
	next.views = newViewCache()
	next.entries = slices.Clone(e.entries)
	if i, ok := e.byID[t.ID]; ok {
		next.entries[i] = en
	} else {
		next.entries = append(next.entries, en)
	}
	if err := next.index(); err != nil {
		return nil, err
	}
	return &next, nil
}

// Tenant returns the tenant the engine reconciles.
func (e *Engine) Tenant() string { return e.tenant }

// Policy returns the policy the engine judges by.
func (e *Engine) Policy() policy.Policy { return e.pol }

// Ticket returns a copy of the engine's ticket with the given ID.
func (e *Engine) Ticket(id string) (*ticket.Ticket, bool) {
	t := e.ticket(id)
	if t == nil {
		return nil, false
	}
	return t.Clone(), true
}

// ticket returns the engine's own ticket with the given ID, or nil.
func (e *Engine) ticket(id string) *ticket.Ticket {
	if i, ok := e.byID[id]; ok {
		return e.entries[i].t
	}
	return nil
}

// covers says why the entry's host selector covers h, or "" when it does
// not. byName is what to say when the entry names the host.
func (en *entry) covers(h *Host, byName string) string {
	if slices.Contains(en.hosts, h.Name) {
		return byName
	}
	for i, g := range en.globs {
		if pattern.MatchGlob(g, h.Name) {
			return en.globText[i]
		}
	}
	if len(en.labels) == 0 {
		return ""
	}
	for _, l := range en.labels {
		if v, ok := h.Labels[l.key]; !ok || v != l.value {
			return ""
		}
	}
	return en.labelText
}

// view is the tickets that cover one host, their item patterns by bucket
// (see pattern.Pattern.Bucket). A view does not change once built.
type view struct {
	host    Host
	hows    []string         // why each covering entry covers the host
	buckets map[int32][]cand // by bucket number
}

// cand is one item pattern of one entry that covers the view's host.
type cand struct {
	entry int32
	pat   int32 // index in the entry's patterns
	how   int32 // index in the view's hows
}

// MaxCachedHosts bounds how many hosts' views an engine keeps between
// calls; a view takes some 11 KiB for a host that 130 tickets cover.
const MaxCachedHosts = 1024

// viewCache keeps the views of the hosts judged last, at most
// MaxCachedHosts of them.
type viewCache struct {
	mu sync.Mutex
	m  map[string]*view
}

func newViewCache() *viewCache { return &viewCache{m: map[string]*view{}} }

// view returns the view of host h, from the cache when the host's labels
// are the same.
func (e *Engine) view(h Host) *view {
	c := e.views
	c.mu.Lock()
	v := c.m[h.Name]
	c.mu.Unlock()
	if v != nil && maps.Equal(v.host.Labels, h.Labels) {
		return v
	}
	v = e.buildView(h)
	c.mu.Lock()
	if len(c.m) >= MaxCachedHosts {
		for name := range c.m {
			delete(c.m, name)
			break
		}
	}
	c.m[h.Name] = v
	c.mu.Unlock()
	return v
}

// buildView finds the tickets that cover h and sorts their patterns into
// buckets.
func (e *Engine) buildView(h Host) *view {
	h.Labels = maps.Clone(h.Labels)
	v := &view{host: h}
	byName := "host " + h.Name

	// The covering entries, each once, and why each covers the host.
	var seen map[int32]bool
	covering := make([]int32, 0, 64)
	npat := 0
	add := func(i int32) {
		if seen[i] {
			return
		}
		if seen == nil {
			seen = make(map[int32]bool, 64)
		}
		seen[i] = true
		en := e.entries[i]
		if how := en.covers(&v.host, byName); how != "" {
			covering = append(covering, i)
			v.hows = append(v.hows, how)
			npat += len(en.patterns)
		}
	}
	for _, i := range e.byHost[h.Name] {
		add(i)
	}
	for k, val := range h.Labels {
		for _, i := range e.byLabel[k][val] {
			add(i)
		}
	}
	for n := 0; n <= len(h.Name); n++ {
		for _, i := range e.byGlob[h.Name[:n]] {
			add(i)
		}
	}

	// Their patterns in one array, grouped by bucket, and a map of the
	// groups.
	type pair struct {
		bucket int32
		cand   cand
	}
	pairs := make([]pair, 0, npat)
	for k, i := range covering {
		for j, b := range e.pbucket[i] {
			pairs = append(pairs, pair{b, cand{entry: i, pat: int32(j), how: int32(k)}})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(a.bucket, b.bucket) })
	cands := make([]cand, len(pairs))
	groups := 0
	for k := range pairs {
		cands[k] = pairs[k].cand
		if k == 0 || pairs[k].bucket != pairs[k-1].bucket {
			groups++
		}
	}
	v.buckets = make(map[int32][]cand, groups)
	for k := 0; k < len(pairs); {
		n := k + 1
		for n < len(pairs) && pairs[n].bucket == pairs[k].bucket {
			n++
		}
		v.buckets[pairs[k].bucket] = cands[k:n:n]
		k = n
	}
	return v
}

// Evaluate judges one drift item.
func (e *Engine) Evaluate(it Item) Result {
	return e.judge(e.view(it.Host), it)
}

// EvaluateAll judges drift items and returns their results in the order
// of items. It takes the items host by host, so that the tickets covering
// each host are sorted out once.
func (e *Engine) EvaluateAll(items []Item) []Result {
	out := make([]Result, len(items))
	order := make([]int32, len(items))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return strings.Compare(items[a].Host.Name, items[b].Host.Name) })
	var v *view
	for _, i := range order {
		it := items[i]
		if v == nil || v.host.Name != it.Host.Name || !maps.Equal(v.host.Labels, it.Host.Labels) {
			v = e.view(it.Host)
		}
		out[i] = e.judge(v, it)
	}
	return out
}

// MaxMatches is how many covering tickets a result explains: those that
// decide or come nearest to deciding. Result.Covering lists them all.
const MaxMatches = 5

// hit is one ticket whose scope covers the item being judged.
type hit struct {
	entry, pat, how int32
	verdict         Verdict       // what the ticket alone makes of the item
	dist            time.Duration // how far from its window the change was
}

// judge decides an item's verdict from the tickets of v that cover it.
func (e *Engine) judge(v *view, it Item) Result {
	// The tickets whose patterns match, each once, with its first
	// matching pattern.
	var buf [16]hit
	hits := buf[:0]
	add := func(c cand) {
		for k := range hits {
			if hits[k].entry == c.entry {
				hits[k].pat = min(hits[k].pat, c.pat)
				return
			}
		}
		hits = append(hits, hit{entry: c.entry, pat: c.pat, how: c.how})
	}
	pattern.Buckets(it.Key, func(bucket string) {
		b, ok := e.buckets[bucket]
		if !ok {
			return
		}
		for _, c := range v.buckets[b] {
			if e.entries[c.entry].patterns[c.pat].Match(it.Key) {
				add(c)
			}
		}
	})

	fz := e.freezeAt(it.ObservedAt)
	r := Result{Item: it}
	if fz != nil {
		r.Freeze = fz.Name
	}
	for k := range hits {
		hits[k].verdict, hits[k].dist = e.outcome(e.entries[hits[k].entry], it.ObservedAt, fz)
	}
	// By the precedence of their verdicts, then out-of-window ones by
	// how far from their window the change was, then by reference and ID.
	slices.SortFunc(hits, func(a, b hit) int {
		ta, tb := e.entries[a.entry].t, e.entries[b.entry].t
		return cmp.Or(
			cmp.Compare(a.verdict.rank(), b.verdict.rank()),
			cmp.Compare(a.dist, b.dist),
			cmp.Compare(ta.Reference, tb.Reference),
			cmp.Compare(ta.ID, tb.ID),
		)
	})
	if n := min(len(hits), MaxMatches); n > 0 {
		r.Covering = make([]string, len(hits))
		for k, h := range hits {
			r.Covering[k] = e.entries[h.entry].t.ID
		}
		r.Matches = make([]Match, n)
		for k, h := range hits[:n] {
			en := e.entries[h.entry]
			r.Matches[k] = Match{
				Ticket: en.t.ID, Reference: en.t.Reference, State: en.t.State, Class: en.t.Class,
				Verdict: h.verdict, Host: v.hows[h.how], Pattern: en.patterns[h.pat].String(),
				Reason: e.reason(en, it.ObservedAt, fz, h),
			}
		}
	}
	e.decide(&r, fz)
	if it.Transaction != nil && len(e.std) > 0 {
		e.standard(v, &it, fz, &r)
	}
	e.deployed(&r, fz)
	r.Level, r.Rule = e.rules.Level(&r.Item, r.Verdict, r.Class)
	return r
}

// decide sets the verdict, deciding ticket and reason from the sorted
// matches: an authorizing ticket wins; else a freeze, if one held; else a
// ticket not yet approved whose window the change fell in; else an
// approved ticket outside its window; else the change is unauthorized.
func (e *Engine) decide(r *Result, fz *freeze) {
	var best *Match
	if len(r.Matches) > 0 {
		best = &r.Matches[0]
	}
	switch {
	case best != nil && best.Verdict == Authorized:
		r.Verdict = Authorized
		r.Reason = sentence(best)
	case fz != nil:
		r.Verdict = Frozen
		r.Reason = fmt.Sprintf("made during freeze %q (%s, %s)", fz.Name, fz.Window, fz.Reason)
		if best != nil && best.Verdict == Frozen {
			r.Reason += fmt.Sprintf("; %s would authorize it, but is a %s change, not an emergency", name(best), best.Class)
		} else {
			best = nil
		}
	case best != nil && (best.Verdict == UnapprovedTicket || best.Verdict == OutOfWindow):
		r.Verdict = best.Verdict
		r.Reason = sentence(best)
	default:
		r.Verdict = Unauthorized
		r.Reason = fmt.Sprintf("no change ticket covers %s on %s", r.Item.Key, r.Item.Host.Name)
		if best != nil {
			r.Reason = fmt.Sprintf("no change ticket authorizes %s on %s; %s %s", r.Item.Key, r.Item.Host.Name, name(best), best.Reason)
		}
		best = nil
	}
	if best != nil {
		r.Ticket, r.Class = best.Ticket, best.Class
	}
}

// sentence returns the match's reason with the ticket's name before it,
// and makes the match's reason share the sentence's bytes.
func sentence(m *Match) string {
	s := name(m) + " " + m.Reason
	m.Reason = s[len(s)-len(m.Reason):]
	return s
}

func name(m *Match) string {
	if m.Reference != "" {
		return m.Reference
	}
	return m.Ticket
}

// freezeAt returns the freeze that holds at t, or nil.
func (e *Engine) freezeAt(t time.Time) *freeze {
	for i := range e.freezes {
		f := &e.freezes[i]
		if !t.Before(f.start) && t.Before(f.end) {
			return f
		}
	}
	return nil
}

// outcome is what one ticket that covers an item makes of it when observed
// at t, and how far t is from the ticket's window (0 inside it).
func (e *Engine) outcome(en *entry, t time.Time, fz *freeze) (Verdict, time.Duration) {
	st := en.t.State
	switch {
	case st == ticket.Rejected || st == ticket.Cancelled:
		return Unauthorized, 0
	case !en.window && st.Authorizes():
		return OutOfWindow, 0
	case !en.window:
		return Unauthorized, 0
	}
	var dist time.Duration
	switch {
	case t.Before(en.from):
		dist = en.from.Sub(t)
	case t.After(en.to):
		dist = t.Sub(en.to)
	}
	switch {
	case st.Authorizes() && dist == 0 && fz != nil && en.t.Class != ticket.Emergency:
		return Frozen, 0
	case st.Authorizes() && dist == 0:
		return Authorized, 0
	case st.Authorizes():
		return OutOfWindow, dist
	case dist == 0:
		return UnapprovedTicket, 0
	}
	return Unauthorized, dist
}

// reason explains outcome's verdict h for people, as a phrase with the
// ticket as its subject: "is approved, but the change was observed …".
func (e *Engine) reason(en *entry, t time.Time, fz *freeze, h hit) string {
	tk := en.t
	st := string(tk.State)
	var b strings.Builder
	b.Grow(192)
	b.WriteString("is ")
	b.WriteString(st)
	switch {
	case tk.State == ticket.Rejected || tk.State == ticket.Cancelled:
		return "was " + lastStep(tk)
	case !en.window && tk.State.Authorizes():
		b.WriteString(" but has no planned window")
		return b.String()
	case !en.window:
		b.WriteString(", not approved, and has no planned window")
		return b.String()
	}
	switch h.verdict {
	case Frozen, Authorized:
		if h.verdict == Authorized {
			b.WriteString(" (")
			b.WriteString(en.approved)
			b.WriteString(")")
		}
		b.WriteString(" and")
	case OutOfWindow:
		b.WriteString(", but")
	case UnapprovedTicket:
		b.WriteString(", not approved")
		for i, s := range tk.PendingApproval {
			if i == 0 {
				b.WriteString(" (awaiting the ")
			} else {
				b.WriteString(" and ")
			}
			b.WriteString(string(s))
			if i == len(tk.PendingApproval)-1 {
				b.WriteString(" approval)")
			}
		}
		b.WriteString(", and")
	default:
		b.WriteString(", not approved, and")
	}
	var buf [48]byte
	b.WriteString(" the change was observed ")
	b.Write(t.In(en.loc).AppendFormat(buf[:0], "2006-01-02 15:04 MST"))
	b.WriteString(", ")
	switch {
	case t.Before(en.from):
		b.WriteString(roundDur(h.dist).String())
		b.WriteString(" before")
	case t.After(en.to):
		b.WriteString(roundDur(h.dist).String())
		b.WriteString(" after")
	default:
		b.WriteString("inside")
	}
	b.WriteString(en.windowText)
	if h.verdict == Frozen {
		fmt.Fprintf(&b, ", but freeze %q holds and it is a %s change, not an emergency", fz.Name, tk.Class)
	}
	return b.String()
}

// roundDur rounds a distance from a window for reading.
func roundDur(d time.Duration) policy.Duration {
	if d >= time.Minute {
		d = d.Round(time.Minute)
	}
	return policy.Duration(d)
}

// approvers names who approved a ticket: "approved by a@x, b@y".
func approvers(t *ticket.Ticket) string {
	if len(t.Approvals) == 0 {
		return "no approval recorded"
	}
	names := make([]string, len(t.Approvals))
	for i, a := range t.Approvals {
		names[i] = a.By.Email
	}
	return "approved by " + strings.Join(names, ", ")
}

// lastStep describes the transition that put the ticket in its state:
// "rejected by bob@msp.example at 2025-03-09 10:00 UTC: not tested".
func lastStep(t *ticket.Ticket) string {
	for i := len(t.History) - 1; i >= 0; i-- {
		tr := t.History[i]
		if tr.To != t.State || tr.From == tr.To {
			continue
		}
		s := fmt.Sprintf("%s by %s at %s", t.State, tr.By.Email, tr.At.UTC().Format("2006-01-02 15:04 MST"))
		if tr.Comment != "" {
			s += ": " + tr.Comment
		}
		return s
	}
	return string(t.State)
}
