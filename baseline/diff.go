package baseline

import (
	"encoding/base64"
	"fmt"
	"time"
	"unicode/utf8"
)

// ChangeKind says how an item changed.
type ChangeKind string

// The ways an item can change between a baseline and a snapshot.
const (
	Added    ChangeKind = "added"
	Removed  ChangeKind = "removed"
	Modified ChangeKind = "modified"
)

// Notes a Change can carry about its content.
const (
	NoteRedactedChange = "content changed, redacted"
	NoteBinaryChange   = "content changed (binary or not captured, digest only)"
	NoteNoContent      = "content not available for a diff"
)

// AttrChange is one attribute's old and new value. An attribute that did not
// exist on one side has an empty value there.
type AttrChange struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// Change is one item's difference between a baseline and a snapshot.
type Change struct {
	// Key is the item's key, escaped for reading when it is not valid UTF-8.
	Key string `json:"key"`
	// KeyRaw is the exact key in base64, set only when Key had to be escaped.
	KeyRaw string `json:"key_raw,omitempty"`
	// Kind is the item's kind: file, package …
	Kind string `json:"kind"`
	// Source is the name of the source that observed the item.
	Source string `json:"source,omitempty"`
	// Change is added, removed or modified.
	Change ChangeKind `json:"change"`
	// Attrs holds every attribute that differs (for added and removed items,
	// every attribute), including the content digest as "sha256".
	Attrs map[string]AttrChange `json:"attrs,omitempty"`
	// ContentDiff is a unified diff of the text content, when both sides'
	// content is known. It is redacted like the content it compares.
	ContentDiff string `json:"content_diff,omitempty"`
	// Redacted says the content had secrets masked: a change inside a masked
	// span is reported but never shown.
	Redacted bool `json:"redacted"`
	// Note explains a content change that has no diff.
	Note string `json:"note,omitempty"`
	// Old is the item as the baseline has it (nil when added).
	Old *Item `json:"old,omitempty"`
	// New is the item as observed (nil when removed).
	New *Item `json:"new,omitempty"`
}

// ExactKey returns the change's exact key.
func (c *Change) ExactKey() string {
	if c.New != nil {
		return c.New.Key
	}
	if c.Old != nil {
		return c.Old.Key
	}
	if c.KeyRaw != "" {
		if b, err := base64.StdEncoding.DecodeString(c.KeyRaw); err == nil {
			return string(b)
		}
	}
	return c.Key
}

// Summary counts a drift's changes.
type Summary struct {
	Added    int `json:"added"`
	Removed  int `json:"removed"`
	Modified int `json:"modified"`
}

// Total is the number of changes.
func (s Summary) Total() int { return s.Added + s.Removed + s.Modified }

// Drift is the difference between a host's approved baseline and a snapshot,
// item by item, sorted by key.
type Drift struct {
	// Host is the host's name.
	Host string `json:"host"`
	// BaselineVersion is the approved baseline compared against; 0 when the
	// old side is not a baseline.
	BaselineVersion int `json:"baseline_version"`
	// BaselineDigest and SnapshotDigest are the state digests of both sides.
	BaselineDigest Digest `json:"baseline_digest"`
	SnapshotDigest Digest `json:"snapshot_digest"`
	// TakenAt is when the new snapshot was taken.
	TakenAt time.Time `json:"taken_at"`
	// Summary counts the changes.
	Summary Summary `json:"summary"`
	// Changes are the differing items, sorted by key.
	Changes []Change `json:"changes"`
	// Informational are the new states of items whose only differences are
	// informational attributes (a file touched, its content unchanged).
	// They are not drift; they let a reader rebuild the new snapshot from
	// the old one and the drift.
	Informational []Item `json:"informational,omitempty"`
}

// Empty reports whether nothing drifted.
func (d *Drift) Empty() bool { return len(d.Changes) == 0 }

// BlobSource gives stored content by digest. Blob returns an error when it
// does not hold the content; Diff then reports the change without a diff.
type BlobSource interface {
	Blob(d Digest) ([]byte, error)
}

// DiffOptions tunes Diff.
type DiffOptions struct {
	// Blobs gives the text content of items; nil means no content diffs.
	Blobs BlobSource
	// Context is the number of context lines in content diffs; 0 means
	// DefaultContext, a negative value none.
	Context int
}

// informational attributes are shown when an item changed for another reason
// but never make a change by themselves: touching a file is not drift.
var informational = map[string]bool{AttrMtime: true}

// IsInformational reports whether an attribute alone never counts as drift.
func IsInformational(attr string) bool { return informational[attr] }

// Diff compares a new snapshot with an old one (usually the approved
// baseline's) and returns the drift, item by item. It is a pure function of
// its arguments and the blobs they reference.
func Diff(old, new *Snapshot, opt DiffOptions) *Drift {
	return diff(old, new, old.Digest(), opt)
}

func diff(old, new *Snapshot, oldDigest Digest, opt DiffOptions) *Drift {
	d := &Drift{
		Host:           new.Host.Name,
		BaselineDigest: oldDigest,
		SnapshotDigest: new.Digest(),
		TakenAt:        new.TakenAt,
		Changes:        []Change{},
	}
	ctx := opt.Context
	switch {
	case ctx == 0:
		ctx = DefaultContext
	case ctx < 0:
		ctx = 0
	}
	i, j := 0, 0
	for i < len(old.Items) || j < len(new.Items) {
		switch {
		case j == len(new.Items) || (i < len(old.Items) && old.Items[i].Key < new.Items[j].Key):
			d.Changes = append(d.Changes, itemChange(&old.Items[i], nil, opt.Blobs, ctx))
			d.Summary.Removed++
			i++
		case i == len(old.Items) || new.Items[j].Key < old.Items[i].Key:
			d.Changes = append(d.Changes, itemChange(nil, &new.Items[j], opt.Blobs, ctx))
			d.Summary.Added++
			j++
		default:
			if c, ok := modified(&old.Items[i], &new.Items[j], opt.Blobs, ctx); ok {
				d.Changes = append(d.Changes, c)
				d.Summary.Modified++
			} else if !old.Items[i].Equal(&new.Items[j]) {
				d.Informational = append(d.Informational, new.Items[j])
			}
			i++
			j++
		}
	}
	return d
}

// DiffBaseline compares a snapshot with an approved baseline, whose state
// digest is the one its approval recorded.
func DiffBaseline(b *Baseline, snap *Snapshot, opt DiffOptions) *Drift {
	dg := b.SnapshotDigest
	if dg.IsZero() {
		dg = b.Snapshot.Digest()
	}
	d := diff(b.Snapshot, snap, dg, opt)
	d.BaselineVersion = b.Version
	return d
}

func newChange(it *Item, kind ChangeKind) Change {
	c := Change{Key: EscapeBytes(it.Key), Kind: it.Kind(), Source: it.Source, Change: kind, Attrs: map[string]AttrChange{}}
	if !utf8.ValidString(it.Key) {
		c.KeyRaw = base64.StdEncoding.EncodeToString([]byte(it.Key))
	}
	return c
}

// itemChange describes an added (old nil) or removed (new nil) item.
func itemChange(old, new *Item, blobs BlobSource, ctx int) Change {
	it, kind := new, Added
	if new == nil {
		it, kind = old, Removed
	}
	c := newChange(it, kind)
	c.Old, c.New = old, new
	for _, a := range it.Attrs {
		ac := AttrChange{New: EscapeBytes(a.Value)}
		if kind == Removed {
			ac = AttrChange{Old: EscapeBytes(a.Value)}
		}
		c.Attrs[a.Name] = ac
	}
	if !it.Digest.IsZero() {
		if kind == Added {
			c.Attrs[AttrSHA256] = AttrChange{New: it.Digest.String()}
		} else {
			c.Attrs[AttrSHA256] = AttrChange{Old: it.Digest.String()}
		}
	}
	if it.Error != "" {
		if kind == Added {
			c.Attrs[AttrError] = AttrChange{New: it.Error}
		} else {
			c.Attrs[AttrError] = AttrChange{Old: it.Error}
		}
	}
	c.Redacted = it.Redacted
	if !it.Content.IsZero() && blobs != nil {
		body, err := blobs.Blob(it.Content)
		if err != nil {
			c.Note = NoteNoContent
		} else if kind == Added {
			c.ContentDiff = UnifiedDiff("/dev/null", diffName("b", it), "", string(body), ctx)
		} else {
			c.ContentDiff = UnifiedDiff(diffName("a", it), "/dev/null", string(body), "", ctx)
		}
	}
	return c
}

// modified compares two items with the same key.
func modified(old, new *Item, blobs BlobSource, ctx int) (Change, bool) {
	c := newChange(new, Modified)
	c.Old, c.New = old, new
	changed := false
	oi, ni := 0, 0
	for oi < len(old.Attrs) || ni < len(new.Attrs) {
		var name, ov, nv string
		switch {
		case ni == len(new.Attrs) || (oi < len(old.Attrs) && old.Attrs[oi].Name < new.Attrs[ni].Name):
			name, ov = old.Attrs[oi].Name, old.Attrs[oi].Value
			oi++
		case oi == len(old.Attrs) || new.Attrs[ni].Name < old.Attrs[oi].Name:
			name, nv = new.Attrs[ni].Name, new.Attrs[ni].Value
			ni++
		default:
			name, ov, nv = new.Attrs[ni].Name, old.Attrs[oi].Value, new.Attrs[ni].Value
			oi++
			ni++
		}
		if ov == nv {
			continue
		}
		c.Attrs[name] = AttrChange{Old: EscapeBytes(ov), New: EscapeBytes(nv)}
		if !informational[name] {
			changed = true
		}
	}
	if old.Error != new.Error {
		c.Attrs[AttrError] = AttrChange{Old: old.Error, New: new.Error}
		changed = true
	}
	if old.Digest != new.Digest {
		changed = true
		c.Attrs[AttrSHA256] = AttrChange{Old: digestText(old.Digest), New: digestText(new.Digest)}
		c.Redacted = old.Redacted || new.Redacted
		switch {
		case old.Content.IsZero() || new.Content.IsZero():
			c.Note = NoteBinaryChange
		case old.Content == new.Content:
			c.Redacted = true
			c.Note = NoteRedactedChange
		case blobs == nil:
			c.Note = NoteNoContent
		default:
			a, errA := blobs.Blob(old.Content)
			b, errB := blobs.Blob(new.Content)
			if errA != nil || errB != nil {
				c.Note = NoteNoContent
				break
			}
			c.ContentDiff = UnifiedDiff(diffName("a", old), diffName("b", new), string(a), string(b), ctx)
		}
	} else if old.Content != new.Content || old.Redacted != new.Redacted {
		// Same raw bytes, different stored text: the redaction rules changed.
		// That is not drift on the host.
		c.Redacted = old.Redacted || new.Redacted
	}
	if !changed {
		return Change{}, false
	}
	return c, true
}

func digestText(d Digest) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// diffName is the name a content diff gives one side of an item: a/etc/x for
// files, a/command:firewall for others.
func diffName(side string, it *Item) string {
	if it.Kind() == KindFile {
		return side + EscapeBytes(it.Name())
	}
	return side + "/" + EscapeBytes(it.Key)
}

// String returns a one-line summary such as "2 added, 1 removed, 3 modified".
func (s Summary) String() string {
	return fmt.Sprintf("%d added, %d removed, %d modified", s.Added, s.Removed, s.Modified)
}
