package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// RecordHeartbeat keeps a host's newest heartbeat.
func (s *Store) RecordHeartbeat(ctx context.Context, tenantID, hostID string, hb store.Heartbeat) error {
	status := hb.Status
	if len(status) == 0 {
		status = []byte("{}")
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO host_heartbeats (tenant_id, host_id, at, status) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, host_id) DO UPDATE SET at = excluded.at, status = excluded.status
			WHERE excluded.at >= host_heartbeats.at`, tenantID, hostID, utc(hb.At), status)
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
	err := s.pool.QueryRow(ctx, `SELECT at, status FROM host_heartbeats WHERE tenant_id = $1 AND host_id = $2`, tenantID, hostID).
		Scan(timeCol{&hb.At}, &hb.Status)
	if err != nil {
		return store.Heartbeat{}, fmt.Errorf("heartbeat of host %s: %w", hostID, mapErr(err))
	}
	return hb, nil
}

// AddHostEvents stores events of a host, each ID once.
func (s *Store) AddHostEvents(ctx context.Context, tenantID, hostID string, events []store.HostEvent) (int, error) {
	added := 0
	err := s.write(ctx, func(tx pgx.Tx) error {
		added = 0
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM hosts WHERE tenant_id = $1 AND id = $2`, tenantID, hostID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		b := &pgx.Batch{}
		for _, e := range events {
			b.Queue(`INSERT INTO host_events (tenant_id, host_id, id, kind, at, received_at, summary, detail)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, host_id, id) DO NOTHING`,
				tenantID, hostID, e.ID, e.Kind, utc(e.At), utc(e.ReceivedAt), e.Summary, nullJSON(e.Detail))
		}
		br := tx.SendBatch(ctx, b)
		for range events {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return mapErr(err)
			}
			added += int(tag.RowsAffected())
		}
		return br.Close()
	})
	if err != nil {
		return 0, fmt.Errorf("add events of host %s: %w", hostID, err)
	}
	return added, nil
}

// HostEvents lists a host's newest events first.
func (s *Store) HostEvents(ctx context.Context, tenantID, hostID string, limit int) ([]store.HostEvent, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx, `SELECT id, kind, at, received_at, summary, detail FROM host_events
		WHERE tenant_id = $1 AND host_id = $2 ORDER BY at DESC, id DESC LIMIT $3`, tenantID, hostID, lim)
	if err != nil {
		return nil, fmt.Errorf("events of host %s: %w", hostID, err)
	}
	defer rows.Close()
	var out []store.HostEvent
	for rows.Next() {
		var e store.HostEvent
		if err := rows.Scan(&e.ID, &e.Kind, timeCol{&e.At}, timeCol{&e.ReceivedAt}, &e.Summary, &e.Detail); err != nil {
			return nil, fmt.Errorf("events of host %s: %w", hostID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of host %s: %w", hostID, err)
	}
	return out, nil
}
