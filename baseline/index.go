package baseline

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"sort"
	"strings"
)

// Index answers "is this item exactly as the snapshot has it?" for a
// snapshot in canonical encoding, without holding the snapshot: it keeps,
// per item, a 64-bit hash of the key, a 128-bit hash of the item's line and
// where the line is, about 40 bytes an item. Comparing an observed item
// costs encoding it and hashing the line. The items that differ are read
// back from the encoding when their drift is described.
type Index struct {
	src    io.ReaderAt
	header header
	lines  []indexLine
	byKey  []keyPos // sorted by hash, for lookups
	seed   maphash.Seed
	seed2  maphash.Seed // the line hash's second half
	digest Digest
}

type indexLine struct {
	off  int64
	len  uint32
	hash [2]uint64
}

type keyPos struct {
	hash uint64
	pos  uint32
}

// NewIndex indexes a canonical snapshot encoding (as Encode writes it) of
// size bytes, read through src, and checks its state digest. src must stay
// readable and unchanged while the index is used.
func NewIndex(src io.ReaderAt, size int64) (*Index, error) {
	x := &Index{src: src, seed: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	br := bufio.NewReaderSize(io.NewSectionReader(src, 0, size), 256<<10)
	head, err := br.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("index snapshot: header: %w", err)
	}
	i := bytes.Index(head, itemsMarker)
	if i < 0 || !bytes.HasSuffix(head, []byte("[\n")) {
		return nil, fmt.Errorf("index snapshot: not in canonical form")
	}
	h, recorded, _, ok, err := decodeHeaderOnly(head[:i])
	if err != nil || !ok {
		return nil, fmt.Errorf("index snapshot: header: not in canonical form")
	}
	x.header = h
	off := int64(len(head))
	hash := sha256.New()
	var line []byte
	line = appendString(line, h.Host.Name)
	line = append(line, '\n')
	hash.Write(line)
	p := &itemParser{intern: map[string]string{}}
	// Canonical lines of file items run to about 300 bytes: room for that
	// many items up front, instead of growing the slices 20 times.
	if n := (size - off) / 256; n > 0 && n < 1<<24 {
		x.lines = make([]indexLine, 0, n)
		x.byKey = make([]keyPos, 0, n)
	}
	var prev string
	for {
		l, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: gather it.
			long := append([]byte{}, l...)
			for err == bufio.ErrBufferFull {
				l, err = br.ReadSlice('\n')
				long = append(long, l...)
			}
			l = long
		}
		if err != nil {
			return nil, fmt.Errorf("index snapshot: truncated at byte %d", off)
		}
		start := off
		off += int64(len(l))
		l = l[:len(l)-1]
		if bytes.Equal(l, []byte("]}")) {
			break
		}
		l = bytes.TrimSuffix(l, []byte(","))
		key, _, err := p.key(l)
		if err != nil {
			return nil, fmt.Errorf("index snapshot: item %d: %w", len(x.lines), err)
		}
		if len(x.lines) > 0 && prev >= key {
			return nil, fmt.Errorf("index snapshot: item %d: key %q out of order", len(x.lines), EscapeBytes(key))
		}
		prev = key
		hash.Write(l)
		hash.Write([]byte{'\n'})
		x.lines = append(x.lines, indexLine{off: start, len: uint32(len(l)), hash: x.lineHash(l)})
		x.byKey = append(x.byKey, keyPos{hash: maphash.String(x.seed, key), pos: uint32(len(x.lines) - 1)})
	}
	var computed Digest
	hash.Sum(computed[:0])
	if !recorded.IsZero() && recorded != computed {
		return nil, fmt.Errorf("index snapshot: content does not match its digest (recorded %s, computed %s)", recorded.Short(), computed.Short())
	}
	x.digest = computed
	slices.SortFunc(x.byKey, func(a, b keyPos) int { return cmp.Compare(a.hash, b.hash) })
	return x, nil
}

// lineHash is a line's 128-bit hash: two 64-bit hashes under independent
// seeds, each in one call.
func (x *Index) lineHash(l []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(x.seed, l), maphash.Bytes(x.seed2, l)}
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
func (x *Index) Len() int { return len(x.lines) }

// Digest returns the snapshot's state digest.
func (x *Index) Digest() Digest { return x.digest }

// Host returns the snapshot's host.
func (x *Index) Host() Host { return x.header.Host }

// Match looks up the item with the given key and compares its encoding
// with line: found says the snapshot has the key, same that the item is
// exactly as line encodes it. An unchanged item costs no read.
func (x *Index) Match(key string, line []byte) (pos int, found, same bool) {
	h := maphash.String(x.seed, key)
	first := sort.Search(len(x.byKey), func(i int) bool { return x.byKey[i].hash >= h })
	for i := first; i < len(x.byKey) && x.byKey[i].hash == h; i++ {
		if p := int(x.byKey[i].pos); x.Same(p, line) {
			return p, true, true
		}
	}
	pos, found = x.find(key, h, first)
	return pos, found, false
}

// Find returns the position of the item with the given key. It reads the
// candidates' keys back from the encoding, so it is for the few items that
// differ, not for every observed one (see Match).
func (x *Index) Find(key string) (int, bool) {
	h := maphash.String(x.seed, key)
	return x.find(key, h, sort.Search(len(x.byKey), func(i int) bool { return x.byKey[i].hash >= h }))
}

// find checks the key of each candidate from byKey[first] on that has the
// key's hash h.
func (x *Index) find(key string, h uint64, first int) (int, bool) {
	for i := first; i < len(x.byKey) && x.byKey[i].hash == h; i++ {
		p := int(x.byKey[i].pos)
		if k, err := x.Key(p); err == nil && k == key {
			return p, true
		}
	}
	return 0, false
}

// Prefixed returns the positions of the items whose keys start with
// prefix, in key order. Items are sorted by key, so it reads a few keys to
// find the first and then each one in the range.
func (x *Index) Prefixed(prefix string) ([]int, error) {
	var err error
	first := sort.Search(len(x.lines), func(i int) bool {
		if err != nil {
			return true
		}
		var k string
		k, err = x.Key(i)
		return k >= prefix
	})
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", prefix, err)
	}
	var out []int
	for i := first; i < len(x.lines); i++ {
		k, err := x.Key(i)
		if err != nil {
			return nil, fmt.Errorf("search %q: %w", prefix, err)
		}
		if !strings.HasPrefix(k, prefix) {
			break
		}
		out = append(out, i)
	}
	return out, nil
}

// Same reports whether line, an item's canonical encoding, is exactly item
// i's.
func (x *Index) Same(i int, line []byte) bool {
	return uint32(len(line)) == x.lines[i].len && x.lineHash(line) == x.lines[i].hash
}

// Line reads the canonical encoding of item i.
func (x *Index) Line(i int) ([]byte, error) {
	l := x.lines[i]
	b := make([]byte, l.len)
	if _, err := x.src.ReadAt(b, l.off); err != nil {
		return nil, fmt.Errorf("read item %d: %w", i, err)
	}
	if x.lineHash(b) != l.hash {
		return nil, fmt.Errorf("read item %d: the encoding changed while it was in use", i)
	}
	return b, nil
}

// Key reads the key of item i.
func (x *Index) Key(i int) (string, error) {
	l, err := x.Line(i)
	if err != nil {
		return "", err
	}
	p := &itemParser{intern: map[string]string{}}
	k, _, err := p.key(l)
	return k, err
}

// Item reads and decodes item i.
func (x *Index) Item(i int) (Item, error) {
	l, err := x.Line(i)
	if err != nil {
		return Item{}, err
	}
	var it Item
	p := &itemParser{intern: map[string]string{}}
	if err := p.parse(l, &it); err != nil {
		return Item{}, fmt.Errorf("item %d: %w", i, err)
	}
	return it, nil
}

// Each reads every item line in order, with its key, and calls fn with
// them; fn must not keep line.
func (x *Index) Each(fn func(i int, key string, line []byte) error) error {
	if len(x.lines) == 0 {
		return nil
	}
	first, last := x.lines[0], x.lines[len(x.lines)-1]
	br := bufio.NewReaderSize(io.NewSectionReader(x.src, first.off, last.off+int64(last.len)+1-first.off), 256<<10)
	p := &itemParser{intern: map[string]string{}}
	buf := make([]byte, 0, 1024)
	for i, l := range x.lines {
		if cap(buf) < int(l.len)+2 {
			buf = make([]byte, 0, l.len+2)
		}
		sep := 2 // ",\n" after every line but the last
		if i == len(x.lines)-1 {
			sep = 1
		}
		b := buf[:int(l.len)+sep]
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("read items: %w", err)
		}
		line := b[:l.len]
		if x.lineHash(line) != l.hash {
			return fmt.Errorf("read item %d: the encoding changed while it was in use", i)
		}
		key, _, err := p.key(line)
		if err != nil {
			return fmt.Errorf("read item %d: %w", i, err)
		}
		if err := fn(i, key, line); err != nil {
			return err
		}
	}
	return nil
}

// AppendCanonical appends the item's canonical encoding: the bytes of its
// line in Encode's output, which Index compares.
func (it *Item) AppendCanonical(b []byte) []byte { return it.appendJSON(b) }
