package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// defaultMaxConns is the size of a collector's connection pool unless the
// DSN sets pool_max_conns. pgx's default, the number of CPUs (at least 4),
// is too few for ingest: a report holds a connection while the server
// syncs its commit to disk, and the commits of the reports waiting
// together share one sync only when each has a connection. Two collectors
// take 32 of PostgreSQL's default 100.
const defaultMaxConns = 16

// Store is store.Store on a PostgreSQL database. Create it with Open.
type Store struct {
	pool      *pgxpool.Pool
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database the DSN names and applies the migrations
// it lacks.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message does not repeat the DSN, which may hold a password.
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	where := describe(cfg.ConnConfig)
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, defaultMaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	if _, err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	return &Store{pool: pool}, nil
}

// Migrate applies the migrations the database the DSN names lacks, and
// returns the names of those it applied (none when the schema is current).
func Migrate(ctx context.Context, dsn string) ([]string, error) {
	// Parsed as the pool's DSN is, so that pool settings in it
	// (pool_max_conns …) are taken as such, not sent to the server.
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("migrate postgres store: %w", err)
	}
	cfg := pcfg.ConnConfig
	where := describe(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("migrate postgres store %s: %w", where, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	applied, err := migrate(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("migrate postgres store %s: %w", where, err)
	}
	return applied, nil
}

// describe names a database for messages, without its password.
func describe(c *pgx.ConnConfig) string {
	s := fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
	if sp := c.RuntimeParams["search_path"]; sp != "" {
		s += " (search_path " + sp + ")"
	}
	return s
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres store: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned;
// calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// commitTimeout bounds a commit, which does not stop when the caller's
// context is cancelled.
const commitTimeout = 30 * time.Second

// write runs fn in one transaction and commits it when fn returns nil.
//
// The commit does not heed ctx's cancellation: once fn has done its work,
// a commit cut off midway would leave the caller with an error for a
// transaction the server may still commit. A cancellation before the
// commit rolls the transaction back.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // the error that matters is fn's
		return err
	}
	if err := ctx.Err(); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		_ = tx.Rollback(rctx)
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return tx.Commit(cctx)
}

// queryer is what *pgxpool.Pool and pgx.Tx share.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// PostgreSQL error codes the store maps.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// mapErr turns a constraint violation into the store's error: a unique
// key into store.ErrExists, a foreign key into store.ErrNotFound, no rows
// into store.ErrNotFound. It keeps the server's message.
func mapErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return fmt.Errorf("%w: %v", store.ErrExists, err)
		case foreignKeyViolation:
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
	}
	return err
}

// utc is t as stored: UTC, truncated to the microsecond.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime is t as stored; the zero time is NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return utc(t)
}

// timeCol scans a timestamptz into *t in UTC; NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// digestCol scans stored hex into *d.
type digestCol struct{ d *baseline.Digest }

func (c digestCol) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("scan digest: unexpected %T", src)
	}
	d, err := baseline.ParseDigest(s)
	if err != nil {
		return fmt.Errorf("scan digest: %w", err)
	}
	*c.d = d
	return nil
}
