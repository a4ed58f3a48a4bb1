package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/internal/migration"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// defaultDSN is the test database when DRIFTWATCH_TEST_POSTGRES is not set.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var admin struct {
	once sync.Once
	dsn  string
	pool *pgxpool.Pool
	err  error
}

// adminPool connects to the test database once per run. When it cannot,
// the test fails under CI=true and is skipped otherwise.
func adminPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	admin.once.Do(func() {
		admin.dsn = os.Getenv("DRIFTWATCH_TEST_POSTGRES")
		if admin.dsn == "" {
			admin.dsn = defaultDSN
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(admin.dsn)
		if err != nil {
			admin.err = err
			return
		}
		cfg.MaxConns = 2
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			err = pool.Ping(ctx)
		}
		if err != nil {
			admin.err = err
			if pool != nil {
				pool.Close()
			}
			return
		}
		admin.pool = pool
	})
	if admin.err != nil {
		where := admin.dsn
		if cfg, err := pgx.ParseConfig(admin.dsn); err == nil {
			where = describe(cfg)
		}
		msg := "PostgreSQL test database " + where + " (from DRIFTWATCH_TEST_POSTGRES, default " + defaultDSN + ") is unreachable: " + admin.err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s\nCI=true, so this is a failure: start PostgreSQL or point DRIFTWATCH_TEST_POSTGRES at one", msg)
		}
		t.Skipf("%s; skipping (under CI=true this fails)", msg)
	}
	return admin.pool, admin.dsn
}

// newSchema creates a schema of its own for a test, dropped at cleanup,
// and returns a DSN whose search_path is it.
func newSchema(t *testing.T) string {
	t.Helper()
	pool, dsn := adminPool(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "dw_test_" + hex.EncodeToString(b[:])
	if _, err := pool.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

// withSearchPath adds search_path=schema to a URL or key=value DSN.
func withSearchPath(t *testing.T, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse test DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	adminPool(t) // skip or fail once, not in every subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, newSchema(t))
	})
}

func TestMigrate(t *testing.T) {
	dsn := newSchema(t)
	applied, err := Migrate(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	files, err := migration.Load(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, f := range files {
		all = append(all, f.Name)
	}
	if !slices.Equal(applied, all) || all[0] != "0001_init" {
		t.Errorf("Migrate on a new schema applied %q, want %q", applied, all)
	}
	// The same DSN with a pool setting, as README suggests: the pool's, not
	// a server parameter.
	applied, err = Migrate(t.Context(), dsn+"&pool_max_conns=4")
	if err != nil {
		t.Fatalf("migrate with pool_max_conns in the DSN: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("Migrate on a current schema applied %q, want none", applied)
	}
}

// TestOpenTogether starts several collectors on a new schema at once: the
// advisory lock lets one migrate and the others find the schema current.
func TestOpenTogether(t *testing.T) {
	dsn := newSchema(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*Store, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("collector %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	var count int
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	files, err := migration.Load(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if count != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", count, len(files))
	}
}

func TestMigrateNewerDatabase(t *testing.T) {
	dsn := newSchema(t)
	s := open(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), "newer release") {
		t.Errorf("Migrate of a schema migrated by a newer release: error %v, want one asking for a newer release", err)
	}
}

func TestOpenMissingSchema(t *testing.T) {
	_, dsn := adminPool(t)
	_, err := Open(t.Context(), withSearchPath(t, dsn, "dw_test_no_such_schema"))
	if err == nil || !strings.Contains(err.Error(), "create it first") {
		t.Errorf("Open with a search_path of no schema: error %v, want one saying to create it", err)
	}
}
