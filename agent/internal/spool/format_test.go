package spool

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("%s differs (-want +got; run go test -update if the change is meant):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// TestEntryFormatV1 pins format version 1: an entry file written by an
// earlier agent must read the same, and the writer must not change the
// bytes without a new version.
func TestEntryFormatV1(t *testing.T) {
	h := &fileHeader{ID: 0xa1, Kind: KindReport, Ref: 42, At: time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC),
		Keys: []string{"file:/etc/motd", "package:openssl"}}
	body := []byte(`{"sequence":42,"changes":[{"key":"file:/etc/motd","kind":"modified"}]}`)
	prefix, err := encodePrefix(h, body)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "v1.entry", append(prefix, body...))

	data, err := os.ReadFile(filepath.Join("testdata", "v1.entry"))
	if err != nil {
		t.Fatal(err)
	}
	got, gotBody, err := decodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, got); diff != "" || !bytes.Equal(body, gotBody) {
		t.Fatalf("testdata/v1.entry reads as (-want +got):\n%s%q", diff, gotBody)
	}
}

// TestGapBodyGolden pins the JSON of a gap record's body, which the agent
// turns into a collector event.
func TestGapBodyGolden(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 900)
	opt := testOptions(t, 5*entrySize(t, KindReport, 10, []string{"file:/etc/motd", "package:openssl"}, body))
	s := openSpool(t, t.TempDir(), opt)
	mustAppend(t, s, KindReport, 40, []string{"file:/etc/motd", "package:openssl"}, body)
	mustAppend(t, s, KindEvent, 0, []string{"source:packages"}, body)
	mustAppend(t, s, KindReport, 41, []string{"file:/etc/ssh/sshd_config"}, body)
	mustAppend(t, s, KindReport, 43, []string{"package:openssl"}, body)
	for ref := uint64(44); ref <= 47; ref++ {
		mustAppend(t, s, KindEvent, ref, []string{"user:deploy"}, body)
	}
	es := queued(t, s)
	if es[0].Kind != KindGap {
		t.Fatalf("queue %v: want a gap record first", summary(es))
	}
	var out bytes.Buffer
	if err := json.Indent(&out, es[0].Body, "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	golden(t, "gap.golden.json", out.Bytes())
}

// TestIndexMemory checks that 10,000 queued entries cost the index little
// memory: no bodies, keys held once.
func TestIndexMemory(t *testing.T) {
	const n = 10000
	dir := t.TempDir()
	body := bytes.Repeat([]byte("b"), 1024)
	at := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	for id := uint64(1); id <= n; id++ {
		var keys []string
		for k := range 20 {
			keys = append(keys, fmt.Sprintf("file:/etc/app/conf.d/%03d.conf", (int(id)+k)%60))
		}
		h := &fileHeader{ID: id, Kind: KindReport, Ref: id, At: at, Keys: keys}
		prefix, err := encodePrefix(h, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, entryName(id)), append(prefix, body...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if st := s.Stats(); st.Entries != n {
		t.Fatalf("%d entries queued, want %d", st.Entries, n)
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("index of %d entries (%.1f MiB on disk): %.2f MiB of heap, %d bytes per entry",
		n, float64(s.Stats().Bytes)/(1<<20), float64(grown)/(1<<20), grown/n)
	if grown > n*512 {
		t.Fatalf("index of %d entries holds %d bytes of heap, %d per entry; want under 512 per entry", n, grown, grown/n)
	}
}
