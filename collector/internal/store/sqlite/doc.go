// Package sqlite is the collector's embedded store: store.Store on one
// SQLite file, through modernc.org/sqlite (pure Go, no cgo), for a
// collector that runs on one machine.
//
// The file is created with mode 0600 and runs in WAL mode with foreign keys
// on. All writes go through a pool of exactly one connection, in BEGIN
// IMMEDIATE transactions, so concurrent writers queue in the process
// instead of failing with SQLITE_BUSY; writes that queue up together are
// committed together, each in a savepoint of its own, with one sync of the
// WAL (group commit, see write). Reads use a separate read-only pool and
// never wait for a writer. A busy timeout covers other processes (such
// as a migrate command) that open the same file.
//
// The schema is versioned: migrations/NNNN_name.sql, embedded in the
// binary, are applied at Open in one transaction and recorded in the
// schema_migrations table.
package sqlite
