package ticket

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile/pattern"
)

// State is where a ticket is in its workflow.
type State string

// The states of a ticket. Rejected, cancelled and documented are final.
const (
	Draft        State = "draft"
	Submitted    State = "submitted"
	Reviewed     State = "reviewed"
	Approved     State = "approved"
	Implementing State = "implementing"
	Implemented  State = "implemented"
	Documented   State = "documented"
	Rejected     State = "rejected"
	Cancelled    State = "cancelled"
)

// States lists every state in workflow order.
var States = []State{Draft, Submitted, Reviewed, Approved, Implementing, Implemented, Documented, Rejected, Cancelled}

// Final reports whether no action leads out of the state.
func (s State) Final() bool { return s == Documented || s == Rejected || s == Cancelled }

// Authorizes reports whether a ticket in this state authorizes the changes
// in its scope and window: approved, implementing, implemented and
// documented.
func (s State) Authorizes() bool {
	return s == Approved || s == Implementing || s == Implemented || s == Documented
}

// Open reports whether the ticket has not yet been approved and is still
// alive: draft, submitted or reviewed.
func (s State) Open() bool { return s == Draft || s == Submitted || s == Reviewed }

// Origin says who asked for a change.
type Origin string

// Origins of a ticket.
const (
	// Internal is a change the MSP (or the IT team) makes of its own
	// accord: patching, hardening, maintenance.
	Internal Origin = "internal"
	// Customer is a change the customer asked for; the tenant policy may
	// require the customer's approval.
	Customer Origin = "customer"
)

// Class is how a change is handled.
type Class string

// Classes of change, in the ITIL sense.
const (
	// Standard is a pre-approved, low-risk, routine change.
	Standard Class = "standard"
	// Normal is a change that goes through review and approval.
	Normal Class = "normal"
	// Emergency is a change that cannot wait: it may skip review, and a
	// freeze period does not stop it.
	Emergency Class = "emergency"
)

// Classes lists every class.
var Classes = []Class{Standard, Normal, Emergency}

// Spec is what a ticket says about the change: the part a requester writes
// and may amend. Its fields are inlined in the ticket's JSON.
type Spec struct {
	// Reference is the ticket's number in an external system
	// ("CHG0030001", "JIRA-1322"); unique within the tenant.
	Reference string `json:"reference,omitempty"`
	// Title says in one line what changes.
	Title string `json:"title"`
	// Description says what changes and why.
	Description string `json:"description,omitempty"`
	// Impact says what the change affects while and after it is made.
	Impact string `json:"impact,omitempty"`
	// RollbackPlan says how to undo the change.
	RollbackPlan string `json:"rollback_plan,omitempty"`
	// Origin is internal or customer; empty means customer for a customer
	// user's ticket and internal for the MSP's.
	Origin Origin `json:"origin,omitempty"`
	// Class is standard, normal or emergency; empty means normal.
	Class Class `json:"class,omitempty"`
	// Scope is which hosts and items the change touches.
	Scope Scope `json:"scope"`
	// Window is when the change is planned; nil until planned. Its time
	// zone defaults to the tenant's.
	Window *policy.Window `json:"window,omitempty"`
	// Notify are the email addresses of people who need to know.
	Notify []string `json:"notify,omitempty"`
	// Questions are the pre-deployment questions, each optional.
	Questions Questions `json:"questions,omitzero"`
	// Packages, on a standard change, authorizes the drift of the
	// package-manager transactions it matches on the hosts in scope (see
	// PackageRule); item patterns are then optional.
	Packages *PackageRule `json:"packages,omitempty"`
}

// Scope is which hosts and items a change touches. A host is in scope when
// Hosts names it (or a glob in Hosts matches it, "*" for every host), or
// when Labels is not empty and the host has every one of its labels. An
// item is in scope when its key matches one of Items.
type Scope struct {
	// Hosts are host names; "*", "?" and "[…]" make a name a glob
	// ("web-*", "*").
	Hosts []string `json:"hosts,omitempty"`
	// Labels are key=value requirements, all of which a host must carry
	// ("role=web", "env=prod").
	Labels []string `json:"labels,omitempty"`
	// Items are item patterns such as "file:/etc/nginx/**",
	// "package:openssl", "service:*" (see package pattern).
	Items []string `json:"items,omitempty"`
}

// Questions are the questions to answer before a change is deployed.
type Questions struct {
	// Problem is what problem the change solves.
	Problem string `json:"problem,omitempty"`
	// Touches is what the change touches beyond its scope: dependent
	// services, users, integrations.
	Touches string `json:"touches,omitempty"`
	// TestedInStaging says whether the change was tried in staging; nil
	// when not answered.
	TestedInStaging *bool `json:"tested_in_staging,omitempty"`
	// StagingNotes says how it was tested, or why it was not.
	StagingNotes string `json:"staging_notes,omitempty"`
	// RollbackPath is how to get back if the rollback plan fails.
	RollbackPath string `json:"rollback_path,omitempty"`
	// EscalationOwner is who to call when it goes wrong.
	EscalationOwner string `json:"escalation_owner,omitempty"`
	// DocsToUpdate are the support documents to update afterwards.
	DocsToUpdate []string `json:"docs_to_update,omitempty"`
}

// Ticket is a change ticket: the change it describes, where it is in its
// workflow and every step it took. Its JSON form is the document the store
// keeps; ID, TenantID, Reference, State, Class, Origin, the window's bounds
// (WindowBounds), UpdatedAt and Version are the store's indexed columns.
type Ticket struct {
	// ID is chosen by the caller and unique across tenants.
	ID string `json:"id"`
	// TenantID is the tenant whose hosts the change touches.
	TenantID string `json:"tenant_id"`
	Spec
	// Requester is who raised the ticket.
	Requester Actor `json:"requester"`
	// State is where the ticket is in its workflow.
	State State `json:"state"`
	// Review is the technical review; nil until reviewed.
	Review *Signoff `json:"review,omitempty"`
	// Approvals are the approvals given so far, at most one per side.
	Approvals []Approval `json:"approvals,omitempty"`
	// PendingApproval are the sides whose approval is still needed after a
	// first approval; empty otherwise.
	PendingApproval []Side `json:"pending_approval,omitempty"`
	// History is every transition, oldest first, from creation on.
	History []Transition `json:"history"`
	// CreatedAt and UpdatedAt are when the ticket was created and last
	// changed, in UTC.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts the ticket's changes from 1; every transition adds
	// one, so a store can refuse an update based on a stale copy.
	Version int `json:"version"`
}

// Name is how messages name the ticket: its reference, else its ID.
func (t *Ticket) Name() string {
	if t.Reference != "" {
		return t.Reference
	}
	return t.ID
}

// WindowBounds returns the planned window's first and last instants in
// UTC; ok is false when no valid window is planned.
func (t *Ticket) WindowBounds() (start, end time.Time, ok bool) {
	if t.Window == nil {
		return time.Time{}, time.Time{}, false
	}
	start, end, err := t.Window.Bounds()
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	return start.UTC(), end.UTC(), true
}

// Side is whose approval an approval is.
type Side string

// The sides that approve.
const (
	// SideMSP is the approval of the MSP's staff.
	SideMSP Side = "msp"
	// SideCustomer is the approval of the customer, for customer changes.
	SideCustomer Side = "customer"
)

// Signoff records who did something, when, and what they said.
type Signoff struct {
	By      Actor     `json:"by"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// Approval is one side's approval.
type Approval struct {
	Side Side `json:"side"`
	Signoff
}

// Transition is one step of a ticket's history: who did what, as which
// role, when, from which state to which, and why.
type Transition struct {
	Action Action `json:"action"`
	// From is empty for the creation.
	From State     `json:"from"`
	To   State     `json:"to"`
	By   Actor     `json:"by"`
	At   time.Time `json:"at"`
	// Comment is required for reject and cancel.
	Comment string `json:"comment,omitempty"`
	// PendingApproval are the sides still to approve after this step.
	PendingApproval []Side `json:"pending_approval,omitempty"`
	// Changed lists the fields an amendment changed, by JSON name.
	Changed []string `json:"changed,omitempty"`
}

// referenceRE is what an external reference may look like: CHG0030001,
// JIRA-1322, INC-2024-0042, sn:CHG1.
var referenceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$`)

// labelRE is a label requirement, key=value.
var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}=[A-Za-z0-9._:/@+-]{0,63}$`)

// hostRE is a host name or a glob of host names.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9*?\[\]^!._-]{1,253}$`)

// Limits on free text, in bytes.
const (
	MaxTitle = 200
	MaxText  = 20000
)

// Validate checks that the spec is well formed: a title, known origin and
// class, a valid reference, scope patterns, labels and host names, a valid
// window and notify addresses. A draft may still lack the rest; see
// ValidateForSubmit. The error is a *policy.ValidationError naming each
// wrong field by its JSON path.
func (s *Spec) Validate() error {
	return policy.Problems(s.problems(false)).Err(s.what())
}

// ValidateForSubmit checks what Validate checks and that the ticket says
// enough to be reviewed: a description, impact and rollback plan, at least
// one host or label, at least one item pattern, and a window.
func (s *Spec) ValidateForSubmit() error {
	return policy.Problems(s.problems(true)).Err(s.what())
}

func (s *Spec) what() string {
	if s.Reference != "" {
		return "ticket " + s.Reference
	}
	return "ticket"
}

func (s *Spec) problems(complete bool) policy.Problems {
	var ps policy.Problems
	if s.Reference != "" && !referenceRE.MatchString(s.Reference) {
		ps.Add("reference", fmt.Sprintf("%q is not a ticket reference: want letters, digits and . _ : / # - (up to 64), such as \"CHG0030001\" or \"JIRA-1322\"", s.Reference))
	}
	switch t := strings.TrimSpace(s.Title); {
	case t == "":
		ps.Add("title", "is required")
	case len(s.Title) > MaxTitle:
		ps.Add("title", fmt.Sprintf("is %d bytes long; at most %d", len(s.Title), MaxTitle))
	}
	for _, f := range []struct {
		name, v string
	}{{"description", s.Description}, {"impact", s.Impact}, {"rollback_plan", s.RollbackPlan}} {
		switch {
		case complete && strings.TrimSpace(f.v) == "":
			ps.Add(f.name, "is required before the ticket is submitted")
		case len(f.v) > MaxText:
			ps.Add(f.name, fmt.Sprintf("is %d bytes long; at most %d", len(f.v), MaxText))
		}
	}
	if s.Origin != Internal && s.Origin != Customer {
		ps.Add("origin", fmt.Sprintf("%q is not an origin: want %q or %q", s.Origin, Internal, Customer))
	}
	if !slices.Contains(Classes, s.Class) {
		ps.Add("class", fmt.Sprintf("%q is not a class: want %q, %q or %q", s.Class, Standard, Normal, Emergency))
	}
	for i, h := range s.Scope.Hosts {
		if !hostRE.MatchString(h) || pattern.CheckGlob(h) != nil {
			ps.Add(fmt.Sprintf("scope.hosts[%d]", i), fmt.Sprintf("%q is not a host name or a glob of host names such as \"web-01\" or \"web-*\"", h))
		}
	}
	for i, l := range s.Scope.Labels {
		if !labelRE.MatchString(l) {
			ps.Add(fmt.Sprintf("scope.labels[%d]", i), fmt.Sprintf("%q is not a label selector: want key=value such as \"role=web\"", l))
		}
	}
	for i, it := range s.Scope.Items {
		if _, err := pattern.Compile(it); err != nil {
			ps.Add(fmt.Sprintf("scope.items[%d]", i), err.Error())
		}
	}
	if complete && len(s.Scope.Hosts) == 0 && len(s.Scope.Labels) == 0 {
		ps.Add("scope.hosts", "name at least one host (or \"*\" for every host) or give scope.labels before the ticket is submitted")
	}
	if s.Packages != nil {
		ps = append(ps, s.Packages.problems(s.Class)...)
	}
	if complete && len(s.Scope.Items) == 0 && s.Packages == nil {
		ps.Add("scope.items", "give at least one item pattern, such as \"file:/etc/nginx/**\", before the ticket is submitted")
	}
	switch {
	case s.Window != nil:
		ps.AddAll("window", s.Window.Problems())
	case complete:
		ps.Add("window", "is required before the ticket is submitted")
	}
	for i, n := range s.Notify {
		if msg := policy.CheckEmail(n); msg != "" {
			ps.Add(fmt.Sprintf("notify[%d]", i), msg)
		}
	}
	for i, d := range s.Questions.DocsToUpdate {
		if strings.TrimSpace(d) == "" {
			ps.Add(fmt.Sprintf("questions.docs_to_update[%d]", i), "is empty")
		}
	}
	return ps
}

// normalize fills defaults: origin from who raises the ticket, class
// normal, the window's time zone from the policy, and trims the title and
// reference.
func (s *Spec) normalize(by Actor, pol policy.Policy) {
	s.Title = strings.TrimSpace(s.Title)
	s.Reference = strings.TrimSpace(s.Reference)
	if s.Origin == "" {
		s.Origin = Internal
		if by.Customer() {
			s.Origin = Customer
		}
	}
	if s.Class == "" {
		s.Class = Normal
	}
	if s.Window != nil {
		w := *s.Window
		if w.TimeZone == "" {
			w.TimeZone = pol.DefaultTimeZone
		}
		s.Window = &w
	}
}

// material returns the JSON names of the fields that decide what a ticket
// authorizes and that differ between a and b: origin, class, scope and
// window. Changing any of them after review needs a new review.
func material(a, b *Spec) []string {
	var out []string
	if a.Origin != b.Origin {
		out = append(out, "origin")
	}
	if a.Class != b.Class {
		out = append(out, "class")
	}
	if !slices.Equal(a.Scope.Hosts, b.Scope.Hosts) {
		out = append(out, "scope.hosts")
	}
	if !slices.Equal(a.Scope.Labels, b.Scope.Labels) {
		out = append(out, "scope.labels")
	}
	if !slices.Equal(a.Scope.Items, b.Scope.Items) {
		out = append(out, "scope.items")
	}
	if (a.Window == nil) != (b.Window == nil) || (a.Window != nil && *a.Window != *b.Window) {
		out = append(out, "window")
	}
	if !a.Packages.equal(b.Packages) {
		out = append(out, "packages")
	}
	return out
}

// descriptive returns the JSON names of the other fields that differ.
func descriptive(a, b *Spec) []string {
	var out []string
	for _, f := range []struct {
		name string
		x, y string
	}{
		{"reference", a.Reference, b.Reference}, {"title", a.Title, b.Title}, {"description", a.Description, b.Description},
		{"impact", a.Impact, b.Impact}, {"rollback_plan", a.RollbackPlan, b.RollbackPlan},
	} {
		if f.x != f.y {
			out = append(out, f.name)
		}
	}
	if !slices.Equal(a.Notify, b.Notify) {
		out = append(out, "notify")
	}
	qa, qb := a.Questions, b.Questions
	if qa.Problem != qb.Problem || qa.Touches != qb.Touches || qa.StagingNotes != qb.StagingNotes ||
		qa.RollbackPath != qb.RollbackPath || qa.EscalationOwner != qb.EscalationOwner ||
		!slices.Equal(qa.DocsToUpdate, qb.DocsToUpdate) ||
		(qa.TestedInStaging == nil) != (qb.TestedInStaging == nil) ||
		(qa.TestedInStaging != nil && *qa.TestedInStaging != *qb.TestedInStaging) {
		out = append(out, "questions")
	}
	return out
}

// clone returns a deep copy of the spec.
func (s Spec) clone() Spec {
	s.Scope.Hosts = slices.Clone(s.Scope.Hosts)
	s.Scope.Labels = slices.Clone(s.Scope.Labels)
	s.Scope.Items = slices.Clone(s.Scope.Items)
	if s.Window != nil {
		w := *s.Window
		s.Window = &w
	}
	s.Notify = slices.Clone(s.Notify)
	s.Packages = s.Packages.clone()
	s.Questions.DocsToUpdate = slices.Clone(s.Questions.DocsToUpdate)
	if s.Questions.TestedInStaging != nil {
		v := *s.Questions.TestedInStaging
		s.Questions.TestedInStaging = &v
	}
	return s
}
