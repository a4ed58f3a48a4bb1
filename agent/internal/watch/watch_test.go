//go:build linux

package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// deadline bounds every wait for the watcher, so that a broken watcher
// fails the test instead of hanging it. It is not a speed requirement.
const deadline = 60 * time.Second

// start runs a watcher until the test ends and waits until it is ready.
// hooks, when set, sets test hooks before Run.
func start(t *testing.T, opt Options, hooks func(*Watcher)) *Watcher {
	t.Helper()
	if opt.Log == nil {
		opt.Log = zaptest.NewLogger(t)
	}
	if opt.Debounce == 0 {
		opt.Debounce = 20 * time.Millisecond
	}
	if opt.MaxDelay == 0 {
		opt.MaxDelay = time.Second
	}
	w, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if hooks != nil {
		hooks(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-w.Ready():
	case <-time.After(deadline):
		t.Fatal("watcher not ready")
	}
	return w
}

// way returns how many directories lie above path: the watches a root at
// path needs besides its own tree.
func way(path string) int { return len(segments(path)) }

// dirRoot is a root covering the whole tree at path.
func dirRoot(path string) Root { return Root{Source: "files.test", Path: path} }

// waitBatch reads batches until one satisfies ok and returns every batch
// read, that one last.
func waitBatch(t *testing.T, w *Watcher, what string, ok func(Batch) bool) []Batch {
	t.Helper()
	timeout := time.After(deadline)
	var seen []Batch
	for {
		select {
		case b, open := <-w.Batches():
			if !open {
				t.Fatalf("batches closed while waiting for %s; saw %+v", what, seen)
			}
			seen = append(seen, b)
			if ok(b) {
				return seen
			}
		case <-timeout:
			t.Fatalf("no batch with %s; saw %+v", what, seen)
		}
	}
}

// waitPath reads batches until one reports path.
func waitPath(t *testing.T, w *Watcher, path string) []Batch {
	t.Helper()
	return waitBatch(t, w, path, func(b Batch) bool { return names(b, path) })
}

// names reports whether b reports path: names it in Paths, or names it or
// a directory it lies in in Dirs, to be rescanned.
func names(b Batch, path string) bool {
	if slices.Contains(b.Paths, path) {
		return true
	}
	for _, d := range b.Dirs {
		if within(d, path) {
			return true
		}
	}
	return false
}

// mentions reports whether any batch names path or a path below it.
func mentions(bs []Batch, path string) bool {
	for _, b := range bs {
		for _, p := range append(slices.Clone(b.Paths), b.Dirs...) {
			if within(path, p) {
				return true
			}
		}
	}
	return false
}

func waitGap(t *testing.T, w *Watcher) Gap {
	t.Helper()
	select {
	case g, ok := <-w.Gaps():
		if !ok {
			t.Fatal("gaps closed")
		}
		return g
	case <-time.After(deadline):
		t.Fatal("no gap reported")
	}
	panic("unreachable")
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// seenPaths is a test hook that tells when an event naming a path has been
// handled.
type seenPaths struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func newSeen() *seenPaths { return &seenPaths{waiters: map[string]chan struct{}{}} }

// expect returns a channel closed once an event naming path is handled;
// call it before the change.
func (s *seenPaths) expect(path string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.waiters[path] = ch
	return ch
}

func (s *seenPaths) hook(ev fsnotify.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := filepath.Clean(ev.Name)
	if ch, ok := s.waiters[p]; ok {
		close(ch)
		delete(s.waiters, p)
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(deadline):
		t.Fatalf("%s did not happen", what)
	}
}

func TestWriteFile(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "app.conf")
	write(t, conf, "a = 1\n")
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)

	write(t, conf, "a = 2\n")
	got := waitPath(t, w, conf)
	want := Batch{Source: "files.test", Paths: []string{conf}}
	if diff := cmp.Diff(want, got[len(got)-1], cmpBatch); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	if len(got) != 1 {
		t.Errorf("got %d batches, want 1: %+v", len(got), got)
	}
	if b := got[len(got)-1]; b.First.IsZero() {
		t.Error("batch has no First time")
	}

	// A new file is named too.
	added := filepath.Join(root, "new.conf")
	write(t, added, "b = 1\n")
	got = waitPath(t, w, added)
	if diff := cmp.Diff([]string{added}, got[len(got)-1].Paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

// cmpBatch compares batches without their time.
var cmpBatch = cmp.Transformer("batch", func(b Batch) Batch { b.First = time.Time{}; return b })

func TestDebounceBurst(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "app.conf")
	write(t, conf, "start\n")
	seen := newSeen()
	var flushNow chan struct{}
	// With an hour of debounce nothing is delivered until the test says
	// so, after every event of the burst has been handled.
	w := start(t, Options{Roots: []Root{dirRoot(root)}, Debounce: time.Hour, MaxDelay: time.Hour}, func(w *Watcher) {
		w.seen = seen.hook
		flushNow = w.flushNow
	})

	sentinel := filepath.Join(root, "sentinel")
	sentinelSeen := seen.expect(sentinel)
	for i := range 100 {
		write(t, conf, strings.Repeat("x", i)+"\n")
	}
	// Events come in order: once the sentinel's is handled, so is every
	// write's.
	write(t, sentinel, "")
	wait(t, sentinelSeen, "the sentinel's event")
	flushNow <- struct{}{}
	got := waitPath(t, w, sentinel)
	want := []Batch{{Source: "files.test", Paths: []string{conf, sentinel}}}
	if diff := cmp.Diff(want, got, cmpBatch); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}

	// Nothing of the burst was left for another batch.
	other := filepath.Join(root, "other")
	otherSeen := seen.expect(other)
	write(t, other, "")
	wait(t, otherSeen, "the second sentinel's event")
	flushNow <- struct{}{}
	got = waitPath(t, w, other)
	want = []Batch{{Source: "files.test", Paths: []string{other}}}
	if diff := cmp.Diff(want, got, cmpBatch); diff != "" {
		t.Errorf("batches after the burst (-want +got):\n%s", diff)
	}
}

func TestMaxDelay(t *testing.T) {
	root := t.TempDir()
	log := filepath.Join(root, "busy.conf")
	write(t, log, "")
	// The quiet period never comes while the file is written: only the
	// maximum delay delivers it.
	w := start(t, Options{Roots: []Root{dirRoot(root)}, Debounce: time.Hour, MaxDelay: 100 * time.Millisecond}, nil)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.WriteString("line\n"); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	// Twice: a file written without pause is reported again and again.
	waitPath(t, w, log)
	waitPath(t, w, log)
}
