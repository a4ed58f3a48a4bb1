package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// statementCounter counts the statements, batched statements and COPYs
// a pool sends.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}
func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
func (c *statementCounter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *statementCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// TestApplyDriftBatched applies a report of 10,000 items to a host with
// 10,000 open items: a third modified, a third the same, a third new (and
// so a third closed). It takes one transaction of a few statements, not
// a round trip per item.
func TestApplyDriftBatched(t *testing.T) {
	dsn := newSchema(t)
	plain := open(t, dsn) // migrates the schema
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := plain.CreateTenant(ctx, "a", "Acme", at); err != nil {
		t.Fatal(err)
	}
	if err := plain.CreateToken(ctx, store.Token{ID: "tok", TenantID: "a", Hash: "tokhash", UsesLeft: 1, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	h, err := plain.Enroll(ctx, store.Enrollment{TokenHash: "tokhash", Name: "web1", CredentialHash: "cred", NewHostID: "host-web1", At: at})
	if err != nil {
		t.Fatal(err)
	}

	counter := &statementCounter{}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{pool: pool}
	defer s.Close()

	const n = 10000
	first := storetest.BenchObservations(n, "first", "v1")
	start := time.Now()
	res, err := s.ApplyDrift(ctx, "a", h.ID, 1, at, first)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report 1, %d new items: %d statements, %v", len(res.Opened), counter.n.Load(), time.Since(start).Round(time.Millisecond))
	if len(res.Opened) != n {
		t.Fatalf("report 1 opened %d items, want %d", len(res.Opened), n)
	}

	all := storetest.BenchObservations(n+n/3, "second", "v1")
	v2 := storetest.BenchObservations(n/3+1, "second", "v2")
	second := append(append(v2[:n/3+1:n/3+1], all[n/3+1:2*n/3+1]...), all[n:]...)
	counter.n.Store(0)
	start = time.Now()
	res, err = s.ApplyDrift(ctx, "a", h.ID, 2, at.Add(time.Minute), second)
	if err != nil {
		t.Fatal(err)
	}
	statements := counter.n.Load()
	t.Logf("report 2, %d observations against %d open items (%d modified, %d unchanged, %d new, %d closed): %d statements, %v",
		len(second), n, len(res.Updated), res.Unchanged, len(res.Opened), len(res.Closed), statements, time.Since(start).Round(time.Millisecond))
	if len(res.Updated) != n/3+1 || res.Unchanged != n/3 || len(res.Opened) != n/3 || len(res.Closed) != n/3 {
		t.Errorf("report 2: %d updated, %d unchanged, %d opened, %d closed", len(res.Updated), res.Unchanged, len(res.Opened), len(res.Closed))
	}
	if statements > 20 {
		t.Errorf("report 2 took %d statements, want at most 20 (batched, not one per item)", statements)
	}
}
