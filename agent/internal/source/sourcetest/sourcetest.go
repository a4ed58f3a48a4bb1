// Package sourcetest helps test sources: it runs one and gathers what it
// emitted, sorted by key.
package sourcetest

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// Result is what a source emitted.
type Result struct {
	// Items are the emitted items, sorted by key.
	Items []baseline.Item
	// Content maps a key to the raw content emitted with it.
	Content map[string][]byte
	// Warnings are the problems passed to Warn, in order.
	Warnings []error
	// Err is what Collect returned.
	Err error
}

// Lookup returns the item with the given key, or nil.
func (r *Result) Lookup(key string) *baseline.Item {
	for i := range r.Items {
		if r.Items[i].Key == key {
			return &r.Items[i]
		}
	}
	return nil
}

// Recorder is an Emitter that keeps everything in memory.
type Recorder struct {
	mu  sync.Mutex
	res Result
}

// Item implements source.Emitter.
func (r *Recorder) Item(it baseline.Item, content []byte) baseline.Item {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res.Content == nil {
		r.res.Content = map[string][]byte{}
	}
	if content != nil {
		r.res.Content[it.Key] = append([]byte(nil), content...)
		it.Content = baseline.Sum(content)
	}
	r.res.Items = append(r.res.Items, it)
	return it
}

// Warn implements source.Emitter.
func (r *Recorder) Warn(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Warnings = append(r.res.Warnings, err)
}

// Result returns what was recorded, items sorted by key.
func (r *Recorder) Result() *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	sort.Slice(r.res.Items, func(i, j int) bool { return r.res.Items[i].Key < r.res.Items[j].Key })
	res := r.res
	return &res
}

// Collect runs src once and returns what it emitted. It fails the test when
// two items share a key or an item's key has the wrong kind.
func Collect(t testing.TB, src source.Source) *Result {
	t.Helper()
	rec := &Recorder{}
	err := src.Collect(context.Background(), rec)
	res := rec.Result()
	res.Err = err
	for i := range res.Items {
		it := &res.Items[i]
		if i > 0 && res.Items[i-1].Key == it.Key {
			t.Errorf("%s: duplicate key %q", src.Name(), it.Key)
		}
		if it.Kind() != src.Kind() {
			t.Errorf("%s: item %q has kind %q, want %q", src.Name(), it.Key, it.Kind(), src.Kind())
		}
	}
	return res
}
