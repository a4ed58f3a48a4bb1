package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// AppendAudit appends an entry to its tenant's audit log.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	e, err := store.CheckAudit(e.TenantID, e)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("append audit entry: %w", err)
	}
	var out store.AuditEntry
	err = s.write(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("append audit entry %s of tenant %s: %w", e.Action, e.TenantID, err)
	}
	return out, nil
}

// appendAudit appends e, checked by store.CheckAudit, to its tenant's
// chain in tx. The chain's head row is locked first, so that appends of
// one tenant, from any collector, follow each other: each sees the head
// the one before it committed. Callers append last in their
// transactions, after the other locks they take, to hold the head's lock
// briefly and always in the same order.
func appendAudit(ctx context.Context, tx pgx.Tx, e store.AuditEntry) (store.AuditEntry, error) {
	head, err := lockAuditHead(ctx, tx, e.TenantID)
	if err != nil {
		return store.AuditEntry{}, err
	}
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	e.Hash = audit.Hash(e.PrevHash, e)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.TenantID, int64(e.Seq), utc(e.At), e.Actor, e.Action, e.Subject, nullJSON(e.Detail), e.PrevHash, e.Hash)
	b.Queue(`UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1`, e.TenantID, int64(e.Seq), e.Hash)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return store.AuditEntry{}, fmt.Errorf("append audit entry %d: %w", e.Seq, mapErr(err))
	}
	if len(e.Detail) == 0 {
		e.Detail = nil
	}
	return e, nil
}

// lockAuditHead locks a tenant's chain head, creating it for the first
// entry; store.ErrNotFound when the tenant does not exist.
func lockAuditHead(ctx context.Context, tx pgx.Tx, tenantID string) (audit.Head, error) {
	const lock = `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1 FOR UPDATE`
	var seq int64
	var h audit.Head
	err := tx.QueryRow(ctx, lock, tenantID).Scan(&seq, &h.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		// Two first appends insert at once: the second waits for the
		// first's commit, inserts nothing and then locks its row.
		if _, err := tx.Exec(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, '')
			ON CONFLICT (tenant_id) DO NOTHING`, tenantID); err != nil {
			return audit.Head{}, fmt.Errorf("create audit chain head: %w", mapErr(err))
		}
		err = tx.QueryRow(ctx, lock, tenantID).Scan(&seq, &h.Hash)
	}
	if err != nil {
		return audit.Head{}, fmt.Errorf("lock audit chain head: %w", err)
	}
	h.Seq = uint64(seq)
	return h, nil
}

// AuditEntries returns a tenant's entries after afterSeq, oldest first.
func (s *Store) AuditEntries(ctx context.Context, tenantID string, afterSeq uint64, limit int) ([]store.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash
		FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		tenantID, clampSeq(afterSeq), store.PageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("audit entries of tenant %s after %d: %w", tenantID, afterSeq, err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditEntry, error) {
		var e store.AuditEntry
		var seq int64
		err := row.Scan(&e.TenantID, &seq, timeCol{&e.At}, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash)
		e.Seq = uint64(seq)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit entries of tenant %s after %d: %w", tenantID, afterSeq, err)
	}
	return es, nil
}

// AuditHead returns the head of a tenant's chain as recorded.
func (s *Store) AuditHead(ctx context.Context, tenantID string) (audit.Head, error) {
	var h audit.Head
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1`, tenantID).Scan(&seq, &h.Hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return audit.Head{}, nil
	case err != nil:
		return audit.Head{}, fmt.Errorf("audit head of tenant %s: %w", tenantID, err)
	}
	h.Seq = uint64(seq)
	return h, nil
}

// clampSeq is a sequence number as the store keeps it: at most 2^63-1.
func clampSeq(seq uint64) int64 {
	if seq > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(seq)
}
