package sqlite

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/internal/migration"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "driftwatch.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "driftwatch.db")
	applied, err := Migrate(t.Context(), path)
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
		t.Errorf("Migrate on a new file applied %q, want %q", applied, all)
	}
	applied, err = Migrate(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Errorf("Migrate on a current file applied %q, want none", applied)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open after Migrate: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", n, len(files))
	}
}

func TestMigrateNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "driftwatch.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', '')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(t.Context(), path); err == nil {
		t.Errorf("Open of a database migrated by a newer release: no error")
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "driftwatch.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateTenant(t.Context(), "a", "Acme", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The data file and the WAL beside it are the owner's alone.
	for _, name := range []string{"driftwatch.db", "driftwatch.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, perm)
		}
	}
	for _, pragma := range []struct{ name, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := s.w.QueryRowContext(t.Context(), "PRAGMA "+pragma.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != pragma.want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma.name, got, pragma.want)
		}
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool allows %d connections, want 1", got)
	}

	for _, bad := range []string{"", ":memory:", "file:x.db", filepath.Join(dir, "x.db?mode=ro")} {
		if s, err := Open(t.Context(), bad); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", bad)
		}
	}
}
