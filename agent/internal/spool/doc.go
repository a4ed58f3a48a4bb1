// Package spool is the agent's durable outbox. Every report and event is
// appended to the spool, synced to disk, before it is sent; Drain sends
// the entries in order, retrying with backoff while the collector is
// away, and removes an entry only once the collector has acknowledged it.
// Nothing is lost to a restart, a kill -9 or the collector being away for
// days, and what the spool must drop to stay within its bound is recorded
// in a gap record queued in its place: never a silent drop.
//
// # On disk
//
//	spool_dir/                  mode 0700, locked (flock) by the agent using it
//	  lock                      holds the process ID of the agent using the spool
//	  next-id                   IDs below this are taken (reserved 4096 ahead)
//	  00000000000000a1.entry    one file per queued entry, named by its ID in hex
//	  rejected/                 entries the collector refused for good, as they were
//	  corrupt/                  damaged entry files, set aside on open or read
//
// An entry file is a header (magic, format version, the entry's ID, kind,
// reference, time, item keys, the body's length and CRC-32C, all under a
// CRC-32C of their own) and the body. It is written under a temporary
// name, synced, renamed into place and the directory synced, so an entry
// file is either complete or absent; a file that is not complete and
// intact (torn, corrupt, of an unknown format version) is moved to
// corrupt/ and logged, never half-read or sent. Only a small index of the
// entries is held in memory: no bodies, and item keys as unique handles, so
// that keys repeated by many reports are held once.
//
// Removing an acknowledged entry is not synced: after a crash it may be
// sent once more. The collector recognises a report it has by its
// sequence number (the entry's reference).
//
// # Bound, coalescing and gap records
//
// The entry files are bounded (Options.MaxBytes, 256 MiB by default). When
// an Append would go over, the spool makes room in two steps, each only as
// far as needed:
//
//  1. Superseded reports. A report is the full drift of the host at one
//     moment, so a report whose every item key a later report covers
//     repeats nothing the later one lacks for the current state. Such
//     reports are dropped, oldest first. What is lost is history (when a
//     change first appeared, intermediate values), so the drop is recorded
//     in a gap record of CauseSuperseded, and counted in Stats.Coalesced.
//  2. Oldest entries. Then the oldest entries of any kind are dropped and
//     recorded in a gap record of CauseSpoolFull (Stats.Dropped).
//
// The entry Drain is sending and gap records are never dropped. A gap
// record takes the ID of the newest entry it replaces, so it is sent in
// the place of its losses, before anything later; it merges with the
// queued gap record of the same cause not yet being sent, so a long outage
// yields one record per cause, not one per drop. A gap record is written
// (renamed over the newest entry it replaces) before the other entries are
// removed, and lists the ID ranges it replaces: a crash between the two is
// completed on the next Open, so that an entry is never both queued and
// reported lost.
//
// An entry the collector refuses for good (Drain's permanent errors) is
// moved to rejected/ and a gap record of CauseRejected takes its place,
// carrying the collector's error. That record is the next entry sent, so
// rejections do not merge. A gap record the collector refuses is moved to
// rejected/ and logged without another record, so that a collector
// refusing gap records cannot make the spool loop.
//
// The body of a gap record is a Gap in JSON, for the agent to turn into a
// collector event; Entry.Gap decodes it.
//
// # Guarantees and their limits
//
// Append returns once the entry is on disk. Every entry whose Append
// returned is, after any crash of the process, either queued, delivered,
// or accounted for in a gap record; a kill -9 at any instant leaves no
// torn entry. Durability against power loss rests on the file system
// honouring fsync.
package spool
