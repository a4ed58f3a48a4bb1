package sqlite

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"
)

// writeScratch commits n rows of size bytes each into a scratch table, one
// write transaction per row.
func writeScratch(t *testing.T, s *Store, n, size int) {
	t.Helper()
	ctx := context.Background()
	if err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE TABLE IF NOT EXISTS scratch (b BLOB NOT NULL) STRICT`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	row := []byte(strings.Repeat("x", size))
	for range n {
		if err := s.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO scratch (b) VALUES (?)`, row)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// waitFor polls cond until it holds; the deadline only turns a checkpointer
// that never runs into a failure instead of a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Commits reach the database file while the store is open, not only at
// Close: the checkpointer copies the log back beside the writer.
func TestCheckpointerCopiesLogIntoDatabase(t *testing.T) {
	s, path := openTestFile(t)
	before := fileSize(t, path)
	writeScratch(t, s, 64, 32<<10) // 2 MiB
	waitFor(t, "the database file to take the committed rows", func() bool {
		return fileSize(t, path) >= before+2<<20
	})
	if msg, _ := s.ckErr.Load().(string); msg != "" {
		t.Errorf("checkpointer error: %s", msg)
	}
}

// A log past checkpointForce pages is copied whole and truncated, so that
// the -wal file does not keep the size of the largest burst of writes.
func TestCheckpointerTruncatesLargeLog(t *testing.T) {
	old := checkpointForce
	checkpointForce = 64
	defer func() { checkpointForce = old }()
	s, path := openTestFile(t)
	writeScratch(t, s, 32, 32<<10) // 1 MiB: well past 64 pages
	waitFor(t, "the -wal file to be truncated", func() bool {
		return fileSize(t, path+"-wal") == 0
	})
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM scratch`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 32 {
		t.Errorf("after the checkpoint the store reads %d rows, want 32", n)
	}
}

// A checkpoint that fails makes Ping (and so /readyz) fail, naming the
// cause, until one succeeds again.
func TestCheckpointFailureShowsInPing(t *testing.T) {
	s, path := openTestFile(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping of a new store: %v", err)
	}
	good := s.ck.Load()
	broken, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	broken.Close() // every query on it fails
	s.ck.Store(broken)
	writeScratch(t, s, 1, 10)
	waitFor(t, "Ping to report the failed checkpoint", func() bool { return s.Ping(ctx) != nil })
	if err := s.Ping(ctx); !strings.Contains(err.Error(), "write-ahead log") || !strings.Contains(err.Error(), "closed") {
		t.Errorf("ping: %v; want the log and the cause", err)
	}
	s.ck.Store(good)
	writeScratch(t, s, 1, 10)
	waitFor(t, "Ping to pass after a checkpoint succeeds", func() bool { return s.Ping(ctx) == nil })
}
