package spool

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unique"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
)

// Entry kinds. A caller may append any kind that is a lowercase word
// other than KindGap; only KindReport entries are coalesced.
const (
	// KindReport is a report: the full drift of the host against its
	// approved baseline at one moment, so a later report supersedes an
	// earlier one for the current state.
	KindReport = "report"
	// KindEvent is an event, such as a gap in a source's coverage.
	KindEvent = "event"
	// KindGap is a gap record, made by the spool itself: its body is a Gap
	// in JSON.
	KindGap = "gap"
)

// Defaults of Options.
const (
	// DefaultMaxBytes bounds the spool when Options.MaxBytes is 0.
	DefaultMaxBytes = 256 << 20
	// DefaultRetryMin is the first backoff ceiling of Drain.
	DefaultRetryMin = time.Second
	// DefaultRetryMax is the largest backoff ceiling of Drain.
	DefaultRetryMax = 5 * time.Minute
)

// Names inside the spool directory.
const (
	rejectedDir = "rejected"
	corruptDir  = "corrupt"
	nextIDFile  = "next-id"
	lockFile    = "lock"
	// idBlock is how many IDs one durable reservation in next-id covers.
	idBlock = 4096
)

// Errors the spool returns, wrapped with the place.
var (
	// ErrClosed is returned by a spool after Close.
	ErrClosed = errors.New("spool closed")
	// ErrLocked is returned by Open when another process holds the spool.
	ErrLocked = errors.New("spool in use by another process")
	// ErrTooLarge is returned by Append for an entry larger than the
	// spool's bound by itself. Nothing is written.
	ErrTooLarge = errors.New("entry larger than the spool's bound")
	// ErrFull is returned by Append when the entry does not fit even after
	// every entry the spool may drop is dropped: only the entry Drain is
	// sending and gap records remain. Nothing is written or dropped; the
	// caller may append it again once that send has ended.
	ErrFull = errors.New("spool full")
)

// Options tunes a spool.
type Options struct {
	// MaxBytes bounds the bytes of the entry files on disk, gap records
	// included; DefaultMaxBytes when 0.
	MaxBytes int64
	// RetryMin and RetryMax bound Drain's backoff: the n-th retry in a row
	// waits a random time below min(RetryMax, RetryMin·2ⁿ).
	// DefaultRetryMin and DefaultRetryMax when 0.
	RetryMin, RetryMax time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives what the spool does on its own (drops, damaged files,
	// send failures); nothing is logged when nil.
	Log *zap.Logger
}

// Entry is one queued entry.
type Entry struct {
	// ID is the spool's own, strictly increasing in the order of Append
	// and never reused, across restarts too. A gap record takes the ID of
	// the newest entry it replaces, so it is sent where its losses were.
	ID uint64
	// Kind is KindReport, KindEvent (or another caller's kind) or KindGap.
	Kind string
	// Ref is the caller's reference, such as a report's sequence number;
	// 0 for none and for gap records.
	Ref uint64
	// Keys are the item keys the entry covers ("file:/etc/motd").
	Keys []string
	// At is when the entry was appended (for a gap record: written).
	At time.Time
	// Body is the entry's content.
	Body []byte
}

// Stats is a spool's state and its counters since Open.
type Stats struct {
	// Entries is the number of queued entries, gap records included.
	Entries int
	// Gaps is the number of gap records among them.
	Gaps int
	// Bytes is the size of their files; MaxBytes the bound on it.
	Bytes, MaxBytes int64
	// OldestAt is the append time of the oldest queued entry; zero when
	// the spool is empty.
	OldestAt time.Time
	// Coalesced counts reports dropped because later reports cover their
	// items (recorded in gap records of CauseSuperseded).
	Coalesced uint64
	// Dropped counts entries dropped because the spool was full (recorded
	// in gap records of CauseSpoolFull).
	Dropped uint64
	// Rejected counts entries the collector refused for good; they are
	// kept under rejected/.
	Rejected uint64
	// Corrupt counts damaged entry files set aside under corrupt/.
	Corrupt uint64
	// Sent counts entries Drain delivered; Failures its failed attempts.
	Sent, Failures uint64
	// SendError is the error of Drain's last attempt when it failed, and
	// FailingSince when the failures in a row began; both are empty once
	// an attempt succeeds.
	SendError    string
	FailingSince time.Time
}

// meta is what the spool keeps in memory of a queued entry: no body, and
// its keys as unique handles, so that the keys reports repeat are held
// once.
type meta struct {
	id    uint64
	kind  string
	ref   uint64
	at    time.Time
	size  int64 // of the entry file
	keys  []unique.Handle[string]
	merge string // gap records only: gapHeader.Merge
}

// Spool is a durable, bounded queue of entries in a directory. Its
// methods are safe for concurrent use.
type Spool struct {
	dir    string
	opt    Options
	log    *zap.Logger
	unlock func()

	mu       sync.Mutex
	q        []*meta // sorted by ID
	bytes    int64
	gaps     int
	nextID   uint64
	reserved uint64 // every ID below is reserved durably in next-id
	sending  uint64 // the entry Drain is sending: never dropped
	draining bool
	closed   bool
	st       Stats

	notify chan struct{} // Append → Drain, one token
	done   chan struct{} // closed by Close
}

// crashHook, set only by tests, runs at named points of a write so that a
// test can kill the process there.
var crashHook func(stage string)

func crash(stage string) {
	if crashHook != nil {
		crashHook(stage)
	}
}

// Open opens the spool in dir, creating it with mode 0700. It locks the
// directory, so that a second process (or a second Open) fails with
// ErrLocked, and recovers it: temporary files of an interrupted write are
// removed, damaged entry files are moved to corrupt/ and logged, and a gap
// record's interrupted replacement of the entries it stands for is
// completed.
func Open(dir string, opt Options) (*Spool, error) {
	switch {
	case opt.MaxBytes < 0:
		return nil, fmt.Errorf("open spool %s: max bytes %d is negative", dir, opt.MaxBytes)
	case opt.RetryMin < 0 || opt.RetryMax < 0:
		return nil, fmt.Errorf("open spool %s: negative retry bounds %s, %s", dir, opt.RetryMin, opt.RetryMax)
	}
	if opt.MaxBytes == 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.RetryMin == 0 {
		opt.RetryMin = DefaultRetryMin
	}
	if opt.RetryMax == 0 {
		opt.RetryMax = max(DefaultRetryMax, opt.RetryMin)
	}
	if opt.RetryMax < opt.RetryMin {
		return nil, fmt.Errorf("open spool %s: retry max %s is below retry min %s", dir, opt.RetryMax, opt.RetryMin)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	log := opt.Log
	if log == nil {
		log = zap.NewNop()
	}
	for _, d := range []string{dir, filepath.Join(dir, rejectedDir), filepath.Join(dir, corruptDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open spool %s: %w", dir, err)
		}
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir: dir, opt: opt, log: log.Named("spool").With(zap.String("path", dir)), unlock: unlock,
		notify: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if fi, err := os.Stat(dir); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		s.log.Warn("spool directory is open to other users; its reports may describe the host's weaknesses",
			zap.String("mode", fi.Mode().Perm().String()))
	}
	if err := s.recover(); err != nil {
		unlock()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	if s.bytes > opt.MaxBytes {
		s.log.Warn("spool holds more than its bound; the next append makes room",
			zap.Int64("bytes", s.bytes), zap.Int64("max_bytes", opt.MaxBytes))
	}
	return s, nil
}

// recover reads the directory into the index.
func (s *Spool) recover() error {
	if err := atomicfile.CleanTemp(s.dir); err != nil {
		return err
	}
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	type replacement struct {
		gap uint64
		rs  []idRange
	}
	var replaced []replacement
	var maxID uint64
	for _, de := range des {
		id, ok := parseEntryName(de.Name())
		if !ok {
			continue // lock, next-id, rejected/, corrupt/
		}
		maxID = max(maxID, id)
		path := filepath.Join(s.dir, de.Name())
		if !de.Type().IsRegular() {
			s.setAside(de.Name(), fmt.Errorf("%w: not a regular file", errDamaged))
			continue
		}
		h, size, err := checkEntryFile(path)
		switch {
		case errors.Is(err, errDamaged):
			s.setAside(de.Name(), err)
			continue
		case err != nil:
			return fmt.Errorf("read spool entry %s: %w", path, err)
		case h.ID != id:
			s.setAside(de.Name(), fmt.Errorf("%w: the header names entry %d", errDamaged, h.ID))
			continue
		}
		s.q = append(s.q, metaOf(h, size))
		if h.Gap != nil && len(h.Gap.Replaces) > 0 {
			replaced = append(replaced, replacement{h.ID, h.Gap.Replaces})
		}
	}
	slices.SortFunc(s.q, func(a, b *meta) int { return compareIDs(a.id, b.id) })
	// A gap record is written before the entries it replaces are removed:
	// remove those a crash left behind.
	for _, r := range replaced {
		s.q = slices.DeleteFunc(s.q, func(m *meta) bool {
			if m.id == r.gap || !inRanges(r.rs, m.id) {
				return false
			}
			path := s.path(m.id)
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.log.Warn("cannot remove an entry a gap record replaced", zap.String("file", path), zap.Error(err))
			}
			s.log.Info("removed an entry a gap record replaced before a restart",
				zap.Uint64("id", m.id), zap.Uint64("gap_id", r.gap))
			return true
		})
	}
	for _, m := range s.q {
		s.bytes += m.size
		if m.kind == KindGap {
			s.gaps++
		}
	}
	for _, sub := range []string{rejectedDir, corruptDir} {
		des, err := os.ReadDir(filepath.Join(s.dir, sub))
		if err != nil {
			return err
		}
		for _, de := range des {
			if len(de.Name()) >= 16 {
				if id, err := strconv.ParseUint(de.Name()[:16], 16, 64); err == nil {
					maxID = max(maxID, id)
				}
			}
		}
	}
	s.reserved = s.readNextID()
	s.nextID = max(s.reserved, maxID+1)
	return nil
}

// readNextID returns the ID reservation next-id holds; 0 when there is
// none.
func (s *Spool) readNextID() uint64 {
	path := filepath.Join(s.dir, nextIDFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	var n uint64
	if err == nil {
		n, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	}
	if err != nil {
		s.log.Warn("ID reservation unreadable; IDs continue after the highest on disk", zap.String("file", path), zap.Error(err))
		return 0
	}
	return n
}

// writeNextID records durably that IDs below n are taken.
func (s *Spool) writeNextID(n uint64) error {
	path := filepath.Join(s.dir, nextIDFile)
	if err := atomicfile.WriteFile(path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("reserve spool IDs: %w", err)
	}
	s.reserved = n
	return nil
}

func metaOf(h *fileHeader, size int64) *meta {
	m := &meta{id: h.ID, kind: internKind(h.Kind), ref: h.Ref, at: h.At, size: size}
	if len(h.Keys) > 0 {
		m.keys = make([]unique.Handle[string], 0, len(h.Keys))
		for _, k := range h.Keys {
			hk := unique.Make(k)
			if !slices.Contains(m.keys, hk) {
				m.keys = append(m.keys, hk)
			}
		}
	}
	if h.Gap != nil {
		m.merge = h.Gap.Merge
	}
	return m
}

// internKind returns the common kinds as constants, so that 10,000
// entries do not hold 10,000 copies of "report".
func internKind(k string) string {
	switch k {
	case KindReport:
		return KindReport
	case KindEvent:
		return KindEvent
	case KindGap:
		return KindGap
	}
	return k
}

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Append queues an entry: kind (not KindGap), the caller's reference ref,
// the item keys it covers and its body. When Append returns without error
// the entry is durable: its file and the directory entry are synced.
//
// When the entry would take the spool over its bound, Append first makes
// room: it drops queued reports whose items later reports (this one
// included) cover, oldest first, then the oldest entries, and queues a
// gap record in their place, merged into a gap record of the same cause
// not yet sent. It never drops the entry Drain is sending, nor a gap
// record. An entry larger than the bound by itself fails with ErrTooLarge,
// one that does not fit after every drop allowed with ErrFull; nothing is
// written or dropped then.
func (s *Spool) Append(kind string, ref uint64, keys []string, body []byte) (Entry, error) {
	if !kindPattern.MatchString(kind) || kind == KindGap {
		return Entry{}, fmt.Errorf("append to spool %s: kind %q: want a lowercase word other than %q", s.dir, kind, KindGap)
	}
	for i, k := range keys {
		if k == "" || !utf8.ValidString(k) {
			return Entry{}, fmt.Errorf("append %s %d to spool %s: key %d %q is empty or not UTF-8", kind, ref, s.dir, i, k)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Entry{}, fmt.Errorf("append %s %d to spool %s: %w", kind, ref, s.dir, ErrClosed)
	}
	h := &fileHeader{ID: s.nextID, Kind: kind, Ref: ref, At: s.opt.Now().UTC(), Keys: keys}
	prefix, err := encodePrefix(h, body)
	if err != nil {
		return Entry{}, fmt.Errorf("append %s %d to spool %s: %w", kind, ref, s.dir, err)
	}
	size := int64(len(prefix) + len(body))
	if size > s.opt.MaxBytes {
		return Entry{}, fmt.Errorf("append %s %d to spool %s: %w: %s with its header, the bound is %s",
			kind, ref, s.dir, ErrTooLarge, formatBytes(size), formatBytes(s.opt.MaxBytes))
	}
	m := metaOf(h, size)
	if s.bytes+size > s.opt.MaxBytes {
		losses, err := s.plan(size, m, 0)
		if err != nil {
			return Entry{}, fmt.Errorf("append %s %d to spool %s: %w", kind, ref, s.dir, err)
		}
		for _, l := range losses {
			if err := s.writeLoss(l); err != nil {
				return Entry{}, fmt.Errorf("append %s %d to spool %s: %w", kind, ref, s.dir, err)
			}
		}
	}
	if h.ID >= s.reserved {
		if err := s.writeNextID(h.ID + idBlock); err != nil {
			return Entry{}, fmt.Errorf("append %s %d to spool %s: %w", kind, ref, s.dir, err)
		}
	}
	path := s.path(h.ID)
	err = atomicfile.Write(path, 0o600, func(w io.Writer) error {
		if _, err := w.Write(prefix); err != nil {
			return err
		}
		_, err := w.Write(body)
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("append %s %d to spool: %w", kind, ref, err)
	}
	crash("entry-written")
	s.nextID++
	s.q = append(s.q, m)
	s.bytes += size
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return Entry{ID: h.ID, Kind: kind, Ref: ref, Keys: keys, At: h.At, Body: body}, nil
}

// Oldest returns the oldest queued entry, its body read from disk and
// checked, and false when the spool is empty. A damaged entry file met on
// the way is moved to corrupt/ and logged, and the next entry returned.
// The entry stays queued until Ack; unlike the entry Drain sends, it is
// not kept from being dropped to make room.
func (s *Spool) Oldest() (Entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Entry{}, false, fmt.Errorf("read spool %s: %w", s.dir, ErrClosed)
	}
	return s.oldestLocked()
}

func (s *Spool) oldestLocked() (Entry, bool, error) {
	for len(s.q) > 0 {
		m := s.q[0]
		path := s.path(m.id)
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				s.log.Error("spool entry missing; removed from the queue", zap.Uint64("id", m.id),
					zap.String("kind", m.kind), zap.Uint64("ref", m.ref), zap.String("file", path))
				s.st.Corrupt++
				s.removeAt(0)
				continue
			}
			return Entry{}, false, fmt.Errorf("read spool entry %s: %w", path, err)
		}
		h, body, err := decodeEntry(data)
		if err == nil && h.ID != m.id {
			err = fmt.Errorf("%w: the header names entry %d", errDamaged, h.ID)
		}
		if err != nil {
			s.setAside(entryName(m.id), err)
			s.removeAt(0)
			continue
		}
		return Entry{ID: h.ID, Kind: h.Kind, Ref: h.Ref, Keys: h.Keys, At: h.At, Body: body}, true, nil
	}
	return Entry{}, false, nil
}

// Ack removes the entry with the given ID: the collector has it. Acking an
// ID that is not queued (never was, or already removed) does nothing. The
// removal is not synced: after a crash an acknowledged entry may be sent
// once more, which the collector recognises by its reference.
func (s *Spool) Ack(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("ack spool entry %d: %w", id, ErrClosed)
	}
	return s.ackLocked(id)
}

func (s *Spool) ackLocked(id uint64) error {
	i, ok := s.find(id)
	if !ok {
		return nil
	}
	s.removeAt(i)
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ack spool entry %d: %w", id, err)
	}
	return nil
}

// Stats returns the spool's state and counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Entries, st.Gaps, st.Bytes, st.MaxBytes = len(s.q), s.gaps, s.bytes, s.opt.MaxBytes
	for _, m := range s.q {
		if st.OldestAt.IsZero() || m.at.Before(st.OldestAt) {
			st.OldestAt = m.at
		}
	}
	return st
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Close records the next ID, releases the directory's lock and ends
// Drain. Entries stay on disk for the next Open. Closing twice does
// nothing.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	err := s.writeNextID(s.nextID)
	s.unlock()
	if err != nil {
		return fmt.Errorf("close spool %s: %w", s.dir, err)
	}
	return nil
}

// path is the file of the entry with the given ID.
func (s *Spool) path(id uint64) string { return filepath.Join(s.dir, entryName(id)) }

// find returns the index of the entry with the given ID.
func (s *Spool) find(id uint64) (int, bool) {
	return slices.BinarySearchFunc(s.q, id, func(m *meta, id uint64) int { return compareIDs(m.id, id) })
}

// removeAt removes the i-th entry from the index.
func (s *Spool) removeAt(i int) {
	m := s.q[i]
	s.bytes -= m.size
	if m.kind == KindGap {
		s.gaps--
	}
	if i == 0 {
		s.q[0] = nil
		s.q = s.q[1:]
		return
	}
	s.q = slices.Delete(s.q, i, i+1)
}

// setAside moves the damaged entry file name to corrupt/, so that it is
// kept for inspection and never sent. It does not touch the index.
func (s *Spool) setAside(name string, why error) {
	s.st.Corrupt++
	dst := filepath.Join(s.dir, corruptDir, name)
	if _, err := os.Lstat(dst); err == nil {
		dst += "." + strconv.FormatInt(s.opt.Now().UnixNano(), 10)
	}
	err := os.Rename(filepath.Join(s.dir, name), dst)
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(dst))
	}
	if err != nil {
		s.log.Error("damaged spool entry not sent; cannot move it aside", zap.String("file", name), zap.NamedError("damage", why), zap.Error(err))
		return
	}
	s.log.Warn("damaged spool entry set aside, not sent", zap.String("file", dst), zap.NamedError("damage", why))
}

func compareIDs(a, b uint64) int { return cmp.Compare(a, b) }

func inRanges(rs []idRange, id uint64) bool {
	for _, r := range rs {
		if r[0] <= id && id <= r[1] {
			return true
		}
	}
	return false
}

// formatBytes formats n for people: "256.0 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
