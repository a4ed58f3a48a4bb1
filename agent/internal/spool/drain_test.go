package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// collector is an HTTP server that takes spool entries the way the real
// collector takes reports: it answers 503 to the first failFirst requests,
// 400 to the entries reject names, and records what it accepts.
type collector struct {
	mu        sync.Mutex
	failFirst int
	reject    func(kind string, ref uint64) bool
	hold      chan struct{} // when set, the first accepted request waits for it
	got       []Entry
	requests  int
	arrived   chan struct{} // a token per accepted entry
	srv       *httptest.Server
}

func newCollector(t *testing.T) *collector {
	c := &collector{arrived: make(chan struct{}, 100000)}
	c.srv = httptest.NewServer(c)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, _ := strconv.ParseUint(r.Header.Get("Spool-Id"), 10, 64)
	ref, _ := strconv.ParseUint(r.Header.Get("Spool-Ref"), 10, 64)
	e := Entry{ID: id, Kind: r.Header.Get("Spool-Kind"), Ref: ref, Body: body}
	c.mu.Lock()
	c.requests++
	fail := c.requests <= c.failFirst
	hold := c.hold
	c.hold = nil
	c.mu.Unlock()
	switch {
	case fail:
		http.Error(w, "collector restarting", http.StatusServiceUnavailable)
		return
	case c.reject != nil && c.reject(e.Kind, e.Ref):
		http.Error(w, "report does not match schema", http.StatusBadRequest)
		return
	}
	if hold != nil {
		<-hold
	}
	c.mu.Lock()
	c.got = append(c.got, e)
	c.mu.Unlock()
	c.arrived <- struct{}{}
}

// received returns the entries accepted so far.
func (c *collector) received() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Entry(nil), c.got...)
}

// await waits until n more entries have been accepted.
func (c *collector) await(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for range n {
		select {
		case <-c.arrived:
		case <-deadline.C:
			t.Fatalf("collector has %d entries; more did not arrive", len(c.received()))
		}
	}
}

// statusError is a collector's refusal.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("collector: %d: %s", e.code, e.msg) }

// send posts an entry to the collector as the agent's client would.
func (c *collector) send(ctx context.Context, e Entry) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.srv.URL, bytes.NewReader(e.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Spool-Id", strconv.FormatUint(e.ID, 10))
	req.Header.Set("Spool-Kind", e.Kind)
	req.Header.Set("Spool-Ref", strconv.FormatUint(e.Ref, 10))
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &statusError{resp.StatusCode, strings.TrimSpace(string(msg))}
	}
	return nil
}

func permanent(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code/100 == 4
}

// drain runs Drain until the test ends. stop cancels it and returns what
// it returned.
func drain(t *testing.T, s *Spool, c *collector) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Drain(ctx, c.send, permanent) }()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
}

func TestDrainDeliversInOrderExactlyOnce(t *testing.T) {
	s := openSpool(t, t.TempDir(), testOptions(t, 0))
	c := newCollector(t)
	c.failFirst = 5
	var want []string
	for ref := uint64(1); ref <= 20; ref++ {
		mustAppend(t, s, KindReport, ref, []string{"file:/etc/motd"}, []byte(fmt.Sprintf("report %d", ref)))
		want = append(want, fmt.Sprintf("report %d", ref))
	}
	stop := drain(t, s, c)
	// More entries arrive while Drain runs.
	for ref := uint64(21); ref <= 30; ref++ {
		mustAppend(t, s, KindEvent, ref, nil, []byte(fmt.Sprintf("event %d", ref)))
		want = append(want, fmt.Sprintf("event %d", ref))
	}
	c.await(t, 30)
	waitFor(t, "spool empties", func() bool { return s.Stats().Entries == 0 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("drain returned %v, want context.Canceled", err)
	}
	got := c.received()
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Fatalf("collector received (-want +got):\n%s", diff)
	}
	for _, e := range got {
		if string(e.Body) != fmt.Sprintf("%s %d", e.Kind, e.Ref) {
			t.Fatalf("entry %d arrived with body %q", e.ID, e.Body)
		}
	}
	st := s.Stats()
	if st.Entries != 0 || st.Sent != 30 || st.Failures != 5 || st.SendError != "" || !st.FailingSince.IsZero() {
		t.Fatalf("stats after draining: %+v", st)
	}
	checkDisk(t, s)
}

func TestDrainWakesOnAppend(t *testing.T) {
	s := openSpool(t, t.TempDir(), testOptions(t, 0))
	c := newCollector(t)
	drain(t, s, c)
	for ref := uint64(1); ref <= 3; ref++ {
		// Drain waits on an empty spool with no timer: only Append's
		// wake-up brings the entry to the collector.
		mustAppend(t, s, KindReport, ref, nil, []byte("r"))
		c.await(t, 1)
	}
	if diff := cmp.Diff([]string{"report 1", "report 2", "report 3"}, summary(c.received())); diff != "" {
		t.Fatalf("collector received (-want +got):\n%s", diff)
	}
}

func TestDrainRecordsSendFailure(t *testing.T) {
	s := openSpool(t, t.TempDir(), testOptions(t, 0))
	c := newCollector(t)
	c.failFirst = 1 << 30
	mustAppend(t, s, KindReport, 1, nil, []byte("r"))
	drain(t, s, c)
	waitFor(t, "Drain retries", func() bool { return s.Stats().Failures >= 3 })
	st := s.Stats()
	if !strings.Contains(st.SendError, "503") || st.FailingSince.IsZero() || st.Entries != 1 || st.Sent != 0 {
		t.Fatalf("stats while the collector fails: %+v", st)
	}
}

func TestDrainRejectedEntry(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, testOptions(t, 0))
	c := newCollector(t)
	c.reject = func(kind string, ref uint64) bool { return kind == KindReport && ref == 2 }
	mustAppend(t, s, KindReport, 1, []string{"file:/etc/motd"}, []byte("one"))
	e2 := mustAppend(t, s, KindReport, 2, []string{"file:/etc/motd", "package:openssl"}, []byte("two"))
	mustAppend(t, s, KindReport, 3, []string{"file:/etc/motd"}, []byte("three"))
	drain(t, s, c)
	c.await(t, 3)
	waitFor(t, "spool empties", func() bool { return s.Stats().Entries == 0 })
	got := c.received()
	if diff := cmp.Diff([]string{"report 1", "gap", "report 3"}, summary(got)); diff != "" {
		t.Fatalf("collector received (-want +got):\n%s", diff)
	}
	g, err := got[1].Gap()
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(rejectedDir, entryName(e2.ID))
	if g.Cause != CauseRejected || !strings.Contains(g.Reason, "400: report does not match schema") ||
		g.Kinds[KindReport].FirstRef != 2 || g.Entries != 1 ||
		!cmp.Equal(g.Keys, e2.Keys) || !cmp.Equal(g.Rejected, []string{kept}) {
		t.Fatalf("gap record %+v: want report 2 rejected with the collector's error, kept at %s", g, kept)
	}
	if got[1].ID != e2.ID {
		t.Errorf("gap record has ID %d, want the rejected entry's %d", got[1].ID, e2.ID)
	}
	data, err := os.ReadFile(filepath.Join(dir, kept))
	if err != nil {
		t.Fatal(err)
	}
	if h, body, err := decodeEntry(data); err != nil || h.Ref != 2 || string(body) != "two" {
		t.Fatalf("rejected entry kept as %+v, %q, %v", h, body, err)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Entries != 0 {
		t.Fatalf("stats %+v, want 1 rejected and nothing queued", st)
	}
}

func TestDrainRejectedGapIsNotReplaced(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, testOptions(t, 0))
	c := newCollector(t)
	c.reject = func(kind string, ref uint64) bool { return kind == KindGap || ref == 2 }
	mustAppend(t, s, KindReport, 1, nil, []byte("one"))
	mustAppend(t, s, KindReport, 2, nil, []byte("two"))
	mustAppend(t, s, KindReport, 3, nil, []byte("three"))
	drain(t, s, c)
	c.await(t, 2)
	waitFor(t, "spool empties", func() bool { return s.Stats().Entries == 0 })
	if diff := cmp.Diff([]string{"report 1", "report 3"}, summary(c.received())); diff != "" {
		t.Fatalf("collector received (-want +got):\n%s", diff)
	}
	des, err := os.ReadDir(filepath.Join(dir, rejectedDir))
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); len(des) != 1 || st.Rejected != 2 {
		t.Fatalf("rejected/ holds %d files, stats %d rejections; want the report kept (the gap record has its name) and 2", len(des), st.Rejected)
	}
}

func TestDrainKeepsEntryInFlight(t *testing.T) {
	body := bytes.Repeat([]byte("b"), 3000)
	size := entrySize(t, KindReport, 1, []string{"file:/etc/motd"}, body)
	s := openSpool(t, t.TempDir(), testOptions(t, 4*size))
	c := newCollector(t)
	release := make(chan struct{})
	c.hold = release
	mustAppend(t, s, KindReport, 1, []string{"file:/etc/motd"}, body)
	drain(t, s, c)
	waitFor(t, "Drain sends", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sending != 0
	})
	// Report 1 is on its way; later reports supersede it and fill the
	// spool, but it is not dropped.
	for ref := uint64(2); ref <= 8; ref++ {
		mustAppend(t, s, KindReport, ref, []string{"file:/etc/motd"}, body)
		checkDisk(t, s)
	}
	close(release)
	waitFor(t, "spool empties", func() bool { return s.Stats().Entries == 0 })
	got := c.received()
	if len(got) < 3 || got[0].Ref != 1 || got[0].Kind != KindReport || got[1].Kind != KindGap {
		t.Fatalf("received %v, want report 1, which was in flight, then a gap record", summary(got))
	}
	g, err := got[1].Gap()
	if err != nil {
		t.Fatal(err)
	}
	// The gap record covers every report from 2 up to the first one kept,
	// and the reports kept follow in order up to the last one.
	first := got[2].Ref
	if k := g.Kinds[KindReport]; g.Cause != CauseSuperseded || !cmp.Equal(k.Refs, []RefRange{{2, first - 1}}) {
		t.Fatalf("gap %+v before report %d: want the superseded reports from 2 on, not the report in flight", g, first)
	}
	for i, e := range got[2:] {
		if e.Kind != KindReport || e.Ref != first+uint64(i) {
			t.Fatalf("received %v, want the newest reports in order after the gap record", summary(got))
		}
	}
	if got[len(got)-1].Ref != 8 {
		t.Fatalf("received %v, want report 8 last", summary(got))
	}
}

func TestDrainOnlyOnceAndStopsOnClose(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(t)
	done := make(chan error, 1)
	go func() { done <- s.Drain(context.Background(), c.send, permanent) }()
	waitFor(t, "Drain starts", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.draining
	})
	if err := s.Drain(context.Background(), c.send, permanent); err == nil || !strings.Contains(err.Error(), "another Drain") {
		t.Fatalf("second Drain: %v", err)
	}
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Drain after Close returned %v, want ErrClosed", err)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	s := &Spool{opt: Options{RetryMin: time.Second, RetryMax: time.Minute}}
	for _, tt := range []struct {
		failures int
		ceiling  time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {3, 8 * time.Second}, {5, 32 * time.Second}, {6, time.Minute}, {60, time.Minute}, {1000, time.Minute}} {
		t.Run(strconv.Itoa(tt.failures), func(t *testing.T) {
			var top time.Duration
			for range 2000 {
				d := s.backoff(tt.failures)
				if d < 0 || d >= tt.ceiling {
					t.Fatalf("backoff after %d failures: %s, want in [0, %s)", tt.failures, d, tt.ceiling)
				}
				top = max(top, d)
			}
			// Full jitter spreads over the whole range: 2000 draws all
			// below 90% of it happen with probability 0.9²⁰⁰⁰.
			if top < tt.ceiling*9/10 {
				t.Fatalf("backoff after %d failures never above %s of %s", tt.failures, top, tt.ceiling)
			}
		})
	}
}
