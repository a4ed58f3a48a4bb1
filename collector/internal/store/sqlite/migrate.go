package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store/internal/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies the pending migrations in one write transaction and
// returns their names.
func migrate(ctx context.Context, w *sql.DB) ([]string, error) {
	files, err := migration.Load(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	tx, err := w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return nil, fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit it does nothing

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	var done []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		done = append(done, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	rows.Close()
	pending, err := migration.Pending(files, done)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, f := range pending {
		if _, err := tx.ExecContext(ctx, f.SQL); err != nil {
			return nil, fmt.Errorf("apply migration %s: %w", f.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			f.Version, f.Name, fmtTime(time.Now())); err != nil {
			return nil, fmt.Errorf("record migration %s: %w", f.Name, err)
		}
		applied = append(applied, f.Name)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit migrations: %w", err)
	}
	return applied, nil
}
