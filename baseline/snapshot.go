package baseline

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// FormatVersion is the version of the snapshot encoding written by Encode.
const FormatVersion = 1

// Host identifies the host a snapshot describes.
type Host struct {
	// Name is the host's name, by default its hostname.
	Name string `json:"name"`
	// ID is the identity the collector gave the host at enrollment, if any.
	ID string `json:"id,omitempty"`
	// Labels are the administrator's labels, such as role=web.
	Labels map[string]string `json:"labels,omitempty"`
}

// Source status values.
const (
	StatusOK      = "ok"      // the source ran and every item was read
	StatusPartial = "partial" // the source ran; some items carry an error
	StatusError   = "error"   // the source failed; it contributed no items
)

// SourceStatus records one source's run within a snapshot.
type SourceStatus struct {
	// Name is the source's name, e.g. "files.etc" or "packages".
	Name string `json:"name"`
	// Kind is the kind of items it produces.
	Kind string `json:"kind"`
	// Status is StatusOK, StatusPartial or StatusError.
	Status string `json:"status"`
	// Items is how many items it produced.
	Items int `json:"items"`
	// Took is how long it ran.
	Took time.Duration `json:"took"`
	// Error is why it failed, with StatusError.
	Error string `json:"error,omitempty"`
	// Warnings are the first problems met, with StatusPartial.
	Warnings []string `json:"warnings,omitempty"`
	// WarningCount is the number of problems met, which may exceed
	// len(Warnings).
	WarningCount int `json:"warning_count,omitempty"`
}

// Snapshot is every item of one host at one moment, sorted by key.
//
// The state it records is Host.Name and Items; Digest covers exactly those,
// so two snapshots of an unchanged host have the same Digest even though
// TakenAt and the sources' timings differ.
type Snapshot struct {
	// Format is the encoding version, FormatVersion when written by Encode.
	Format int `json:"format"`
	// Host is the host the snapshot describes.
	Host Host `json:"host"`
	// TakenAt is when the snapshot was taken.
	TakenAt time.Time `json:"taken_at"`
	// AgentVersion is the version of the agent that took it.
	AgentVersion string `json:"agent_version,omitempty"`
	// ConfigDigest is the digest of the agent configuration that produced it.
	ConfigDigest Digest `json:"config_digest,omitzero"`
	// Sources is how each source's run went, in name order.
	Sources []SourceStatus `json:"sources,omitempty"`
	// Items are the observed items, sorted by key, keys unique.
	Items []Item `json:"items"`
}

// Sort puts the items in key order and the sources in name order.
func (s *Snapshot) Sort() {
	sort.Slice(s.Items, func(i, j int) bool { return s.Items[i].Key < s.Items[j].Key })
	sort.Slice(s.Sources, func(i, j int) bool { return s.Sources[i].Name < s.Sources[j].Name })
}

// Validate checks the invariants Encode and Diff rely on: items sorted by key
// with no duplicate, each key with a kind.
func (s *Snapshot) Validate() error {
	for i := range s.Items {
		k := s.Items[i].Key
		if KindOf(k) == k || KindOf(k) == "" {
			return fmt.Errorf("item %d: key %q has no kind prefix", i, EscapeBytes(k))
		}
		if i > 0 {
			prev := s.Items[i-1].Key
			if prev == k {
				return fmt.Errorf("item %d: duplicate key %q", i, EscapeBytes(k))
			}
			if prev > k {
				return fmt.Errorf("item %d: key %q is out of order after %q", i, EscapeBytes(k), EscapeBytes(prev))
			}
		}
	}
	return nil
}

// Lookup returns the item with the given key, or nil.
func (s *Snapshot) Lookup(key string) *Item {
	i := sort.Search(len(s.Items), func(i int) bool { return s.Items[i].Key >= key })
	if i < len(s.Items) && s.Items[i].Key == key {
		return &s.Items[i]
	}
	return nil
}

// ContentDigests returns every content digest the items reference, sorted
// and unique.
func (s *Snapshot) ContentDigests() []Digest {
	seen := make(map[Digest]bool)
	var out []Digest
	for i := range s.Items {
		if c := s.Items[i].Content; !c.IsZero() && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

// Digest returns the digest of the snapshot's state: the host name and the
// canonical encoding of every item, in order.
func (s *Snapshot) Digest() Digest {
	h := sha256.New()
	b := make([]byte, 0, 512)
	b = appendString(b, s.Host.Name)
	b = append(b, '\n')
	h.Write(b)
	for i := range s.Items {
		b = s.Items[i].appendJSON(b[:0])
		b = append(b, '\n')
		h.Write(b)
	}
	var d Digest
	h.Sum(d[:0])
	return d
}

// header is the part of a snapshot that precedes its items in the encoding.
type header struct {
	Format       int            `json:"format"`
	Host         Host           `json:"host"`
	TakenAt      time.Time      `json:"taken_at"`
	AgentVersion string         `json:"agent_version,omitempty"`
	ConfigDigest Digest         `json:"config_digest,omitzero"`
	Digest       Digest         `json:"digest"`
	Sources      []SourceStatus `json:"sources,omitempty"`
}

// Encode writes the canonical encoding of s: one JSON object whose fields
// come in a fixed order, with one item per line so that encodings diff and
// stream well. The same snapshot always gives the same bytes. s must be
// sorted (see Validate).
func (s *Snapshot) Encode(w io.Writer) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	// The digest comes first in the header: one pass to hash the items,
	// one to write them, with no copy of the whole encoding in memory.
	h := header{
		Format: FormatVersion, Host: s.Host, TakenAt: s.TakenAt.UTC(), AgentVersion: s.AgentVersion,
		ConfigDigest: s.ConfigDigest, Digest: s.Digest(), Sources: s.Sources,
	}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("encode snapshot header: %w", err)
	}
	head := bytes.TrimSuffix(hb.Bytes(), []byte("}\n"))
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head)
	bw.WriteString(`,"items":[`)
	b := make([]byte, 0, 512)
	for i := range s.Items {
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = s.Items[i].appendJSON(b)
		bw.Write(b)
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return nil
}

// Marshal returns the canonical encoding of s.
func (s *Snapshot) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	if err := s.Encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode reads a snapshot written by Encode and checks it: the format
// version, the item order and, when the encoding carries one, the state
// digest. A snapshot whose items do not match its digest is an error.
func Decode(r io.Reader) (*Snapshot, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	return Unmarshal(data)
}

// Unmarshal decodes a snapshot from b; see Decode.
func Unmarshal(data []byte) (*Snapshot, error) {
	s, recorded, computed, ok, err := decodeCanonical(data)
	if err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if !ok {
		// Not in canonical form (reformatted, or written by other tools):
		// decode generically and compute the digest.
		var in struct {
			header
			Items []Item `json:"items"`
		}
		if err := json.Unmarshal(data, &in); err != nil {
			return nil, fmt.Errorf("decode snapshot: %w", err)
		}
		s = &Snapshot{Format: in.Format, Host: in.Host, TakenAt: in.TakenAt, AgentVersion: in.AgentVersion,
			ConfigDigest: in.ConfigDigest, Sources: in.Sources, Items: in.Items}
		recorded = in.Digest
		if in.Items != nil {
			if err := s.Validate(); err == nil {
				computed = s.Digest()
			}
		}
	}
	if s.Format != FormatVersion {
		return nil, fmt.Errorf("decode snapshot: format version %d is not supported (want %d)", s.Format, FormatVersion)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if !recorded.IsZero() && recorded != computed {
		return nil, fmt.Errorf("decode snapshot: content does not match its digest (recorded %s, computed %s)", recorded.Short(), computed.Short())
	}
	return s, nil
}
