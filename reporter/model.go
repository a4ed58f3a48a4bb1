package reporter

import (
	"html/template"
	"strconv"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// Verdict is what reconciliation decided about one drift item.
type Verdict string

// The verdicts, from the collector's reconciliation.
const (
	// VerdictAuthorized: an approved ticket covers the item, in scope and
	// in its window.
	VerdictAuthorized Verdict = "authorized"
	// VerdictUnapprovedTicket: a ticket covers the item but is not
	// approved.
	VerdictUnapprovedTicket Verdict = "unapproved_ticket"
	// VerdictOutOfWindow: an approved ticket covers the item, but the
	// change happened outside its window.
	VerdictOutOfWindow Verdict = "out_of_window"
	// VerdictFrozen: the change happened during a change freeze.
	VerdictFrozen Verdict = "frozen"
	// VerdictUnauthorized: no ticket covers the item.
	VerdictUnauthorized Verdict = "unauthorized"
)

// Verdicts lists every verdict, the most serious first: the order of
// columns, legends and filters.
var Verdicts = []Verdict{VerdictUnauthorized, VerdictFrozen, VerdictOutOfWindow, VerdictUnapprovedTicket, VerdictAuthorized}

// Valid reports whether v is one of Verdicts.
func (v Verdict) Valid() bool {
	for _, x := range Verdicts {
		if v == x {
			return true
		}
	}
	return false
}

// Label returns the verdict for people: "Unauthorized", "Outside window" …
func (v Verdict) Label() string {
	switch v {
	case VerdictAuthorized:
		return "Authorized"
	case VerdictUnapprovedTicket:
		return "Ticket not approved"
	case VerdictOutOfWindow:
		return "Outside window"
	case VerdictFrozen:
		return "During freeze"
	case VerdictUnauthorized:
		return "Unauthorized"
	}
	return oneLine(string(v), 40)
}

// Class returns the CSS class that colours the verdict.
func (v Verdict) Class() string {
	if v.Valid() {
		return "v-" + string(v)
	}
	return "v-unknown"
}

// Level is a drift item's escalation level, from the tenant's rules.
type Level int

// The escalation levels.
const (
	// Level1: log it.
	Level1 Level = 1
	// Level2: escalate internally (hourly summary).
	Level2 Level = 2
	// Level3: full escalation (immediate alert).
	Level3 Level = 3
)

// Levels lists the levels, the highest first.
var Levels = []Level{Level3, Level2, Level1}

// Valid reports whether l is 1, 2 or 3.
func (l Level) Valid() bool { return l >= Level1 && l <= Level3 }

// Short returns "L1", "L2" or "L3".
func (l Level) Short() string { return "L" + strconv.Itoa(int(l)) }

// Label returns what the level means: "Log", "Internal escalation", "Full
// escalation".
func (l Level) Label() string {
	switch l {
	case Level1:
		return "Log"
	case Level2:
		return "Internal escalation"
	case Level3:
		return "Full escalation"
	}
	return "Level " + strconv.Itoa(int(l))
}

// Class returns the CSS class that colours the level.
func (l Level) Class() string {
	if !l.Valid() {
		return "l-unknown"
	}
	return "l" + strconv.Itoa(int(l))
}

// TicketState is where a change ticket is in its workflow: draft →
// submitted → reviewed → approved → implementing → implemented →
// documented, or rejected or cancelled.
type TicketState string

// The ticket states.
const (
	StateDraft        TicketState = "draft"
	StateSubmitted    TicketState = "submitted"
	StateReviewed     TicketState = "reviewed"
	StateApproved     TicketState = "approved"
	StateImplementing TicketState = "implementing"
	StateImplemented  TicketState = "implemented"
	StateDocumented   TicketState = "documented"
	StateRejected     TicketState = "rejected"
	StateCancelled    TicketState = "cancelled"
)

// TicketStates lists the states in workflow order, the two end states
// outside the main path last.
var TicketStates = []TicketState{StateDraft, StateSubmitted, StateReviewed, StateApproved, StateImplementing,
	StateImplemented, StateDocumented, StateRejected, StateCancelled}

// Valid reports whether s is one of TicketStates.
func (s TicketState) Valid() bool {
	for _, x := range TicketStates {
		if s == x {
			return true
		}
	}
	return false
}

// Label returns the state for people: "Approved", "Implementing" …
func (s TicketState) Label() string {
	if !s.Valid() {
		return oneLine(string(s), 40)
	}
	return string(s[0]-'a'+'A') + string(s[1:])
}

// Class returns the CSS class that colours the state.
func (s TicketState) Class() string {
	if !s.Valid() {
		return "s-unknown"
	}
	return "s-" + string(s)
}

// Ticket origins: who asked for a change.
const (
	// OriginInternal is a change the MSP makes of its own accord.
	OriginInternal = "internal"
	// OriginCustomer is a change the customer asked for.
	OriginCustomer = "customer"
)

// Ticket classes: how a change is handled.
const (
	// ClassStandard is a pre-approved, routine change.
	ClassStandard = "standard"
	// ClassNormal goes through review and approval.
	ClassNormal = "normal"
	// ClassEmergency cannot wait: it may skip review.
	ClassEmergency = "emergency"
)

// Classes lists the ticket classes.
var Classes = []string{ClassStandard, ClassNormal, ClassEmergency}

// DriftStatus is what has been done about a drift item.
type DriftStatus string

// The drift statuses.
const (
	// DriftOpen: nobody has acted on the item yet.
	DriftOpen DriftStatus = "open"
	// DriftAccepted: the change was accepted into the baseline.
	DriftAccepted DriftStatus = "accepted"
	// DriftRevertRequested: the change is marked to be rolled back.
	DriftRevertRequested DriftStatus = "revert_requested"
	// DriftResolved: the host is back as its baseline has it.
	DriftResolved DriftStatus = "resolved"
)

// Label returns the status for people.
func (s DriftStatus) Label() string {
	switch s {
	case DriftOpen, "":
		return "Open"
	case DriftAccepted:
		return "Accepted"
	case DriftRevertRequested:
		return "Revert requested"
	case DriftResolved:
		return "Resolved"
	}
	return oneLine(string(s), 40)
}

// Page is what every web page shows around its content: the signed-in
// user, the tenant switcher, flash messages and the CSRF token for its
// forms. Each page's view model embeds it.
type Page struct {
	// Title is the page's title; each page has a default.
	Title string
	// Now is the moment the page is rendered for: relative times ("3 h
	// ago") and staleness are measured from it, never from the clock.
	Now time.Time
	// Location is the time zone times are shown in; nil means UTC.
	Location *time.Location
	// User is the signed-in user; nil on the sign-in page.
	User *User
	// CSRFToken is put in a hidden field of every form that posts.
	CSRFToken string
	// TenantOptions are the tenants the user may switch between; the
	// switcher shows when there are two or more.
	TenantOptions []TenantRef
	// TenantID is the tenant the page is about; empty for "all tenants".
	TenantID string
	// Flashes are one-time messages from the previous action.
	Flashes []Flash
	// RequestID names the request in the collector's log; shown on error
	// pages so a report can be matched to it.
	RequestID string

	links Links
	nav   string
}

// User is the signed-in person.
type User struct {
	// Name is shown in the header; Email when empty.
	Name  string
	Email string
	// Role is viewer, engineer, approver or admin.
	Role string
}

// Display returns the name to show.
func (u *User) Display() string {
	if u == nil {
		return ""
	}
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// Flash kinds.
const (
	FlashSuccess = "success"
	FlashInfo    = "info"
	FlashWarning = "warning"
	FlashError   = "error"
)

// Flash is a one-time message shown at the top of a page.
type Flash struct {
	// Kind is FlashSuccess, FlashInfo, FlashWarning or FlashError.
	Kind    string
	Message string
}

// TenantRef names a tenant.
type TenantRef struct {
	ID   string
	Name string
}

// HostRef names a host.
type HostRef struct {
	ID         string
	Name       string
	TenantID   string
	TenantName string
}

// TicketRef names a change ticket.
type TicketRef struct {
	// ID is the collector's ID, used in links; empty for a reference to a
	// ticket the collector does not hold (a number typed at approval).
	ID string
	// Ref is the ticket's reference for people: "CHG-1042".
	Ref   string
	Title string
	State TicketState
	// ExternalURL links the ticket in Jira or ServiceNow; only http and
	// https links are shown.
	ExternalURL string
}

// Label returns the reference, or the ID when there is none.
func (t TicketRef) Label() string {
	if t.Ref != "" {
		return t.Ref
	}
	return t.ID
}

// DriftRow is one reconciled drift item in a list.
type DriftRow struct {
	// ID is the collector's ID of the drift item.
	ID   string
	Host HostRef
	// Key is the item's key, as baseline.Change.Key has it.
	Key       string
	Change    baseline.ChangeKind
	Verdict   Verdict
	Level     Level
	Status    DriftStatus
	FirstSeen time.Time
	// LastSeen is when a report last showed the item drifted.
	LastSeen time.Time
	// Ticket is the ticket the item is matched to, if any.
	Ticket *TicketRef
	// StandardChange is set when a standard change's package rule
	// authorized the item: it happened inside a package-manager
	// transaction the rule allows.
	StandardChange bool
}

// VerdictLabel returns the verdict for people, "Authorized (standard
// change)" for an item a standard change authorized.
func (r DriftRow) VerdictLabel() string { return verdictLabel(r.Verdict, r.StandardChange) }

// verdictLabel is v's label, marked for a standard change.
func verdictLabel(v Verdict, standard bool) string {
	if standard && v == VerdictAuthorized {
		return "Authorized (standard change)"
	}
	return v.Label()
}

// FormState carries a form's values and errors back to the page after a
// rejected submission, by field name.
type FormState struct {
	// Action names the form the state belongs to when a page has several.
	Action string
	Values map[string]string
	Errors map[string]string
}

// Value returns the submitted value of a field.
func (f FormState) Value(name string) string { return f.Values[name] }

// Error returns the error of a field, "" when it has none.
func (f FormState) Error(name string) string { return f.Errors[name] }

// Has reports whether the state belongs to the named form and carries
// anything.
func (f FormState) Has(action string) bool {
	return f.Action == action && (len(f.Values) > 0 || len(f.Errors) > 0)
}

// Form field names shared by the pages' forms and the handlers that read
// them.
const (
	FieldCSRF     = "csrf_token"
	FieldReason   = "reason"
	FieldTicket   = "ticket"
	FieldComment  = "comment"
	FieldAction   = "action"
	FieldEmail    = "email"
	FieldPassword = "password"
	FieldNext     = "next"
	FieldTenant   = "tenant"
	FieldView     = "view"
	FieldFrom     = "from"
	FieldTo       = "to"
	FieldQuery    = "q"
	FieldCursor   = "cursor"
)

// Diff views of the drift page.
const (
	ViewUnified = "unified"
	ViewSplit   = "split"
)

// timeHTML is a time shown in the page's zone, inside a <time> element.
func timeHTML(t time.Time, loc *time.Location, layout string) template.HTML {
	if t.IsZero() {
		return template.HTML(`<span class="muted">never</span>`)
	}
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	return template.HTML(`<time datetime="` + t.UTC().Format(time.RFC3339) + `">` +
		template.HTMLEscapeString(lt.Format(layout)) + `</time>`)
}
