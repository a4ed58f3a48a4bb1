package profiling

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setEnv names the files to write ("" for none).
func setEnv(t *testing.T, cpu, mem, trace string) {
	t.Setenv("DRIFTWATCH_CPUPROFILE", cpu)
	t.Setenv("DRIFTWATCH_MEMPROFILE", mem)
	t.Setenv("DRIFTWATCH_TRACE", trace)
}

// run starts profiling as program name, does some work, stops, and
// returns what it said on stderr.
func run(name string) string {
	var stderr bytes.Buffer
	stop := Start(name, &stderr)
	sum := sha256.Sum256(nil)
	for range 10000 {
		sum = sha256.Sum256(sum[:])
	}
	stop()
	return stderr.String()
}

// The files the environment names are written, each in its format: CPU
// and heap profiles gzip-compressed protobuf, the trace with Go's trace
// header.
func TestStartWritesWhatTheEnvironmentNames(t *testing.T) {
	dir := t.TempDir()
	cpu, mem, tr := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof"), filepath.Join(dir, "run.trace")
	setEnv(t, cpu, mem, tr)
	if got := run("test"); got != "" {
		t.Errorf("stderr: %s", got)
	}
	for _, c := range []struct{ path, prefix string }{{cpu, "\x1f\x8b"}, {mem, "\x1f\x8b"}, {tr, "go 1."}} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), c.prefix) {
			t.Errorf("%s starts %q, want %q", filepath.Base(c.path), b[:min(len(b), 8)], c.prefix)
		}
	}
}

// A file that cannot be created is said on stderr with the program's name;
// the program goes on.
func TestStartReportsAFileItCannotCreate(t *testing.T) {
	setEnv(t, filepath.Join(t.TempDir(), "missing", "cpu.pprof"), "", "")
	if got := run("driftwatch-test"); !strings.Contains(got, "driftwatch-test: cpu profile") || !strings.Contains(got, "missing") {
		t.Errorf("stderr = %q, want the program, the profile and the path", got)
	}
}

// Nothing asked, nothing written and nothing said.
func TestStartWithoutEnvironmentDoesNothing(t *testing.T) {
	setEnv(t, "", "", "")
	dir := t.TempDir()
	t.Chdir(dir)
	if got := run("test"); got != "" {
		t.Errorf("stderr: %s", got)
	}
	if es, err := os.ReadDir(dir); err != nil || len(es) > 0 {
		t.Errorf("files written: %v (%v)", es, err)
	}
}
