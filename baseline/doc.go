// Package baseline is driftwatch's domain model: the items a host's
// configuration is made of, the snapshots that record all of them at one
// moment, the approved baselines that document a host, and the drift between
// a baseline and a later snapshot.
//
// The package does no I/O and imports nothing else of driftwatch: the agent,
// the collector and the reporter all speak through these types. Everything in
// it is deterministic: items are kept sorted by key, the canonical encoding of
// a snapshot is the same bytes for the same state, and Diff is a pure function
// of two snapshots and the content they reference.
//
// Strings that come from a host (item keys, symlink targets) may hold bytes
// that are not valid UTF-8. They are kept exactly in memory; their JSON form
// carries a readable escaped text plus the exact bytes in base64, so they
// round-trip through every encoding.
package baseline
