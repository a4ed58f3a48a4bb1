// Command corpus writes a deterministic tree of configuration-like files, the
// input of driftwatch's benchmarks against AIDE and sha256sum.
//
// Usage:
//
//	go run ./bench/corpus -out DIR [-files 100000] [-seed 1] [-size-mb 500]
//	go run ./bench/corpus -out DIR -mutate N [-seed 1]
//
// The tree looks like /etc: top-level directories named after services,
// nested to depth five (conf.d, sites-available, dotted names such as
// sources.list.d), with regular files at depth two to six. Each file is text
// in one of several familiar shapes: key = value settings, INI sections,
// nginx-like blocks, shell scripts, apt, hosts, cron and audit lists, YAML and
// PEM bundles, most of them with comments. Sizes are skewed as on a real host:
// most files are 1 to 8 KiB, a few reach 1 MiB, and they are scaled so that
// the total matches -size-mb (MiB; default 500 MiB per 100,000 files). Modes
// vary (0644, 0600, 0640, 0755), and about one entry in 500 is a symlink,
// relative, to a file, a directory, or nothing (a few dangle).
//
// The same seed and flags give the same tree: the same paths, contents, modes,
// symlink targets and modification times of files and directories (a
// symlink's own mtime is the time it was written). -files counts regular
// files; symlinks and directories come on top. The output directory must be
// empty or absent. Files are written by -workers goroutines, each file's
// content drawn from its own seeded stream, so the bytes do not depend on the
// order the writes happen in.
//
// With -mutate N the command changes an existing tree instead, again
// deterministically for a given tree and seed: it edits the content of N
// files (appending a line, or changing a byte in place with a new mtime, or
// changing a byte in place and restoring the old mtime, which only a content
// hash catches), changes the mode of N others, adds N new files and deletes N
// more. That gives a check something to find.
package main
