// Package state is the agent's local store under state_dir: content blobs
// addressed by their SHA-256 (identical content is stored once), the
// approved baselines of the host, versioned, and the scan cache.
//
// Every write of a baseline or the index is atomic (temporary file, fsync,
// rename, directory fsync), so a crash leaves the previous state intact. The
// scan cache is only a cache: it is replaced by a rename without an fsync,
// and a checksum makes a copy a crash damaged be ignored. The baseline index is the commit
// point of an approval and carries an HMAC under a key that only this state
// directory holds; each baseline file's SHA-256 is recorded in the index. A
// baseline file or index edited outside driftwatch is refused on load with an
// error that says so, never silently trusted.
//
// Layout:
//
//	state_dir/
//	  baseline.key          HMAC key, mode 0600
//	  lock                  held while writing
//	  blobs/ab/abcdef…      redacted content, named by its SHA-256
//	  baselines/index.json  versions, approvals, file digests, HMAC
//	  baselines/v000001.json canonical snapshot encoding of each version
//	  cache/files.bin       the file source's scan cache
package state

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
	"github.com/driftwatch/driftwatch/baseline"
)

// ErrNoBaseline is returned when no baseline has been approved yet.
var ErrNoBaseline = errors.New("no approved baseline")

// ErrTampered marks a baseline or index that does not match its recorded
// digest or HMAC.
var ErrTampered = errors.New("integrity check failed")

// Store is an agent's state directory.
type Store struct {
	dir      string
	key      []byte
	unsynced atomic.Int64 // blobs written since the last file system sync
	dirs     sync.Map     // blob directories known to exist
}

// crashHook, set only by tests, runs at named points of an approval so that
// a test can kill the process there.
var crashHook func(stage string)

func crash(stage string) {
	if crashHook != nil {
		crashHook(stage)
	}
}

// Open opens the state directory, creating it with mode 0700 and a new HMAC
// key on first use, and removes temporary files a crash left behind.
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "blobs"), filepath.Join(dir, "baselines"), filepath.Join(dir, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open state %s: %w", dir, err)
		}
	}
	s := &Store{dir: dir}
	keyPath := filepath.Join(dir, "baseline.key")
	key, err := os.ReadFile(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("open state %s: make key: %w", dir, err)
		}
		f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return Open(dir) // another process made it first
			}
			return nil, fmt.Errorf("open state %s: %w", dir, err)
		}
		_, werr := f.Write(key)
		serr := f.Sync()
		if cerr := f.Close(); werr != nil || serr != nil || cerr != nil {
			os.Remove(keyPath)
			return nil, fmt.Errorf("open state %s: write key: %w", dir, errors.Join(werr, serr, cerr))
		}
	case err != nil:
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	case len(key) != 32:
		return nil, fmt.Errorf("open state %s: %s holds %d bytes, want 32: %w", dir, keyPath, len(key), ErrTampered)
	}
	s.key = key
	for _, d := range []string{dir, filepath.Join(dir, "baselines"), filepath.Join(dir, "cache")} {
		if err := atomicfile.CleanTemp(d); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// CachePath returns where the file source's scan cache lives.
func (s *Store) CachePath() string { return filepath.Join(s.dir, "cache", "files.bin") }

func (s *Store) blobPath(d baseline.Digest) string {
	h := d.String()
	return filepath.Join(s.dir, "blobs", h[:2], h)
}

// PutBlob stores content under its digest; content already stored is not
// written again. It implements source.BlobStore.
func (s *Store) PutBlob(content []byte) (baseline.Digest, error) {
	d := baseline.Sum(content)
	p := s.blobPath(d)
	if fi, err := os.Stat(p); err == nil {
		if fi.Size() == int64(len(content)) {
			return d, nil
		}
		// Cut short by a crash: write it again.
		os.Remove(p)
	}
	dir := filepath.Dir(p)
	if _, ok := s.dirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return d, fmt.Errorf("store blob %s: %w", d.Short(), err)
		}
		s.dirs.Store(dir, true)
	}
	// Blobs are written in place, without a sync each: thousands of
	// temporary files, renames and syncs would take minutes. Approve syncs
	// the file system once before a baseline refers to them; a blob cut
	// short by a crash fails its digest check on read and is rewritten (its
	// size differs) by the next scan that stores it.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return d, nil // another worker is storing the same content
	}
	if err != nil {
		return d, fmt.Errorf("store blob %s: %w", d.Short(), err)
	}
	_, werr := f.Write(content)
	if cerr := f.Close(); werr != nil || cerr != nil {
		os.Remove(p)
		return d, fmt.Errorf("store blob %s: %w", d.Short(), errors.Join(werr, cerr))
	}
	s.unsynced.Add(1)
	return d, nil
}

// Blob returns the content stored under d, checking that it still hashes to
// d. It implements baseline.BlobSource.
func (s *Store) Blob(d baseline.Digest) ([]byte, error) {
	b, err := os.ReadFile(s.blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d.Short(), err)
	}
	if baseline.Sum(b) != d {
		return nil, fmt.Errorf("read blob %s: content does not match its name: %w", d.Short(), ErrTampered)
	}
	return b, nil
}

// HasBlob reports whether content with digest d is stored.
func (s *Store) HasBlob(d baseline.Digest) bool {
	_, err := os.Stat(s.blobPath(d))
	return err == nil
}

// indexEntry is one baseline version in the index.
type indexEntry struct {
	Meta       baseline.Meta   `json:"meta"`
	File       string          `json:"file"`
	FileSHA256 baseline.Digest `json:"file_sha256"`
}

type index struct {
	Format   int          `json:"format"`
	Versions []indexEntry `json:"versions"`
	MAC      string       `json:"mac"`
}

func (s *Store) indexPath() string { return filepath.Join(s.dir, "baselines", "index.json") }

func (s *Store) mac(versions []indexEntry) (string, error) {
	b, err := json.Marshal(versions)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// readIndex loads and verifies the index; a missing index is an empty one.
func (s *Store) readIndex() (*index, error) {
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return &index{Format: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read baseline index: %w", err)
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("read baseline index %s: %w", s.indexPath(), err)
	}
	want, err := s.mac(idx.Versions)
	if err != nil {
		return nil, fmt.Errorf("read baseline index: %w", err)
	}
	if !hmac.Equal([]byte(want), []byte(idx.MAC)) {
		return nil, fmt.Errorf("baseline index %s was modified outside driftwatch (its HMAC does not match): %w; restore the state directory from a backup or approve a new baseline after moving it aside", s.indexPath(), ErrTampered)
	}
	return &idx, nil
}

// Versions returns every approved baseline's approval, oldest first.
func (s *Store) Versions() ([]baseline.Meta, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	out := make([]baseline.Meta, len(idx.Versions))
	for i, e := range idx.Versions {
		out[i] = e.Meta
	}
	return out, nil
}

// Current returns the newest approved baseline, verified.
func (s *Store) Current() (*baseline.Baseline, error) {
	return s.Load(0)
}

// Load returns baseline version v (0 for the newest), verified against the
// index: a file that does not match its recorded digest is an error.
func (s *Store) Load(v int) (*baseline.Baseline, error) {
	meta, b, err := s.read(v)
	if err != nil {
		return nil, err
	}
	snap, err := baseline.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("load baseline v%d: %w", meta.Version, err)
	}
	if snap.Digest() != meta.SnapshotDigest {
		return nil, fmt.Errorf("load baseline v%d: snapshot digest does not match the approval: %w", meta.Version, ErrTampered)
	}
	return &baseline.Baseline{Meta: meta, Snapshot: snap}, nil
}

// LoadIndex returns baseline version v (0 for the newest) as an index over
// its canonical encoding, verified like Load, for a check that compares
// with it without decoding every item. The index reads the baseline file
// while it is used: call the returned function when done.
func (s *Store) LoadIndex(v int) (baseline.Meta, *baseline.Index, func(), error) {
	e, path, err := s.entry(v)
	if err != nil {
		return baseline.Meta{}, nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return baseline.Meta{}, nil, nil, fmt.Errorf("load baseline v%d: %w", e.Meta.Version, err)
	}
	fail := func(err error) (baseline.Meta, *baseline.Index, func(), error) {
		f.Close()
		return baseline.Meta{}, nil, nil, err
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return fail(fmt.Errorf("load baseline v%d: %w", e.Meta.Version, err))
	}
	var got baseline.Digest
	h.Sum(got[:0])
	if got != e.FileSHA256 {
		return fail(fmt.Errorf("load baseline v%d: %s was modified outside driftwatch (recorded sha256 %s, now %s): %w", e.Meta.Version, path, e.FileSHA256.Short(), got.Short(), ErrTampered))
	}
	x, err := baseline.NewIndex(f, size)
	if err != nil {
		return fail(fmt.Errorf("load baseline v%d: %w", e.Meta.Version, err))
	}
	if x.Digest() != e.Meta.SnapshotDigest {
		return fail(fmt.Errorf("load baseline v%d: snapshot digest does not match the approval: %w", e.Meta.Version, ErrTampered))
	}
	return e.Meta, x, func() { f.Close() }, nil
}

// entry finds version v (0: the newest) in the verified index.
func (s *Store) entry(v int) (*indexEntry, string, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, "", err
	}
	if len(idx.Versions) == 0 {
		return nil, "", ErrNoBaseline
	}
	var e *indexEntry
	if v == 0 {
		e = &idx.Versions[len(idx.Versions)-1]
	} else {
		for i := range idx.Versions {
			if idx.Versions[i].Meta.Version == v {
				e = &idx.Versions[i]
			}
		}
		if e == nil {
			return nil, "", fmt.Errorf("baseline v%d does not exist (newest is v%d)", v, idx.Versions[len(idx.Versions)-1].Meta.Version)
		}
	}
	return e, filepath.Join(s.dir, "baselines", e.File), nil
}

// Encoding returns the approval and the canonical snapshot encoding of
// version v (0 for the newest), checked against the digest the index
// recorded.
func (s *Store) Encoding(v int) (baseline.Meta, []byte, error) { return s.read(v) }

// read returns the approval and file content of version v, checked against
// the digest the index recorded.
func (s *Store) read(v int) (baseline.Meta, []byte, error) {
	e, path, err := s.entry(v)
	if err != nil {
		return baseline.Meta{}, nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return baseline.Meta{}, nil, fmt.Errorf("load baseline v%d: %w", e.Meta.Version, err)
	}
	if got := baseline.Sum(b); got != e.FileSHA256 {
		return baseline.Meta{}, nil, fmt.Errorf("load baseline v%d: %s was modified outside driftwatch (recorded sha256 %s, now %s): %w", e.Meta.Version, path, e.FileSHA256.Short(), got.Short(), ErrTampered)
	}
	return e.Meta, b, nil
}

// Approve stores snap as the next baseline version with the approval in
// meta (meta.Version 0 means "next"; a given version must be newer than
// the newest). Every content blob the snapshot references must be stored
// already. The new version exists once Approve returns; a crash before that
// leaves the previous one current and intact.
func (s *Store) Approve(meta baseline.Meta, snap *baseline.Snapshot) (*baseline.Baseline, error) {
	if err := snap.Validate(); err != nil {
		return nil, fmt.Errorf("approve: %w", err)
	}
	meta.SnapshotDigest = snap.Digest()
	meta.Items = len(snap.Items)
	if meta.Host == "" {
		meta.Host = snap.Host.Name
	}
	m, err := s.approve(meta, snap)
	if err != nil {
		return nil, err
	}
	return &baseline.Baseline{Meta: m, Snapshot: snap}, nil
}

// ApproveEncoded is Approve for a snapshot held in its canonical encoding;
// it returns the approval.
func (s *Store) ApproveEncoded(meta baseline.Meta, e *baseline.Encoded) (baseline.Meta, error) {
	meta.SnapshotDigest = e.Digest()
	meta.Items = e.Len()
	if meta.Host == "" {
		meta.Host = e.Host.Name
	}
	return s.approve(meta, e)
}

// encodable is a snapshot that can be written in canonical encoding.
type encodable interface {
	Encode(w io.Writer) error
	ContentDigests() []baseline.Digest
}

func (s *Store) approve(meta baseline.Meta, snap encodable) (baseline.Meta, error) {
	unlock, err := s.Lock()
	if err != nil {
		return baseline.Meta{}, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return baseline.Meta{}, err
	}
	next := 1
	if n := len(idx.Versions); n > 0 {
		next = idx.Versions[n-1].Meta.Version + 1
	}
	if meta.Version == 0 {
		meta.Version = next
	} else if meta.Version < next {
		return baseline.Meta{}, fmt.Errorf("approve baseline v%d: v%d already exists", meta.Version, next-1)
	}
	if err := meta.Validate(); err != nil {
		return baseline.Meta{}, fmt.Errorf("approve: %w", err)
	}
	for _, d := range snap.ContentDigests() {
		if !s.HasBlob(d) {
			return baseline.Meta{}, fmt.Errorf("approve baseline v%d: content %s referenced by the snapshot is not stored", meta.Version, d.Short())
		}
	}
	// Content written without a sync of its own is made durable here, before
	// anything refers to it.
	if s.unsynced.Load() > 0 {
		if err := syncFS(s.dir); err != nil {
			return baseline.Meta{}, fmt.Errorf("approve baseline v%d: %w", meta.Version, err)
		}
		s.unsynced.Store(0)
	}
	name := fmt.Sprintf("v%06d.json", meta.Version)
	fileHash := sha256.New()
	err = atomicfile.Write(filepath.Join(s.dir, "baselines", name), 0o600, func(w io.Writer) error {
		return snap.Encode(io.MultiWriter(w, fileHash))
	})
	if err != nil {
		return baseline.Meta{}, fmt.Errorf("approve baseline v%d: %w", meta.Version, err)
	}
	crash("baseline-written")
	var fileDigest baseline.Digest
	fileHash.Sum(fileDigest[:0])
	idx.Versions = append(idx.Versions, indexEntry{Meta: meta, File: name, FileSHA256: fileDigest})
	if idx.MAC, err = s.mac(idx.Versions); err != nil {
		return baseline.Meta{}, fmt.Errorf("approve baseline v%d: %w", meta.Version, err)
	}
	enc, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return baseline.Meta{}, fmt.Errorf("approve baseline v%d: %w", meta.Version, err)
	}
	err = atomicfile.Write(s.indexPath(), 0o600, func(w io.Writer) error {
		half := len(enc) / 2
		if _, err := w.Write(enc[:half]); err != nil {
			return err
		}
		crash("index-half-written")
		_, err := io.Copy(w, bytes.NewReader(enc[half:]))
		return err
	})
	if err != nil {
		return baseline.Meta{}, fmt.Errorf("approve baseline v%d: %w", meta.Version, err)
	}
	crash("index-written")
	return meta, nil
}
