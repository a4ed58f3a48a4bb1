package source

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// Scope names the items a targeted rescan observes again: the items with
// one of Keys, and every item whose key starts with one of Prefixes.
type Scope struct {
	Keys     []string
	Prefixes []string
}

// Has reports whether key is in the scope.
func (s Scope) Has(key string) bool {
	for _, k := range s.Keys {
		if k == key {
			return true
		}
	}
	for _, p := range s.Prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Empty reports whether the scope names nothing.
func (s Scope) Empty() bool { return len(s.Keys) == 0 && len(s.Prefixes) == 0 }

// PathScope is the scope of file paths: each path's own item and, for a
// directory, every item below it.
func PathScope(paths []string) Scope {
	var s Scope
	for _, p := range paths {
		s.Keys = append(s.Keys, baseline.Key(baseline.KindFile, p))
		s.Prefixes = append(s.Prefixes, baseline.Key(baseline.KindFile, strings.TrimSuffix(p, "/")+"/"))
	}
	return s
}

// Rescan observes the items in scope again with r's sources and updates
// the comparison as if the run that made it had seen them so: items in
// scope that r no longer observes count as removed (when the baseline has
// them) or vanish from the drift (when it does not). r's sources are
// matched to the comparison's by name, for the source named in messages;
// items r observes outside scope are ignored.
//
// When one of r's sources fails, the comparison keeps what it knew of the
// scope and Rescan returns the failure: a source that could not run says
// nothing about whether its items are still there.
func (c *Comparison) Rescan(ctx context.Context, r *Runner, scope Scope) ([]baseline.SourceStatus, error) {
	var inScope []int
	for _, k := range scope.Keys {
		if i, ok := c.base.Find(k); ok {
			inScope = append(inScope, i)
		}
	}
	for _, p := range scope.Prefixes {
		pos, err := c.base.Prefixed(p)
		if err != nil {
			return nil, fmt.Errorf("rescan: %w", err)
		}
		inScope = append(inScope, pos...)
	}
	rs := &rescanSink{r: r, c: c, scope: scope, keys: map[string]bool{}}
	statuses, err := r.run(ctx, rs)
	if err != nil {
		return nil, fmt.Errorf("rescan: %w", err)
	}
	for _, st := range statuses {
		if st.Status == baseline.StatusError {
			return statuses, fmt.Errorf("rescan: source %s failed: %s", st.Name, st.Error)
		}
	}
	// Forget the scope, then apply what the rescan saw.
	for _, i := range inScope {
		c.seen[i] = 0
	}
	kept := c.delta[:0:0]
	for _, it := range c.delta {
		if !scope.Has(it.Key) {
			kept = append(kept, it)
		}
	}
	for _, i := range rs.seen {
		c.seen[i] = 1
	}
	kept = append(kept, rs.delta...)
	sort.Slice(kept, func(a, b int) bool { return kept[a].Key < kept[b].Key })
	c.delta = kept
	c.TakenAt = time.Now().UTC()
	return statuses, nil
}

// Delta returns the observed items that differ from the baseline, sorted
// by key.
func (c *Comparison) Delta() []baseline.Item { return slices.Clone(c.delta) }

// rescanSink collects a rescan's items in scope.
type rescanSink struct {
	r      *Runner
	c      *Comparison
	scope  Scope
	mu     sync.Mutex
	keys   map[string]bool
	seen   []int
	delta  []baseline.Item
	counts []int
}

func (s *rescanSink) add(it baseline.Item, src int) string {
	if !s.scope.Has(it.Key) {
		return ""
	}
	line := it.AppendCanonical(nil)
	i, found, same := s.c.base.Match(it.Key, line)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.counts) <= src {
		s.counts = append(s.counts, 0)
	}
	if s.keys[it.Key] {
		return s.r.Sources[src].Name()
	}
	s.keys[it.Key] = true
	if found {
		s.seen = append(s.seen, i)
	}
	if !same {
		s.delta = append(s.delta, it)
	}
	s.counts[src]++
	return ""
}

func (s *rescanSink) drop(src int) {
	// A failed source fails the whole rescan (see Rescan); nothing of it
	// is applied.
}

func (s *rescanSink) count(src int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src < len(s.counts) {
		return s.counts[src]
	}
	return 0
}
