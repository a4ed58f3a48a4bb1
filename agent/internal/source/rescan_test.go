package source

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/baseline"
)

func indexOf(t *testing.T, s *baseline.Snapshot) *baseline.Index {
	t.Helper()
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	x, err := baseline.NewIndex(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func changeList(d *baseline.Drift) string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, string(c.Change)+" "+c.Key)
	}
	return strings.Join(out, ", ")
}

// A targeted rescan of one directory gives the same drift, and the same
// snapshot digest, as a full run of the new state would.
func TestRescan(t *testing.T) {
	host := baseline.Host{Name: "web-01"}
	old := []emitted{fileItem("/etc/a", "a"), fileItem("/etc/d", ""), fileItem("/etc/d/x", "x"), fileItem("/etc/d/y", "y"), fileItem("/etc/da", "da"), pkgItem("p", "1")}
	baseRun := &Runner{Sources: []Source{&fakeSource{name: "files.etc", kind: baseline.KindFile, items: old[:5]}, &fakeSource{name: "packages", kind: baseline.KindPackage, items: old[5:]}}}
	base, err := baseRun.Snapshot(t.Context(), host)
	if err != nil {
		t.Fatal(err)
	}
	x := indexOf(t, base)

	// The host now: p upgraded (seen by the full run), then /etc/d/x
	// edited, /etc/d/y deleted and /etc/d/z created (seen by the rescan).
	full := &Runner{Sources: []Source{&fakeSource{name: "files.etc", kind: baseline.KindFile, items: old[:5]}, &fakeSource{name: "packages", kind: baseline.KindPackage, items: []emitted{pkgItem("p", "2")}}}}
	c, err := full.Compare(t.Context(), host, x)
	if err != nil {
		t.Fatal(err)
	}
	now := []emitted{fileItem("/etc/a", "a"), fileItem("/etc/d", ""), fileItem("/etc/d/x", "x2"), fileItem("/etc/d/z", "z"), fileItem("/etc/da", "da")}
	// The rescan's source observes more than the scope (as a file source
	// given a directory reports its parents): only the scope counts.
	re := &Runner{Sources: []Source{&fakeSource{name: "files.etc", kind: baseline.KindFile, items: append(now, fileItem("/etc/a", "changed outside scope"))}}}
	if _, err := c.Rescan(t.Context(), re, PathScope([]string{"/etc/d"})); err != nil {
		t.Fatal(err)
	}
	d, err := c.Drift(baseline.Meta{Version: 1}, baseline.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "modified file:/etc/d/x, removed file:/etc/d/y, added file:/etc/d/z, modified package:p"
	if got := changeList(d); got != want {
		t.Errorf("drift after rescan = %s\nwant %s", got, want)
	}

	// The same state observed by a full run.
	again := &Runner{Sources: []Source{&fakeSource{name: "files.etc", kind: baseline.KindFile, items: now}, &fakeSource{name: "packages", kind: baseline.KindPackage, items: []emitted{pkgItem("p", "2")}}}}
	ref, err := again.Compare(t.Context(), host, x)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ref.Drift(baseline.Meta{Version: 1}, baseline.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if changeList(rd) != want || rd.SnapshotDigest != d.SnapshotDigest {
		t.Errorf("full run: %s, digest %s; rescan: digest %s", changeList(rd), rd.SnapshotDigest.Short(), d.SnapshotDigest.Short())
	}

	// /etc/d/x edited back: its change disappears; the rest stays.
	back := &Runner{Sources: []Source{&fakeSource{name: "files.etc", kind: baseline.KindFile, items: []emitted{fileItem("/etc/d/x", "x")}}}}
	if _, err := c.Rescan(t.Context(), back, Scope{Keys: []string{"file:/etc/d/x"}}); err != nil {
		t.Fatal(err)
	}
	d, _ = c.Drift(baseline.Meta{Version: 1}, baseline.DiffOptions{})
	if got := changeList(d); got != "removed file:/etc/d/y, added file:/etc/d/z, modified package:p" {
		t.Errorf("after reverting /etc/d/x: %s", got)
	}

	// A failing rescan changes nothing.
	broken := &Runner{Sources: []Source{&fakeSource{name: "files.etc", kind: baseline.KindFile, err: errors.New("disk gone")}}}
	if _, err := c.Rescan(context.Background(), broken, PathScope([]string{"/etc"})); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Errorf("failing rescan: %v", err)
	}
	d2, _ := c.Drift(baseline.Meta{Version: 1}, baseline.DiffOptions{})
	if changeList(d2) != changeList(d) || d2.SnapshotDigest != d.SnapshotDigest {
		t.Errorf("a failing rescan changed the drift: %s", changeList(d2))
	}
}

func TestScope(t *testing.T) {
	s := PathScope([]string{"/etc/d", "/etc/f/"})
	for key, want := range map[string]bool{
		"file:/etc/d": true, "file:/etc/d/x": true, "file:/etc/da": false, "file:/etc/f/a": true, "file:/etc": false, "package:d": false,
	} {
		if s.Has(key) != want {
			t.Errorf("Has(%q) = %v", key, !want)
		}
	}
	if !(Scope{}).Empty() || s.Empty() {
		t.Error("Empty wrong")
	}
}
