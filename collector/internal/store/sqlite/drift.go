package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// driftCols are a drift item's columns in scanDrift's order, with the
// last-seen columns as stored: NULL while the item is current.
const driftCols = `tenant_id, id, host_id, key, kind, change, state_digest, change_doc,
	first_seen, changed_at, last_seen, first_seq, last_seq, current, status,
	verdict, level, rule, tickets, verdict_reason, resolved_at, resolved_by, reason, ticket_ref`

// driftSelect reads items as i, with a current item's last-seen columns
// taken from its host's drift head h.
const driftSelect = driftSelectCols + driftFrom

const driftSelectCols = `SELECT i.tenant_id, i.id, i.host_id, i.key, i.kind, i.change, i.state_digest, i.change_doc,
	i.first_seen, i.changed_at, coalesce(i.last_seen, h.at), i.first_seq, coalesce(i.last_seq, h.seq), i.current, i.status,
	i.verdict, i.level, i.rule, i.tickets, i.verdict_reason, i.resolved_at, i.resolved_by, i.reason, i.ticket_ref`

const driftFrom = ` FROM drift_items i JOIN drift_heads h ON h.tenant_id = i.tenant_id AND h.host_id = i.host_id`

// scanDrift scans driftCols or driftSelect's columns.
func scanDrift(row scanner) (store.DriftItem, error) {
	var d store.DriftItem
	var change string
	var firstSeq int64
	var lastSeq sql.NullInt64
	err := row.Scan(&d.TenantID, &d.ID, &d.HostID, &d.Key, &d.Kind, &change, &d.StateDigest, rawJSONCol{&d.ChangeDoc},
		timeCol{&d.FirstSeen}, timeCol{&d.ChangedAt}, timeCol{&d.LastSeen}, &firstSeq, &lastSeq, &d.Current, &d.Status,
		&d.Verdict, &d.Level, &d.Rule, jsonCol{&d.Tickets}, &d.VerdictReason, timeCol{&d.ResolvedAt}, &d.ResolvedBy, &d.Reason, &d.TicketRef)
	if err != nil {
		return store.DriftItem{}, mapErr(err)
	}
	d.Change = baseline.ChangeKind(change)
	d.FirstSeq = uint64(firstSeq)
	if lastSeq.Valid {
		d.LastSeq = uint64(lastSeq.Int64)
	}
	if len(d.Tickets) == 0 {
		d.Tickets = nil
	}
	return d, nil
}

// collectDrift scans every row of a driftSelect query.
func collectDrift(rows *sql.Rows) ([]store.DriftItem, error) {
	defer rows.Close()
	var ds []store.DriftItem
	for rows.Next() {
		d, err := scanDrift(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, rows.Err()
}

// event is a drift_events row.
type event = store.DriftEvent

const insertEvent = `INSERT INTO drift_events (tenant_id, item_id, at, event, actor, report_seq,
		from_status, to_status, from_verdict, to_verdict, from_level, to_level, from_digest, to_digest, reason)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func eventArgs(tenantID string, e event) []any {
	return []any{tenantID, e.ItemID, fmtTime(e.At), e.Event, e.Actor, int64(e.ReportSeq),
		e.FromStatus, e.ToStatus, e.FromVerdict, e.ToVerdict, e.FromLevel, e.ToLevel, e.FromDigest, e.ToDigest, e.Reason}
}

// insertEvents writes events in tx with one prepared statement.
func insertEvents(ctx context.Context, tx *sql.Tx, tenantID string, es []event) error {
	if len(es) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, insertEvent)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer st.Close()
	for _, e := range es {
		if _, err := st.ExecContext(ctx, eventArgs(tenantID, e)...); err != nil {
			return fmt.Errorf("history of item %s: %w", e.ItemID, mapErr(err))
		}
	}
	return nil
}

// currentItem is what ApplyDrift compares an observation with.
type currentItem struct {
	id, digest, status    string
	verdict, rule, reason string
	tickets               string // as stored: a JSON array
	level                 int
	seen                  bool
	// The rest of the row, for modifiedItem.
	firstSeen, resolvedAt             time.Time
	firstSeq                          int64
	resolvedBy, resolution, ticketRef string
}

// currentCols are currentItems' columns, in its Scan's order.
const currentCols = `id, key, state_digest, status, verdict, level, rule, verdict_reason, tickets,
	first_seen, first_seq, resolved_at, resolved_by, reason, ticket_ref`

// modifiedItem is the item c as it reads back after observation o in
// report seq at at modified it (with c's verdict updated first).
func (c *currentItem) modifiedItem(tenantID, hostID string, seq uint64, at time.Time, o store.DriftObservation) (store.DriftItem, error) {
	prev := store.DriftItem{ID: c.id, TenantID: tenantID, HostID: hostID, Status: c.status,
		Verdict: c.verdict, Level: c.level, Rule: c.rule, VerdictReason: c.reason,
		FirstSeen: c.firstSeen, FirstSeq: uint64(c.firstSeq),
		ResolvedAt: c.resolvedAt, ResolvedBy: c.resolvedBy, Reason: c.resolution, TicketRef: c.ticketRef}
	if c.tickets != "[]" {
		if err := json.Unmarshal([]byte(c.tickets), &prev.Tickets); err != nil {
			return store.DriftItem{}, fmt.Errorf("item %s: tickets: %w", c.id, err)
		}
		if len(prev.Tickets) == 0 {
			prev.Tickets = nil
		}
	}
	return store.ModifiedItem(prev, seq, at, o), nil
}

// ApplyDrift applies a host's report in one write transaction: the
// host's current items are read once and only the differences written,
// with statements prepared once on the write connection and the items and
// events of the report written a run of rows at a time.
func (s *Store) ApplyDrift(ctx context.Context, tenantID, hostID string, seq uint64, at time.Time, obs []store.DriftObservation) (store.ApplyResult, error) {
	if err := store.CheckObservations(seq, at, obs); err != nil {
		return store.ApplyResult{}, fmt.Errorf("apply drift of report %d of host %s: %w", seq, hostID, err)
	}
	ps, err := s.applyStatements(ctx)
	if err != nil {
		return store.ApplyResult{}, fmt.Errorf("apply drift of report %d of host %s: %w", seq, hostID, err)
	}
	var res store.ApplyResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = applyDrift(ctx, tx, ps, tenantID, hostID, seq, at, obs)
		return err
	})
	if err != nil {
		return store.ApplyResult{}, fmt.Errorf("apply drift of report %d of host %s: %w", seq, hostID, err)
	}
	return res, nil
}

// applyDrift is ApplyDrift in tx, with its statements ps; obs are
// checked.
func applyDrift(ctx context.Context, tx *sql.Tx, ps *applyStmts, tenantID, hostID string, seq uint64, at time.Time, obs []store.DriftObservation) (store.ApplyResult, error) {
	at = at.UTC().Truncate(time.Microsecond)
	var res store.ApplyResult
	err := func() error {
		stmt := func(st *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, st) }
		// The head is created at the host's first report, and read.
		var headSeq int64
		var headAt time.Time
		if err := stmt(ps.head).QueryRowContext(ctx, tenantID, hostID).Scan(&headSeq, timeCol{&headAt}); err != nil {
			return fmt.Errorf("drift head: %w", mapErr(err))
		}
		if int64(seq) <= headSeq {
			res.Stale = true
			return nil
		}
		cur, err := currentItems(ctx, stmt(ps.current), tenantID, hostID)
		if err != nil {
			return err
		}
		var events []event
		ev := func(e event) {
			e.At, e.ReportSeq = at, seq
			events = append(events, e)
		}
		var opens, modified []store.DriftObservation
		var superseded []*currentItem
		var verdicts []event // after the others, as SetVerdicts would add them
		for _, o := range obs {
			c := cur[o.Key]
			switch {
			case c == nil:
				opens = append(opens, o)
				continue
			case c.digest == o.StateDigest:
				res.Unchanged++
			case c.status == store.DriftOpen:
				modified = append(modified, o)
				ev(event{ItemID: c.id, Event: store.DriftEventModified, FromStatus: c.status, ToStatus: c.status,
					FromVerdict: c.verdict, ToVerdict: c.verdict, FromLevel: c.level, ToLevel: c.level,
					FromDigest: c.digest, ToDigest: o.StateDigest})
				if e, ok := store.VerdictChange(c.id, c.status, c.verdict, c.level, o.Verdict); ok {
					verdicts = append(verdicts, e)
				}
			default:
				superseded = append(superseded, c)
				opens = append(opens, o)
				ev(event{ItemID: c.id, Event: store.DriftEventSuperseded, FromStatus: c.status, ToStatus: c.status,
					FromVerdict: c.verdict, ToVerdict: c.verdict, FromLevel: c.level, ToLevel: c.level,
					FromDigest: c.digest, ToDigest: o.StateDigest,
					Reason: fmt.Sprintf("modified after it was %s; the new state is item %s", c.status, o.NewID)})
			}
			c.seen = true
		}

		// Items leave the current set before new ones of their keys come in.
		prevSeen, prevSeq := fmtTime(headAt), headSeq
		var leaveSt, revertSt *sql.Stmt // taken into tx when needed
		leave := func() *sql.Stmt {
			if leaveSt == nil {
				leaveSt = stmt(ps.leave)
			}
			return leaveSt
		}
		revert := func() *sql.Stmt {
			if revertSt == nil {
				revertSt = stmt(ps.revert)
			}
			return revertSt
		}
		for _, c := range superseded {
			d, err := scanDrift(leave().QueryRowContext(ctx, prevSeen, prevSeq, tenantID, c.id))
			if err != nil {
				return fmt.Errorf("supersede item %s: %w", c.id, err)
			}
			res.Superseded = append(res.Superseded, d)
		}
		reason := fmt.Sprintf("returned to its baseline state (report %d)", seq)
		for _, key := range sortedKeys(cur) {
			c := cur[key]
			if c.seen {
				continue
			}
			var d store.DriftItem
			var err error
			e := event{ItemID: c.id, FromStatus: c.status, ToStatus: c.status, FromVerdict: c.verdict, ToVerdict: c.verdict,
				FromLevel: c.level, ToLevel: c.level, FromDigest: c.digest, ToDigest: c.digest}
			if c.status == store.DriftOpen || c.status == store.DriftRevertRequested {
				d, err = scanDrift(revert().QueryRowContext(ctx, prevSeen, prevSeq, fmtTime(at), reason, tenantID, c.id))
				e.Event, e.ToStatus, e.Reason = store.DriftEventReverted, store.DriftReverted, reason
			} else {
				d, err = scanDrift(leave().QueryRowContext(ctx, prevSeen, prevSeq, tenantID, c.id))
				e.Event, e.Reason = store.DriftEventCleared, fmt.Sprintf("no longer drifts (report %d)", seq)
			}
			if err != nil {
				return fmt.Errorf("close item %s: %w", c.id, err)
			}
			ev(e)
			res.Closed = append(res.Closed, d)
		}

		// A modified item takes the observation's verdict, or keeps its
		// own; its ticket links follow a new ticket list. Items whose
		// verdict stays are written without the verdict columns (whose
		// indexes then need no update). What they read back is known
		// without reading them: their current row and the observation.
		var relink []*currentItem
		var relinkTickets [][]string
		var same, judged []store.DriftObservation
		for _, o := range modified {
			c := cur[o.Key]
			v := o.Verdict
			if v == nil {
				same = append(same, o)
				continue
			}
			tj, err := ticketsJSON(v.Tickets)
			if err != nil {
				return fmt.Errorf("item %s: tickets: %w", c.id, err)
			}
			if tj != c.tickets {
				relink, relinkTickets = append(relink, c), append(relinkTickets, v.Tickets)
			}
			if v.Verdict == c.verdict && v.Level == c.level && v.Rule == c.rule && v.Reason == c.reason && tj == c.tickets {
				same = append(same, o)
				continue
			}
			c.verdict, c.level, c.rule, c.reason, c.tickets = v.Verdict, v.Level, v.Rule, v.Reason, tj
			judged = append(judged, o)
		}
		for _, group := range []struct {
			obs   []store.DriftObservation
			cols  int
			stmts []*sql.Stmt
		}{{same, modifyCols, ps.modify}, {judged, modifyJudgedCols, ps.modifyJudged}} {
			err = inRuns(len(group.obs), func(lo, n int) error {
				args := make([]any, 0, 2+group.cols*n)
				args = append(args, fmtTime(at))
				for _, o := range group.obs[lo : lo+n] {
					c := cur[o.Key]
					args = append(args, c.id, o.Kind, string(o.Change), o.StateDigest, string(o.ChangeDoc))
					if group.cols == modifyJudgedCols {
						args = append(args, c.verdict, c.level, c.rule, c.tickets, c.reason, store.DriftPriority(c.verdict, c.level))
					}
				}
				args = append(args, tenantID)
				r, err := stmt(group.stmts[runIndex(n)]).ExecContext(ctx, args...)
				if err != nil {
					return fmt.Errorf("update items: %w", mapErr(err))
				}
				if got, err := r.RowsAffected(); err != nil {
					return fmt.Errorf("update items: %w", err)
				} else if got != int64(n) {
					return fmt.Errorf("update items: %d of %d found: %w", got, n, store.ErrNotFound)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, o := range modified {
			d, err := cur[o.Key].modifiedItem(tenantID, hostID, seq, at, o)
			if err != nil {
				return err
			}
			res.Updated = append(res.Updated, d)
		}

		err = inRuns(len(opens), func(lo, n int) error {
			args := make([]any, 0, openCols*n)
			for _, o := range opens[lo : lo+n] {
				verdict, level, rule, tickets, reason := "", 0, "", "[]", ""
				if v := o.Verdict; v != nil {
					tj, err := ticketsJSON(v.Tickets)
					if err != nil {
						return fmt.Errorf("item %s: tickets: %w", o.NewID, err)
					}
					verdict, level, rule, tickets, reason = v.Verdict, v.Level, v.Rule, tj, v.Reason
				}
				args = append(args, tenantID, o.NewID, hostID, o.Key, o.Kind, string(o.Change), o.StateDigest, string(o.ChangeDoc),
					fmtTime(at), int64(seq), fmtTime(at), verdict, level, rule, tickets, reason, store.DriftPriority(verdict, level))
			}
			if _, err := stmt(ps.open[runIndex(n)]).ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("open items %s to %s: %w", opens[lo].Key, opens[lo+n-1].Key, mapErr(err))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, o := range opens {
			res.Opened = append(res.Opened, store.OpenedItem(tenantID, hostID, seq, at, o))
			ev(event{ItemID: o.NewID, Event: store.DriftEventOpened, ToStatus: store.DriftOpen, ToDigest: o.StateDigest})
			if e, ok := store.VerdictChange(o.NewID, store.DriftOpen, "", 0, o.Verdict); ok {
				verdicts = append(verdicts, e)
			}
			if v := o.Verdict; v != nil && len(v.Tickets) > 0 {
				if err := link(ctx, stmt(ps.link), tenantID, o.NewID, v.Tickets); err != nil {
					return err
				}
			}
		}
		for i, c := range relink {
			if _, err := stmt(ps.unlink).ExecContext(ctx, tenantID, c.id); err != nil {
				return fmt.Errorf("item %s: tickets: %w", c.id, err)
			}
			if err := link(ctx, stmt(ps.link), tenantID, c.id, relinkTickets[i]); err != nil {
				return err
			}
		}
		for _, e := range verdicts {
			ev(e)
		}

		err = inRuns(len(events), func(lo, n int) error {
			args := make([]any, 0, 15*n)
			for _, e := range events[lo : lo+n] {
				args = append(args, eventArgs(tenantID, e)...)
			}
			if _, err := stmt(ps.events[runIndex(n)]).ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("history: %w", mapErr(err))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if _, err := stmt(ps.setHead).ExecContext(ctx, int64(seq), fmtTime(at), tenantID, hostID); err != nil {
			return fmt.Errorf("drift head: %w", err)
		}
		return nil
	}()
	if err != nil {
		return store.ApplyResult{}, err
	}
	for _, l := range [][]store.DriftItem{res.Opened, res.Updated, res.Superseded, res.Closed} {
		slices.SortFunc(l, func(a, b store.DriftItem) int { return strings.Compare(a.Key, b.Key) })
	}
	return res, nil
}

// link records that the tickets cover an item, with the prepared
// statement st.
func link(ctx context.Context, st *sql.Stmt, tenantID, itemID string, tickets []string) error {
	for _, tk := range tickets {
		if _, err := st.ExecContext(ctx, tenantID, tk, itemID); err != nil {
			return fmt.Errorf("item %s: tickets: %w", itemID, mapErr(err))
		}
	}
	return nil
}

// modifyCols, modifyJudgedCols and openCols are the parameters of one row
// of ApplyDrift's multi-row updates (without and with the verdict) and
// insert.
const (
	modifyCols       = 5
	modifyJudgedCols = 11
	openCols         = 17
)

// maxRun is the most rows one of ApplyDrift's multi-row statements
// writes; it has one statement for each power of two up to it.
const maxRun = 64

// runSizes is the number of multi-row statements of each kind.
var runSizes = bits.TrailingZeros(maxRun) + 1

// inRuns calls f for consecutive runs [lo, lo+n) of n rows, n a power of
// two no larger than maxRun, largest first: a report of 20 changes is
// written in runs of 16 and 4.
func inRuns(rows int, f func(lo, n int) error) error {
	for lo := 0; lo < rows; {
		n := maxRun
		for n > rows-lo {
			n >>= 1
		}
		if err := f(lo, n); err != nil {
			return err
		}
		lo += n
	}
	return nil
}

// runIndex is the index of the statement for runs of n rows.
func runIndex(n int) int { return bits.TrailingZeros(uint(n)) }

// applyStmts are ApplyDrift's and IngestReport's statements, prepared on
// the write connection; the multi-row ones by runIndex.
type applyStmts struct {
	head, current, leave, revert, setHead *sql.Stmt
	link, unlink                          *sql.Stmt
	// IngestReport's.
	reportHost, insertReport, hostNewest, hostSeen *sql.Stmt
	modify, modifyJudged, open, events             []*sql.Stmt
}

// applyStatements returns ApplyDrift's and IngestReport's statements, preparing them at its
// first call; Close closes them. It runs outside write: preparing takes
// the write connection.
func (s *Store) applyStatements(ctx context.Context) (*applyStmts, error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.apply != nil {
		return s.apply, nil
	}
	var prepErr error
	prep := func(q string) *sql.Stmt {
		if prepErr != nil {
			return nil
		}
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			prepErr = fmt.Errorf("prepare statements: %w", err)
		}
		return st
	}
	ps := &applyStmts{
		head: prep(`INSERT INTO drift_heads (tenant_id, host_id, seq, at) VALUES (?, ?, -1, NULL)
			ON CONFLICT (tenant_id, host_id) DO UPDATE SET seq = seq RETURNING seq, at`),
		current: prep(`SELECT ` + currentCols + ` FROM drift_items
			WHERE tenant_id = ? AND host_id = ? AND current = 1`),
		leave: prep(`UPDATE drift_items SET current = 0, last_seen = ?, last_seq = ?
			WHERE tenant_id = ? AND id = ? RETURNING ` + driftCols),
		revert: prep(`UPDATE drift_items SET current = 0, last_seen = ?, last_seq = ?,
				status = 'reverted', resolved_at = ?, resolved_by = '', reason = ?
			WHERE tenant_id = ? AND id = ? RETURNING ` + driftCols),
		setHead: prep(`UPDATE drift_heads SET seq = ?, at = ? WHERE tenant_id = ? AND host_id = ?`),
		link: prep(`INSERT INTO drift_tickets (tenant_id, ticket_id, item_id) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`),
		unlink: prep(`DELETE FROM drift_tickets WHERE tenant_id = ? AND item_id = ?`),
		reportHost: prep(`SELECT baseline_version, last_seen, (SELECT max(sequence) FROM reports WHERE host_id = hosts.id),
				(SELECT snapshot_digest FROM baselines WHERE host_id = hosts.id AND version = hosts.baseline_version)
			FROM hosts WHERE tenant_id = ? AND id = ?`),
		insertReport: prep(`INSERT INTO reports (tenant_id, host_id, sequence, received_at, taken_at, snapshot_digest,
				item_count, agent_version, sources, drift, changes, size)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (host_id, sequence) DO NOTHING`),
		hostNewest: prep(`UPDATE hosts SET last_seen = ?, open_drift = ?,
				agent_version = coalesce(nullif(?, ''), agent_version)
			WHERE id = ?`),
		hostSeen: prep(`UPDATE hosts SET last_seen = ? WHERE id = ?`),
	}
	for i := range runSizes {
		n := 1 << i
		ps.modify = append(ps.modify, prep(`UPDATE drift_items SET kind = u.column2, change = u.column3,
				state_digest = u.column4, change_doc = u.column5, changed_at = ?
			FROM (VALUES `+rowsOf(n, modifyCols)+`) AS u
			WHERE drift_items.tenant_id = ? AND drift_items.id = u.column1`))
		ps.modifyJudged = append(ps.modifyJudged, prep(`UPDATE drift_items SET kind = u.column2, change = u.column3,
				state_digest = u.column4, change_doc = u.column5, changed_at = ?,
				verdict = u.column6, level = u.column7, rule = u.column8, tickets = u.column9,
				verdict_reason = u.column10, priority = u.column11
			FROM (VALUES `+rowsOf(n, modifyJudgedCols)+`) AS u
			WHERE drift_items.tenant_id = ? AND drift_items.id = u.column1`))
		ps.open = append(ps.open, prep(`INSERT INTO drift_items (tenant_id, id, host_id, key, kind, change, state_digest, change_doc,
				first_seen, first_seq, changed_at, verdict, level, rule, tickets, verdict_reason, priority, current, status)
			VALUES `+repeatRow(n, `(`+placeholders(openCols)+`, 1, 'open')`)))
		ps.events = append(ps.events, prep(`INSERT INTO drift_events (tenant_id, item_id, at, event, actor, report_seq,
				from_status, to_status, from_verdict, to_verdict, from_level, to_level, from_digest, to_digest, reason)
			VALUES `+rowsOf(n, 15)))
	}
	if prepErr != nil {
		ps.close()
		return nil, prepErr
	}
	s.apply = ps
	return ps, nil
}

// close closes the statements that were prepared.
func (ps *applyStmts) close() {
	for _, st := range append([]*sql.Stmt{ps.head, ps.current, ps.leave, ps.revert, ps.setHead, ps.link, ps.unlink,
		ps.reportHost, ps.insertReport, ps.hostNewest, ps.hostSeen},
		slices.Concat(ps.modify, ps.modifyJudged, ps.open, ps.events)...) {
		if st != nil {
			_ = st.Close()
		}
	}
}

// rowsOf returns n rows of cols placeholders each, for VALUES.
func rowsOf(n, cols int) string {
	return repeatRow(n, "("+placeholders(cols)+")")
}

// repeatRow returns n copies of row, separated by commas.
func repeatRow(n int, row string) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// currentItems reads a host's current items by key with the prepared
// statement st.
func currentItems(ctx context.Context, st *sql.Stmt, tenantID, hostID string) (map[string]*currentItem, error) {
	rows, err := st.QueryContext(ctx, tenantID, hostID)
	if err != nil {
		return nil, fmt.Errorf("current items: %w", err)
	}
	defer rows.Close()
	cur := make(map[string]*currentItem)
	for rows.Next() {
		var key string
		c := new(currentItem)
		if err := rows.Scan(&c.id, &key, &c.digest, &c.status, &c.verdict, &c.level, &c.rule, &c.reason, &c.tickets,
			timeCol{&c.firstSeen}, &c.firstSeq, timeCol{&c.resolvedAt}, &c.resolvedBy, &c.resolution, &c.ticketRef); err != nil {
			return nil, fmt.Errorf("current items: %w", err)
		}
		cur[key] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("current items: %w", err)
	}
	return cur, nil
}

// sortedKeys returns m's keys in order, so that closings are written and
// returned in key order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SetVerdicts writes reconciliation results; items whose results did not
// change are not written.
func (s *Store) SetVerdicts(ctx context.Context, tenantID string, at time.Time, us []store.VerdictUpdate) ([]store.DriftEvent, error) {
	if err := store.CheckVerdicts(at, us); err != nil {
		return nil, fmt.Errorf("set verdicts of tenant %s: %w", tenantID, err)
	}
	at = at.UTC().Truncate(time.Microsecond)
	var events []event
	err := s.write(ctx, func(tx *sql.Tx) error {
		events = nil
		read, err := tx.PrepareContext(ctx, `SELECT status, verdict, level, rule, tickets, verdict_reason
			FROM drift_items WHERE tenant_id = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer read.Close()
		write, err := tx.PrepareContext(ctx, `UPDATE drift_items SET verdict = ?, level = ?, rule = ?, tickets = ?, verdict_reason = ?, priority = ?
			WHERE tenant_id = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer write.Close()
		unlink, err := tx.PrepareContext(ctx, `DELETE FROM drift_tickets WHERE tenant_id = ? AND item_id = ?`)
		if err != nil {
			return err
		}
		defer unlink.Close()
		link, err := tx.PrepareContext(ctx, `INSERT INTO drift_tickets (tenant_id, ticket_id, item_id) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer link.Close()
		for _, u := range us {
			var status, verdict, rule, reason string
			var level int
			var tickets []string
			err := read.QueryRowContext(ctx, tenantID, u.ItemID).Scan(&status, &verdict, &level, &rule, jsonCol{&tickets}, &reason)
			if err != nil {
				return fmt.Errorf("item %s: %w", u.ItemID, mapErr(err))
			}
			sameTickets := slices.Equal(tickets, u.Tickets)
			if verdict == u.Verdict && level == u.Level && rule == u.Rule && reason == u.Reason && sameTickets {
				continue
			}
			tj, err := ticketsJSON(u.Tickets)
			if err != nil {
				return fmt.Errorf("item %s: tickets: %w", u.ItemID, err)
			}
			if _, err := write.ExecContext(ctx, u.Verdict, u.Level, u.Rule, tj, u.Reason, store.DriftPriority(u.Verdict, u.Level),
				tenantID, u.ItemID); err != nil {
				return fmt.Errorf("item %s: %w", u.ItemID, err)
			}
			if !sameTickets {
				if _, err := unlink.ExecContext(ctx, tenantID, u.ItemID); err != nil {
					return fmt.Errorf("item %s: tickets: %w", u.ItemID, err)
				}
				for _, tk := range u.Tickets {
					if _, err := link.ExecContext(ctx, tenantID, tk, u.ItemID); err != nil {
						return fmt.Errorf("item %s: tickets: %w", u.ItemID, err)
					}
				}
			}
			if verdict != u.Verdict || level != u.Level {
				events = append(events, event{ItemID: u.ItemID, At: at, Event: store.DriftEventVerdict,
					FromStatus: status, ToStatus: status, FromVerdict: verdict, ToVerdict: u.Verdict,
					FromLevel: level, ToLevel: u.Level, Reason: u.Reason})
			}
		}
		return insertEvents(ctx, tx, tenantID, events)
	})
	if err != nil {
		return nil, fmt.Errorf("set verdicts of tenant %s: %w", tenantID, err)
	}
	return events, nil
}

// ticketsJSON encodes ticket IDs; nil is an empty array.
func ticketsJSON(ts []string) (string, error) {
	if ts == nil {
		ts = []string{}
	}
	b, err := json.Marshal(ts)
	return string(b), err
}

// DriftItems lists drift items in inbox order.
func (s *Store) DriftItems(ctx context.Context, tenantID string, f store.DriftFilter) ([]store.DriftItem, string, error) {
	if err := store.CheckDriftFilter(f); err != nil {
		return nil, "", fmt.Errorf("list drift of tenant %s: %w", tenantID, err)
	}
	q := driftSelect + ` WHERE i.tenant_id = ?`
	args := []any{tenantID}
	if f.Ticket != "" {
		// The ticket's items first, then sorted: a ticket has few items,
		// and the inbox order would scan the tenant's to find them.
		q = driftSelectCols + ` FROM drift_tickets t CROSS JOIN drift_items i ON i.tenant_id = t.tenant_id AND i.id = t.item_id
			JOIN drift_heads h ON h.tenant_id = i.tenant_id AND h.host_id = i.host_id
			WHERE t.tenant_id = ? AND t.ticket_id = ?`
		args = []any{tenantID, f.Ticket}
	}
	in := func(col string, n int, add func(i int) any) {
		if n == 0 {
			return
		}
		q += ` AND ` + col + ` IN (` + placeholders(n) + `)`
		for i := range n {
			args = append(args, add(i))
		}
	}
	in("i.host_id", len(f.HostIDs), func(i int) any { return f.HostIDs[i] })
	in("i.status", len(f.Statuses), func(i int) any { return f.Statuses[i] })
	in("i.verdict", len(f.Verdicts), func(i int) any { return f.Verdicts[i] })
	in("i.level", len(f.Levels), func(i int) any { return f.Levels[i] })
	// Implied by the verdicts and levels, and what the inbox indexes are
	// ordered by: the scan starts at the first matching item.
	ps := priorities(f.Verdicts, f.Levels)
	in("i.priority", len(ps), func(i int) any { return ps[i] })
	if f.Key != "" {
		if strings.Contains(f.Key, "*") {
			q += ` AND i.key GLOB ?`
			args = append(args, globPattern(f.Key))
		} else {
			q += ` AND i.key = ?`
			args = append(args, f.Key)
		}
	}
	if !f.Since.IsZero() {
		q += ` AND i.changed_at >= ?`
		args = append(args, fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND i.changed_at < ?`
		args = append(args, fmtTime(f.Until))
	}
	if f.Cursor != "" {
		c, err := store.ParseDriftCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list drift of tenant %s: %w", tenantID, err)
		}
		q += ` AND (i.priority, i.changed_at, i.id) < (?, ?, ?)`
		args = append(args, c.Priority, fmtTime(c.ChangedAt), c.ID)
	}
	n := store.PageSize(f.Limit)
	q += ` ORDER BY i.priority DESC, i.changed_at DESC, i.id DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list drift of tenant %s: %w", tenantID, err)
	}
	ds, err := collectDrift(rows)
	if err != nil {
		return nil, "", fmt.Errorf("list drift of tenant %s: %w", tenantID, err)
	}
	var next string
	if len(ds) > n {
		ds = ds[:n]
		last := ds[n-1]
		next = store.DriftCursor{Priority: store.DriftPriority(last.Verdict, last.Level), ChangedAt: last.ChangedAt, ID: last.ID}.String()
	}
	return ds, next, nil
}

// priorities returns the inbox priorities of the items with one of the
// verdicts at one of the levels, without repeats; none unless both are
// given.
func priorities(verdicts []string, levels []int) []int {
	var ps []int
	for _, v := range verdicts {
		for _, l := range levels {
			if p := store.DriftPriority(v, l); !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// globPattern turns a key pattern, where only "*" is special, into a
// GLOB pattern.
func globPattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '?', '[':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// DriftItem finds a drift item.
func (s *Store) DriftItem(ctx context.Context, tenantID, id string) (store.DriftItem, error) {
	d, err := scanDrift(s.r.QueryRowContext(ctx, driftSelect+` WHERE i.tenant_id = ? AND i.id = ?`, tenantID, id))
	if err != nil {
		return store.DriftItem{}, fmt.Errorf("drift item %s of tenant %s: %w", id, tenantID, err)
	}
	return d, nil
}

// DriftHistory lists a drift item's events, oldest first.
func (s *Store) DriftHistory(ctx context.Context, tenantID, id string) ([]store.DriftEvent, error) {
	es, err := s.driftHistory(ctx, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("history of drift item %s of tenant %s: %w", id, tenantID, err)
	}
	return es, nil
}

func (s *Store) driftHistory(ctx context.Context, tenantID, id string) ([]store.DriftEvent, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM drift_items WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&one); err != nil {
		return nil, mapErr(err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT item_id, at, event, actor, report_seq, from_status, to_status,
			from_verdict, to_verdict, from_level, to_level, from_digest, to_digest, reason
		FROM drift_events WHERE tenant_id = ? AND item_id = ? ORDER BY id`, tenantID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []store.DriftEvent
	for rows.Next() {
		var e store.DriftEvent
		var seq int64
		if err := rows.Scan(&e.ItemID, timeCol{&e.At}, &e.Event, &e.Actor, &seq, &e.FromStatus, &e.ToStatus,
			&e.FromVerdict, &e.ToVerdict, &e.FromLevel, &e.ToLevel, &e.FromDigest, &e.ToDigest, &e.Reason); err != nil {
			return nil, err
		}
		e.ReportSeq = uint64(seq)
		es = append(es, e)
	}
	return es, rows.Err()
}

// ResolveDrift records a person's decision on drift items.
func (s *Store) ResolveDrift(ctx context.Context, tenantID string, r store.DriftResolution, a store.AuditEntry) ([]store.DriftItem, error) {
	if err := store.CheckResolution(r); err != nil {
		return nil, fmt.Errorf("resolve drift of tenant %s: %w", tenantID, err)
	}
	a, err := store.CheckAudit(tenantID, a)
	if err != nil {
		return nil, fmt.Errorf("resolve drift of tenant %s: %w", tenantID, err)
	}
	at := r.At.UTC().Truncate(time.Microsecond)
	var out []store.DriftItem
	err = s.write(ctx, func(tx *sql.Tx) error {
		out = nil
		var events []event
		for _, id := range r.ItemIDs {
			var status, verdict string
			var level int
			var current bool
			err := tx.QueryRowContext(ctx, `SELECT status, current, verdict, level FROM drift_items WHERE tenant_id = ? AND id = ?`,
				tenantID, id).Scan(&status, &current, &verdict, &level)
			if err != nil {
				return fmt.Errorf("item %s: %w", id, mapErr(err))
			}
			if status == r.Status {
				continue
			}
			if !store.CanResolve(status, current) {
				return fmt.Errorf("item %s is %s%s: %w", id, status, notCurrent(current), store.ErrConflict)
			}
			_, err = tx.ExecContext(ctx, `UPDATE drift_items SET status = ?, resolved_at = ?, resolved_by = ?, reason = ?,
					ticket_ref = coalesce(nullif(?, ''), ticket_ref)
				WHERE tenant_id = ? AND id = ?`, r.Status, fmtTime(at), r.By, r.Reason, r.TicketRef, tenantID, id)
			if err != nil {
				return fmt.Errorf("item %s: %w", id, err)
			}
			events = append(events, event{ItemID: id, At: at, Event: store.DriftEventResolved, Actor: r.By,
				FromStatus: status, ToStatus: r.Status, FromVerdict: verdict, ToVerdict: verdict, FromLevel: level, ToLevel: level,
				Reason: r.Reason})
		}
		if len(events) > 0 {
			if err := insertEvents(ctx, tx, tenantID, events); err != nil {
				return err
			}
			if _, err := appendAudit(ctx, tx, a); err != nil {
				return err
			}
		}
		for _, id := range r.ItemIDs {
			d, err := scanDrift(tx.QueryRowContext(ctx, driftSelect+` WHERE i.tenant_id = ? AND i.id = ?`, tenantID, id))
			if err != nil {
				return fmt.Errorf("item %s: %w", id, err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve drift of tenant %s as %s: %w", tenantID, r.Status, err)
	}
	return out, nil
}

// notCurrent says that an item no longer drifts as recorded.
func notCurrent(current bool) string {
	if current {
		return ""
	}
	return " and no longer current"
}

// OpenDriftForHost returns a host's open items, by key.
func (s *Store) OpenDriftForHost(ctx context.Context, tenantID, hostID string) ([]store.DriftItem, error) {
	rows, err := s.r.QueryContext(ctx, driftSelect+` WHERE i.tenant_id = ? AND i.host_id = ? AND i.status = 'open' ORDER BY i.key`,
		tenantID, hostID)
	if err != nil {
		return nil, fmt.Errorf("open drift of host %s of tenant %s: %w", hostID, tenantID, err)
	}
	ds, err := collectDrift(rows)
	if err != nil {
		return nil, fmt.Errorf("open drift of host %s of tenant %s: %w", hostID, tenantID, err)
	}
	return ds, nil
}

// DriftCounts counts a tenant's outstanding items.
func (s *Store) DriftCounts(ctx context.Context, tenantID string) ([]store.DriftCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT host_id, status, verdict, level, count(*) FROM drift_items
		WHERE tenant_id = ? AND status IN ('open', 'revert_requested') AND current = 1
		GROUP BY host_id, status, verdict, level ORDER BY host_id, status, verdict, level`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("count drift of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	var cs []store.DriftCount
	for rows.Next() {
		var c store.DriftCount
		if err := rows.Scan(&c.HostID, &c.Status, &c.Verdict, &c.Level, &c.Count); err != nil {
			return nil, fmt.Errorf("count drift of tenant %s: %w", tenantID, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count drift of tenant %s: %w", tenantID, err)
	}
	return cs, nil
}
