package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// rowsPerInsert bounds the rows of one multi-row INSERT, within SQLite's
// limit on bound parameters.
const rowsPerInsert = 500

// PutTransactions stores the package transactions of one report.
func (s *Store) PutTransactions(ctx context.Context, tenantID, hostID string, seq uint64, at time.Time, txs []store.PackageTransaction) error {
	if len(txs) == 0 {
		return nil
	}
	if err := store.CheckTransactions(seq, at, txs); err != nil {
		return fmt.Errorf("store package transactions of host %s: %w", hostID, err)
	}
	// An unknown host (or another tenant's) fails the foreign key of the
	// first insert: store.ErrNotFound.
	err := s.write(ctx, func(tx *sql.Tx) error { return putTransactions(ctx, tx, tenantID, hostID, seq, at, txs) })
	if err != nil {
		return fmt.Errorf("store package transactions of host %s: %w", hostID, err)
	}
	return nil
}

// putTransactions is PutTransactions in tx; txs are checked.
func putTransactions(ctx context.Context, tx *sql.Tx, tenantID, hostID string, seq uint64, at time.Time, txs []store.PackageTransaction) error {
	for start := 0; start < len(txs); start += rowsPerInsert {
		part := txs[start:min(start+rowsPerInsert, len(txs))]
		args := make([]any, 0, len(part)*12)
		for _, t := range part {
			pkgs, err := packagesJSON(t.Packages)
			if err != nil {
				return err
			}
			args = append(args, tenantID, hostID, t.ID, t.Manager, t.Command, t.User, fmtTime(t.Started), nullTime(t.Ended),
				boolInt(t.Incomplete), pkgs, int64(seq), fmtTime(at))
		}
		// A newer report's view wins; an end once known stays.
		q := `INSERT INTO package_transactions (tenant_id, host_id, id, manager, command, run_by, started, ended,
			incomplete, packages, report_seq, received_at) VALUES ` + rowsOf(len(part), 12) + `
			ON CONFLICT (tenant_id, host_id, id) DO UPDATE SET manager = excluded.manager,
			command = excluded.command, run_by = excluded.run_by, started = excluded.started,
			ended = coalesce(excluded.ended, package_transactions.ended), incomplete = excluded.incomplete,
			packages = excluded.packages, report_seq = excluded.report_seq, received_at = excluded.received_at
			WHERE excluded.report_seq >= package_transactions.report_seq`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return mapErr(err)
		}
	}
	var items []any
	for _, t := range txs {
		for _, it := range t.Items {
			items = append(items, tenantID, hostID, it.Key, it.StateDigest, t.ID)
		}
	}
	const cols = 5
	for start := 0; start < len(items); start += rowsPerInsert * cols {
		part := items[start:min(start+rowsPerInsert*cols, len(items))]
		q := `INSERT INTO package_transaction_items (tenant_id, host_id, item_key, state_digest, transaction_id) VALUES ` +
			rowsOf(len(part)/cols, cols) + ` ON CONFLICT DO NOTHING`
		if _, err := tx.ExecContext(ctx, q, part...); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// ItemTransactions finds the transactions item states happened in.
func (s *Store) ItemTransactions(ctx context.Context, tenantID string, states []store.ItemState) (map[store.ItemState]store.PackageTransaction, error) {
	out := map[store.ItemState]store.PackageTransaction{}
	byHost := map[string][]string{}
	want := make(map[store.ItemState]bool, len(states))
	for _, st := range states {
		if !want[st] {
			want[st] = true
			byHost[st.HostID] = append(byHost[st.HostID], st.Key)
		}
	}
	for hostID, keys := range byHost {
		for start := 0; start < len(keys); start += rowsPerInsert {
			part := keys[start:min(start+rowsPerInsert, len(keys))]
			args := make([]any, 0, len(part)+2)
			args = append(args, tenantID, hostID)
			for _, k := range part {
				args = append(args, k)
			}
			rows, err := s.r.QueryContext(ctx, `SELECT i.item_key, i.state_digest, `+txColumns+`
				FROM package_transaction_items i JOIN package_transactions t
				ON t.tenant_id = i.tenant_id AND t.host_id = i.host_id AND t.id = i.transaction_id
				WHERE i.tenant_id = ? AND i.host_id = ? AND i.item_key IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args...)
			if err != nil {
				return nil, fmt.Errorf("package transactions of drift items: %w", err)
			}
			for rows.Next() {
				var key, digest string
				t, err := scanTransaction(rows, &key, &digest)
				if err != nil {
					rows.Close()
					return nil, fmt.Errorf("package transactions of drift items: %w", err)
				}
				st := store.ItemState{HostID: hostID, Key: key, StateDigest: digest}
				if !want[st] {
					continue
				}
				if prev, ok := out[st]; ok {
					t = store.LatestTransaction(prev, t)
				}
				out[st] = t
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("package transactions of drift items: %w", err)
			}
		}
	}
	keys := make([]store.ItemState, 0, len(out))
	vals := make([]store.PackageTransaction, 0, len(out))
	for st, t := range out {
		keys, vals = append(keys, st), append(vals, t)
	}
	ptrs := make([]*store.PackageTransaction, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := s.transactionItems(ctx, ptrs); err != nil {
		return nil, err
	}
	for i, st := range keys {
		out[st] = vals[i]
	}
	return out, nil
}

// HostTransactions lists a host's transactions, newest first.
func (s *Store) HostTransactions(ctx context.Context, tenantID, hostID string, since time.Time, limit int) ([]store.PackageTransaction, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+txColumns+` FROM package_transactions t
		WHERE t.tenant_id = ? AND t.host_id = ? AND t.started >= ? ORDER BY t.started DESC, t.id DESC LIMIT ?`,
		tenantID, hostID, fmtTime(since), limit)
	if err != nil {
		return nil, fmt.Errorf("package transactions of host %s: %w", hostID, err)
	}
	var out []store.PackageTransaction
	for rows.Next() {
		t, err := scanTransaction(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("package transactions of host %s: %w", hostID, err)
		}
		out = append(out, t)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("package transactions of host %s: %w", hostID, err)
	}
	ptrs := make([]*store.PackageTransaction, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	if err := s.transactionItems(ctx, ptrs); err != nil {
		return nil, err
	}
	return out, nil
}

// transactionItems fills in the items of each transaction.
func (s *Store) transactionItems(ctx context.Context, txs []*store.PackageTransaction) error {
	cache := map[[2]string][]store.TransactionItem{}
	for _, t := range txs {
		k := [2]string{t.HostID, t.ID}
		items, ok := cache[k]
		if !ok {
			rows, err := s.r.QueryContext(ctx, `SELECT item_key, state_digest FROM package_transaction_items
				WHERE tenant_id = ? AND host_id = ? AND transaction_id = ? ORDER BY item_key, state_digest`, t.TenantID, t.HostID, t.ID)
			if err != nil {
				return fmt.Errorf("items of package transaction %s: %w", t.ID, err)
			}
			for rows.Next() {
				var it store.TransactionItem
				if err := rows.Scan(&it.Key, &it.StateDigest); err != nil {
					rows.Close()
					return fmt.Errorf("items of package transaction %s: %w", t.ID, err)
				}
				items = append(items, it)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("items of package transaction %s: %w", t.ID, err)
			}
			cache[k] = items
		}
		t.Items = items
	}
	return nil
}

// txColumns are the columns scanTransaction reads, of package_transactions
// as t.
const txColumns = `t.tenant_id, t.host_id, t.id, t.manager, t.command, t.run_by, t.started, t.ended, t.incomplete,
	t.packages, t.report_seq, t.received_at`

// scanTransaction reads txColumns after the columns into first.
func scanTransaction(rows *sql.Rows, first ...any) (store.PackageTransaction, error) {
	var t store.PackageTransaction
	var incomplete int
	var seq int64
	dest := append(first, &t.TenantID, &t.HostID, &t.ID, &t.Manager, &t.Command, &t.User, timeCol{&t.Started}, timeCol{&t.Ended},
		&incomplete, jsonCol{&t.Packages}, &seq, timeCol{&t.ReceivedAt})
	if err := rows.Scan(dest...); err != nil {
		return t, err
	}
	t.Incomplete, t.ReportSeq = incomplete == 1, uint64(seq)
	if t.Packages == nil {
		t.Packages = []store.PackageChange{}
	}
	return t, nil
}

// packagesJSON encodes a transaction's packages; none is [].
func packagesJSON(ps []store.PackageChange) (string, error) {
	if ps == nil {
		ps = []store.PackageChange{}
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return "", fmt.Errorf("encode packages: %w", err)
	}
	return string(b), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
