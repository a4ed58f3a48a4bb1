package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// IngestReport stores a report, the host's last-seen time, open drift and
// agent version and, when the host has no baseline, initial as version 1,
// in one transaction that first locks the host's row, so that ingests of
// one host, from any collector, follow each other.
//
// It takes one round trip: two statements sent as one batch, which the
// server runs as one implicit transaction and commits when both are done
// (or rolls back when one fails). The first locks the host's row and
// reads its baseline; the second, which starts after the lock is held and
// so sees every report committed before, inserts the report unless it is
// a duplicate and updates the host (and stores the initial baseline) when
// it is not. A report with its drift (ApplyDrift) or package transactions
// sends that batch in a transaction and stores them after it.
func (s *Store) IngestReport(ctx context.Context, r store.Report, initial *store.Baseline) (store.IngestResult, error) {
	if err := store.CheckIngest(r, initial); err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest report %d of host %s: %w", r.Sequence, r.HostID, err)
	}
	if initial != nil && initial.Meta.Version != 1 {
		// Refused only when it would be stored: the step by step
		// transaction decides that.
		return s.ingestTx(ctx, r, initial)
	}
	if !r.ApplyDrift && len(r.Transactions) == 0 {
		res, err := ingestBatch(ctx, s.pool, r, initial)
		if err != nil {
			return store.IngestResult{}, fmt.Errorf("ingest report %d of host %s: %w", r.Sequence, r.HostID, err)
		}
		return res, nil
	}
	// With its drift or transactions: the same batch in a transaction
	// that stores them after it.
	var res store.IngestResult
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		if res, err = ingestBatch(ctx, tx, r, initial); err != nil || res.Duplicate {
			return err
		}
		res.Drift, err = ingestTail(ctx, tx, r)
		return err
	})
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest report %d of host %s: %w", r.Sequence, r.HostID, err)
	}
	return res, nil
}

// ingestTail stores what follows a report that is not a duplicate, in its
// transaction: its package transactions and its drift.
func ingestTail(ctx context.Context, tx pgx.Tx, r store.Report) (store.ApplyResult, error) {
	if len(r.Transactions) > 0 {
		if err := putTransactions(ctx, tx, r.TenantID, r.HostID, r.Sequence, r.ReceivedAt, r.Transactions); err != nil {
			return store.ApplyResult{}, fmt.Errorf("package transactions: %w", err)
		}
	}
	if !r.ApplyDrift {
		return store.ApplyResult{}, nil
	}
	res, err := applyDrift(ctx, tx, r.TenantID, r.HostID, r.Sequence, r.ReceivedAt, r.Observations)
	if err != nil {
		return store.ApplyResult{}, fmt.Errorf("apply drift: %w", err)
	}
	return res, nil
}

// batchSender is what *pgxpool.Pool and pgx.Tx share for batches.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// ingestLock locks the host's row and reads its newest baseline. The lock
// is FOR NO KEY UPDATE: it keeps ingests (and approvals) of one host apart
// and leaves the row's key free for the foreign-key checks of rows that
// refer to the host (a drift head created by another transaction), which
// FOR UPDATE would make wait in a cycle with this ingest's own drift.
const ingestLock = `SELECT h.baseline_version, b.snapshot_digest
	FROM hosts h LEFT JOIN baselines b ON b.host_id = h.id AND b.version = h.baseline_version
	WHERE h.tenant_id = $1 AND h.id = $2
	FOR NO KEY UPDATE OF h`

// ingestWrite inserts the report ($1 to $12) unless the host has it, and
// then moves the host's last-seen time to the later of the two, takes the
// report's open drift and agent version when no report of a higher
// sequence is stored, and stores the initial baseline ($13 true, $14 to
// $22) as version 1 when the host has none. It returns whether the report
// and the baseline were stored.
const ingestWrite = `WITH ins AS (
		INSERT INTO reports (tenant_id, host_id, sequence, received_at, taken_at, snapshot_digest,
			item_count, agent_version, sources, drift, changes, size)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (host_id, sequence) DO NOTHING
		RETURNING sequence
	), newest AS (
		SELECT NOT EXISTS (SELECT 1 FROM reports WHERE host_id = $2 AND sequence > $3) AS is_newest
	), base AS (
		INSERT INTO baselines (tenant_id, host_id, version, host_name, snapshot_digest, items,
			approved_by, approved_at, reason, tickets, reviewed, snapshot)
		SELECT $1, $2, 1, $14::text, $15::text, $16::integer, $17::text, $18::timestamptz, $19::text, $20::text[], $21::boolean, $22::bytea
		FROM ins JOIN hosts h ON h.tenant_id = $1 AND h.id = $2
		WHERE $13::boolean AND h.baseline_version = 0
		RETURNING version
	), upd AS (
		UPDATE hosts SET last_seen = greatest(last_seen, $4),
			open_drift = CASE WHEN newest.is_newest THEN $11 ELSE open_drift END,
			agent_version = CASE WHEN newest.is_newest THEN coalesce(nullif($8, ''), agent_version) ELSE agent_version END,
			baseline_version = CASE WHEN EXISTS (SELECT 1 FROM base) THEN 1 ELSE baseline_version END
		FROM ins, newest
		WHERE hosts.tenant_id = $1 AND hosts.id = $2
		RETURNING 1
	)
	SELECT EXISTS (SELECT 1 FROM ins), EXISTS (SELECT 1 FROM base), (SELECT count(*) FROM upd)`

// ingestBatch is IngestReport, without the drift, in one round trip, sent
// through the pool (one implicit transaction) or in a transaction;
// initial, when not nil, is version 1.
func ingestBatch(ctx context.Context, to batchSender, r store.Report, initial *store.Baseline) (store.IngestResult, error) {
	if err := ctx.Err(); err != nil {
		return store.IngestResult{}, err
	}
	args := []any{r.TenantID, r.HostID, int64(r.Sequence), utc(r.ReceivedAt), utc(r.TakenAt), r.SnapshotDigest.String(),
		r.ItemCount, r.AgentVersion, nullJSON(r.Sources), nullJSON(r.Drift), r.Changes, r.Size,
		initial != nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
	if initial != nil {
		m := initial.Meta
		tickets := m.Tickets
		if tickets == nil {
			tickets = []string{}
		}
		snap := initial.Snapshot
		if snap == nil {
			snap = []byte{}
		}
		copy(args[13:], []any{m.Host, m.SnapshotDigest.String(), m.Items, m.ApprovedBy, utc(m.ApprovedAt), m.Reason, tickets, m.Reviewed, snap})
	}
	b := &pgx.Batch{}
	b.Queue(ingestLock, r.TenantID, r.HostID)
	b.Queue(ingestWrite, args...)
	// Once sent, the batch is not cut off by the caller's cancellation: a
	// commit cut off midway would leave the caller with an error for a
	// report the server may have stored (see write).
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	br := to.SendBatch(bctx, b)
	var res store.IngestResult
	var digest *string
	lockErr := br.QueryRow().Scan(&res.BaselineVersion, &digest)
	var stored, based bool
	var updated int
	writeErr := br.QueryRow().Scan(&stored, &based, &updated)
	closeErr := br.Close()
	switch {
	case lockErr != nil:
		return store.IngestResult{}, mapErr(lockErr)
	case writeErr != nil:
		if err := mapErr(writeErr); errors.Is(err, store.ErrExists) {
			return store.IngestResult{}, fmt.Errorf("initial baseline: %w: %v", store.ErrConflict, writeErr)
		}
		return store.IngestResult{}, mapErr(writeErr)
	case closeErr != nil:
		return store.IngestResult{}, fmt.Errorf("commit: %w", closeErr)
	case stored && updated != 1:
		// Cannot happen with the host's row locked; said rather than
		// assumed.
		return store.IngestResult{}, fmt.Errorf("host row not updated (%d rows)", updated)
	}
	if digest != nil {
		d, err := baseline.ParseDigest(*digest)
		if err != nil {
			return store.IngestResult{}, fmt.Errorf("baseline v%d: %w", res.BaselineVersion, err)
		}
		res.BaselineDigest = d
	}
	res.Duplicate = !stored
	if based {
		res.BaselineVersion, res.BaselineDigest = 1, initial.Meta.SnapshotDigest
	}
	return res, nil
}

// ingestTx is IngestReport step by step in one transaction.
func (s *Store) ingestTx(ctx context.Context, r store.Report, initial *store.Baseline) (store.IngestResult, error) {
	var res store.IngestResult
	err := s.write(ctx, func(tx pgx.Tx) error {
		res = store.IngestResult{}
		var lastSeen time.Time
		var digest *string
		err := tx.QueryRow(ctx, `SELECT h.baseline_version, h.last_seen, b.snapshot_digest
			FROM hosts h LEFT JOIN baselines b ON b.host_id = h.id AND b.version = h.baseline_version
			WHERE h.tenant_id = $1 AND h.id = $2 FOR NO KEY UPDATE OF h`,
			r.TenantID, r.HostID).Scan(&res.BaselineVersion, timeCol{&lastSeen}, &digest)
		if err != nil {
			return mapErr(err)
		}
		if digest != nil {
			if res.BaselineDigest, err = baseline.ParseDigest(*digest); err != nil {
				return fmt.Errorf("baseline v%d: %w", res.BaselineVersion, err)
			}
		}
		// A statement of its own, after the lock: it sees every report
		// committed before.
		var maxSeq *int64
		if err := tx.QueryRow(ctx, `SELECT max(sequence) FROM reports WHERE host_id = $1`, r.HostID).Scan(&maxSeq); err != nil {
			return fmt.Errorf("newest sequence: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO reports (tenant_id, host_id, sequence, received_at, taken_at, snapshot_digest,
				item_count, agent_version, sources, drift, changes, size)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (host_id, sequence) DO NOTHING`,
			r.TenantID, r.HostID, int64(r.Sequence), utc(r.ReceivedAt), utc(r.TakenAt), r.SnapshotDigest.String(),
			r.ItemCount, r.AgentVersion, nullJSON(r.Sources), nullJSON(r.Drift), r.Changes, r.Size)
		if err != nil {
			return fmt.Errorf("insert: %w", mapErr(err))
		}
		if tag.RowsAffected() == 0 {
			res.Duplicate = true
			return nil
		}
		if lastSeen.Before(r.ReceivedAt) {
			lastSeen = r.ReceivedAt
		}
		if maxSeq == nil || int64(r.Sequence) > *maxSeq {
			_, err = tx.Exec(ctx, `UPDATE hosts SET last_seen = $1, open_drift = $2,
					agent_version = coalesce(nullif($3, ''), agent_version)
				WHERE id = $4`, utc(lastSeen), r.Changes, r.AgentVersion, r.HostID)
		} else {
			_, err = tx.Exec(ctx, `UPDATE hosts SET last_seen = $1 WHERE id = $2`, utc(lastSeen), r.HostID)
		}
		if err != nil {
			return fmt.Errorf("update host: %w", err)
		}
		if initial != nil && res.BaselineVersion == 0 {
			if initial.Meta.Version != 1 {
				return fmt.Errorf("initial baseline v%d, want v1: %w", initial.Meta.Version, store.ErrConflict)
			}
			if err := addBaseline(ctx, tx, r.TenantID, r.HostID, *initial); err != nil {
				return fmt.Errorf("initial baseline: %w", err)
			}
			res.BaselineVersion, res.BaselineDigest = 1, initial.Meta.SnapshotDigest
		}
		res.Drift, err = ingestTail(ctx, tx, r)
		return err
	})
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest report %d of host %s: %w", r.Sequence, r.HostID, err)
	}
	return res, nil
}

// nullJSON is b as stored: json, or NULL for nil or empty.
func nullJSON(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

const reportCols = `tenant_id, host_id, sequence, received_at, taken_at, snapshot_digest, item_count, agent_version, sources, drift, changes, size`

func scanReport(row pgx.Row) (store.Report, error) {
	var r store.Report
	var seq int64
	err := row.Scan(&r.TenantID, &r.HostID, &seq, timeCol{&r.ReceivedAt}, timeCol{&r.TakenAt}, digestCol{&r.SnapshotDigest},
		&r.ItemCount, &r.AgentVersion, &r.Sources, &r.Drift, &r.Changes, &r.Size)
	if err != nil {
		return store.Report{}, mapErr(err)
	}
	r.Sequence = uint64(seq)
	return r, nil
}

// LatestReport returns the host's report with the highest sequence.
func (s *Store) LatestReport(ctx context.Context, tenantID, hostID string) (store.Report, error) {
	r, err := scanReport(s.pool.QueryRow(ctx, `SELECT `+reportCols+` FROM reports
		WHERE tenant_id = $1 AND host_id = $2 ORDER BY sequence DESC LIMIT 1`, tenantID, hostID))
	if err != nil {
		return store.Report{}, fmt.Errorf("latest report of host %s: %w", hostID, err)
	}
	return r, nil
}

// ReportBySnapshot returns the host's report of a snapshot with the
// highest sequence.
func (s *Store) ReportBySnapshot(ctx context.Context, tenantID, hostID string, d baseline.Digest) (store.Report, error) {
	r, err := scanReport(s.pool.QueryRow(ctx, `SELECT `+reportCols+` FROM reports
		WHERE tenant_id = $1 AND host_id = $2 AND snapshot_digest = $3 ORDER BY sequence DESC LIMIT 1`, tenantID, hostID, d.String()))
	if err != nil {
		return store.Report{}, fmt.Errorf("report of snapshot %s of host %s: %w", d.Short(), hostID, err)
	}
	return r, nil
}

// ReportCount returns how many reports a host has stored.
func (s *Store) ReportCount(ctx context.Context, tenantID, hostID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM reports WHERE host_id = hosts.id)
		FROM hosts WHERE tenant_id = $1 AND id = $2`, tenantID, hostID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count reports of host %s: %w", hostID, mapErr(err))
	}
	return n, nil
}

// AddBaseline stores the next baseline version of a host, with the host's
// row locked so that two approvals of one version cannot both pass.
func (s *Store) AddBaseline(ctx context.Context, b store.Baseline) error {
	v := b.Meta.Version
	err := s.write(ctx, func(tx pgx.Tx) error {
		var cur int
		err := tx.QueryRow(ctx, `SELECT baseline_version FROM hosts WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			b.TenantID, b.HostID).Scan(&cur)
		if err != nil {
			return mapErr(err)
		}
		if v != cur+1 {
			return fmt.Errorf("host has v%d: %w", cur, store.ErrConflict)
		}
		return addBaseline(ctx, tx, b.TenantID, b.HostID, b)
	})
	if err != nil {
		return fmt.Errorf("add baseline v%d of host %s: %w", v, b.HostID, err)
	}
	return nil
}

// addBaseline inserts b as the host's newest version; the caller holds
// the host's row lock and has checked that it is the next one.
func addBaseline(ctx context.Context, tx pgx.Tx, tenantID, hostID string, b store.Baseline) error {
	m := b.Meta
	tickets := m.Tickets
	if tickets == nil {
		tickets = []string{}
	}
	snap := b.Snapshot
	if snap == nil {
		snap = []byte{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO baselines (tenant_id, host_id, version, host_name, snapshot_digest, items,
			approved_by, approved_at, reason, tickets, reviewed, snapshot)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		tenantID, hostID, m.Version, m.Host, m.SnapshotDigest.String(), m.Items,
		m.ApprovedBy, utc(m.ApprovedAt), m.Reason, tickets, m.Reviewed, snap)
	if err != nil {
		if errors.Is(mapErr(err), store.ErrExists) {
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		return mapErr(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE hosts SET baseline_version = $1 WHERE id = $2`, m.Version, hostID); err != nil {
		return fmt.Errorf("update host: %w", err)
	}
	return nil
}

const baselineMetaCols = `host_name, version, snapshot_digest, items, approved_by, approved_at, reason, tickets, reviewed`

func scanMeta(row pgx.Row, extra ...any) (baseline.Meta, error) {
	var m baseline.Meta
	dest := append([]any{&m.Host, &m.Version, digestCol{&m.SnapshotDigest}, &m.Items, &m.ApprovedBy,
		timeCol{&m.ApprovedAt}, &m.Reason, &m.Tickets, &m.Reviewed}, extra...)
	if err := row.Scan(dest...); err != nil {
		return baseline.Meta{}, mapErr(err)
	}
	if len(m.Tickets) == 0 {
		m.Tickets = nil
	}
	return m, nil
}

// Baseline returns version v of a host's baseline (0: the newest).
func (s *Store) Baseline(ctx context.Context, tenantID, hostID string, v int) (store.Baseline, error) {
	q := `SELECT ` + baselineMetaCols + `, snapshot FROM baselines WHERE tenant_id = $1 AND host_id = $2`
	args := []any{tenantID, hostID}
	if v == 0 {
		q += ` ORDER BY version DESC LIMIT 1`
	} else {
		q += ` AND version = $3`
		args = append(args, v)
	}
	b := store.Baseline{TenantID: tenantID, HostID: hostID}
	m, err := scanMeta(s.pool.QueryRow(ctx, q, args...), &b.Snapshot)
	if err != nil {
		return store.Baseline{}, fmt.Errorf("baseline v%d of host %s: %w", v, hostID, err)
	}
	b.Meta = m
	if b.Snapshot == nil {
		b.Snapshot = []byte{}
	}
	return b, nil
}

// Baselines lists a host's baseline versions, oldest first.
func (s *Store) Baselines(ctx context.Context, tenantID, hostID string) ([]baseline.Meta, error) {
	var ms []baseline.Meta
	// One read-only transaction, so that the host check and the list agree.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM hosts WHERE tenant_id = $1 AND id = $2`, tenantID, hostID).Scan(&one); err != nil {
			return mapErr(err)
		}
		rows, err := tx.Query(ctx, `SELECT `+baselineMetaCols+` FROM baselines
			WHERE tenant_id = $1 AND host_id = $2 ORDER BY version`, tenantID, hostID)
		if err != nil {
			return err
		}
		ms, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (baseline.Meta, error) { return scanMeta(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list baselines of host %s: %w", hostID, err)
	}
	return ms, nil
}
