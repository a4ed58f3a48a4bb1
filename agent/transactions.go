package agent

import (
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/agent/internal/pkgtx"
	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// txPoll is how often a service holding a report checks whether the
// package transaction it waits for has ended.
const txPoll = 500 * time.Millisecond

// txState is what the service keeps of package transactions.
type txState struct {
	// log reads the records the package manager's hooks write; nil when
	// the state directory has none and cannot have them.
	log *pkgtx.Log
	// seen remembers when each drifting state was first seen.
	seen pkgtx.Seen
	// ended receives a value when a held report may go.
	ended chan struct{}
	// since is when a report began waiting for a transaction's end; zero
	// while none waits.
	since time.Time
}

// openTransactions opens the package transaction records of the state
// directory; without them drift is reported without transactions.
func (s *service) openTransactions() {
	s.tx.ended = make(chan struct{}, 1)
	l, err := pkgtx.Open(s.cfg.StateDir)
	if err != nil {
		s.log.Warn("package transactions not read: drift is reported without them", zap.Error(err))
		return
	}
	s.tx.log = l
}

// attachTransactions adds to rep the package transactions its new changes
// happened in. It reports false when the report should wait: a change
// happened inside a transaction still in progress, whose end is polled
// for (s.tx.ended).
func (s *service) attachTransactions(rep *api.Report, d *baseline.Drift) bool {
	if s.tx.log == nil {
		return true
	}
	items := s.tx.seen.Pending(d, d.TakenAt)
	txs, byKey, hold, err := pkgtx.ForReport(s.tx.log, items)
	if err != nil {
		s.log.Warn("package transactions partly unreadable", zap.Error(err))
	}
	if hold && (s.tx.since.IsZero() || time.Since(s.tx.since) < s.tx.log.MaxOpen) {
		if s.tx.since.IsZero() {
			s.tx.since = time.Now()
			s.log.Info("drift inside a package transaction in progress: the report waits for its end", zap.Int("changes", len(byKey)))
		}
		time.AfterFunc(txPoll, func() {
			select {
			case s.tx.ended <- struct{}{}:
			default:
			}
		})
		return false
	}
	s.tx.since = time.Time{}
	rep.Transactions, rep.ItemTransactions = txs, byKey
	return true
}

// reportedTransactions marks the changes of a queued report as carried.
func (s *service) reportedTransactions(d *baseline.Drift) {
	if s.tx.log == nil {
		return
	}
	keys := make([]string, len(d.Changes))
	for i := range d.Changes {
		keys[i] = d.Changes[i].Key
	}
	s.tx.seen.Reported(keys)
}

// attachCheckTransactions adds to a report of a one-time check the package
// transactions its changes happened in, each change taken as observed
// when the check's snapshot was taken.
func (a *Agent) attachTransactions(rep *api.Report) {
	if rep.Drift == nil || len(rep.Drift.Changes) == 0 {
		return
	}
	l, err := pkgtx.Open(a.cfg.StateDir)
	if err != nil {
		a.log.Warn("package transactions not read: drift is reported without them", zap.Error(err))
		return
	}
	items := make([]pkgtx.ItemChange, len(rep.Drift.Changes))
	for i := range rep.Drift.Changes {
		items[i] = pkgtx.ItemChange{Key: rep.Drift.Changes[i].Key, ObservedAt: rep.Drift.TakenAt}
	}
	txs, byKey, _, err := pkgtx.ForReport(l, items)
	if err != nil {
		a.log.Warn("package transactions partly unreadable", zap.Error(err))
	}
	rep.Transactions, rep.ItemTransactions = txs, byKey
}
