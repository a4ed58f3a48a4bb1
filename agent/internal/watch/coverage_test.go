//go:build linux

package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// limitTree is root/{a, z/{1,2,3}}. With room for the directories above
// root, root, a and z, the three directories in z are left out; limit is
// that room.
func limitTree(t *testing.T) (root string, limit int) {
	root = t.TempDir()
	for _, d := range []string{"a", "z/1", "z/2", "z/3"} {
		write(t, filepath.Join(root, d, "f"), "")
	}
	return root, way(root) + 3
}

func TestWatchLimit(t *testing.T) {
	root, limit := limitTree(t)
	z := filepath.Join(root, "z")
	w := start(t, Options{Roots: []Root{dirRoot(root)}, MaxWatches: limit}, nil)

	g := waitGap(t, w)
	if g.Source != "files.test" || g.Path != z || !g.IsOpen() || g.Opened.IsZero() || !strings.Contains(g.Reason, "MaxWatches") {
		t.Errorf("gap = %+v, want an open gap for %s naming the limit", g, z)
	}
	cov := w.Coverage()
	want := Coverage{
		Watched:   limit,
		Uncovered: []string{filepath.Join(z, "1"), filepath.Join(z, "2"), filepath.Join(z, "3")},
		Gaps:      []Gap{g},
		LimitHits: 1,
	}
	if diff := cmp.Diff(want, cov); diff != "" {
		t.Errorf("coverage (-want +got):\n%s", diff)
	}

	// An uncovered directory's changes are not seen.
	write(t, filepath.Join(z, "1", "f"), "changed")
	barrier := filepath.Join(root, "a", "f")
	write(t, barrier, "changed")
	if got := waitPath(t, w, barrier); mentions(got, filepath.Join(z, "1")) {
		t.Errorf("a change in an unwatched directory was reported: %+v", got)
	}

	// A new directory the limit keeps out is still reported for a rescan,
	// and its gap, already open, is not reported again.
	z4 := filepath.Join(z, "4")
	mkdir(t, z4)
	waitBatch(t, w, "the new directory", func(b Batch) bool { return slices.Contains(b.Dirs, z4) })
	cov = w.Coverage()
	if !slices.Contains(cov.Uncovered, z4) || len(cov.Gaps) != 1 || cov.LimitHits != 2 {
		t.Errorf("coverage after a new directory = %+v, want %s uncovered, one gap, two limit hits", cov, z4)
	}
}

func TestRetryClosesGap(t *testing.T) {
	root, limit := limitTree(t)
	z := filepath.Join(root, "z")
	w := start(t, Options{Roots: []Root{dirRoot(root)}, MaxWatches: limit}, nil)
	opened := waitGap(t, w)

	// Still no room: the gap stays open.
	closed, err := w.Retry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(closed) != 0 || len(w.Coverage().Gaps) != 1 {
		t.Errorf("Retry closed %+v with no room, coverage %+v", closed, w.Coverage())
	}

	// Free one watch and drop two of the uncovered directories.
	for _, d := range []string{filepath.Join(root, "a"), filepath.Join(z, "2"), filepath.Join(z, "3")} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	removed := map[string]bool{}
	waitBatch(t, w, "the removals", func(b Batch) bool {
		for _, d := range []string{filepath.Join(root, "a"), filepath.Join(z, "2"), filepath.Join(z, "3")} {
			if names(b, d) {
				removed[d] = true
			}
		}
		return len(removed) == 3
	})
	closed, err = w.Retry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(closed) != 1 || closed[0].Path != opened.Path || closed[0].IsOpen() || !closed[0].Opened.Equal(opened.Opened) {
		t.Fatalf("Retry closed %+v, want the gap %+v", closed, opened)
	}
	if g := waitGap(t, w); g != closed[0] {
		t.Errorf("Gaps delivered %+v, want the closed gap %+v", g, closed[0])
	}
	if cov := w.Coverage(); cov.Watched != limit || len(cov.Uncovered) != 0 || len(cov.Gaps) != 0 {
		t.Errorf("coverage after Retry = %+v, want %d watched and nothing uncovered", cov, limit)
	}

	// Covered now.
	f := filepath.Join(z, "1", "f")
	write(t, f, "changed")
	waitPath(t, w, f)
}

func TestOverflow(t *testing.T) {
	root := t.TempDir()
	handled := make(chan error, 8)
	var fsw *fsnotify.Watcher
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, func(w *Watcher) {
		w.errorHook = func(err error) { handled <- err }
	})
	w.mu.Lock()
	fsw = w.fsw
	w.mu.Unlock()

	// The kernel's queue overflow reaches the watcher on fsnotify's error
	// channel, twice.
	for range 2 {
		fsw.Errors <- fsnotify.ErrEventOverflow
		select {
		case <-handled:
		case <-time.After(deadline):
			t.Fatal("overflow not handled")
		}
	}
	g := waitGap(t, w)
	if g.Source != "" || g.Path != "" || !g.IsOpen() || !strings.Contains(g.Reason, "overflow") {
		t.Errorf("gap = %+v, want an open gap for everything", g)
	}
	if cov := w.Coverage(); cov.Overflows != 2 || len(cov.Gaps) != 1 {
		t.Errorf("coverage = %+v, want two overflows and one gap", cov)
	}

	// The agent rescans everything after Retry: the gap closes.
	closed, err := w.Retry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(closed) != 1 || closed[0].Path != "" || closed[0].IsOpen() {
		t.Errorf("Retry closed %+v, want the overflow gap", closed)
	}
	if g := waitGap(t, w); g.IsOpen() {
		t.Errorf("Gaps delivered %+v, want the closed gap", g)
	}
	if cov := w.Coverage(); cov.Overflows != 2 || len(cov.Gaps) != 0 {
		t.Errorf("coverage after Retry = %+v, want no gap", cov)
	}

	// Events still come.
	f := filepath.Join(root, "f")
	write(t, f, "")
	waitPath(t, w, f)
}

func TestStop(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a", "f"), "")
	w, err := New(Options{Roots: []Root{dirRoot(root)}, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	wait(t, w.Ready(), "ready")
	// Something pending when it stops.
	write(t, filepath.Join(root, "a", "f"), "changed")
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not return")
	}
	if _, ok := <-w.Batches(); ok {
		t.Error("Batches delivered after Run returned")
	}
	if _, ok := <-w.Gaps(); ok {
		t.Error("Gaps delivered after Run returned")
	}
	if _, err := w.Retry(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Retry after Run = %v, want ErrStopped", err)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
	// fsnotify's reader and the watcher's loop are gone. fsnotify's reader
	// may still be closing its channels after Close returned: poll.
	var left []string
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		left = leftovers()
		if len(left) == 0 {
			break
		}
	}
	for _, g := range left {
		t.Errorf("goroutine left behind:\n%s", g)
	}
}

// leftovers returns the stacks of goroutines of a watcher or of fsnotify.
func leftovers() []string {
	buf := make([]byte, 1<<20)
	var left []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "fsnotify.(*inotify)") || strings.Contains(g, "watch.(*Watcher)") {
			left = append(left, g)
		}
	}
	return left
}

func TestSlowConsumer(t *testing.T) {
	root := t.TempDir()
	seen := newSeen()
	var flushNow chan struct{}
	w := start(t, Options{Roots: []Root{dirRoot(root)}, Debounce: time.Hour, MaxDelay: time.Hour}, func(w *Watcher) {
		w.seen = seen.hook
		flushNow = w.flushNow
	})
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, p := range []string{a, b} {
		ch := seen.expect(p)
		write(t, p, "")
		wait(t, ch, "event for "+p)
		// Due, but nobody reads.
		flushNow <- struct{}{}
	}
	got := waitPath(t, w, a)
	want := []Batch{{Source: "files.test", Paths: []string{a, b}}}
	if diff := cmp.Diff(want, got, cmpBatch); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

func TestNewErrors(t *testing.T) {
	ok := Root{Source: "files.etc", Path: "/etc"}
	tests := []struct {
		name string
		opt  Options
		want string
	}{
		{"no roots", Options{}, "no roots"},
		{"relative", Options{Roots: []Root{{Source: "files.etc", Path: "etc"}}}, `path "etc" is not absolute`},
		{"unclean", Options{Roots: []Root{{Source: "files.etc", Path: "/etc/"}}}, `path "/etc/" is not absolute and clean`},
		{"no source", Options{Roots: []Root{{Path: "/etc"}}}, "no source"},
		{"levels", Options{Roots: []Root{{Source: "files.etc", Path: "/etc", Levels: -1}}}, "levels -1 is negative"},
		{"debounce", Options{Roots: []Root{ok}, Debounce: -time.Second}, "debounce -1s is negative"},
		{"max delay", Options{Roots: []Root{ok}, MaxDelay: -time.Second}, "max delay -1s is negative"},
		{"max watches", Options{Roots: []Root{ok}, MaxWatches: -1}, "max watches -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
	w, err := New(Options{Roots: []Root{ok}})
	if err != nil {
		t.Fatal(err)
	}
	if w.opt.Debounce != DefaultDebounce || w.opt.MaxDelay != DefaultMaxDelay {
		t.Errorf("defaults: debounce %s, max delay %s", w.opt.Debounce, w.opt.MaxDelay)
	}
}
