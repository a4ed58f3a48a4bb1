package watch

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/glob"
)

// Root is one file or directory tree of one source to watch.
type Root struct {
	// Source names the source the root belongs to ("files.etc"); batches
	// and gaps carry it.
	Source string
	// Path is the absolute, clean path of the file or directory to cover.
	// A directory is covered with what lies below it, down to Levels.
	Path string
	// Levels is how many directory levels are watched, Path itself being
	// the first: 1 watches Path alone (for "/etc/*.conf"), 2 Path and its
	// subdirectories, and 0 every level.
	Levels int
	// Match, when set, limits the paths reported to those it accepts,
	// except that a vanished directory that may have held matching paths
	// is always reported. Nil accepts every path under Path.
	Match func(path string) bool
	// Exclude, when set, leaves paths out: an excluded path is never
	// reported, and an excluded directory is neither watched nor
	// descended into. It has the file source's semantics: a path is left
	// out when it or any of its directories below Path is excluded.
	Exclude func(path string) bool
}

// FileRoots returns the roots of one files source as the file source walks
// them: a literal path is a root of its own, and a pattern is a root at its
// static prefix directory ("/etc/nginx/**/*.conf" at /etc/nginx) with the
// pattern as its Match. Exclude patterns have the glob package's syntax.
func FileRoots(source string, paths, exclude []string) ([]Root, error) {
	ex, err := glob.CompileSet(exclude)
	if err != nil {
		return nil, fmt.Errorf("watch roots of %s: exclude: %w", source, err)
	}
	var excludeFn func(string) bool
	if len(ex) > 0 {
		excludeFn = ex.Match
	}
	roots := make([]Root, 0, len(paths))
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("watch roots of %s: path %q is not absolute", source, p)
		}
		if !glob.HasMeta(p) {
			roots = append(roots, Root{Source: source, Path: filepath.Clean(p), Exclude: excludeFn})
			continue
		}
		pat, err := glob.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("watch roots of %s: %w", source, err)
		}
		prefix := filepath.Clean(glob.Prefix(p))
		roots = append(roots, Root{Source: source, Path: prefix, Levels: patternLevels(p, prefix), Match: pat.Match, Exclude: excludeFn})
	}
	return roots, nil
}

// ConfigRoots returns the roots of every files block of cfg, each named as
// the agent names its file sources: "files." and the block's label.
func ConfigRoots(cfg *config.Agent) ([]Root, error) {
	var roots []Root
	for _, f := range cfg.Files {
		r, err := FileRoots("files."+f.Name, f.Paths, f.Exclude)
		if err != nil {
			return nil, err
		}
		roots = append(roots, r...)
	}
	return roots, nil
}

// patternLevels returns how many directory levels, prefix included, can
// hold a match of the anchored pattern p: 0 (all) when it has a "**"
// segment.
func patternLevels(p, prefix string) int {
	segs := segments(p)
	for _, s := range segs {
		if s == "**" {
			return 0
		}
	}
	n := len(segs) - len(segments(prefix))
	if n < 1 {
		return 1
	}
	return n
}

// segments splits an absolute path into its names; "/" has none.
func segments(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// depthIn reports whether p is root or lies below it and, if so, how many
// levels below: 0 for root itself.
func depthIn(root, p string) (int, bool) {
	if p == root {
		return 0, true
	}
	if root == "/" {
		if strings.HasPrefix(p, "/") {
			return strings.Count(p, "/"), true
		}
		return 0, false
	}
	if len(p) > len(root) && p[len(root)] == '/' && strings.HasPrefix(p, root) {
		return strings.Count(p[len(root):], "/"), true
	}
	return 0, false
}

// within reports whether p is dir or lies below it.
func within(dir, p string) bool {
	_, ok := depthIn(dir, p)
	return ok
}

// parent returns the directory holding p, "" for "/".
func parent(p string) string {
	if p == "/" {
		return ""
	}
	return filepath.Dir(p)
}

// join appends a name to a directory path.
func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// commonDir returns the deepest directory that holds or is every path.
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	c := paths[0]
	for _, p := range paths[1:] {
		for !within(c, p) {
			c = parent(c)
			if c == "" {
				return "/"
			}
		}
	}
	return c
}

// root is a Root with what the watcher knows of it.
type root struct {
	Root
	// anchor is the nearest existing directory above Path: its parent,
	// or while that is missing, a directory further up. It and every
	// directory above it are watched. "" for "/".
	anchor string
}

// match reports whether p is reported by the root's Match.
func (r *root) match(p string) bool { return r.Match == nil || r.Match(p) }

// excluded reports whether p, which lies in the root, or one of its
// directories below Path is excluded.
func (r *root) excluded(p string) bool {
	if r.Exclude == nil {
		return false
	}
	for q := p; ; q = filepath.Dir(q) {
		if r.Exclude(q) {
			return true
		}
		if q == r.Path || q == "/" {
			return false
		}
	}
}

// watchesLevel reports whether a directory depth levels below Path is
// watched.
func (r *root) watchesLevel(depth int) bool { return r.Levels == 0 || depth < r.Levels }
