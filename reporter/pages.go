package reporter

import (
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// Defaults for when a host or connector counts as not seen recently.
const (
	DefaultHostStaleAfter      = 2 * time.Hour
	DefaultConnectorStaleAfter = time.Hour
)

// DriftCounts counts open drift items by verdict and by level.
type DriftCounts struct {
	ByVerdict map[Verdict]int
	// ByLevel is indexed by level: ByLevel[3] is the level 3 count.
	ByLevel [4]int
}

// Add counts one item.
func (c *DriftCounts) Add(v Verdict, l Level) {
	if c.ByVerdict == nil {
		c.ByVerdict = map[Verdict]int{}
	}
	c.ByVerdict[v]++
	if l.Valid() {
		c.ByLevel[l]++
	}
}

// Merge adds o's counts to c.
func (c *DriftCounts) Merge(o DriftCounts) {
	for v, n := range o.ByVerdict {
		if c.ByVerdict == nil {
			c.ByVerdict = map[Verdict]int{}
		}
		c.ByVerdict[v] += n
	}
	for i := range c.ByLevel {
		c.ByLevel[i] += o.ByLevel[i]
	}
}

// Verdict returns the count of one verdict.
func (c DriftCounts) Verdict(v Verdict) int { return c.ByVerdict[v] }

// Level returns the count of one level.
func (c DriftCounts) Level(l Level) int {
	if !l.Valid() {
		return 0
	}
	return c.ByLevel[l]
}

// Total returns the number of items counted.
func (c DriftCounts) Total() int {
	n := 0
	for _, v := range c.ByVerdict {
		n += v
	}
	return n
}

// Highest returns the highest level with an item, 0 when there is none.
func (c DriftCounts) Highest() Level {
	for _, l := range Levels {
		if c.ByLevel[l] > 0 {
			return l
		}
	}
	return 0
}

// HostSummary is one host in the overview and the host list.
type HostSummary struct {
	Host            HostRef
	Labels          map[string]string
	AgentVersion    string
	EnrolledAt      time.Time
	LastSeen        time.Time
	BaselineVersion int
	// Open counts the host's open drift items.
	Open DriftCounts
}

// Connector is a ticket integration (Jira, ServiceNow, CI notes) or the
// mail relay, as the overview shows its health.
type Connector struct {
	Name string
	// Kind is "jira", "servicenow", "ci", "smtp" …
	Kind string
	// LastSuccess is when it last synchronised or delivered.
	LastSuccess time.Time
	// LastError is its last failure, "" when the last attempt worked.
	LastError string
}

// TenantOverview is one tenant in the overview.
type TenantOverview struct {
	Tenant     TenantRef
	Hosts      []HostSummary
	Connectors []Connector
}

// OverviewPage is the start page: each tenant's hosts with their open
// drift by verdict and level, the hosts not seen recently and the stale
// connectors.
type OverviewPage struct {
	Page
	Tenants []TenantOverview
	// HostStaleAfter is how long a host may stay silent before it is
	// listed as not seen recently; 0 means DefaultHostStaleAfter.
	HostStaleAfter time.Duration
	// ConnectorStaleAfter is the same for connectors; 0 means
	// DefaultConnectorStaleAfter.
	ConnectorStaleAfter time.Duration
}

// TenantSection is a tenant as the overview template shows it.
type TenantSection struct {
	Tenant TenantRef
	Open   DriftCounts
	// Drifting are the hosts with open drift, the most urgent first.
	Drifting []*HostSummary
	// Quiet are the other hosts, by name.
	Quiet []*HostSummary
	// Stale are the hosts not seen recently, the longest silent first.
	Stale []*HostSummary
	// StaleConnectors are the connectors that failed or went quiet.
	StaleConnectors []Connector
	Hosts           int
}

// OverviewTotals sums the overview for its summary cards.
type OverviewTotals struct {
	Open            DriftCounts
	Hosts           int
	StaleHosts      int
	StaleConnectors int
}

func (p *OverviewPage) hostStale(h *HostSummary) bool {
	after := p.HostStaleAfter
	if after <= 0 {
		after = DefaultHostStaleAfter
	}
	return h.LastSeen.IsZero() || p.Now.Sub(h.LastSeen) > after
}

// ConnectorStale reports whether a connector failed last or has not
// succeeded for longer than ConnectorStaleAfter.
func (p *OverviewPage) ConnectorStale(c Connector) bool {
	after := p.ConnectorStaleAfter
	if after <= 0 {
		after = DefaultConnectorStaleAfter
	}
	return c.LastError != "" || c.LastSuccess.IsZero() || p.Now.Sub(c.LastSuccess) > after
}

// View returns the tenants as the page shows them.
func (p *OverviewPage) View() []TenantSection {
	out := make([]TenantSection, len(p.Tenants))
	for i := range p.Tenants {
		t := &p.Tenants[i]
		v := TenantSection{Tenant: t.Tenant, Hosts: len(t.Hosts)}
		for j := range t.Hosts {
			h := &t.Hosts[j]
			v.Open.Merge(h.Open)
			if h.Open.Total() > 0 {
				v.Drifting = append(v.Drifting, h)
			} else {
				v.Quiet = append(v.Quiet, h)
			}
			if p.hostStale(h) {
				v.Stale = append(v.Stale, h)
			}
		}
		sort.SliceStable(v.Drifting, func(a, b int) bool { return urgent(v.Drifting[a], v.Drifting[b]) })
		sort.SliceStable(v.Quiet, func(a, b int) bool { return v.Quiet[a].Host.Name < v.Quiet[b].Host.Name })
		sort.SliceStable(v.Stale, func(a, b int) bool { return v.Stale[a].LastSeen.Before(v.Stale[b].LastSeen) })
		for _, c := range t.Connectors {
			if p.ConnectorStale(c) {
				v.StaleConnectors = append(v.StaleConnectors, c)
			}
		}
		out[i] = v
	}
	return out
}

// urgent orders hosts by their highest level, then by level 3, 2, 1
// counts, then unauthorized count, then name.
func urgent(a, b *HostSummary) bool {
	if ha, hb := a.Open.Highest(), b.Open.Highest(); ha != hb {
		return ha > hb
	}
	for _, l := range Levels {
		if x, y := a.Open.Level(l), b.Open.Level(l); x != y {
			return x > y
		}
	}
	if x, y := a.Open.Verdict(VerdictUnauthorized), b.Open.Verdict(VerdictUnauthorized); x != y {
		return x > y
	}
	return a.Host.Name < b.Host.Name
}

// Totals sums every tenant.
func (p *OverviewPage) Totals() OverviewTotals {
	var t OverviewTotals
	for i := range p.Tenants {
		for j := range p.Tenants[i].Hosts {
			h := &p.Tenants[i].Hosts[j]
			t.Hosts++
			t.Open.Merge(h.Open)
			if p.hostStale(h) {
				t.StaleHosts++
			}
		}
		for _, c := range p.Tenants[i].Connectors {
			if p.ConnectorStale(c) {
				t.StaleConnectors++
			}
		}
	}
	return t
}

// InboxFor returns the inbox link of a tenant and host narrowed to a
// verdict or a level (either may be zero).
func (p *Page) InboxFor(tenant, host string, v Verdict, l Level) string {
	f := InboxFilter{TenantID: tenant, Host: host}
	if v != "" {
		f.Verdicts = []Verdict{v}
	}
	if l.Valid() {
		f.Levels = []Level{l}
	}
	return p.links.Inbox(f, "")
}

// Overview renders the overview page.
func (r *Renderer) Overview(w io.Writer, p *OverviewPage) error {
	return r.render(w, "overview", p, "overview", "Overview")
}

// HostsPage lists hosts.
type HostsPage struct {
	Page
	Hosts []HostSummary
	// Query is the name filter the list was made with.
	Query                  string
	NextCursor, PrevCursor string
}

// Hosts renders the host list.
func (r *Renderer) Hosts(w io.Writer, p *HostsPage) error {
	return r.render(w, "hosts", p, "hosts", "Hosts")
}

// TimelineEvent is one event in a host's history.
type TimelineEvent struct {
	At time.Time
	// Kind is "report", "drift", "baseline", "ticket", "action", "enroll"
	// or "alert".
	Kind   string
	Title  string
	Detail string
	Actor  string
	// DriftID, TicketID or BaselineVersion link the event to its page.
	DriftID         string
	TicketID        string
	BaselineVersion int
}

// HostPage is one host: inventory, open drift, baseline versions and
// history.
type HostPage struct {
	Page
	Host      HostSummary
	Inventory Inventory
	// Sources are the source runs of the host's last snapshot.
	Sources []baseline.SourceStatus
	// Drift are the host's open drift items.
	Drift []DriftRow
	// Baselines are the host's baseline versions, newest first.
	Baselines []baseline.Meta
	// DiffFrom and DiffTo are the baseline versions being compared, and
	// BaselineDiff their difference (nil when none is asked for).
	DiffFrom, DiffTo int
	BaselineDiff     *baseline.Drift
	// Timeline is the host's history, newest first.
	Timeline []TimelineEvent
	// Actions the viewer may take: approve the current state as the next
	// baseline is on the drift pages; this links the documentation.
	CanCreateTicket bool
}

// Host renders a host's page.
func (r *Renderer) Host(w io.Writer, p *HostPage) error {
	return r.render(w, "host", p, "hosts", p.Host.Host.Name)
}

// InboxPage is the drift inbox: drift items, the most urgent first, with
// its filter form and cursor pagination.
type InboxPage struct {
	Page
	Filter InboxFilter
	// FilterError is why the submitted filter was refused.
	FilterError string
	Rows        []DriftRow
	// Total is the number of items matching the filter; negative when
	// not counted.
	Total                  int
	NextCursor, PrevCursor string
}

// QuickRange returns the inbox filter over the last n days.
func (p *InboxPage) QuickRange(days int) string {
	f := p.Filter
	f.From = p.Now.In(p.loc()).AddDate(0, 0, -days).Format(dateLayout)
	f.To = ""
	return p.links.Inbox(f, "")
}

// Inbox renders the drift inbox.
func (r *Renderer) Inbox(w io.Writer, p *InboxPage) error {
	return r.render(w, "inbox", p, "inbox", "Drift inbox")
}

// TicketMatch is one ticket reconciliation considered for a drift item,
// and why it did or did not authorize it.
type TicketMatch struct {
	Ticket TicketRef
	// Verdict is what this ticket would make of the item.
	Verdict Verdict
	// Chosen marks the ticket that decided the item's verdict.
	Chosen bool
	// Reasons say what matched and what did not: "host web-01 is in
	// scope", "window closed 2 h before the change".
	Reasons []string
}

// DriftActions are the actions the viewer may take on a drift item.
type DriftActions struct {
	// Accept: accept the change into the baseline (with an optional
	// ticket reference).
	Accept bool
	// Link: link the item to a ticket.
	Link bool
	// Revert: mark the change to be rolled back.
	Revert bool
}

// Any reports whether any action is allowed.
func (a DriftActions) Any() bool { return a.Accept || a.Link || a.Revert }

// DriftEvent is one thing done about a drift item.
type DriftEvent struct {
	At     time.Time
	Actor  string
	Action string
	Reason string
	Ticket *TicketRef
}

// DriftPage is one drift item: what changed, the diff, the tickets
// considered, the actions and how to roll it back.
type DriftPage struct {
	Page
	Item DriftRow
	// Change is the item's change as the host reported it.
	Change baseline.Change
	// BaselineVersion is the baseline the change is measured against and
	// TakenAt when the host observed it.
	BaselineVersion int
	TakenAt         time.Time
	// View is ViewUnified or ViewSplit.
	View    string
	Matches []TicketMatch
	Actions DriftActions
	// Tickets are the tenant's open tickets, offered by the link form.
	Tickets []TicketRef
	// Form holds the values and errors of a refused action.
	Form FormState
	// RollbackContent is the baseline's (redacted) content of the item,
	// when it had text content; HasRollbackContent says it is set.
	RollbackContent    string
	HasRollbackContent bool
	History            []DriftEvent
}

// Split reports whether the diff is shown side by side.
func (p *DriftPage) Split() bool { return p.View == ViewSplit }

// Drift renders a drift item's page.
func (r *Renderer) Drift(w io.Writer, p *DriftPage) error {
	return r.render(w, "drift", p, "inbox", p.Item.Host.Name+": "+p.Item.Key)
}

// TimeWindow is when a change may be implemented.
type TimeWindow struct {
	Start, End time.Time
	// TimeZone is the zone the window was given in, e.g. "Europe/Berlin";
	// the window is shown in it.
	TimeZone string
}

// IsZero reports whether no window is set.
func (w TimeWindow) IsZero() bool { return w.Start.IsZero() && w.End.IsZero() }

// String shows the window in its own zone: "2024-11-20 22:00 – 23:30
// Europe/Berlin".
func (w TimeWindow) String() string {
	if w.IsZero() {
		return "no window"
	}
	loc, zone := time.UTC, "UTC"
	if w.TimeZone != "" {
		if l, err := time.LoadLocation(w.TimeZone); err == nil {
			loc, zone = l, l.String()
		} else {
			zone = "UTC (time zone " + oneLine(w.TimeZone, 40) + " is unknown)"
		}
	}
	s, e := w.Start.In(loc), w.End.In(loc)
	end := e.Format("2006-01-02 15:04")
	if s.Format("2006-01-02") == e.Format("2006-01-02") {
		end = e.Format("15:04")
	}
	return s.Format("2006-01-02 15:04") + " – " + end + " " + zone
}

// TicketScope is what a ticket allows to change.
type TicketScope struct {
	// Hosts are the hosts by name or glob ("web-*"); a host with an ID is
	// linked, a glob is shown as written.
	Hosts []HostRef
	// Labels are key=value requirements a host must all carry.
	Labels []string
	// ItemPatterns are item key patterns such as "file:/etc/nginx/**".
	ItemPatterns []string
}

// Answer is a ticket's answer to one pre-deployment question.
type Answer struct {
	Question string
	Answer   string
}

// Signoff is who did a step, when, and what they said.
type Signoff struct {
	By      string
	At      time.Time
	Comment string
}

// Approval is one side's approval of a ticket.
type Approval struct {
	// Side is SideMSP or SideCustomer.
	Side string
	Signoff
}

// Approval sides.
const (
	// SideMSP is the approval of the MSP's staff.
	SideMSP = "msp"
	// SideCustomer is the customer's approval, for customer changes.
	SideCustomer = "customer"
)

// SideLabel names an approval side for people.
func SideLabel(side string) string {
	switch side {
	case SideMSP:
		return "MSP"
	case SideCustomer:
		return "Customer"
	}
	return oneLine(side, 40)
}

// Ticket is a change ticket with every field.
type Ticket struct {
	ID string
	// Ref is the ticket's reference, in an external system when it comes
	// from one ("CHG0030001", "OPS-42").
	Ref   string
	Title string
	// Origin is OriginInternal or OriginCustomer; Class is ClassStandard,
	// ClassNormal or ClassEmergency.
	Origin string
	Class  string
	State  TicketState
	Tenant TenantRef
	// Description says what changes and why; Impact what it affects while
	// and after it is made; RollbackPlan how to undo it.
	Description  string
	Impact       string
	RollbackPlan string
	Requester    string
	// Review is the technical review; nil until reviewed.
	Review *Signoff
	// Approvals are the approvals given, PendingApproval the sides whose
	// approval is still needed.
	Approvals       []Approval
	PendingApproval []string
	Scope           TicketScope
	Window          TimeWindow
	// Answers are the answers to the pre-deployment questions, in the
	// order asked.
	Answers []Answer
	// NeedsToKnow are the people to tell about the change.
	NeedsToKnow []string
	// ExternalURL links the ticket in Jira or ServiceNow.
	ExternalURL          string
	CreatedAt, UpdatedAt time.Time
}

// Transition is one step of a ticket's workflow.
type Transition struct {
	At time.Time
	By string
	// Role is the role the person acted in: requester, reviewer,
	// approver, customer approver …
	Role string
	// Action is the step: submit, review, approve, amend …
	Action   string
	From, To TicketState
	Comment  string
	// Changed lists the fields an amendment changed.
	Changed []string
}

// TicketAction is an action the viewer may take on a ticket: a button
// that posts FieldAction=Name with a comment.
type TicketAction struct {
	// Name is what the form sends, e.g. "approve".
	Name  string
	Label string
	// To is the state the action leads to.
	To TicketState
	// Danger marks actions that end the ticket (reject, cancel).
	Danger bool
	// CommentRequired says the action needs a comment.
	CommentRequired bool
}

// TicketPage is one ticket: its fields, history, matched drift and the
// actions the viewer may take.
type TicketPage struct {
	Page
	Ticket      Ticket
	Transitions []Transition
	Actions     []TicketAction
	// Drift are the drift items matched to the ticket.
	Drift []DriftRow
	Form  FormState
}

// Ticket renders a ticket's page.
func (r *Renderer) Ticket(w io.Writer, p *TicketPage) error {
	title := p.Ticket.Ref
	if p.Ticket.Title != "" {
		title += " " + p.Ticket.Title
	}
	return r.render(w, "ticket", p, "tickets", title)
}

// TicketRow is one ticket in the list.
type TicketRow struct {
	Ticket    TicketRef
	Origin    string
	Class     string
	Tenant    TenantRef
	Requester string
	Window    TimeWindow
	UpdatedAt time.Time
	// Drift is the number of drift items matched to the ticket.
	Drift int
}

// TicketsPage lists tickets.
type TicketsPage struct {
	Page
	Filter                 TicketFilter
	Rows                   []TicketRow
	NextCursor, PrevCursor string
	// CanCreate shows the "New ticket" link.
	CanCreate bool
}

// Tickets renders the ticket list.
func (r *Renderer) Tickets(w io.Writer, p *TicketsPage) error {
	return r.render(w, "tickets", p, "tickets", "Tickets")
}

// TicketFormPage is the form that creates a ticket.
type TicketFormPage struct {
	Page
	Draft TicketDraft
	// Errors are the draft's problems by field name.
	Errors FieldErrors
	// Questions are the pre-deployment questions to answer.
	Questions []Question
	// Hosts are the tenant's hosts offered for the scope, by name.
	Hosts []HostRef
	// TimeZones are offered for the window; the page's zone is the
	// default.
	TimeZones []string
	// FromDrift is the drift item the form was opened from, if any.
	FromDrift *DriftRow
}

// NewTicket renders the ticket form.
func (r *Renderer) NewTicket(w io.Writer, p *TicketFormPage) error {
	if p.Draft.TimeZone == "" {
		p.Draft.TimeZone = p.ZoneName()
	}
	if len(p.Questions) == 0 {
		p.Questions = DefaultQuestions
	}
	return r.render(w, "ticket-new", p, "tickets", "New change ticket")
}

// ChangeLogEntry is one change in the change log.
type ChangeLogEntry struct {
	At      time.Time
	Host    HostRef
	Key     string
	Change  baseline.ChangeKind
	Verdict Verdict
	// Summary says what changed for people: "PermitRootLogin no → yes".
	Summary string
	Ticket  *TicketRef
	// Owner is who is responsible for the change.
	Owner string
	// NeedsToKnow are the people or teams to tell.
	NeedsToKnow []string
	Notes       string
	// DriftID links the entry to its drift item.
	DriftID string
}

// What returns the change for one cell: "file:/etc/x modified: summary".
func (e *ChangeLogEntry) What() string {
	s := e.Key
	if e.Change != "" {
		s += " " + string(e.Change)
	}
	if e.Summary != "" {
		s += ": " + e.Summary
	}
	return s
}

// ChangeLogPage is the change log of a period.
type ChangeLogPage struct {
	Page
	// From and To are the period's first and last day as "2006-01-02".
	From, To   string
	Entries    []ChangeLogEntry
	NextCursor string
}

// ChangeLog renders the change log.
func (r *Renderer) ChangeLog(w io.Writer, p *ChangeLogPage) error {
	return r.render(w, "changelog", p, "changelog", "Change log")
}

// ItemHit is an item found by search in a host's current state.
type ItemHit struct {
	Host HostRef
	Key  string
	// Snippet is the matching attribute or content line.
	Snippet string
}

// SearchPage is the search results.
type SearchPage struct {
	Page
	Query   string
	Hosts   []HostSummary
	Drift   []DriftRow
	Tickets []TicketRow
	Items   []ItemHit
	// Truncated says there were more results than shown.
	Truncated bool
}

// Empty reports whether nothing was found.
func (p *SearchPage) Empty() bool {
	return len(p.Hosts)+len(p.Drift)+len(p.Tickets)+len(p.Items) == 0
}

// Search renders the search results.
func (r *Renderer) Search(w io.Writer, p *SearchPage) error {
	return r.render(w, "search", p, "search", "Search")
}

// DayCounts is one day's drift items by verdict.
type DayCounts struct {
	Day       time.Time
	ByVerdict map[Verdict]int
}

// MetricsSummary is a period's key figures.
type MetricsSummary struct {
	Changes      int
	Authorized   int
	Unauthorized int
	// SuccessRate is the percentage of implemented changes that needed no
	// rollback; negative when nothing was implemented.
	SuccessRate float64
	// MTTR is the mean time from first seen to resolved of the drift
	// items resolved in the period.
	MTTR time.Duration
	// OpenL3 is the number of level 3 items still open.
	OpenL3 int
}

// MetricsPage shows drift and change figures over a period.
type MetricsPage struct {
	Page
	From, To    time.Time
	DriftPerDay []DayCounts
	// SuccessRate is the change success rate in percent per period
	// (week), MTTR the mean time to resolve in hours.
	SuccessRate []LinePoint
	MTTR        []LinePoint
	Summary     MetricsSummary
}

// verdictColors are the fallback colours of the verdicts in charts.
var verdictColors = map[Verdict]string{
	VerdictUnauthorized:     "#c62828",
	VerdictFrozen:           "#6a1b9a",
	VerdictOutOfWindow:      "#ef6c00",
	VerdictUnapprovedTicket: "#f9a825",
	VerdictAuthorized:       "#2e7d32",
}

// DriftChart returns the drift-per-day chart.
func (p *MetricsPage) DriftChart() *StackedBarChart {
	return DriftPerDayChart(p.DriftPerDay, p.loc())
}

// DriftPerDayChart builds the stacked bar chart of drift items per day by
// verdict, the most serious verdict at the bottom.
func DriftPerDayChart(days []DayCounts, loc *time.Location) *StackedBarChart {
	if loc == nil {
		loc = time.UTC
	}
	c := &StackedBarChart{ID: "drift-per-day", Title: "Drift per day by verdict", YLabel: "changes",
		Desc: "Stacked bars: for each day, the number of drift items first seen that day, by verdict."}
	for _, d := range days {
		c.Categories = append(c.Categories, d.Day.In(loc).Format("Jan 2"))
	}
	for _, v := range Verdicts {
		s := BarSeries{Name: v.Label(), Class: v.Class(), Color: verdictColors[v], Values: make([]float64, len(days))}
		for i, d := range days {
			s.Values[i] = float64(d.ByVerdict[v])
		}
		c.Series = append(c.Series, s)
	}
	return c
}

// SuccessChart returns the change success rate chart.
func (p *MetricsPage) SuccessChart() *LineChart {
	return &LineChart{ID: "success-rate", Title: "Change success rate", YLabel: "success", Unit: "%", YMin: 0, YMax: 100,
		Location: p.loc(), Desc: "Percentage of implemented changes that needed no rollback, per week.",
		Series: []LineSeries{{Name: "Success rate", Class: "line-success", Color: "#2e7d32", Points: p.SuccessRate}}}
}

// MTTRChart returns the mean-time-to-resolve chart.
func (p *MetricsPage) MTTRChart() *LineChart {
	return &LineChart{ID: "mttr", Title: "Mean time to resolve drift", YLabel: "hours", Unit: " h",
		Location: p.loc(), Desc: "Mean hours from a drift item's first sighting to its resolution, per week.",
		Series: []LineSeries{{Name: "MTTR", Class: "line-mttr", Color: "#1565c0", Points: p.MTTR}}}
}

// Metrics renders the metrics page.
func (r *Renderer) Metrics(w io.Writer, p *MetricsPage) error {
	return r.render(w, "metrics", p, "metrics", "Metrics")
}

// AuditEntry is one entry of the hash-chained audit log.
type AuditEntry struct {
	Seq    int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail string
	// Hash is the entry's chain hash, hex.
	Hash string
}

// ChainStatus is the result of verifying the audit log's hash chain.
type ChainStatus struct {
	// Checked says the chain was verified; the other fields mean nothing
	// otherwise.
	Checked bool
	Intact  bool
	// BrokenAt is the sequence number of the first entry that does not
	// match its predecessor.
	BrokenAt int64
	// Entries is how many entries were verified.
	Entries   int64
	Reason    string
	CheckedAt time.Time
}

// AuditPage is the audit log with its chain status.
type AuditPage struct {
	Page
	Entries    []AuditEntry
	Chain      ChainStatus
	NextCursor string
}

// Audit renders the audit log.
func (r *Renderer) Audit(w io.Writer, p *AuditPage) error {
	return r.render(w, "audit", p, "audit", "Audit log")
}

// Outbox message states.
const (
	MailQueued  = "queued"
	MailSending = "sending"
	MailSent    = "sent"
	MailFailed  = "failed"
)

// OutboxMessage is one email in the outbox.
type OutboxMessage struct {
	ID string
	// Kind is "digest", "alert" or "summary".
	Kind    string
	To      []string
	Subject string
	// State is MailQueued, MailSending, MailSent or MailFailed.
	State       string
	Attempts    int
	QueuedAt    time.Time
	SentAt      time.Time
	NextAttempt time.Time
	// Answer is the mail server's last answer, e.g. "550 5.1.1 user
	// unknown".
	Answer string
}

// OutboxPage lists queued, sent and failed email.
type OutboxPage struct {
	Page
	Messages   []OutboxMessage
	NextCursor string
}

// Counts returns the number of messages in each state.
func (p *OutboxPage) Counts() map[string]int {
	m := map[string]int{}
	for _, msg := range p.Messages {
		m[msg.State]++
	}
	return m
}

// Outbox renders the outbox.
func (r *Renderer) Outbox(w io.Writer, p *OutboxPage) error {
	return r.render(w, "outbox", p, "outbox", "Outbox")
}

// ErrorPage is shown for 403, 404 and 500 and other errors.
type ErrorPage struct {
	Page
	Status int
	// Message adds to the status's own explanation; it must not carry
	// internal details.
	Message string
}

// Explanation returns what the status means for the user.
func (p *ErrorPage) Explanation() string {
	switch p.Status {
	case http.StatusNotFound:
		return "There is nothing here. It may have been removed, or it belongs to a tenant you cannot see."
	case http.StatusForbidden:
		return "You may not see or do this. Ask an administrator if your role should allow it."
	case http.StatusUnauthorized:
		return "Sign in to continue."
	case http.StatusTooManyRequests:
		return "Too many requests. Wait a moment and try again."
	}
	if p.Status >= 500 {
		return "Something went wrong on the collector. The error has been logged; retry in a moment."
	}
	return "The request could not be completed."
}

// StatusText returns the status line's text.
func (p *ErrorPage) StatusText() string {
	if t := http.StatusText(p.Status); t != "" {
		return strconv.Itoa(p.Status) + " " + t
	}
	return strconv.Itoa(p.Status)
}

// Error renders an error page; the handler sets the status code.
func (r *Renderer) Error(w io.Writer, p *ErrorPage) error {
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	return r.render(w, "error", p, "", p.StatusText())
}

// SignInPage is the sign-in form.
type SignInPage struct {
	Page
	// Email pre-fills the form after a failed attempt.
	Email string
	// Next is where to go after signing in; only a path on this site is
	// kept (see SafeNext).
	Next string
	// Error is why the last attempt failed.
	Error string
	// RateLimited says sign-in is refused for now; RetryAfter how long.
	RateLimited bool
	RetryAfter  time.Duration
}

// SignIn renders the sign-in page.
func (r *Renderer) SignIn(w io.Writer, p *SignInPage) error {
	p.Next = SafeNext(p.Next, "")
	p.User = nil
	return r.render(w, "signin", p, "signin", "Sign in")
}

// NavItem is one link of the main navigation.
type NavItem struct {
	ID, Label, URL string
	Current        bool
}

// NavItems returns the main navigation, for the page's tenant.
func (p *Page) NavItems() []NavItem {
	l, t := p.links, p.TenantID
	items := []NavItem{
		{ID: "overview", Label: "Overview", URL: l.Overview(t)},
		{ID: "inbox", Label: "Inbox", URL: l.Inbox(InboxFilter{TenantID: t}, "")},
		{ID: "hosts", Label: "Hosts", URL: l.Hosts(t)},
		{ID: "tickets", Label: "Tickets", URL: l.Tickets(t, "")},
		{ID: "changelog", Label: "Change log", URL: l.ChangeLog(t, "", "")},
		{ID: "search", Label: "Search", URL: l.Search("")},
		{ID: "metrics", Label: "Metrics", URL: l.Metrics(t)},
		{ID: "audit", Label: "Audit", URL: l.Audit(t, "")},
	}
	if p.User != nil && p.User.Role == "admin" {
		items = append(items, NavItem{ID: "outbox", Label: "Outbox", URL: l.Outbox(t)})
	}
	for i := range items {
		items[i].Current = items[i].ID == p.nav
	}
	return items
}

// SwitchAction is where the tenant switcher goes: the list page of the
// current section, which takes the tenant from the form.
func (p *Page) SwitchAction() string {
	l := p.links
	switch p.nav {
	case "inbox":
		return l.Inbox(InboxFilter{}, "")
	case "hosts":
		return l.Hosts("")
	case "tickets":
		return l.Tickets("", "")
	case "changelog":
		return l.ChangeLog("", "", "")
	case "metrics":
		return l.Metrics("")
	case "audit":
		return l.Audit("", "")
	case "outbox":
		return l.Outbox("")
	}
	return l.Overview("")
}

// withCursor adds a page cursor to a URL; "" when there is no cursor.
func withCursor(u, cursor string) string {
	if cursor == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + FieldCursor + "=" + url.QueryEscape(cursor)
}

// EmptyFilter is the inbox filter that shows everything open.
func (p *InboxPage) EmptyFilter() InboxFilter { return InboxFilter{} }

// PageURL is the inbox with the same filter at another page.
func (p *InboxPage) PageURL(cursor string) string {
	if cursor == "" {
		return ""
	}
	return p.links.Inbox(p.Filter, cursor)
}

// PageURL is the host list at another page.
func (p *HostsPage) PageURL(cursor string) string {
	u := p.links.Hosts(p.TenantID)
	if p.Query != "" {
		u = withQuery(p.links.path("hosts"), url.Values{FieldTenant: nonEmpty(p.TenantID), FieldQuery: {p.Query}})
	}
	return withCursor(u, cursor)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// PageURL is the ticket list with the same filter at another page.
func (p *TicketsPage) PageURL(cursor string) string {
	if cursor == "" {
		return ""
	}
	return p.links.TicketsPage(p.Filter, cursor)
}

// PageURL is the change log of the same period at another page.
func (p *ChangeLogPage) PageURL(cursor string) string {
	return withCursor(p.links.ChangeLog(p.TenantID, p.From, p.To), cursor)
}

// PageURL is the audit log at another page.
func (p *AuditPage) PageURL(cursor string) string {
	if cursor == "" {
		return ""
	}
	return p.links.Audit(p.TenantID, cursor)
}

// BrokenHere reports whether the chain breaks at the entry seq.
func (p *AuditPage) BrokenHere(seq int64) bool {
	return p.Chain.Checked && !p.Chain.Intact && p.Chain.BrokenAt == seq
}

// ShortHash returns the first 12 characters of the entry's hash.
func (e AuditEntry) ShortHash() string {
	if len(e.Hash) > 12 {
		return e.Hash[:12]
	}
	return e.Hash
}

// PageURL is the outbox at another page.
func (p *OutboxPage) PageURL(cursor string) string {
	return withCursor(p.links.Outbox(p.TenantID), cursor)
}

// FormFor returns the form state of the named action form; empty when the
// state belongs to another form.
func (p *DriftPage) FormFor(action string) FormState {
	if p.Form.Action == action {
		return p.Form
	}
	return FormState{}
}

// WorkflowStep is one state of the ticket workflow as the page shows it.
type WorkflowStep struct {
	State TicketState
	// Class is "done", "current" or "" (still ahead).
	Class string
}

// mainPath is the ticket workflow without its two end states.
var mainPath = []TicketState{StateDraft, StateSubmitted, StateReviewed, StateApproved, StateImplementing, StateImplemented, StateDocumented}

// Workflow returns the ticket's place in its workflow: the main path with
// the states passed and the current one, or, for a rejected or cancelled
// ticket, the path up to where it ended and the end state.
func (p *TicketPage) Workflow() []WorkflowStep {
	cur := p.Ticket.State
	var steps []WorkflowStep
	if cur == StateRejected || cur == StateCancelled {
		// Show the states it went through, from its history.
		seen := map[TicketState]bool{}
		for _, t := range p.Transitions {
			seen[t.From] = true
			seen[t.To] = true
		}
		for _, s := range mainPath {
			if seen[s] {
				steps = append(steps, WorkflowStep{State: s, Class: "done"})
			}
		}
		return append(steps, WorkflowStep{State: cur, Class: "current"})
	}
	class := "done"
	for _, s := range mainPath {
		c := class
		if s == cur {
			c, class = "current", ""
		}
		steps = append(steps, WorkflowStep{State: s, Class: c})
	}
	return steps
}

// Classes are the ticket classes the form offers.
func (p *TicketFormPage) Classes() []string { return Classes }

// ExtraHosts returns the draft's hosts that the host list does not offer:
// globs and names typed in, one per line.
func (p *TicketFormPage) ExtraHosts() string {
	known := map[string]bool{}
	for _, h := range p.Hosts {
		known[h.Name] = true
	}
	var extra []string
	for _, h := range p.Draft.Hosts {
		if !known[h] {
			extra = append(extra, h)
		}
	}
	return strings.Join(extra, "\n")
}

// HostListSize is the height of the host list.
func (p *TicketFormPage) HostListSize() int { return max(4, min(12, len(p.Hosts))) }

// RetryText says how long to wait before signing in again.
func (p *SignInPage) RetryText() string {
	if p.RetryAfter <= 0 {
		return "a moment"
	}
	d := p.RetryAfter.Round(time.Second)
	if d < time.Minute {
		return plural(int(d/time.Second), "second", "seconds")
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute", "minutes")
}
