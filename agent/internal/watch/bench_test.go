//go:build linux

package watch

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// benchTree writes 100 × 100 directories of 10 files each: 100,000 files in
// 10,101 directories.
func benchTree(b *testing.B) string {
	b.Helper()
	root := b.TempDir()
	for i := range 100 {
		for j := range 100 {
			dir := filepath.Join(root, fmt.Sprintf("d%02d", i), fmt.Sprintf("s%02d", j))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for k := range 10 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.conf", k)), []byte("key = value\n"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return root
}

// BenchmarkFootprint measures watching 100,000 files: the time to set up
// the watches (ns/op), the watcher's live heap and the process's resident
// memory once they are in place, and the CPU it uses while nothing
// changes. Run it once:
//
//	go test -run '^$' -bench Footprint -benchtime 1x ./agent/internal/watch/
func BenchmarkFootprint(b *testing.B) {
	root := benchTree(b)
	var heap, rss, idleCPU float64
	var watched int
	for b.Loop() {
		b.StopTimer()
		heap0, rss0 := settle()
		w, err := New(Options{Roots: []Root{{Source: "files.bench", Path: root}}, Log: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		b.StartTimer()
		go func() { errc <- w.Run(ctx) }()
		<-w.Ready()
		b.StopTimer()
		watched = w.Coverage().Watched
		heap1, rss1 := settle()
		heap, rss = float64(heap1-heap0), float64(rss1-rss0)
		// Idle: nothing changes for a while.
		cpu0 := cpuTime()
		time.Sleep(2 * time.Second)
		idleCPU = float64(cpuTime()-cpu0) / 2 / float64(time.Millisecond)
		cancel()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	if want := 10_101 + way(root); watched != want { // the tree and the directories above it
		b.Fatalf("watched %d directories, want %d", watched, want)
	}
	b.ReportMetric(heap/(1<<20), "heap-MiB")
	b.ReportMetric(rss/(1<<20), "rss-MiB")
	b.ReportMetric(heap/float64(watched), "heap-B/dir")
	b.ReportMetric(idleCPU, "idle-cpu-ms/s")
}

// settle collects garbage, returns freed memory to the system, and returns
// the live heap and the resident set size in bytes.
func settle() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, residentBytes()
}

// residentBytes returns the process's resident set size from /proc.
func residentBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
