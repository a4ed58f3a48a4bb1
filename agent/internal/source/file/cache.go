package file

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/driftwatch/driftwatch/baseline"
)

// cacheMagic starts a cache file; its last byte is the format version.
// Version 3 ends with a CRC-32C of everything before it.
var cacheMagic = []byte("DWSCAN\x00\x03")

// crcSize is the size of the checksum that ends a cache file.
const crcSize = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is what the cache remembers of one regular file: the stat fields
// that change whenever its content may have, and what reading it gave.
type Entry struct {
	Size     int64
	Mtime    int64 // nanoseconds
	Ctime    int64 // nanoseconds
	Ino      uint64
	Dev      uint64
	Digest   baseline.Digest
	Content  baseline.Digest
	Redacted bool
}

// entrySize is the encoded size of an entry with its path hash and flags.
const entrySize = 8 + 5*8 + 2*32 + 1

type slot struct {
	Entry
	key  uint64 // the path's hash
	seen bool   // stored during this scan
}

// Cache remembers file digests between scans so that an unchanged file is
// not read again. Paths are kept as 64-bit hashes, so a cache of 100,000
// files takes about 12 MB; a hash collision would need the same size,
// times, inode and device as well to be trusted. The cache is tied to the
// digest of the configuration that built it: another configuration (other
// redaction rules, another size cap) starts from an empty cache. It is safe
// for concurrent use.
//
// The cache file is a cache, not a record: it is replaced atomically
// (temporary file and rename) but not synced to disk, and a checksum over
// the whole file guards it. A file a crash left damaged fails the checksum
// and is ignored; the next scan then reads every file.
type Cache struct {
	mu     sync.Mutex
	config baseline.Digest
	// The entries are kept in fixed-size chunks, numbered in order; the map
	// holds their number. Growing the map moves 12 bytes per entry instead
	// of a whole entry, and the chunks never move.
	index  map[uint64]uint32
	chunks [][]slot
	n      int // entries held
	loaded int // entries loaded from the file: numbers 0 to loaded-1
	dirty  bool
}

// slotChunk is how many entries a chunk holds.
const slotChunk = 4096

// NewCache returns an empty cache for a configuration.
func NewCache(config baseline.Digest) *Cache {
	return &Cache{config: config, index: map[uint64]uint32{}}
}

// find returns the slot of the path with hash h, or nil.
func (c *Cache) find(h uint64) *slot {
	i, ok := c.index[h]
	if !ok {
		return nil
	}
	return c.at(int(i))
}

// at returns entry number i.
func (c *Cache) at(i int) *slot { return &c.chunks[i/slotChunk][i%slotChunk] }

// add appends s as a new entry.
func (c *Cache) add(s slot) {
	if c.n%slotChunk == 0 {
		c.chunks = append(c.chunks, make([]slot, slotChunk))
	}
	*c.at(c.n) = s
	c.index[s.key] = uint32(c.n)
	c.n++
}

// each calls f for every entry, in the order they were added.
func (c *Cache) each(f func(s *slot)) {
	for i := range c.n {
		f(c.at(i))
	}
}

// pathHash is the 64-bit FNV-1a hash of path, computed without allocating.
func pathHash(path string) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(path); i++ {
		h ^= uint64(path[i])
		h *= prime64
	}
	return h
}

// LoadCache reads the cache at path. A missing, unreadable or outdated cache
// is not an error: the scan then reads every file, and the returned error
// only says why the cache was not used.
func LoadCache(path string, config baseline.Digest) (*Cache, error) {
	c := NewCache(config)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return c, nil
		}
		return c, fmt.Errorf("load scan cache %s: %w", path, err)
	}
	if !bytes.HasPrefix(data, cacheMagic) || len(data) < len(cacheMagic)+32+8+crcSize {
		return c, fmt.Errorf("load scan cache %s: not a scan cache of this version", path)
	}
	body, sum := data[:len(data)-crcSize], binary.LittleEndian.Uint32(data[len(data)-crcSize:])
	if crc32.Checksum(body, castagnoli) != sum {
		return c, fmt.Errorf("load scan cache %s: truncated or damaged (checksum mismatch)", path)
	}
	data = body[len(cacheMagic):]
	var cfg baseline.Digest
	copy(cfg[:], data[:32])
	n := binary.LittleEndian.Uint64(data[32:40])
	data = data[40:]
	if cfg != config {
		return c, nil
	}
	if uint64(len(data)) != n*entrySize {
		return c, fmt.Errorf("load scan cache %s: truncated", path)
	}
	c.index = make(map[uint64]uint32, n)
	for i := range int(n) {
		rec := data[i*entrySize : (i+1)*entrySize]
		var s slot
		key := binary.LittleEndian.Uint64(rec[0:])
		s.key = key
		s.Size = int64(binary.LittleEndian.Uint64(rec[8:]))
		s.Mtime = int64(binary.LittleEndian.Uint64(rec[16:]))
		s.Ctime = int64(binary.LittleEndian.Uint64(rec[24:]))
		s.Ino = binary.LittleEndian.Uint64(rec[32:])
		s.Dev = binary.LittleEndian.Uint64(rec[40:])
		copy(s.Digest[:], rec[48:80])
		copy(s.Content[:], rec[80:112])
		s.Redacted = rec[112] == 1
		if old := c.find(key); old != nil {
			*old = s // a repeated key: the last one counts
			continue
		}
		c.add(s)
	}
	c.loaded = c.n
	return c, nil
}

// Lookup returns the remembered entry for path.
func (c *Cache) Lookup(path string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.find(pathHash(path))
	if s == nil {
		return Entry{}, false
	}
	return s.Entry, true
}

// loadedEntry returns the entry the cache was loaded with for the path with
// hash h, or nil: a file without one cannot be found unchanged. The
// entry stays where it is (entries never move); reuse reads it under the
// lock.
func (c *Cache) loadedEntry(h uint64) *slot {
	if c.loaded == 0 { // set before the cache is shared, never after
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[h]
	if !ok || int(i) >= c.loaded {
		return nil
	}
	return c.at(int(i))
}

// reuse returns the loaded entry s when its stat fields (size, times,
// inode, device) equal those of stat, and keeps it for the next scan: one
// lookup (loadedEntry) and one lock here for an unchanged file, the
// common case of an incremental scan.
func (c *Cache) reuse(s *slot, stat Entry) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Size != stat.Size || s.Mtime != stat.Mtime || s.Ctime != stat.Ctime || s.Ino != stat.Ino || s.Dev != stat.Dev {
		return Entry{}, false
	}
	s.seen = true
	return s.Entry, true
}

// Store records path's entry for the next scan.
func (c *Cache) Store(path string, e Entry) {
	c.store(pathHash(path), e)
}

// store is Store for the path with hash h.
func (c *Cache) store(h uint64, e Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.find(h); s != nil {
		if s.Entry != e {
			c.dirty = true
		}
		s.Entry, s.seen = e, true
		return
	}
	c.dirty = true
	c.add(slot{Entry: e, key: h, seen: true})
}

// Dirty reports whether saving would change the cache: an entry was added
// or changed, or a remembered file was not seen again.
func (c *Cache) Dirty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty {
		return true
	}
	seen := 0
	c.each(func(s *slot) {
		if s.seen {
			seen++
		}
	})
	return seen != c.loaded
}

// Save writes the entries stored during this scan to path, atomically but
// without syncing it to disk (see Cache).
func (c *Cache) Save(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n uint64
	c.each(func(s *slot) {
		if s.seen {
			n++
		}
	})
	err := writeUnsynced(path, func(w io.Writer) error {
		sum := crc32.New(castagnoli)
		bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 256<<10)
		bw.Write(cacheMagic)
		bw.Write(c.config[:])
		var rec [entrySize]byte
		binary.LittleEndian.PutUint64(rec[:8], n)
		bw.Write(rec[:8])
		c.each(func(s *slot) {
			if !s.seen {
				return
			}
			binary.LittleEndian.PutUint64(rec[0:], s.key)
			binary.LittleEndian.PutUint64(rec[8:], uint64(s.Size))
			binary.LittleEndian.PutUint64(rec[16:], uint64(s.Mtime))
			binary.LittleEndian.PutUint64(rec[24:], uint64(s.Ctime))
			binary.LittleEndian.PutUint64(rec[32:], s.Ino)
			binary.LittleEndian.PutUint64(rec[40:], s.Dev)
			copy(rec[48:80], s.Digest[:])
			copy(rec[80:112], s.Content[:])
			rec[112] = 0
			if s.Redacted {
				rec[112] = 1
			}
			bw.Write(rec[:])
		})
		if err := bw.Flush(); err != nil {
			return err
		}
		var tail [crcSize]byte
		binary.LittleEndian.PutUint32(tail[:], sum.Sum32())
		_, err := w.Write(tail[:])
		return err
	})
	if err != nil {
		return fmt.Errorf("save scan cache: %w", err)
	}
	return nil
}

// writeUnsynced replaces path with what fill writes: a temporary file in
// the same directory, renamed over path once complete. Its name starts
// like atomicfile's temporary files, so that a leftover of a crash is
// removed when the state directory is opened.
func writeUnsynced(path string, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, ".tmp-"+base+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
