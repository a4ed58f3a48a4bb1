package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// busyTimeout is how long a connection waits for another process's lock.
const busyTimeout = 5 * time.Second

// Store is store.Store on one SQLite file. Create it with Open.
type Store struct {
	w *sql.DB // exactly one connection: every write
	r *sql.DB // read-only connections

	// The writer (see write): transactions waiting for it, closed by
	// Close, and closed when it has stopped.
	writes     chan *writeReq
	quit       chan struct{}
	writerDone chan struct{}
	// The writer's savepoint statements, prepared once on w.
	savepoint, release, rollbackTo *sql.Stmt
	// WriterStats' counters.
	busyNanos         atomic.Int64
	writeTxs, commits atomic.Uint64

	// The checkpointer (see checkpoint.go): its connection, wake-ups,
	// stop and stopped signals, and its last run's error ("" after a
	// success), which Ping reports.
	ck     atomic.Pointer[sql.DB]
	ckWake chan struct{}
	ckQuit chan struct{}
	ckDone chan struct{}
	ckErr  atomic.Value

	// ApplyDrift's prepared statements (see applyStatements).
	applyMu sync.Mutex
	apply   *applyStmts

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens the database file at path, creating it with mode 0600 when it
// does not exist, and applies the migrations it lacks.
func Open(ctx context.Context, path string) (*Store, error) {
	w, err := openWriter(path)
	if err != nil {
		return nil, err
	}
	if _, err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s := &Store{w: w, r: r}
	if err := s.startCheckpointer(path); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := s.startWriter(ctx); err != nil {
		s.stopCheckpointer()
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// Migrate applies the migrations the database file at path lacks, creating
// the file with mode 0600 when it does not exist, and returns the names of
// those it applied (none when the schema is current).
func Migrate(ctx context.Context, path string) ([]string, error) {
	w, err := openWriter(path)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	applied, err := migrate(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("migrate sqlite store %s: %w", path, err)
	}
	return applied, nil
}

// openWriter creates the file when needed and opens the one-connection
// write pool on it.
func openWriter(path string) (*sql.DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite store %q: want the path of a database file, without \"file:\" or '?'", path)
	}
	// Create the file ourselves so that it gets mode 0600; SQLite gives
	// its -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	return w, nil
}

// dsn returns the driver's name for path: the writer begins transactions
// with BEGIN IMMEDIATE, sets WAL mode, syncs every commit and keeps 16 MiB
// of pages; readers are read-only.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// Checkpoints run beside the writer (see checkpoint.go).
		q.Add("_pragma", "wal_autocheckpoint(0)")
		// A commit takes the write transactions waiting together (see
		// write), each in a savepoint: their pages and savepoint journals
		// stay in memory rather than spill to temporary files.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "cache_size(-16384)")
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
	}
	return path + "?" + q.Encode()
}

// Ping checks that both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite store: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite store: %w", err)
	}
	if msg, _ := s.ckErr.Load().(string); msg != "" {
		return fmt.Errorf("ping sqlite store: the write-ahead log is not being copied back: %s", msg)
	}
	return nil
}

// Close stops the writer, after the write transactions it has taken, and
// closes both pools; calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopWriter()
		s.applyMu.Lock()
		if s.apply != nil {
			s.apply.close()
		}
		s.applyMu.Unlock()
		s.closeErr = errors.Join(s.stopCheckpointer(), s.r.Close(), s.w.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close sqlite store: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// mapErr turns a constraint violation into the store's error: a unique
// key into store.ErrExists, a foreign key into store.ErrNotFound, no rows
// into store.ErrNotFound. It keeps the driver's message.
func mapErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
	}
	return err
}

// timeLayout is how times are kept: UTC, microseconds, fixed width, so
// that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// fmtTime formats t for storage, truncated to the microsecond.
func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime formats t for storage; the zero time is NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

// timeCol scans a stored time into *t; NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*c.t = t.UTC()
	return nil
}

// digestCol scans stored hex into *d.
type digestCol struct{ d *baseline.Digest }

func (c digestCol) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("scan digest: unexpected %T", src)
	}
	d, err := baseline.ParseDigest(s)
	if err != nil {
		return fmt.Errorf("scan digest: %w", err)
	}
	*c.d = d
	return nil
}

// jsonCol scans stored JSON text into *v.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan json: unexpected %T", src)
	}
	if err := json.Unmarshal(b, c.v); err != nil {
		return fmt.Errorf("scan json: %w", err)
	}
	return nil
}

// rawJSONCol scans stored JSON text into *b exactly; NULL is nil.
type rawJSONCol struct{ b *[]byte }

func (c rawJSONCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case string:
		*c.b = []byte(v)
	case []byte:
		*c.b = append([]byte(nil), v...)
	default:
		return fmt.Errorf("scan json: unexpected %T", src)
	}
	return nil
}

// rawJSON is b as stored: TEXT, or NULL for nil or empty.
func rawJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// labelsJSON encodes labels; nil is an empty object.
func labelsJSON(labels map[string]string) (string, error) {
	if labels == nil {
		return "{}", nil
	}
	b, err := json.Marshal(labels)
	return string(b), err
}
