package source

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// Comparison is the result of a run compared, item by item, with a
// baseline held as a baseline.Index: only the items that differ from the
// baseline are kept, so checking an unchanged host of 100,000 files holds
// no second copy of them.
type Comparison struct {
	// Host, TakenAt and Sources are as in a snapshot.
	Host    baseline.Host
	TakenAt time.Time
	Sources []baseline.SourceStatus

	base  *baseline.Index
	seen  []uint16 // per baseline item: 1 + the source that observed it, 0 if none
	delta []baseline.Item
	dsrc  []uint16
	dkeys map[string]int // key → index in delta
}

// Compare runs every source like Snapshot, comparing each item with base.
func (r *Runner) Compare(ctx context.Context, host baseline.Host, base *baseline.Index) (*Comparison, error) {
	cs := &compareSink{r: r, c: &Comparison{Host: host, TakenAt: time.Now().UTC(), base: base,
		seen: make([]uint16, base.Len()), dkeys: map[string]int{}}}
	statuses, err := r.run(ctx, cs)
	if err != nil {
		return nil, err
	}
	cs.c.Sources = statuses
	c := cs.c
	order := make([]int, len(c.delta))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return c.delta[order[a]].Key < c.delta[order[b]].Key })
	delta := make([]baseline.Item, len(order))
	for i, j := range order {
		delta[i] = c.delta[j]
	}
	c.delta, c.dsrc, c.dkeys = delta, nil, nil
	return c, nil
}

type compareSink struct {
	r      *Runner
	c      *Comparison
	mu     sync.Mutex
	counts []int
	pool   sync.Pool
}

func (s *compareSink) add(it baseline.Item, src int) string {
	bp, _ := s.pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 512)
		bp = &b
	}
	line := it.AppendCanonical((*bp)[:0])
	i, found, same := s.c.base.Match(it.Key, line)
	*bp = line
	s.pool.Put(bp)

	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.counts) <= src {
		s.counts = append(s.counts, 0)
	}
	if found && s.c.seen[i] != 0 {
		return s.r.Sources[s.c.seen[i]-1].Name()
	}
	if j, ok := s.c.dkeys[it.Key]; ok {
		return s.r.Sources[s.c.dsrc[j]].Name()
	}
	if found {
		s.c.seen[i] = uint16(src + 1)
	}
	if !same {
		s.c.dkeys[it.Key] = len(s.c.delta)
		s.c.delta = append(s.c.delta, it)
		s.c.dsrc = append(s.c.dsrc, uint16(src))
	}
	s.counts[src]++
	return ""
}

func (s *compareSink) drop(src int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, v := range s.c.seen {
		if v == uint16(src+1) {
			s.c.seen[i] = 0
		}
	}
	delta, dsrc := s.c.delta[:0], s.c.dsrc[:0]
	for j, it := range s.c.delta {
		if s.c.dsrc[j] == uint16(src) {
			delete(s.c.dkeys, it.Key)
			continue
		}
		s.c.dkeys[it.Key] = len(delta)
		delta = append(delta, it)
		dsrc = append(dsrc, s.c.dsrc[j])
	}
	s.c.delta, s.c.dsrc = delta, dsrc
	if src < len(s.counts) {
		s.counts[src] = 0
	}
}

func (s *compareSink) count(src int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src < len(s.counts) {
		return s.counts[src]
	}
	return 0
}

// Unchanged reports whether every baseline item was observed exactly as it
// was and nothing new appeared.
func (c *Comparison) Unchanged() bool {
	if len(c.delta) > 0 {
		return false
	}
	for _, v := range c.seen {
		if v == 0 {
			return false
		}
	}
	return c.Host.Name == c.base.Host().Name
}

// Digest returns the state digest of the snapshot the run observed, without
// building it: the baseline's lines where items are unchanged, the new
// items' encodings elsewhere, merged in key order.
func (c *Comparison) Digest() (baseline.Digest, error) {
	if c.Unchanged() {
		return c.base.Digest(), nil
	}
	h := sha256.New()
	var b []byte
	b = appendHost(b, c.Host.Name)
	h.Write(b)
	j := 0
	emitDelta := func(upTo string, all bool) {
		for j < len(c.delta) && (all || c.delta[j].Key < upTo) {
			b = c.delta[j].AppendCanonical(b[:0])
			b = append(b, '\n')
			h.Write(b)
			j++
		}
	}
	err := c.base.Each(func(i int, key string, line []byte) error {
		emitDelta(key, false)
		if j < len(c.delta) && c.delta[j].Key == key {
			return nil // changed: the delta item is written in its place
		}
		if c.seen[i] != 0 {
			h.Write(line)
			h.Write([]byte{'\n'})
		}
		return nil
	})
	if err != nil {
		return baseline.Digest{}, fmt.Errorf("snapshot digest: %w", err)
	}
	emitDelta("", true)
	var d baseline.Digest
	h.Sum(d[:0])
	return d, nil
}

// appendHost appends the digest's first line: the host name as the
// canonical encoding writes it.
func appendHost(b []byte, name string) []byte {
	return append(baseline.AppendJSONString(b, name), '\n')
}

// Drift returns the drift from the baseline, described by meta, with the
// content diffs opt allows.
func (c *Comparison) Drift(meta baseline.Meta, opt baseline.DiffOptions) (*baseline.Drift, error) {
	old := &baseline.Snapshot{Host: c.base.Host()}
	cur := &baseline.Snapshot{Host: c.Host, TakenAt: c.TakenAt, Items: c.delta}
	for _, it := range c.delta {
		if i, ok := c.base.Find(it.Key); ok {
			bi, err := c.base.Item(i)
			if err != nil {
				return nil, fmt.Errorf("drift: baseline %w", err)
			}
			old.Items = append(old.Items, bi)
		}
	}
	for i, v := range c.seen {
		if v == 0 {
			bi, err := c.base.Item(i)
			if err != nil {
				return nil, fmt.Errorf("drift: baseline %w", err)
			}
			old.Items = append(old.Items, bi)
		}
	}
	old.Sort()
	d := baseline.Diff(old, cur, opt)
	var err error
	d.BaselineVersion = meta.Version
	d.BaselineDigest = c.base.Digest()
	if d.SnapshotDigest, err = c.Digest(); err != nil {
		return nil, err
	}
	return d, nil
}
