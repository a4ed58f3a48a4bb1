package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// maxGroup is the most write transactions one commit takes.
const maxGroup = 64

// errClosed is what a write gets after Close.
var errClosed = errors.New("sqlite store is closed")

// writeReq is one write transaction waiting for the writer.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	err  error
	pnc  any           // a panic of fn, raised again in its caller
	done chan struct{} // closed when err (or pnc) is final
}

func (r *writeReq) finish(err error) {
	r.err = err
	close(r.done)
}

// write runs fn in one write transaction and commits it when fn returns
// nil: what fn wrote is stored whole, or not at all.
//
// Write transactions go through one goroutine, the writer, and the one
// write connection. When several are waiting, the writer runs them in one
// SQLite transaction, each in a savepoint of its own, and commits them
// together: one WAL sync for all of them instead of one each, which is
// what bounds a disk's transactions per second. A fn that fails is rolled
// back to its savepoint and leaves the others' writes alone; a commit
// that fails fails all of them. No caller returns before its writes are
// committed, with synchronous = FULL, so nothing acknowledged is lost.
//
// fn must not call write itself (the writer would wait for itself), and
// may run on the writer's goroutine.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case s.writes <- req:
	case <-s.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Taken by the writer: it finishes it, even when ctx ends meanwhile
	// (its statements still heed ctx).
	<-req.done
	if req.pnc != nil {
		panic(req.pnc)
	}
	return req.err
}

// startWriter prepares the writer's savepoint statements and starts the
// writer goroutine; stopWriter stops it after the transactions it has
// taken and closes them.
func (s *Store) startWriter(ctx context.Context) error {
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&s.savepoint, `SAVEPOINT w`}, {&s.release, `RELEASE w`}, {&s.rollbackTo, `ROLLBACK TO w`}} {
		st, err := s.w.PrepareContext(ctx, p.q)
		if err != nil {
			s.closeSavepoints()
			return fmt.Errorf("prepare %s: %w", p.q, err)
		}
		*p.st = st
	}
	s.writes = make(chan *writeReq)
	s.quit = make(chan struct{})
	s.writerDone = make(chan struct{})
	go s.runWriter()
	return nil
}

func (s *Store) stopWriter() {
	close(s.quit)
	<-s.writerDone
	s.closeSavepoints()
}

func (s *Store) closeSavepoints() {
	for _, st := range []*sql.Stmt{s.savepoint, s.release, s.rollbackTo} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// exec runs one of the writer's statements in tx.
func exec(tx *sql.Tx, st *sql.Stmt) error {
	_, err := tx.Stmt(st).Exec()
	return err
}

func (s *Store) runWriter() {
	defer close(s.writerDone)
	for {
		var first *writeReq
		select {
		case first = <-s.writes:
		case <-s.quit:
			return
		}
		group := []*writeReq{first}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-s.writes:
				group = append(group, r)
			default:
				break more
			}
		}
		start := time.Now()
		s.commitGroup(group)
		s.busyNanos.Add(int64(time.Since(start)))
		s.writeTxs.Add(uint64(len(group)))
		s.commits.Add(1)
		s.wakeCheckpointer()
	}
}

// WriterStats says how long the writer has spent committing groups of
// write transactions (from taking a group to finishing it), and how many
// transactions and groups.
func (s *Store) WriterStats() store.WriterStats {
	return store.WriterStats{Busy: time.Duration(s.busyNanos.Load()), Transactions: s.writeTxs.Load(), Commits: s.commits.Load()}
}

// commitGroup runs the transactions of group in one SQLite transaction and
// commits it, then finishes each of them.
func (s *Store) commitGroup(group []*writeReq) {
	live := make([]*writeReq, 0, len(group))
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.finish(err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The transaction outlives any one caller's context; each fn's
	// statements use its own.
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range live {
			r.finish(err)
		}
		return
	}
	if len(live) == 1 {
		r := live[0]
		if err := run(r, tx); err != nil {
			_ = tx.Rollback() // the error that matters is fn's
			r.finish(err)
			return
		}
		r.finish(tx.Commit())
		return
	}
	ok := make([]*writeReq, 0, len(live))
	for i, r := range live {
		if err := exec(tx, s.savepoint); err != nil {
			s.abandon(tx, ok, live[i:], fmt.Errorf("savepoint: %w", err))
			return
		}
		if err := run(r, tx); err != nil {
			if rerr := exec(tx, s.rollbackTo); rerr != nil {
				// The transaction itself is gone (an interrupted
				// statement can take it along): nothing of it stays.
				r.finish(err)
				s.abandon(tx, ok, live[i+1:], fmt.Errorf("roll back a failed write: %w", rerr))
				return
			}
			if rerr := exec(tx, s.release); rerr != nil {
				r.finish(err)
				s.abandon(tx, ok, live[i+1:], fmt.Errorf("release a failed write: %w", rerr))
				return
			}
			r.finish(err) // rolled back: nothing of it will be committed
			continue
		}
		if err := exec(tx, s.release); err != nil {
			s.abandon(tx, append(ok, r), live[i+1:], fmt.Errorf("release: %w", err))
			return
		}
		ok = append(ok, r)
	}
	err = tx.Commit()
	for _, r := range ok {
		r.finish(err)
	}
}

// abandon rolls back the group's transaction: the writes that had
// succeeded in it fail with err, and those not run yet are run in a group
// of their own.
func (s *Store) abandon(tx *sql.Tx, done, rest []*writeReq, err error) {
	_ = tx.Rollback()
	for _, r := range done {
		r.finish(fmt.Errorf("write transaction rolled back with others: %w", err))
	}
	if len(rest) > 0 {
		s.commitGroup(rest)
	}
}

// run calls r.fn, turning a panic into an error here and into the same
// panic in r's caller.
func run(r *writeReq, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.pnc = p
			err = fmt.Errorf("write transaction panicked: %v", p)
		}
	}()
	return r.fn(tx)
}
