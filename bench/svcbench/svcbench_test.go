package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/baseline"
)

func TestWriteTree(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := writeTree(a, 150, 3); err != nil {
		t.Fatal(err)
	}
	if err := writeTree(b, 150, 3); err != nil {
		t.Fatal(err)
	}
	fa, err := listFiles(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa) != 450 {
		t.Fatalf("%d files, want 450", len(fa))
	}
	// Two groups: 100 directories in the first, 50 in the second.
	for _, want := range []string{"g000/d00000/f00.conf", "g000/d00099/f02.conf", "g001/d00100/f00.conf", "g001/d00149/f02.conf"} {
		if _, err := os.Stat(filepath.Join(a, want)); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	for _, p := range fa {
		rel, _ := filepath.Rel(a, p)
		ca, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ca, cb) {
			t.Errorf("%s differs between two trees written alike", rel)
		}
	}
	// Each file's content is its own: an edit of one is not an edit of
	// another.
	seen := map[string]string{}
	for _, p := range fa {
		c, _ := os.ReadFile(p)
		if other, ok := seen[string(c)]; ok {
			t.Fatalf("%s and %s have the same content", p, other)
		}
		seen[string(c)] = p
	}
	if err := writeTree(a, 1, 1); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("writing into a non-empty directory: err = %v, want one saying it is not empty", err)
	}
}

func TestSpread(t *testing.T) {
	files := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	tests := []struct {
		n    int
		want []string
	}{
		{1, []string{"a"}},
		{2, []string{"a", "f"}},
		{5, []string{"a", "c", "e", "g", "i"}},
		{10, files},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.n), func(t *testing.T) {
			got, err := spread(files, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("spread (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := spread(files, 11); err == nil {
		t.Error("spread of 11 out of 10 files: no error")
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	fifty := make([]int, 50)
	for i := range fifty {
		fifty[i] = 50 - i // descending: percentile must sort
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p50 of 50", ms(fifty...), 50, 25 * time.Millisecond},
		{"p99 of 50 is the largest", ms(fifty...), 99, 50 * time.Millisecond},
		{"p98 of 50", ms(fifty...), 98, 49 * time.Millisecond},
		{"p100", ms(3, 9, 1), 100, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.samples, tt.p, got, tt.want)
			}
		})
	}
}

func TestStatCPU(t *testing.T) {
	tests := []struct {
		name, line string
		want       int64
		wantErr    bool
	}{
		{"plain", "17 (sleep) S 1 17 17 0 -1 4194560 100 0 0 0 30 12 0 0 20 0 1 0 5 2000 100 0", 42, false},
		{"name with spaces and parentheses", "17 (a) b (c)) R 1 17 17 0 -1 0 0 0 0 0 1 2 0 0", 3, false},
		{"cut short", "17 (sleep) S 1 17 17 0 -1 4194560 100 0 0 0 30", 0, true},
		{"no name", "17 sleep S", 0, true},
		{"not a number", "17 (x) S 1 17 17 0 -1 0 0 0 0 0 ten 2 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statCPU([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("statCPU: err = %v, want an error: %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("statCPU = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReadProcFixture(t *testing.T) {
	got, err := readProc("testdata/proc", 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := procSample{cpuTicks: 1234 + 567, rss: 39936, hwm: 61440, anon: 30720, file: 9216, threads: 2, switches: 100 + 7 + 40 + 3}
	if got != want {
		t.Errorf("readProc = %+v, want %+v", got, want)
	}
	if _, err := readProc("testdata/proc", 1); err == nil || !strings.Contains(err.Error(), "process 1") {
		t.Errorf("a process that does not exist: err = %v, want one naming it", err)
	}
}

// TestReadProcSelf reads the real /proc of this test process: the
// measurement the benchmark makes of the agent.
func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/proc is needed: %v", err)
		}
		t.Skipf("no /proc on this system: %v", err)
	}
	a, err := readProc("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn some CPU and memory so that both show.
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for i := 0; i < 20; i++ {
		sha256.Sum256(buf)
	}
	b, err := readProc("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b.cpuTicks <= a.cpuTicks {
		t.Errorf("CPU ticks %d then %d: hashing 1.3 GiB did not show", a.cpuTicks, b.cpuTicks)
	}
	if b.hwm < 64<<10 || b.rss <= 0 || b.anon <= 0 || b.threads < 1 || b.switches <= 0 {
		t.Errorf("sample after touching 64 MiB: %+v", b)
	}
	_ = buf[len(buf)-1]
}

func TestReportsSent(t *testing.T) {
	since := time.Date(2026, 12, 1, 19, 5, 10, 0, time.UTC)
	got, err := reportsSent("testdata/agent.log", since)
	if err != nil {
		t.Fatal(err)
	}
	want := []sent{
		{at: time.Date(2026, 12, 1, 19, 5, 30, 1e6, time.UTC), sequence: 2, changes: 100},
		{at: time.Date(2026, 12, 1, 19, 5, 30, 250e6, time.UTC), sequence: 3, changes: 200},
		// Sequence 4 is logged at 19:05:31.750+0200, before since.
		{at: time.Date(2026, 12, 1, 19, 5, 32, 500e6, time.UTC), sequence: 5, changes: 1},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(sent{}), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("reportsSent (-want +got):\n%s", diff)
	}
	all, err := reportsSent("testdata/agent.log", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Errorf("%d reports sent in the whole log, want 5", len(all))
	}
	if _, err := reportsSent("testdata/absent.log", since); err == nil {
		t.Error("a log that does not exist: no error")
	}
}

func TestParseEpoch(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1764615907.123456", time.Unix(1764615907, 123456000), true},
		{"1764615907", time.Unix(1764615907, 0), true},
		{"1764615907.5", time.Unix(1764615907, 500000000), true},
		{"", time.Time{}, false},
		{"now", time.Time{}, false},
		{"17646.x", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseEpoch(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("parseEpoch(%q): err = %v, want ok %v", tt.in, err, tt.ok)
			}
			if !got.Equal(tt.want) {
				t.Errorf("parseEpoch(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSpoolEntries(t *testing.T) {
	state := t.TempDir()
	dir := filepath.Join(state, "spool")
	for _, name := range []string{"00000000000000a1.entry", "00000000000000a2.entry", "lock", "next-id", ".tmp-00000000000000a3"} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "rejected"), 0o700); err != nil {
		t.Fatal(err)
	}
	n, err := spoolEntries(state)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("spoolEntries = %d, want 2 (the .entry files)", n)
	}
	if _, err := spoolEntries(filepath.Join(state, "absent")); err == nil {
		t.Error("a state dir without a spool: no error")
	}
}

func TestShows(t *testing.T) {
	dg := func(s string) baseline.Digest { return baseline.Sum([]byte(s)) }
	d := &baseline.Drift{Changes: []baseline.Change{
		{Key: "file:/t/a", New: &baseline.Item{Key: "file:/t/a", Digest: dg("a2")}},
		{Key: "file:/t/b", New: &baseline.Item{Key: "file:/t/b", Digest: dg("b2")}},
		{Key: "file:/t/gone"},
	}}
	tests := []struct {
		name string
		want map[string]baseline.Digest
		ok   bool
	}{
		{"one shown", map[string]baseline.Digest{"file:/t/a": dg("a2")}, true},
		{"both shown", map[string]baseline.Digest{"file:/t/a": dg("a2"), "file:/t/b": dg("b2")}, true},
		{"an older content", map[string]baseline.Digest{"file:/t/a": dg("a1")}, false},
		{"one of two missing", map[string]baseline.Digest{"file:/t/a": dg("a2"), "file:/t/c": dg("c2")}, false},
		{"removed item has no new state", map[string]baseline.Digest{"file:/t/gone": dg("")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shows(d, tt.want); got != tt.ok {
				t.Errorf("shows = %v, want %v", got, tt.ok)
			}
		})
	}
}

// TestIdleCommand runs `svcbench idle` on this test process and checks
// the table a user reads.
func TestIdleCommand(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/proc is needed: %v", err)
		}
		t.Skipf("no /proc on this system: %v", err)
	}
	var out, errb bytes.Buffer
	pid := strconv.Itoa(os.Getpid())
	code := run([]string{"idle", "-settle", "0s", "-window", "300ms", "-title", "self", "me=" + pid, "again=" + pid}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want a header and 7 rows:\n%s", len(lines), out.String())
	}
	for _, want := range []string{"self", "me", "again", "me/again"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %q", lines[0], want)
		}
	}
	// The same process against itself: RSS ratios near 1.
	if !strings.Contains(out.String(), "1.0×") {
		t.Errorf("no 1.0× ratio of a process against itself:\n%s", out.String())
	}

	for _, args := range [][]string{
		{"idle"},
		{"idle", "me"},
		{"idle", "me=x"},
		{"idle", "-window", "0s", "me=" + pid},
	} {
		errb.Reset()
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
	errb.Reset()
	if code := run([]string{"idle", "-settle", "0s", "-window", "10ms", "-proc", "testdata/proc", "gone=1"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "gone") {
		t.Errorf("a process that is gone: exit %d, stderr %q; want 1 and its name", code, errb.String())
	}
}

func TestParseIngestMetrics(t *testing.T) {
	f, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, n, err := parseIngestMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	if sum != 6.4215 || n != 5 {
		t.Errorf("parseIngestMetrics = %v s, %d reports; want 6.4215 s, 5", sum, n)
	}
	if _, _, err := parseIngestMetrics(strings.NewReader("driftwatch_heartbeats_total 1\n")); err == nil {
		t.Error("metrics without the ingest histogram: no error")
	}
	if _, _, err := parseIngestMetrics(strings.NewReader("driftwatch_report_ingest_seconds_sum x\ndriftwatch_report_ingest_seconds_count 1\n")); err == nil {
		t.Error("a sum that is not a number: no error")
	}
}

func TestEditCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	var out, errb bytes.Buffer
	if code := run([]string{"tree", "-out", dir, "-dirs", "20", "-files", "5"}, &out, &errb); code != 0 {
		t.Fatalf("tree: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "100 files in 22 directories") {
		t.Errorf("tree output %q does not count 100 files in 22 directories", out.String())
	}
	out.Reset()
	if code := run([]string{"edit", "-dir", dir, "-files", "30", "-burst", "7", "-gap", "0s"}, &out, &errb); code != 0 {
		t.Fatalf("edit: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "30 files in 5 bursts of 7") {
		t.Errorf("edit output %q does not say 30 files in 5 bursts of 7", out.String())
	}
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	edits := 0
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch n := strings.Count(string(b), "svcbench_edit"); n {
		case 0:
		case 1:
			edits++
		default:
			t.Errorf("%s edited %d times, want once", p, n)
		}
	}
	if edits != 30 {
		t.Errorf("%d files edited, want 30", edits)
	}
	errb.Reset()
	if code := run([]string{"edit", "-dir", dir, "-files", "101"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "101") {
		t.Errorf("editing more files than the tree has: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"edit", "-files", "3"}, &out, &errb); code != 2 {
		t.Errorf("edit without -dir: exit %d, want 2", code)
	}
}
