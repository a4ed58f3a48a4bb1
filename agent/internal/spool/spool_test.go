package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// clock is a test clock that advances a minute on every reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func testOptions(t *testing.T, maxBytes int64) Options {
	return Options{MaxBytes: maxBytes, Now: newClock().Now, Log: zaptest.NewLogger(t),
		RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond}
}

func openSpool(t *testing.T, dir string, opt Options) *Spool {
	t.Helper()
	s, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAppend(t *testing.T, s *Spool, kind string, ref uint64, keys []string, body []byte) Entry {
	t.Helper()
	e, err := s.Append(kind, ref, keys, body)
	if err != nil {
		t.Fatalf("append %s %d: %v", kind, ref, err)
	}
	return e
}

// queued reads every queued entry without removing any.
func queued(t *testing.T, s *Spool) []Entry {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, m := range s.q {
		data, err := os.ReadFile(s.path(m.id))
		if err != nil {
			t.Fatalf("entry %d: %v", m.id, err)
		}
		h, body, err := decodeEntry(data)
		if err != nil {
			t.Fatalf("entry %d: %v", m.id, err)
		}
		out = append(out, Entry{ID: h.ID, Kind: h.Kind, Ref: h.Ref, Keys: h.Keys, At: h.At, Body: body})
	}
	return out
}

// summary is an entry as the tests compare it: "report 3" or "gap".
func summary(es []Entry) []string {
	var out []string
	for _, e := range es {
		if e.Kind == KindGap {
			out = append(out, "gap")
			continue
		}
		out = append(out, fmt.Sprintf("%s %d", e.Kind, e.Ref))
	}
	return out
}

// gapsOf decodes the gap records among es.
func gapsOf(t *testing.T, es []Entry) []Gap {
	t.Helper()
	var out []Gap
	for _, e := range es {
		if e.Kind == KindGap {
			g, err := e.Gap()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, g)
		}
	}
	return out
}

// checkDisk checks that the index agrees with the directory: the same
// entry files, their sizes summing to Stats.Bytes, within the bound.
func checkDisk(t *testing.T, s *Spool) {
	t.Helper()
	st := s.Stats()
	des, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	var files int
	var size int64
	for _, de := range des {
		if _, ok := parseEntryName(de.Name()); ok {
			fi, err := de.Info()
			if err != nil {
				t.Fatal(err)
			}
			files++
			size += fi.Size()
		}
	}
	if files != st.Entries || size != st.Bytes {
		t.Fatalf("disk holds %d entry files of %d bytes, stats say %d entries of %d bytes", files, size, st.Entries, st.Bytes)
	}
	if st.Bytes > st.MaxBytes {
		t.Fatalf("spool holds %d bytes, over its bound of %d", st.Bytes, st.MaxBytes)
	}
}

func TestAppendOldestAck(t *testing.T) {
	s := openSpool(t, t.TempDir(), testOptions(t, 0))
	want := []Entry{
		mustAppend(t, s, KindReport, 7, []string{"file:/etc/motd", "package:openssl"}, []byte(`{"changes":2}`)),
		mustAppend(t, s, KindEvent, 0, nil, []byte(`{"event":"coverage gap"}`)),
		mustAppend(t, s, KindReport, 8, []string{"file:/etc/motd"}, nil),
	}
	for i, w := range want {
		if i > 0 && w.ID <= want[i-1].ID {
			t.Fatalf("IDs not increasing: %d after %d", w.ID, want[i-1].ID)
		}
	}
	if st := s.Stats(); st.Entries != 3 || !st.OldestAt.Equal(want[0].At) {
		t.Fatalf("stats %+v, want 3 entries, oldest at %s", st, want[0].At)
	}
	for _, w := range want {
		got, ok, err := s.Oldest()
		if err != nil || !ok {
			t.Fatalf("oldest: %v, %v", ok, err)
		}
		if diff := cmp.Diff(w, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
			t.Fatalf("oldest (-appended +read):\n%s", diff)
		}
		again, _, _ := s.Oldest()
		if again.ID != w.ID {
			t.Fatalf("oldest without ack moved from %d to %d", w.ID, again.ID)
		}
		if err := s.Ack(w.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(w.ID); err != nil {
			t.Fatalf("second ack of %d: %v", w.ID, err)
		}
	}
	if err := s.Ack(12345); err != nil {
		t.Fatalf("ack of an unknown ID: %v", err)
	}
	if _, ok, err := s.Oldest(); ok || err != nil {
		t.Fatalf("oldest of an empty spool: %v, %v", ok, err)
	}
	if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 || !st.OldestAt.IsZero() {
		t.Fatalf("stats of an empty spool: %+v", st)
	}
	checkDisk(t, s)
}

func TestAppendRefusesBadInput(t *testing.T) {
	s := openSpool(t, t.TempDir(), testOptions(t, 0))
	for _, tt := range []struct {
		name, kind string
		keys       []string
		want       string
	}{
		{"gap kind", KindGap, nil, `kind "gap"`},
		{"empty kind", "", nil, `kind ""`},
		{"upper case kind", "Report", nil, `kind "Report"`},
		{"empty key", KindReport, []string{"file:/a", ""}, `key 1 ""`},
		{"invalid UTF-8 key", KindReport, []string{"file:/\xff"}, "not UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(tt.kind, 1, tt.keys, []byte("x"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("append: %v, want an error with %q", err, tt.want)
			}
		})
	}
	if st := s.Stats(); st.Entries != 0 {
		t.Fatalf("refused appends queued %d entries", st.Entries)
	}
}

// abandon drops a spool as a crash would: the lock is released, nothing
// else is done.
func abandon(s *Spool) {
	s.mu.Lock()
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.unlock()
}

func TestRestartKeepsEntriesAndIDs(t *testing.T) {
	for _, how := range []string{"close", "crash"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			opt := testOptions(t, 0)
			s, err := Open(dir, opt)
			if err != nil {
				t.Fatal(err)
			}
			e1 := mustAppend(t, s, KindReport, 1, []string{"file:/etc/motd"}, []byte("one"))
			e2 := mustAppend(t, s, KindReport, 2, []string{"file:/etc/motd"}, []byte("two"))
			e3 := mustAppend(t, s, KindEvent, 0, nil, []byte("three"))
			if err := s.Ack(e1.ID); err != nil {
				t.Fatal(err)
			}
			stop := func() {
				if how == "close" {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
				} else {
					abandon(s)
				}
			}
			stop()

			s = openSpool(t, dir, opt)
			if diff := cmp.Diff([]string{"report 2", "event 0"}, summary(queued(t, s))); diff != "" {
				t.Fatalf("after restart (-want +got):\n%s", diff)
			}
			if got := queued(t, s); string(got[0].Body) != "two" || got[1].ID != e3.ID {
				t.Fatalf("after restart: %+v", got)
			}
			// Every entry acknowledged: the IDs still go on.
			if err := s.Ack(e2.ID); err != nil {
				t.Fatal(err)
			}
			if err := s.Ack(e3.ID); err != nil {
				t.Fatal(err)
			}
			stop = func() {
				if how == "close" {
					s.Close()
				} else {
					abandon(s)
				}
			}
			stop()
			s = openSpool(t, dir, opt)
			e4 := mustAppend(t, s, KindReport, 3, nil, nil)
			if e4.ID <= e3.ID {
				t.Fatalf("ID after restart %d, not above the last one %d", e4.ID, e3.ID)
			}
			if how == "close" && e4.ID != e3.ID+1 {
				t.Errorf("ID after a clean restart %d, want %d", e4.ID, e3.ID+1)
			}
		})
	}
}

func TestDamagedEntriesSetAside(t *testing.T) {
	flip := func(off func(data []byte) int) func([]byte) []byte {
		return func(data []byte) []byte {
			data[off(data)] ^= 0x40
			return data
		}
	}
	for _, tt := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"torn body", func(d []byte) []byte { return d[:len(d)-3] }},
		{"torn header", func(d []byte) []byte { return d[:20] }},
		{"empty file", func(d []byte) []byte { return nil }},
		{"trailing bytes", func(d []byte) []byte { return append(d, "xyz"...) }},
		{"body bit flip", flip(func(d []byte) int { return len(d) - 1 })},
		{"header bit flip", flip(func(d []byte) int { return prefixLen + 3 })},
		{"length bit flip", flip(func(d []byte) int { return prefixLen - 1 })},
		{"wrong magic", flip(func(d []byte) int { return 0 })},
		{"unknown version", func(d []byte) []byte { d[len(magic)] = formatVersion + 1; return d }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, when := range []string{"on open", "on read"} {
				t.Run(when, func(t *testing.T) {
					dir := t.TempDir()
					opt := testOptions(t, 0)
					s, err := Open(dir, opt)
					if err != nil {
						t.Fatal(err)
					}
					var es []Entry
					for i := range 3 {
						es = append(es, mustAppend(t, s, KindReport, uint64(i+1), []string{"file:/etc/hosts"}, bytes.Repeat([]byte("body"), 10)))
					}
					// The damaged entry is the oldest, so that reading meets it.
					path := s.path(es[0].ID)
					data, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, tt.damage(data), 0o600); err != nil {
						t.Fatal(err)
					}
					if when == "on open" {
						s.Close()
						s = openSpool(t, dir, opt)
					} else {
						t.Cleanup(func() { s.Close() })
					}
					e, ok, err := s.Oldest()
					if err != nil || !ok || e.Ref != 2 {
						t.Fatalf("oldest: %+v, %v, %v; want report 2", e, ok, err)
					}
					if diff := cmp.Diff([]string{"report 2", "report 3"}, summary(queued(t, s))); diff != "" {
						t.Fatalf("queue (-want +got):\n%s", diff)
					}
					if st := s.Stats(); st.Corrupt != 1 {
						t.Fatalf("stats count %d damaged files, want 1", st.Corrupt)
					}
					if _, err := os.Stat(filepath.Join(dir, corruptDir, entryName(es[0].ID))); err != nil {
						t.Fatalf("damaged file not kept under corrupt/: %v", err)
					}
					checkDisk(t, s)
				})
			}
		})
	}
}

func TestOpenRecovers(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, 0)
	s := openSpool(t, dir, opt)
	e := mustAppend(t, s, KindReport, 1, nil, []byte("kept"))
	s.Close()
	// What a crash leaves: a temporary file of an unfinished write, and an
	// entry file renamed by hand.
	tmp := filepath.Join(dir, ".tmp-"+entryName(e.ID+1)+"-123")
	if err := os.WriteFile(tmp, []byte("dwsp half"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.path(e.ID))
	if err := os.WriteFile(filepath.Join(dir, entryName(e.ID+5)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, dir, opt)
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	if diff := cmp.Diff([]string{"report 1"}, summary(queued(t, s))); diff != "" {
		t.Fatalf("queue (-want +got):\n%s", diff)
	}
	if st := s.Stats(); st.Corrupt != 1 {
		t.Fatalf("entry file under a wrong name: %d set aside, want 1", st.Corrupt)
	}
	if e2 := mustAppend(t, s, KindReport, 2, nil, nil); e2.ID <= e.ID+5 {
		t.Fatalf("ID %d reuses the name of a file set aside (%d)", e2.ID, e.ID+5)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, testOptions(t, 0))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v; want ErrLocked naming the directory and pid %d", err, os.Getpid())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, testOptions(t, 0))
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s2.Close()
	if _, err := s.Append(KindEvent, 0, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	for _, opt := range []Options{{MaxBytes: -1}, {RetryMin: -time.Second}, {RetryMin: time.Minute, RetryMax: time.Second}} {
		if s, err := Open(t.TempDir(), opt); err == nil {
			s.Close()
			t.Errorf("open with %+v: no error", opt)
		}
	}
}

func TestOversizedEntryRefused(t *testing.T) {
	s := openSpool(t, t.TempDir(), testOptions(t, 4096))
	mustAppend(t, s, KindEvent, 1, nil, []byte("small"))
	before := s.Stats()
	_, err := s.Append(KindReport, 2, []string{"file:/big"}, make([]byte, 4096))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "4.0 KiB") {
		t.Fatalf("append of an oversized entry: %v, want ErrTooLarge naming the bound", err)
	}
	if after := s.Stats(); after != before {
		t.Fatalf("a refused append changed the spool: %+v, was %+v", after, before)
	}
	checkDisk(t, s)
}

// entrySize is the size of an entry file with the given fields.
func entrySize(t *testing.T, kind string, ref uint64, keys []string, body []byte) int64 {
	h := &fileHeader{ID: 1, Kind: kind, Ref: ref, At: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC), Keys: keys}
	p, err := encodePrefix(h, body)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(p) + len(body))
}

func TestCoalesceSupersededReports(t *testing.T) {
	body := bytes.Repeat([]byte("r"), 2000)
	keys := []string{"file:/etc/motd", "package:openssl"}
	size := entrySize(t, KindReport, 10, keys, body)
	// Room for report 1, the event, four more reports and a gap record;
	// not for five more.
	s := openSpool(t, t.TempDir(), testOptions(t, 6*size))

	// Report 1 covers an item no later report covers: it is never
	// superseded. The event is never coalesced.
	mustAppend(t, s, KindReport, 1, append([]string{"file:/etc/passwd"}, keys...), body)
	mustAppend(t, s, KindEvent, 0, []string{"file:/etc/motd"}, []byte("coverage gap"))
	for ref := uint64(2); ref <= 9; ref++ {
		mustAppend(t, s, KindReport, ref, keys, body)
		checkDisk(t, s)
	}
	got := queued(t, s)
	if diff := cmp.Diff([]string{"report 1", "event 0", "gap", "report 6", "report 7", "report 8", "report 9"}, summary(got)); diff != "" {
		t.Fatalf("queue (-want +got):\n%s", diff)
	}
	gaps := gapsOf(t, got)
	g := gaps[0]
	want := GapKind{Entries: 4, FirstRef: 2, LastRef: 5, Refs: []RefRange{{2, 5}}}
	if g.Cause != CauseSuperseded || g.Entries != 4 || !cmp.Equal(g.Kinds, map[string]GapKind{KindReport: want}) {
		t.Fatalf("gap record %+v, want 4 superseded reports 2 to 5", g)
	}
	if diff := cmp.Diff(keys, g.Keys); diff != "" {
		t.Fatalf("gap keys (-want +got):\n%s", diff)
	}
	if !strings.Contains(g.Reason, "spool full (") || g.FirstAt.After(g.LastAt) || g.RecordedAt.After(g.UpdatedAt) {
		t.Fatalf("gap record %+v", g)
	}
	if st := s.Stats(); st.Coalesced != 4 || st.Dropped != 0 || st.Gaps != 1 {
		t.Fatalf("stats %+v, want 4 coalesced, none dropped, one gap record", st)
	}
}

func TestSpoolFullDropsOldestWithGap(t *testing.T) {
	body := bytes.Repeat([]byte("e"), 1000)
	size := entrySize(t, KindEvent, 10, []string{"service:sshd"}, body)
	s := openSpool(t, t.TempDir(), testOptions(t, 5*size))
	keysOf := func(ref uint64) []string { return []string{fmt.Sprintf("service:s%d", ref)} }
	for ref := uint64(1); ref <= 12; ref++ {
		mustAppend(t, s, KindEvent, ref, keysOf(ref), body)
		checkDisk(t, s)
	}
	got := queued(t, s)
	gaps := gapsOf(t, got)
	if len(gaps) != 1 || got[0].Kind != KindGap {
		t.Fatalf("queue %v: want one gap record, first", summary(got))
	}
	g := gaps[0]
	ev := g.Kinds[KindEvent]
	kept := summary(got[1:])
	if g.Cause != CauseSpoolFull || ev.FirstRef != 1 || int(ev.LastRef)+len(kept) != 12 || g.Entries != int(ev.LastRef) {
		t.Fatalf("gap record %+v with %v queued after it: want the oldest events, from 1, lost", g, kept)
	}
	var wantKeys []string
	for ref := ev.FirstRef; ref <= ev.LastRef; ref++ {
		wantKeys = append(wantKeys, keysOf(ref)...)
	}
	if diff := cmp.Diff(wantKeys, g.Keys, cmpSorted); diff != "" {
		t.Fatalf("gap keys (-want +got):\n%s", diff)
	}
	for i, e := range got[1:] {
		if e.Ref != ev.LastRef+uint64(i)+1 {
			t.Fatalf("queue %v: want the newest events, in order, after the gap record", kept)
		}
	}
	if st := s.Stats(); st.Dropped != uint64(g.Entries) || st.Gaps != 1 {
		t.Fatalf("stats %+v, want %d dropped and one gap record", st, g.Entries)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestFullWhileSending(t *testing.T) {
	s := openSpool(t, t.TempDir(), testOptions(t, 10000))
	mustAppend(t, s, KindReport, 1, []string{"file:/a"}, make([]byte, 6000))
	// Drain has taken entry 1 and is sending it.
	e, ok, err := s.take()
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	_, err = s.Append(KindReport, 2, []string{"file:/a"}, make([]byte, 6000))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("append beside the entry being sent: %v, want ErrFull", err)
	}
	if diff := cmp.Diff([]string{"report 1"}, summary(queued(t, s))); diff != "" {
		t.Fatalf("queue after a refused append (-want +got):\n%s", diff)
	}
	// The send failed: the entry may go now, superseded by report 2.
	s.release(e.ID, errors.New("collector away"))
	mustAppend(t, s, KindReport, 2, []string{"file:/a"}, make([]byte, 6000))
	got := queued(t, s)
	if diff := cmp.Diff([]string{"gap", "report 2"}, summary(got)); diff != "" {
		t.Fatalf("queue (-want +got):\n%s", diff)
	}
	if g := gapsOf(t, got)[0]; g.Cause != CauseSuperseded || g.Kinds[KindReport].FirstRef != 1 {
		t.Fatalf("gap %+v, want report 1 superseded", g)
	}
	checkDisk(t, s)
}

func TestGapRecordsMergeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	body := bytes.Repeat([]byte("e"), 500)
	opt := testOptions(t, 4*entrySize(t, KindEvent, 10, nil, body))
	s, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	for ref := uint64(1); ref <= 6; ref++ {
		mustAppend(t, s, KindEvent, ref, []string{"user:deploy"}, body)
	}
	s.Close()
	s = openSpool(t, dir, opt)
	for ref := uint64(7); ref <= 12; ref++ {
		mustAppend(t, s, KindEvent, ref, []string{"user:root"}, body)
		checkDisk(t, s)
	}
	got := queued(t, s)
	gaps := gapsOf(t, got)
	if len(gaps) != 1 {
		t.Fatalf("queue %v: want one merged gap record", summary(got))
	}
	g := gaps[0]
	if ev := g.Kinds[KindEvent]; ev.FirstRef != 1 || len(ev.Refs) != 1 || g.Entries != int(ev.LastRef) {
		t.Fatalf("merged gap %+v: want every lost event from 1 on in one range", g)
	}
	if diff := cmp.Diff([]string{"user:deploy", "user:root"}, g.Keys); diff != "" {
		t.Fatalf("merged gap keys (-want +got):\n%s", diff)
	}
	if !g.RecordedAt.Before(g.UpdatedAt) {
		t.Fatalf("merged gap recorded %s, updated %s: want the first loss's time kept", g.RecordedAt, g.UpdatedAt)
	}
}

// TestNeverSilentDrop appends, acknowledges and reopens at random in a
// small spool and checks after every step that each appended entry is
// queued, acknowledged or named by exactly one gap record, and that the
// spool stays within its bound.
func TestNeverSilentDrop(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, 40000)
	s, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	r := newRand(1)
	acked := map[string]bool{}
	var appended []string
	var coalesced, dropped uint64 // over every Open
	kinds := []string{KindReport, KindReport, KindEvent}
	for step := range 400 {
		switch n := r.next(20); {
		case n == 0:
			st := s.Stats()
			coalesced, dropped = coalesced+st.Coalesced, dropped+st.Dropped
			s.Close()
			if s, err = Open(dir, opt); err != nil {
				t.Fatal(err)
			}
		case n < 5:
			e, ok, err := s.Oldest()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				// A delivered gap record accounts for its losses.
				for _, ref := range refsOf(t, e) {
					acked[ref] = true
				}
				if err := s.Ack(e.ID); err != nil {
					t.Fatal(err)
				}
			}
		default:
			kind := kinds[r.next(len(kinds))]
			var keys []string
			for range r.next(4) + 1 {
				keys = append(keys, fmt.Sprintf("file:/etc/f%d", r.next(6)))
			}
			ref := uint64(step + 1)
			if _, err := s.Append(kind, ref, keys, make([]byte, 200+r.next(4000))); err != nil {
				t.Fatal(err)
			}
			appended = append(appended, fmt.Sprintf("%s %d", kind, ref))
		}
		checkDisk(t, s)
		es := queued(t, s)
		where := map[string]int{}
		for _, e := range es {
			for _, ref := range refsOf(t, e) {
				where[ref]++
			}
		}
		for _, a := range appended {
			if n := where[a]; (n != 1 && !acked[a]) || (acked[a] && n != 0) {
				t.Fatalf("step %d: %s found %d times in queue and gap records (acknowledged: %v)", step, a, n, acked[a])
			}
		}
	}
	st := s.Stats()
	if coalesced+st.Coalesced == 0 || dropped+st.Dropped == 0 {
		t.Fatalf("%d coalesced, %d dropped: the test did not reach both kinds of drop", coalesced+st.Coalesced, dropped+st.Dropped)
	}
}

// refsOf returns what an entry carries as "kind ref": itself, or for a
// gap record every entry it names.
func refsOf(t *testing.T, e Entry) []string {
	t.Helper()
	if e.Kind != KindGap {
		return []string{fmt.Sprintf("%s %d", e.Kind, e.Ref)}
	}
	g, err := e.Gap()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for kind, k := range g.Kinds {
		if k.MoreRefs != 0 {
			t.Fatalf("gap record %d leaves out %d refs", e.ID, k.MoreRefs)
		}
		for _, rr := range k.Refs {
			for ref := rr.First; ref <= rr.Last; ref++ {
				out = append(out, fmt.Sprintf("%s %d", kind, ref))
			}
		}
	}
	return out
}

// rnd is a small deterministic generator (xorshift), so that the random
// test replays the same steps everywhere.
type rnd struct{ x uint64 }

func newRand(seed uint64) *rnd { return &rnd{x: seed*0x9E3779B97F4A7C15 + 1} }

func (r *rnd) next(n int) int {
	r.x ^= r.x << 13
	r.x ^= r.x >> 7
	r.x ^= r.x << 17
	return int(r.x % uint64(n))
}

func TestRefRanges(t *testing.T) {
	for _, tt := range []struct {
		add  []uint64
		want []RefRange
	}{
		{[]uint64{5}, []RefRange{{5, 5}}},
		{[]uint64{5, 6, 7}, []RefRange{{5, 7}}},
		{[]uint64{7, 6, 5}, []RefRange{{5, 7}}},
		{[]uint64{5, 7, 6}, []RefRange{{5, 7}}},
		{[]uint64{5, 9, 7}, []RefRange{{5, 5}, {7, 7}, {9, 9}}},
		{[]uint64{5, 5, 6, 6}, []RefRange{{5, 6}}},
		{[]uint64{10, 1, 2, 9, 3, 8}, []RefRange{{1, 3}, {8, 10}}},
	} {
		t.Run(fmt.Sprint(tt.add), func(t *testing.T) {
			var rs []RefRange
			for _, r := range tt.add {
				rs = addRef(rs, r)
			}
			if diff := cmp.Diff(tt.want, rs); diff != "" {
				t.Fatalf("addRef (-want +got):\n%s", diff)
			}
			var single []RefRange
			for _, r := range tt.add {
				single = append(single, RefRange{r, r})
			}
			if diff := cmp.Diff(tt.want, normalizeRefs(single)); diff != "" {
				t.Fatalf("normalizeRefs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGapBodyCapped(t *testing.T) {
	st := newGapState(CauseSpoolFull, "spool full", time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC))
	for i := range MaxGapKeys + 10 {
		st.keys[fmt.Sprintf("file:/etc/conf.d/%05d", i)] = struct{}{}
	}
	k := GapKind{Entries: 2 * (MaxGapRefRanges + 5)}
	for i := range MaxGapRefRanges + 5 {
		k.Refs = append(k.Refs, RefRange{uint64(3*i + 1), uint64(3*i + 2)})
	}
	k.setBounds()
	st.g.Kinds[KindReport] = k
	c := st.full().capped()
	if len(c.Keys) != MaxGapKeys || c.MoreKeys != 10 {
		t.Fatalf("capped keys: %d listed, %d more; want %d and 10", len(c.Keys), c.MoreKeys, MaxGapKeys)
	}
	if got := c.Kinds[KindReport]; len(got.Refs) != MaxGapRefRanges || got.MoreRefs != 10 || got.LastRef != k.LastRef {
		t.Fatalf("capped refs: %d ranges, %d more refs; want %d and 10", len(got.Refs), got.MoreRefs, MaxGapRefRanges)
	}
	if len(st.full().Keys) != MaxGapKeys+10 {
		t.Fatal("capping changed the full record")
	}
}
