package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// PutTransactions stores the package transactions of one report: one
// INSERT of the transactions and one of their items, each from arrays.
func (s *Store) PutTransactions(ctx context.Context, tenantID, hostID string, seq uint64, at time.Time, txs []store.PackageTransaction) error {
	if len(txs) == 0 {
		return nil
	}
	if err := store.CheckTransactions(seq, at, txs); err != nil {
		return fmt.Errorf("store package transactions of host %s: %w", hostID, err)
	}
	err := s.write(ctx, func(tx pgx.Tx) error { return putTransactions(ctx, tx, tenantID, hostID, seq, at, txs) })
	if err != nil {
		return fmt.Errorf("store package transactions of host %s: %w", hostID, err)
	}
	return nil
}

// putTransactions is PutTransactions in tx; txs are checked.
func putTransactions(ctx context.Context, tx pgx.Tx, tenantID, hostID string, seq uint64, at time.Time, txs []store.PackageTransaction) error {
	n := len(txs)
	ids, managers, commands, users := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	started, ended := make([]time.Time, n), make([]*time.Time, n)
	incomplete, packages := make([]bool, n), make([]string, n)
	var itemKeys, itemStates, itemTx []string
	for i, t := range txs {
		ids[i], managers[i], commands[i], users[i] = t.ID, t.Manager, t.Command, t.User
		started[i], incomplete[i] = utc(t.Started), t.Incomplete
		if !t.Ended.IsZero() {
			e := utc(t.Ended)
			ended[i] = &e
		}
		ps := t.Packages
		if ps == nil {
			ps = []store.PackageChange{}
		}
		b, err := json.Marshal(ps)
		if err != nil {
			return fmt.Errorf("encode packages: %w", err)
		}
		packages[i] = string(b)
		for _, it := range t.Items {
			itemKeys, itemStates, itemTx = append(itemKeys, it.Key), append(itemStates, it.StateDigest), append(itemTx, t.ID)
		}
	}
	// An unknown host (or another tenant's) fails the foreign key of the
	// first insert: store.ErrNotFound. A newer report's view wins; an end
	// once known stays.
	_, err := tx.Exec(ctx, `INSERT INTO package_transactions (tenant_id, host_id, id, manager, command, run_by, started, ended,
			incomplete, packages, report_seq, received_at)
		SELECT $1, $2, u.id, u.manager, u.command, u.run_by, u.started, u.ended, u.incomplete, u.packages::jsonb, $3, $4
		FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::boolean[], $12::text[])
			AS u (id, manager, command, run_by, started, ended, incomplete, packages)
		ON CONFLICT (tenant_id, host_id, id) DO UPDATE SET manager = excluded.manager,
			command = excluded.command, run_by = excluded.run_by, started = excluded.started,
			ended = coalesce(excluded.ended, package_transactions.ended), incomplete = excluded.incomplete,
			packages = excluded.packages, report_seq = excluded.report_seq, received_at = excluded.received_at
		WHERE excluded.report_seq >= package_transactions.report_seq`,
		tenantID, hostID, int64(seq), utc(at), ids, managers, commands, users, started, ended, incomplete, packages)
	if err != nil {
		return mapErr(err)
	}
	if len(itemKeys) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO package_transaction_items (tenant_id, host_id, item_key, state_digest, transaction_id)
		SELECT $1, $2, u.k, u.s, u.t FROM unnest($3::text[], $4::text[], $5::text[]) AS u (k, s, t)
		ON CONFLICT DO NOTHING`, tenantID, hostID, itemKeys, itemStates, itemTx)
	return mapErr(err)
}

// txColumns are the columns scanTransaction reads, of package_transactions
// as t.
const txColumns = `t.tenant_id, t.host_id, t.id, t.manager, t.command, t.run_by, t.started, t.ended, t.incomplete,
	t.packages::text, t.report_seq, t.received_at`

// scanTransaction reads txColumns after the columns into first.
func scanTransaction(rows pgx.Rows, first ...any) (store.PackageTransaction, error) {
	var t store.PackageTransaction
	var seq int64
	var pkgs string
	dest := append(first, &t.TenantID, &t.HostID, &t.ID, &t.Manager, &t.Command, &t.User, timeCol{&t.Started}, timeCol{&t.Ended},
		&t.Incomplete, &pkgs, &seq, timeCol{&t.ReceivedAt})
	if err := rows.Scan(dest...); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(pkgs), &t.Packages); err != nil {
		return t, fmt.Errorf("packages of transaction %s: %w", t.ID, err)
	}
	t.ReportSeq = uint64(seq)
	if t.Packages == nil {
		t.Packages = []store.PackageChange{}
	}
	return t, nil
}

// ItemTransactions finds the transactions item states happened in.
func (s *Store) ItemTransactions(ctx context.Context, tenantID string, states []store.ItemState) (map[store.ItemState]store.PackageTransaction, error) {
	out := map[store.ItemState]store.PackageTransaction{}
	if len(states) == 0 {
		return out, nil
	}
	hosts, keys, digests := make([]string, len(states)), make([]string, len(states)), make([]string, len(states))
	for i, st := range states {
		hosts[i], keys[i], digests[i] = st.HostID, st.Key, st.StateDigest
	}
	rows, err := s.pool.Query(ctx, `SELECT i.host_id, i.item_key, i.state_digest, `+txColumns+`
		FROM unnest($2::text[], $3::text[], $4::text[]) AS w (host_id, item_key, state_digest)
		JOIN package_transaction_items i ON i.tenant_id = $1 AND i.host_id = w.host_id AND i.item_key = w.item_key
			AND i.state_digest = w.state_digest
		JOIN package_transactions t ON t.tenant_id = i.tenant_id AND t.host_id = i.host_id AND t.id = i.transaction_id`,
		tenantID, hosts, keys, digests)
	if err != nil {
		return nil, fmt.Errorf("package transactions of drift items: %w", err)
	}
	for rows.Next() {
		var st store.ItemState
		t, err := scanTransaction(rows, &st.HostID, &st.Key, &st.StateDigest)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("package transactions of drift items: %w", err)
		}
		if prev, ok := out[st]; ok {
			t = store.LatestTransaction(prev, t)
		}
		out[st] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("package transactions of drift items: %w", err)
	}
	keysOut := make([]store.ItemState, 0, len(out))
	vals := make([]store.PackageTransaction, 0, len(out))
	for st, t := range out {
		keysOut, vals = append(keysOut, st), append(vals, t)
	}
	if err := s.transactionItems(ctx, vals); err != nil {
		return nil, err
	}
	for i, st := range keysOut {
		out[st] = vals[i]
	}
	return out, nil
}

// HostTransactions lists a host's transactions, newest first.
func (s *Store) HostTransactions(ctx context.Context, tenantID, hostID string, since time.Time, limit int) ([]store.PackageTransaction, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+txColumns+` FROM package_transactions t
		WHERE t.tenant_id = $1 AND t.host_id = $2 AND t.started >= $3 ORDER BY t.started DESC, t.id DESC LIMIT $4`,
		tenantID, hostID, utc(since), lim)
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("package transactions of host %s: %w", hostID, err)
	}
	if err := s.transactionItems(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// transactionItems fills in the items of each transaction, with one query.
func (s *Store) transactionItems(ctx context.Context, txs []store.PackageTransaction) error {
	if len(txs) == 0 {
		return nil
	}
	hosts, ids := make([]string, len(txs)), make([]string, len(txs))
	for i, t := range txs {
		hosts[i], ids[i] = t.HostID, t.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT i.host_id, i.transaction_id, i.item_key, i.state_digest
		FROM package_transaction_items i JOIN (SELECT DISTINCT * FROM unnest($2::text[], $3::text[]) AS w (host_id, id)) w
		ON i.tenant_id = $1 AND i.host_id = w.host_id AND i.transaction_id = w.id
		ORDER BY i.item_key, i.state_digest`, txs[0].TenantID, hosts, ids)
	if err != nil {
		return fmt.Errorf("items of package transactions: %w", err)
	}
	items := map[[2]string][]store.TransactionItem{}
	for rows.Next() {
		var host, id string
		var it store.TransactionItem
		if err := rows.Scan(&host, &id, &it.Key, &it.StateDigest); err != nil {
			rows.Close()
			return fmt.Errorf("items of package transactions: %w", err)
		}
		k := [2]string{host, id}
		items[k] = append(items[k], it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("items of package transactions: %w", err)
	}
	for i := range txs {
		txs[i].Items = items[[2]string{txs[i].HostID, txs[i].ID}]
	}
	return nil
}
