package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
)

// Drain sends the queued entries oldest first, one at a time, until ctx
// ends (it returns ctx's error) or the spool is closed (ErrClosed). When
// the spool is empty it waits, and wakes at once when Append adds an
// entry. Only one Drain runs at a time.
//
// send delivers one entry and returns nil only once the collector has
// acknowledged it; it must honour ctx and must not call the spool. An
// entry is removed only after send returned nil, so an entry may be sent
// again after a crash but never lost. While send runs, its entry is never
// dropped to make room.
//
// On an error, permanent (nil: no error is) tells whether sending the same
// entry again can succeed. A retryable error is retried after a backoff
// with full jitter: the n-th failure in a row waits a random time below
// min(RetryMax, RetryMin·2ⁿ); a success resets it. A permanent error means
// the collector refuses this entry for good: the entry is moved to
// rejected/, logged, and a gap record of CauseRejected naming it and the
// error takes its place in the queue; the next entry follows at once. A
// gap record the collector refuses is moved to rejected/ and logged
// without another gap record. Errors that concern every entry alike (a
// revoked credential) should be reported as retryable, so that nothing is
// set aside while they last.
func (s *Spool) Drain(ctx context.Context, send func(context.Context, Entry) error, permanent func(error) bool) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return fmt.Errorf("drain spool %s: %w", s.dir, ErrClosed)
	case s.draining:
		s.mu.Unlock()
		return fmt.Errorf("drain spool %s: another Drain is running", s.dir)
	}
	s.draining = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.draining, s.sending = false, 0
		s.mu.Unlock()
	}()

	failures := 0 // in a row
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, ok, err := s.take()
		if errors.Is(err, ErrClosed) {
			return fmt.Errorf("drain spool %s: %w", s.dir, ErrClosed)
		}
		if err != nil {
			s.log.Error("cannot read the spool; trying again", zap.Error(err))
			if err := s.pause(ctx, s.backoff(failures)); err != nil {
				return err
			}
			failures++
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.done:
				return fmt.Errorf("drain spool %s: %w", s.dir, ErrClosed)
			case <-s.notify:
			}
			continue
		}
		err = send(ctx, e)
		switch {
		case err == nil:
			s.delivered(e, failures)
			failures = 0
		case ctx.Err() != nil:
			s.release(e.ID, nil)
			return ctx.Err()
		case permanent != nil && permanent(err):
			if rerr := s.reject(e, err); rerr != nil {
				s.log.Error("entry refused by the collector but not set aside; it stays queued", zap.Uint64("id", e.ID),
					zap.NamedError("refusal", err), zap.Error(rerr))
				if err := s.pause(ctx, s.backoff(failures)); err != nil {
					return err
				}
				failures++
			}
		default:
			s.release(e.ID, err)
			d := s.backoff(failures)
			fields := []zap.Field{zap.Uint64("id", e.ID), zap.String("kind", e.Kind), zap.Uint64("ref", e.Ref),
				zap.Int("attempt", failures+1), zap.Duration("retry_in", d), zap.Error(err)}
			if failures == 0 {
				s.log.Warn("collector did not take the entry; it stays queued and is retried", fields...)
			} else {
				s.log.Debug("collector did not take the entry; retrying", fields...)
			}
			failures++
			if err := s.pause(ctx, d); err != nil {
				return err
			}
		}
	}
}

// take returns the oldest entry and marks it as being sent.
func (s *Spool) take() (Entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Entry{}, false, ErrClosed
	}
	e, ok, err := s.oldestLocked()
	if ok {
		s.sending = e.ID
	}
	return e, ok, err
}

// release ends the send of an entry that stays queued; err is why.
func (s *Spool) release(id uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sending == id {
		s.sending = 0
	}
	if err != nil {
		s.st.Failures++
		s.st.SendError = err.Error()
		if s.st.FailingSince.IsZero() {
			s.st.FailingSince = s.opt.Now().UTC()
		}
	}
}

// delivered acknowledges an entry the collector took.
func (s *Spool) delivered(e Entry, failures int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sending = 0
	s.st.Sent++
	if failures > 0 {
		s.log.Info("collector takes entries again", zap.Int("failed_attempts", failures),
			zap.Time("failing_since", s.st.FailingSince), zap.Int("queued", len(s.q)))
	}
	s.st.SendError, s.st.FailingSince = "", time.Time{}
	if s.closed {
		return // it is sent again after the next Open
	}
	if err := s.ackLocked(e.ID); err != nil {
		s.log.Error("delivered entry not removed; it is sent again after a restart", zap.Uint64("id", e.ID), zap.Error(err))
	}
}

// reject sets aside an entry the collector refused for good and queues a
// gap record in its place.
func (s *Spool) reject(e Entry, refusal error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if s.sending == e.ID {
			s.sending = 0
		}
	}()
	if s.closed {
		return ErrClosed
	}
	i, ok := s.find(e.ID)
	if !ok {
		return nil
	}
	m := s.q[i]
	name := entryName(m.id)
	kept := filepath.Join(rejectedDir, name)
	if err := s.keepRejected(name); err != nil {
		return err
	}
	s.st.Rejected++
	detail := refusal.Error()
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
		for !utf8.ValidString(detail) {
			detail = detail[:len(detail)-1]
		}
	}
	fields := []zap.Field{zap.Uint64("id", m.id), zap.String("kind", m.kind), zap.Uint64("ref", m.ref),
		zap.String("file", filepath.Join(s.dir, kept)), zap.String("refusal", detail)}
	if m.kind == KindGap {
		s.removeAt(i)
		if err := os.Remove(s.path(m.id)); err != nil {
			s.log.Warn("cannot remove a rejected gap record from the queue", zap.Uint64("id", m.id), zap.Error(err))
		}
		s.log.Error("collector refused a gap record; it is kept under rejected/ and not reported otherwise", fields...)
		return nil
	}
	now := s.opt.Now().UTC()
	l := &loss{merge: mergeKey(CauseRejected, detail), state: newGapState(CauseRejected, "rejected by collector: "+detail, now)}
	l.add(m)
	l.state.g.Rejected = []string{kept}
	if err := s.encode(l, nil); err != nil {
		return err
	}
	if need := l.fileSize - m.size; need > 0 && s.bytes+need > s.opt.MaxBytes {
		losses, err := s.plan(need, nil, m.id)
		if err != nil {
			s.log.Warn("spool goes over its bound by a gap record", zap.Error(err))
		}
		for _, lo := range losses {
			if err := s.writeLoss(lo); err != nil {
				return err
			}
		}
	}
	if err := s.writeLoss(l); err != nil {
		return err
	}
	s.log.Error("collector refused an entry for good; it is kept under rejected/ and a gap record takes its place", fields...)
	return nil
}

// keepRejected keeps a copy of the entry file name under rejected/: a
// hard link, or a copy where links are not possible.
func (s *Spool) keepRejected(name string) error {
	src, dst := filepath.Join(s.dir, name), filepath.Join(s.dir, rejectedDir, name)
	if err := os.Link(src, dst); err != nil && !errors.Is(err, fs.ErrExist) {
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("keep rejected entry %s: %w", src, err)
		}
		defer f.Close()
		if err := atomicfile.Write(dst, 0o600, func(w io.Writer) error {
			_, err := io.Copy(w, f)
			return err
		}); err != nil {
			return fmt.Errorf("keep rejected entry %s: %w", src, err)
		}
	}
	if err := atomicfile.SyncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("keep rejected entry %s: %w", src, err)
	}
	crash("rejected-kept")
	return nil
}

// backoff returns the wait before the retry after n failures in a row.
func (s *Spool) backoff(n int) time.Duration {
	ceiling := s.opt.RetryMin
	for i := 0; i < n && ceiling < s.opt.RetryMax; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, s.opt.RetryMax)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// pause waits d, or less when ctx ends or the spool closes.
func (s *Spool) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return fmt.Errorf("drain spool %s: %w", s.dir, ErrClosed)
	case <-t.C:
		return nil
	}
}
