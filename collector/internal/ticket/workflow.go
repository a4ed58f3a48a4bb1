package ticket

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
)

// Role is what a user may do; each role may do what the ones before it
// may.
type Role string

// Roles, from least to most. They are the store's user roles.
const (
	RoleViewer   Role = "viewer"
	RoleEngineer Role = "engineer"
	RoleApprover Role = "approver"
	RoleAdmin    Role = "admin"
)

// rank orders the roles; 0 for an unknown one.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEngineer:
		return 2
	case RoleApprover:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// AtLeast reports whether r may do what o may.
func (r Role) AtLeast(o Role) bool { return r.rank() > 0 && r.rank() >= o.rank() }

// Actor is who does something to a ticket: one of the MSP's staff (no
// TenantID) or a user of a customer tenant.
type Actor struct {
	// ID is the user's ID; empty for a person known only by email (an
	// imported requester).
	ID string `json:"id,omitempty"`
	// Email identifies the person across accounts: two actors with the
	// same email are the same person.
	Email string `json:"email"`
	// Role is the user's role when acting.
	Role Role `json:"role"`
	// TenantID is the customer tenant the user belongs to; empty for the
	// MSP's staff.
	TenantID string `json:"tenant_id,omitempty"`
}

// Customer reports whether the actor is a customer user rather than the
// MSP's staff.
func (a Actor) Customer() bool { return a.TenantID != "" }

// Same reports whether a and b are the same person: the same user ID, or
// the same email address (case-insensitively), so that a second account
// does not get around the four-eyes rules.
func (a Actor) Same(b Actor) bool {
	return (a.ID != "" && a.ID == b.ID) || (a.Email != "" && strings.EqualFold(a.Email, b.Email))
}

// String names the actor for messages: "bob@msp.example (approver, MSP)".
func (a Actor) String() string {
	who := a.Email
	if who == "" {
		who = a.ID
	}
	if a.Customer() {
		return fmt.Sprintf("%s (%s, tenant %s)", who, a.Role, a.TenantID)
	}
	return fmt.Sprintf("%s (%s, MSP)", who, a.Role)
}

// Action is a step of the workflow.
type Action string

// The actions on a ticket.
//
//	create    → draft                                       engineer+
//	submit    draft → submitted                             engineer+
//	review    submitted → reviewed                          MSP engineer+, not the requester
//	approve   reviewed → approved                           approver+, not the requester; an
//	          (submitted → approved for emergency changes)  MSP approval always, and the
//	                                                        customer's for customer changes
//	                                                        when the policy says so
//	reject    submitted, reviewed → rejected                approver+, with a comment
//	start     approved → implementing                       MSP engineer+; not in a freeze
//	                                                        unless an emergency change
//	complete  implementing → implemented                    MSP engineer+
//	document  implemented → documented                      MSP engineer+
//	amend     draft … implementing (material changes after  engineer+
//	          review go back to submitted)
//	cancel    draft … implementing → cancelled              the requester or an approver+,
//	                                                        with a comment
//
// Viewers can do nothing. Customer users act only on their own tenant's
// tickets of customer origin.
const (
	ActionCreate   Action = "create"
	ActionSubmit   Action = "submit"
	ActionReview   Action = "review"
	ActionApprove  Action = "approve"
	ActionReject   Action = "reject"
	ActionStart    Action = "start"
	ActionComplete Action = "complete"
	ActionDocument Action = "document"
	ActionAmend    Action = "amend"
	ActionCancel   Action = "cancel"
)

// Actions are the actions Allowed considers, in the order a page shows
// their buttons.
var Actions = []Action{ActionSubmit, ActionReview, ActionApprove, ActionReject, ActionStart, ActionComplete, ActionDocument, ActionAmend, ActionCancel}

// Errors an action can fail with, matched with errors.Is. The error itself
// is an *ActionError that says who tried what and why it was refused.
var (
	// ErrForbidden: the actor's role or tenant does not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidTransition: the action does not lead out of the ticket's
	// state.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrSelfApproval: the requester tried to review or approve their own
	// ticket.
	ErrSelfApproval = errors.New("self-approval")
	// ErrAlreadyApproved: this side (or this person) has approved already.
	ErrAlreadyApproved = errors.New("already approved")
	// ErrCommentRequired: reject and cancel need a comment saying why.
	ErrCommentRequired = errors.New("comment required")
	// ErrFrozen: a freeze period holds and the change is not an emergency.
	ErrFrozen = errors.New("frozen")
	// ErrInvalid: the ticket's content is not valid; the error is a
	// *policy.ValidationError naming the fields.
	ErrInvalid = policy.ErrInvalid
)

// ValidationError lists what is wrong with a ticket, field by field.
type ValidationError = policy.ValidationError

// ActionError is a refused action: which ticket, what, by whom, in which
// state, and why.
type ActionError struct {
	Ticket string
	Action Action
	State  State
	By     Actor
	// Err is one of the Err… values.
	Err error
	// Reason says why, for people.
	Reason string
}

// Error returns "ticket CHG0030001: approve (reviewed) by bob@msp.example
// (approver, MSP): self-approval: the requester cannot approve their own
// ticket".
func (e *ActionError) Error() string {
	state := ""
	if e.State != "" {
		state = " (" + string(e.State) + ")"
	}
	return fmt.Sprintf("ticket %s: %s%s by %s: %v: %s", e.Ticket, e.Action, state, e.By, e.Err, e.Reason)
}

// Unwrap returns Err.
func (e *ActionError) Unwrap() error { return e.Err }

// New creates a draft ticket raised by by. The spec's defaults are filled
// in (origin from who raises it, class normal, the window's zone from the
// policy) and it is validated; a draft may still lack what submitting
// needs. A customer user can raise only customer changes of their own
// tenant; viewers can raise none.
func New(id, tenantID string, s Spec, by Actor, pol policy.Policy, at time.Time) (*Ticket, error) {
	s = s.clone()
	s.normalize(by, pol)
	name := s.Reference
	if name == "" {
		name = id
	}
	refuse := func(err error, format string, args ...any) error {
		return &ActionError{Ticket: name, Action: ActionCreate, By: by, Err: err, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case id == "" || tenantID == "":
		return nil, fmt.Errorf("create ticket %s: the ticket ID and tenant ID are required", name)
	case at.IsZero():
		return nil, fmt.Errorf("create ticket %s: no time given", name)
	}
	if reason := who(by, tenantID); reason != "" {
		return nil, refuse(ErrForbidden, "%s", reason)
	}
	if by.Customer() && s.Origin != Customer {
		return nil, refuse(ErrForbidden, "customer users raise changes of origin %q only", Customer)
	}
	if err := policy.Problems(s.problems(false)).Err("create ticket " + name); err != nil {
		return nil, err
	}
	at = at.UTC()
	return &Ticket{
		ID: id, TenantID: tenantID, Spec: s, Requester: by, State: Draft,
		History:   []Transition{{Action: ActionCreate, To: Draft, By: by, At: at}},
		CreatedAt: at, UpdatedAt: at, Version: 1,
	}, nil
}

// who returns why by may change no ticket of the tenant, or "".
func who(by Actor, tenantID string) string {
	switch {
	case by.Role.rank() == 0:
		return fmt.Sprintf("unknown role %q", by.Role)
	case by.Customer() && by.TenantID != tenantID:
		return fmt.Sprintf("the user belongs to tenant %s, not to the ticket's tenant %s", by.TenantID, tenantID)
	case by.Role == RoleViewer:
		return "viewers can read tickets but not change them"
	}
	return ""
}

// decision is what an allowed action does.
type decision struct {
	to      State
	side    Side   // approve: whose approval this is
	pending []Side // approve: the sides still to approve afterwards
}

// decide checks whether by may take act on the ticket at the given time
// under the policy, and what it would do. It changes nothing.
func (t *Ticket) decide(act Action, by Actor, pol policy.Policy, at time.Time) (decision, error) {
	refuse := func(err error, format string, args ...any) (decision, error) {
		return decision{}, &ActionError{Ticket: t.Name(), Action: act, State: t.State, By: by, Err: err, Reason: fmt.Sprintf(format, args...)}
	}
	if reason := who(by, t.TenantID); reason != "" {
		return refuse(ErrForbidden, "%s", reason)
	}
	if by.Customer() && t.Origin != Customer {
		return refuse(ErrForbidden, "customer users act only on changes the customer asked for; this is an internal change of the MSP")
	}
	if t.State.Final() {
		return refuse(ErrInvalidTransition, "the ticket is %s; no action leads out of that state", t.State)
	}
	mspOnly := func(what string) (decision, error) {
		return refuse(ErrForbidden, "%s is the MSP's to do; customer users approve, reject or cancel", what)
	}
	switch act {
	case ActionSubmit:
		if t.State != Draft {
			return refuse(ErrInvalidTransition, "only a draft can be submitted")
		}
		return decision{to: Submitted}, nil

	case ActionReview:
		switch {
		case t.State != Submitted:
			return refuse(ErrInvalidTransition, "only a submitted ticket can be reviewed")
		case by.Customer():
			return mspOnly("the technical review")
		case by.Same(t.Requester):
			return refuse(ErrSelfApproval, "the requester cannot review their own ticket")
		}
		return decision{to: Reviewed}, nil

	case ActionApprove:
		if t.State != Reviewed && !(t.State == Submitted && t.Class == Emergency) {
			return refuse(ErrInvalidTransition, "only a reviewed ticket (or a submitted emergency change) can be approved")
		}
		if !by.Role.AtLeast(RoleApprover) {
			return refuse(ErrForbidden, "approving needs the approver or admin role")
		}
		side := SideMSP
		if by.Customer() {
			side = SideCustomer
			if !pol.IsApprover(by.Email) {
				return refuse(ErrForbidden, "%s is not one of the approvers the tenant's policy names", by.Email)
			}
		}
		if by.Same(t.Requester) {
			return refuse(ErrSelfApproval, "the requester cannot approve their own ticket")
		}
		for _, a := range t.Approvals {
			switch {
			case a.Side == side:
				return refuse(ErrAlreadyApproved, "the %s approval was given by %s at %s", side, a.By.Email, a.At.Format(time.RFC3339))
			case a.By.Same(by):
				return refuse(ErrAlreadyApproved, "%s approved already, for the %s", by.Email, a.Side)
			}
		}
		var pending []Side
		for _, need := range t.NeededApprovals(pol) {
			if need != side && !t.hasApproval(need) {
				pending = append(pending, need)
			}
		}
		to := t.State
		if len(pending) == 0 {
			to = Approved
		}
		return decision{to: to, side: side, pending: pending}, nil

	case ActionReject:
		switch {
		case t.State != Submitted && t.State != Reviewed:
			return refuse(ErrInvalidTransition, "only a submitted or reviewed ticket can be rejected")
		case !by.Role.AtLeast(RoleApprover):
			return refuse(ErrForbidden, "rejecting needs the approver or admin role")
		case by.Customer() && !pol.IsApprover(by.Email):
			return refuse(ErrForbidden, "%s is not one of the approvers the tenant's policy names", by.Email)
		}
		return decision{to: Rejected}, nil

	case ActionStart:
		switch {
		case t.State != Approved:
			return refuse(ErrInvalidTransition, "only an approved ticket can go into implementation")
		case by.Customer():
			return mspOnly("implementation")
		}
		if f, ok := pol.FreezeAt(at); ok && t.Class != Emergency {
			return refuse(ErrFrozen, "freeze %q holds (%s: %s); only emergency changes may start", f.Name, f.Window, f.Reason)
		}
		return decision{to: Implementing}, nil

	case ActionComplete:
		switch {
		case t.State != Implementing:
			return refuse(ErrInvalidTransition, "only a ticket in implementation can be marked implemented")
		case by.Customer():
			return mspOnly("implementation")
		}
		return decision{to: Implemented}, nil

	case ActionDocument:
		switch {
		case t.State != Implemented:
			return refuse(ErrInvalidTransition, "only an implemented ticket can be documented")
		case by.Customer():
			return mspOnly("documentation")
		}
		return decision{to: Documented}, nil

	case ActionCancel:
		switch {
		case t.State == Implemented:
			return refuse(ErrInvalidTransition, "an implemented change cannot be cancelled; roll it back under a new ticket")
		case !by.Same(t.Requester) && !by.Role.AtLeast(RoleApprover):
			return refuse(ErrForbidden, "only the requester or an approver or admin can cancel a ticket")
		}
		return decision{to: Cancelled}, nil

	case ActionAmend:
		return refuse(ErrInvalidTransition, "an amendment needs the new content: use Amend")
	}
	return refuse(ErrInvalidTransition, "unknown action %q", act)
}

// NeededApprovals returns the sides whose approval the ticket needs under
// the policy: always the MSP's, and the customer's too for a customer
// change when the policy requires customer approval.
func (t *Ticket) NeededApprovals(pol policy.Policy) []Side {
	if t.Origin == Customer && pol.CustomerApproval {
		return []Side{SideMSP, SideCustomer}
	}
	return []Side{SideMSP}
}

func (t *Ticket) hasApproval(s Side) bool {
	return slices.ContainsFunc(t.Approvals, func(a Approval) bool { return a.Side == s })
}

// Apply takes an action on the ticket: it checks that by may take it now
// (at) under the tenant's policy, then records the transition and returns
// it. A refused action changes nothing and returns an *ActionError
// matching one of ErrForbidden, ErrInvalidTransition, ErrSelfApproval,
// ErrAlreadyApproved, ErrCommentRequired or ErrFrozen; submitting a ticket
// that lacks what a review needs returns a *ValidationError (ErrInvalid).
//
// An approval that leaves another side's approval outstanding is recorded
// as a transition that keeps the state, with PendingApproval naming the
// side still to approve.
func (t *Ticket) Apply(act Action, by Actor, pol policy.Policy, at time.Time, comment string) (Transition, error) {
	d, err := t.decide(act, by, pol, at)
	if err != nil {
		return Transition{}, err
	}
	comment = strings.TrimSpace(comment)
	if (act == ActionReject || act == ActionCancel) && comment == "" {
		return Transition{}, &ActionError{Ticket: t.Name(), Action: act, State: t.State, By: by, Err: ErrCommentRequired,
			Reason: fmt.Sprintf("say why the ticket is %s", d.to)}
	}
	if at.IsZero() {
		return Transition{}, fmt.Errorf("ticket %s: %s: no time given", t.Name(), act)
	}
	if act == ActionSubmit {
		if err := policy.Problems(t.Spec.problems(true)).Err("submit ticket " + t.Name()); err != nil {
			return Transition{}, err
		}
	}
	at = at.UTC()
	tr := Transition{Action: act, From: t.State, To: d.to, By: by, At: at, Comment: comment, PendingApproval: d.pending}
	switch act {
	case ActionReview:
		t.Review = &Signoff{By: by, At: at, Comment: comment}
	case ActionApprove:
		t.Approvals = append(slices.Clip(t.Approvals), Approval{Side: d.side, Signoff: Signoff{By: by, At: at, Comment: comment}})
	}
	t.PendingApproval = d.pending
	t.record(tr)
	return tr, nil
}

// record appends a transition and moves the ticket to its state. The
// history gets a new array, so copies of the ticket do not share it.
func (t *Ticket) record(tr Transition) {
	t.State = tr.To
	t.History = append(slices.Clip(t.History), tr)
	t.UpdatedAt = tr.At
	t.Version++
}

// Allowed returns the actions by may take on the ticket now, in the order
// of Actions: the buttons a page shows. Submit is listed even when the
// ticket still lacks what submitting needs (the attempt says what), and
// reject and cancel even though they need a comment.
func (t *Ticket) Allowed(by Actor, pol policy.Policy, at time.Time) []Action {
	var out []Action
	for _, act := range Actions {
		var err error
		if act == ActionAmend {
			err = t.mayAmend(by)
		} else {
			_, err = t.decide(act, by, pol, at)
		}
		if err == nil {
			out = append(out, act)
		}
	}
	return out
}

// mayAmend checks whether by may amend the ticket in its state at all.
func (t *Ticket) mayAmend(by Actor) error {
	refuse := func(err error, format string, args ...any) error {
		return &ActionError{Ticket: t.Name(), Action: ActionAmend, State: t.State, By: by, Err: err, Reason: fmt.Sprintf(format, args...)}
	}
	if reason := who(by, t.TenantID); reason != "" {
		return refuse(ErrForbidden, "%s", reason)
	}
	if by.Customer() && t.Origin != Customer {
		return refuse(ErrForbidden, "customer users act only on changes the customer asked for; this is an internal change of the MSP")
	}
	switch t.State {
	case Draft, Submitted, Reviewed, Approved, Implementing:
		return nil
	}
	return refuse(ErrInvalidTransition, "a ticket that is %s cannot be amended; raise a new ticket", t.State)
}

// Amend replaces the ticket's spec with s. Changing what the ticket
// authorizes (origin, class, scope or window) after a review or an
// approval withdraws them and sends the ticket back to submitted; during
// implementation it is refused (cancel and raise a new ticket). Changing
// only the description, notify list and the like keeps the state. The
// transition lists the changed fields; an amendment that changes nothing
// records nothing and returns a zero Transition. Once submitted, the spec
// must pass ValidateForSubmit.
func (t *Ticket) Amend(s Spec, by Actor, pol policy.Policy, at time.Time, comment string) (Transition, error) {
	if err := t.mayAmend(by); err != nil {
		return Transition{}, err
	}
	if at.IsZero() {
		return Transition{}, fmt.Errorf("ticket %s: amend: no time given", t.Name())
	}
	s = s.clone()
	if s.Origin == "" {
		s.Origin = t.Origin
	}
	s.normalize(by, pol)
	refuse := func(err error, format string, args ...any) (Transition, error) {
		return Transition{}, &ActionError{Ticket: t.Name(), Action: ActionAmend, State: t.State, By: by, Err: err, Reason: fmt.Sprintf(format, args...)}
	}
	if by.Customer() && s.Origin != Customer {
		return refuse(ErrForbidden, "customer users raise changes of origin %q only", Customer)
	}
	if err := policy.Problems(s.problems(t.State != Draft)).Err("amend ticket " + t.Name()); err != nil {
		return Transition{}, err
	}
	mat := material(&t.Spec, &s)
	changed := append(mat, descriptive(&t.Spec, &s)...)
	if len(changed) == 0 {
		return Transition{}, nil
	}
	to := t.State
	if len(mat) > 0 {
		if t.State == Implementing {
			return refuse(ErrInvalidTransition, "the %s of a change in implementation cannot change; cancel it and raise a new ticket", strings.Join(mat, ", "))
		}
		if t.Review != nil || len(t.Approvals) > 0 {
			to = Submitted
			t.Review, t.Approvals, t.PendingApproval = nil, nil, nil
		}
	}
	at = at.UTC()
	t.Spec = s
	tr := Transition{Action: ActionAmend, From: t.State, To: to, By: by, At: at, Comment: strings.TrimSpace(comment), Changed: changed}
	t.record(tr)
	return tr, nil
}

// Clone returns a deep copy of the ticket.
func (t *Ticket) Clone() *Ticket {
	c := *t
	c.Spec = t.Spec.clone()
	if t.Review != nil {
		r := *t.Review
		c.Review = &r
	}
	c.Approvals = slices.Clone(t.Approvals)
	c.PendingApproval = slices.Clone(t.PendingApproval)
	c.History = slices.Clone(t.History)
	for i := range c.History {
		c.History[i].PendingApproval = slices.Clone(c.History[i].PendingApproval)
		c.History[i].Changed = slices.Clone(c.History[i].Changed)
	}
	return &c
}
