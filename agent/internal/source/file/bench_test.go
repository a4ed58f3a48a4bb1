//go:build linux

package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

// benchTree writes n config-like files of about 4 KiB in 50 directories.
func benchTree(b *testing.B, n int) string {
	b.Helper()
	root := b.TempDir()
	line := "option_name = some value that looks like configuration\n"
	content := strings.Repeat(line, 4096/len(line))
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%50))
		if i < 50 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.conf", i)), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// BenchmarkScan measures a first scan (every file read and hashed) and an
// incremental one (the cache says every file is unchanged), per file.
func BenchmarkScan(b *testing.B) {
	const n = 5000
	root := benchTree(b, n)
	for _, tc := range []struct {
		name    string
		content bool
		cached  bool
	}{
		{"full/content-off", false, false},
		{"full/content-on", true, false},
		{"incremental", false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cache := NewCache(baseline.Digest{})
			if tc.cached {
				src, _ := New("files", Options{Paths: []string{root}, Cache: cache})
				sourcetest.Collect(b, src)
			}
			b.SetBytes(n * 4096)
			b.ReportAllocs()
			for b.Loop() {
				src, err := New("files", Options{Paths: []string{root}, Content: tc.content, MaxContentSize: 1 << 20, Cache: cache, Full: !tc.cached})
				if err != nil {
					b.Fatal(err)
				}
				if res := sourcetest.Collect(b, src); len(res.Items) != n+51 {
					b.Fatalf("%d items", len(res.Items))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/file")
		})
	}
}

// BenchmarkCacheStoreSave measures what a first scan of 100,000 files adds
// for the cache: one entry stored per file, then the cache file written.
func BenchmarkCacheStoreSave(b *testing.B) {
	const n = 100000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/srv/corpus/d%03d/sub%02d/file%06d.conf", i%1000, i%37, i)
	}
	out := filepath.Join(b.TempDir(), "files.bin")
	b.ReportAllocs()
	for b.Loop() {
		c := NewCache(baseline.Digest{})
		for i, p := range paths {
			c.Store(p, Entry{Size: int64(i), Mtime: int64(i), Ino: uint64(i)})
		}
		if err := c.Save(out); err != nil {
			b.Fatal(err)
		}
	}
}
