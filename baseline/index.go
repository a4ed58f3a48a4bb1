package baseline

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
)

// Index is a snapshot held in its canonical encoding, with an index of its
// item lines by key. It answers "is this item exactly as it was?" by
// comparing canonical encodings, so a check of 100,000 unchanged files never
// decodes them: it costs the encoding's bytes plus one key per item.
type Index struct {
	raw    []byte
	header header
	starts []uint32       // start of each item line in raw
	ends   []uint32       // end of each item line (before the newline)
	keyLen []uint32       // length of each line's key as it stands in raw, or slowKey
	slow   map[int]string // exact keys that are escaped in raw
	digest Digest
}

// NewIndex indexes a canonical snapshot encoding (as Encode writes it) and
// checks its state digest. It keeps data; the caller must not modify it.
func NewIndex(data []byte) (*Index, error) {
	i := bytes.Index(data, itemsMarker)
	if i < 0 {
		return nil, fmt.Errorf("index snapshot: not in canonical form")
	}
	x := &Index{raw: data}
	s, recorded, computed, ok, err := decodeHeaderOnly(data[:i])
	if err != nil || !ok {
		return nil, fmt.Errorf("index snapshot: header: not in canonical form")
	}
	x.header = s
	hash := sha256.New()
	var line []byte
	line = appendString(line, x.header.Host.Name)
	line = append(line, '\n')
	hash.Write(line)
	p := &itemParser{intern: map[string]string{}}
	pos := i + len(itemsMarker)
	n := bytes.Count(data[pos:], []byte("\n{"))
	x.starts = make([]uint32, 0, n)
	x.ends = make([]uint32, 0, n)
	x.keyLen = make([]uint32, 0, n)
	var prev string
	for {
		if pos >= len(data) || data[pos] != '\n' {
			return nil, fmt.Errorf("index snapshot: not in canonical form at byte %d", pos)
		}
		pos++
		if bytes.HasPrefix(data[pos:], []byte("]}")) {
			break
		}
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			return nil, fmt.Errorf("index snapshot: truncated")
		}
		end += pos
		lineEnd := end
		if data[lineEnd-1] == ',' {
			lineEnd--
		}
		key, plain, err := p.key(data[pos:lineEnd])
		if err != nil {
			return nil, fmt.Errorf("index snapshot: item %d: %w", len(x.keyLen), err)
		}
		if k := len(x.keyLen); k > 0 && prev >= key {
			return nil, fmt.Errorf("index snapshot: item %d: key %q out of order", k, EscapeBytes(key))
		}
		prev = key
		hash.Write(data[pos:lineEnd])
		hash.Write([]byte{'\n'})
		x.starts = append(x.starts, uint32(pos))
		x.ends = append(x.ends, uint32(lineEnd))
		if plain {
			x.keyLen = append(x.keyLen, uint32(len(key)))
		} else {
			if x.slow == nil {
				x.slow = map[int]string{}
			}
			x.slow[len(x.keyLen)] = key
			x.keyLen = append(x.keyLen, slowKey)
		}
		pos = end
	}
	hash.Sum(computed[:0])
	if !recorded.IsZero() && recorded != computed {
		return nil, fmt.Errorf("index snapshot: content does not match its digest (recorded %s, computed %s)", recorded.Short(), computed.Short())
	}
	x.digest = computed
	return x, nil
}

// decodeHeaderOnly decodes the header part of a canonical encoding.
func decodeHeaderOnly(head []byte) (header, Digest, Digest, bool, error) {
	data := append(append([]byte{}, head...), []byte(`,"items":[`+"\n]}")...)
	s, recorded, _, ok, err := decodeCanonical(data)
	if err != nil || !ok {
		return header{}, Digest{}, Digest{}, false, err
	}
	return header{Format: s.Format, Host: s.Host, TakenAt: s.TakenAt, AgentVersion: s.AgentVersion,
		ConfigDigest: s.ConfigDigest, Sources: s.Sources, Digest: recorded}, recorded, Digest{}, true, nil
}

// slowKey marks a key that is escaped in the encoding.
const slowKey = ^uint32(0)

// keyPrefix starts every item line.
const keyPrefix = `{"key":"`

// key returns the exact key of an item line without decoding the rest, and
// whether it stands unescaped in the line (right after keyPrefix).
func (p *itemParser) key(line []byte) (string, bool, error) {
	if !bytes.HasPrefix(line, []byte(keyPrefix)) {
		return "", false, errSyntax
	}
	rest := line[len(keyPrefix):]
	q := bytes.IndexByte(rest, '"')
	if q >= 0 && bytes.IndexByte(rest[:q], '\\') < 0 && !bytes.Contains(rest[q:], []byte(`"key_raw":`)) {
		return string(rest[:q]), true, nil
	}
	var it Item
	if err := p.parse(line, &it); err != nil {
		return "", false, err
	}
	return it.Key, false, nil
}

// Len returns the number of items.
func (x *Index) Len() int { return len(x.keyLen) }

// Digest returns the snapshot's state digest.
func (x *Index) Digest() Digest { return x.digest }

// Host returns the snapshot's host.
func (x *Index) Host() Host { return x.header.Host }

// Find returns the position of the item with the given key.
func (x *Index) Find(key string) (int, bool) {
	i := sort.Search(len(x.keyLen), func(i int) bool { return x.cmpKey(i, key) >= 0 })
	return i, i < len(x.keyLen) && x.cmpKey(i, key) == 0
}

// cmpKey compares item i's key with key, without allocating for plain keys.
func (x *Index) cmpKey(i int, key string) int {
	if n := x.keyLen[i]; n != slowKey {
		s := x.starts[i] + uint32(len(keyPrefix))
		return bytes.Compare(x.raw[s:s+n], []byte(key))
	}
	return strings.Compare(x.slow[i], key)
}

// Key returns the key of item i.
func (x *Index) Key(i int) string {
	if n := x.keyLen[i]; n != slowKey {
		s := x.starts[i] + uint32(len(keyPrefix))
		return string(x.raw[s : s+n])
	}
	return x.slow[i]
}

// Line returns the canonical encoding of item i.
func (x *Index) Line(i int) []byte { return x.raw[x.starts[i]:x.ends[i]] }

// Item decodes item i.
func (x *Index) Item(i int) (Item, error) {
	var it Item
	p := &itemParser{intern: map[string]string{}}
	if err := p.parse(x.Line(i), &it); err != nil {
		return Item{}, fmt.Errorf("item %d: %w", i, err)
	}
	return it, nil
}

// Snapshot decodes the whole snapshot.
func (x *Index) Snapshot() (*Snapshot, error) { return Unmarshal(x.raw) }

// AppendCanonical appends the item's canonical encoding: the bytes of its
// line in Encode's output, which Index compares.
func (it *Item) AppendCanonical(b []byte) []byte { return it.appendJSON(b) }

// DigestOf computes a snapshot's state digest from its host name and its
// items' canonical encodings, given in key order by next (which returns
// nil at the end).
func DigestOf(host string, next func() []byte) Digest {
	h := sha256.New()
	var b []byte
	b = appendString(b, host)
	b = append(b, '\n')
	h.Write(b)
	for line := next(); line != nil; line = next() {
		h.Write(line)
		h.Write([]byte{'\n'})
	}
	var d Digest
	h.Sum(d[:0])
	return d
}
