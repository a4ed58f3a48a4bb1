// Package migration reads the versioned schema migrations that each store
// implementation embeds in the binary, and decides which of them a
// database still needs. Applying them is the store's job: each dialect runs
// them in its own transaction and records them in schema_migrations.
package migration
