// Package audit is the tamper-evident audit log's chain: the hash of an
// entry, the verification of a chain and its export as JSON Lines. It does
// no I/O of its own; the store keeps the entries and appends them.
//
// Every tenant has one chain. Its entries are numbered 1, 2, 3 … without a
// gap, and each entry's hash covers its content and the previous entry's
// hash, so that altering, removing or reordering an entry breaks the chain
// at that point. Removing the newest entries leaves a shorter chain that is
// still whole; the head (the newest sequence number and hash) recorded
// elsewhere — the store keeps one, and a digest email can quote it — tells
// that apart (see Verifier.End).
//
// # Hash encoding (version 1)
//
// An entry's hash is the lowercase hex SHA-256 of these bytes, in this
// order:
//
//	"driftwatch-audit-v1\n"           the 20-byte tag
//	seq                               8 bytes, unsigned big-endian
//	at                                8 bytes, signed big-endian: microseconds
//	                                  since 1970-01-01T00:00:00Z
//	tenant, actor, action, subject,   each as a 4-byte unsigned big-endian
//	detail, prev                      length followed by that many bytes
//
// detail is the entry's JSON detail with insignificant white space removed
// (as encoding/json's Compact does; key order and string escapes are kept),
// or its bytes as they are when it is not valid JSON; an entry without
// detail has zero bytes there. prev is the previous entry's hash as 64
// lowercase hex characters, and empty for the first entry of a chain.
//
// Anyone can check an exported chain with these rules and a SHA-256
// implementation; ExportJSONLines and ReadJSONLines write and read the
// export format.
package audit
