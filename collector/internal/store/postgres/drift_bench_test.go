package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// BenchmarkDrift measures the drift inbox and ApplyDrift on a schema of
// its own with storetest.BenchItems drift items (DRIFTWATCH_BENCH_ITEMS,
// default 200,000).
func BenchmarkDrift(b *testing.B) {
	dsn := benchSchema(b)
	s, err := Open(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.RunDriftBenchmarks(b, s, storetest.BenchItems(b), func() error {
		// Statistics and the visibility map after the bulk load, as
		// autovacuum keeps them on a database in use.
		_, err := s.pool.Exec(b.Context(), "VACUUM ANALYZE")
		return err
	})
}

// BenchmarkIngest measures report ingest on the store alone (see
// storetest.RunIngestBenchmark), with 1,000 hosts.
func BenchmarkIngest(b *testing.B) {
	s, err := Open(b.Context(), benchSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.RunIngestBenchmark(b, s, 1000)
}

// benchSchema creates a schema for a benchmark, dropped at its end, and
// returns a DSN whose search_path is it. Without a database the benchmark
// fails under CI=true and is skipped otherwise.
func benchSchema(b *testing.B) string {
	dsn := os.Getenv("DRIFTWATCH_TEST_POSTGRES")
	if dsn == "" {
		dsn = defaultDSN
	}
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		msg := "PostgreSQL benchmark database (from DRIFTWATCH_TEST_POSTGRES, default " + defaultDSN + ") is unreachable: " + err.Error()
		if os.Getenv("CI") == "true" {
			b.Fatal(msg)
		}
		b.Skip(msg + "; skipping (under CI=true this fails)")
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	schema := "dw_bench_" + hex.EncodeToString(r[:])
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			b.Error(err)
		}
		pool.Close()
	})
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			b.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
