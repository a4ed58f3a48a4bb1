package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/postgres"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
)

// Shape of the ingest benchmarks, as bench/loadgen's defaults: hosts whose
// first report carries a snapshot of benchItems files, then drift reports
// of benchChanges modified files each.
const (
	benchHosts   = 64
	benchItems   = 200
	benchChanges = 20
)

// BenchmarkIngest measures POST /api/v1/reports of drift reports over a
// real listener, with reports of several hosts in flight at once (the
// CPU profile of a collector under bench/loadgen, in-process). On
// PostgreSQL it uses a schema of its own; without a database it fails
// under CI=true and is skipped otherwise.
func BenchmarkIngest(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "collector.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchIngest(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		st, err := postgres.Open(b.Context(), benchPostgres(b))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchIngest(b, st)
	})
}

// benchPostgres creates a schema for a benchmark, dropped at its end, and
// returns a DSN whose search_path is it.
func benchPostgres(b *testing.B) string {
	dsn := os.Getenv("DRIFTWATCH_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		msg := "PostgreSQL test database (DRIFTWATCH_TEST_POSTGRES) is unreachable: " + err.Error()
		if os.Getenv("CI") == "true" {
			b.Fatal(msg)
		}
		b.Skip(msg + "; skipping (under CI=true this fails)")
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		b.Fatal(err)
	}
	schema := "dw_bench_" + hex.EncodeToString(rnd[:])
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatalf("create schema %s: %v", schema, err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			b.Errorf("drop schema %s: %v", schema, err)
		}
		pool.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatalf("DRIFTWATCH_TEST_POSTGRES must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// benchHost is a simulated agent.
type benchHost struct {
	name   string
	client *api.Client
	snap   *baseline.Snapshot
	seq    atomic.Uint64
}

func benchIngest(b *testing.B, st store.Store) {
	ctx := b.Context()
	srv := httptest.NewServer(New(Options{Store: st, Log: zap.NewNop()}).Handler())
	defer srv.Close()
	tid, _ := auth.NewID(auth.PrefixTenantID)
	if _, err := st.CreateTenant(ctx, tid, "bench", time.Now()); err != nil {
		b.Fatal(err)
	}
	secret, hash, _ := auth.NewSecret(auth.PrefixEnrollToken)
	tokID, _ := auth.NewID(auth.PrefixTokenID)
	if err := st.CreateToken(ctx, store.Token{ID: tokID, TenantID: tid, Hash: hash, UsesLeft: benchHosts, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	anon, err := api.NewClient(api.ClientOptions{BaseURL: srv.URL, Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	hosts := make([]*benchHost, benchHosts)
	for i := range hosts {
		h := &benchHost{name: fmt.Sprintf("bench-%03d", i)}
		resp, err := anon.Enroll(ctx, api.EnrollRequest{Token: secret, Host: baseline.Host{Name: h.name}, AgentVersion: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		h.client = anon.WithCredential(resp.Credential)
		h.snap = benchSnapshot(h.name)
		raw, err := h.snap.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		h.seq.Store(1)
		if _, err := h.client.PostReport(ctx, api.Report{Sequence: 1, SnapshotDigest: h.snap.Digest(), ItemCount: len(h.snap.Items),
			TakenAt: time.Now().UTC(), AgentVersion: "bench", Sources: h.snap.Sources, Snapshot: raw}); err != nil {
			b.Fatal(err)
		}
		hosts[i] = h
	}
	var next atomic.Int64
	var failed sync.Once
	b.SetParallelism(4) // 4 × GOMAXPROCS reports in flight, as agents checking at once
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h := hosts[int(next.Add(1))%len(hosts)]
			seq := h.seq.Add(1)
			if _, err := h.client.PostReport(ctx, benchDrift(h, seq)); err != nil {
				failed.Do(func() { b.Error(err) })
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchChanges)/b.Elapsed().Seconds(), "changes/s")
}

func benchFileText(n, rev int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# /etc/app/conf.d/%03d.conf\n", n)
	for l := range 12 {
		v := l * n
		if l == 6 {
			v += rev
		}
		fmt.Fprintf(&sb, "option_%02d = %d\n", l, v)
	}
	return sb.String()
}

func benchKey(n int) string { return fmt.Sprintf("file:/etc/app/conf.d/%03d.conf", n) }

func benchSnapshot(name string) *baseline.Snapshot {
	s := &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: name}, TakenAt: time.Now().UTC(),
		Sources: []baseline.SourceStatus{{Name: "files.app", Kind: "file", Status: baseline.StatusOK, Items: benchItems}}}
	attrs := baseline.AttrsFromMap(map[string]string{"mode": "0644", "owner": "root", "group": "root", "type": "file"})
	for n := range benchItems {
		s.Items = append(s.Items, baseline.Item{Key: benchKey(n), Source: "files.app", Attrs: attrs, Digest: baseline.Sum([]byte(benchFileText(n, 0)))})
	}
	s.Sort()
	return s
}

// benchDrift is report seq of h: every report modifies the same files
// again, as loadgen's do.
func benchDrift(h *benchHost, seq uint64) api.Report {
	base := h.snap.Digest()
	digest := baseline.Sum(fmt.Appendf(nil, "%s/%d", h.name, seq))
	d := &baseline.Drift{Host: h.name, BaselineVersion: 1, BaselineDigest: base, SnapshotDigest: digest, TakenAt: time.Now().UTC(),
		Summary: baseline.Summary{Modified: benchChanges}}
	for n := range benchChanges {
		old, cur := benchFileText(n, 0), benchFileText(n, int(seq))
		oldIt := h.snap.Items[n]
		newIt := oldIt
		newIt.Digest = baseline.Sum([]byte(cur))
		name := strings.TrimPrefix(benchKey(n), "file:")
		d.Changes = append(d.Changes, baseline.Change{Key: benchKey(n), Kind: "file", Source: "files.app", Change: baseline.Modified,
			Attrs:       map[string]baseline.AttrChange{"sha256": {Old: oldIt.Digest.String(), New: newIt.Digest.String()}},
			ContentDiff: baseline.UnifiedDiff("a"+name, "b"+name, old, cur, 3),
			Old:         &oldIt, New: &newIt})
	}
	return api.Report{Sequence: seq, SnapshotDigest: digest, ItemCount: len(h.snap.Items), TakenAt: time.Now().UTC(), AgentVersion: "bench",
		Sources: h.snap.Sources, Drift: d}
}
