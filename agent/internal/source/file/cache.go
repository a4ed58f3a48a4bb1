package file

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sync"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
	"github.com/driftwatch/driftwatch/baseline"
)

// cacheMagic starts a cache file; its last byte is the format version.
var cacheMagic = []byte("DWSCAN\x00\x02")

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
	seen bool // stored during this scan
}

// Cache remembers file digests between scans so that an unchanged file is
// not read again. Paths are kept as 64-bit hashes, so a cache of 100,000
// files takes about 12 MB; a hash collision would need the same size,
// times, inode and device as well to be trusted. The cache is tied to the
// digest of the configuration that built it: another configuration (other
// redaction rules, another size cap) starts from an empty cache. It is safe
// for concurrent use.
type Cache struct {
	mu      sync.Mutex
	config  baseline.Digest
	entries map[uint64]slot
	loaded  int
	dirty   bool
}

// NewCache returns an empty cache for a configuration.
func NewCache(config baseline.Digest) *Cache {
	return &Cache{config: config, entries: map[uint64]slot{}}
}

func pathHash(path string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, path)
	return h.Sum64()
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
	if !bytes.HasPrefix(data, cacheMagic) || len(data) < len(cacheMagic)+32+8 {
		return c, fmt.Errorf("load scan cache %s: not a scan cache of this version", path)
	}
	data = data[len(cacheMagic):]
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
	c.entries = make(map[uint64]slot, n)
	for i := range int(n) {
		rec := data[i*entrySize : (i+1)*entrySize]
		var s slot
		key := binary.LittleEndian.Uint64(rec[0:])
		s.Size = int64(binary.LittleEndian.Uint64(rec[8:]))
		s.Mtime = int64(binary.LittleEndian.Uint64(rec[16:]))
		s.Ctime = int64(binary.LittleEndian.Uint64(rec[24:]))
		s.Ino = binary.LittleEndian.Uint64(rec[32:])
		s.Dev = binary.LittleEndian.Uint64(rec[40:])
		copy(s.Digest[:], rec[48:80])
		copy(s.Content[:], rec[80:112])
		s.Redacted = rec[112] == 1
		c.entries[key] = s
	}
	c.loaded = len(c.entries)
	return c, nil
}

// Lookup returns the remembered entry for path.
func (c *Cache) Lookup(path string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.entries[pathHash(path)]
	if !ok {
		return Entry{}, false
	}
	return s.Entry, true
}

// Reuse returns the remembered entry for path when its stat fields (size,
// times, inode, device) equal those of stat, and keeps it for the next
// scan: one lookup and one lock for an unchanged file, the common case of
// an incremental scan.
func (c *Cache) Reuse(path string, stat Entry) (Entry, bool) {
	h := pathHash(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.entries[h]
	if !ok || s.Size != stat.Size || s.Mtime != stat.Mtime || s.Ctime != stat.Ctime || s.Ino != stat.Ino || s.Dev != stat.Dev {
		return Entry{}, false
	}
	s.seen = true
	c.entries[h] = s
	return s.Entry, true
}

// Store records path's entry for the next scan.
func (c *Cache) Store(path string, e Entry) {
	h := pathHash(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.entries[h]
	if !ok || s.Entry != e {
		c.dirty = true
	}
	c.entries[h] = slot{Entry: e, seen: true}
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
	for _, s := range c.entries {
		if s.seen {
			seen++
		}
	}
	return seen != c.loaded
}

// Save writes the entries stored during this scan to path, atomically.
func (c *Cache) Save(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n uint64
	for _, s := range c.entries {
		if s.seen {
			n++
		}
	}
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 256<<10)
		bw.Write(cacheMagic)
		bw.Write(c.config[:])
		var rec [entrySize]byte
		binary.LittleEndian.PutUint64(rec[:8], n)
		bw.Write(rec[:8])
		for key, s := range c.entries {
			if !s.seen {
				continue
			}
			binary.LittleEndian.PutUint64(rec[0:], key)
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
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("save scan cache: %w", err)
	}
	return nil
}
