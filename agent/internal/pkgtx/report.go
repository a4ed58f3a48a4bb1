package pkgtx

import (
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// Seen remembers, for each drifting item, when its current state was first
// seen and whether a report has carried it, so that a change is attributed
// by when it appeared, not by when a later report repeats it, and only
// once. Its methods may be called from several goroutines.
type Seen struct {
	mu sync.Mutex
	m  map[string]seenState
}

type seenState struct {
	state    baseline.Digest
	at       time.Time
	reported bool
}

// StateOf identifies the state a change leads to: the digest of its new
// item's JSON, or of "removed".
func StateOf(c *baseline.Change) baseline.Digest {
	if c.New == nil {
		return baseline.Sum([]byte("removed"))
	}
	b, err := json.Marshal(c.New)
	if err != nil {
		return baseline.Sum([]byte("unencodable"))
	}
	return baseline.Sum(b)
}

// Pending records the changes of d, a state first seen at at unless it
// was seen before, forgets the items that no longer drift, and returns the
// changes no report has carried yet, each with the time its state was
// first seen, in the order of d.
func (s *Seen) Pending(d *baseline.Drift, at time.Time) []ItemChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]seenState, len(d.Changes))
	var out []ItemChange
	for i := range d.Changes {
		c := &d.Changes[i]
		st := StateOf(c)
		prev, ok := s.m[c.Key]
		if !ok || prev.state != st {
			prev = seenState{state: st, at: at}
		}
		next[c.Key] = prev
		if !prev.reported {
			out = append(out, ItemChange{Key: c.Key, ObservedAt: prev.at})
		}
	}
	s.m = next
	return out
}

// Reported marks the current states of the keys as carried by a report.
func (s *Seen) Reported(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if st, ok := s.m[k]; ok {
			st.reported = true
			s.m[k] = st
		}
	}
}

// ForReport attributes items to the transactions they happened in and
// returns what a report carries: the transactions, each once, sorted by
// start, and the ID of each item's transaction by item key. hold is set
// when an item belongs to a transaction still in progress: the report
// should wait for its end, so that it names the packages. The error names
// unreadable records; what was read is still returned.
func ForReport(l *Log, items []ItemChange) (txs []api.PackageTransaction, byKey map[string]string, hold bool, err error) {
	if l == nil || len(items) == 0 {
		return nil, nil, false, nil
	}
	attributed, err := l.Attribute(items)
	if len(attributed) == 0 {
		return nil, nil, false, err
	}
	byKey = make(map[string]string, len(attributed))
	seen := map[string]bool{}
	for key, t := range attributed {
		byKey[key] = t.ID
		if t.InProgress() {
			hold = true
		}
		if !seen[t.ID] {
			seen[t.ID] = true
			txs = append(txs, t.Wire())
		}
	}
	sort.Slice(txs, func(i, j int) bool {
		if !txs[i].Started.Equal(txs[j].Started) {
			return txs[i].Started.Before(txs[j].Started)
		}
		return txs[i].ID < txs[j].ID
	})
	return txs, byKey, hold, err
}

// Wire returns the transaction as a report carries it.
func (t *Transaction) Wire() api.PackageTransaction {
	out := api.PackageTransaction{
		ID: t.ID, Manager: t.Tool, Command: t.Command, User: t.User,
		Started: t.Started.UTC(), Incomplete: t.Incomplete,
		Packages: make([]api.PackageChange, 0, len(t.Packages)),
	}
	if !t.Ended.IsZero() {
		out.Ended = t.Ended.UTC()
	}
	for _, p := range t.Packages {
		out.Packages = append(out.Packages, api.PackageChange{Name: p.Name, Arch: p.Arch, From: p.From, To: p.To, Action: p.Action})
	}
	return out
}
