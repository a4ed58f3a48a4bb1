package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// RecordHeartbeat keeps a host's newest heartbeat.
func (s *Store) RecordHeartbeat(ctx context.Context, tenantID, hostID string, hb store.Heartbeat) error {
	status := string(hb.Status)
	if status == "" {
		status = "{}"
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO host_heartbeats (tenant_id, host_id, at, status) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, host_id) DO UPDATE SET at = excluded.at, status = excluded.status
			WHERE excluded.at >= host_heartbeats.at`, tenantID, hostID, fmtTime(hb.At), status)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("record heartbeat of host %s: %w", hostID, err)
	}
	return nil
}

// LastHeartbeat returns a host's newest heartbeat.
func (s *Store) LastHeartbeat(ctx context.Context, tenantID, hostID string) (store.Heartbeat, error) {
	var hb store.Heartbeat
	err := s.r.QueryRowContext(ctx, `SELECT at, status FROM host_heartbeats WHERE tenant_id = ? AND host_id = ?`, tenantID, hostID).
		Scan(timeCol{&hb.At}, rawJSONCol{&hb.Status})
	if err != nil {
		return store.Heartbeat{}, fmt.Errorf("heartbeat of host %s: %w", hostID, mapErr(err))
	}
	return hb, nil
}

// AddHostEvents stores events of a host, each ID once.
func (s *Store) AddHostEvents(ctx context.Context, tenantID, hostID string, events []store.HostEvent) (int, error) {
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM hosts WHERE tenant_id = ? AND id = ?`, tenantID, hostID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		for _, e := range events {
			res, err := tx.ExecContext(ctx, `INSERT INTO host_events (tenant_id, host_id, id, kind, at, received_at, summary, detail)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, host_id, id) DO NOTHING`,
				tenantID, hostID, e.ID, e.Kind, fmtTime(e.At), fmtTime(e.ReceivedAt), e.Summary, rawJSON(e.Detail))
			if err != nil {
				return mapErr(err)
			}
			if k, _ := res.RowsAffected(); k > 0 {
				added++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add events of host %s: %w", hostID, err)
	}
	return added, nil
}

// HostEvents lists a host's newest events first.
func (s *Store) HostEvents(ctx context.Context, tenantID, hostID string, limit int) ([]store.HostEvent, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, kind, at, received_at, summary, detail FROM host_events
		WHERE tenant_id = ? AND host_id = ? ORDER BY at DESC, id DESC LIMIT ?`, tenantID, hostID, limit)
	if err != nil {
		return nil, fmt.Errorf("events of host %s: %w", hostID, err)
	}
	defer rows.Close()
	var out []store.HostEvent
	for rows.Next() {
		var e store.HostEvent
		if err := rows.Scan(&e.ID, &e.Kind, timeCol{&e.At}, timeCol{&e.ReceivedAt}, &e.Summary, rawJSONCol{&e.Detail}); err != nil {
			return nil, fmt.Errorf("events of host %s: %w", hostID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of host %s: %w", hostID, err)
	}
	return out, nil
}
