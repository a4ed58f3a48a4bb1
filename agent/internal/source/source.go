// Package source defines how driftwatch observes a host: a Source produces
// items, and Run runs a set of sources into one snapshot, timing each and
// recording its status.
//
// Each kind of source lives in its own package below this one (file,
// command, packages …); the package all lists them explicitly.
package source

import (
	"context"

	"github.com/driftwatch/driftwatch/baseline"
)

// Source produces the items of one part of a host's configuration.
//
// Collect observes the host and calls emit.Item once per item. A problem with
// one item (an unreadable file) is not an error of the source: the item is
// emitted with its Error field set and the problem is passed to emit.Warn.
// Collect returns an error only when the source as a whole could not run
// (its database is missing, the command does not exist); the snapshot then
// records the source as failed. Collect must return promptly when ctx is
// cancelled. It may call emit from several goroutines at once.
type Source interface {
	// Name is the source's unique name in a configuration: "files.etc",
	// "command.firewall", "packages".
	Name() string
	// Kind is the kind of item it produces (baseline.KindFile …).
	Kind() string
	// Collect observes the host; see the type's comment.
	Collect(ctx context.Context, emit Emitter) error
}

// Emitter receives what a source observes. Its methods are safe for
// concurrent use.
type Emitter interface {
	// Item records one item and returns it as recorded. content is the
	// item's raw text content when the source captures it (nil otherwise); it
	// is redacted and stored by the emitter, which fills in the item's
	// Content and Redacted fields. When content is nil, Content and Redacted
	// are kept as the source set them (a source that remembers unchanged
	// content from an earlier run passes them on). The source sets the item's
	// Digest to the SHA-256 of the raw content. content is valid only during
	// the call: the source may reuse its memory afterwards, so an emitter
	// copies what it keeps.
	Item(it baseline.Item, content []byte) baseline.Item
	// Warn records a problem that did not stop the source.
	Warn(err error)
}
