//go:build unix

package state

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

func TestMain(m *testing.M) {
	if stage := os.Getenv("DRIFTWATCH_TEST_CRASH_AT"); stage != "" {
		crashApprove(os.Getenv("DRIFTWATCH_TEST_STATE"), stage)
		fmt.Fprintln(os.Stderr, "crash point not reached")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// crashApprove approves a second baseline and kills itself with SIGKILL at
// the named stage: what a power cut or kill -9 does.
func crashApprove(dir, stage string) {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	crashHook = func(at string) {
		if at == stage {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	snap := testSnapshot(s, 5000, "v2")
	if _, err := s.Approve(meta("second"), snap); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
}

func meta(reason string) baseline.Meta {
	return baseline.Meta{ApprovedBy: "alice", ApprovedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Reason: reason, Tickets: []string{"CHG-1"}, Reviewed: true}
}

// testSnapshot makes a snapshot of n files whose content mentions tag.
func testSnapshot(s *Store, n int, tag string) *baseline.Snapshot {
	snap := &baseline.Snapshot{Host: baseline.Host{Name: "web-01"}, TakenAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	for i := range n {
		content := []byte(fmt.Sprintf("key%d = %s\n", i, tag))
		d, err := s.PutBlob(content)
		if err != nil {
			panic(err)
		}
		snap.Items = append(snap.Items, baseline.Item{
			Key: fmt.Sprintf("file:/etc/f%06d", i), Source: "files.etc",
			Attrs: baseline.Attrs{{Name: "mode", Value: "0644"}}, Digest: d, Content: d,
		})
	}
	return snap
}

func TestApproveAndLoad(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Current(); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("Current on an empty store: %v, want ErrNoBaseline", err)
	}
	b1, err := s.Approve(meta("first"), testSnapshot(s, 3, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := s.Approve(meta("second"), testSnapshot(s, 4, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if b1.Version != 1 || b2.Version != 2 {
		t.Fatalf("versions %d, %d; want 1, 2", b1.Version, b2.Version)
	}
	cur, err := s.Current()
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != 2 || cur.Reason != "second" || cur.ApprovedBy != "alice" || len(cur.Snapshot.Items) != 4 || cur.Tickets[0] != "CHG-1" {
		t.Errorf("current = %+v", cur.Meta)
	}
	old, err := s.Load(1)
	if err != nil || len(old.Snapshot.Items) != 3 {
		t.Fatalf("Load(1) = %v, %v", old, err)
	}
	vs, err := s.Versions()
	if err != nil || len(vs) != 2 {
		t.Fatalf("Versions = %v, %v", vs, err)
	}
	if _, err := s.Load(9); err == nil || !strings.Contains(err.Error(), "v9 does not exist") {
		t.Errorf("Load(9) err = %v", err)
	}
	// Content is stored once however often it is referenced.
	d1, _ := s.PutBlob([]byte("same"))
	d2, _ := s.PutBlob([]byte("same"))
	if d1 != d2 {
		t.Error("same content, different digests")
	}
	got, err := s.Blob(d1)
	if err != nil || string(got) != "same" {
		t.Errorf("Blob = %q, %v", got, err)
	}
}

func TestApproveRefusesMissingContent(t *testing.T) {
	s, _ := Open(t.TempDir())
	snap := testSnapshot(s, 1, "x")
	snap.Items[0].Content = baseline.Sum([]byte("never stored"))
	if _, err := s.Approve(meta("r"), snap); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Fatalf("err = %v, want a missing-content error", err)
	}
	if _, err := s.Current(); !errors.Is(err, ErrNoBaseline) {
		t.Errorf("a refused approval left a baseline: %v", err)
	}
}

func TestApproveNeedsReason(t *testing.T) {
	s, _ := Open(t.TempDir())
	m := meta("")
	if _, err := s.Approve(m, testSnapshot(s, 1, "x")); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("err = %v, want one naming the missing reason", err)
	}
}

func TestTamperDetected(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   string
	}{
		{"baseline file edited", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "baselines", "v000001.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"0644"`, `"0777"`, 1)), 0o600)
		}, "was modified outside driftwatch"},
		{"index edited", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "baselines", "index.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"alice"`, `"mallory"`, 1)), 0o600)
		}, "HMAC does not match"},
		{"blob edited", func(t *testing.T, dir string) {
			filepath.Walk(filepath.Join(dir, "blobs"), func(p string, fi os.FileInfo, err error) error {
				if fi.Mode().IsRegular() {
					os.WriteFile(p, []byte("evil"), 0o600)
				}
				return nil
			})
		}, "does not match its name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := Open(dir)
			b, err := s.Approve(meta("first"), testSnapshot(s, 1, "x"))
			if err != nil {
				t.Fatal(err)
			}
			tt.tamper(t, dir)
			_, err = s.Current()
			if err == nil {
				_, err = s.Blob(b.Snapshot.Items[0].Content)
			}
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrTampered containing %q", err, tt.want)
			}
		})
	}
}

// TestCrashDuringApprove kills a process with SIGKILL at each point of an
// approval and checks that the previous baseline is intact and current, and
// that the next approval succeeds.
func TestCrashDuringApprove(t *testing.T) {
	for _, stage := range []string{"baseline-written", "index-half-written"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			b1, err := s.Approve(meta("first"), testSnapshot(s, 10, "v1"))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "DRIFTWATCH_TEST_CRASH_AT="+stage, "DRIFTWATCH_TEST_STATE="+dir)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
			}
			s, err = Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			cur, err := s.Current()
			if err != nil {
				t.Fatalf("after a crash at %s: %v", stage, err)
			}
			if cur.Version != 1 || cur.SnapshotDigest != b1.SnapshotDigest {
				t.Fatalf("after a crash at %s: current is v%d, want the intact v1", stage, cur.Version)
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "baselines", ".tmp-*"))
			if len(leftovers) != 0 {
				t.Errorf("temporary files left after reopening: %v", leftovers)
			}
			b2, err := s.Approve(meta("retry"), testSnapshot(s, 3, "v2"))
			if err != nil || b2.Version != 2 {
				t.Fatalf("approve after the crash: %v, %v", b2, err)
			}
		})
	}
}
