package baseline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type mapBlobs map[Digest][]byte

func (m mapBlobs) Blob(d Digest) ([]byte, error) {
	if b, ok := m[d]; ok {
		return b, nil
	}
	return nil, errors.New("not found")
}

func (m mapBlobs) put(s string) Digest {
	d := Sum([]byte(s))
	m[d] = []byte(s)
	return d
}

func fileItem(path, mode, content string, blobs mapBlobs) Item {
	it := Item{Key: "file:" + path, Source: "files.etc", Attrs: Attrs{{"mode", mode}, {"mtime", "2026-11-01T00:00:00Z"}, {"type", "file"}}}
	if content != "" {
		it.Digest = Sum([]byte(content))
		it.Content = blobs.put(content)
	}
	return it
}

func snap(items ...Item) *Snapshot {
	s := &Snapshot{Host: Host{Name: "web-01"}, TakenAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), Items: items}
	s.Sort()
	return s
}

// TestDiffGolden compares a baseline with a snapshot that has one of every
// kind of change, against a golden JSON drift report.
func TestDiffGolden(t *testing.T) {
	blobs := mapBlobs{}
	old := snap(
		fileItem("/etc/motd", "0644", "hello\n", blobs),
		fileItem("/etc/ssh/sshd_config", "0644", "Port 22\nPermitRootLogin no\n", blobs),
		fileItem("/etc/removed", "0644", "gone\n", blobs),
		fileItem("/etc/touched", "0644", "same\n", blobs),
		fileItem("/etc/binary", "0644", "", blobs),
		Item{Key: "file:/etc/db.conf", Source: "files.etc", Attrs: Attrs{{"type", "file"}}, Digest: Sum([]byte("password = a\n")), Content: blobs.put("password = [REDACTED]\n"), Redacted: true},
		Item{Key: "package:openssl", Source: "packages", Attrs: Attrs{{"version", "3.0.14"}}},
	)
	old.Items[0].Digest = Sum([]byte("bin1"))
	touched := fileItem("/etc/touched", "0644", "same\n", blobs)
	touched.Attrs = touched.Attrs.Set("mtime", "2026-11-22T00:00:00Z")
	bin := fileItem("/etc/binary", "0644", "", blobs)
	bin.Digest = Sum([]byte("bin2"))
	cur := snap(
		fileItem("/etc/motd", "0600", "hello\n", blobs),
		fileItem("/etc/ssh/sshd_config", "0644", "Port 22\nPermitRootLogin yes\n", blobs),
		fileItem("/etc/added", "0644", "new\n", blobs),
		touched, bin,
		Item{Key: "file:/etc/db.conf", Source: "files.etc", Attrs: Attrs{{"type", "file"}}, Digest: Sum([]byte("password = b\n")), Content: blobs.put("password = [REDACTED]\n"), Redacted: true},
		Item{Key: "package:openssl", Source: "packages", Attrs: Attrs{{"version", "3.0.15"}}},
	)
	d := DiffBaseline(&Baseline{Meta: Meta{Version: 3}, Snapshot: old}, cur, DiffOptions{Blobs: blobs})
	got, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "drift.golden.json")
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("drift differs from %s; run go test -update and review the diff:\n%s", path, got)
	}
	// The behaviour behind the golden file, spelled out.
	if d.Summary != (Summary{Added: 1, Removed: 1, Modified: 5}) {
		t.Errorf("summary = %+v", d.Summary)
	}
	byKey := map[string]Change{}
	for _, c := range d.Changes {
		byKey[c.Key] = c
	}
	if _, ok := byKey["file:/etc/touched"]; ok {
		t.Error("an mtime-only change was reported as drift")
	}
	if c := byKey["file:/etc/db.conf"]; !c.Redacted || c.Note != NoteRedactedChange || c.ContentDiff != "" {
		t.Errorf("change inside a redacted span: %+v", c)
	}
	if c := byKey["file:/etc/motd"]; c.Attrs["mode"] != (AttrChange{Old: "0644", New: "0600"}) {
		t.Errorf("mode change: %+v", c.Attrs)
	}
	if c := byKey["file:/etc/binary"]; c.Note != NoteBinaryChange {
		t.Errorf("binary change note = %q", c.Note)
	}
	if d.BaselineVersion != 3 {
		t.Errorf("baseline version = %d", d.BaselineVersion)
	}
}

func TestDiffIdentical(t *testing.T) {
	blobs := mapBlobs{}
	a := snap(fileItem("/etc/a", "0644", "x\n", blobs))
	b := snap(fileItem("/etc/a", "0644", "x\n", blobs))
	b.TakenAt = b.TakenAt.Add(time.Hour)
	if d := Diff(a, b, DiffOptions{Blobs: blobs}); !d.Empty() || d.Summary.Total() != 0 {
		t.Errorf("identical snapshots drift: %+v", d.Changes)
	}
}

func TestDiffMissingBlob(t *testing.T) {
	blobs := mapBlobs{}
	a := snap(fileItem("/etc/a", "0644", "x\n", blobs))
	b := snap(fileItem("/etc/a", "0644", "y\n", mapBlobs{}))
	d := Diff(a, b, DiffOptions{Blobs: blobs})
	if len(d.Changes) != 1 || d.Changes[0].Note != NoteNoContent {
		t.Errorf("changes = %+v, want one without content", d.Changes)
	}
}
