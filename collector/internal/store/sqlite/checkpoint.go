package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Checkpoints copy the pages that commits appended to the write-ahead log
// back into the database file. SQLite runs one inside the commit that
// takes the log past 1,000 pages, on the committing connection; here that
// is the writer, which every write waits for. The store turns that off
// and checkpoints on a connection of its own instead, beside the writer:
// a passive checkpoint copies what no reader still needs without taking
// any lock a write waits for.
const (
	// checkpointEvery is how often the checkpointer looks at the log
	// while writes come in.
	checkpointEvery = 200 * time.Millisecond
)

// checkpointForce is the log size, in pages, past which the checkpointer
// waits for readers and writers to let it copy the whole log and truncate
// it (so that the file does not grow without end under readers that never
// pause). A variable for tests.
var checkpointForce = 16384

// startCheckpointer starts the checkpointer on its own connection to path.
func (s *Store) startCheckpointer(path string) error {
	ck, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return err
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxLifetime(0)
	ck.SetConnMaxIdleTime(0)
	s.ck.Store(ck)
	s.ckWake = make(chan struct{}, 1)
	s.ckQuit = make(chan struct{})
	s.ckDone = make(chan struct{})
	go s.runCheckpointer()
	return nil
}

// wakeCheckpointer tells the checkpointer that a commit appended to the
// log; it never blocks.
func (s *Store) wakeCheckpointer() {
	select {
	case s.ckWake <- struct{}{}:
	default:
	}
}

func (s *Store) runCheckpointer() {
	defer close(s.ckDone)
	t := time.NewTimer(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ckQuit:
			return
		case <-s.ckWake:
		}
		// Commits that come meanwhile are taken by this checkpoint or the
		// next: at most one every checkpointEvery.
		t.Reset(checkpointEvery)
		select {
		case <-s.ckQuit:
			return
		case <-t.C:
		}
		// The last checkpoint's error, until one succeeds: Ping (and so
		// /readyz) reports it, since a log that is never copied back
		// grows until the disk is full.
		if err := s.checkpoint(context.Background()); err != nil {
			s.ckErr.Store(err.Error())
		} else {
			s.ckErr.Store("")
		}
	}
}

// checkpoint runs a passive checkpoint, and a truncating one when the log
// has grown past checkpointForce pages.
func (s *Store) checkpoint(ctx context.Context) error {
	var busy, logPages, copied int
	ck := s.ck.Load()
	if err := ck.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &copied); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if logPages < checkpointForce {
		return nil
	}
	if err := ck.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &copied); err != nil {
		return fmt.Errorf("checkpoint (truncate): %w", err)
	}
	return nil
}

// stopCheckpointer stops the checkpointer and closes its connection.
func (s *Store) stopCheckpointer() error {
	close(s.ckQuit)
	<-s.ckDone
	return s.ck.Load().Close()
}
