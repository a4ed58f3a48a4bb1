package changes

import (
	"context"

	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// reportTransactions are the package transactions a report carries as
// the store keeps them, each with the states of the report's changes that
// happened in it (the caller gives only their keys in Items), and the
// transaction of each change by key. None for none.
func reportTransactions(obs []store.DriftObservation, txs []store.PackageTransaction) ([]store.PackageTransaction, map[string]*reconcile.Transaction) {
	if len(txs) == 0 {
		return nil, nil
	}
	states := make(map[string]string, len(obs))
	for _, o := range obs {
		states[o.Key] = o.StateDigest
	}
	put := make([]store.PackageTransaction, 0, len(txs))
	byKey := map[string]*reconcile.Transaction{}
	for _, t := range txs {
		rt := transactionOf(&t)
		items := make([]store.TransactionItem, 0, len(t.Items))
		for _, it := range t.Items {
			if sd, ok := states[it.Key]; ok {
				items = append(items, store.TransactionItem{Key: it.Key, StateDigest: sd})
				byKey[it.Key] = rt
			}
		}
		t.Items = items
		put = append(put, t)
	}
	return put, byKey
}

// transactionOf is a stored transaction as reconciliation sees it.
func transactionOf(t *store.PackageTransaction) *reconcile.Transaction {
	rt := &reconcile.Transaction{ID: t.ID, Manager: t.Manager, Command: t.Command, User: t.User,
		Started: t.Started, Ended: t.Ended, Incomplete: t.Incomplete}
	for _, p := range t.Packages {
		rt.Packages = append(rt.Packages, reconcile.Package{Name: p.Name, From: p.From, To: p.To, Action: p.Action})
	}
	return rt
}

// lookupTransactions sets the transaction each drift item's state
// happened in, from the store, on its reconciliation item.
func (m *Manager) lookupTransactions(ctx context.Context, tenantID string, page []store.DriftItem, items []reconcile.Item) error {
	states := make([]store.ItemState, len(page))
	for i, di := range page {
		states[i] = store.ItemState{HostID: di.HostID, Key: di.Key, StateDigest: di.StateDigest}
	}
	found, err := m.Store.ItemTransactions(ctx, tenantID, states)
	if err != nil {
		return err
	}
	for i, st := range states {
		if t, ok := found[st]; ok {
			items[i].Transaction = transactionOf(&t)
		}
	}
	return nil
}
