package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/baseline"
)

var update = flag.Bool("update", false, "rewrite golden files")

// blobs is an in-memory baseline.BlobSource.
type blobs map[baseline.Digest][]byte

func (b blobs) Blob(d baseline.Digest) ([]byte, error) {
	if c, ok := b[d]; ok {
		return c, nil
	}
	return nil, errors.New("not found")
}

// file returns a regular file item whose stored content is stored (already
// redacted) and whose raw content is raw.
func (b blobs) file(path, source, mode, raw, stored string) baseline.Item {
	it := baseline.Item{
		Key: "file:" + path, Source: source,
		Attrs:  baseline.Attrs{{Name: "gid", Value: "0"}, {Name: "mode", Value: mode}, {Name: "mtime", Value: "2026-11-01T08:00:00Z"}, {Name: "type", Value: "file"}, {Name: "uid", Value: "0"}},
		Digest: baseline.Sum([]byte(raw)),
	}
	if stored != "" {
		it.Content = baseline.Sum([]byte(stored))
		it.Redacted = stored != raw
		b[it.Content] = []byte(stored)
	}
	return it
}

func symlink(path, target string) baseline.Item {
	return baseline.Item{Key: "file:" + path, Source: "files.etc", Attrs: baseline.Attrs{
		{Name: "gid", Value: "0"}, {Name: "mode", Value: "0777"}, {Name: "target", Value: target}, {Name: "type", Value: "symlink"}, {Name: "uid", Value: "0"},
	}}
}

func pkg(name, version string) baseline.Item {
	return baseline.Item{Key: "package:" + name, Source: "packages", Attrs: baseline.Attrs{{Name: "architecture", Value: "amd64"}, {Name: "version", Value: version}}}
}

func snapshot(items ...baseline.Item) *baseline.Snapshot {
	s := &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "web-01"}, TakenAt: time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC), Items: items}
	s.Sort()
	return s
}

var meta = baseline.Meta{
	Host: "web-01", Version: 3, ApprovedBy: "alice", ApprovedAt: time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC),
	Reason: "quarterly review", Tickets: []string{"CHG-1042", "CHG-1043"}, Reviewed: true,
}

// fixture returns a drift with one of each change a report shows: a file
// added, a file removed (its path not valid UTF-8), a mode change with a
// content diff, a symlink pointed elsewhere, a change inside a redacted
// span, and a package upgrade.
func fixture(t *testing.T) *baseline.Drift {
	t.Helper()
	b := blobs{}
	const badPath = "/etc/caf\xe9.conf"
	old := snapshot(
		b.file("/etc/motd", "files.etc", "0644", "Welcome to web-01\nAuthorized use only\n", "Welcome to web-01\nAuthorized use only\n"),
		b.file(badPath, "files.etc", "0644", "menu = espresso\n", "menu = espresso\n"),
		b.file("/etc/db.conf", "files.etc", "0640", "host = db1\npassword = hunter2\n", "host = db1\npassword = [REDACTED]\n"),
		symlink("/etc/link", "old"),
		pkg("openssl", "3.0.14-1~deb12u2"),
		pkg("bash", "5.2.15-2+b7"),
	)
	cur := snapshot(
		b.file("/etc/motd", "files.etc", "0666", "Welcome to web-01\nNo unauthorized use\n", "Welcome to web-01\nNo unauthorized use\n"),
		b.file("/etc/new", "files.etc", "0644", "created\n", "created\n"),
		b.file("/etc/db.conf", "files.etc", "0640", "host = db1\npassword = correct-horse\n", "host = db1\npassword = [REDACTED]\n"),
		symlink("/etc/link", "new"),
		pkg("openssl", "3.0.15-1~deb12u1"),
		pkg("bash", "5.2.15-2+b7"),
	)
	for _, s := range []*baseline.Snapshot{old, cur} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	return baseline.DiffBaseline(&baseline.Baseline{Meta: meta, Snapshot: old}, cur, baseline.DiffOptions{Blobs: b})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("report differs from %s; review and run go test -update (-want +got):\n%s", path, diff)
	}
}

// TestWriteTextGolden compares the text report of the fixture drift with a
// golden file.
func TestWriteTextGolden(t *testing.T) {
	tests := []struct {
		name   string
		header Header
		golden string
	}{
		{"against a baseline", Header{Baseline: &meta}, "drift.golden"},
		{"without a baseline", Header{}, "drift-nobaseline.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteText(&buf, fixture(t), tt.header); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, buf.Bytes())
		})
	}
}

// TestWriteText spells out what a reader of the report relies on, so that
// a golden file rewritten carelessly cannot hide a regression.
func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, fixture(t), Header{Baseline: &meta}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")

	t.Run("header names the baseline and its approval", func(t *testing.T) {
		want := `web-01: compared with baseline v3 (approved 2026-11-20 14:05 UTC by alice: "quarterly review", tickets CHG-1042, CHG-1043)`
		if lines[0] != want {
			t.Errorf("first line = %q, want %q", lines[0], want)
		}
	})
	t.Run("summary line", func(t *testing.T) {
		want := "drift: 6 changes (1 added, 1 removed, 4 modified)"
		if lines[1] != want {
			t.Errorf("second line = %q, want %q", lines[1], want)
		}
	})
	t.Run("changes grouped under their source", func(t *testing.T) {
		var headers []string
		for _, l := range lines {
			if l != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "drift:") && !strings.HasPrefix(l, "web-01:") {
				headers = append(headers, l)
			}
		}
		if diff := cmp.Diff([]string{"files.etc", "packages"}, headers); diff != "" {
			t.Errorf("source headers (-want +got):\n%s", diff)
		}
		etc, pkgs := strings.Index(out, "\nfiles.etc\n"), strings.Index(out, "\npackages\n")
		if i := strings.Index(out, "~ package:openssl"); i < pkgs || pkgs < etc {
			t.Errorf("package:openssl is not under the packages header:\n%s", out)
		}
	})
	t.Run("change lines", func(t *testing.T) {
		for _, want := range []string{
			"  + file:/etc/new  added\n",
			`  - file:/etc/caf\xe9.conf  removed` + "\n",
			"  ~ file:/etc/motd  modified\n",
			"  ~ file:/etc/link  modified\n",
			"  ~ file:/etc/db.conf  modified (redacted)\n",
			"      mode: 0644 → 0666\n",
			"      target: old → new\n",
			"      version: 3.0.14-1~deb12u2 → 3.0.15-1~deb12u1\n",
			"      " + baseline.NoteRedactedChange + "\n",
			"      -Authorized use only\n",
			"      +No unauthorized use\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "hunter2") || strings.Contains(out, "correct-horse") {
			t.Errorf("report shows a redacted secret:\n%s", out)
		}
		if strings.Contains(out, "bash") {
			t.Errorf("report shows an unchanged package:\n%s", out)
		}
	})
	t.Run("rollback lines", func(t *testing.T) {
		for _, want := range []string{
			"rollback: apply the diff above in reverse (patch -R /etc/motd); chmod 0644 /etc/motd\n",
			"rollback: ln -sfn old /etc/link\n",
			"rollback: rm /etc/new, or approve it into a new baseline\n",
			"rollback: restore the redacted value from your secret store\n",
			"rollback: recreate it with the content above (from baseline v3), then chmod 0644 and chown 0:0\n",
			"rollback: restore the values of baseline v3 shown above\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestWriteTextSourceOrder checks that source headers come in name order
// whatever the order of the keys, and that a change without a source still
// shows.
func TestWriteTextSourceOrder(t *testing.T) {
	old := snapshot(
		baseline.Item{Key: "package:openssl", Source: "packages", Attrs: baseline.Attrs{{Name: "version", Value: "1"}}},
		baseline.Item{Key: "port:tcp/22", Source: "listening_ports", Attrs: baseline.Attrs{{Name: "process", Value: "sshd"}}},
		baseline.Item{Key: "command:firewall", Source: "command.firewall", Attrs: baseline.Attrs{{Name: "exit", Value: "0"}}},
		baseline.Item{Key: "sysctl:net.ipv4.ip_forward", Attrs: baseline.Attrs{{Name: "value", Value: "0"}}},
	)
	cur := snapshot(
		baseline.Item{Key: "package:openssl", Source: "packages", Attrs: baseline.Attrs{{Name: "version", Value: "2"}}},
		baseline.Item{Key: "port:tcp/22", Source: "listening_ports", Attrs: baseline.Attrs{{Name: "process", Value: "dropbear"}}},
		baseline.Item{Key: "command:firewall", Source: "command.firewall", Attrs: baseline.Attrs{{Name: "exit", Value: "1"}}},
		baseline.Item{Key: "sysctl:net.ipv4.ip_forward", Attrs: baseline.Attrs{{Name: "value", Value: "1"}}},
	)
	var buf bytes.Buffer
	if err := WriteText(&buf, baseline.Diff(old, cur, baseline.DiffOptions{}), Header{}); err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "drift:") {
			headers = append(headers, l)
		}
	}
	want := []string{"(unknown source)", "command.firewall", "listening_ports", "packages"}
	if diff := cmp.Diff(want, headers); diff != "" {
		t.Errorf("source headers (-want +got):\n%s\n%s", diff, buf.String())
	}
	if !strings.Contains(buf.String(), "rollback: restore the values of the baseline shown above\n") {
		t.Errorf("without a baseline header, rollback should name \"the baseline\":\n%s", buf.String())
	}
}

// TestWriteTextNoDrift checks the report of a host that did not drift.
func TestWriteTextNoDrift(t *testing.T) {
	b := blobs{}
	same := func() *baseline.Snapshot {
		return snapshot(b.file("/etc/motd", "files.etc", "0644", "hello\n", "hello\n"), pkg("bash", "5.2"))
	}
	d := baseline.Diff(same(), same(), baseline.DiffOptions{Blobs: b})
	tests := []struct {
		name   string
		header Header
		want   string
	}{
		{"without a baseline", Header{}, "no drift\n"},
		{"against a baseline", Header{Baseline: &meta}, `web-01: compared with baseline v3 (approved 2026-11-20 14:05 UTC by alice: "quarterly review", tickets CHG-1042, CHG-1043)` + "\nno drift\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteText(&buf, d, tt.header); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteTextOneChange checks the singular in the summary line.
func TestWriteTextOneChange(t *testing.T) {
	d := baseline.Diff(snapshot(), snapshot(pkg("bash", "5.2")), baseline.DiffOptions{})
	var buf bytes.Buffer
	if err := WriteText(&buf, d, Header{}); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(buf.String(), "\n"); first != "drift: 1 change (1 added, 0 removed, 0 modified)" {
		t.Errorf("summary line = %q", first)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("broken pipe")
	}
	w.n--
	return len(p), nil
}

// TestWriteErrors checks that a failing writer's error is returned.
func TestWriteErrors(t *testing.T) {
	d := fixture(t)
	tests := []struct {
		name  string
		write func(w *failingWriter) error
	}{
		{"text, first write", func(w *failingWriter) error { return WriteText(w, d, Header{Baseline: &meta}) }},
		{"text, later write", func(w *failingWriter) error { w.n = 5; return WriteText(w, d, Header{}) }},
		{"json", func(w *failingWriter) error { return WriteJSON(w, d) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(&failingWriter{}); err == nil || !strings.Contains(err.Error(), "broken pipe") {
				t.Errorf("error = %v, want the writer's", err)
			}
		})
	}
}

// itemEqual compares items as baseline does; Item.Equal itself does not take
// nil.
var itemEqual = cmp.Comparer(func(a, b *baseline.Item) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
})

// TestWriteJSON checks that the JSON report reads back as the same drift and
// has the fields the wire shape promises.
func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name  string
		drift *baseline.Drift
	}{
		{"drift", fixture(t)},
		{"no drift", baseline.Diff(snapshot(pkg("bash", "5.2")), snapshot(pkg("bash", "5.2")), baseline.DiffOptions{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJSON(&buf, tt.drift); err != nil {
				t.Fatal(err)
			}
			var back baseline.Drift
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatalf("report does not parse: %v\n%s", err, buf.Bytes())
			}
			if diff := cmp.Diff(tt.drift, &back, itemEqual); diff != "" {
				t.Errorf("drift read back (-wrote +read):\n%s", diff)
			}
			if strings.Contains(buf.String(), "hunter2") || strings.Contains(buf.String(), "correct-horse") {
				t.Errorf("JSON report shows a redacted secret")
			}

			var wire struct {
				Host            *string `json:"host"`
				BaselineVersion *int    `json:"baseline_version"`
				Changes         []map[string]json.RawMessage
			}
			if err := json.Unmarshal(buf.Bytes(), &wire); err != nil {
				t.Fatal(err)
			}
			if wire.Host == nil || *wire.Host != "web-01" {
				t.Errorf("host missing or wrong: %v", wire.Host)
			}
			if wire.BaselineVersion == nil || *wire.BaselineVersion != tt.drift.BaselineVersion {
				t.Errorf("baseline_version missing or wrong: %v", wire.BaselineVersion)
			}
			if wire.Changes == nil {
				t.Errorf("changes missing or null, want a list:\n%s", buf.Bytes())
			}
			for i, c := range wire.Changes {
				for _, f := range []string{"key", "kind", "change", "attrs", "redacted"} {
					if _, ok := c[f]; !ok {
						t.Errorf("changes[%d] lacks %q: %s", i, f, buf.Bytes())
					}
				}
				var attrs map[string]map[string]string
				if err := json.Unmarshal(c["attrs"], &attrs); err != nil {
					t.Errorf("changes[%d].attrs: %v", i, err)
				}
				for name, a := range attrs {
					if _, ok := a["old"]; !ok {
						t.Errorf("changes[%d].attrs.%s lacks old", i, name)
					}
					if _, ok := a["new"]; !ok {
						t.Errorf("changes[%d].attrs.%s lacks new", i, name)
					}
				}
			}
		})
	}

	t.Run("content diff and redaction on the wire", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, fixture(t)); err != nil {
			t.Fatal(err)
		}
		var wire struct {
			BaselineVersion int `json:"baseline_version"`
			Changes         []struct {
				Key         string                         `json:"key"`
				Kind        string                         `json:"kind"`
				Change      string                         `json:"change"`
				Attrs       map[string]baseline.AttrChange `json:"attrs"`
				ContentDiff string                         `json:"content_diff"`
				Redacted    bool                           `json:"redacted"`
			} `json:"changes"`
		}
		if err := json.Unmarshal(buf.Bytes(), &wire); err != nil {
			t.Fatal(err)
		}
		if wire.BaselineVersion != 3 {
			t.Errorf("baseline_version = %d, want 3", wire.BaselineVersion)
		}
		type change struct {
			Kind, Change string
			Mode         baseline.AttrChange
			HasDiff      bool
			Redacted     bool
		}
		got := map[string]change{}
		for _, c := range wire.Changes {
			got[c.Key] = change{Kind: c.Kind, Change: c.Change, Mode: c.Attrs["mode"], HasDiff: c.ContentDiff != "", Redacted: c.Redacted}
		}
		want := map[string]change{
			`file:/etc/caf\xe9.conf`: {Kind: "file", Change: "removed", Mode: baseline.AttrChange{Old: "0644"}, HasDiff: true},
			"file:/etc/db.conf":      {Kind: "file", Change: "modified", Redacted: true},
			"file:/etc/link":         {Kind: "file", Change: "modified"},
			"file:/etc/motd":         {Kind: "file", Change: "modified", Mode: baseline.AttrChange{Old: "0644", New: "0666"}, HasDiff: true},
			"file:/etc/new":          {Kind: "file", Change: "added", Mode: baseline.AttrChange{New: "0644"}, HasDiff: true},
			"package:openssl":        {Kind: "package", Change: "modified"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("changes on the wire (-want +got):\n%s", diff)
		}
	})
}
