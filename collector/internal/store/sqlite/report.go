package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// IngestReport stores a report, the host's last-seen time, open drift and
// agent version and, when the host has no baseline, initial as version 1,
// in one write transaction.
func (s *Store) IngestReport(ctx context.Context, r store.Report, initial *store.Baseline) (store.IngestResult, error) {
	if err := store.CheckIngest(r, initial); err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest report %d of host %s: %w", r.Sequence, r.HostID, err)
	}
	ps, err := s.applyStatements(ctx)
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest report %d of host %s: %w", r.Sequence, r.HostID, err)
	}
	var res store.IngestResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		res = store.IngestResult{}
		stmt := func(st *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, st) }
		var lastSeen time.Time
		var maxSeq sql.NullInt64
		var digest sql.NullString
		err := stmt(ps.reportHost).QueryRowContext(ctx, r.TenantID, r.HostID).
			Scan(&res.BaselineVersion, timeCol{&lastSeen}, &maxSeq, &digest)
		if err != nil {
			return mapErr(err)
		}
		if digest.Valid {
			if res.BaselineDigest, err = baseline.ParseDigest(digest.String); err != nil {
				return fmt.Errorf("baseline v%d: %w", res.BaselineVersion, err)
			}
		}
		ins, err := stmt(ps.insertReport).ExecContext(ctx, r.TenantID, r.HostID, int64(r.Sequence), fmtTime(r.ReceivedAt), fmtTime(r.TakenAt), r.SnapshotDigest.String(),
			r.ItemCount, r.AgentVersion, rawJSON(r.Sources), rawJSON(r.Drift), r.Changes, r.Size)
		if err != nil {
			return fmt.Errorf("insert: %w", mapErr(err))
		}
		if n, err := ins.RowsAffected(); err != nil {
			return fmt.Errorf("insert: %w", err)
		} else if n == 0 {
			res.Duplicate = true
			return nil
		}
		if lastSeen.Before(r.ReceivedAt) {
			lastSeen = r.ReceivedAt
		}
		if !maxSeq.Valid || int64(r.Sequence) > maxSeq.Int64 {
			_, err = stmt(ps.hostNewest).ExecContext(ctx, fmtTime(lastSeen), r.Changes, r.AgentVersion, r.HostID)
		} else {
			_, err = stmt(ps.hostSeen).ExecContext(ctx, fmtTime(lastSeen), r.HostID)
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
		if len(r.Transactions) > 0 {
			if err := putTransactions(ctx, tx, r.TenantID, r.HostID, r.Sequence, r.ReceivedAt, r.Transactions); err != nil {
				return fmt.Errorf("package transactions: %w", err)
			}
		}
		if r.ApplyDrift {
			if res.Drift, err = applyDrift(ctx, tx, ps, r.TenantID, r.HostID, r.Sequence, r.ReceivedAt, r.Observations); err != nil {
				return fmt.Errorf("apply drift: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest report %d of host %s: %w", r.Sequence, r.HostID, err)
	}
	return res, nil
}

const reportCols = `tenant_id, host_id, sequence, received_at, taken_at, snapshot_digest, item_count, agent_version, sources, drift, changes, size`

func scanReport(row scanner) (store.Report, error) {
	var r store.Report
	var seq int64
	err := row.Scan(&r.TenantID, &r.HostID, &seq, timeCol{&r.ReceivedAt}, timeCol{&r.TakenAt}, digestCol{&r.SnapshotDigest},
		&r.ItemCount, &r.AgentVersion, rawJSONCol{&r.Sources}, rawJSONCol{&r.Drift}, &r.Changes, &r.Size)
	if err != nil {
		return store.Report{}, mapErr(err)
	}
	r.Sequence = uint64(seq)
	return r, nil
}

// LatestReport returns the host's report with the highest sequence.
func (s *Store) LatestReport(ctx context.Context, tenantID, hostID string) (store.Report, error) {
	r, err := scanReport(s.r.QueryRowContext(ctx, `SELECT `+reportCols+` FROM reports
		WHERE tenant_id = ? AND host_id = ? ORDER BY sequence DESC LIMIT 1`, tenantID, hostID))
	if err != nil {
		return store.Report{}, fmt.Errorf("latest report of host %s: %w", hostID, err)
	}
	return r, nil
}

// ReportBySnapshot returns the host's report of a snapshot with the
// highest sequence.
func (s *Store) ReportBySnapshot(ctx context.Context, tenantID, hostID string, d baseline.Digest) (store.Report, error) {
	r, err := scanReport(s.r.QueryRowContext(ctx, `SELECT `+reportCols+` FROM reports
		WHERE tenant_id = ? AND host_id = ? AND snapshot_digest = ? ORDER BY sequence DESC LIMIT 1`, tenantID, hostID, d.String()))
	if err != nil {
		return store.Report{}, fmt.Errorf("report of snapshot %s of host %s: %w", d.Short(), hostID, err)
	}
	return r, nil
}

// ReportCount returns how many reports a host has stored.
func (s *Store) ReportCount(ctx context.Context, tenantID, hostID string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM reports WHERE host_id = hosts.id)
		FROM hosts WHERE tenant_id = ? AND id = ?`, tenantID, hostID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count reports of host %s: %w", hostID, mapErr(err))
	}
	return n, nil
}

// AddBaseline stores the next baseline version of a host.
func (s *Store) AddBaseline(ctx context.Context, b store.Baseline) error {
	v := b.Meta.Version
	err := s.write(ctx, func(tx *sql.Tx) error {
		var cur int
		err := tx.QueryRowContext(ctx, `SELECT baseline_version FROM hosts WHERE tenant_id = ? AND id = ?`, b.TenantID, b.HostID).Scan(&cur)
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

// addBaseline inserts b as the host's newest version; the caller has
// checked that it is the next one.
func addBaseline(ctx context.Context, tx *sql.Tx, tenantID, hostID string, b store.Baseline) error {
	m := b.Meta
	tickets := m.Tickets
	if tickets == nil {
		tickets = []string{}
	}
	tj, err := json.Marshal(tickets)
	if err != nil {
		return fmt.Errorf("tickets: %w", err)
	}
	snap := b.Snapshot
	if snap == nil {
		snap = []byte{}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO baselines (tenant_id, host_id, version, host_name, snapshot_digest, items,
			approved_by, approved_at, reason, tickets, reviewed, snapshot)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenantID, hostID, m.Version, m.Host, m.SnapshotDigest.String(), m.Items,
		m.ApprovedBy, fmtTime(m.ApprovedAt), m.Reason, string(tj), m.Reviewed, snap)
	if err != nil {
		if errors.Is(mapErr(err), store.ErrExists) {
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		return mapErr(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE hosts SET baseline_version = ? WHERE id = ?`, m.Version, hostID); err != nil {
		return fmt.Errorf("update host: %w", err)
	}
	return nil
}

const baselineMetaCols = `host_name, version, snapshot_digest, items, approved_by, approved_at, reason, tickets, reviewed`

func scanMeta(row scanner, extra ...any) (baseline.Meta, error) {
	var m baseline.Meta
	dest := append([]any{&m.Host, &m.Version, digestCol{&m.SnapshotDigest}, &m.Items, &m.ApprovedBy,
		timeCol{&m.ApprovedAt}, &m.Reason, jsonCol{&m.Tickets}, &m.Reviewed}, extra...)
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
	q := `SELECT ` + baselineMetaCols + `, snapshot FROM baselines WHERE tenant_id = ? AND host_id = ?`
	args := []any{tenantID, hostID}
	if v == 0 {
		q += ` ORDER BY version DESC LIMIT 1`
	} else {
		q += ` AND version = ?`
		args = append(args, v)
	}
	b := store.Baseline{TenantID: tenantID, HostID: hostID}
	m, err := scanMeta(s.r.QueryRowContext(ctx, q, args...), &b.Snapshot)
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
	ms, err := s.baselines(ctx, tenantID, hostID)
	if err != nil {
		return nil, fmt.Errorf("list baselines of host %s: %w", hostID, err)
	}
	return ms, nil
}

func (s *Store) baselines(ctx context.Context, tenantID, hostID string) ([]baseline.Meta, error) {
	// One read transaction, so that the host check and the list agree.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM hosts WHERE tenant_id = ? AND id = ?`, tenantID, hostID).Scan(&one); err != nil {
		return nil, mapErr(err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+baselineMetaCols+` FROM baselines
		WHERE tenant_id = ? AND host_id = ? ORDER BY version`, tenantID, hostID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []baseline.Meta
	for rows.Next() {
		m, err := scanMeta(rows)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}
