package watch

import (
	"slices"
	"time"
)

// Batch is what changed in one source's roots during one debounce period.
type Batch struct {
	// Source is the source whose items changed.
	Source string
	// Paths are the files, directories, symbolic links and special files
	// that were written, created, changed attributes, or vanished: sorted,
	// unique and absolute. The agent re-observes each one; a path that no
	// longer exists means its item, and for a directory every item below
	// it, is gone.
	Paths []string
	// Dirs are directories to rescan recursively, because they appeared
	// (created, moved in, or a root that came into being) and may have
	// been filled before their watch was in place: sorted, unique,
	// absolute, none below another, and no path in Paths is at or below
	// one of them. A directory may have vanished again by the time it is
	// rescanned.
	Dirs []string
	// First is when the first change in the batch was seen.
	First time.Time
}

// pending collects the changed paths of one source until they are
// delivered.
type pending struct {
	first time.Time
	paths map[string]bool // path → rescan recursively
}

func newPending(now time.Time) *pending {
	return &pending{first: now, paths: map[string]bool{}}
}

// add records a changed path; dir marks a directory to rescan recursively.
func (p *pending) add(path string, dir bool) {
	if dir {
		p.paths[path] = true
		return
	}
	if _, ok := p.paths[path]; !ok {
		p.paths[path] = false
	}
}

// merge adds everything of q.
func (p *pending) merge(q *pending) {
	for path, dir := range q.paths {
		p.add(path, dir)
	}
	if q.first.Before(p.first) {
		p.first = q.first
	}
}

// batch returns the batch of source, with directories that lie below
// another left out and paths a rescan covers left out.
func (p *pending) batch(source string) Batch {
	b := Batch{Source: source, First: p.first}
	for path, dir := range p.paths {
		if dir {
			b.Dirs = append(b.Dirs, path)
		}
	}
	slices.Sort(b.Dirs)
	b.Dirs = outermost(b.Dirs)
	for path, dir := range p.paths {
		if !dir && !coveredBy(b.Dirs, path) {
			b.Paths = append(b.Paths, path)
		}
	}
	slices.Sort(b.Paths)
	return b
}

// outermost drops from sorted dirs every directory that lies below another.
func outermost(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if !coveredBy(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// coveredBy reports whether p is or lies below one of sorted dirs.
func coveredBy(dirs []string, p string) bool {
	if len(dirs) == 0 {
		return false
	}
	for q := p; q != ""; q = parent(q) {
		if _, ok := slices.BinarySearch(dirs, q); ok {
			return true
		}
	}
	return false
}

// flushAt returns when changes seen first at first and last at last are
// delivered: once quiet for debounce, and no later than maxDelay after the
// first.
func flushAt(first, last time.Time, debounce, maxDelay time.Duration) time.Time {
	quiet := last.Add(debounce)
	if latest := first.Add(maxDelay); latest.Before(quiet) {
		return latest
	}
	return quiet
}
