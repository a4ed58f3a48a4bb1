package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store/internal/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

// beginner is what *pgxpool.Pool and *pgx.Conn share.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// migrate applies the pending migrations in one transaction, under an
// advisory lock for the current schema, and returns their names.
func migrate(ctx context.Context, db beginner) ([]string, error) {
	files, err := migration.Load(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // after Commit it does nothing

	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("current schema: %w", err)
	}
	if schema == nil {
		var sp string
		_ = tx.QueryRow(ctx, `SHOW search_path`).Scan(&sp)
		return nil, errors.New("no schema of the search_path (" + sp + ") exists: create it first")
	}
	// Collectors starting at once on the same schema migrate one after the
	// other; the lock ends with the transaction.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('driftwatch migrate ' || $1))`, *schema); err != nil {
		return nil, fmt.Errorf("lock schema %s for migration: %w", *schema, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	pending, err := migration.Pending(files, done)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, f := range pending {
		if _, err := tx.Exec(ctx, f.SQL); err != nil {
			return nil, fmt.Errorf("apply migration %s: %w", f.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			f.Version, f.Name, utc(time.Now())); err != nil {
			return nil, fmt.Errorf("record migration %s: %w", f.Name, err)
		}
		applied = append(applied, f.Name)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit migrations: %w", err)
	}
	return applied, nil
}
