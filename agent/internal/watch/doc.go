// Package watch is the agent's realtime file watcher: it tells the agent,
// within a moment, which paths of its files sources changed, so that the
// agent re-observes those items only instead of walking every tree.
//
// The watcher puts an inotify watch (through fsnotify) on every directory of
// every root, never on single files: editors save by writing a new file and
// renaming it over the old one, and a watch on the old file would be lost. A
// root that is a file is covered by a watch on its parent directory, with
// events filtered to that file; the directories above every root are
// watched too, up to "/", so that a root appearing, vanishing or being
// replaced, alone or with a directory above it, is seen. A root whose parent
// does not exist yet is covered from its nearest existing ancestor until it
// appears. Excluded directories are neither watched nor descended
// into, symbolic links are never followed, and a glob root watches only the
// directory levels its pattern can reach ("/etc/*.conf" watches /etc alone).
//
// Events are debounced: a burst of writes is one change, reported when the
// tree has been quiet for the debounce period, or at the latest after the
// maximum delay, so a file written without pause is still reported. Each
// report is a Batch per source, naming the paths that changed and the new
// directories to rescan recursively (a directory can fill before its watch
// is in place).
//
// Realtime coverage is never lost silently. When the watch limit is reached
// (the kernel's fs.inotify.max_user_watches, or Options.MaxWatches), when a
// directory cannot be watched, or when the kernel's event queue overflows,
// the watcher logs it once, counts it in Coverage and reports a Gap: the
// subtree that is not covered (for an overflow, everything, since events were
// lost). The agent falls back to scheduled scans for a gap and reports it to
// the collector; Retry restores coverage where it can and reports the gaps it
// closed.
//
// Footprint: the watcher keeps one map entry per watched directory and no
// state per file; when nothing changes it blocks without timers.
//
// Use:
//
//	roots, err := watch.ConfigRoots(cfg)
//	w, err := watch.New(watch.Options{Roots: roots, Log: log})
//	go w.Run(ctx)
//	<-w.Ready() // then take the full snapshot: nothing after it is missed
//	for {
//		select {
//		case b := <-w.Batches(): // re-observe b.Paths, rescan b.Dirs
//		case g := <-w.Gaps(): // report g; scan g.Path on a schedule while it is open
//		}
//	}
package watch
