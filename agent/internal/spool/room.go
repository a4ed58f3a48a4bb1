package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"
	"unique"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
)

// loss is one gap record to write in the place of the entries it drops.
type loss struct {
	merge string
	state *gapState
	// drop holds the entries the record replaces: those lost and an
	// earlier record of the same cause it absorbs.
	drop      []*meta
	dropBytes int64
	fresh     int    // entries in drop that are not an absorbed gap record
	absorbed  bool   // drop holds an earlier gap record
	slot      uint64 // the record's ID: the largest in drop

	// Set by encode.
	prefix, body []byte
	fileSize     int64
	hdr          *fileHeader
}

func mergeKey(cause, detail string) string { return cause + "\x00" + detail }

// freed is how many bytes writing the record saves; encode first.
func (l *loss) freed() int64 { return l.dropBytes - l.fileSize }

func (l *loss) add(m *meta) {
	l.state.add(m)
	l.drop = append(l.drop, m)
	l.dropBytes += m.size
	l.fresh++
	l.slot = max(l.slot, m.id)
}

// encode builds the record's file. gone holds the entries that records
// written before this one remove: they are not on disk when it is written.
func (s *Spool) encode(l *loss, gone map[uint64]bool) error {
	full := l.state.full()
	body, err := json.Marshal(full.capped())
	if err != nil {
		return fmt.Errorf("encode gap record: %w", err)
	}
	// The record replaces the entries in drop; the ranges must hold no
	// entry that stays, so they break at every entry kept between them.
	in := make(map[uint64]bool, len(l.drop))
	for _, m := range l.drop {
		in[m.id] = true
	}
	var rs []idRange
	open := false
	for _, m := range s.q {
		switch {
		case gone[m.id]:
		case in[m.id]:
			if open {
				rs[len(rs)-1][1] = m.id
			} else {
				rs = append(rs, idRange{m.id, m.id})
				open = true
			}
		default:
			open = false
		}
	}
	if len(rs) == 1 && rs[0] == (idRange{l.slot, l.slot}) {
		rs = nil // the rename replaces the one entry
	}
	h := &fileHeader{ID: l.slot, Kind: KindGap, At: l.state.g.UpdatedAt,
		Gap: &gapHeader{Merge: l.merge, Replaces: rs, State: full}}
	prefix, err := encodePrefix(h, body)
	if err != nil {
		return err
	}
	l.prefix, l.body, l.hdr = prefix, body, h
	l.fileSize = int64(len(prefix) + len(body))
	return nil
}

// newLoss starts a gap record of a cause, absorbing the newest record of
// the same cause that is queued and may be dropped.
func (s *Spool) newLoss(cause, detail, reason string, now time.Time, skip func(*meta) bool) *loss {
	l := &loss{merge: mergeKey(cause, detail), state: newGapState(cause, reason, now)}
	for i := len(s.q) - 1; i >= 0; i-- {
		m := s.q[i]
		if m.kind != KindGap || m.merge != l.merge || skip(m) {
			continue
		}
		h, _, err := checkEntryFile(s.path(m.id))
		if err != nil {
			s.log.Warn("gap record unreadable; a new one is queued beside it", zap.Uint64("id", m.id), zap.Error(err))
			break
		}
		l.state.absorb(h.Gap.State)
		l.state.g.Reason = reason
		l.drop = append(l.drop, m)
		l.dropBytes += m.size
		l.absorbed = true
		l.slot = m.id
		break
	}
	return l
}

// plan chooses what to drop so that need more bytes fit in the bound and
// returns the gap records to write, in order. incoming is the entry that
// needs the room when it is one (a report covers older ones), protect an
// entry to keep besides the one Drain is sending. It changes nothing.
func (s *Spool) plan(need int64, incoming *meta, protect uint64) ([]*loss, error) {
	now := s.opt.Now().UTC()
	gone := map[uint64]bool{}  // removed by the records planned so far
	taken := map[uint64]bool{} // dropped by them, their IDs included
	var losses []*loss
	var freed int64
	fits := func(l *loss) (bool, error) {
		f := freed
		if l != nil && l.fresh > 0 {
			// The record only grows as entries are added: skip encoding
			// while even its last size cannot make it fit.
			if s.bytes+need-(f+l.dropBytes-l.fileSize) > s.opt.MaxBytes {
				return false, nil
			}
			if err := s.encode(l, gone); err != nil {
				return false, err
			}
			f += l.freed()
		}
		return s.bytes+need-f <= s.opt.MaxBytes, nil
	}
	keep := func(m *meta) bool { return m.id == s.sending || m.id == protect || taken[m.id] }
	commit := func(l *loss) error {
		if l.fresh == 0 {
			return nil
		}
		if err := s.encode(l, gone); err != nil {
			return err
		}
		losses = append(losses, l)
		freed += l.freed()
		for _, m := range l.drop {
			taken[m.id] = true
			if m.id != l.slot {
				gone[m.id] = true
			}
		}
		return nil
	}
	steps := []struct {
		cause, reason string
		candidates    func() []*meta
	}{
		{CauseSuperseded, fmt.Sprintf("spool full (%s): reports dropped whose items later reports still queued cover; "+
			"the current state arrives with those, the history in between is lost", formatBytes(s.opt.MaxBytes)),
			func() []*meta { return s.superseded(incoming, keep) }},
		{CauseSpoolFull, fmt.Sprintf("spool full (%s): the oldest entries were dropped while the collector did not accept them",
			formatBytes(s.opt.MaxBytes)),
			func() []*meta {
				var out []*meta
				for _, m := range s.q {
					if m.kind != KindGap && !keep(m) {
						out = append(out, m)
					}
				}
				return out
			}},
	}
	for _, step := range steps {
		if ok, err := fits(nil); err != nil || ok {
			return losses, err
		}
		cands := step.candidates()
		if len(cands) == 0 {
			continue
		}
		l := s.newLoss(step.cause, "", step.reason, now, keep)
		if l.absorbed {
			l.fileSize = l.dropBytes // a lower bound of the merged record
		}
		for _, m := range cands {
			ok, err := fits(l)
			if err != nil {
				return nil, err
			}
			if ok {
				break
			}
			l.add(m)
		}
		if err := commit(l); err != nil {
			return nil, err
		}
	}
	if ok, err := fits(nil); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: %s more do not fit in %s beside %s of gap records and the entry being sent",
				ErrFull, formatBytes(need), formatBytes(s.opt.MaxBytes), formatBytes(s.bytes-freed))
		}
		return nil, err
	}
	return losses, nil
}

// superseded returns, oldest first, the queued reports whose every key a
// later report covers (incoming, when it is a report, among them) and
// that keep does not hold.
func (s *Spool) superseded(incoming *meta, keep func(*meta) bool) []*meta {
	cover := map[unique.Handle[string]]struct{}{}
	later := false
	if incoming != nil && incoming.kind == KindReport {
		for _, k := range incoming.keys {
			cover[k] = struct{}{}
		}
		later = true
	}
	var out []*meta
	for i := len(s.q) - 1; i >= 0; i-- {
		m := s.q[i]
		if m.kind != KindReport {
			continue
		}
		if later && !keep(m) && coveredBy(m.keys, cover) {
			out = append(out, m)
		}
		for _, k := range m.keys {
			cover[k] = struct{}{}
		}
		later = true
	}
	slices.Reverse(out)
	return out
}

func coveredBy(keys []unique.Handle[string], cover map[unique.Handle[string]]struct{}) bool {
	for _, k := range keys {
		if _, ok := cover[k]; !ok {
			return false
		}
	}
	return true
}

// writeLoss writes an encoded gap record over the newest entry it
// replaces (the rename is the commit point) and then removes the others.
// A crash between the two is completed on Open.
func (s *Spool) writeLoss(l *loss) error {
	path := s.path(l.slot)
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		if _, err := w.Write(l.prefix); err != nil {
			return err
		}
		_, err := w.Write(l.body)
		return err
	})
	if err != nil {
		return fmt.Errorf("write gap record: %w", err)
	}
	crash("gap-written")
	dropped := make(map[uint64]bool, len(l.drop))
	for _, m := range l.drop {
		dropped[m.id] = true
		if m.id == l.slot {
			continue
		}
		if err := os.Remove(s.path(m.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot remove an entry a gap record replaced; it is removed on the next start",
				zap.Uint64("id", m.id), zap.Error(err))
		}
	}
	gm := metaOf(l.hdr, l.fileSize)
	q := s.q[:0]
	for _, m := range s.q {
		switch {
		case m.id == l.slot:
			q = append(q, gm)
		case !dropped[m.id]:
			q = append(q, m)
		}
	}
	clear(s.q[len(q):])
	s.q = q
	s.bytes += l.fileSize - l.dropBytes
	s.gaps++
	if l.absorbed {
		s.gaps--
	}
	g := &l.state.g
	switch g.Cause {
	case CauseSuperseded:
		s.st.Coalesced += uint64(l.fresh)
	case CauseSpoolFull:
		s.st.Dropped += uint64(l.fresh)
	}
	fields := []zap.Field{zap.String("cause", g.Cause), zap.Int("entries", l.fresh), zap.Int("gap_entries", g.Entries),
		zap.Uint64("gap_id", l.slot), zap.Time("first_at", g.FirstAt), zap.Time("last_at", g.LastAt), zap.String("reason", g.Reason)}
	if l.absorbed {
		// A long outage drops on every append: say it once per record.
		s.log.Debug("entries dropped; merged into the queued gap record", fields...)
	} else {
		s.log.Warn("entries dropped; a gap record takes their place", fields...)
	}
	return nil
}
