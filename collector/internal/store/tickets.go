package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/audit"
)

// ErrInvalid: the arguments are wrong (a malformed cursor, a document
// that is not JSON, an unknown status, an audit entry of another tenant);
// nothing was written. It is permanent.
var ErrInvalid = errors.New("invalid argument")

// Listing page sizes: a Limit of 0 or less is DefaultPageSize, one above
// MaxPageSize is MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// PageSize returns the number of entries a listing returns at most for a
// Limit.
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// AuditEntry is one entry of a tenant's hash-chained audit log.
type AuditEntry = audit.Entry

// Ticket is a change ticket (change request). The store keeps the whole
// ticket as the caller's JSON in Doc and the fields it searches by beside
// it; the caller keeps the two in agreement.
type Ticket struct {
	ID       string
	TenantID string
	// Reference is the ticket's reference in an outside system (Jira,
	// ServiceNow …), unique in the tenant when not empty.
	Reference string
	Title     string
	// State is the ticket's state in its workflow (draft, approved …).
	State string
	// Class is internal or customer.
	Class string
	// Origin is where the ticket came from: web, api, jira …
	Origin string
	// WindowStart and WindowEnd bound the change window; a zero time is
	// no bound, and a ticket with both zero has no window.
	WindowStart time.Time
	WindowEnd   time.Time
	// CreatedAt is set at creation and kept by updates.
	CreatedAt time.Time
	// UpdatedAt is when the ticket last changed.
	UpdatedAt time.Time
	// FinishedAt is when the ticket reached a final state (closed,
	// rejected, cancelled …), set by the caller; zero while it is not in
	// one.
	FinishedAt time.Time
	// Version is 1 at creation and one more with every update. An update
	// names the version it read and fails with ErrConflict when the
	// ticket changed since.
	Version int
	// Doc is the whole ticket as JSON, kept byte for byte.
	Doc []byte
}

// TicketTransition is one change of a ticket's state.
type TicketTransition struct {
	TicketID string
	// Version is the ticket version the transition produced.
	Version int
	At      time.Time
	// Actor is who moved the ticket, Role the role they acted in
	// (requester, reviewer, approver, customer approver …).
	Actor   string
	Role    string
	From    string
	To      string
	Comment string
}

// TicketWrite is a ticket to create or update, with the record of it.
type TicketWrite struct {
	// Ticket is the ticket as it is to be stored. For an update, Version
	// is the version read; CreatedAt is ignored.
	Ticket Ticket
	// Transition records a change of state; it is required when the state
	// changes and not allowed otherwise. For a creation it is optional
	// and goes from "" to the first state. Its TicketID, Version and,
	// when zero, At are filled in.
	Transition *TicketTransition
	// Audit is the audit entry appended in the same transaction; its
	// TenantID, when empty, is the ticket's.
	Audit AuditEntry
}

// TicketFilter selects tickets. Zero fields select everything.
type TicketFilter struct {
	// States selects tickets in one of these states.
	States []string
	// UpdatedSince selects tickets updated at or after it.
	UpdatedSince time.Time
	// WindowFrom and WindowTo select tickets whose change window overlaps
	// [WindowFrom, WindowTo]; a zero bound is open. When either is set,
	// tickets without a window are left out.
	WindowFrom time.Time
	WindowTo   time.Time
	// Limit is the page size (see PageSize); Cursor the Next of the
	// previous page, empty for the first.
	Limit  int
	Cursor string
}

// Policy is a tenant's reconciliation and escalation policy, as the
// caller's JSON.
type Policy struct {
	TenantID string
	// Version is 1 for the first policy and one more with every change.
	// PutPolicy takes the version read (0 when there was none).
	Version   int
	Doc       []byte
	UpdatedAt time.Time
	UpdatedBy string
}

// Drift item statuses.
const (
	// DriftOpen: the change awaits a decision.
	DriftOpen = "open"
	// DriftAccepted: a person accepted the change as it is, without
	// making it part of the baseline.
	DriftAccepted = "accepted"
	// DriftPromoted: the change was made part of a new baseline.
	DriftPromoted = "promoted"
	// DriftRevertRequested: a person asked for the change to be rolled
	// back.
	DriftRevertRequested = "revert_requested"
	// DriftReverted: the item returned to its baseline state.
	DriftReverted = "reverted"
)

// Reconciliation verdicts. An item not yet reconciled has verdict "" and
// level 0.
const (
	// VerdictAuthorized: an approved ticket covers the change, in scope
	// and in its window.
	VerdictAuthorized = "authorized"
	// VerdictFrozen: the change was made during a change freeze, and no
	// emergency ticket covers it.
	VerdictFrozen = "frozen"
	// VerdictUnapprovedTicket: a ticket covers the change but was not
	// approved.
	VerdictUnapprovedTicket = "unapproved_ticket"
	// VerdictOutOfWindow: an approved ticket covers the change, outside
	// its window.
	VerdictOutOfWindow = "out_of_window"
	// VerdictUnauthorized: no ticket covers the change.
	VerdictUnauthorized = "unauthorized"
)

// DriftItem is the record of one change on a host: one item key that
// differs from the host's baseline, from the first report that showed it
// until it is resolved or returns to its baseline state.
//
// A host has at most one current item per key: the record the key's
// observations in new reports go to. A current item's LastSeen and LastSeq
// are those of the host's newest applied report.
type DriftItem struct {
	ID       string
	TenantID string
	HostID   string
	// Key, Kind and Change are the change's: the item key, its kind
	// (file, package …) and added, removed or modified.
	Key    string
	Kind   string
	Change baseline.ChangeKind
	// StateDigest identifies the observed state; ChangeDoc is the
	// baseline.Change as JSON, kept byte for byte.
	StateDigest string
	ChangeDoc   []byte
	// FirstSeen and FirstSeq are of the report that opened the item;
	// ChangedAt is when its current state was first seen (FirstSeen, or
	// the report that showed it modified again); LastSeen and LastSeq are
	// of the newest report that showed it.
	FirstSeen time.Time
	ChangedAt time.Time
	LastSeen  time.Time
	FirstSeq  uint64
	LastSeq   uint64
	// Current says the key still drifts in this state in the host's
	// newest report and observations go to this item.
	Current bool
	Status  string
	// Verdict, Level (1 to 3; 0 before reconciliation), Rule (the policy
	// rule that set the level), Tickets (the IDs of the tickets that
	// cover it) and VerdictReason are the reconciliation's.
	Verdict       string
	Level         int
	Rule          string
	Tickets       []string
	VerdictReason string
	// ResolvedAt, ResolvedBy, Reason and TicketRef record the latest
	// resolution: by a person (accepted, promoted, revert requested) or
	// by the collector (reverted, ResolvedBy empty). TicketRef is a ticket
	// named afterwards for the change.
	ResolvedAt time.Time
	ResolvedBy string
	Reason     string
	TicketRef  string
}

// DriftObservation is one change in a host's report, as ApplyDrift takes
// it.
type DriftObservation struct {
	Key         string
	Kind        string
	Change      baseline.ChangeKind
	StateDigest string
	ChangeDoc   []byte
	// NewID is the ID to give the item when this observation opens one;
	// it is ignored otherwise.
	NewID string
	// Verdict, when not nil, is the reconciliation of the state observed
	// (its ItemID is ignored): the item this observation opens or
	// modifies gets it in the same transaction, with a verdict event when
	// the verdict or level changes, as SetVerdicts would write it. Nil
	// opens an item not yet reconciled and keeps a modified item's.
	Verdict *VerdictUpdate
}

// ApplyResult says what applying a report's drift did. Each list is
// sorted by key.
type ApplyResult struct {
	// Stale: the report is not newer than the host's last applied one;
	// nothing changed.
	Stale bool
	// Opened are the new items: keys that started to drift, and new
	// states of resolved items.
	Opened []DriftItem
	// Updated are open items whose state changed ("modified again").
	Updated []DriftItem
	// Superseded are resolved items whose key drifted into another state;
	// the new state is an item in Opened.
	Superseded []DriftItem
	// Closed are current items whose key no longer drifts: open and
	// revert-requested items are now reverted; accepted and promoted ones
	// keep their status.
	Closed []DriftItem
	// Unchanged counts the current items seen again in the same state.
	Unchanged int
}

// VerdictUpdate is the reconciliation of one drift item.
type VerdictUpdate struct {
	ItemID  string
	Verdict string
	Level   int
	Rule    string
	Tickets []string
	// Reason explains the verdict, for the item and its history.
	Reason string
}

// DriftFilter selects drift items. Zero fields select everything.
type DriftFilter struct {
	HostIDs  []string
	Statuses []string
	// Verdicts may hold "" for items not yet reconciled.
	Verdicts []string
	Levels   []int
	// Key selects by item key: a "*" matches any run of characters, every
	// other character itself ("file:/etc/ssh/*"). Without "*" it is the
	// exact key.
	Key string
	// Ticket selects the items a ticket covers.
	Ticket string
	// Since and Until select items whose ChangedAt is in [Since, Until).
	Since time.Time
	Until time.Time
	// Limit is the page size (see PageSize); Cursor the Next of the
	// previous page, empty for the first.
	Limit  int
	Cursor string
}

// DriftEvent is one entry of a drift item's history.
type DriftEvent struct {
	ItemID string
	At     time.Time
	// Event is what happened (the DriftEvent constants).
	Event string
	// Actor is the person for a resolution; empty for the collector.
	Actor string
	// ReportSeq is the report that showed the change, for events that
	// come from reports; 0 otherwise.
	ReportSeq uint64
	// From and To values of what the event changed; both equal when it
	// did not change.
	FromStatus, ToStatus   string
	FromVerdict, ToVerdict string
	FromLevel, ToLevel     int
	FromDigest, ToDigest   string
	Reason                 string
}

// Drift history events.
const (
	// DriftEventOpened: a report showed the change first.
	DriftEventOpened = "opened"
	// DriftEventModified: a report showed an open item in another state
	// (modified again).
	DriftEventModified = "modified"
	// DriftEventReverted: the key no longer drifts; the item returned to
	// its baseline state.
	DriftEventReverted = "reverted"
	// DriftEventCleared: the key of an accepted or promoted item no
	// longer drifts (for a promoted item: the agent diffs against the new
	// baseline).
	DriftEventCleared = "cleared"
	// DriftEventSuperseded: the key of a resolved item drifted into
	// another state, recorded as a new item.
	DriftEventSuperseded = "superseded"
	// DriftEventVerdict: reconciliation changed the verdict or level.
	DriftEventVerdict = "verdict"
	// DriftEventResolved: a person resolved the item.
	DriftEventResolved = "resolved"
)

// DriftResolution is a person's decision on drift items.
type DriftResolution struct {
	ItemIDs []string
	// Status is DriftAccepted, DriftRevertRequested or DriftPromoted.
	Status string
	By     string
	At     time.Time
	Reason string
	// TicketRef names a ticket for the change afterwards; may be empty.
	TicketRef string
}

// DriftCount counts a host's outstanding drift items (open or revert
// requested) of one status, verdict and level.
type DriftCount struct {
	HostID  string
	Status  string
	Verdict string
	Level   int
	Count   int
}

// Tickets is what the store keeps for change management: change tickets
// and their transitions, tenant policy, reconciled drift items and the
// hash-chained audit log.
//
// Methods that take an AuditEntry append it to the tenant's audit log in
// the same transaction as the change: numbered and chained under a lock
// on the tenant's chain head, so that no two appends, from any collector,
// get the same number. The entry's TenantID, when empty, is the method's
// tenant; Action and At are required. ErrInvalid for bad arguments
// (nothing is written); ErrNotFound, ErrExists and ErrConflict as each
// method says.
type Tickets interface {
	// CreateTicket stores a new ticket as version 1 and returns it as
	// stored. ErrExists when the ID or the non-empty Reference is taken
	// in the tenant; ErrNotFound when the tenant does not exist.
	CreateTicket(ctx context.Context, w TicketWrite) (Ticket, error)
	// UpdateTicket replaces a ticket's fields and document, keeping
	// CreatedAt, and returns it as stored with the next version.
	// ErrConflict when the stored version is not w.Ticket.Version;
	// ErrNotFound when there is no such ticket; ErrExists when the new
	// Reference is another ticket's.
	UpdateTicket(ctx context.Context, w TicketWrite) (Ticket, error)
	// Ticket finds a ticket.
	Ticket(ctx context.Context, tenantID, id string) (Ticket, error)
	// TicketByReference finds a ticket by its outside reference.
	TicketByReference(ctx context.Context, tenantID, ref string) (Ticket, error)
	// Tickets lists a tenant's tickets, the most recently updated first
	// (then by ID, descending), one page at a time; next is the cursor of
	// the following page, empty after the last.
	Tickets(ctx context.Context, tenantID string, f TicketFilter) (page []Ticket, next string, err error)
	// OpenTickets returns the tickets reconciliation matches drift
	// against: every ticket not in a final state (FinishedAt zero), and
	// every ticket that reached one at or after finishedSince, so that
	// drift reported late still finds the ticket it was made under.
	// Ordered by ID.
	OpenTickets(ctx context.Context, tenantID string, finishedSince time.Time) ([]Ticket, error)
	// TicketTransitions lists a ticket's transitions, oldest first;
	// ErrNotFound when there is no such ticket.
	TicketTransitions(ctx context.Context, tenantID, ticketID string) ([]TicketTransition, error)

	// PutPolicy stores a tenant's policy as the next version and returns
	// it as stored. p.Version is the version read: 0 when there was
	// none. ErrConflict when the stored version differs; ErrNotFound when
	// the tenant does not exist.
	PutPolicy(ctx context.Context, p Policy, a AuditEntry) (Policy, error)
	// Policy returns a tenant's policy; ErrNotFound when it never had
	// one.
	Policy(ctx context.Context, tenantID string) (Policy, error)

	// ApplyDrift applies a host's report seq, received at at, whose drift
	// against its baseline is obs (every change, one per key), in one
	// transaction, when seq is newer than the host's last applied one;
	// otherwise it changes nothing and says Stale. For each observation:
	// a current item of its key in the same state is seen again; an open
	// one in another state takes the new state (modified again); a
	// resolved one in another state is superseded by a new open item; a
	// key without a current item opens one (with the observation's
	// NewID). Current items whose key is not observed are closed (see
	// ApplyResult.Closed), with ResolvedAt at for those reverted. Every
	// change is in the items' history. An observation's Verdict is
	// written with it (see DriftObservation). ErrNotFound when the host is
	// not the tenant's; ErrExists when a NewID is taken.
	ApplyDrift(ctx context.Context, tenantID, hostID string, seq uint64, at time.Time, obs []DriftObservation) (ApplyResult, error)
	// SetVerdicts writes reconciliation results, in one transaction, and
	// records a history event, at at, for each item whose verdict or
	// level changed; it returns those events. ErrNotFound (and nothing
	// written) when an item is not the tenant's.
	SetVerdicts(ctx context.Context, tenantID string, at time.Time, us []VerdictUpdate) ([]DriftEvent, error)
	// DriftItems lists drift items in inbox order, one page at a time:
	// by level (3 first; items not yet reconciled count as 3), then
	// unauthorized, frozen, not reconciled, unapproved ticket, out of
	// window, authorized (see DriftPriority), then the newest ChangedAt,
	// then ID, descending. next is the cursor of the following page, empty after
	// the last.
	DriftItems(ctx context.Context, tenantID string, f DriftFilter) (page []DriftItem, next string, err error)
	// DriftItem finds a drift item.
	DriftItem(ctx context.Context, tenantID, id string) (DriftItem, error)
	// DriftHistory lists a drift item's events, oldest first; ErrNotFound
	// when there is no such item.
	DriftHistory(ctx context.Context, tenantID, id string) ([]DriftEvent, error)
	// ResolveDrift records a person's decision on drift items, with one
	// audit entry, in one transaction, and returns the items as stored,
	// in the order given. An item can be resolved while it is current and
	// not promoted; an item that has the status already is left as it
	// is, so a repeated call changes nothing (and appends no audit entry
	// when no item changed). ErrConflict (and nothing written) when an
	// item can no longer be resolved; ErrNotFound when an item is not the
	// tenant's.
	ResolveDrift(ctx context.Context, tenantID string, r DriftResolution, a AuditEntry) ([]DriftItem, error)
	// OpenDriftForHost returns a host's open items, by key.
	OpenDriftForHost(ctx context.Context, tenantID, hostID string) ([]DriftItem, error)
	// DriftCounts counts a tenant's outstanding items (open or revert
	// requested) by host, status, verdict and level, in that order.
	DriftCounts(ctx context.Context, tenantID string) ([]DriftCount, error)

	// AppendAudit appends an entry to its tenant's audit log and returns
	// it with Seq, PrevHash and Hash set. ErrNotFound when the tenant does
	// not exist.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// AuditEntries returns a tenant's entries after afterSeq, oldest
	// first, at most PageSize(limit) of them.
	AuditEntries(ctx context.Context, tenantID string, afterSeq uint64, limit int) ([]AuditEntry, error)
	// AuditHead returns the head of a tenant's chain as the store records
	// it, apart from the entries; the zero Head when there are none.
	AuditHead(ctx context.Context, tenantID string) (audit.Head, error)
}

// AuditSource is what AuditLog and VerifyAudit read.
type AuditSource interface {
	AuditEntries(ctx context.Context, tenantID string, afterSeq uint64, limit int) ([]AuditEntry, error)
	AuditHead(ctx context.Context, tenantID string) (audit.Head, error)
}

// AuditLog yields a tenant's audit entries after afterSeq, oldest first,
// reading them a page at a time; for audit.Verify and
// audit.ExportJSONLines.
func AuditLog(ctx context.Context, src AuditSource, tenantID string, afterSeq uint64) iter.Seq2[AuditEntry, error] {
	return func(yield func(AuditEntry, error) bool) {
		for {
			page, err := src.AuditEntries(ctx, tenantID, afterSeq, MaxPageSize)
			if err != nil {
				yield(AuditEntry{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
				afterSeq = e.Seq
			}
			if len(page) < MaxPageSize {
				return
			}
		}
	}
}

// VerifyAudit verifies a tenant's whole audit log, and checks it against
// the chain head the store records apart from the entries: a log whose
// newest entries were removed is broken too (audit.Truncated), as is one
// whose entry at the recorded head is not the one recorded. Entries
// appended after the head was read are verified as the others.
func VerifyAudit(ctx context.Context, src AuditSource, tenantID string) (audit.Result, error) {
	// The head first: entries appended meanwhile only extend the chain.
	head, err := src.AuditHead(ctx, tenantID)
	if err != nil {
		return audit.Result{}, fmt.Errorf("verify audit log of tenant %s: %w", tenantID, err)
	}
	var v audit.Verifier
	var brk *audit.Break
	var atHead string
	for e, err := range AuditLog(ctx, src, tenantID, 0) {
		if err != nil {
			return audit.Result{Checked: v.Checked(), Head: v.Head()}, fmt.Errorf("verify audit log of tenant %s: %w", tenantID, err)
		}
		if brk = v.Check(e); brk != nil {
			break
		}
		if e.Seq == head.Seq {
			atHead = e.Hash
		}
	}
	switch {
	case brk != nil:
	case v.Head().Seq <= head.Seq:
		brk = v.End(head)
	case atHead != head.Hash:
		brk = &audit.Break{Seq: head.Seq, Problem: audit.ChainBroken,
			Detail: fmt.Sprintf("entry %d's hash is not the chain head recorded for it", head.Seq)}
	}
	return audit.Result{Checked: v.Checked(), Head: v.Head(), Break: brk}, nil
}

// CheckAudit checks an audit entry a method of tenantID is to append, and
// returns it with its TenantID set.
func CheckAudit(tenantID string, e AuditEntry) (AuditEntry, error) {
	switch {
	case e.TenantID == "":
		e.TenantID = tenantID
	case e.TenantID != tenantID:
		return e, fmt.Errorf("audit entry of tenant %s for a change of tenant %s: %w", e.TenantID, tenantID, ErrInvalid)
	}
	if e.TenantID == "" {
		return e, fmt.Errorf("audit entry without a tenant: %w", ErrInvalid)
	}
	if e.Action == "" {
		return e, fmt.Errorf("audit entry without an action: %w", ErrInvalid)
	}
	if e.At.IsZero() {
		return e, fmt.Errorf("audit entry %s without a time: %w", e.Action, ErrInvalid)
	}
	if err := checkJSON("audit detail", e.Detail, true); err != nil {
		return e, err
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Seq, e.PrevHash, e.Hash = 0, "", ""
	return e, nil
}

// checkJSON checks that b is valid JSON in UTF-8 (or empty, when allowed).
func checkJSON(what string, b []byte, emptyOK bool) error {
	if len(b) == 0 {
		if emptyOK {
			return nil
		}
		return fmt.Errorf("%s is empty: %w", what, ErrInvalid)
	}
	if !utf8.Valid(b) || !json.Valid(b) {
		return fmt.Errorf("%s is not valid JSON: %w", what, ErrInvalid)
	}
	return nil
}

// CheckTicketWrite checks a ticket to create or update, apart from its
// transition (see CheckTransition), and fills in its audit entry's
// tenant.
func CheckTicketWrite(w *TicketWrite, create bool) error {
	t := &w.Ticket
	switch {
	case t.ID == "":
		return fmt.Errorf("ticket without an ID: %w", ErrInvalid)
	case t.TenantID == "":
		return fmt.Errorf("ticket %s without a tenant: %w", t.ID, ErrInvalid)
	case t.State == "":
		return fmt.Errorf("ticket %s without a state: %w", t.ID, ErrInvalid)
	case t.UpdatedAt.IsZero():
		return fmt.Errorf("ticket %s without an update time: %w", t.ID, ErrInvalid)
	case create && t.CreatedAt.IsZero():
		return fmt.Errorf("ticket %s without a creation time: %w", t.ID, ErrInvalid)
	case !create && t.Version < 1:
		return fmt.Errorf("ticket %s: update of version %d: %w", t.ID, t.Version, ErrInvalid)
	case !t.WindowStart.IsZero() && !t.WindowEnd.IsZero() && t.WindowEnd.Before(t.WindowStart):
		return fmt.Errorf("ticket %s: window ends before it starts: %w", t.ID, ErrInvalid)
	}
	if err := checkJSON("ticket "+t.ID+" document", t.Doc, false); err != nil {
		return err
	}
	if tr := w.Transition; tr != nil && tr.From == tr.To {
		return fmt.Errorf("ticket %s: transition from %q to itself: %w", t.ID, tr.From, ErrInvalid)
	}
	a, err := CheckAudit(t.TenantID, w.Audit)
	if err != nil {
		return fmt.Errorf("ticket %s: %w", t.ID, err)
	}
	w.Audit = a
	return nil
}

// CheckTransition checks a ticket write's transition against the state
// the ticket is in, oldState ("" for a creation), and fills in its
// TicketID and, when zero, At (in a copy: the caller's stays as it is).
func CheckTransition(w *TicketWrite, oldState string) error {
	if w.Transition != nil {
		tr := *w.Transition
		w.Transition = &tr
	}
	t, tr := w.Ticket, w.Transition
	switch {
	case tr == nil && oldState != "" && t.State != oldState:
		return fmt.Errorf("ticket %s: state %s → %s without a transition: %w", t.ID, oldState, t.State, ErrInvalid)
	case tr == nil:
		return nil
	case tr.From != oldState || tr.To != t.State:
		return fmt.Errorf("ticket %s: transition %q → %q, but the ticket goes from %q to %q: %w",
			t.ID, tr.From, tr.To, oldState, t.State, ErrInvalid)
	}
	tr.TicketID = t.ID
	if tr.At.IsZero() {
		tr.At = t.UpdatedAt
	}
	return nil
}

// CheckPolicy checks a policy to store.
func CheckPolicy(p Policy) error {
	switch {
	case p.TenantID == "":
		return fmt.Errorf("policy without a tenant: %w", ErrInvalid)
	case p.Version < 0:
		return fmt.Errorf("policy version %d: %w", p.Version, ErrInvalid)
	case p.UpdatedAt.IsZero():
		return fmt.Errorf("policy without an update time: %w", ErrInvalid)
	}
	return checkJSON("policy document", p.Doc, false)
}

// CheckObservations checks a report's drift for ApplyDrift.
func CheckObservations(seq uint64, at time.Time, obs []DriftObservation) error {
	if seq > math.MaxInt64 {
		return fmt.Errorf("report sequence %d is above the largest the store keeps (2^63-1): %w", seq, ErrInvalid)
	}
	if at.IsZero() {
		return fmt.Errorf("report %d without a time: %w", seq, ErrInvalid)
	}
	keys := make(map[string]bool, len(obs))
	ids := make(map[string]bool, len(obs))
	for i, o := range obs {
		switch {
		case o.Key == "":
			return fmt.Errorf("observation %d: no key: %w", i, ErrInvalid)
		case keys[o.Key]:
			return fmt.Errorf("observation %d: key %q observed twice: %w", i, o.Key, ErrInvalid)
		case o.Change != baseline.Added && o.Change != baseline.Removed && o.Change != baseline.Modified:
			return fmt.Errorf("observation %d (%s): change %q is not added, removed or modified: %w", i, o.Key, o.Change, ErrInvalid)
		case o.StateDigest == "":
			return fmt.Errorf("observation %d (%s): no state digest: %w", i, o.Key, ErrInvalid)
		case o.NewID == "":
			return fmt.Errorf("observation %d (%s): no new item ID: %w", i, o.Key, ErrInvalid)
		case ids[o.NewID]:
			return fmt.Errorf("observation %d (%s): new item ID %s given twice: %w", i, o.Key, o.NewID, ErrInvalid)
		}
		if err := checkJSON(fmt.Sprintf("observation %d (%s) change document", i, o.Key), o.ChangeDoc, false); err != nil {
			return err
		}
		if v := o.Verdict; v != nil && (v.Level < 0 || v.Level > 3) {
			return fmt.Errorf("observation %d (%s): level %d is not 0 to 3: %w", i, o.Key, v.Level, ErrInvalid)
		}
		keys[o.Key] = true
		ids[o.NewID] = true
	}
	return nil
}

// CheckIngest checks what IngestReport can check before it starts.
func CheckIngest(r Report, initial *Baseline) error {
	if r.Sequence > math.MaxInt64 {
		return fmt.Errorf("sequence is above the largest the store keeps (2^63-1): %w", ErrInvalid)
	}
	if initial != nil && (initial.TenantID != "" && initial.TenantID != r.TenantID || initial.HostID != "" && initial.HostID != r.HostID) {
		return fmt.Errorf("initial baseline is of host %s of tenant %s, not of the report's: %w", initial.HostID, initial.TenantID, ErrInvalid)
	}
	if len(r.Transactions) > 0 {
		if err := CheckTransactions(r.Sequence, r.ReceivedAt, r.Transactions); err != nil {
			return err
		}
	}
	if r.ApplyDrift {
		return CheckObservations(r.Sequence, r.ReceivedAt, r.Observations)
	}
	return nil
}

// CheckVerdicts checks verdict updates for SetVerdicts.
func CheckVerdicts(at time.Time, us []VerdictUpdate) error {
	if at.IsZero() {
		return fmt.Errorf("verdicts without a time: %w", ErrInvalid)
	}
	seen := make(map[string]bool, len(us))
	for i, u := range us {
		switch {
		case u.ItemID == "":
			return fmt.Errorf("verdict %d: no item ID: %w", i, ErrInvalid)
		case seen[u.ItemID]:
			return fmt.Errorf("verdict %d: item %s given twice: %w", i, u.ItemID, ErrInvalid)
		case u.Level < 0 || u.Level > 3:
			return fmt.Errorf("verdict %d (item %s): level %d is not 0 to 3: %w", i, u.ItemID, u.Level, ErrInvalid)
		}
		seen[u.ItemID] = true
	}
	return nil
}

// CheckResolution checks a resolution for ResolveDrift.
func CheckResolution(r DriftResolution) error {
	switch r.Status {
	case DriftAccepted, DriftRevertRequested, DriftPromoted:
	default:
		return fmt.Errorf("resolve drift as %q: want %s, %s or %s: %w", r.Status, DriftAccepted, DriftRevertRequested, DriftPromoted, ErrInvalid)
	}
	switch {
	case len(r.ItemIDs) == 0:
		return fmt.Errorf("resolve drift as %s: no items: %w", r.Status, ErrInvalid)
	case r.By == "":
		return fmt.Errorf("resolve drift as %s: no person: %w", r.Status, ErrInvalid)
	case r.At.IsZero():
		return fmt.Errorf("resolve drift as %s: no time: %w", r.Status, ErrInvalid)
	}
	seen := make(map[string]bool, len(r.ItemIDs))
	for _, id := range r.ItemIDs {
		if id == "" || seen[id] {
			return fmt.Errorf("resolve drift as %s: item ID %q empty or given twice: %w", r.Status, id, ErrInvalid)
		}
		seen[id] = true
	}
	return nil
}

// CanResolve says whether an item of status from, current or not, can be
// resolved: it is current and not promoted. (An item that has the status
// it is to get needs nothing, and is not an error.)
func CanResolve(from string, current bool) bool {
	return current && from != DriftPromoted && from != DriftReverted
}

// CheckDriftFilter checks a filter's values.
func CheckDriftFilter(f DriftFilter) error {
	for _, s := range f.Statuses {
		switch s {
		case DriftOpen, DriftAccepted, DriftPromoted, DriftRevertRequested, DriftReverted:
		default:
			return fmt.Errorf("drift filter: unknown status %q: %w", s, ErrInvalid)
		}
	}
	for _, l := range f.Levels {
		if l < 0 || l > 3 {
			return fmt.Errorf("drift filter: level %d is not 0 to 3: %w", l, ErrInvalid)
		}
	}
	return nil
}

// DriftPriority is a drift item's place in the inbox: higher first. It is
// 10 × the level (items not yet reconciled, level 0, count as 3) plus 5
// for unauthorized, 4 for frozen, 3 for not reconciled (or an unknown
// verdict), 2 for an unapproved ticket, 1 for out of window and 0 for
// authorized.
func DriftPriority(verdict string, level int) int {
	if level <= 0 {
		level = 3
	}
	rank := 3
	switch verdict {
	case VerdictUnauthorized:
		rank = 5
	case VerdictFrozen:
		rank = 4
	case VerdictUnapprovedTicket:
		rank = 2
	case VerdictOutOfWindow:
		rank = 1
	case VerdictAuthorized:
		rank = 0
	}
	return 10*min(level, 3) + rank
}

// DriftCursor is the position after an item in the inbox order.
type DriftCursor struct {
	Priority  int
	ChangedAt time.Time
	ID        string
}

// String encodes the cursor for DriftFilter.Cursor.
func (c DriftCursor) String() string {
	b, _ := json.Marshal([]any{1, c.Priority, c.ChangedAt.UnixMicro(), c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseDriftCursor decodes a DriftFilter.Cursor; ErrInvalid when it is not
// one.
func ParseDriftCursor(s string) (DriftCursor, error) {
	var version, priority int
	var at int64
	var id string
	if err := parseCursor(s, &version, &priority, &at, &id); err != nil || version != 1 {
		return DriftCursor{}, fmt.Errorf("drift cursor %q: malformed: %w", s, ErrInvalid)
	}
	return DriftCursor{Priority: priority, ChangedAt: time.UnixMicro(at).UTC(), ID: id}, nil
}

// TicketCursor is the position after a ticket in the ticket listing.
type TicketCursor struct {
	UpdatedAt time.Time
	ID        string
}

// String encodes the cursor for TicketFilter.Cursor.
func (c TicketCursor) String() string {
	b, _ := json.Marshal([]any{1, c.UpdatedAt.UnixMicro(), c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseTicketCursor decodes a TicketFilter.Cursor; ErrInvalid when it is
// not one.
func ParseTicketCursor(s string) (TicketCursor, error) {
	var version int
	var at int64
	var id string
	if err := parseCursor(s, &version, &at, &id); err != nil || version != 1 {
		return TicketCursor{}, fmt.Errorf("ticket cursor %q: malformed: %w", s, ErrInvalid)
	}
	return TicketCursor{UpdatedAt: time.UnixMicro(at).UTC(), ID: id}, nil
}

// parseCursor decodes a cursor's JSON array into dst, one element each.
func parseCursor(s string, dst ...any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != len(dst) {
		return errors.New("wrong length")
	}
	for i := range raw {
		if err := json.Unmarshal(raw[i], dst[i]); err != nil {
			return err
		}
	}
	return nil
}

// OpenedItem is the item observation o opens in report seq of the host at
// at, as it reads back: open, current, with o's verdict when it has one.
func OpenedItem(tenantID, hostID string, seq uint64, at time.Time, o DriftObservation) DriftItem {
	d := DriftItem{
		ID: o.NewID, TenantID: tenantID, HostID: hostID, Key: o.Key, Kind: o.Kind, Change: o.Change,
		StateDigest: o.StateDigest, ChangeDoc: o.ChangeDoc,
		FirstSeen: at, ChangedAt: at, LastSeen: at, FirstSeq: seq, LastSeq: seq,
		Current: true, Status: DriftOpen,
	}
	if v := o.Verdict; v != nil {
		d.Verdict, d.Level, d.Rule, d.VerdictReason = v.Verdict, v.Level, v.Rule, v.Reason
		if len(v.Tickets) > 0 {
			d.Tickets = slices.Clone(v.Tickets)
		}
	}
	return d
}

// VerdictChange is the verdict event of an item of status going from
// verdict and level to v's, or false when neither changes (a new rule,
// reason or ticket list alone is no event).
func VerdictChange(itemID, status, verdict string, level int, v *VerdictUpdate) (DriftEvent, bool) {
	if v == nil || (v.Verdict == verdict && v.Level == level) {
		return DriftEvent{}, false
	}
	return DriftEvent{ItemID: itemID, Event: DriftEventVerdict, FromStatus: status, ToStatus: status,
		FromVerdict: verdict, ToVerdict: v.Verdict, FromLevel: level, ToLevel: v.Level, Reason: v.Reason}, true
}

// ModifiedItem is the current item prev, as stored before report seq and
// with the verdict it has after it, as it reads back once observation o
// of that report, at at, modified it.
func ModifiedItem(prev DriftItem, seq uint64, at time.Time, o DriftObservation) DriftItem {
	prev.Key, prev.Kind, prev.Change, prev.StateDigest, prev.ChangeDoc = o.Key, o.Kind, o.Change, o.StateDigest, o.ChangeDoc
	prev.ChangedAt, prev.LastSeen, prev.LastSeq, prev.Current = at, at, seq, true
	return prev
}
