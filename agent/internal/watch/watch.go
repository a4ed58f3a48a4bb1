package watch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// Defaults for the timing options.
const (
	DefaultDebounce = 200 * time.Millisecond
	DefaultMaxDelay = 2 * time.Second
)

// ErrStopped is returned by Retry when Run has returned.
var ErrStopped = errors.New("watcher stopped")

// ErrUnsupported is returned by New on systems without inotify: there the
// agent finds changes by scheduled scans alone.
var ErrUnsupported = errors.New("realtime watching needs Linux inotify")

// Options configures a Watcher.
type Options struct {
	// Roots are the files and trees to watch.
	Roots []Root
	// Debounce is the quiet period after the last change before the
	// changes are delivered; 0 means DefaultDebounce.
	Debounce time.Duration
	// MaxDelay bounds how long a change waits while changes keep coming;
	// 0 means DefaultMaxDelay. When it is shorter than Debounce, changes
	// are delivered MaxDelay after the first.
	MaxDelay time.Duration
	// MaxWatches caps the directories watched at once, below the kernel's
	// own limit; 0 means the kernel's limit only.
	MaxWatches int
	// Log receives the watcher's messages, named as the caller chooses;
	// nil discards them.
	Log *zap.Logger
}

// Gap is a part of the roots whose changes are not seen as they happen: the
// agent scans it on a schedule instead until the gap closes.
type Gap struct {
	// Source is the source the gap belongs to; "" for every source.
	Source string
	// Path is the directory whose subtree is not (fully) covered; "" for
	// every root.
	Path string
	// Reason says why, for the operator: the watch limit, a lost event
	// queue, a directory that cannot be watched.
	Reason string
	// Opened is when the gap was found.
	Opened time.Time
	// Closed is when coverage was restored; zero while the gap is open.
	Closed time.Time
}

// IsOpen reports whether the gap is still open.
func (g Gap) IsOpen() bool { return g.Closed.IsZero() }

// Coverage is how much of the roots the watcher covers.
type Coverage struct {
	// Watched is the number of directories watched.
	Watched int
	// Uncovered are the directories that should be watched and are not,
	// sorted; their subtrees are not watched either. A root whose
	// directory cannot be watched is listed by its own path.
	Uncovered []string
	// Gaps are the open gaps, oldest first.
	Gaps []Gap
	// Overflows counts the kernel event queue overflows.
	Overflows int
	// LimitHits counts the times the watch limit refused to watch a
	// directory.
	LimitHits int
}

// Watcher watches the roots and delivers batches of changed paths and
// coverage gaps; see the package comment. Create it with New and start it
// with Run.
type Watcher struct {
	opt     Options
	log     *zap.Logger
	roots   []*root
	batches chan Batch
	gaps    chan Gap
	ready   chan struct{}
	done    chan struct{}
	retries chan chan []Gap
	started atomic.Bool

	// mu guards what Coverage reads; Run's goroutine alone writes it.
	mu        sync.Mutex
	fsw       *fsnotify.Watcher
	watched   map[string]struct{} // directory → watched
	uncovered map[string]string   // directory not watched → why
	open      []Gap
	overflows int
	limitHits int

	// Owned by Run's goroutine.
	pending map[string]*pending // by source, not yet due
	first   time.Time           // first change pending
	last    time.Time           // last change pending
	due     []string            // sources with a batch to deliver, oldest first
	dueBy   map[string]*pending // by source
	head    *Batch              // the batch of due[0], once built
	outGaps []Gap               // gaps to deliver
	mark    map[string]struct{} // directories a resync found; nil outside one

	// Test hooks, set before Run.
	seen      func(fsnotify.Event) // after each event is handled
	flushNow  chan struct{}        // deliver what is pending now
	errorHook func(error)          // after each error from fsnotify is handled
}

// New checks the options and returns a watcher; Run starts it.
func New(opt Options) (*Watcher, error) {
	if len(opt.Roots) == 0 {
		return nil, errors.New("watch: no roots")
	}
	switch {
	case opt.Debounce < 0:
		return nil, fmt.Errorf("watch: debounce %s is negative", opt.Debounce)
	case opt.MaxDelay < 0:
		return nil, fmt.Errorf("watch: max delay %s is negative", opt.MaxDelay)
	case opt.MaxWatches < 0:
		return nil, fmt.Errorf("watch: max watches %d is negative", opt.MaxWatches)
	}
	if opt.Debounce == 0 {
		opt.Debounce = DefaultDebounce
	}
	if opt.MaxDelay == 0 {
		opt.MaxDelay = DefaultMaxDelay
	}
	if !supported {
		return nil, ErrUnsupported
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	w := &Watcher{
		opt:       opt,
		log:       opt.Log,
		batches:   make(chan Batch),
		gaps:      make(chan Gap),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		retries:   make(chan chan []Gap),
		watched:   map[string]struct{}{},
		uncovered: map[string]string{},
		pending:   map[string]*pending{},
		dueBy:     map[string]*pending{},
		flushNow:  make(chan struct{}),
	}
	for i, r := range opt.Roots {
		switch {
		case r.Source == "":
			return nil, fmt.Errorf("watch: root %d (%s): no source", i, r.Path)
		case !filepath.IsAbs(r.Path) || filepath.Clean(r.Path) != r.Path:
			return nil, fmt.Errorf("watch: root %d of %s: path %q is not absolute and clean", i, r.Source, r.Path)
		case r.Levels < 0:
			return nil, fmt.Errorf("watch: root %s of %s: levels %d is negative", r.Path, r.Source, r.Levels)
		}
		w.roots = append(w.roots, &root{Root: r})
	}
	return w, nil
}

// Batches delivers the changes, one batch per source and debounce period.
// A consumer that is slow gets fewer, larger batches; nothing is dropped.
// The channel is closed when Run returns; what was still pending then is
// not delivered.
func (w *Watcher) Batches() <-chan Batch { return w.batches }

// Gaps delivers every gap when it opens and again when it closes, for the
// agent to scan on a schedule and report to the collector. Undelivered gaps
// wait in memory. The channel is closed when Run returns.
func (w *Watcher) Gaps() <-chan Gap { return w.gaps }

// Ready is closed when the initial watches are in place, or when Run
// returned before that. A full scan started after Ready misses no change:
// whatever changes after the watches are in place is delivered.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Coverage returns how much of the roots is covered now. It may be called
// from any goroutine.
func (w *Watcher) Coverage() Coverage {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := Coverage{
		Watched:   len(w.watched),
		Gaps:      slices.Clone(w.open),
		Overflows: w.overflows,
		LimitHits: w.limitHits,
	}
	for d := range w.uncovered {
		c.Uncovered = append(c.Uncovered, d)
	}
	slices.Sort(c.Uncovered)
	return c
}

// Retry walks every root again, as the initial setup does: it watches what
// is not watched yet (directories the limit kept out, now that watches may
// have been freed, or that appeared while events were lost), forgets
// directories that vanished unseen, and closes the gaps that no longer
// apply. An overflow gap is closed by any Retry: call Retry, then rescan
// the paths of the gaps it returns (all roots for a gap with no path), and
// nothing is missed. Retry returns the gaps it closed; they are delivered
// on Gaps too. It must be called while Run runs.
func (w *Watcher) Retry(ctx context.Context) ([]Gap, error) {
	reply := make(chan []Gap, 1)
	select {
	case w.retries <- reply:
	case <-w.done:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, fmt.Errorf("retry watches: %w", ctx.Err())
	}
	select {
	case closed := <-reply:
		return closed, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("retry watches: %w", ctx.Err())
	}
}

// Run sets up the watches, closes Ready, and delivers batches and gaps
// until ctx ends. It then releases every watch, closes Batches and Gaps,
// and returns nil; it returns an error when the watches cannot be set up at
// all, or when the kernel's event stream fails. Run may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	if w.started.Swap(true) {
		return errors.New("watch: Run called twice")
	}
	defer close(w.done)
	defer close(w.gaps)
	defer close(w.batches)
	readyClosed := false
	defer func() {
		if !readyClosed {
			close(w.ready)
		}
	}()

	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: start inotify: %w", err)
	}
	defer fsw.Close()
	w.mu.Lock()
	w.fsw = fsw
	w.mu.Unlock()

	start := time.Now()
	w.resync(start)
	cov := w.Coverage()
	w.log.Info("watching for changes", zap.Int("roots", len(w.roots)), zap.Int("watched", cov.Watched),
		zap.Int("uncovered", len(cov.Uncovered)), zap.Duration("took", time.Since(start)))
	close(w.ready)
	readyClosed = true

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		var batches chan<- Batch
		var next Batch
		if len(w.due) > 0 {
			if w.head == nil {
				b := w.dueBy[w.due[0]].batch(w.due[0])
				w.head = &b
			}
			batches, next = w.batches, *w.head
		}
		var gaps chan<- Gap
		var nextGap Gap
		if len(w.outGaps) > 0 {
			gaps = w.gaps
			nextGap = w.outGaps[0]
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fsw.Events:
			if !ok {
				return errors.New("watch: the inotify event stream ended")
			}
			now := time.Now()
			w.handle(ev, now)
			if len(w.pending) > 0 && !armed {
				timer.Reset(flushAt(w.first, w.last, w.opt.Debounce, w.opt.MaxDelay).Sub(now))
				armed = true
			}
			if w.seen != nil {
				w.seen(ev)
			}
		case err, ok := <-fsw.Errors:
			if !ok {
				return errors.New("watch: the inotify event stream ended")
			}
			w.handleError(err, time.Now())
			if w.errorHook != nil {
				w.errorHook(err)
			}
		case <-timer.C:
			armed = false
			now := time.Now()
			if at := flushAt(w.first, w.last, w.opt.Debounce, w.opt.MaxDelay); now.Before(at) {
				timer.Reset(at.Sub(now))
				armed = true
				continue
			}
			w.flush()
		case <-w.flushNow:
			w.flush()
		case batches <- next:
			delete(w.dueBy, w.due[0])
			w.due = w.due[1:]
			w.head = nil
		case gaps <- nextGap:
			w.outGaps = w.outGaps[1:]
		case reply := <-w.retries:
			reply <- w.resync(time.Now())
		}
	}
}

// record notes a changed path of source; dir marks a directory to rescan
// recursively.
func (w *Watcher) record(source, path string, dir bool, now time.Time) {
	if len(w.pending) == 0 {
		w.first = now
	}
	w.last = now
	p := w.pending[source]
	if p == nil {
		p = newPending(now)
		w.pending[source] = p
	}
	p.add(path, dir)
}

// flush makes what is pending due for delivery, merged into what is due
// and not delivered yet.
func (w *Watcher) flush() {
	sources := make([]string, 0, len(w.pending))
	for s := range w.pending {
		sources = append(sources, s)
	}
	slices.Sort(sources)
	for _, s := range sources {
		p := w.pending[s]
		if d := w.dueBy[s]; d != nil {
			d.merge(p)
			if s == w.due[0] {
				w.head = nil
			}
			continue
		}
		w.dueBy[s] = p
		w.due = append(w.due, s)
	}
	clear(w.pending)
}

// handleError handles an error from fsnotify: an overflow opens a gap for
// everything, anything else is logged.
func (w *Watcher) handleError(err error, now time.Time) {
	if !errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("watch error", zap.Error(err))
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.overflows++
	for _, g := range w.open {
		if g.Source == "" && g.Path == "" {
			w.log.Debug("event queue overflow again", zap.Int("overflows", w.overflows))
			return
		}
	}
	w.openGap(Gap{Reason: "the kernel's event queue overflowed and changes were lost; a full scan is needed", Opened: now},
		zap.Int("overflows", w.overflows))
}

// openGap records a gap as open and queues it; the caller holds mu.
func (w *Watcher) openGap(g Gap, fields ...zap.Field) {
	w.open = append(w.open, g)
	w.outGaps = append(w.outGaps, g)
	fields = append([]zap.Field{zap.String("source", g.Source), zap.String("path", g.Path), zap.String("reason", g.Reason),
		zap.Int("watched", len(w.watched))}, fields...)
	w.log.Warn("realtime coverage gap: changes here are found by scheduled scans only", fields...)
}
