package baseline

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"
)

// Builder collects a snapshot's items in their canonical encoding as they
// are observed, in any order, and writes the canonical snapshot encoding.
// It holds each item as its encoded line in large byte chunks, with no
// pointers for the garbage collector to follow: a snapshot of 100,000 files
// costs about the size of its encoding. It is not safe for concurrent use.
type Builder struct {
	chunks  [][]byte
	recs    []lineRec
	slow    map[int]string // exact keys escaped in their line, by rec index
	content map[Digest]struct{}
	sorted  bool
	scratch []byte
}

// lineRec locates one item line.
type lineRec struct {
	chunk  uint32
	off    uint32
	length uint32
	keyLen uint32 // length of the plain key in the line, or slowKey
	tag    uint32 // the caller's tag (the source that observed the item)
}

const chunkSize = 1 << 20

// NewBuilder returns a builder with room for about n items.
func NewBuilder(n int) *Builder {
	return &Builder{recs: make([]lineRec, 0, n), content: map[Digest]struct{}{}}
}

// Add encodes it and keeps it with tag.
func (b *Builder) Add(it *Item, tag int) {
	b.scratch = it.appendJSON(b.scratch[:0])
	b.AddEncoded(it, b.scratch, tag)
}

// AddEncoded keeps it, whose canonical encoding line the caller made with
// AppendCanonical (so that several goroutines can encode at once and only
// the copy into the builder is serialised).
func (b *Builder) AddEncoded(it *Item, line []byte, tag int) {
	n := len(b.chunks)
	if n == 0 || len(b.chunks[n-1])+len(line) > cap(b.chunks[n-1]) {
		b.chunks = append(b.chunks, make([]byte, 0, max(chunkSize, len(line))))
		n++
	}
	start := len(b.chunks[n-1])
	b.chunks[n-1] = append(b.chunks[n-1], line...)
	r := lineRec{chunk: uint32(n - 1), off: uint32(start), length: uint32(len(line)), tag: uint32(tag)}
	rest := line[len(keyPrefix):]
	if q := bytes.IndexByte(rest, '"'); q == len(it.Key) && string(rest[:q]) == it.Key {
		r.keyLen = uint32(q)
	} else {
		r.keyLen = slowKey
		if b.slow == nil {
			b.slow = map[int]string{}
		}
		b.slow[len(b.recs)] = it.Key
	}
	b.recs = append(b.recs, r)
	if !it.Content.IsZero() {
		b.content[it.Content] = struct{}{}
	}
	b.sorted = false
}

func (b *Builder) line(r *lineRec) []byte {
	return b.chunks[r.chunk][r.off : r.off+r.length]
}

func (b *Builder) key(i int) []byte {
	r := &b.recs[i]
	if r.keyLen == slowKey {
		return []byte(b.slow[i])
	}
	l := b.line(r)
	return l[len(keyPrefix) : len(keyPrefix)+int(r.keyLen)]
}

// Len returns the number of items.
func (b *Builder) Len() int { return len(b.recs) }

// Truncate forgets every item added after the first n (before any Dedupe).
func (b *Builder) Truncate(n int) {
	for i := n; i < len(b.recs); i++ {
		delete(b.slow, i)
	}
	b.recs = b.recs[:n]
}

// Dedupe sorts the items by key and, where several share a key, keeps the
// one with the lowest tag; drop is called for each item left out, with its
// key, its tag and the kept item's tag.
func (b *Builder) Dedupe(drop func(key string, tag, keptTag int)) {
	// Keys share a long prefix (file:/etc/…): each record carries the 4
	// bytes that follow the prefix common to all keys, so that most
	// comparisons are one of two integers and touch no key.
	p := b.commonPrefix()
	sorted := make([]sortRec, len(b.recs))
	for i := range sorted {
		sorted[i] = sortRec{next: nextBytes(b.key(i), p), i: uint32(i)}
	}
	// Sort by key, then tag, then order of arrival: deterministic without a
	// stable sort, which is slower.
	less := func(x, y sortRec) int {
		if x.next != y.next {
			return cmp.Compare(x.next, y.next)
		}
		if c := bytes.Compare(b.key(int(x.i))[p:], b.key(int(y.i))[p:]); c != 0 {
			return c
		}
		if tx, ty := b.recs[x.i].tag, b.recs[y.i].tag; tx != ty {
			return cmp.Compare(tx, ty)
		}
		return cmp.Compare(x.i, y.i)
	}
	sorted = parallelSort(sorted, less)
	recs := make([]lineRec, 0, len(sorted))
	var slow map[int]string
	for k, r := range sorted {
		i := int(r.i)
		if k > 0 && bytes.Equal(b.key(int(sorted[k-1].i)), b.key(i)) {
			kept := recs[len(recs)-1].tag
			drop(string(b.key(i)), int(b.recs[i].tag), int(kept))
			continue
		}
		if b.recs[i].keyLen == slowKey {
			if slow == nil {
				slow = map[int]string{}
			}
			slow[len(recs)] = b.slow[i]
		}
		recs = append(recs, b.recs[i])
	}
	b.recs, b.slow, b.sorted = recs, slow, true
}

// sortRec is one item in Dedupe's sort: the 4 key bytes after the common
// prefix, big-endian (zero-padded past the key's end), and its index; 8
// bytes in all.
type sortRec struct {
	next uint32
	i    uint32
}

// commonPrefix returns the length of the prefix all keys share.
func (b *Builder) commonPrefix() int {
	if len(b.recs) == 0 {
		return 0
	}
	first := b.key(0)
	p := len(first)
	for i := 1; i < len(b.recs) && p > 0; i++ {
		k := b.key(i)
		n := min(p, len(k))
		j := 0
		for j < n && k[j] == first[j] {
			j++
		}
		p = j
	}
	return p
}

// nextBytes returns the 4 bytes of key from p as a big-endian integer,
// zero-padded past the key's end. When two keys' values differ they order
// the keys as bytes.Compare does: a key that ends early is a prefix of the
// other, or differs from it at an earlier byte.
func nextBytes(key []byte, p int) uint32 {
	var v uint32
	for j := range 4 {
		v <<= 8
		if p+j < len(key) {
			v |= uint32(key[p+j])
		}
	}
	return v
}

// ContentDigests returns the content digests the items reference.
func (b *Builder) ContentDigests() []Digest {
	out := make([]Digest, 0, len(b.content))
	for d := range b.content {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

// Encoded is a finished snapshot in canonical encoding: the header fields
// and the items of a Builder, sorted.
type Encoded struct {
	// Header fields as in Snapshot.
	Host         Host
	TakenAt      time.Time
	AgentVersion string
	ConfigDigest Digest
	Sources      []SourceStatus
	b            *Builder
	digest       Digest
}

// Finish sorts the items (see Dedupe; duplicates must have been handled)
// and returns the encoded snapshot.
func (b *Builder) Finish(host Host, takenAt time.Time) *Encoded {
	if !b.sorted {
		b.Dedupe(func(string, int, int) {})
	}
	e := &Encoded{Host: host, TakenAt: takenAt.UTC(), b: b}
	h := sha256.New()
	// The lines go to the hash in blocks of about 64 KiB, not two writes
	// per item.
	buf := make([]byte, 0, 64<<10)
	buf = appendString(buf, host.Name)
	buf = append(buf, '\n')
	for i := range b.recs {
		l := b.line(&b.recs[i])
		if len(buf)+len(l)+1 > cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
		if len(l)+1 > cap(buf) {
			h.Write(l)
			h.Write([]byte{'\n'})
			continue
		}
		buf = append(buf, l...)
		buf = append(buf, '\n')
	}
	h.Write(buf)
	h.Sum(e.digest[:0])
	return e
}

// Digest returns the snapshot's state digest.
func (e *Encoded) Digest() Digest { return e.digest }

// Len returns the number of items.
func (e *Encoded) Len() int { return len(e.b.recs) }

// ContentDigests returns the content digests the items reference.
func (e *Encoded) ContentDigests() []Digest { return e.b.ContentDigests() }

// Encode writes the canonical encoding, the same bytes Snapshot.Encode
// writes for the same snapshot.
func (e *Encoded) Encode(w io.Writer) error {
	h := header{Format: FormatVersion, Host: e.Host, TakenAt: e.TakenAt, AgentVersion: e.AgentVersion,
		ConfigDigest: e.ConfigDigest, Digest: e.digest, Sources: e.Sources}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("encode snapshot header: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.Write(bytes.TrimSuffix(hb.Bytes(), []byte("}\n")))
	bw.WriteString(`,"items":[`)
	for i := range e.b.recs {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		bw.Write(e.b.line(&e.b.recs[i]))
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return nil
}

// Snapshot decodes the encoded snapshot into a Snapshot.
func (e *Encoded) Snapshot() (*Snapshot, error) {
	var buf bytes.Buffer
	if err := e.Encode(&buf); err != nil {
		return nil, err
	}
	return Unmarshal(buf.Bytes())
}

// parallelSort sorts s with cmp, the halves of a large slice on two
// goroutines, then merges them. The result is the same as slices.SortFunc's
// for a total order.
func parallelSort[T any](s []T, cmp func(a, b T) int) []T {
	if len(s) < 1<<14 {
		slices.SortFunc(s, cmp)
		return s
	}
	mid := len(s) / 2
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		slices.SortFunc(s[:mid], cmp)
	}()
	slices.SortFunc(s[mid:], cmp)
	wg.Wait()
	out := make([]T, 0, len(s))
	i, j := 0, mid
	for i < mid && j < len(s) {
		if cmp(s[i], s[j]) <= 0 {
			out = append(out, s[i])
			i++
		} else {
			out = append(out, s[j])
			j++
		}
	}
	out = append(out, s[i:mid]...)
	return append(out, s[j:]...)
}
