package watch

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// limitError is a watch the watch limit refused.
type limitError struct{ reason string }

func (e *limitError) Error() string { return e.reason }

// maxUserWatches is where Linux keeps the per-user inotify watch limit.
const maxUserWatches = "/proc/sys/fs/inotify/max_user_watches"

// kernelLimitReason says that the kernel refused a watch, with its limit
// when it can be read.
func kernelLimitReason() string {
	const msg = "the kernel's inotify watch limit is reached (fs.inotify.max_user_watches%s, shared by all processes of the user); raise it to restore realtime coverage"
	if b, err := os.ReadFile(maxUserWatches); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return fmt.Sprintf(msg, " = "+strconv.Itoa(n))
		}
	}
	return fmt.Sprintf(msg, "")
}

// handle applies one event: it keeps the watches in step with the
// directories and records the changed paths. It runs on Run's goroutine.
func (w *Watcher) handle(ev fsnotify.Event, now time.Time) {
	p := filepath.Clean(ev.Name)
	created := ev.Has(fsnotify.Create)
	gone := !created && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename))

	w.mu.Lock()
	defer w.mu.Unlock()
	// A directory that vanished or moved takes its watches along: they
	// would name its old path. One renamed over a watched directory
	// replaces it, and the old watches are on the old directory.
	wasDir := false
	if _, watched := w.watched[p]; gone || (created && watched) {
		wasDir = w.dropTree(p)
	}
	statted, isDir := false, false
	for _, r := range w.roots {
		depth, in := depthIn(r.Path, p)
		if !in {
			if within(p, r.Path) {
				w.ancestorChanged(r, p, gone, created, now)
			}
			continue
		}
		if (r.Levels > 0 && depth > r.Levels) || r.excluded(p) {
			continue
		}
		switch {
		case created:
			if !statted {
				fi, err := os.Lstat(p)
				isDir, statted = err == nil && fi.IsDir(), true
			}
			if isDir && r.watchesLevel(depth) {
				w.walk(r, p, depth, now)
				w.record(r.Source, p, true, now)
			} else if r.match(p) {
				w.record(r.Source, p, false, now)
			}
		case gone:
			if wasDir || depth == 0 || r.match(p) {
				w.record(r.Source, p, false, now)
			}
		default:
			if r.match(p) {
				w.record(r.Source, p, false, now)
			}
		}
	}
}

// ancestorChanged handles an event naming p, a directory on the way to r's
// Path.
func (w *Watcher) ancestorChanged(r *root, p string, gone, created bool, now time.Time) {
	if !gone && !created {
		return
	}
	if gone && (r.anchor == "" || !within(p, r.anchor)) {
		// Not a directory watched for r.
		return
	}
	// A directory on the way to Path vanished or moved, taking Path
	// along; or one appeared, perhaps with Path in it, or was replaced.
	exists, isDir := w.setupRoot(r, now)
	switch {
	case isDir:
		w.record(r.Source, r.Path, true, now)
	case exists && r.match(r.Path), gone:
		w.record(r.Source, r.Path, false, now)
	}
}

// maxSetupTries bounds how often setupRoot starts over when the directories
// on the way to a root change while it sets up.
const maxSetupTries = 8

// setupRoot watches the directories on the way to r's Path, from "/" down
// to its nearest existing ancestor (its parent when it exists), so that a
// rename or removal of any of them is seen, and, when Path is a directory,
// its tree. It reports whether Path exists and is a directory. The caller
// holds mu.
func (w *Watcher) setupRoot(r *root, now time.Time) (exists, isDir bool) {
	for try := 1; ; try++ {
		a := parent(r.Path)
		for a != "" {
			// Directories on the way may be symbolic links, as the file
			// source follows them to reach Path.
			if fi, err := os.Stat(a); err == nil && fi.IsDir() {
				break
			}
			a = parent(a)
		}
		if old := r.anchor; old != a {
			r.anchor = a
			w.release(old, a)
		}
		if a == "" {
			break
		}
		err := w.watchWay(a)
		if err != nil && !vanished(err) {
			w.uncovered[r.Path] = reason(err)
			w.gapFor(r, []string{r.Path}, reason(err), now)
			return false, false
		}
		if err == nil && a == parent(r.Path) {
			break
		}
		if err == nil {
			// What appears below a from now on is seen; what appeared
			// before its watch was in place is looked for here.
			next := join(a, segments(r.Path)[len(segments(a))])
			if fi, err := os.Stat(next); err != nil || !fi.IsDir() {
				return false, false
			}
		}
		if try == maxSetupTries {
			msg := "the directories on the way to it keep changing"
			w.uncovered[r.Path] = msg
			w.gapFor(r, []string{r.Path}, msg, now)
			return false, false
		}
	}
	fi, err := os.Lstat(r.Path)
	if err != nil {
		return false, false
	}
	if !fi.IsDir() {
		return true, false
	}
	if !r.excluded(r.Path) {
		w.walk(r, r.Path, 0, now)
	}
	return true, true
}

// watchWay watches a and every directory above it.
func (w *Watcher) watchWay(a string) error {
	way := []string{a}
	for d := parent(a); d != ""; d = parent(d) {
		way = append(way, d)
	}
	for i := len(way) - 1; i >= 0; i-- {
		if err := w.watch(way[i]); err != nil {
			return err
		}
	}
	return nil
}

// release unwatches the directories on the way to old, a root's former
// nearest ancestor, that are not on the way to a, its new one, unless
// another root needs them.
func (w *Watcher) release(old, a string) {
	for d := old; d != ""; d = parent(d) {
		if a != "" && within(d, a) {
			return
		}
		if !w.needed(d) {
			w.unwatch(d)
		}
	}
}

// walk watches start, which lies depth levels below r's Path, and the
// directories below it that r watches, and opens a gap for what it cannot
// watch. Directories already watched are walked all the same: another
// root, with other excludes, may have watched them. The caller holds mu.
func (w *Watcher) walk(r *root, start string, depth int, now time.Time) {
	type dir struct {
		path  string
		depth int
	}
	stack := []dir{{start, depth}}
	var uncovered []string
	why := ""
	limited := false
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := w.watched[d.path]; !ok && limited {
			// Once the limit is reached, the rest is not tried.
			w.uncovered[d.path] = why
			uncovered = append(uncovered, d.path)
			continue
		}
		if err := w.watch(d.path); err != nil {
			if vanished(err) {
				continue
			}
			msg := reason(err)
			if why == "" {
				why = msg
			}
			w.uncovered[d.path] = msg
			uncovered = append(uncovered, d.path)
			var le *limitError
			limited = errors.As(err, &le)
			continue
		}
		if !r.watchesLevel(d.depth + 1) {
			continue
		}
		names, err := subdirs(d.path)
		if err != nil && !vanished(err) {
			// The scan reports an unreadable directory; what is in it
			// is not watched.
			w.log.Debug("list directory to watch", zap.String("path", d.path), zap.Error(err))
		}
		for i := len(names) - 1; i >= 0; i-- {
			c := join(d.path, names[i])
			if r.Exclude != nil && r.Exclude(c) {
				continue
			}
			stack = append(stack, dir{c, d.depth + 1})
		}
	}
	w.gapFor(r, uncovered, why, now)
}

// subdirs returns the names of the directories in dir, sorted, without
// following symbolic links.
func subdirs(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	for {
		entries, err := f.ReadDir(256)
		for _, e := range entries {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			return names, fmt.Errorf("list %s: %w", dir, err)
		}
	}
	slices.Sort(names)
	return names, nil
}

// watch puts a watch on directory d unless it has one. The caller holds mu.
func (w *Watcher) watch(d string) error {
	if w.mark != nil {
		defer func() {
			if _, ok := w.watched[d]; ok {
				w.mark[d] = struct{}{}
			}
		}()
	}
	if _, ok := w.watched[d]; ok {
		return nil
	}
	if n := w.opt.MaxWatches; n > 0 && len(w.watched) >= n {
		w.limitHits++
		return &limitError{reason: fmt.Sprintf("the watch limit of %d directories (MaxWatches) is reached", n)}
	}
	if err := w.fsw.Add(d); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			w.limitHits++
			return &limitError{reason: kernelLimitReason()}
		}
		return fmt.Errorf("watch %s: %w", d, err)
	}
	w.watched[d] = struct{}{}
	return nil
}

// unwatch removes the watch on d. The caller holds mu.
func (w *Watcher) unwatch(d string) {
	if _, ok := w.watched[d]; !ok {
		return
	}
	delete(w.watched, d)
	delete(w.mark, d)
	// The kernel drops the watch of a deleted directory by itself; then
	// fsnotify has nothing to remove.
	if err := w.fsw.Remove(d); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
		w.log.Debug("remove watch", zap.String("path", d), zap.Error(err))
	}
}

// dropTree forgets the watched and uncovered directories at or below p,
// which vanished or moved, and reports whether there were any. The caller
// holds mu.
func (w *Watcher) dropTree(p string) bool {
	found := false
	if _, ok := w.watched[p]; ok {
		found = true
		for d := range w.watched {
			if within(p, d) {
				w.unwatch(d)
			}
		}
	}
	for d := range w.uncovered {
		if within(p, d) {
			delete(w.uncovered, d)
			found = true
		}
	}
	return found
}

// needed reports whether some root needs a watch on directory d.
func (w *Watcher) needed(d string) bool {
	for _, r := range w.roots {
		if r.anchor != "" && within(d, r.anchor) {
			return true
		}
		if depth, ok := depthIn(r.Path, d); ok && r.watchesLevel(depth) && !r.excluded(d) {
			return true
		}
	}
	return false
}

// gapFor opens a gap for the directories of r that a walk could not watch,
// at the deepest directory that holds them all, unless an open gap of the
// source already covers it. The caller holds mu.
func (w *Watcher) gapFor(r *root, uncovered []string, why string, now time.Time) {
	if len(uncovered) == 0 {
		return
	}
	path := commonDir(uncovered)
	for _, g := range w.open {
		if g.Source == r.Source && g.Path != "" && within(g.Path, path) {
			return
		}
	}
	w.openGap(Gap{Source: r.Source, Path: path, Reason: why, Opened: now}, zap.Int("uncovered", len(uncovered)))
}

// resync walks every root again and closes the gaps that no longer apply;
// see Retry. It returns the gaps it closed.
func (w *Watcher) resync(now time.Time) []Gap {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Forget first the watches the kernel dropped unseen (a directory
	// deleted while events were lost, a file system unmounted), so that
	// they count against no limit and are put back where still needed.
	live := make(map[string]struct{}, len(w.watched))
	for _, d := range w.fsw.WatchList() {
		live[d] = struct{}{}
	}
	for d := range w.watched {
		if _, ok := live[d]; !ok {
			delete(w.watched, d)
		}
	}
	w.mark = map[string]struct{}{}
	clear(w.uncovered)
	for _, r := range w.roots {
		w.setupRoot(r, now)
	}
	for d := range w.watched {
		if _, ok := w.mark[d]; !ok {
			w.unwatch(d)
		}
	}
	w.mark = nil

	var closed []Gap
	keep := make([]Gap, 0, len(w.open))
	for _, g := range w.open {
		if g.Path != "" && w.uncoveredIn(g.Path) {
			keep = append(keep, g)
			continue
		}
		g.Closed = now
		closed = append(closed, g)
		w.outGaps = append(w.outGaps, g)
		w.log.Info("realtime coverage restored", zap.String("source", g.Source), zap.String("path", g.Path),
			zap.Time("since", g.Opened), zap.Int("watched", len(w.watched)))
	}
	w.open = keep
	return closed
}

// uncoveredIn reports whether a directory at, below or above p is
// uncovered. The caller holds mu.
func (w *Watcher) uncoveredIn(p string) bool {
	for d := range w.uncovered {
		if within(p, d) || within(d, p) {
			return true
		}
	}
	return false
}

// vanished reports whether err means the path is gone or is no longer a
// directory: a race with the change that is being reported anyway.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// reason says why a directory is not watched, for a gap.
func reason(err error) string {
	var le *limitError
	if errors.As(err, &le) {
		return le.reason
	}
	return "cannot be watched: " + err.Error()
}
