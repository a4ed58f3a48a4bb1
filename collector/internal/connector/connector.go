package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Source reads change records from one external system.
//
// Poll returns the records updated at or after since.UpdatedAt (all
// records when since is zero), every page of them, and the cursor to
// pass next time. A record the source could not map is returned with
// Err set and Reference naming it when known, so that the others are
// still imported. The error is for the poll as a whole: ErrAuth when the
// credentials were refused, a *RateLimitError when the system asked to
// wait longer than the source would, anything else for a transport or
// format failure. On error the cursor is since and the records are nil.
// Poll may be called again after an error; it is not called
// concurrently.
type Source interface {
	// Name is the connector's name from the configuration.
	Name() string
	// Kind is the connector's kind: "servicenow", "jira", "halopsa",
	// "connectwise" or "webhook".
	Kind() string
	// Poll returns the records updated since the cursor.
	Poll(ctx context.Context, since Cursor) ([]Record, Cursor, error)
}

// Cursor is where an incremental poll resumes: the newest update time
// seen so far. Sources ask for records updated at or after it, so the
// newest record of one poll comes again in the next and is recognised as
// unchanged.
type Cursor struct {
	// UpdatedAt is the newest update time seen, in UTC; zero before the
	// first poll.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// advance returns the cursor moved to t when t is newer.
func (c Cursor) advance(t time.Time) Cursor {
	if t.After(c.UpdatedAt) {
		c.UpdatedAt = t.UTC()
	}
	return c
}

// Approval is the approval status of an external change record.
type Approval string

// Approval statuses.
const (
	// ApprovalNone: no approval was asked for (ServiceNow "not
	// requested"; a Jira request without approvals).
	ApprovalNone Approval = "none"
	// ApprovalRequested: an approval is pending.
	ApprovalRequested Approval = "requested"
	// ApprovalApproved: the change was approved.
	ApprovalApproved Approval = "approved"
	// ApprovalRejected: the change was rejected (declined).
	ApprovalRejected Approval = "rejected"
)

// Record is one external change record, mapped to driftwatch's
// vocabulary.
type Record struct {
	// Reference is the record's number in the external system
	// ("CHG0030001", "OPS-1322"); it becomes the ticket's reference.
	Reference string
	// Title and Description say what changes.
	Title       string
	Description string
	// Impact and RollbackPlan, when the system keeps them.
	Impact       string
	RollbackPlan string
	// State is the external state mapped to a ticket state, before the
	// approval is taken into account (see Effective).
	State ticket.State
	// ExternalState is the state as the external system names it
	// ("-2", "Scheduled", "Awaiting implementation"), for messages.
	ExternalState string
	// Approval is the record's approval status; Approvers who approved.
	Approval  Approval
	Approvers []string
	// Class is standard, normal or emergency.
	Class ticket.Class
	// Origin is internal or customer.
	Origin ticket.Origin
	// Start and End bound the planned window, in UTC; zero when not
	// planned. TimeZone is the zone the window is shown in.
	Start, End time.Time
	TimeZone   string
	// Hosts are host names or globs; Labels key=value host selectors;
	// Items item patterns.
	Hosts  []string
	Labels []string
	Items  []string
	// Requester is the email (or login) of who raised the record.
	Requester string
	// UpdatedAt is when the record last changed in the external system.
	UpdatedAt time.Time
	// Link is where a person opens the record.
	Link string
	// Err is why the record could not be mapped; such a record is
	// rejected and counted, and names Reference (or its position).
	Err error
}

// Effective returns the ticket state the record stands for, with the
// approval taken into account: a rejected approval makes it rejected
// (unless cancelled), and a state that authorizes changes needs an
// approved record — or a standard change that needed no approval. An
// unapproved record in such a state is held at reviewed while it is
// under way, and cancelled once it is closed, so that it never
// authorizes drift. The reason says why the state differs from State.
func (r *Record) Effective() (ticket.State, string) {
	switch {
	case r.State == ticket.Cancelled:
		return ticket.Cancelled, ""
	case r.Approval == ApprovalRejected:
		return ticket.Rejected, "approval rejected in " + r.ExternalState
	case !r.State.Authorizes():
		return r.State, ""
	case r.Approval == ApprovalApproved:
		return r.State, ""
	case r.Approval == ApprovalNone && r.Class == ticket.Standard:
		return r.State, ""
	case r.State == ticket.Implemented || r.State == ticket.Documented:
		return ticket.Cancelled, fmt.Sprintf("closed as %q without approval (%s)", r.ExternalState, r.Approval)
	}
	return ticket.Reviewed, fmt.Sprintf("state %q is not approved yet (%s)", r.ExternalState, r.Approval)
}

// Errors a Source or Syncer reports, matched with errors.Is.
var (
	// ErrAuth: the external system refused the credentials (HTTP 401 or
	// 403), or they could not be read. It needs a person to fix it.
	ErrAuth = errors.New("credentials refused")
	// ErrRejected: a record could not be mapped to a ticket.
	ErrRejected = errors.New("record rejected")
)

// RateLimitError is the external system asking to wait (HTTP 429) longer
// than the source waits by itself.
type RateLimitError struct {
	// RetryAfter is how long the system asked to wait; zero when it did
	// not say.
	RetryAfter time.Duration
	// URL is the request that was refused, without credentials.
	URL string
}

// Error says what was refused and for how long to wait.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited at %s: retry after %s", e.URL, e.RetryAfter)
}

// rejectf is a mapping error naming the record.
func rejectf(ref string, format string, args ...any) error {
	return fmt.Errorf("record %s: %w: %s", ref, ErrRejected, fmt.Sprintf(format, args...))
}

// Mapping says how an external record becomes a ticket: which external
// fields hold what, how external states and approvals map, and the
// conventions for host scope and item patterns. Every connector kind has
// defaults; a mapping block changes them.
type Mapping struct {
	// Fields maps a ticket field to the external field holding it.
	// Ticket fields: reference, title, description, impact,
	// rollback_plan, state, approval, class, start, end, hosts, labels,
	// items, requester, updated, link. A dotted name ("fields.customfield_10050",
	// "change.window.start") follows nested objects.
	Fields map[string]string
	// States maps an external state (code or name, compared without
	// case) to a ticket state, over the kind's defaults.
	States map[string]ticket.State
	// Approvals maps an external approval value to an Approval, over the
	// kind's defaults.
	Approvals map[string]Approval
	// ItemLabelPrefix marks labels (tags) that carry an item pattern:
	// with "dw-item:", the label "dw-item:file:/etc/nginx/**" adds the
	// pattern "file:/etc/nginx/**". Empty turns the convention off.
	ItemLabelPrefix string
	// HostLabelPrefix marks labels that carry a host name or glob, such
	// as "dw-host:web-*".
	HostLabelPrefix string
	// DefaultItems are the item patterns of a record that names none.
	DefaultItems []string
	// Origin is the origin of every imported ticket; empty is internal.
	Origin ticket.Origin
	// TimeZone is the zone of window times written without an offset,
	// and the zone windows are shown in; empty is UTC.
	TimeZone string
}

// DefaultItemLabelPrefix and DefaultHostLabelPrefix are the label
// conventions when a mapping does not set its own.
const (
	DefaultItemLabelPrefix = "dw-item:"
	DefaultHostLabelPrefix = "dw-host:"
)

// field returns the external field for a ticket field: the mapping's, else
// def.
func (m *Mapping) field(name, def string) string {
	if f, ok := m.Fields[name]; ok {
		return f
	}
	return def
}

// state maps an external state through the mapping's States, then defs;
// ok is false when neither knows it.
func (m *Mapping) state(v string, defs map[string]ticket.State) (ticket.State, bool) {
	for k, s := range m.States {
		if strings.EqualFold(k, v) {
			return s, true
		}
	}
	for k, s := range defs {
		if strings.EqualFold(k, v) {
			return s, true
		}
	}
	return "", false
}

// approval maps an external approval value like state does.
func (m *Mapping) approval(v string, defs map[string]Approval) (Approval, bool) {
	for k, a := range m.Approvals {
		if strings.EqualFold(k, v) {
			return a, true
		}
	}
	for k, a := range defs {
		if strings.EqualFold(k, v) {
			return a, true
		}
	}
	return "", false
}

// scope fills a record's hosts and items from a host field, an item
// field and the label conventions; the remaining labels that look like
// key=value become host label selectors.
func (m *Mapping) scope(r *Record, hosts, items []string, labels []string) {
	for _, h := range hosts {
		if h = strings.TrimSpace(h); h != "" {
			r.Hosts = append(r.Hosts, h)
		}
	}
	r.Items = append(r.Items, splitList(strings.Join(items, "\n"))...)
	for _, l := range labels {
		switch {
		case m.ItemLabelPrefix != "" && strings.HasPrefix(l, m.ItemLabelPrefix):
			r.Items = append(r.Items, strings.TrimPrefix(l, m.ItemLabelPrefix))
		case m.HostLabelPrefix != "" && strings.HasPrefix(l, m.HostLabelPrefix):
			r.Hosts = append(r.Hosts, strings.TrimPrefix(l, m.HostLabelPrefix))
		case strings.Contains(l, "="):
			r.Labels = append(r.Labels, l)
		}
	}
	if len(r.Items) == 0 {
		r.Items = slices.Clone(m.DefaultItems)
	}
	slices.Sort(r.Hosts)
	r.Hosts = slices.Compact(r.Hosts)
	slices.Sort(r.Items)
	r.Items = slices.Compact(r.Items)
	slices.Sort(r.Labels)
	r.Labels = slices.Compact(r.Labels)
	if r.Origin == "" {
		r.Origin = m.Origin
	}
	if r.TimeZone == "" {
		r.TimeZone = m.TimeZone
	}
}

// splitList splits a field that lists values one a line or separated by
// commas or semicolons.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ';' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// classOf maps a change type name to a class; "" when unknown.
func classOf(v string) ticket.Class {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "standard", "standard change", "pre-approved":
		return ticket.Standard
	case "normal", "normal change", "":
		return ticket.Normal
	case "emergency", "emergency change", "expedited":
		return ticket.Emergency
	}
	return ""
}
