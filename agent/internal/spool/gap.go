package spool

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"
)

// Causes of a gap record, in Gap.Cause.
const (
	// CauseSuperseded: the spool was full and reports were dropped whose
	// items every later report still queued covers. The current state
	// arrives with the later reports; what is lost is the history in
	// between (when each change first appeared, intermediate values).
	CauseSuperseded = "superseded"
	// CauseSpoolFull: the spool was full and the oldest entries were
	// dropped to make room for newer ones.
	CauseSpoolFull = "spool_full"
	// CauseRejected: the collector refused an entry for good (a permanent
	// error). The entry is kept under the spool's rejected/ directory.
	CauseRejected = "rejected"
)

// Caps on what a gap record's body lists. The record in the entry file's
// header keeps everything, so merging stays exact.
const (
	// MaxGapKeys is the most keys Gap.Keys lists.
	MaxGapKeys = 1000
	// MaxGapKeyBytes is the most bytes of key text Gap.Keys lists.
	MaxGapKeyBytes = 64 << 10
	// MaxGapRefRanges is the most ranges GapKind.Refs lists.
	MaxGapRefRanges = 1000
	// maxDetail bounds the error text a rejection keeps.
	maxDetail = 1024
)

// Gap is the body of a gap record (an Entry of kind "gap"): what the spool
// lost, when and why. The spool queues one in the place of what it drops,
// so a loss reaches the collector in order and is never silent. Losses of
// the same cause (and, for rejections, the same error) merge into the
// newest gap record not yet sent rather than piling up.
//
// An example body:
//
//	{
//	  "cause": "spool_full",
//	  "reason": "spool full (256.0 MiB): the oldest entries were dropped while the collector did not accept them",
//	  "entries": 3,
//	  "bytes": 5123,
//	  "first_at": "2026-11-23T02:00:00Z",
//	  "last_at": "2026-11-23T02:10:00Z",
//	  "kinds": {
//	    "event": {"entries": 1},
//	    "report": {"entries": 2, "first_ref": 41, "last_ref": 43,
//	               "refs": [{"first": 41, "last": 41}, {"first": 43, "last": 43}]}
//	  },
//	  "keys": ["file:/etc/motd", "package:openssl"],
//	  "recorded_at": "2026-11-23T05:59:00Z",
//	  "updated_at": "2026-11-23T06:00:00Z"
//	}
type Gap struct {
	// Cause is CauseSuperseded, CauseSpoolFull or CauseRejected.
	Cause string `json:"cause"`
	// Reason says the cause in a sentence for people; for a rejection it
	// carries the collector's error.
	Reason string `json:"reason"`
	// Entries is how many entries were lost.
	Entries int `json:"entries"`
	// Bytes is the size the lost entries had on disk.
	Bytes int64 `json:"bytes"`
	// FirstAt and LastAt are when the oldest and the newest lost entry
	// were appended.
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
	// Kinds tells, per entry kind ("report", "event" ...), how many
	// entries were lost and which caller references they carried.
	Kinds map[string]GapKind `json:"kinds"`
	// Keys lists the item keys the lost entries covered, sorted, at most
	// MaxGapKeys keys or MaxGapKeyBytes bytes of them.
	Keys []string `json:"keys,omitempty"`
	// MoreKeys counts the further distinct keys Keys leaves out.
	MoreKeys int `json:"more_keys,omitempty"`
	// Rejected names the files under the spool's rejected/ directory that
	// keep the entries the collector refused (CauseRejected only).
	Rejected []string `json:"rejected,omitempty"`
	// RecordedAt is when the first loss in this record happened;
	// UpdatedAt when the last one merged into it did.
	RecordedAt time.Time `json:"recorded_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// GapKind sums up the lost entries of one kind.
type GapKind struct {
	// Entries is how many entries of this kind were lost.
	Entries int `json:"entries"`
	// FirstRef and LastRef are the smallest and largest non-zero caller
	// reference among them (for reports: their sequence numbers); zero
	// when none had one.
	FirstRef uint64 `json:"first_ref,omitempty"`
	LastRef  uint64 `json:"last_ref,omitempty"`
	// Refs lists those references as sorted, disjoint ranges, at most
	// MaxGapRefRanges of them: a reference between FirstRef and LastRef
	// that no range holds was not lost.
	Refs []RefRange `json:"refs,omitempty"`
	// MoreRefs counts the references in ranges Refs leaves out.
	MoreRefs uint64 `json:"more_refs,omitempty"`
}

// RefRange is an inclusive range of caller references.
type RefRange struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// Gap decodes the body of a gap record.
func (e Entry) Gap() (Gap, error) {
	if e.Kind != KindGap {
		return Gap{}, fmt.Errorf("spool entry %d: kind %q is not a gap record", e.ID, e.Kind)
	}
	var g Gap
	if err := json.Unmarshal(e.Body, &g); err != nil {
		return Gap{}, fmt.Errorf("spool entry %d: gap record: %w", e.ID, err)
	}
	return g, nil
}

// gapState is a gap record being built: the full Gap, with keys held as a
// set while losses are added.
type gapState struct {
	g    Gap
	keys map[string]struct{}
}

func newGapState(cause, reason string, now time.Time) *gapState {
	return &gapState{
		g:    Gap{Cause: cause, Reason: reason, Kinds: map[string]GapKind{}, RecordedAt: now, UpdatedAt: now},
		keys: map[string]struct{}{},
	}
}

// absorb merges an earlier record of the same cause into s: s then tells
// of both. The earlier record keeps its time of recording.
func (s *gapState) absorb(o *Gap) {
	s.g.Entries += o.Entries
	s.g.Bytes += o.Bytes
	s.span(o.FirstAt)
	s.span(o.LastAt)
	for kind, ok := range o.Kinds {
		k := s.g.Kinds[kind]
		k.Entries += ok.Entries
		k.Refs = normalizeRefs(append(slices.Clone(k.Refs), ok.Refs...))
		k.setBounds()
		s.g.Kinds[kind] = k
	}
	for _, key := range o.Keys {
		s.keys[key] = struct{}{}
	}
	s.g.Rejected = append(o.Rejected[:len(o.Rejected):len(o.Rejected)], s.g.Rejected...)
	if !o.RecordedAt.IsZero() && o.RecordedAt.Before(s.g.RecordedAt) {
		s.g.RecordedAt = o.RecordedAt
	}
}

// add records the loss of one entry.
func (s *gapState) add(m *meta) {
	s.g.Entries++
	s.g.Bytes += m.size
	s.span(m.at)
	k := s.g.Kinds[m.kind]
	k.Entries++
	if m.ref != 0 {
		k.Refs = addRef(k.Refs, m.ref)
		k.setBounds()
	}
	s.g.Kinds[m.kind] = k
	for _, h := range m.keys {
		s.keys[h.Value()] = struct{}{}
	}
}

func (s *gapState) span(t time.Time) {
	if t.IsZero() {
		return
	}
	if s.g.FirstAt.IsZero() || t.Before(s.g.FirstAt) {
		s.g.FirstAt = t
	}
	if t.After(s.g.LastAt) {
		s.g.LastAt = t
	}
}

// full returns the complete record, every key and reference listed.
func (s *gapState) full() *Gap {
	g := s.g
	g.Kinds = make(map[string]GapKind, len(s.g.Kinds))
	for kind, k := range s.g.Kinds {
		k.Refs = slices.Clone(k.Refs)
		g.Kinds[kind] = k
	}
	g.Rejected = slices.Clone(s.g.Rejected)
	g.Keys = slices.Sorted(maps.Keys(s.keys))
	g.MoreKeys = 0
	return &g
}

// capped returns the record as a gap record's body lists it.
func (g *Gap) capped() Gap {
	c := *g
	c.Keys, c.MoreKeys = nil, 0
	n := 0
	for i, k := range g.Keys {
		if i >= MaxGapKeys || n+len(k) > MaxGapKeyBytes {
			c.MoreKeys = len(g.Keys) - i
			break
		}
		n += len(k)
		c.Keys = append(c.Keys, k)
	}
	c.Kinds = make(map[string]GapKind, len(g.Kinds))
	for kind, k := range g.Kinds {
		if len(k.Refs) > MaxGapRefRanges {
			for _, r := range k.Refs[MaxGapRefRanges:] {
				k.MoreRefs += r.Last - r.First + 1
			}
			k.Refs = k.Refs[:MaxGapRefRanges:MaxGapRefRanges]
		}
		c.Kinds[kind] = k
	}
	return c
}

func (k *GapKind) setBounds() {
	if len(k.Refs) > 0 {
		k.FirstRef, k.LastRef = k.Refs[0].First, k.Refs[len(k.Refs)-1].Last
	}
}

// addRef adds ref to sorted, disjoint ranges.
func addRef(rs []RefRange, ref uint64) []RefRange {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Last >= ref })
	switch {
	case i < len(rs) && rs[i].First <= ref:
		return rs // already held
	case i < len(rs) && rs[i].First == ref+1:
		rs[i].First = ref
		if i > 0 && rs[i-1].Last+1 == ref {
			rs[i-1].Last = rs[i].Last
			rs = slices.Delete(rs, i, i+1)
		}
		return rs
	case i > 0 && rs[i-1].Last+1 == ref:
		rs[i-1].Last = ref
		return rs
	}
	return slices.Insert(rs, i, RefRange{First: ref, Last: ref})
}

// normalizeRefs sorts ranges and merges those that overlap or touch.
func normalizeRefs(rs []RefRange) []RefRange {
	slices.SortFunc(rs, func(a, b RefRange) int { return cmp.Compare(a.First, b.First) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}
