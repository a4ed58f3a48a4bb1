package file

import (
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
	"github.com/driftwatch/driftwatch/baseline"
)

// cacheVersion changes whenever Entry changes shape.
const cacheVersion = 1

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

// Cache remembers file digests between scans so that an unchanged file is
// not read again. It is tied to the digest of the configuration that built
// it: another configuration (other redaction rules, another size cap) starts
// from an empty cache. It is safe for concurrent use.
type Cache struct {
	mu     sync.Mutex
	config baseline.Digest
	old    map[string]Entry
	cur    map[string]Entry
	dirty  bool
}

type cacheFile struct {
	Version int
	Config  baseline.Digest
	Entries map[string]Entry
}

// NewCache returns an empty cache for a configuration.
func NewCache(config baseline.Digest) *Cache {
	return &Cache{config: config, old: map[string]Entry{}, cur: map[string]Entry{}}
}

// LoadCache reads the cache at path. A missing, unreadable or outdated cache
// is not an error: the scan then reads every file, and the returned error
// only says why the cache was not used.
func LoadCache(path string, config baseline.Digest) (*Cache, error) {
	c := NewCache(config)
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return c, nil
		}
		return c, fmt.Errorf("load scan cache %s: %w", path, err)
	}
	defer f.Close()
	var cf cacheFile
	if err := gob.NewDecoder(f).Decode(&cf); err != nil {
		return c, fmt.Errorf("load scan cache %s: %w", path, err)
	}
	if cf.Version != cacheVersion || cf.Config != config {
		return c, nil
	}
	c.old = cf.Entries
	return c, nil
}

// Lookup returns the remembered entry for path.
func (c *Cache) Lookup(path string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.old[path]
	return e, ok
}

// Store records path's entry for the next scan.
func (c *Cache) Store(path string, e Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.old[path]; !ok || old != e {
		c.dirty = true
	}
	c.cur[path] = e
}

// Dirty reports whether the next scan's cache differs from the loaded one.
func (c *Cache) Dirty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirty || len(c.cur) != len(c.old)
}

// Save writes the entries stored during this scan to path, atomically.
func (c *Cache) Save(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf := cacheFile{Version: cacheVersion, Config: c.config, Entries: c.cur}
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		return gob.NewEncoder(w).Encode(&cf)
	})
	if err != nil {
		return fmt.Errorf("save scan cache: %w", err)
	}
	return nil
}
