package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// driftCols are a drift item's columns as d, in scanDrift's order, with
// the last-seen columns as stored: NULL while the item is current.
const driftCols = `d.tenant_id, d.id, d.host_id, d.key, d.kind, d.change, d.state_digest, d.change_doc,
	d.first_seen, d.changed_at, d.last_seen, d.first_seq, d.last_seq, d.current, d.status,
	d.verdict, d.level, d.rule, d.tickets, d.verdict_reason, d.resolved_at, d.resolved_by, d.reason, d.ticket_ref`

// driftSelect reads items as i, with a current item's last-seen columns
// taken from its host's drift head h.
const driftSelect = driftSelectCols + `
	FROM drift_items i JOIN drift_heads h ON h.tenant_id = i.tenant_id AND h.host_id = i.host_id`

const driftSelectCols = `SELECT i.tenant_id, i.id, i.host_id, i.key, i.kind, i.change, i.state_digest, i.change_doc,
	i.first_seen, i.changed_at, coalesce(i.last_seen, h.at), i.first_seq, coalesce(i.last_seq, h.seq), i.current, i.status,
	i.verdict, i.level, i.rule, i.tickets, i.verdict_reason, i.resolved_at, i.resolved_by, i.reason, i.ticket_ref`

// scanDrift scans driftCols or driftSelect's columns.
func scanDrift(row pgx.Row) (store.DriftItem, error) {
	var d store.DriftItem
	var change string
	var firstSeq int64
	var lastSeq *int64
	err := row.Scan(&d.TenantID, &d.ID, &d.HostID, &d.Key, &d.Kind, &change, &d.StateDigest, &d.ChangeDoc,
		timeCol{&d.FirstSeen}, timeCol{&d.ChangedAt}, timeCol{&d.LastSeen}, &firstSeq, &lastSeq, &d.Current, &d.Status,
		&d.Verdict, &d.Level, &d.Rule, &d.Tickets, &d.VerdictReason, timeCol{&d.ResolvedAt}, &d.ResolvedBy, &d.Reason, &d.TicketRef)
	if err != nil {
		return store.DriftItem{}, mapErr(err)
	}
	d.Change = baseline.ChangeKind(change)
	d.FirstSeq = uint64(firstSeq)
	if lastSeq != nil {
		d.LastSeq = uint64(*lastSeq)
	}
	if len(d.Tickets) == 0 {
		d.Tickets = nil
	}
	return d, nil
}

func collectDrift(rows pgx.Rows) ([]store.DriftItem, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DriftItem, error) { return scanDrift(row) })
}

// byKey orders items by key.
func byKey(a, b store.DriftItem) int { return strings.Compare(a.Key, b.Key) }

// eventCols are the drift_events columns eventRow fills.
var eventCols = []string{"tenant_id", "item_id", "at", "event", "actor", "report_seq",
	"from_status", "to_status", "from_verdict", "to_verdict", "from_level", "to_level", "from_digest", "to_digest", "reason"}

// copyEvents writes events in tx with one COPY.
func copyEvents(ctx context.Context, tx pgx.Tx, tenantID string, es []store.DriftEvent) error {
	if len(es) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"drift_events"}, eventCols, pgx.CopyFromSlice(len(es), func(i int) ([]any, error) {
		e := es[i]
		return []any{tenantID, e.ItemID, utc(e.At), e.Event, e.Actor, int64(e.ReportSeq),
			e.FromStatus, e.ToStatus, e.FromVerdict, e.ToVerdict, e.FromLevel, e.ToLevel, e.FromDigest, e.ToDigest, e.Reason}, nil
	}))
	if err != nil {
		return fmt.Errorf("history: %w", mapErr(err))
	}
	return nil
}

// currentItem is what ApplyDrift compares an observation with.
type currentItem struct {
	id, digest, status    string
	verdict, rule, reason string
	tickets               []string
	level                 int
	seen                  bool
	// The rest of the row, for modifiedItem.
	firstSeen, resolvedAt             time.Time
	firstSeq                          int64
	resolvedBy, resolution, ticketRef string
}

// modifiedItem is the item c as it reads back after observation o in
// report seq at at modified it (with c's verdict updated first).
func (c *currentItem) modifiedItem(tenantID, hostID string, seq uint64, at time.Time, o store.DriftObservation) store.DriftItem {
	prev := store.DriftItem{ID: c.id, TenantID: tenantID, HostID: hostID, Status: c.status,
		Verdict: c.verdict, Level: c.level, Rule: c.rule, VerdictReason: c.reason,
		FirstSeen: c.firstSeen, FirstSeq: uint64(c.firstSeq),
		ResolvedAt: c.resolvedAt, ResolvedBy: c.resolvedBy, Reason: c.resolution, TicketRef: c.ticketRef}
	if len(c.tickets) > 0 {
		prev.Tickets = slices.Clone(c.tickets)
	}
	return store.ModifiedItem(prev, seq, at, o)
}

// lockItemHosts locks the drift heads of the hosts of the tenant's items
// ids, in host order. Every method that writes items locks their hosts'
// heads first, so that they follow each other per host and never wait
// for each other's item rows in a cycle.
//
// The hosts are found first, as an array evaluated once, and the heads
// then read by their key: a semi-join of the tenant's heads with the
// items may be planned as a walk of every head of the tenant (one item
// lookup per host), and a plan made while the tables were small stays
// with the connection.
func lockItemHosts(ctx context.Context, tx pgx.Tx, tenantID string, ids []string) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM drift_heads WHERE tenant_id = $1
			AND host_id = ANY (ARRAY(SELECT DISTINCT i.host_id FROM unnest($2::text[]) AS u(id)
				JOIN drift_items i ON i.tenant_id = $1 AND i.id = u.id))
		ORDER BY host_id FOR UPDATE`, tenantID, ids)
	if err != nil {
		return fmt.Errorf("lock hosts: %w", err)
	}
	return nil
}

// ApplyDrift applies a host's report in one transaction of two round
// trips, however many items: the first locks the host's drift head
// (creating it at the host's first report) and reads its current items;
// the second writes the differences with array parameters.
func (s *Store) ApplyDrift(ctx context.Context, tenantID, hostID string, seq uint64, at time.Time, obs []store.DriftObservation) (store.ApplyResult, error) {
	if err := store.CheckObservations(seq, at, obs); err != nil {
		return store.ApplyResult{}, fmt.Errorf("apply drift of report %d of host %s: %w", seq, hostID, err)
	}
	var res store.ApplyResult
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = applyDrift(ctx, tx, tenantID, hostID, seq, at, obs)
		return err
	})
	if err != nil {
		return store.ApplyResult{}, fmt.Errorf("apply drift of report %d of host %s: %w", seq, hostID, err)
	}
	return res, nil
}

// applyDrift is ApplyDrift in tx; obs are checked.
func applyDrift(ctx context.Context, tx pgx.Tx, tenantID, hostID string, seq uint64, at time.Time, obs []store.DriftObservation) (store.ApplyResult, error) {
	at = utc(at)
	var res store.ApplyResult
	err := func() error {
		headSeq, headAt, cur, err := readDriftHead(ctx, tx, tenantID, hostID)
		if err != nil {
			return err
		}
		if int64(seq) <= headSeq {
			res.Stale = true
			return nil
		}
		var events []store.DriftEvent
		ev := func(e store.DriftEvent) {
			e.At, e.ReportSeq = at, seq
			events = append(events, e)
		}
		var opens, modified []store.DriftObservation
		var leaveIDs []string
		var leaveRevert []bool
		var verdicts []store.DriftEvent // after the others, as SetVerdicts would add them
		superseded := map[string]bool{}
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
				ev(store.DriftEvent{ItemID: c.id, Event: store.DriftEventModified, FromStatus: c.status, ToStatus: c.status,
					FromVerdict: c.verdict, ToVerdict: c.verdict, FromLevel: c.level, ToLevel: c.level,
					FromDigest: c.digest, ToDigest: o.StateDigest})
				if e, ok := store.VerdictChange(c.id, c.status, c.verdict, c.level, o.Verdict); ok {
					verdicts = append(verdicts, e)
				}
			default:
				superseded[c.id] = true
				leaveIDs, leaveRevert = append(leaveIDs, c.id), append(leaveRevert, false)
				opens = append(opens, o)
				ev(store.DriftEvent{ItemID: c.id, Event: store.DriftEventSuperseded, FromStatus: c.status, ToStatus: c.status,
					FromVerdict: c.verdict, ToVerdict: c.verdict, FromLevel: c.level, ToLevel: c.level,
					FromDigest: c.digest, ToDigest: o.StateDigest,
					Reason: fmt.Sprintf("modified after it was %s; the new state is item %s", c.status, o.NewID)})
			}
			c.seen = true
		}
		reason := fmt.Sprintf("returned to its baseline state (report %d)", seq)
		for _, c := range cur {
			if c.seen {
				continue
			}
			e := store.DriftEvent{ItemID: c.id, FromStatus: c.status, ToStatus: c.status, FromVerdict: c.verdict, ToVerdict: c.verdict,
				FromLevel: c.level, ToLevel: c.level, FromDigest: c.digest, ToDigest: c.digest}
			revert := c.status == store.DriftOpen || c.status == store.DriftRevertRequested
			if revert {
				e.Event, e.ToStatus, e.Reason = store.DriftEventReverted, store.DriftReverted, reason
			} else {
				e.Event, e.Reason = store.DriftEventCleared, fmt.Sprintf("no longer drifts (report %d)", seq)
			}
			ev(e)
			leaveIDs, leaveRevert = append(leaveIDs, c.id), append(leaveRevert, revert)
		}
		for _, o := range opens {
			ev(store.DriftEvent{ItemID: o.NewID, Event: store.DriftEventOpened, ToStatus: store.DriftOpen, ToDigest: o.StateDigest})
			if e, ok := store.VerdictChange(o.NewID, store.DriftOpen, "", 0, o.Verdict); ok {
				verdicts = append(verdicts, e)
			}
		}
		for _, e := range verdicts {
			ev(e)
		}
		// Ticket links: of new items with tickets, and of modified items
		// whose ticket list changes (relinked).
		var relink, linkItems, linkTickets []string

		// One batch, in this order: items leave the current set (they
		// were last seen in the report before this one) before new ones
		// of their keys come in, and events follow their items.
		b := &pgx.Batch{}
		if len(leaveIDs) > 0 {
			b.Queue(`UPDATE drift_items d SET current = false, last_seen = $3, last_seq = $4,
					status = CASE WHEN u.revert THEN 'reverted' ELSE d.status END,
					resolved_at = CASE WHEN u.revert THEN $5 ELSE d.resolved_at END,
					resolved_by = CASE WHEN u.revert THEN '' ELSE d.resolved_by END,
					reason = CASE WHEN u.revert THEN $6 ELSE d.reason END
				FROM unnest($2::text[], $7::boolean[]) AS u(id, revert)
				WHERE d.tenant_id = $1 AND d.host_id = $8 AND d.current AND d.id = u.id
				RETURNING `+driftCols,
				tenantID, leaveIDs, headAt, headSeq, at, reason, leaveRevert, hostID)
		}
		if len(modified) > 0 {
			n := len(modified)
			ids, kinds, changes, digests, docs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			var v verdictCols
			for i, o := range modified {
				c := cur[o.Key]
				ids[i], kinds[i], changes[i], digests[i], docs[i] = c.id, o.Kind, string(o.Change), o.StateDigest, string(o.ChangeDoc)
				// The observation's verdict, or the item's own.
				u := o.Verdict
				if u == nil {
					u = &store.VerdictUpdate{Verdict: c.verdict, Level: c.level, Rule: c.rule, Tickets: c.tickets, Reason: c.reason}
				} else if !slices.Equal(c.tickets, u.Tickets) {
					relink = append(relink, c.id)
					for _, tk := range u.Tickets {
						linkItems, linkTickets = append(linkItems, c.id), append(linkTickets, tk)
					}
				}
				v.add(u)
				c.verdict, c.level, c.rule, c.tickets, c.reason = u.Verdict, u.Level, u.Rule, u.Tickets, u.Reason
			}
			b.Queue(`UPDATE drift_items d SET kind = u.kind, change = u.change, state_digest = u.digest,
					change_doc = u.doc::json, changed_at = $3, verdict = u.verdict, level = u.level, rule = u.rule,
					verdict_reason = u.reason, tickets = u.tickets::text[], priority = u.prio
				FROM unnest($2::text[], $4::text[], $5::text[], $6::text[], $7::text[],
						$8::text[], $9::int[], $10::text[], $11::text[], $12::text[], $13::int[])
					AS u(id, kind, change, digest, doc, verdict, level, rule, reason, tickets, prio)
				WHERE d.tenant_id = $1 AND d.host_id = $14 AND d.current AND d.id = u.id`,
				tenantID, ids, at, kinds, changes, digests, docs, v.verdicts, v.levels, v.rules, v.reasons, v.tickets, v.prios, hostID)
		}
		if len(opens) > 0 {
			n := len(opens)
			ids, keys, kinds, changes, digests, docs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			var v verdictCols
			for i, o := range opens {
				ids[i], keys[i], kinds[i], changes[i], digests[i], docs[i] = o.NewID, o.Key, o.Kind, string(o.Change), o.StateDigest, string(o.ChangeDoc)
				u := o.Verdict
				if u == nil {
					u = &store.VerdictUpdate{}
				}
				for _, tk := range u.Tickets {
					linkItems, linkTickets = append(linkItems, o.NewID), append(linkTickets, tk)
				}
				v.add(u)
			}
			b.Queue(`INSERT INTO drift_items (tenant_id, id, host_id, key, kind, change, state_digest, change_doc,
					first_seen, first_seq, changed_at, current, status, verdict, level, rule, verdict_reason, tickets, priority)
				SELECT $1, u.id, $2, u.key, u.kind, u.change, u.digest, u.doc::json, $3, $4, $3, true, 'open',
					u.verdict, u.level, u.rule, u.reason, u.tickets::text[], u.prio
				FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
						$11::text[], $12::int[], $13::text[], $14::text[], $15::text[], $16::int[])
					AS u(id, key, kind, change, digest, doc, verdict, level, rule, reason, tickets, prio)`,
				tenantID, hostID, at, int64(seq), ids, keys, kinds, changes, digests, docs,
				v.verdicts, v.levels, v.rules, v.reasons, v.tickets, v.prios)
		}
		if len(relink) > 0 {
			b.Queue(`DELETE FROM drift_tickets t USING unnest($2::text[]) AS u(id) WHERE t.tenant_id = $1 AND t.item_id = u.id`,
				tenantID, relink)
		}
		if len(linkItems) > 0 {
			b.Queue(`INSERT INTO drift_tickets (tenant_id, item_id, ticket_id)
				SELECT $1, i, t FROM unnest($2::text[], $3::text[]) AS x(i, t) ON CONFLICT DO NOTHING`, tenantID, linkItems, linkTickets)
		}
		if len(events) > 0 {
			queueEvents(b, tenantID, at, seq, events)
		}
		b.Queue(`UPDATE drift_heads SET seq = $3, at = $4 WHERE tenant_id = $1 AND host_id = $2`,
			tenantID, hostID, int64(seq), at)

		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if len(leaveIDs) > 0 {
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("close items: %w", err)
			}
			left, err := collectDrift(rows)
			if err != nil {
				return fmt.Errorf("close items: %w", err)
			}
			for _, d := range left {
				if superseded[d.ID] {
					res.Superseded = append(res.Superseded, d)
				} else {
					res.Closed = append(res.Closed, d)
				}
			}
		}
		if len(modified) > 0 {
			tag, err := br.Exec()
			if err != nil {
				return fmt.Errorf("update items: %w", mapErr(err))
			}
			if n := tag.RowsAffected(); n != int64(len(modified)) {
				return fmt.Errorf("update items: %d of %d found: %w", n, len(modified), store.ErrNotFound)
			}
			// What they read back is known without reading them: their
			// current row and the observation.
			for _, o := range modified {
				res.Updated = append(res.Updated, cur[o.Key].modifiedItem(tenantID, hostID, seq, at, o))
			}
		}
		if len(opens) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("open items: %w", mapErr(err))
			}
			for _, o := range opens {
				res.Opened = append(res.Opened, store.OpenedItem(tenantID, hostID, seq, at, o))
			}
		}
		if len(relink) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("unlink tickets: %w", mapErr(err))
			}
		}
		if len(linkItems) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("link tickets: %w", mapErr(err))
			}
		}
		if len(events) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("history: %w", mapErr(err))
			}
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("drift head: %w", err)
		}
		return br.Close()
	}()
	if err != nil {
		return store.ApplyResult{}, err
	}
	for _, l := range [][]store.DriftItem{res.Opened, res.Updated, res.Superseded, res.Closed} {
		slices.SortFunc(l, byKey)
	}
	return res, nil
}

// queueEvents queues the insert of ApplyDrift's events, all of report seq
// at at, in their order.
func queueEvents(b *pgx.Batch, tenantID string, at time.Time, seq uint64, es []store.DriftEvent) {
	n := len(es)
	ids, evs, actors := make([]string, n), make([]string, n), make([]string, n)
	fromStatus, toStatus, fromVerdict, toVerdict := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	fromLevel, toLevel := make([]int32, n), make([]int32, n)
	fromDigest, toDigest, reasons := make([]string, n), make([]string, n), make([]string, n)
	for i, e := range es {
		ids[i], evs[i], actors[i] = e.ItemID, e.Event, e.Actor
		fromStatus[i], toStatus[i], fromVerdict[i], toVerdict[i] = e.FromStatus, e.ToStatus, e.FromVerdict, e.ToVerdict
		fromLevel[i], toLevel[i] = int32(e.FromLevel), int32(e.ToLevel)
		fromDigest[i], toDigest[i], reasons[i] = e.FromDigest, e.ToDigest, e.Reason
	}
	b.Queue(`INSERT INTO drift_events (tenant_id, item_id, at, event, actor, report_seq,
			from_status, to_status, from_verdict, to_verdict, from_level, to_level, from_digest, to_digest, reason)
		SELECT $1, u.item_id, $2, u.event, u.actor, $3,
			u.from_status, u.to_status, u.from_verdict, u.to_verdict, u.from_level, u.to_level, u.from_digest, u.to_digest, u.reason
		FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
				$11::integer[], $12::integer[], $13::text[], $14::text[], $15::text[])
			WITH ORDINALITY AS u(item_id, event, actor, from_status, to_status, from_verdict, to_verdict,
				from_level, to_level, from_digest, to_digest, reason, n)
		ORDER BY u.n`,
		tenantID, at, int64(seq), ids, evs, actors, fromStatus, toStatus, fromVerdict, toVerdict,
		fromLevel, toLevel, fromDigest, toDigest, reasons)
}

// readDriftHead locks a host's drift head, creating it at the host's
// first report, and returns the newest applied report's sequence (-1 for
// none) and time, and the host's current items by key, in one round
// trip. store.ErrNotFound when the host is not the tenant's.
func readDriftHead(ctx context.Context, tx pgx.Tx, tenantID, hostID string) (int64, time.Time, map[string]*currentItem, error) {
	b := &pgx.Batch{}
	// The no-op update locks the head as SELECT … FOR UPDATE would.
	b.Queue(`INSERT INTO drift_heads (tenant_id, host_id, seq, at) VALUES ($1, $2, -1, NULL)
		ON CONFLICT (tenant_id, host_id) DO UPDATE SET seq = drift_heads.seq
		RETURNING seq, at`, tenantID, hostID)
	b.Queue(`SELECT id, key, state_digest, status, verdict, level, rule, verdict_reason, tickets,
			first_seen, first_seq, resolved_at, resolved_by, reason, ticket_ref
		FROM drift_items WHERE tenant_id = $1 AND host_id = $2 AND current`, tenantID, hostID)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	var seq int64
	var at time.Time
	if err := br.QueryRow().Scan(&seq, timeCol{&at}); err != nil {
		return 0, time.Time{}, nil, fmt.Errorf("lock drift head: %w", mapErr(err))
	}
	rows, err := br.Query()
	if err != nil {
		return 0, time.Time{}, nil, fmt.Errorf("current items: %w", err)
	}
	defer rows.Close()
	cur := make(map[string]*currentItem)
	for rows.Next() {
		var key string
		c := new(currentItem)
		if err := rows.Scan(&c.id, &key, &c.digest, &c.status, &c.verdict, &c.level, &c.rule, &c.reason, &c.tickets,
			timeCol{&c.firstSeen}, &c.firstSeq, timeCol{&c.resolvedAt}, &c.resolvedBy, &c.resolution, &c.ticketRef); err != nil {
			return 0, time.Time{}, nil, fmt.Errorf("current items: %w", err)
		}
		cur[key] = c
	}
	if err := rows.Err(); err != nil {
		return 0, time.Time{}, nil, fmt.Errorf("current items: %w", err)
	}
	rows.Close()
	if err := br.Close(); err != nil {
		return 0, time.Time{}, nil, fmt.Errorf("current items: %w", err)
	}
	return seq, at, cur, nil
}

// SetVerdicts writes reconciliation results with array parameters; items
// whose results did not change are not written.
func (s *Store) SetVerdicts(ctx context.Context, tenantID string, at time.Time, us []store.VerdictUpdate) ([]store.DriftEvent, error) {
	if err := store.CheckVerdicts(at, us); err != nil {
		return nil, fmt.Errorf("set verdicts of tenant %s: %w", tenantID, err)
	}
	at = utc(at)
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ItemID
	}
	var events []store.DriftEvent
	err := s.write(ctx, func(tx pgx.Tx) error {
		events = nil
		if len(us) == 0 {
			return nil
		}
		if err := lockItemHosts(ctx, tx, tenantID, ids); err != nil {
			return err
		}
		type old struct {
			status, verdict, rule, reason string
			level                         int
			tickets                       []string
		}
		rows, err := tx.Query(ctx, `SELECT d.id, d.status, d.verdict, d.level, d.rule, d.tickets, d.verdict_reason
			FROM unnest($2::text[]) AS u(id) JOIN drift_items d ON d.tenant_id = $1 AND d.id = u.id`, tenantID, ids)
		if err != nil {
			return fmt.Errorf("read items: %w", err)
		}
		olds := make(map[string]old, len(us))
		for rows.Next() {
			var id string
			var o old
			if err := rows.Scan(&id, &o.status, &o.verdict, &o.level, &o.rule, &o.tickets, &o.reason); err != nil {
				rows.Close()
				return fmt.Errorf("read items: %w", err)
			}
			olds[id] = o
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read items: %w", err)
		}
		var w struct {
			ids, verdicts, rules, reasons, tickets []string
			levels, prios                          []int32
		}
		var relink, linkItems, linkTickets []string
		for _, u := range us {
			o, ok := olds[u.ItemID]
			if !ok {
				return fmt.Errorf("item %s: %w", u.ItemID, store.ErrNotFound)
			}
			sameTickets := slices.Equal(o.tickets, u.Tickets)
			if o.verdict == u.Verdict && o.level == u.Level && o.rule == u.Rule && o.reason == u.Reason && sameTickets {
				continue
			}
			tj, err := json.Marshal(nonNil(u.Tickets))
			if err != nil {
				return fmt.Errorf("item %s: tickets: %w", u.ItemID, err)
			}
			w.ids = append(w.ids, u.ItemID)
			w.verdicts = append(w.verdicts, u.Verdict)
			w.levels = append(w.levels, int32(u.Level))
			w.rules = append(w.rules, u.Rule)
			w.reasons = append(w.reasons, u.Reason)
			w.tickets = append(w.tickets, string(tj))
			w.prios = append(w.prios, int32(store.DriftPriority(u.Verdict, u.Level)))
			if !sameTickets {
				relink = append(relink, u.ItemID)
				for _, tk := range u.Tickets {
					linkItems, linkTickets = append(linkItems, u.ItemID), append(linkTickets, tk)
				}
			}
			if o.verdict != u.Verdict || o.level != u.Level {
				events = append(events, store.DriftEvent{ItemID: u.ItemID, At: at, Event: store.DriftEventVerdict,
					FromStatus: o.status, ToStatus: o.status, FromVerdict: o.verdict, ToVerdict: u.Verdict,
					FromLevel: o.level, ToLevel: u.Level, Reason: u.Reason})
			}
		}
		if len(w.ids) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE drift_items d SET verdict = u.verdict, level = u.level, rule = u.rule, verdict_reason = u.reason,
				tickets = ARRAY(SELECT json_array_elements_text(u.tickets::json)), priority = u.prio
			FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[])
				AS u(id, verdict, level, rule, reason, tickets, prio)
			WHERE d.tenant_id = $1 AND d.id = u.id`,
			tenantID, w.ids, w.verdicts, w.levels, w.rules, w.reasons, w.tickets, w.prios)
		if len(relink) > 0 {
			b.Queue(`DELETE FROM drift_tickets t USING unnest($2::text[]) AS u(id) WHERE t.tenant_id = $1 AND t.item_id = u.id`,
				tenantID, relink)
			b.Queue(`INSERT INTO drift_tickets (tenant_id, item_id, ticket_id)
				SELECT $1, i, t FROM unnest($2::text[], $3::text[]) AS x(i, t) ON CONFLICT DO NOTHING`, tenantID, linkItems, linkTickets)
		}
		if len(events) > 0 {
			// Every event is at at, of no report: the batch takes them.
			queueEvents(b, tenantID, at, 0, events)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("write verdicts: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set verdicts of tenant %s: %w", tenantID, err)
	}
	return events, nil
}

// verdictCols are verdicts as array parameters, one row each.
type verdictCols struct {
	verdicts, rules, reasons, tickets []string // tickets: array literals
	levels, prios                     []int32
}

func (v *verdictCols) add(u *store.VerdictUpdate) {
	v.verdicts, v.rules, v.reasons, v.tickets = append(v.verdicts, u.Verdict), append(v.rules, u.Rule), append(v.reasons, u.Reason), append(v.tickets, arrayLiteral(u.Tickets))
	v.levels, v.prios = append(v.levels, int32(u.Level)), append(v.prios, int32(store.DriftPriority(u.Verdict, u.Level)))
}

// arrayLiteral is ss as a text[] literal, each element quoted: the form
// one row of an array parameter takes a list in (a cast per row, where
// a JSON array needs a subquery per row).
func arrayLiteral(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// nonNil is ts, or an empty list for nil.
func nonNil(ts []string) []string {
	if ts == nil {
		return []string{}
	}
	return ts
}

// DriftItems lists drift items in inbox order.
func (s *Store) DriftItems(ctx context.Context, tenantID string, f store.DriftFilter) ([]store.DriftItem, string, error) {
	if err := store.CheckDriftFilter(f); err != nil {
		return nil, "", fmt.Errorf("list drift of tenant %s: %w", tenantID, err)
	}
	var a args
	q := ` WHERE i.tenant_id = ` + a.add(tenantID)
	// One host or status is compared with =, not = ANY: only then can
	// the inbox indexes give the order.
	switch len(f.HostIDs) {
	case 0:
	case 1:
		q += ` AND i.host_id = ` + a.add(f.HostIDs[0])
	default:
		q += ` AND i.host_id = ANY(` + a.add(f.HostIDs) + `)`
	}
	switch len(f.Statuses) {
	case 0:
	case 1:
		q += ` AND i.status = ` + a.add(f.Statuses[0])
	default:
		q += ` AND i.status = ANY(` + a.add(f.Statuses) + `)`
	}
	if len(f.Verdicts) > 0 {
		q += ` AND i.verdict = ANY(` + a.add(f.Verdicts) + `)`
	}
	if len(f.Levels) > 0 {
		q += ` AND i.level = ANY(` + a.add(f.Levels) + `::int[])`
	}
	if f.Key != "" {
		if strings.Contains(f.Key, "*") {
			q += ` AND i.key LIKE ` + a.add(likePattern(f.Key)) + ` ESCAPE '\'`
		} else {
			q += ` AND i.key = ` + a.add(f.Key)
		}
	}
	if f.Ticket != "" {
		q += ` AND i.id IN (SELECT item_id FROM drift_tickets WHERE tenant_id = $1 AND ticket_id = ` + a.add(f.Ticket) + `)`
	}
	if !f.Since.IsZero() {
		q += ` AND i.changed_at >= ` + a.add(utc(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND i.changed_at < ` + a.add(utc(f.Until))
	}
	if f.Cursor != "" {
		c, err := store.ParseDriftCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list drift of tenant %s: %w", tenantID, err)
		}
		q += ` AND (i.priority, i.changed_at, i.id) < (` + a.add(int32(c.Priority)) + `, ` + a.add(c.ChangedAt) + `, ` + a.add(c.ID) + `)`
	}
	n := store.PageSize(f.Limit)
	lim := a.add(n + 1)
	const order = ` ORDER BY i.priority DESC, i.changed_at DESC, i.id DESC`
	// The page is picked from drift_items alone, and joined to the
	// hosts' drift heads afterwards: joined first, the planner may walk
	// every host's items (hundreds of ms on a million items) when it
	// misjudges the tenant's number of hosts.
	inner := `SELECT * FROM drift_items i` + q + order + ` LIMIT ` + lim
	if ps := priorities(f.Verdicts, f.Levels); len(ps) > 0 {
		// The verdicts and levels imply the priorities, which lead the
		// inbox order: one ordered index range per priority, merged,
		// reads no more than the page from each, however rare the
		// items the filter picks are among those it skips.
		parts := make([]string, len(ps))
		for k, p := range ps {
			parts[k] = `(SELECT * FROM drift_items i` + q + ` AND i.priority = ` + a.add(p) + order + ` LIMIT ` + lim + `)`
		}
		inner = strings.Join(parts, ` UNION ALL `)
	}
	query := driftSelectCols + ` FROM (` + inner + `) i
		JOIN drift_heads h ON h.tenant_id = i.tenant_id AND h.host_id = i.host_id` + order + ` LIMIT ` + lim
	// An unnamed statement is planned for the values at hand, not with
	// the generic plan a cached named one switches to after five runs.
	rows, err := s.pool.Query(ctx, query, append([]any{pgx.QueryExecModeCacheDescribe}, a...)...)
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
func priorities(verdicts []string, levels []int) []int32 {
	var ps []int32
	for _, v := range verdicts {
		for _, l := range levels {
			if p := int32(store.DriftPriority(v, l)); !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// likePattern turns a key pattern, where only "*" is special, into a
// LIKE pattern with backslash escapes.
func likePattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*':
			b.WriteByte('%')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// DriftItem finds a drift item.
func (s *Store) DriftItem(ctx context.Context, tenantID, id string) (store.DriftItem, error) {
	d, err := scanDrift(s.pool.QueryRow(ctx, driftSelect+` WHERE i.tenant_id = $1 AND i.id = $2`, tenantID, id))
	if err != nil {
		return store.DriftItem{}, fmt.Errorf("drift item %s of tenant %s: %w", id, tenantID, err)
	}
	return d, nil
}

// DriftHistory lists a drift item's events, oldest first.
func (s *Store) DriftHistory(ctx context.Context, tenantID, id string) ([]store.DriftEvent, error) {
	var es []store.DriftEvent
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM drift_items WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&one); err != nil {
			return mapErr(err)
		}
		rows, err := tx.Query(ctx, `SELECT item_id, at, event, actor, report_seq, from_status, to_status,
				from_verdict, to_verdict, from_level, to_level, from_digest, to_digest, reason
			FROM drift_events WHERE tenant_id = $1 AND item_id = $2 ORDER BY id`, tenantID, id)
		if err != nil {
			return err
		}
		es, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DriftEvent, error) {
			var e store.DriftEvent
			var seq int64
			err := row.Scan(&e.ItemID, timeCol{&e.At}, &e.Event, &e.Actor, &seq, &e.FromStatus, &e.ToStatus,
				&e.FromVerdict, &e.ToVerdict, &e.FromLevel, &e.ToLevel, &e.FromDigest, &e.ToDigest, &e.Reason)
			e.ReportSeq = uint64(seq)
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("history of drift item %s of tenant %s: %w", id, tenantID, err)
	}
	return es, nil
}

// ResolveDrift records a person's decision on drift items, with the
// items' hosts locked so that a report applied at the same time cannot
// close an item between the check and the write.
func (s *Store) ResolveDrift(ctx context.Context, tenantID string, r store.DriftResolution, a store.AuditEntry) ([]store.DriftItem, error) {
	if err := store.CheckResolution(r); err != nil {
		return nil, fmt.Errorf("resolve drift of tenant %s: %w", tenantID, err)
	}
	a, err := store.CheckAudit(tenantID, a)
	if err != nil {
		return nil, fmt.Errorf("resolve drift of tenant %s: %w", tenantID, err)
	}
	at := utc(r.At)
	var out []store.DriftItem
	err = s.write(ctx, func(tx pgx.Tx) error {
		out = nil
		if err := lockItemHosts(ctx, tx, tenantID, r.ItemIDs); err != nil {
			return err
		}
		type item struct {
			status, verdict string
			current         bool
			level           int
		}
		rows, err := tx.Query(ctx, `SELECT d.id, d.status, d.current, d.verdict, d.level
			FROM unnest($2::text[]) AS u(id) JOIN drift_items d ON d.tenant_id = $1 AND d.id = u.id`, tenantID, r.ItemIDs)
		if err != nil {
			return fmt.Errorf("read items: %w", err)
		}
		items := make(map[string]item, len(r.ItemIDs))
		for rows.Next() {
			var id string
			var it item
			if err := rows.Scan(&id, &it.status, &it.current, &it.verdict, &it.level); err != nil {
				rows.Close()
				return fmt.Errorf("read items: %w", err)
			}
			items[id] = it
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read items: %w", err)
		}
		var change []string
		var events []store.DriftEvent
		for _, id := range r.ItemIDs {
			it, ok := items[id]
			switch {
			case !ok:
				return fmt.Errorf("item %s: %w", id, store.ErrNotFound)
			case it.status == r.Status:
				continue
			case !store.CanResolve(it.status, it.current):
				return fmt.Errorf("item %s is %s%s: %w", id, it.status, notCurrent(it.current), store.ErrConflict)
			}
			change = append(change, id)
			events = append(events, store.DriftEvent{ItemID: id, At: at, Event: store.DriftEventResolved, Actor: r.By,
				FromStatus: it.status, ToStatus: r.Status, FromVerdict: it.verdict, ToVerdict: it.verdict,
				FromLevel: it.level, ToLevel: it.level, Reason: r.Reason})
		}
		if len(change) > 0 {
			_, err := tx.Exec(ctx, `UPDATE drift_items d SET status = $3, resolved_at = $4, resolved_by = $5, reason = $6,
					ticket_ref = coalesce(nullif($7, ''), d.ticket_ref)
				FROM unnest($2::text[]) AS u(id) WHERE d.tenant_id = $1 AND d.id = u.id`, tenantID, change, r.Status, at, r.By, r.Reason, r.TicketRef)
			if err != nil {
				return fmt.Errorf("write items: %w", err)
			}
			if err := copyEvents(ctx, tx, tenantID, events); err != nil {
				return err
			}
			if _, err := appendAudit(ctx, tx, a); err != nil {
				return err
			}
		}
		rows, err = tx.Query(ctx, driftSelectCols+` FROM unnest($2::text[]) AS u(id)
			JOIN drift_items i ON i.tenant_id = $1 AND i.id = u.id
			JOIN drift_heads h ON h.tenant_id = i.tenant_id AND h.host_id = i.host_id`, tenantID, r.ItemIDs)
		if err != nil {
			return fmt.Errorf("read items: %w", err)
		}
		got, err := collectDrift(rows)
		if err != nil {
			return fmt.Errorf("read items: %w", err)
		}
		byID := make(map[string]store.DriftItem, len(got))
		for _, d := range got {
			byID[d.ID] = d
		}
		for _, id := range r.ItemIDs {
			out = append(out, byID[id])
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
	rows, err := s.pool.Query(ctx, driftSelect+` WHERE i.tenant_id = $1 AND i.host_id = $2 AND i.status = 'open' ORDER BY i.key`,
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
	rows, err := s.pool.Query(ctx, `SELECT host_id, status, verdict, level, count(*) FROM drift_items
		WHERE tenant_id = $1 AND status IN ('open', 'revert_requested') AND current
		GROUP BY host_id, status, verdict, level
		ORDER BY host_id COLLATE "C", status COLLATE "C", verdict COLLATE "C", level`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("count drift of tenant %s: %w", tenantID, err)
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DriftCount, error) {
		var c store.DriftCount
		err := row.Scan(&c.HostID, &c.Status, &c.Verdict, &c.Level, &c.Count)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count drift of tenant %s: %w", tenantID, err)
	}
	return cs, nil
}
