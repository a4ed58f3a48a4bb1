//go:build linux

package watch

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEditorSave(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "sshd_config")
	write(t, conf, "Port 22\n")
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)

	// Save as editors do: write a new file, rename it over the old one.
	tmp := filepath.Join(root, ".sshd_config.swx")
	write(t, tmp, "Port 2222\n")
	if err := os.Rename(tmp, conf); err != nil {
		t.Fatal(err)
	}
	waitPath(t, w, conf)

	// The new file is watched as the old one was.
	write(t, conf, "Port 22\n")
	waitPath(t, w, conf)
}

func TestNewDirectory(t *testing.T) {
	root := t.TempDir()
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)
	before := w.Coverage().Watched

	// A tree that fills at once: its content may come before its watches.
	app := filepath.Join(root, "app")
	write(t, filepath.Join(app, "conf.d", "a.conf"), "a\n")
	write(t, filepath.Join(app, "main.conf"), "m\n")
	got := waitBatch(t, w, "directory "+app, func(b Batch) bool { return slices.Contains(b.Dirs, app) })
	for _, b := range got {
		for _, p := range b.Paths {
			if within(app, p) {
				t.Errorf("path %s is reported beside the rescan of %s: %+v", p, app, b)
			}
		}
	}

	// Later changes deep inside are seen.
	deep := filepath.Join(app, "conf.d", "b.conf")
	write(t, deep, "b\n")
	waitPath(t, w, deep)
	if got, want := w.Coverage().Watched, before+2; got != want {
		t.Errorf("watched %d directories, want %d", got, want)
	}
}

func TestRemoveDirectory(t *testing.T) {
	root := t.TempDir()
	gone := filepath.Join(root, "gone")
	write(t, filepath.Join(gone, "a", "x.conf"), "x\n")
	write(t, filepath.Join(gone, "b", "y.conf"), "y\n")
	write(t, filepath.Join(root, "keep.conf"), "k\n")
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)
	before := w.Coverage().Watched

	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	waitPath(t, w, gone)
	// Its three watches are released.
	if got, want := w.Coverage().Watched, before-3; got != want {
		t.Errorf("watched %d directories, want %d", got, want)
	}
}

func TestRenameDirectory(t *testing.T) {
	root := t.TempDir()
	oldDir, newDir := filepath.Join(root, "old"), filepath.Join(root, "new")
	write(t, filepath.Join(oldDir, "sub", "f.conf"), "1\n")
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)

	if err := os.Rename(oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	var sawOld, sawNew bool
	waitBatch(t, w, "both names", func(b Batch) bool {
		sawOld = sawOld || slices.Contains(b.Paths, oldDir)
		sawNew = sawNew || slices.Contains(b.Dirs, newDir)
		return sawOld && sawNew
	})

	// Changes below the moved directory carry its new name.
	f := filepath.Join(newDir, "sub", "f.conf")
	write(t, f, "2\n")
	got := waitPath(t, w, f)
	if mentions(got, oldDir) {
		t.Errorf("the old name is still reported: %+v", got)
	}
}

func TestDirectoryReplaced(t *testing.T) {
	root := t.TempDir()
	oldDir, newDir := filepath.Join(root, "conf.d"), filepath.Join(root, "conf.d.new")
	mkdir(t, oldDir)
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)

	// A deployment tool swaps in a new directory by renaming it over the
	// old, empty one (os.Rename refuses to).
	write(t, filepath.Join(newDir, "a.conf"), "a\n")
	if err := syscall.Rename(newDir, oldDir); err != nil {
		t.Fatal(err)
	}
	waitBatch(t, w, "the swapped-in directory", func(b Batch) bool { return slices.Contains(b.Dirs, oldDir) })

	// The directory now under the name is the one watched.
	f := filepath.Join(oldDir, "b.conf")
	write(t, f, "b\n")
	waitPath(t, w, f)
}

func TestAncestorSwapped(t *testing.T) {
	base := t.TempDir()
	srv := filepath.Join(base, "srv")
	conf := filepath.Join(srv, "app", "conf")
	write(t, filepath.Join(conf, "a.conf"), "old\n")
	w := start(t, Options{Roots: []Root{dirRoot(conf)}}, nil)

	// A release swaps the tree two levels above the root.
	write(t, filepath.Join(base, "srv.new", "app", "conf", "a.conf"), "new\n")
	if err := os.Rename(srv, filepath.Join(base, "srv.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(base, "srv.new"), srv); err != nil {
		t.Fatal(err)
	}
	waitBatch(t, w, "the new root to rescan", func(b Batch) bool { return slices.Contains(b.Dirs, conf) })

	// The old tree is no longer watched under the root's name; the new
	// one is.
	write(t, filepath.Join(base, "srv.old", "app", "conf", "a.conf"), "old, changed\n")
	f := filepath.Join(conf, "b.conf")
	write(t, f, "b\n")
	for _, b := range waitPath(t, w, f) {
		if slices.Contains(b.Paths, filepath.Join(conf, "a.conf")) {
			t.Errorf("a change in the old tree is reported under the root's name: %+v", b)
		}
	}
}

func TestExclude(t *testing.T) {
	root := t.TempDir()
	skip := filepath.Join(root, "skip")
	write(t, filepath.Join(skip, "deep", "inner"), "")
	write(t, filepath.Join(root, "app.conf"), "")
	roots, err := FileRoots("files.test", []string{root}, []string{"*.swp", skip})
	if err != nil {
		t.Fatal(err)
	}
	w := start(t, Options{Roots: roots}, nil)
	// The root and the directories above it; nothing of skip.
	if got, want := w.Coverage().Watched, way(root)+1; got != want {
		t.Errorf("watched %d directories, want %d", got, want)
	}

	write(t, filepath.Join(root, ".app.conf.swp"), "swap")
	write(t, filepath.Join(skip, "deep", "inner"), "changed")
	write(t, filepath.Join(skip, "new"), "")
	mkdir(t, filepath.Join(skip, "newdir"))
	// Events come in order: whatever the excluded changes produced comes
	// before the barrier.
	barrier := filepath.Join(root, "app.conf")
	write(t, barrier, "changed")
	got := waitPath(t, w, barrier)
	if mentions(got, skip) || mentions(got, filepath.Join(root, ".app.conf.swp")) {
		t.Errorf("excluded paths reported: %+v", got)
	}
	if got, want := w.Coverage().Watched, way(root)+1; got != want {
		t.Errorf("watched %d directories after changes in excluded ones, want %d", got, want)
	}
}

func TestFileRoot(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	write(t, hosts, "127.0.0.1 localhost\n")
	write(t, filepath.Join(dir, "sub", "x"), "")
	w := start(t, Options{Roots: []Root{{Source: "files.hosts", Path: hosts}}}, nil)
	if got, want := w.Coverage().Watched, way(hosts); got != want {
		t.Errorf("watched %d directories, want %d (the file's directory and those above it)", got, want)
	}

	write(t, filepath.Join(dir, "resolv.conf"), "nameserver 127.0.0.53\n")
	write(t, filepath.Join(dir, "sub", "x"), "x")
	write(t, hosts, "127.0.0.1 localhost db\n")
	got := waitPath(t, w, hosts)
	want := []Batch{{Source: "files.hosts", Paths: []string{hosts}}}
	if diff := cmp.Diff(want, got[len(got)-1:], cmpBatch); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	for _, b := range got {
		for _, p := range append(slices.Clone(b.Paths), b.Dirs...) {
			if p != hosts {
				t.Errorf("another path reported: %s", p)
			}
		}
	}

	// Replaced and removed: the file root follows its name.
	tmp := filepath.Join(dir, "hosts.new")
	write(t, tmp, "new\n")
	if err := os.Rename(tmp, hosts); err != nil {
		t.Fatal(err)
	}
	waitPath(t, w, hosts)
	if err := os.Remove(hosts); err != nil {
		t.Fatal(err)
	}
	waitPath(t, w, hosts)
	write(t, hosts, "back\n")
	waitPath(t, w, hosts)
}

func TestGlobRoot(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "sub", "b.conf"), "")
	roots, err := FileRoots("files.conf", []string{root + "/*.conf"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := start(t, Options{Roots: roots}, nil)
	// "/*.conf" reaches one level: the prefix and the directories above
	// it only.
	if got, want := w.Coverage().Watched, way(root)+1; got != want {
		t.Errorf("watched %d directories, want %d", got, want)
	}

	write(t, filepath.Join(root, "a.txt"), "")
	write(t, filepath.Join(root, "sub", "b.conf"), "changed")
	mkdir(t, filepath.Join(root, "newdir"))
	conf := filepath.Join(root, "a.conf")
	write(t, conf, "")
	got := waitPath(t, w, conf)
	for _, b := range got {
		for _, p := range append(slices.Clone(b.Paths), b.Dirs...) {
			if p != conf {
				t.Errorf("a path the pattern does not match was reported: %s", p)
			}
		}
	}
	if got, want := w.Coverage().Watched, way(root)+1; got != want {
		t.Errorf("watched %d directories after a new one, want %d", got, want)
	}
}

func TestMissingRoot(t *testing.T) {
	base := t.TempDir()
	conf := filepath.Join(base, "opt", "app", "conf")
	w := start(t, Options{Roots: []Root{dirRoot(conf)}}, nil)
	if got, want := w.Coverage().Watched, way(base)+1; got != want {
		t.Errorf("watched %d directories, want %d (the nearest existing ancestor and those above it)", got, want)
	}

	// Installed later, all at once.
	write(t, filepath.Join(conf, "d", "x.conf"), "x\n")
	waitBatch(t, w, "the root as a directory to rescan", func(b Batch) bool { return slices.Contains(b.Dirs, conf) })
	f := filepath.Join(conf, "d", "y.conf")
	write(t, f, "y\n")
	waitPath(t, w, f)
	// The directories above the root, the root and d.
	if got, want := w.Coverage().Watched, way(conf)+2; got != want {
		t.Errorf("watched %d directories, want %d", got, want)
	}

	// Removed with its parent, and back again.
	if err := os.RemoveAll(filepath.Join(base, "opt", "app")); err != nil {
		t.Fatal(err)
	}
	waitPath(t, w, conf)
	write(t, filepath.Join(conf, "z.conf"), "z\n")
	waitBatch(t, w, "the root as a directory to rescan", func(b Batch) bool { return slices.Contains(b.Dirs, conf) })
	f = filepath.Join(conf, "z.conf")
	write(t, f, "z2\n")
	waitPath(t, w, f)
}

func TestRootReplaced(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "etc")
	write(t, filepath.Join(root, "a.conf"), "")
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)

	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	waitPath(t, w, root)
	mkdir(t, root)
	waitBatch(t, w, "the root as a directory to rescan", func(b Batch) bool { return slices.Contains(b.Dirs, root) })
	f := filepath.Join(root, "b.conf")
	write(t, f, "")
	waitPath(t, w, f)
}

func TestSymlinkNotFollowed(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write(t, filepath.Join(outside, "secret"), "")
	mkdir(t, filepath.Join(outside, "dir"))
	link := filepath.Join(root, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	w := start(t, Options{Roots: []Root{dirRoot(root)}}, nil)
	if got, want := w.Coverage().Watched, way(root)+1; got != want {
		t.Errorf("watched %d directories, want %d", got, want)
	}

	write(t, filepath.Join(outside, "secret"), "changed")
	write(t, filepath.Join(outside, "dir", "new"), "")
	// Pointing the link elsewhere changes the link itself.
	tmp := filepath.Join(root, "link.tmp")
	if err := os.Symlink(filepath.Join(outside, "dir"), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	got := waitPath(t, w, link)
	if mentions(got, outside) {
		t.Errorf("changes behind the link were reported: %+v", got)
	}
}

func TestSources(t *testing.T) {
	dir := t.TempDir()
	ssh := filepath.Join(dir, "ssh")
	write(t, filepath.Join(ssh, "sshd_config"), "")
	etc, err := FileRoots("files.etc", []string{dir}, []string{ssh})
	if err != nil {
		t.Fatal(err)
	}
	sshRoots, err := FileRoots("files.ssh", []string{ssh}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := start(t, Options{Roots: append(etc, sshRoots...)}, nil)

	f := filepath.Join(ssh, "sshd_config")
	write(t, f, "Port 22\n")
	// One batch for files.ssh; files.etc excludes it.
	got := waitPath(t, w, f)
	want := Batch{Source: "files.ssh", Paths: []string{f}}
	if diff := cmp.Diff(want, got[len(got)-1], cmpBatch); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	for _, b := range got {
		if b.Source == "files.etc" && mentions([]Batch{b}, ssh) {
			t.Errorf("files.etc reports its excluded directory: %+v", b)
		}
	}

	// A change outside ssh is files.etc's alone.
	both := filepath.Join(dir, "hosts")
	write(t, both, "")
	got = waitPath(t, w, both)
	if got[len(got)-1].Source != "files.etc" {
		t.Errorf("hosts reported for %s, want files.etc", got[len(got)-1].Source)
	}
}
