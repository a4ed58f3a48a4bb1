package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	err = s.write(ctx, func(tx *sql.Tx) error {
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
// chain in tx. The one write connection orders appends; the head row is
// read and written in the same transaction.
func appendAudit(ctx context.Context, tx *sql.Tx, e store.AuditEntry) (store.AuditEntry, error) {
	var head audit.Head
	var seq int64
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = ?`, e.TenantID).Scan(&seq, &head.Hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return store.AuditEntry{}, fmt.Errorf("read audit chain head: %w", err)
	default:
		head.Seq = uint64(seq)
	}
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	e.Hash = audit.Hash(e.PrevHash, e)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, int64(e.Seq), fmtTime(e.At), e.Actor, e.Action, e.Subject, rawJSON(e.Detail), e.PrevHash, e.Hash)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("insert audit entry %d: %w", e.Seq, mapErr(err))
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
		e.TenantID, int64(e.Seq), e.Hash)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("update audit chain head: %w", mapErr(err))
	}
	if len(e.Detail) == 0 {
		e.Detail = nil
	}
	return e, nil
}

// AuditEntries returns a tenant's entries after afterSeq, oldest first.
func (s *Store) AuditEntries(ctx context.Context, tenantID string, afterSeq uint64, limit int) ([]store.AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT tenant_id, seq, at, actor, action, subject, detail, prev_hash, hash
		FROM audit_log WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		tenantID, clampSeq(afterSeq), store.PageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("audit entries of tenant %s after %d: %w", tenantID, afterSeq, err)
	}
	defer rows.Close()
	var es []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var seq int64
		if err := rows.Scan(&e.TenantID, &seq, timeCol{&e.At}, &e.Actor, &e.Action, &e.Subject,
			rawJSONCol{&e.Detail}, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("audit entries of tenant %s after %d: %w", tenantID, afterSeq, err)
		}
		e.Seq = uint64(seq)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries of tenant %s after %d: %w", tenantID, afterSeq, err)
	}
	return es, nil
}

// AuditHead returns the head of a tenant's chain as recorded.
func (s *Store) AuditHead(ctx context.Context, tenantID string) (audit.Head, error) {
	var h audit.Head
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = ?`, tenantID).Scan(&seq, &h.Hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
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
