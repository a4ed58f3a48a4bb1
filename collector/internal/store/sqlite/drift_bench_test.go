package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// BenchmarkDrift measures the drift inbox and ApplyDrift on a file with
// storetest.BenchItems drift items (DRIFTWATCH_BENCH_ITEMS, default
// 200,000).
func BenchmarkDrift(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.RunDriftBenchmarks(b, s, storetest.BenchItems(b), nil)
}

// BenchmarkIngest measures report ingest on the store alone (see
// storetest.RunIngestBenchmark), with 1,000 hosts.
func BenchmarkIngest(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.RunIngestBenchmark(b, s, 1000)
}
