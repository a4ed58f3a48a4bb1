package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/reporter"
)

// hostRef names a host for the pages.
func hostRef(hs store.Host, t store.Tenant) reporter.HostRef {
	return reporter.HostRef{ID: hs.ID, Name: hs.Name, TenantID: t.ID, TenantName: t.Name}
}

// hostSummary is a host with its open drift counts. It was last seen at
// its newest report or heartbeat (heard, by host ID), whichever is later:
// an agent reports only when the drift changes.
func hostSummary(hs store.Host, t store.Tenant, open reporter.DriftCounts, heard map[string]time.Time) reporter.HostSummary {
	seen := hs.LastSeen
	if hb := heard[hs.ID]; hb.After(seen) {
		seen = hb
	}
	return reporter.HostSummary{Host: hostRef(hs, t), Labels: hs.Labels, AgentVersion: hs.AgentVersion,
		EnrolledAt: hs.EnrolledAt, LastSeen: seen, BaselineVersion: hs.BaselineVersion, Open: open}
}

// driftStatus is a stored drift status as the pages show it: accepted and
// promoted are both accepted (into the baseline, or as they are), and an
// item that returned to its baseline state is resolved.
func driftStatus(s string) reporter.DriftStatus {
	switch s {
	case store.DriftOpen:
		return reporter.DriftOpen
	case store.DriftAccepted, store.DriftPromoted:
		return reporter.DriftAccepted
	case store.DriftRevertRequested:
		return reporter.DriftRevertRequested
	case store.DriftReverted:
		return reporter.DriftResolved
	}
	return reporter.DriftStatus(s)
}

// storeStatuses are the stored statuses an inbox status filter selects;
// nil for every status.
func storeStatuses(status string) []string {
	switch reporter.DriftStatus(status) {
	case "", reporter.DriftOpen:
		return []string{store.DriftOpen}
	case reporter.DriftAccepted:
		return []string{store.DriftAccepted, store.DriftPromoted}
	case reporter.DriftRevertRequested:
		return []string{store.DriftRevertRequested}
	case reporter.DriftResolved:
		return []string{store.DriftReverted}
	}
	return nil
}

// lookup caches, for one request, what several rows of a page share: a
// tenant's hosts and the tickets rows name.
type lookup struct {
	h       *Handler
	ctx     context.Context
	mu      sync.Mutex
	hosts   map[string]map[string]store.Host
	list    map[string][]store.Host
	tickets map[string]*ticket.Ticket
}

func (h *Handler) lookup(ctx context.Context) *lookup {
	return &lookup{h: h, ctx: ctx, hosts: map[string]map[string]store.Host{}, list: map[string][]store.Host{},
		tickets: map[string]*ticket.Ticket{}}
}

// hostsOf returns a tenant's hosts, by name, and by ID.
func (l *lookup) hostsOf(tenantID string) ([]store.Host, map[string]store.Host, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m, ok := l.hosts[tenantID]; ok {
		return l.list[tenantID], m, nil
	}
	hs, err := l.h.st.Hosts(l.ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	m := make(map[string]store.Host, len(hs))
	for _, x := range hs {
		m[x.ID] = x
	}
	l.hosts[tenantID], l.list[tenantID] = m, hs
	return hs, m, nil
}

// ticket returns a tenant's ticket by ID, nil when there is none.
func (l *lookup) ticket(tenantID, id string) (*ticket.Ticket, error) {
	key := tenantID + "\x00" + id
	l.mu.Lock()
	tk, ok := l.tickets[key]
	l.mu.Unlock()
	if ok {
		return tk, nil
	}
	st, err := l.h.st.Ticket(l.ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		st, err = l.h.st.TicketByReference(l.ctx, tenantID, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		tk = nil
	case err != nil:
		return nil, err
	default:
		if tk, err = decodeTicket(st); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	l.tickets[key] = tk
	l.mu.Unlock()
	return tk, nil
}

// decodeTicket reads a stored ticket's document.
func decodeTicket(st store.Ticket) (*ticket.Ticket, error) {
	var tk ticket.Ticket
	if err := json.Unmarshal(st.Doc, &tk); err != nil {
		return nil, fmt.Errorf("ticket %s: stored document: %w", st.ID, err)
	}
	return &tk, nil
}

// ticketRef names a ticket for the pages.
func ticketRef(tk *ticket.Ticket) reporter.TicketRef {
	return reporter.TicketRef{ID: tk.ID, Ref: tk.Reference, Title: tk.Title, State: reporter.TicketState(tk.State)}
}

// itemTicket is the ticket a drift row shows: the one that decided its
// verdict, else the one named when it was accepted.
func (l *lookup) itemTicket(di store.DriftItem) (*reporter.TicketRef, error) {
	id := ""
	if len(di.Tickets) > 0 {
		id = di.Tickets[0]
	} else if di.TicketRef != "" {
		id = di.TicketRef
	}
	if id == "" {
		return nil, nil
	}
	tk, err := l.ticket(di.TenantID, id)
	if err != nil {
		return nil, err
	}
	if tk == nil {
		return &reporter.TicketRef{Ref: id}, nil
	}
	ref := ticketRef(tk)
	return &ref, nil
}

// driftRow is a drift item as the lists show it.
func (l *lookup) driftRow(di store.DriftItem, t store.Tenant) (reporter.DriftRow, error) {
	_, byID, err := l.hostsOf(t.ID)
	if err != nil {
		return reporter.DriftRow{}, err
	}
	hs, ok := byID[di.HostID]
	if !ok {
		hs = store.Host{ID: di.HostID, Name: di.HostID}
	}
	tk, err := l.itemTicket(di)
	if err != nil {
		return reporter.DriftRow{}, err
	}
	first := di.ChangedAt
	if first.IsZero() {
		first = di.FirstSeen
	}
	return reporter.DriftRow{ID: di.ID, Host: hostRef(hs, t), Key: di.Key, Change: di.Change,
		Verdict: reporter.Verdict(di.Verdict), Level: reporter.Level(di.Level), Status: driftStatus(di.Status),
		FirstSeen: first, LastSeen: di.LastSeen, Ticket: tk,
		StandardChange: reconcile.IsStandardChange(di.Verdict, di.VerdictReason)}, nil
}

// driftRows converts a page of drift items of one tenant.
func (l *lookup) driftRows(items []store.DriftItem, t store.Tenant) ([]reporter.DriftRow, error) {
	rows := make([]reporter.DriftRow, 0, len(items))
	for _, di := range items {
		row, err := l.driftRow(di, t)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// change decodes a drift item's change.
func change(di store.DriftItem) (baseline.Change, error) {
	var c baseline.Change
	if err := json.Unmarshal(di.ChangeDoc, &c); err != nil {
		return c, fmt.Errorf("drift item %s: stored change: %w", di.ID, err)
	}
	return c, nil
}

// countsByHost turns the store's outstanding counts into each host's open
// counts (revert requested items are on their way back, not open).
func countsByHost(cs []store.DriftCount) map[string]reporter.DriftCounts {
	out := map[string]reporter.DriftCounts{}
	for _, c := range cs {
		if c.Status != store.DriftOpen {
			continue
		}
		dc := out[c.HostID]
		if dc.ByVerdict == nil {
			dc.ByVerdict = map[reporter.Verdict]int{}
		}
		dc.ByVerdict[reporter.Verdict(c.Verdict)] += c.Count
		lv := c.Level
		if lv <= 0 {
			lv = 3 // not yet reconciled counts as level 3, as in the inbox
		}
		if lv <= 3 {
			dc.ByLevel[lv] += c.Count
		}
		out[c.HostID] = dc
	}
	return out
}

// ticketView is a ticket with every field for its page.
func ticketView(tk *ticket.Ticket, t store.Tenant, hosts []store.Host) reporter.Ticket {
	byName := make(map[string]store.Host, len(hosts))
	for _, x := range hosts {
		byName[x.Name] = x
	}
	v := reporter.Ticket{ID: tk.ID, Ref: tk.Reference, Title: tk.Title, Origin: string(tk.Origin), Class: string(tk.Class),
		State: reporter.TicketState(tk.State), Tenant: reporter.TenantRef{ID: t.ID, Name: t.Name},
		Description: tk.Description, Impact: tk.Impact, RollbackPlan: tk.RollbackPlan, Requester: tk.Requester.Email,
		NeedsToKnow: tk.Notify, CreatedAt: tk.CreatedAt, UpdatedAt: tk.UpdatedAt}
	if tk.Review != nil {
		v.Review = &reporter.Signoff{By: tk.Review.By.Email, At: tk.Review.At, Comment: tk.Review.Comment}
	}
	for _, a := range tk.Approvals {
		v.Approvals = append(v.Approvals, reporter.Approval{Side: string(a.Side),
			Signoff: reporter.Signoff{By: a.By.Email, At: a.At, Comment: a.Comment}})
	}
	for _, s := range tk.PendingApproval {
		v.PendingApproval = append(v.PendingApproval, string(s))
	}
	for _, n := range tk.Scope.Hosts {
		if x, ok := byName[n]; ok {
			v.Scope.Hosts = append(v.Scope.Hosts, hostRef(x, t))
		} else {
			v.Scope.Hosts = append(v.Scope.Hosts, reporter.HostRef{Name: n})
		}
	}
	v.Scope.Labels, v.Scope.ItemPatterns = tk.Scope.Labels, tk.Scope.Items
	if tk.Window != nil {
		if start, end, err := tk.Window.Bounds(); err == nil {
			v.Window = reporter.TimeWindow{Start: start, End: end, TimeZone: tk.Window.TimeZone}
		}
	}
	v.Answers = answers(tk.Questions)
	return v
}

// answers lists a ticket's answered questions in the order the form asks
// them.
func answers(q ticket.Questions) []reporter.Answer {
	text := map[string]string{}
	for _, dq := range reporter.DefaultQuestions {
		text[dq.ID] = dq.Text
	}
	var out []reporter.Answer
	add := func(id, a string) {
		if a != "" {
			out = append(out, reporter.Answer{Question: text[id], Answer: a})
		}
	}
	add(reporter.QuestionProblem, q.Problem)
	add(reporter.QuestionTouches, q.Touches)
	if q.TestedInStaging != nil {
		add(reporter.QuestionTestedInStaging, map[bool]string{true: "yes", false: "no"}[*q.TestedInStaging])
	}
	add(reporter.QuestionStagingNotes, q.StagingNotes)
	add(reporter.QuestionRollbackPath, q.RollbackPath)
	add(reporter.QuestionEscalationOwner, q.EscalationOwner)
	add(reporter.QuestionDocsToUpdate, strings.Join(q.DocsToUpdate, "\n"))
	return out
}

// transitions is a ticket's history for its page.
func transitions(tk *ticket.Ticket) []reporter.Transition {
	out := make([]reporter.Transition, 0, len(tk.History))
	for _, tr := range tk.History {
		role := string(tr.By.Role)
		if tr.By.Customer() {
			role = "customer " + role
		}
		out = append(out, reporter.Transition{At: tr.At, By: tr.By.Email, Role: role, Action: string(tr.Action),
			From: reporter.TicketState(tr.From), To: reporter.TicketState(tr.To), Comment: tr.Comment, Changed: tr.Changed})
	}
	return out
}

// actionLabels are the ticket page's buttons.
var actionLabels = map[ticket.Action]struct {
	label string
	to    ticket.State
}{
	ticket.ActionSubmit:   {"Submit for review", ticket.Submitted},
	ticket.ActionReview:   {"Mark reviewed", ticket.Reviewed},
	ticket.ActionApprove:  {"Approve", ticket.Approved},
	ticket.ActionReject:   {"Reject", ticket.Rejected},
	ticket.ActionStart:    {"Start implementation", ticket.Implementing},
	ticket.ActionComplete: {"Mark implemented", ticket.Implemented},
	ticket.ActionDocument: {"Mark documented", ticket.Documented},
	ticket.ActionCancel:   {"Cancel the change", ticket.Cancelled},
}

// ticketActions are the buttons of the actions the workflow allows the
// user now. Amending is done through the API, with the whole spec.
func ticketActions(allowed []ticket.Action) []reporter.TicketAction {
	var out []reporter.TicketAction
	for _, a := range allowed {
		l, ok := actionLabels[a]
		if !ok {
			continue
		}
		danger := a == ticket.ActionReject || a == ticket.ActionCancel
		out = append(out, reporter.TicketAction{Name: string(a), Label: l.label, To: reporter.TicketState(l.to),
			Danger: danger, CommentRequired: danger})
	}
	return out
}

// sortTenantsByName orders tenants for the pages.
func sortTenantsByName(ts []store.Tenant) {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
}

// dayStart is the start of t's day in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}
