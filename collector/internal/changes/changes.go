// Package changes is the collector's change management: it keeps each
// host's drift items from the reports, reconciles them against the
// tenant's change tickets under its policy, moves tickets through their
// workflow, and turns implemented changes and accepted drift into new
// baseline versions — writing every step to the tenant's audit log.
//
// It joins the pure packages (ticket, policy, reconcile) to the store; the
// API handlers and the CLI call it.
package changes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile/pattern"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// finishedWindow is how long a finished ticket still authorizes drift
// that is reported late.
const finishedWindow = 30 * 24 * time.Hour

// Manager is the collector's change management over a store.
type Manager struct {
	// Store is where everything is kept; required.
	Store store.Store
	// Log receives what the manager does on its own; nil logs nothing.
	Log *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	engines engineCache // see cachedEngine
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Manager) log() *zap.Logger {
	if m.Log == nil {
		return zap.NewNop()
	}
	return m.Log
}

// Policy returns a tenant's policy and its stored version; the default
// policy, version 0, when it never had one.
func (m *Manager) Policy(ctx context.Context, tenantID string) (policy.Policy, int, error) {
	p, err := m.Store.Policy(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return policy.Default(), 0, nil
	}
	if err != nil {
		return policy.Policy{}, 0, err
	}
	pol, err := policy.Decode(p.Doc)
	if err != nil {
		return policy.Policy{}, 0, fmt.Errorf("policy of tenant %s: %w", tenantID, err)
	}
	return pol, p.Version, nil
}

// SetPolicy stores a tenant's policy (version: the one read, 0 for none)
// and reconciles its open drift again under it.
func (m *Manager) SetPolicy(ctx context.Context, tenantID string, pol policy.Policy, version int, by string) (int, error) {
	if err := pol.Validate(); err != nil {
		return 0, err
	}
	doc, err := json.Marshal(pol)
	if err != nil {
		return 0, fmt.Errorf("encode policy: %w", err)
	}
	now := m.now()
	detail, _ := json.Marshal(map[string]any{"version": version + 1})
	p, err := m.Store.PutPolicy(ctx, store.Policy{TenantID: tenantID, Version: version, Doc: doc, UpdatedAt: now, UpdatedBy: by},
		store.AuditEntry{At: now, Actor: by, Action: audit.ActionPolicyUpdate, Subject: tenantID, Detail: detail})
	if err != nil {
		return 0, err
	}
	if _, err := m.Reconcile(ctx, tenantID, "policy changed"); err != nil {
		return p.Version, err
	}
	return p.Version, nil
}

// decodeTicket reads a stored ticket's document.
func decodeTicket(t store.Ticket) (*ticket.Ticket, error) {
	var tk ticket.Ticket
	if err := json.Unmarshal(t.Doc, &tk); err != nil {
		return nil, fmt.Errorf("ticket %s: stored document: %w", t.ID, err)
	}
	return &tk, nil
}

// engine builds the reconciliation engine of a tenant from its open and
// recently finished tickets.
func (m *Manager) engine(ctx context.Context, tenantID string) (*reconcile.Engine, error) {
	pol, _, err := m.Policy(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	stored, err := m.Store.OpenTickets(ctx, tenantID, m.now().Add(-finishedWindow))
	if err != nil {
		return nil, err
	}
	tks := make([]*ticket.Ticket, 0, len(stored))
	for _, st := range stored {
		tk, err := decodeTicket(st)
		if err != nil {
			m.log().Error("ticket left out of reconciliation", zap.String("tenant", tenantID), zap.Error(err))
			continue
		}
		tks = append(tks, tk)
	}
	eng, err := reconcile.New(tenantID, pol, tks)
	if err != nil {
		return nil, err
	}
	return m.withDeployments(ctx, tenantID, eng)
}

// stateDigest identifies the state a change leads to.
func stateDigest(c *baseline.Change) string {
	if c.New == nil {
		return "removed"
	}
	b, err := json.Marshal(c.New)
	if err != nil {
		return "unencodable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// attrNames are the sorted names of the attributes a change touches.
func attrNames(c *baseline.Change) []string {
	names := make([]string, 0, len(c.Attrs))
	for n := range c.Attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Ingest stores report r of host h in one transaction with what it
// carries: initial, the host's first baseline (see store.IngestReport);
// its drift d, each change judged as the item it opens or modifies; and
// txs, its package transactions (each with the keys of its changes that
// happened in it, Items with the keys only), which the changes are judged
// with. A duplicate stores nothing. When the tenant's tickets or policy
// cannot be read, the items are stored unjudged (the next reconciliation
// judges them) and that is logged.
func (m *Manager) Ingest(ctx context.Context, h store.Host, r store.Report, initial *store.Baseline, d *baseline.Drift, txs ...store.PackageTransaction) (store.IngestResult, error) {
	obs, put, judgeErr := m.observe(ctx, h, r.Sequence, r.ReceivedAt, d, txs...)
	if obs == nil {
		return store.IngestResult{}, judgeErr
	}
	r.ApplyDrift, r.Observations, r.Transactions = true, obs, put
	res, err := m.Store.IngestReport(ctx, r, initial)
	if err != nil {
		return res, err
	}
	if judgeErr != nil && !res.Duplicate {
		m.log().Error("drift items stored without verdicts", zap.String("host", h.ID), zap.Uint64("sequence", r.Sequence), zap.Error(judgeErr))
	}
	return res, nil
}

// observe turns report seq's drift into the observations ApplyDrift
// takes, each judged as the item it opens or modifies, observed at
// received, and txs, the package transactions the report carries (each
// with the keys of its changes that happened in it, Items with the keys
// only), into the transactions PutTransactions takes; the changes are
// judged with them. Nothing is written: Ingest stores both. When the
// tenant's tickets or policy cannot be read, the observations come
// unjudged (the next reconciliation judges them) with the error; nil
// observations with an error mean none could be made.
func (m *Manager) observe(ctx context.Context, h store.Host, seq uint64, received time.Time, d *baseline.Drift, txs ...store.PackageTransaction) ([]store.DriftObservation, []store.PackageTransaction, error) {
	obs := []store.DriftObservation{}
	if d != nil {
		obs = make([]store.DriftObservation, 0, len(d.Changes))
		for i := range d.Changes {
			c := &d.Changes[i]
			doc, err := json.Marshal(c)
			if err != nil {
				return nil, nil, fmt.Errorf("encode change %s: %w", c.Key, err)
			}
			id, err := auth.NewID(auth.PrefixDriftID)
			if err != nil {
				return nil, nil, err
			}
			obs = append(obs, store.DriftObservation{Key: c.Key, Kind: c.Kind, Change: c.Change, StateDigest: stateDigest(c), ChangeDoc: doc, NewID: id})
		}
	}
	put, byTx := reportTransactions(obs, txs)
	if len(obs) == 0 {
		return obs, put, nil
	}
	eng, err := m.cachedEngine(ctx, h.TenantID)
	if err != nil {
		return obs, put, fmt.Errorf("drift of report %d not judged: %w", seq, err)
	}
	// Each change as the item it opens or modifies, judged from the
	// report's drift as decoded.
	items := make([]reconcile.Item, len(obs))
	for i, o := range obs {
		items[i] = reconcile.Item{ID: o.NewID, Host: reconcile.Host{Name: h.Name, Labels: h.Labels}, Key: o.Key,
			Change: o.Change, ObservedAt: received, Attrs: attrNames(&d.Changes[i]), Transaction: byTx[o.Key]}
	}
	us := updates(eng.EvaluateAll(items))
	for i := range obs {
		obs[i].Verdict = &us[i]
	}
	return obs, put, nil
}

// itemOf is a drift item as reconciliation sees it.
func itemOf(di store.DriftItem, h store.Host) reconcile.Item {
	var c baseline.Change
	if json.Unmarshal(di.ChangeDoc, &c) != nil {
		return itemOfChange(di, h, nil)
	}
	return itemOfChange(di, h, &c)
}

// itemOfChange is itemOf with the item's change already decoded (nil when
// its document does not decode).
func itemOfChange(di store.DriftItem, h store.Host, c *baseline.Change) reconcile.Item {
	it := reconcile.Item{ID: di.ID, Host: reconcile.Host{Name: h.Name, Labels: h.Labels}, Key: di.Key, Change: di.Change, ObservedAt: di.ChangedAt}
	if it.ObservedAt.IsZero() {
		it.ObservedAt = di.FirstSeen
	}
	if c != nil {
		it.Attrs = attrNames(c)
	}
	return it
}

// updates turns reconciliation results into the store's verdict updates.
func updates(rs []reconcile.Result) []store.VerdictUpdate {
	us := make([]store.VerdictUpdate, 0, len(rs))
	for _, r := range rs {
		us = append(us, store.VerdictUpdate{ItemID: r.Item.ID, Verdict: string(r.Verdict), Level: r.Level, Rule: r.Rule,
			Tickets: r.Covering, Reason: r.Reason})
	}
	return us
}

// outstanding are the statuses reconciliation keeps judging.
var outstanding = []string{store.DriftOpen, store.DriftRevertRequested}

// Reconcile judges every outstanding drift item of a tenant again (after
// a ticket or the policy changed) and returns how many verdicts or levels
// changed; each change is in the item's history with reason.
func (m *Manager) Reconcile(ctx context.Context, tenantID, reason string) (int, error) {
	m.invalidate(tenantID)
	hosts, err := m.Store.Hosts(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	_, changed, err := m.reconcile(ctx, tenantID, hosts, nil, reason)
	return changed, err
}

// reconcile judges the outstanding drift items of the tenant's hosts
// hostIDs (nil: of all of them) again, with hosts the tenant's host list,
// and returns the engine that judged them (the one the next reports use)
// and how many verdicts or levels changed; each change is in the item's
// history with reason.
func (m *Manager) reconcile(ctx context.Context, tenantID string, hosts []store.Host, hostIDs []string, reason string) (*reconcile.Engine, int, error) {
	eng, err := m.cachedEngine(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]store.Host, len(hosts))
	for _, h := range hosts {
		byID[h.ID] = h
	}
	changed := 0
	f := store.DriftFilter{HostIDs: hostIDs, Statuses: outstanding, Limit: store.MaxPageSize}
	for {
		page, next, err := m.Store.DriftItems(ctx, tenantID, f)
		if err != nil {
			return eng, changed, err
		}
		items := make([]reconcile.Item, 0, len(page))
		for _, di := range page {
			items = append(items, itemOf(di, byID[di.HostID]))
		}
		if eng.HasPackageRules() {
			if err := m.lookupTransactions(ctx, tenantID, page, items); err != nil {
				return eng, changed, err
			}
		}
		us := updates(eng.EvaluateAll(items))
		for i := range us {
			us[i].Reason = reason + ": " + us[i].Reason
		}
		evs, err := m.Store.SetVerdicts(ctx, tenantID, m.now(), us)
		if err != nil {
			return eng, changed, err
		}
		changed += len(evs)
		if next == "" {
			return eng, changed, nil
		}
		f.Cursor = next
	}
}

// ticketRow is a ticket as the store keeps it.
func ticketRow(tk *ticket.Ticket) store.Ticket {
	row := store.Ticket{ID: tk.ID, TenantID: tk.TenantID, Reference: tk.Reference, Title: tk.Title, State: string(tk.State),
		Class: string(tk.Class), Origin: string(tk.Origin), CreatedAt: tk.CreatedAt, UpdatedAt: tk.UpdatedAt, Version: tk.Version}
	if start, end, ok := tk.WindowBounds(); ok {
		row.WindowStart, row.WindowEnd = start, end
	}
	if tk.State.Final() {
		row.FinishedAt = tk.UpdatedAt
	}
	return row
}

// Ticket returns a ticket of a tenant.
func (m *Manager) Ticket(ctx context.Context, tenantID, id string) (*ticket.Ticket, error) {
	st, err := m.Store.Ticket(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		st, err = m.Store.TicketByReference(ctx, tenantID, id)
	}
	if err != nil {
		return nil, err
	}
	return decodeTicket(st)
}

// CreateTicket raises a new ticket as a draft.
func (m *Manager) CreateTicket(ctx context.Context, tenantID string, spec ticket.Spec, by ticket.Actor) (*ticket.Ticket, error) {
	pol, _, err := m.Policy(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	id, err := auth.NewID(auth.PrefixTicketID)
	if err != nil {
		return nil, err
	}
	tk, err := ticket.New(id, tenantID, spec, by, pol, m.now())
	if err != nil {
		return nil, err
	}
	if err := m.write(ctx, tk, true, audit.ActionTicketCreate, by.Email); err != nil {
		return nil, err
	}
	return tk, nil
}

// write stores a ticket with its newest transition and an audit entry.
func (m *Manager) write(ctx context.Context, tk *ticket.Ticket, create bool, action, actor string) error {
	doc, err := json.Marshal(tk)
	if err != nil {
		return fmt.Errorf("encode ticket %s: %w", tk.ID, err)
	}
	row := ticketRow(tk)
	row.Doc = doc
	w := store.TicketWrite{Ticket: row}
	var last ticket.Transition
	if n := len(tk.History); n > 0 {
		last = tk.History[n-1]
	}
	detail, _ := json.Marshal(map[string]any{"ticket": tk.Name(), "action": last.Action, "from": last.From, "to": last.To,
		"comment": last.Comment, "role": last.By.Role, "pending_approval": last.PendingApproval, "changed": last.Changed})
	w.Audit = store.AuditEntry{TenantID: tk.TenantID, At: tk.UpdatedAt, Actor: actor, Action: action, Subject: tk.ID, Detail: detail}
	// A step that keeps the state (a first of two approvals, an
	// amendment) is in the ticket's history and the audit log; the store's
	// transitions are changes of state.
	if len(tk.History) > 0 && last.From != last.To {
		w.Transition = &store.TicketTransition{At: last.At, Actor: last.By.Email, Role: string(last.By.Role), From: string(last.From), To: string(last.To), Comment: last.Comment}
	}
	if create {
		_, err = m.Store.CreateTicket(ctx, w)
	} else {
		w.Ticket.Version = tk.Version - 1
		_, err = m.Store.UpdateTicket(ctx, w)
	}
	return err
}

// Act takes a workflow action on a ticket, reconciles the tenant's drift
// again when the ticket's authority changed, and promotes its changes
// into new baselines once it is implemented.
func (m *Manager) Act(ctx context.Context, tenantID, id string, act ticket.Action, by ticket.Actor, comment string) (*ticket.Ticket, error) {
	tk, err := m.Ticket(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	pol, _, err := m.Policy(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	before := tk.State
	tr, err := tk.Apply(act, by, pol, m.now(), comment)
	if err != nil {
		return nil, err
	}
	action := audit.ActionTicketTransition
	if act == ticket.ActionApprove {
		action = audit.ActionTicketApprove
	}
	if err := m.write(ctx, tk, false, action, by.Email); err != nil {
		return nil, err
	}
	if before.Authorizes() != tk.State.Authorizes() || tr.To != tr.From {
		if _, err := m.Reconcile(ctx, tenantID, fmt.Sprintf("ticket %s %s", tk.Name(), tr.To)); err != nil {
			return tk, err
		}
	}
	if tk.State == ticket.Implemented && tr.From != tr.To {
		if _, err := m.Promote(ctx, tk, by.Email); err != nil {
			return tk, fmt.Errorf("ticket %s implemented, but its changes were not promoted: %w", tk.Name(), err)
		}
	}
	return tk, nil
}

// Promotion is one baseline version a promotion made.
type Promotion struct {
	HostID  string
	Host    string
	Version int
	Items   int
}

// Promote makes the outstanding drift a ticket authorizes part of each
// affected host's baseline: a new version per host that references the
// ticket. Drift it does not authorize stays open.
func (m *Manager) Promote(ctx context.Context, tk *ticket.Ticket, by string) ([]Promotion, error) {
	var items []store.DriftItem
	cursor := ""
	for {
		page, next, err := m.Store.DriftItems(ctx, tk.TenantID, store.DriftFilter{Ticket: tk.ID, Statuses: outstanding, Verdicts: []string{store.VerdictAuthorized}, Limit: 1000, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		items = append(items, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	byHost := map[string][]store.DriftItem{}
	for _, di := range items {
		if len(di.Tickets) > 0 && di.Tickets[0] == tk.ID {
			byHost[di.HostID] = append(byHost[di.HostID], di)
		}
	}
	ref := tk.Name()
	var out []Promotion
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, hostID := range hosts {
		p, err := m.promote(ctx, tk.TenantID, hostID, byHost[hostID], store.DriftPromoted, by,
			fmt.Sprintf("implemented under %s: %s", ref, tk.Title), []string{ref}, audit.ActionDriftPromote)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Accept makes drift items part of their hosts' baselines on a person's
// decision: a new baseline version per host with the reason and, when
// given, the ticket named afterwards.
func (m *Manager) Accept(ctx context.Context, tenantID string, ids []string, by, reason, ticketRef string) ([]Promotion, error) {
	if reason == "" {
		return nil, fmt.Errorf("accept drift: %w: a reason is required", store.ErrInvalid)
	}
	byHost := map[string][]store.DriftItem{}
	var hosts []string
	for _, id := range ids {
		di, err := m.Store.DriftItem(ctx, tenantID, id)
		if err != nil {
			return nil, err
		}
		if !store.CanResolve(di.Status, di.Current) {
			return nil, fmt.Errorf("drift item %s is %s: %w", id, di.Status, store.ErrConflict)
		}
		if _, ok := byHost[di.HostID]; !ok {
			hosts = append(hosts, di.HostID)
		}
		byHost[di.HostID] = append(byHost[di.HostID], di)
	}
	var tickets []string
	if ticketRef != "" {
		tickets = []string{ticketRef}
	}
	var out []Promotion
	for _, hostID := range hosts {
		p, err := m.promote(ctx, tenantID, hostID, byHost[hostID], store.DriftPromoted, by, "accepted: "+reason, tickets, audit.ActionDriftAccept)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// RequestRevert marks drift items to be rolled back on their hosts.
func (m *Manager) RequestRevert(ctx context.Context, tenantID string, ids []string, by, reason string) ([]store.DriftItem, error) {
	if reason == "" {
		return nil, fmt.Errorf("request revert: %w: a reason is required", store.ErrInvalid)
	}
	now := m.now()
	detail, _ := json.Marshal(map[string]any{"items": ids, "reason": reason})
	return m.Store.ResolveDrift(ctx, tenantID, store.DriftResolution{ItemIDs: ids, Status: store.DriftRevertRequested, By: by, At: now, Reason: reason},
		store.AuditEntry{At: now, Actor: by, Action: audit.ActionDriftRevert, Subject: ids[0], Detail: detail})
}

// promote writes the next baseline version of a host with the given drift
// items applied, then records them as resolved.
func (m *Manager) promote(ctx context.Context, tenantID, hostID string, items []store.DriftItem, status, by, reason string, tickets []string, action string) (Promotion, error) {
	h, err := m.Store.Host(ctx, tenantID, hostID)
	if err != nil {
		return Promotion{}, err
	}
	cur, err := m.Store.Baseline(ctx, tenantID, hostID, 0)
	if err != nil {
		return Promotion{}, fmt.Errorf("baseline of host %s: %w", h.Name, err)
	}
	snap, err := baseline.Unmarshal(cur.Snapshot)
	if err != nil {
		return Promotion{}, fmt.Errorf("baseline v%d of host %s: %w", cur.Meta.Version, h.Name, err)
	}
	byKey := make(map[string]int, len(snap.Items))
	for i, it := range snap.Items {
		byKey[it.Key] = i
	}
	var drop map[string]bool
	for _, di := range items {
		var c baseline.Change
		if err := json.Unmarshal(di.ChangeDoc, &c); err != nil {
			return Promotion{}, fmt.Errorf("drift item %s: %w", di.ID, err)
		}
		switch {
		case c.New != nil:
			if i, ok := byKey[c.New.Key]; ok {
				snap.Items[i] = *c.New
			} else {
				byKey[c.New.Key] = len(snap.Items)
				snap.Items = append(snap.Items, *c.New)
			}
		case c.Old != nil:
			if drop == nil {
				drop = map[string]bool{}
			}
			drop[c.Old.Key] = true
		}
	}
	if drop != nil {
		snap.Items = slices.DeleteFunc(snap.Items, func(it baseline.Item) bool { return drop[it.Key] })
	}
	snap.Sort()
	canonical, err := snap.Marshal()
	if err != nil {
		return Promotion{}, fmt.Errorf("new baseline of host %s: %w", h.Name, err)
	}
	now := m.now()
	meta := baseline.Meta{Host: h.Name, Version: cur.Meta.Version + 1, SnapshotDigest: snap.Digest(), Items: len(snap.Items),
		ApprovedBy: by, ApprovedAt: now, Reason: reason, Tickets: tickets, Reviewed: true}
	if err := m.Store.AddBaseline(ctx, store.Baseline{TenantID: tenantID, HostID: hostID, Meta: meta, Snapshot: canonical}); err != nil {
		return Promotion{}, fmt.Errorf("baseline v%d of host %s: %w", meta.Version, h.Name, err)
	}
	ids := make([]string, 0, len(items))
	for _, di := range items {
		ids = append(ids, di.ID)
	}
	bdetail, _ := json.Marshal(map[string]any{"host": h.Name, "version": meta.Version, "snapshot_digest": meta.SnapshotDigest, "tickets": tickets, "reason": reason, "items": ids})
	if _, err := m.Store.AppendAudit(ctx, store.AuditEntry{TenantID: tenantID, At: now, Actor: by, Action: audit.ActionBaselineAdd, Subject: hostID, Detail: bdetail}); err != nil {
		return Promotion{}, err
	}
	ref := ""
	if len(tickets) > 0 {
		ref = tickets[0]
	}
	if _, err := m.Store.ResolveDrift(ctx, tenantID, store.DriftResolution{ItemIDs: ids, Status: status, By: by, At: now, Reason: reason, TicketRef: ref},
		store.AuditEntry{At: now, Actor: by, Action: action, Subject: ids[0], Detail: bdetail}); err != nil {
		return Promotion{}, err
	}
	m.log().Info("baseline promoted", zap.String("host", h.Name), zap.Int("version", meta.Version), zap.Int("items", len(ids)), zap.Strings("tickets", tickets))
	return Promotion{HostID: hostID, Host: h.Name, Version: meta.Version, Items: len(ids)}, nil
}

// Metrics computes a tenant's change metrics over [from, to).
func (m *Manager) Metrics(ctx context.Context, tenantID string, from, to time.Time) (reconcile.Metrics, error) {
	var recs []reconcile.Record
	cursor := ""
	for {
		page, next, err := m.Store.DriftItems(ctx, tenantID, store.DriftFilter{Limit: 1000, Cursor: cursor, Until: to})
		if err != nil {
			return reconcile.Metrics{}, err
		}
		for _, di := range page {
			recs = append(recs, reconcile.Record{FirstSeen: di.FirstSeen, ResolvedAt: di.ResolvedAt, Verdict: reconcile.Verdict(di.Verdict),
				Level: di.Level, Status: reconcile.Status(di.Status)})
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return reconcile.Compute(recs, from, to)
}

// autoPromoteBy is who an automatic promotion is recorded as.
const autoPromoteBy = "driftwatch (auto-promotion)"

// AutoPromote promotes, for a tenant whose policy turns auto-promotion on,
// the authorized drift of every approved ticket whose window (with the
// grace) has closed: the changes made under it become the hosts' new
// baselines without waiting for someone to mark it implemented. It is
// safe to run again and from several collectors: promoted drift is no
// longer outstanding, and a baseline version is written once.
func (m *Manager) AutoPromote(ctx context.Context, tenantID string) ([]Promotion, error) {
	pol, _, err := m.Policy(ctx, tenantID)
	if err != nil || !pol.AutoPromote {
		return nil, err
	}
	stored, err := m.Store.OpenTickets(ctx, tenantID, m.now().Add(-finishedWindow))
	if err != nil {
		return nil, err
	}
	var out []Promotion
	for _, st := range stored {
		tk, err := decodeTicket(st)
		if err != nil {
			continue
		}
		if !tk.State.Authorizes() {
			continue
		}
		_, end, ok := tk.WindowBounds()
		if !ok || m.now().Before(end.Add(time.Duration(pol.Grace))) {
			continue
		}
		ps, err := m.Promote(ctx, tk, autoPromoteBy)
		if errors.Is(err, store.ErrConflict) {
			continue // another collector promoted it meanwhile
		}
		if err != nil {
			return out, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// Approved records that a person approved a host's reported snapshot as
// its next baseline version: an audit entry, and the host's drift items
// of that snapshot's changes resolved as promoted into it.
func (m *Manager) Approved(ctx context.Context, tenantID, hostID string, meta baseline.Meta, d *baseline.Drift) error {
	now := m.now()
	detail, _ := json.Marshal(map[string]any{"host": meta.Host, "version": meta.Version, "snapshot_digest": meta.SnapshotDigest,
		"tickets": meta.Tickets, "reason": meta.Reason})
	if _, err := m.Store.AppendAudit(ctx, store.AuditEntry{TenantID: tenantID, At: now, Actor: meta.ApprovedBy, Action: audit.ActionBaselineAdd, Subject: hostID, Detail: detail}); err != nil {
		return err
	}
	if d == nil || len(d.Changes) == 0 {
		return nil
	}
	want := make(map[string]string, len(d.Changes))
	for i := range d.Changes {
		want[d.Changes[i].Key] = stateDigest(&d.Changes[i])
	}
	open, err := m.Store.OpenDriftForHost(ctx, tenantID, hostID)
	if err != nil {
		return err
	}
	var ids []string
	for _, di := range open {
		if sd, ok := want[di.Key]; ok && sd == di.StateDigest && store.CanResolve(di.Status, di.Current) {
			ids = append(ids, di.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ref := ""
	if len(meta.Tickets) > 0 {
		ref = meta.Tickets[0]
	}
	reason := fmt.Sprintf("approved with baseline v%d: %s", meta.Version, meta.Reason)
	_, err = m.Store.ResolveDrift(ctx, tenantID, store.DriftResolution{ItemIDs: ids, Status: store.DriftPromoted, By: meta.ApprovedBy, At: now, Reason: reason, TicketRef: ref},
		store.AuditEntry{At: now, Actor: meta.ApprovedBy, Action: audit.ActionDriftPromote, Subject: ids[0], Detail: detail})
	return err
}

// Link is what Amend did.
type Link struct {
	// Ticket is the ticket afterwards.
	Ticket *ticket.Ticket
	// Amended is false when the ticket's scope already covered the item:
	// nothing of the ticket changed, and only the verdicts were decided
	// again.
	Amended bool
	// Before is the ticket's state before; Ticket.State differs when the
	// amendment sent the ticket back for review.
	Before ticket.State
	// Item is the drift item, as it was before; HostName names its host.
	Item     store.DriftItem
	HostName string
}

// Amend links a drift item to a ticket (by ID or reference): when the
// ticket's scope does not cover the item yet, it is amended, as by, to
// name the item's host and a pattern that matches the item's key alone,
// with reason in the ticket's history and an audit entry that names the
// item. A change of scope sends a reviewed or approved ticket back for
// review, as every change of what a ticket authorizes does, and is
// refused during implementation. Then the tenant's outstanding drift is
// reconciled again, which decides the item's verdict under the ticket.
// store.ErrNotFound (wrapped) when there is no such ticket or item;
// store.ErrConflict when the ticket changed meanwhile.
func (m *Manager) Amend(ctx context.Context, tenantID, ticketID, itemID string, by ticket.Actor, reason string) (Link, error) {
	di, err := m.Store.DriftItem(ctx, tenantID, itemID)
	if err != nil {
		return Link{}, fmt.Errorf("link drift item %s to ticket %s: %w", itemID, ticketID, err)
	}
	hs, err := m.Store.Host(ctx, tenantID, di.HostID)
	if err != nil {
		return Link{}, fmt.Errorf("link drift item %s to ticket %s: %w", itemID, ticketID, err)
	}
	tk, err := m.Ticket(ctx, tenantID, ticketID)
	if err != nil {
		return Link{}, fmt.Errorf("link drift item %s to ticket %s: %w", itemID, ticketID, err)
	}
	l := Link{Ticket: tk, Before: tk.State, Item: di, HostName: hs.Name}
	spec := tk.Spec
	spec.Scope.Hosts = slices.Clone(spec.Scope.Hosts)
	spec.Scope.Items = slices.Clone(spec.Scope.Items)
	if !ScopeHasHost(tk.Scope, hs) {
		spec.Scope.Hosts = append(spec.Scope.Hosts, hs.Name)
	}
	if !ScopeHasItem(tk.Scope, di.Key) {
		spec.Scope.Items = append(spec.Scope.Items, KeyPattern(di.Key))
	}
	if len(spec.Scope.Hosts) != len(tk.Scope.Hosts) || len(spec.Scope.Items) != len(tk.Scope.Items) {
		pol, _, err := m.Policy(ctx, tenantID)
		if err != nil {
			return Link{}, err
		}
		now := m.now()
		tr, err := tk.Amend(spec, by, pol, now, fmt.Sprintf("linked drift %s on %s: %s", di.Key, hs.Name, reason))
		if err != nil {
			return Link{}, err
		}
		if tr.Action != "" {
			doc, err := json.Marshal(tk)
			if err != nil {
				return Link{}, fmt.Errorf("encode ticket %s: %w", tk.ID, err)
			}
			row := ticketRow(tk)
			row.Doc = doc
			row.Version = tk.Version - 1
			detail, _ := json.Marshal(map[string]any{"ticket": tk.Name(), "action": tr.Action, "from": tr.From, "to": tr.To,
				"comment": tr.Comment, "role": tr.By.Role, "changed": tr.Changed, "drift_item": di.ID, "host": hs.Name, "key": di.Key})
			w := store.TicketWrite{Ticket: row, Audit: store.AuditEntry{TenantID: tk.TenantID, At: now, Actor: by.Email,
				Action: audit.ActionTicketUpdate, Subject: tk.ID, Detail: detail}}
			if tr.From != tr.To {
				w.Transition = &store.TicketTransition{At: tr.At, Actor: tr.By.Email, Role: string(tr.By.Role), From: string(tr.From),
					To: string(tr.To), Comment: tr.Comment}
			}
			if _, err := m.Store.UpdateTicket(ctx, w); err != nil {
				return Link{}, fmt.Errorf("link drift item %s to ticket %s: %w", itemID, tk.Name(), err)
			}
			l.Amended = true
		}
	}
	if _, err := m.Reconcile(ctx, tenantID, fmt.Sprintf("drift %s linked to ticket %s by %s", di.Key, tk.Name(), by.Email)); err != nil {
		return l, err
	}
	return l, nil
}

// ScopeHasHost reports whether a ticket's scope names the host, by name,
// glob or labels.
func ScopeHasHost(s ticket.Scope, hs store.Host) bool {
	for _, n := range s.Hosts {
		if n == hs.Name || pattern.MatchGlob(n, hs.Name) {
			return true
		}
	}
	if len(s.Labels) == 0 {
		return false
	}
	for _, l := range s.Labels {
		k, v, _ := strings.Cut(l, "=")
		if got, ok := hs.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ScopeHasItem reports whether one of a ticket's item patterns matches
// the key.
func ScopeHasItem(s ticket.Scope, key string) bool {
	for _, ps := range s.Items {
		if pt, err := pattern.Compile(ps); err == nil && pt.Match(key) {
			return true
		}
	}
	return false
}

// KeyPattern is the item pattern that matches exactly one key.
func KeyPattern(key string) string {
	var b strings.Builder
	kind, name, _ := strings.Cut(key, ":")
	b.WriteString(kind + ":")
	for _, r := range name {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
