package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Tickets is where a Syncer keeps the tickets it imports.
// ManagerTickets implements it over changes.Manager's store.
type Tickets interface {
	// ByReference returns the tenant's ticket with the external
	// reference, or nil and no error when there is none.
	ByReference(ctx context.Context, tenantID, ref string) (*ticket.Ticket, error)
	// Create stores a new ticket (Version 1) with an audit entry by
	// actor.
	Create(ctx context.Context, tk *ticket.Ticket, actor string) error
	// Update stores a changed ticket whose Version is one more than the
	// stored one; it fails when the stored ticket changed meanwhile.
	Update(ctx context.Context, tk *ticket.Ticket, actor string) error
	// Reconcile judges the tenant's outstanding drift again after
	// tickets changed.
	Reconcile(ctx context.Context, tenantID, reason string) error
	// Implemented is called, after Reconcile, for every ticket an import
	// moved into implemented or documented, so that the drift it
	// authorized becomes part of the hosts' baselines.
	Implemented(ctx context.Context, tk *ticket.Ticket, actor string) error
}

// State is what a Syncer keeps between polls.
type State struct {
	// Cursor is where the next poll resumes.
	Cursor Cursor `json:"cursor"`
	// Hashes are the content hashes of the records imported, by
	// reference: a record with the same hash is not imported again.
	Hashes map[string]string `json:"hashes,omitempty"`
	// Status is the connector's last known status.
	Status Status `json:"status"`
}

// StateStore keeps each connector's State. Load returns the zero State
// when the connector has none yet. Save replaces it whole. Both are
// called from one goroutine per connector.
type StateStore interface {
	Load(ctx context.Context, connector string) (State, error)
	Save(ctx context.Context, connector string, st State) error
}

// Status is a connector's health for the web report.
type Status struct {
	Connector string `json:"connector"`
	Kind      string `json:"kind"`
	TenantID  string `json:"tenant_id"`
	// LastAttempt and LastSuccess are when a poll last started and last
	// completed without error; zero when never.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError is the last poll's error, empty after a success; it never
	// holds credentials. LastErrorAt is when it happened.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// AuthFailed is true while the last error was refused credentials.
	AuthFailed bool `json:"auth_failed,omitempty"`
	// Failures counts the polls that failed in a row.
	Failures int `json:"failures,omitempty"`
	// Created, Updated, Unchanged and Rejected count records since the
	// collector started keeping this state.
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Rejected  int `json:"rejected"`
	// Rejects are the records the last poll rejected, and why.
	Rejects []Reject `json:"rejects,omitempty"`
}

// Reject is a record that was not imported.
type Reject struct {
	Reference string `json:"reference"`
	Reason    string `json:"reason"`
}

// Stale reports whether the connector has not succeeded for longer than
// three poll intervals (or ever) at now.
func (s Status) Stale(now time.Time, poll time.Duration) bool {
	if s.LastSuccess.IsZero() {
		return true
	}
	return now.Sub(s.LastSuccess) > 3*poll
}

// Result is what one sync did.
type Result struct {
	Created, Updated, Unchanged int
	// Rejects are the records not imported.
	Rejects []Reject
}

// Syncer imports one Source's records into one tenant's tickets.
type Syncer struct {
	// Source is polled; required.
	Source Source
	// TenantID is the tenant the tickets belong to; required.
	TenantID string
	// Tickets is where tickets are kept; required.
	Tickets Tickets
	// State keeps the cursor, the hashes and the status; required.
	State StateStore
	// Poll is the interval between polls; 5 minutes when zero.
	Poll time.Duration
	// MaxBackoff bounds the wait after failures; 1 hour when zero.
	MaxBackoff time.Duration
	// Log receives what the syncer does; nil logs nothing.
	Log *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits between polls; Sleep when nil.
	Sleep Sleeper
	// Lease, when set, makes Run poll only while this collector holds
	// the connector's lease, so that of several collectors sharing a
	// store one polls at a time; the others check again every Poll
	// interval and take over once the holder's lease expires. Webhook
	// deliveries are imported by whichever collector receives them.
	Lease Leaser
	// LeaseTerm is how long a claimed lease lasts; twice Poll plus ten
	// minutes when zero, so that the holder renews it before each poll.
	LeaseTerm time.Duration

	// mu serializes syncs (the poll loop and webhook deliveries) and
	// guards status.
	mu     sync.Mutex
	status Status
}

// DefaultPoll is the poll interval when none is configured.
const DefaultPoll = 5 * time.Minute

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Syncer) log() *zap.Logger {
	if s.Log == nil {
		return zap.NewNop()
	}
	return s.Log
}

func (s *Syncer) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return DefaultPoll
}

// Status returns the connector's current status.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Rejects = slices.Clone(st.Rejects)
	return st
}

// actor is who imported tickets are recorded as.
func (s *Syncer) actor() ticket.Actor {
	return ticket.Actor{Email: "connector:" + s.Source.Name(), Role: ticket.RoleEngineer}
}

// Run polls until ctx is done: every Poll interval after a success, and
// after a failure with a backoff that doubles from a tenth of the
// interval up to MaxBackoff — or, for a rate limit, after the wait the
// system asked for. It returns ctx's error.
func (s *Syncer) Run(ctx context.Context) error {
	maxBackoff := s.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = time.Hour
	}
	sleep := s.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	if s.Lease != nil {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.Lease.Release(rctx, s.Source.Name()); err != nil {
				s.log().Warn("connector lease not released", zap.String("connector", s.Source.Name()), zap.Error(err))
			}
		}()
	}
	for {
		wait := s.poll()
		if !s.holdLease(ctx) {
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if _, err := s.SyncOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait = Backoff(s.Status().Failures, s.poll(), maxBackoff)
			var rl *RateLimitError
			if errors.As(err, &rl) && rl.RetryAfter > wait {
				wait = rl.RetryAfter
			}
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// holdLease claims or renews the lease; true when there is no lease to
// hold. A store error counts as not holding it.
func (s *Syncer) holdLease(ctx context.Context) bool {
	if s.Lease == nil {
		return true
	}
	term := s.LeaseTerm
	if term <= 0 {
		term = 2*s.poll() + 10*time.Minute
	}
	ok, err := s.Lease.Claim(ctx, s.Source.Name(), term)
	if err != nil {
		if ctx.Err() == nil {
			s.log().Warn("connector lease not claimed", zap.String("connector", s.Source.Name()), zap.Error(err))
		}
		return false
	}
	return ok
}

// Backoff is the wait after the n-th failure in a row: a tenth of the
// poll interval (at least one second), doubled per further failure, at
// most max.
func Backoff(n int, poll, max time.Duration) time.Duration {
	d := poll / 10
	if d < time.Second {
		d = time.Second
	}
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// load reads the stored state once.
func (s *Syncer) load(ctx context.Context) (State, error) {
	st, err := s.State.Load(ctx, s.Source.Name())
	if err != nil {
		return State{}, fmt.Errorf("connector %s: load state: %w", s.Source.Name(), err)
	}
	// The stored status is the truth: another collector may have
	// synced since.
	s.status = st.Status
	s.status.Connector, s.status.Kind, s.status.TenantID = s.Source.Name(), s.Source.Kind(), s.TenantID
	return st, nil
}

// SyncOnce polls the source once, imports what changed, and records the
// outcome in the status. A rejected record does not fail the sync.
func (s *Syncer) SyncOnce(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load(ctx)
	if err != nil {
		return Result{}, err
	}
	s.status.LastAttempt = s.now()
	recs, next, err := s.Source.Poll(ctx, st.Cursor)
	if err != nil {
		return Result{}, s.fail(ctx, st, err)
	}
	res, err := s.importLocked(ctx, &st, recs)
	if err != nil {
		return res, s.fail(ctx, st, err)
	}
	st.Cursor = next
	s.succeed(res)
	st.Status = s.status
	if err := s.State.Save(ctx, s.Source.Name(), st); err != nil {
		return res, fmt.Errorf("connector %s: save state: %w", s.Source.Name(), err)
	}
	return res, nil
}

// Import imports records delivered by a webhook, as SyncOnce imports
// polled ones; the cursor stays where it is.
func (s *Syncer) Import(ctx context.Context, recs []Record) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load(ctx)
	if err != nil {
		return Result{}, err
	}
	res, err := s.importLocked(ctx, &st, recs)
	if err != nil {
		return res, s.fail(ctx, st, err)
	}
	s.succeed(res)
	st.Status = s.status
	if err := s.State.Save(ctx, s.Source.Name(), st); err != nil {
		return res, fmt.Errorf("connector %s: save state: %w", s.Source.Name(), err)
	}
	return res, nil
}

func (s *Syncer) succeed(res Result) {
	s.status.LastSuccess = s.now()
	s.status.LastError, s.status.LastErrorAt, s.status.AuthFailed, s.status.Failures = "", time.Time{}, false, 0
	s.status.Created += res.Created
	s.status.Updated += res.Updated
	s.status.Unchanged += res.Unchanged
	s.status.Rejected += len(res.Rejects)
	s.status.Rejects = res.Rejects
}

// fail records err as the last error and keeps the state's cursor.
func (s *Syncer) fail(ctx context.Context, st State, err error) error {
	s.status.LastError = err.Error()
	s.status.LastErrorAt = s.now()
	s.status.AuthFailed = errors.Is(err, ErrAuth)
	s.status.Failures++
	s.log().Warn("connector sync failed", zap.String("connector", s.Source.Name()), zap.String("tenant", s.TenantID),
		zap.Int("failures", s.status.Failures), zap.String("error", err.Error()))
	st.Status = s.status
	if serr := s.State.Save(ctx, s.Source.Name(), st); serr != nil {
		return errors.Join(err, fmt.Errorf("connector %s: save state: %w", s.Source.Name(), serr))
	}
	return err
}

// importLocked imports records: rejected ones are counted, unchanged ones
// (same hash) skipped, the rest created or updated; the tenant's drift is
// reconciled once at the end when any ticket changed. An error from the
// ticket store ends the import; the hashes of the records imported so far
// are kept in st.
func (s *Syncer) importLocked(ctx context.Context, st *State, recs []Record) (Result, error) {
	var res Result
	if st.Hashes == nil {
		st.Hashes = map[string]string{}
	}
	changed := false
	var done []*ticket.Ticket
	for i := range recs {
		r := &recs[i]
		name := r.Reference
		if name == "" {
			name = fmt.Sprintf("#%d of the batch", i+1)
		}
		if r.Err != nil {
			res.Rejects = append(res.Rejects, Reject{Reference: name, Reason: r.Err.Error()})
			s.log().Warn("connector record rejected", zap.String("connector", s.Source.Name()), zap.String("reference", name), zap.Error(r.Err))
			continue
		}
		spec, err := s.spec(r)
		if err != nil {
			res.Rejects = append(res.Rejects, Reject{Reference: name, Reason: err.Error()})
			s.log().Warn("connector record rejected", zap.String("connector", s.Source.Name()), zap.String("reference", name), zap.Error(err))
			continue
		}
		state, why := r.Effective()
		h := recordHash(spec, state, r)
		if st.Hashes[r.Reference] == h {
			res.Unchanged++
			continue
		}
		outcome, tk, err := s.apply(ctx, r, spec, state, why)
		if err != nil {
			return res, fmt.Errorf("connector %s: import %s: %w", s.Source.Name(), r.Reference, err)
		}
		st.Hashes[r.Reference] = h
		if tk != nil && finished(tk) {
			done = append(done, tk)
		}
		switch outcome {
		case created:
			res.Created++
			changed = true
		case updated:
			res.Updated++
			changed = true
		default:
			res.Unchanged++
		}
	}
	if changed {
		if err := s.Tickets.Reconcile(ctx, s.TenantID, "connector "+s.Source.Name()+" imported tickets"); err != nil {
			return res, fmt.Errorf("connector %s: reconcile: %w", s.Source.Name(), err)
		}
	}
	for _, tk := range done {
		if err := s.Tickets.Implemented(ctx, tk, s.actor().Email); err != nil {
			return res, fmt.Errorf("connector %s: ticket %s implemented, but its changes were not promoted: %w", s.Source.Name(), tk.Name(), err)
		}
	}
	return res, nil
}

// spec maps a record to a ticket spec and validates it.
func (s *Syncer) spec(r *Record) (ticket.Spec, error) {
	if r.Reference == "" {
		return ticket.Spec{}, fmt.Errorf("%w: the record has no reference", ErrRejected)
	}
	title := r.Title
	if len(title) > ticket.MaxTitle {
		title = title[:ticket.MaxTitle-len("…")] + "…"
	}
	spec := ticket.Spec{
		Reference: r.Reference, Title: title, Description: r.Description, Impact: r.Impact, RollbackPlan: r.RollbackPlan,
		Origin: r.Origin, Class: r.Class,
		Scope: ticket.Scope{Hosts: r.Hosts, Labels: r.Labels, Items: r.Items},
	}
	if spec.Origin == "" {
		spec.Origin = ticket.Internal
	}
	if spec.Class == "" {
		spec.Class = ticket.Normal
	}
	if spec.Title == "" {
		spec.Title = r.Reference
	}
	if r.Link != "" {
		if spec.Description != "" {
			spec.Description += "\n\n"
		}
		spec.Description += "Imported from " + r.Link
	}
	for _, f := range []*string{&spec.Description, &spec.Impact, &spec.RollbackPlan} {
		if len(*f) > ticket.MaxText {
			*f = (*f)[:ticket.MaxText-len("…")] + "…"
		}
	}
	switch {
	case r.Start.IsZero() != r.End.IsZero():
		return ticket.Spec{}, fmt.Errorf("%w: the window has only one of start and end", ErrRejected)
	case !r.Start.IsZero():
		if !r.End.After(r.Start) {
			return ticket.Spec{}, fmt.Errorf("%w: the window ends (%s) before it starts (%s)", ErrRejected, r.End.UTC().Format(time.RFC3339), r.Start.UTC().Format(time.RFC3339))
		}
		tz := r.TimeZone
		if tz == "" {
			tz = "UTC"
		}
		loc, err := policy.LoadZone(tz)
		if err != nil {
			return ticket.Spec{}, fmt.Errorf("%w: time zone %q: %v", ErrRejected, tz, err)
		}
		const layout = "2006-01-02T15:04:05"
		spec.Window = &policy.Window{Start: r.Start.In(loc).Format(layout), End: r.End.In(loc).Format(layout), TimeZone: tz}
	}
	if err := spec.Validate(); err != nil {
		return ticket.Spec{}, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	return spec, nil
}

// recordHash identifies what an imported record says, so that an
// unchanged record is recognised.
func recordHash(spec ticket.Spec, state ticket.State, r *Record) string {
	b, _ := json.Marshal(struct {
		Spec      ticket.Spec  `json:"spec"`
		State     ticket.State `json:"state"`
		Approvers []string     `json:"approvers"`
		Requester string       `json:"requester"`
	}{spec, state, r.Approvers, r.Requester})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

type outcome int

const (
	unchanged outcome = iota
	created
	updated
)

// ActionSync is the history action of a ticket changed by a connector.
const ActionSync ticket.Action = "sync"

// finished reports whether the newest transition of tk moved it into
// implemented or documented.
func finished(tk *ticket.Ticket) bool {
	last := tk.History[len(tk.History)-1]
	done := func(s ticket.State) bool { return s == ticket.Implemented || s == ticket.Documented }
	return done(last.To) && (last.From == "" || !done(last.From))
}

// apply creates or updates the ticket of a record and returns it.
func (s *Syncer) apply(ctx context.Context, r *Record, spec ticket.Spec, state ticket.State, why string) (outcome, *ticket.Ticket, error) {
	now := s.now()
	by := s.actor()
	comment := fmt.Sprintf("%s %s: state %q, approval %s", s.Source.Kind(), r.Reference, r.ExternalState, r.Approval)
	if why != "" {
		comment += "; " + why
	}
	old, err := s.Tickets.ByReference(ctx, s.TenantID, r.Reference)
	if err != nil {
		return unchanged, nil, err
	}
	if old == nil {
		id, err := auth.NewID(auth.PrefixTicketID)
		if err != nil {
			return unchanged, nil, err
		}
		tk := &ticket.Ticket{ID: id, TenantID: s.TenantID, Spec: spec, Requester: requester(r), State: state,
			History:   []ticket.Transition{{Action: ticket.ActionCreate, To: state, By: by, At: now, Comment: comment}},
			CreatedAt: now, UpdatedAt: now, Version: 1}
		tk.Approvals = approvals(r, state, now)
		if err := s.Tickets.Create(ctx, tk, by.Email); err != nil {
			return unchanged, nil, err
		}
		s.log().Info("connector ticket created", zap.String("connector", s.Source.Name()), zap.String("reference", r.Reference), zap.String("state", string(state)))
		return created, tk, nil
	}
	tk := old.Clone()
	// Fields the external system does not keep stay as they are in
	// driftwatch.
	spec.Notify, spec.Questions = old.Notify, old.Questions
	if spec.Impact == "" {
		spec.Impact = old.Impact
	}
	if spec.RollbackPlan == "" {
		spec.RollbackPlan = old.RollbackPlan
	}
	changedFields := diffSpec(&old.Spec, &spec)
	if len(changedFields) == 0 && old.State == state && slices.Equal(approverEmails(old.Approvals), approverEmails(approvals(r, state, now))) {
		return unchanged, nil, nil
	}
	tk.Spec = spec
	tk.State = state
	tk.Approvals = approvals(r, state, now)
	tk.PendingApproval = nil
	tk.History = append(tk.History, ticket.Transition{Action: ActionSync, From: old.State, To: state, By: by, At: now, Comment: comment, Changed: changedFields})
	tk.UpdatedAt = now
	tk.Version = old.Version + 1
	if err := s.Tickets.Update(ctx, tk, by.Email); err != nil {
		return unchanged, nil, err
	}
	s.log().Info("connector ticket updated", zap.String("connector", s.Source.Name()), zap.String("reference", r.Reference),
		zap.String("from", string(old.State)), zap.String("state", string(state)), zap.Strings("changed", changedFields))
	return updated, tk, nil
}

// requester is the record's requester as an actor known by email.
func requester(r *Record) ticket.Actor {
	return ticket.Actor{Email: r.Requester, Role: ticket.RoleEngineer}
}

// approvals are the MSP-side approvals a record carries when its state
// authorizes changes.
func approvals(r *Record, state ticket.State, at time.Time) []ticket.Approval {
	if !state.Authorizes() || r.Approval != ApprovalApproved {
		return nil
	}
	who := r.Approvers
	if len(who) == 0 {
		who = []string{"(approved in " + r.ExternalState + ")"}
	}
	out := make([]ticket.Approval, 0, len(who))
	for _, w := range who {
		out = append(out, ticket.Approval{Side: ticket.SideMSP, Signoff: ticket.Signoff{By: ticket.Actor{Email: w, Role: ticket.RoleApprover}, At: at}})
	}
	return out
}

func approverEmails(as []ticket.Approval) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.By.Email)
	}
	return out
}

// diffSpec names the fields that differ, by JSON name.
func diffSpec(a, b *ticket.Spec) []string {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var ma, mb map[string]json.RawMessage
	_ = json.Unmarshal(ja, &ma)
	_ = json.Unmarshal(jb, &mb)
	var out []string
	for k, v := range mb {
		if string(ma[k]) != string(v) {
			out = append(out, k)
		}
	}
	for k := range ma {
		if _, ok := mb[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
