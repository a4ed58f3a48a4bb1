package ticket

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
)

var (
	t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

	mspEng     = Actor{ID: "u_eng", Email: "eng@msp.example", Role: RoleEngineer}
	mspEng2    = Actor{ID: "u_eng2", Email: "eng2@msp.example", Role: RoleEngineer}
	mspAppr    = Actor{ID: "u_appr", Email: "appr@msp.example", Role: RoleApprover}
	mspAdmin   = Actor{ID: "u_admin", Email: "admin@msp.example", Role: RoleAdmin}
	mspViewer  = Actor{ID: "u_view", Email: "view@msp.example", Role: RoleViewer}
	custEng    = Actor{ID: "c_eng", Email: "eng@acme.example", Role: RoleEngineer, TenantID: "acme"}
	custAppr   = Actor{ID: "c_appr", Email: "appr@acme.example", Role: RoleApprover, TenantID: "acme"}
	custBoss   = Actor{ID: "c_boss", Email: "boss@acme.example", Role: RoleAdmin, TenantID: "acme"}
	custViewer = Actor{ID: "c_view", Email: "view@acme.example", Role: RoleViewer, TenantID: "acme"}
	otherAppr  = Actor{ID: "g_appr", Email: "appr@globex.example", Role: RoleApprover, TenantID: "globex"}
)

// polCustomer requires the customer's approval for customer changes, and
// has a freeze over the first week of April.
func polCustomer() policy.Policy {
	p := policy.Default()
	p.CustomerApproval = true
	p.Freezes = []policy.Freeze{{Name: "quarter-close", Window: policy.Window{Start: "2025-04-01T00:00", End: "2025-04-08T00:00", TimeZone: "UTC"}, Reason: "quarter closing"}}
	return p
}

func polNoCustomer() policy.Policy {
	p := polCustomer()
	p.CustomerApproval = false
	return p
}

// spec is a complete change, ready to submit.
func spec() Spec {
	return Spec{
		Reference:    "CHG0030001",
		Title:        "Raise nginx worker_connections to 4096",
		Description:  "The web tier drops connections at peak; raise the limit.",
		Impact:       "nginx reloads; no downtime expected.",
		RollbackPlan: "Restore nginx.conf from the previous baseline and reload.",
		Scope: Scope{
			Hosts:  []string{"web-01", "web-02"},
			Labels: []string{"role=web", "env=prod"},
			Items:  []string{"file:/etc/nginx/**", "service:nginx"},
		},
		Window: &policy.Window{Start: "2025-03-08T22:00", End: "2025-03-09T02:00", TimeZone: "Europe/Berlin"},
		Notify: []string{"noc@msp.example"},
	}
}

// ticketIn returns a ticket raised by requester and put straight into
// state, with the review and approvals that state implies.
func ticketIn(t *testing.T, state State, origin Origin, class Class, requester Actor) *Ticket {
	t.Helper()
	s := spec()
	s.Origin, s.Class = origin, class
	tk, err := New("t_1", "acme", s, requester, polCustomer(), t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tk.State = state
	if slices.Index(States, state) >= slices.Index(States, Reviewed) && state != Rejected && state != Cancelled {
		tk.Review = &Signoff{By: mspEng2, At: t0.Add(-30 * time.Minute)}
	}
	if state.Authorizes() {
		tk.Approvals = []Approval{{Side: SideMSP, Signoff: Signoff{By: mspAppr, At: t0.Add(-20 * time.Minute)}}}
		if origin == Customer {
			tk.Approvals = append(tk.Approvals, Approval{Side: SideCustomer, Signoff: Signoff{By: custBoss, At: t0.Add(-10 * time.Minute)}})
		}
	}
	return tk
}

// TestTransitionMatrix takes every action in every state, as an admin of
// the MSP who did not raise the ticket, and checks where it leads, or that
// it is refused as an invalid transition.
func TestTransitionMatrix(t *testing.T) {
	next := map[Class]map[State]map[Action]State{
		Normal: {
			Draft:        {ActionSubmit: Submitted, ActionCancel: Cancelled},
			Submitted:    {ActionReview: Reviewed, ActionReject: Rejected, ActionCancel: Cancelled},
			Reviewed:     {ActionApprove: Approved, ActionReject: Rejected, ActionCancel: Cancelled},
			Approved:     {ActionStart: Implementing, ActionCancel: Cancelled},
			Implementing: {ActionComplete: Implemented, ActionCancel: Cancelled},
			Implemented:  {ActionDocument: Documented},
		},
		Emergency: {
			Draft:        {ActionSubmit: Submitted, ActionCancel: Cancelled},
			Submitted:    {ActionReview: Reviewed, ActionApprove: Approved, ActionReject: Rejected, ActionCancel: Cancelled},
			Reviewed:     {ActionApprove: Approved, ActionReject: Rejected, ActionCancel: Cancelled},
			Approved:     {ActionStart: Implementing, ActionCancel: Cancelled},
			Implementing: {ActionComplete: Implemented, ActionCancel: Cancelled},
			Implemented:  {ActionDocument: Documented},
		},
	}
	next[Standard] = next[Normal]
	acts := []Action{ActionCreate, ActionSubmit, ActionReview, ActionApprove, ActionReject, ActionStart, ActionComplete, ActionDocument, ActionAmend, ActionCancel}
	for class, table := range next {
		for _, state := range States {
			for _, act := range acts {
				t.Run(fmt.Sprintf("%s/%s/%s", class, state, act), func(t *testing.T) {
					tk := ticketIn(t, state, Internal, class, mspEng)
					before := tk.Clone()
					tr, err := tk.Apply(act, mspAdmin, polCustomer(), t0, "as planned")
					want, ok := table[state][act]
					if !ok {
						if !errors.Is(err, ErrInvalidTransition) {
							t.Fatalf("Apply = %v, want ErrInvalidTransition", err)
						}
						if diff := cmp.Diff(before, tk); diff != "" {
							t.Errorf("a refused action changed the ticket (-before +after):\n%s", diff)
						}
						return
					}
					if err != nil {
						t.Fatalf("Apply: %v", err)
					}
					wantTr := Transition{Action: act, From: state, To: want, By: mspAdmin, At: t0, Comment: "as planned"}
					if diff := cmp.Diff(wantTr, tr); diff != "" {
						t.Errorf("transition (-want +got):\n%s", diff)
					}
					if tk.State != want || tk.Version != before.Version+1 || !tk.UpdatedAt.Equal(t0) {
						t.Errorf("ticket is %s v%d updated %s; want %s v%d updated %s", tk.State, tk.Version, tk.UpdatedAt, want, before.Version+1, t0)
					}
					if got := tk.History[len(tk.History)-1]; !cmp.Equal(got, tr) {
						t.Errorf("last history entry %+v, want the transition %+v", got, tr)
					}
				})
			}
		}
	}
}

func TestWhoMayAct(t *testing.T) {
	inFreeze := time.Date(2025, 4, 2, 10, 0, 0, 0, time.UTC)
	approvedBy := func(side Side, by Actor) func(*Ticket) {
		return func(tk *Ticket) {
			tk.Approvals = append(tk.Approvals, Approval{Side: side, Signoff: Signoff{By: by, At: t0.Add(-time.Minute)}})
		}
	}
	listed := polCustomer()
	listed.Approvers = []string{"BOSS@acme.example"}
	tests := []struct {
		name      string
		state     State
		origin    Origin // default internal
		class     Class  // default normal
		requester Actor  // default mspEng
		setup     func(*Ticket)
		pol       *policy.Policy // default polCustomer
		by        Actor
		act       Action
		at        time.Time // default t0
		comment   string    // default "ok"
		noComment bool
		want      State  // on success
		pending   []Side // on success
		err       error
	}{
		// Viewers, roles and tenants.
		{name: "viewer cannot submit", state: Draft, by: mspViewer, act: ActionSubmit, err: ErrForbidden},
		{name: "viewer cannot approve", state: Reviewed, by: mspViewer, act: ActionApprove, err: ErrForbidden},
		{name: "viewer cannot cancel", state: Approved, by: mspViewer, act: ActionCancel, err: ErrForbidden},
		{name: "customer viewer cannot approve", state: Reviewed, origin: Customer, by: custViewer, act: ActionApprove, err: ErrForbidden},
		{name: "unknown role", state: Draft, by: Actor{ID: "x", Email: "x@msp.example", Role: "root"}, act: ActionSubmit, err: ErrForbidden},
		{name: "engineer cannot approve", state: Reviewed, by: mspEng2, act: ActionApprove, err: ErrForbidden},
		{name: "engineer cannot reject", state: Submitted, by: mspEng2, act: ActionReject, err: ErrForbidden},
		{name: "engineer submits", state: Draft, by: mspEng2, act: ActionSubmit, want: Submitted},
		{name: "engineer starts", state: Approved, by: mspEng2, act: ActionStart, want: Implementing},
		{name: "engineer completes", state: Implementing, by: mspEng2, act: ActionComplete, want: Implemented},
		{name: "engineer documents", state: Implemented, by: mspEng2, act: ActionDocument, want: Documented},
		{name: "other tenant's approver cannot approve", state: Reviewed, origin: Customer, by: otherAppr, act: ActionApprove, err: ErrForbidden},
		{name: "other tenant's approver cannot reject", state: Reviewed, origin: Customer, by: otherAppr, act: ActionReject, err: ErrForbidden},
		{name: "customer cannot approve an internal change", state: Reviewed, by: custAppr, act: ActionApprove, err: ErrForbidden},
		{name: "customer cannot cancel an internal change", state: Reviewed, by: custBoss, act: ActionCancel, err: ErrForbidden},
		{name: "customer engineer submits a customer change", state: Draft, origin: Customer, requester: custEng, by: custEng, act: ActionSubmit, want: Submitted},
		{name: "customer cannot review", state: Submitted, origin: Customer, requester: custEng, by: custBoss, act: ActionReview, err: ErrForbidden},
		{name: "customer cannot start", state: Approved, origin: Customer, by: custBoss, act: ActionStart, err: ErrForbidden},
		{name: "customer cannot complete", state: Implementing, origin: Customer, by: custBoss, act: ActionComplete, err: ErrForbidden},
		{name: "customer cannot document", state: Implemented, origin: Customer, by: custBoss, act: ActionDocument, err: ErrForbidden},

		// Four eyes.
		{name: "self-review", state: Submitted, by: mspEng, act: ActionReview, err: ErrSelfApproval},
		{name: "review by another engineer", state: Submitted, by: mspEng2, act: ActionReview, want: Reviewed},
		{name: "self-approval", state: Reviewed, requester: mspAppr, by: mspAppr, act: ActionApprove, err: ErrSelfApproval},
		{name: "self-approval with a second account", state: Reviewed, requester: custBoss, origin: Customer,
			by: Actor{ID: "u_other", Email: "Boss@Acme.example", Role: RoleAdmin}, act: ActionApprove, err: ErrSelfApproval},
		{name: "customer self-approval", state: Reviewed, origin: Customer, requester: custAppr, by: custAppr, act: ActionApprove, err: ErrSelfApproval},
		{name: "self-approval of an emergency change", state: Submitted, class: Emergency, requester: mspAdmin, by: mspAdmin, act: ActionApprove, err: ErrSelfApproval},

		// Approvals on both sides.
		{name: "internal change needs the MSP only", state: Reviewed, by: mspAppr, act: ActionApprove, want: Approved},
		{name: "customer change, MSP approves first", state: Reviewed, origin: Customer, by: mspAppr, act: ActionApprove,
			want: Reviewed, pending: []Side{SideCustomer}},
		{name: "customer change, customer approves first", state: Reviewed, origin: Customer, by: custAppr, act: ActionApprove,
			want: Reviewed, pending: []Side{SideMSP}},
		{name: "customer change, customer approves second", state: Reviewed, origin: Customer, setup: approvedBy(SideMSP, mspAppr),
			by: custAppr, act: ActionApprove, want: Approved},
		{name: "customer change, MSP approves second", state: Reviewed, origin: Customer, setup: approvedBy(SideCustomer, custAppr),
			by: mspAdmin, act: ActionApprove, want: Approved},
		{name: "customer change without customer approval in policy", state: Reviewed, origin: Customer, pol: ptr(polNoCustomer()),
			by: mspAppr, act: ActionApprove, want: Approved},
		{name: "customer approval alone never suffices", state: Reviewed, origin: Customer, pol: ptr(polNoCustomer()),
			by: custAppr, act: ActionApprove, want: Reviewed, pending: []Side{SideMSP}},
		{name: "second customer approval", state: Reviewed, origin: Customer, setup: approvedBy(SideCustomer, custAppr),
			by: custBoss, act: ActionApprove, err: ErrAlreadyApproved},
		{name: "second MSP approval", state: Reviewed, origin: Customer, setup: approvedBy(SideMSP, mspAppr),
			by: mspAdmin, act: ActionApprove, err: ErrAlreadyApproved},
		{name: "customer approver not in the policy's list", state: Reviewed, origin: Customer, pol: &listed,
			by: custAppr, act: ActionApprove, err: ErrForbidden},
		{name: "customer approver in the policy's list", state: Reviewed, origin: Customer, pol: &listed,
			by: custBoss, act: ActionApprove, want: Reviewed, pending: []Side{SideMSP}},
		{name: "customer approver not in the list cannot reject", state: Reviewed, origin: Customer, pol: &listed,
			by: custAppr, act: ActionReject, err: ErrForbidden},
		{name: "customer rejects", state: Reviewed, origin: Customer, by: custAppr, act: ActionReject, want: Rejected},

		// Emergency changes.
		{name: "normal change cannot skip review", state: Submitted, by: mspAppr, act: ActionApprove, err: ErrInvalidTransition},
		{name: "emergency change skips review", state: Submitted, class: Emergency, by: mspAppr, act: ActionApprove, want: Approved},
		{name: "emergency customer change still needs the customer", state: Submitted, class: Emergency, origin: Customer,
			by: mspAppr, act: ActionApprove, want: Submitted, pending: []Side{SideCustomer}},

		// Freezes.
		{name: "start in a freeze", state: Approved, by: mspEng2, act: ActionStart, at: inFreeze, err: ErrFrozen},
		{name: "standard change cannot start in a freeze", state: Approved, class: Standard, by: mspAdmin, act: ActionStart, at: inFreeze, err: ErrFrozen},
		{name: "emergency starts in a freeze", state: Approved, class: Emergency, by: mspEng2, act: ActionStart, at: inFreeze, want: Implementing},

		// Cancelling and comments.
		{name: "requester cancels", state: Reviewed, by: mspEng, act: ActionCancel, want: Cancelled},
		{name: "customer requester cancels", state: Submitted, origin: Customer, requester: custEng, by: custEng, act: ActionCancel, want: Cancelled},
		{name: "another engineer cannot cancel", state: Reviewed, by: mspEng2, act: ActionCancel, err: ErrForbidden},
		{name: "approver cancels", state: Implementing, by: mspAppr, act: ActionCancel, want: Cancelled},
		{name: "cancel needs a comment", state: Draft, by: mspEng, act: ActionCancel, noComment: true, err: ErrCommentRequired},
		{name: "reject needs a comment", state: Reviewed, by: mspAppr, act: ActionReject, comment: "  ", err: ErrCommentRequired},
		{name: "implemented cannot be cancelled", state: Implemented, by: mspAdmin, act: ActionCancel, err: ErrInvalidTransition},
		{name: "rejected stays rejected", state: Rejected, by: mspAdmin, act: ActionSubmit, err: ErrInvalidTransition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin, class, requester, pol, at, comment := tt.origin, tt.class, tt.requester, polCustomer(), tt.at, tt.comment
			if origin == "" {
				origin = Internal
			}
			if class == "" {
				class = Normal
			}
			if requester == (Actor{}) {
				requester = mspEng
			}
			if tt.pol != nil {
				pol = *tt.pol
			}
			if at.IsZero() {
				at = t0
			}
			if comment == "" && !tt.noComment {
				comment = "ok"
			}
			tk := ticketIn(t, tt.state, origin, class, requester)
			if tt.setup != nil {
				tt.setup(tk)
			}
			before := tk.Clone()
			allowed := slices.Contains(tk.Allowed(tt.by, pol, at), tt.act)
			tr, err := tk.Apply(tt.act, tt.by, pol, at, comment)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Apply = %v, want %v", err, tt.err)
				}
				var ae *ActionError
				if !errors.As(err, &ae) || ae.Reason == "" {
					t.Errorf("error %v is not an *ActionError with a reason", err)
				}
				if diff := cmp.Diff(before, tk); diff != "" {
					t.Errorf("a refused action changed the ticket (-before +after):\n%s", diff)
				}
				if allowed && tt.err != ErrCommentRequired {
					t.Errorf("Allowed lists %s, which Apply refuses", tt.act)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !allowed {
				t.Errorf("Allowed does not list %s, which Apply takes", tt.act)
			}
			if tr.From != tt.state || tr.To != tt.want || tk.State != tt.want {
				t.Errorf("transition %s → %s, ticket %s; want %s → %s", tr.From, tr.To, tk.State, tt.state, tt.want)
			}
			if diff := cmp.Diff(tt.pending, tr.PendingApproval); diff != "" {
				t.Errorf("transition's pending approvals (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.pending, tk.PendingApproval); diff != "" {
				t.Errorf("ticket's pending approvals (-want +got):\n%s", diff)
			}
			if tr.By != tt.by || !tr.At.Equal(at) || tr.Comment != comment {
				t.Errorf("transition records %v at %s %q; want %v at %s %q", tr.By, tr.At, tr.Comment, tt.by, at, comment)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestCustomerChangeFlow walks a customer change through the whole
// workflow, as the people involved would.
func TestCustomerChangeFlow(t *testing.T) {
	pol := polCustomer()
	s := spec()
	tk, err := New("t_42", "acme", s, custEng, pol, t0)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Origin != Customer || tk.Class != Normal {
		t.Fatalf("a customer's ticket is %s/%s, want customer/normal", tk.Origin, tk.Class)
	}
	steps := []struct {
		by      Actor
		act     Action
		state   State
		pending []Side
	}{
		{custEng, ActionSubmit, Submitted, nil},
		{mspEng, ActionReview, Reviewed, nil},
		{custAppr, ActionApprove, Reviewed, []Side{SideMSP}},
		{mspAppr, ActionApprove, Approved, nil},
		{mspEng, ActionStart, Implementing, nil},
		{mspEng, ActionComplete, Implemented, nil},
		{mspEng2, ActionDocument, Documented, nil},
	}
	at := t0
	for _, st := range steps {
		at = at.Add(time.Hour)
		if _, err := tk.Apply(st.act, st.by, pol, at, ""); err != nil {
			t.Fatalf("%s by %s: %v", st.act, st.by, err)
		}
		if tk.State != st.state || !slices.Equal(tk.PendingApproval, st.pending) {
			t.Fatalf("after %s by %s: %s pending %v; want %s pending %v", st.act, st.by, tk.State, tk.PendingApproval, st.state, st.pending)
		}
	}
	if len(tk.History) != len(steps)+1 || tk.Version != len(steps)+1 {
		t.Errorf("history has %d entries, version %d; want %d", len(tk.History), tk.Version, len(steps)+1)
	}
	if got := len(tk.Allowed(mspAdmin, pol, at)); got != 0 {
		t.Errorf("a documented ticket allows %v", tk.Allowed(mspAdmin, pol, at))
	}
	sides := []Side{}
	for _, a := range tk.Approvals {
		sides = append(sides, a.Side)
	}
	if !slices.Equal(sides, []Side{SideCustomer, SideMSP}) || tk.Review.By != mspEng {
		t.Errorf("approvals %v, review by %v", sides, tk.Review.By)
	}
}

func TestAllowed(t *testing.T) {
	tk := ticketIn(t, Reviewed, Customer, Normal, mspEng)
	pol := polCustomer()
	tests := []struct {
		by   Actor
		want []Action
	}{
		{mspAppr, []Action{ActionApprove, ActionReject, ActionAmend, ActionCancel}},
		{custAppr, []Action{ActionApprove, ActionReject, ActionAmend, ActionCancel}},
		{mspEng, []Action{ActionAmend, ActionCancel}}, // the requester
		{mspEng2, []Action{ActionAmend}},
		{custEng, []Action{ActionAmend}},
		{mspViewer, nil},
		{custViewer, nil},
		{otherAppr, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tk.Allowed(tt.by, pol, t0)); diff != "" {
			t.Errorf("Allowed(%v) (-want +got):\n%s", tt.by, diff)
		}
	}
}

// TestAllowedAgreesWithApply checks, for every state, actor and action,
// that Allowed lists exactly the actions Apply takes.
func TestAllowedAgreesWithApply(t *testing.T) {
	actors := []Actor{mspEng, mspEng2, mspAppr, mspAdmin, mspViewer, custEng, custAppr, custBoss, custViewer, otherAppr}
	for _, origin := range []Origin{Internal, Customer} {
		for _, class := range Classes {
			for _, state := range States {
				for _, by := range actors {
					pol := polCustomer()
					allowed := ticketIn(t, state, origin, class, mspEng).Allowed(by, pol, t0)
					for _, act := range Actions {
						if act == ActionAmend {
							continue
						}
						tk := ticketIn(t, state, origin, class, mspEng)
						_, err := tk.Apply(act, by, pol, t0, "why")
						if got := slices.Contains(allowed, act); got != (err == nil) {
							t.Errorf("%s %s %s, %v, %s: Allowed says %v, Apply says %v", origin, class, state, by, act, got, err)
						}
					}
				}
			}
		}
	}
}

func TestNew(t *testing.T) {
	pol := polCustomer()
	pol.DefaultTimeZone = "Asia/Tokyo"
	s := spec()
	s.Window.TimeZone = ""
	s.Title = "  Raise limits  "
	tk, err := New("t_9", "acme", s, mspEng, pol, t0)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Origin != Internal || tk.Class != Normal || tk.Window.TimeZone != "Asia/Tokyo" || tk.Title != "Raise limits" {
		t.Errorf("defaults: origin %s class %s zone %s title %q", tk.Origin, tk.Class, tk.Window.TimeZone, tk.Title)
	}
	if s.Window.TimeZone != "" {
		t.Error("New changed the caller's spec")
	}
	want := []Transition{{Action: ActionCreate, To: Draft, By: mspEng, At: t0}}
	if diff := cmp.Diff(want, tk.History); diff != "" || tk.State != Draft || tk.Version != 1 || tk.Requester != mspEng {
		t.Errorf("new ticket %s v%d by %v, history (-want +got):\n%s", tk.State, tk.Version, tk.Requester, diff)
	}

	refused := []struct {
		name   string
		origin Origin
		by     Actor
		err    error
	}{
		{"viewer", "", mspViewer, ErrForbidden},
		{"customer raising an internal change", Internal, custEng, ErrForbidden},
		{"user of another tenant", "", otherAppr, ErrForbidden},
	}
	for _, tt := range refused {
		s := spec()
		s.Origin = tt.origin
		if _, err := New("t_9", "acme", s, tt.by, pol, t0); !errors.Is(err, tt.err) {
			t.Errorf("%s: New = %v, want %v", tt.name, err, tt.err)
		}
	}
	if _, err := New("", "acme", spec(), mspEng, pol, t0); err == nil {
		t.Error("New without an ID succeeded")
	}
}

func TestSubmitIncomplete(t *testing.T) {
	tk, err := New("t_3", "acme", Spec{Title: "Tune sysctls"}, mspEng, polCustomer(), t0)
	if err != nil {
		t.Fatalf("a draft with only a title: %v", err)
	}
	_, err = tk.Apply(ActionSubmit, mspEng, polCustomer(), t0, "")
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("submit = %v, want a *ValidationError", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	want := []string{"description", "impact", "rollback_plan", "scope.hosts", "scope.items", "window"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if tk.State != Draft || len(tk.History) != 1 {
		t.Errorf("a refused submit left the ticket %s with %d history entries", tk.State, len(tk.History))
	}
}

func TestAmend(t *testing.T) {
	pol := polCustomer()
	later := t0.Add(time.Hour)
	t.Run("moving the window withdraws the approvals", func(t *testing.T) {
		tk := ticketIn(t, Approved, Customer, Normal, mspEng)
		s := tk.Spec.clone()
		s.Window.Start, s.Window.End = "2025-03-15T22:00", "2025-03-16T02:00"
		tr, err := tk.Amend(s, mspEng, pol, later, "vendor postponed")
		if err != nil {
			t.Fatal(err)
		}
		want := Transition{Action: ActionAmend, From: Approved, To: Submitted, By: mspEng, At: later, Comment: "vendor postponed", Changed: []string{"window"}}
		if diff := cmp.Diff(want, tr); diff != "" {
			t.Errorf("transition (-want +got):\n%s", diff)
		}
		if tk.State != Submitted || tk.Review != nil || tk.Approvals != nil || tk.Window.Start != "2025-03-15T22:00" {
			t.Errorf("after amending: %s, review %v, approvals %v, window %v", tk.State, tk.Review, tk.Approvals, tk.Window)
		}
	})
	t.Run("pending approval is withdrawn too", func(t *testing.T) {
		tk := ticketIn(t, Submitted, Customer, Emergency, mspEng)
		if _, err := tk.Apply(ActionApprove, mspAppr, pol, t0, ""); err != nil {
			t.Fatal(err)
		}
		s := tk.Spec.clone()
		s.Scope.Items = append(s.Scope.Items, "package:nginx")
		if _, err := tk.Amend(s, mspEng, pol, later, ""); err != nil {
			t.Fatal(err)
		}
		if tk.State != Submitted || len(tk.Approvals) != 0 || len(tk.PendingApproval) != 0 {
			t.Errorf("after amending: %s, approvals %v, pending %v", tk.State, tk.Approvals, tk.PendingApproval)
		}
	})
	t.Run("wording keeps the approval", func(t *testing.T) {
		tk := ticketIn(t, Approved, Internal, Normal, mspEng)
		s := tk.Spec.clone()
		s.Description += " Measured at 3,800 connections."
		s.Notify = append(s.Notify, "web-team@msp.example")
		tr, err := tk.Amend(s, mspEng2, pol, later, "")
		if err != nil {
			t.Fatal(err)
		}
		if tk.State != Approved || len(tk.Approvals) != 1 || !slices.Equal(tr.Changed, []string{"description", "notify"}) {
			t.Errorf("after amending: %s, approvals %v, changed %v", tk.State, tk.Approvals, tr.Changed)
		}
	})
	t.Run("nothing changed", func(t *testing.T) {
		tk := ticketIn(t, Reviewed, Internal, Normal, mspEng)
		tr, err := tk.Amend(tk.Spec.clone(), mspEng, pol, later, "")
		if err != nil || !cmp.Equal(tr, Transition{}) || tk.Version != 1 {
			t.Errorf("Amend with no change = %+v, %v; version %d", tr, err, tk.Version)
		}
	})
	refused := []struct {
		name  string
		state State
		by    Actor
		edit  func(*Spec)
		err   error
	}{
		{"scope during implementation", Implementing, mspEng, func(s *Spec) { s.Scope.Hosts = []string{"web-03"} }, ErrInvalidTransition},
		{"after implementation", Implemented, mspEng, func(s *Spec) { s.Title = "x" }, ErrInvalidTransition},
		{"viewer", Draft, mspViewer, func(s *Spec) { s.Title = "x" }, ErrForbidden},
		{"bad pattern", Submitted, mspEng, func(s *Spec) { s.Scope.Items = []string{"nginx.conf"} }, ErrInvalid},
		{"emptied once submitted", Submitted, mspEng, func(s *Spec) { s.RollbackPlan = "" }, ErrInvalid},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			tk := ticketIn(t, tt.state, Internal, Normal, mspEng)
			before := tk.Clone()
			s := tk.Spec.clone()
			tt.edit(&s)
			if _, err := tk.Amend(s, tt.by, pol, later, ""); !errors.Is(err, tt.err) {
				t.Fatalf("Amend = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(before, tk); diff != "" {
				t.Errorf("a refused amendment changed the ticket (-before +after):\n%s", diff)
			}
		})
	}
	t.Run("customer cannot make a change internal", func(t *testing.T) {
		tk := ticketIn(t, Draft, Customer, Normal, custEng)
		s := tk.Spec.clone()
		s.Origin = Internal
		if _, err := tk.Amend(s, custEng, pol, later, ""); !errors.Is(err, ErrForbidden) {
			t.Errorf("Amend = %v, want ErrForbidden", err)
		}
	})
}

// TestNamesInStep keeps the policy's list of class names, which escalation
// rules are checked against, equal to the classes.
func TestNamesInStep(t *testing.T) {
	var names []string
	for _, c := range Classes {
		names = append(names, string(c))
	}
	if diff := cmp.Diff(policy.ClassNames, names); diff != "" {
		t.Errorf("policy.ClassNames (-policy +ticket):\n%s", diff)
	}
}
