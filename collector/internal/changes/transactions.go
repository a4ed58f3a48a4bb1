package changes

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// putTransactions stores the package transactions a report carries, each
// with the states of the report's changes that happened in it (the
// caller gives only their keys in Items), and returns the transaction of
// each change by key. Nothing is stored, and nil returned, for none. A
// failure is logged: the drift is then judged without its transactions.
func (m *Manager) putTransactions(ctx context.Context, h store.Host, seq uint64, at time.Time, obs []store.DriftObservation, txs []store.PackageTransaction) map[string]*reconcile.Transaction {
	if len(txs) == 0 {
		return nil
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
	if err := m.Store.PutTransactions(ctx, h.TenantID, h.ID, seq, at, put); err != nil {
		m.log().Error("package transactions not stored; the drift is judged without them", zap.String("host", h.ID),
			zap.Uint64("sequence", seq), zap.Error(err))
		return nil
	}
	return byKey
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
