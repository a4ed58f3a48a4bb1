// Package postgres is the collector's store for more than one machine:
// store.Store on PostgreSQL through pgx (pgxpool), so several collectors
// can share one database.
//
// The DSN is pgx's (a postgres:// URL or key=value pairs); a search_path
// in it (postgres://…/db?search_path=driftwatch) puts every table in that
// schema, which must exist.
//
// Concurrency rests on the database: enrollment takes a token's use with
// one conditional UPDATE, and a report's ingest and a baseline's approval
// lock the host's row first, so two collectors cannot interleave them.
//
// The schema is versioned: migrations/NNNN_name.sql, embedded in the
// binary, are applied at Open in one transaction that holds a
// transaction-level advisory lock for the schema, so collectors starting at
// once migrate one after the other, and are recorded in the
// schema_migrations table.
package postgres
