//go:build unix

package spool

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The test binary runs as a child process that the tests kill with
// SIGKILL: what a crash, an OOM kill or kill -9 does to the agent.
const (
	childEnv    = "DRIFTWATCH_TEST_SPOOL_CHILD"
	childDirEnv = "DRIFTWATCH_TEST_SPOOL_DIR"
	// crashMaxBytes bounds the spool of the children, so that appends
	// drop entries and write gap records all the time.
	crashMaxBytes = 48 << 10
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		child(mode, os.Getenv(childDirEnv))
		fmt.Fprintln(os.Stderr, "child finished without being killed")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func childFail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(4)
}

// childKind and childKeys make the entries of the children: reports and
// events, with keys that later reports cover now and then.
func childKind(ref uint64) string {
	if ref%4 == 0 {
		return KindEvent
	}
	return KindReport
}

func childKeys(ref uint64) []string {
	keys := []string{"file:/etc/motd"}
	if ref%5 == 0 {
		keys = append(keys, fmt.Sprintf("file:/etc/cron.d/job%d", ref))
	}
	return keys
}

func childBody(ref uint64) []byte {
	return []byte(strings.Repeat(fmt.Sprintf("entry %d;", ref), 50+int(ref%7)*40))
}

// child runs in the child process.
func child(mode, dir string) {
	s, err := Open(dir, Options{MaxBytes: crashMaxBytes})
	if err != nil {
		childFail(err)
	}
	switch {
	case mode == "append":
		// Append forever, telling the parent every ref whose Append
		// returned, until killed.
		start := uint64(1)
		if b, err := os.ReadFile(filepath.Join(dir, "test-next-ref")); err == nil {
			start, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
		for ref := start; ; ref++ {
			if _, err := s.Append(childKind(ref), ref, childKeys(ref), childBody(ref)); err != nil {
				childFail(err)
			}
			if _, err := fmt.Fprintf(os.Stdout, "%d\n", ref); err != nil {
				childFail(err)
			}
		}
	case strings.HasPrefix(mode, "at:"):
		stage := strings.TrimPrefix(mode, "at:")
		crashHook = func(at string) {
			if at == stage {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute)
			}
		}
		switch stage {
		case "rejected-kept":
			e, ok, err := s.take()
			if err != nil || !ok {
				childFail(fmt.Errorf("take: %v %v", ok, err))
			}
			if err := s.reject(e, errors.New("collector: 400 Bad Request")); err != nil {
				childFail(err)
			}
		default:
			if _, err := s.Append(KindEvent, 1000, []string{"user:deploy"}, childBody(1000)); err != nil {
				childFail(err)
			}
		}
	}
}

// runChild starts the test binary as a child in mode on dir.
func runChild(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+dir)
	cmd.Stderr = &strings.Builder{}
	return cmd
}

func killedBySIGKILL(t *testing.T, cmd *exec.Cmd, err error) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, cmd.Stderr)
	}
}

// accounted maps "kind ref" to how often it is queued or named by a queued
// gap record.
func accounted(t *testing.T, s *Spool) map[string]int {
	where := map[string]int{}
	for _, e := range queued(t, s) {
		for _, ref := range refsOf(t, e) {
			where[ref]++
		}
	}
	return where
}

func checkNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	tmp, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	corrupt, _ := os.ReadDir(filepath.Join(dir, corruptDir))
	if len(tmp) != 0 || len(corrupt) != 0 {
		t.Fatalf("after reopening: temporary files %v, damaged files %d", tmp, len(corrupt))
	}
}

// TestKillDuringAppend kills a child appending in a loop at a random
// moment, several times over, and checks that every entry whose Append
// returned is queued or named by a gap record, exactly once; that no
// entry file is torn; and that IDs go on increasing.
func TestKillDuringAppend(t *testing.T) {
	dir := t.TempDir()
	durable := map[uint64]bool{}
	next := uint64(1)
	var lastID uint64
	for round := range 4 {
		if err := os.WriteFile(filepath.Join(dir, "test-next-ref"), []byte(strconv.FormatUint(next, 10)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := runChild(t, "append", dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a number of appends that differs by round, so that
		// the kill meets the child at different points of its loop.
		sc := bufio.NewScanner(out)
		killAfter := 60 + 37*round
		for n := 0; sc.Scan(); n++ {
			ref, err := strconv.ParseUint(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			durable[ref] = true
			next = ref + 2 // the ref after the one in progress
			if n == killAfter {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		killedBySIGKILL(t, cmd, cmd.Wait())

		s, err := Open(dir, Options{MaxBytes: crashMaxBytes})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		checkNoLeftovers(t, dir)
		checkDisk(t, s)
		where := accounted(t, s)
		for ref := range durable {
			if n := where[fmt.Sprintf("%s %d", childKind(ref), ref)]; n != 1 {
				s.Close()
				t.Fatalf("round %d: %s %d, appended durably, found %d times in the queue and its gap records", round, childKind(ref), ref, n)
			}
		}
		for key, n := range where {
			if n != 1 {
				t.Fatalf("round %d: %s found %d times", round, key, n)
			}
		}
		es := queued(t, s)
		if es[0].ID <= lastID && round > 0 {
			// The queue's oldest entry may be from an earlier round; the
			// newest must be of this one.
			if es[len(es)-1].ID <= lastID {
				t.Fatalf("round %d: newest ID %d not above the last round's %d", round, es[len(es)-1].ID, lastID)
			}
		}
		lastID = es[len(es)-1].ID
		if st := s.Stats(); round == 3 && st.Gaps == 0 {
			t.Fatalf("no gap record written: the test does not exercise drops")
		}
		s.Close()
	}
}

// TestKillAtNamedPoints kills a child at the named points of a write and
// checks what the next Open finds.
func TestKillAtNamedPoints(t *testing.T) {
	for _, tt := range []struct {
		stage string
		check func(t *testing.T, s *Spool, before map[string]int)
	}{
		{"entry-written", func(t *testing.T, s *Spool, before map[string]int) {
			// The file is in place: the entry is queued.
			if where := accounted(t, s); where["event 1000"] != 1 {
				t.Fatalf("event 1000 found %d times, want once", where["event 1000"])
			}
		}},
		{"gap-written", func(t *testing.T, s *Spool, before map[string]int) {
			// The gap record is in place; the entries it replaces are
			// removed on open, not reported twice.
			where := accounted(t, s)
			for key := range before {
				if where[key] != 1 {
					t.Fatalf("%s found %d times, want once", key, where[key])
				}
			}
			if where["event 1000"] != 0 {
				t.Fatalf("the event whose Append did not return is queued %d times", where["event 1000"])
			}
		}},
		{"rejected-kept", func(t *testing.T, s *Spool, before map[string]int) {
			// The copy is kept, the gap record not written yet: the entry
			// stays queued and is sent again; rejecting it again works.
			if diff := cmp.Diff(before, accounted(t, s)); diff != "" {
				t.Fatalf("queue changed (-before +after):\n%s", diff)
			}
			e, ok, err := s.take()
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			if err := s.reject(e, errors.New("collector: 400 Bad Request")); err != nil {
				t.Fatalf("rejecting again: %v", err)
			}
			es := queued(t, s)
			if es[0].Kind != KindGap || es[0].ID != e.ID {
				t.Fatalf("queue %v: want a gap record in the place of entry %d", summary(es), e.ID)
			}
		}},
	} {
		t.Run(tt.stage, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{MaxBytes: crashMaxBytes})
			if err != nil {
				t.Fatal(err)
			}
			// A full spool of entries no report covers: the next append
			// drops the oldest.
			for ref := uint64(1); s.Stats().Bytes+2*int64(len(childBody(100))) < crashMaxBytes; ref++ {
				mustAppend(t, s, KindEvent, ref, []string{fmt.Sprintf("port:tcp/%d", ref)}, childBody(100))
			}
			if st := s.Stats(); st.Gaps != 0 || st.Bytes+int64(len(childBody(1000))) <= crashMaxBytes {
				t.Fatalf("setup: %+v; want a spool without gap records that the child's append overfills", st)
			}
			before := accounted(t, s)
			s.Close()

			cmd := runChild(t, "at:"+tt.stage, dir)
			killedBySIGKILL(t, cmd, cmd.Run())

			s = openSpool(t, dir, Options{MaxBytes: crashMaxBytes})
			checkNoLeftovers(t, dir)
			checkDisk(t, s)
			tt.check(t, s, before)
		})
	}
}
