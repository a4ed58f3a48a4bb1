package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name      string
		opt       Options
		wantAttrs map[string]string
		wantErr   string
		content   string
		noContent bool
	}{
		{name: "output", opt: Options{Argv: []string{"printf", "a\\nb\\n"}, Content: true},
			wantAttrs: map[string]string{"exit_status": "0", "argv": `printf "a\\nb\\n"`}, content: "a\nb\n"},
		{name: "failure", opt: Options{Argv: []string{"sh", "-c", "echo partial; echo boom >&2; exit 3"}, Content: true},
			wantAttrs: map[string]string{"exit_status": "3"}, wantErr: "exit status 3: boom", content: "partial\n"},
		{name: "missing program", opt: Options{Argv: []string{"/nonexistent/iptables-save"}},
			wantErr: "no such file or directory", noContent: true},
		{name: "ignored lines", opt: Options{Argv: []string{"printf", "# Generated on Mon\\n-A INPUT -j ACCEPT\\n"}, Content: true, IgnoreLines: []string{`^# Generated`}},
			content: "-A INPUT -j ACCEPT\n"},
		{name: "truncated", opt: Options{Argv: []string{"printf", "0123456789"}, Content: true, MaxOutput: 4},
			wantAttrs: map[string]string{"truncated": "true"}, noContent: true},
		{name: "binary output", opt: Options{Argv: []string{"printf", "a\\000b"}, Content: true}, noContent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New("command.x", "x", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			res := sourcetest.Collect(t, src)
			if res.Err != nil {
				t.Fatalf("source error: %v", res.Err)
			}
			it := res.Lookup("command:x")
			if it == nil {
				t.Fatal("no item")
			}
			for k, v := range tt.wantAttrs {
				if got, _ := it.Attrs.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tt.wantErr == "" && it.Error != "" {
				t.Errorf("unexpected error %q", it.Error)
			}
			if !strings.Contains(it.Error, tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", it.Error, tt.wantErr)
			}
			if tt.wantErr != "" && len(res.Warnings) != 1 {
				t.Errorf("warnings %v, want one", res.Warnings)
			}
			c, has := res.Content["command:x"]
			if tt.noContent && has {
				t.Errorf("content kept: %q", c)
			}
			if tt.content != "" {
				if string(c) != tt.content {
					t.Errorf("content %q, want %q", c, tt.content)
				}
				if it.Digest != baseline.Sum([]byte(tt.content)) {
					t.Error("digest is not over the filtered output")
				}
			}
		})
	}
}

// TestTimeoutKillsGroup runs a command that forks a child which outlives
// it; the timeout must kill both.
func TestTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	src, _ := New("command.slow", "slow", Options{
		Argv:    []string{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; wait"},
		Timeout: 300 * time.Millisecond,
	})
	res := sourcetest.Collect(t, src)
	it := res.Lookup("command:slow")
	if it == nil || !strings.Contains(it.Error, "timed out after 300ms") {
		t.Fatalf("item %+v, want a timeout error", it)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return // gone or a zombie awaiting its reaper: killed
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s still running after the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
