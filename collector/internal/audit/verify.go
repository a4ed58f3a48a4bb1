package audit

import (
	"fmt"
	"iter"
)

// Problem is what is wrong with a chain at a Break.
type Problem string

// The problems Verify finds.
const (
	// ContentAltered: the entry's hash does not match its content; the
	// entry was changed after it was written.
	ContentAltered Problem = "content altered"
	// ChainBroken: the entry's content matches its hash but its PrevHash
	// is not the previous entry's hash: the previous entry was changed
	// and its hash recomputed, or entries were swapped or inserted, or
	// the entry belongs to another chain.
	ChainBroken Problem = "chain link broken"
	// SequenceGap: the entry's sequence number is not the previous one
	// plus one: entries were removed (or the chain does not start at 1).
	SequenceGap Problem = "sequence gap"
	// Truncated: the chain ends before the head recorded for it: its
	// newest entries were removed.
	Truncated Problem = "entries missing at the end"
)

// Break is the first place a chain is broken.
type Break struct {
	// Seq is the sequence number of the first entry that is wrong or
	// missing.
	Seq     uint64
	Problem Problem
	// Detail says what was found, for a person.
	Detail string
}

// Error says where the chain breaks and why.
func (b *Break) Error() string {
	return fmt.Sprintf("audit entry %d: %s: %s", b.Seq, b.Problem, b.Detail)
}

// Verifier checks a chain's entries one at a time, oldest first. The zero
// Verifier starts at the beginning of a chain; NewVerifier resumes after
// an entry already checked. After the first break it reports that break
// for every further call.
type Verifier struct {
	head    Head
	tenant  string
	checked int
	broken  *Break
}

// NewVerifier returns a Verifier that expects the entry after from, a
// head known to be good (say from an earlier verification).
func NewVerifier(from Head) *Verifier {
	return &Verifier{head: from}
}

// Check checks the next entry and returns the chain's first break, or
// nil while the chain is whole. An entry is checked for, in order: its
// sequence number, its content against its hash, and its link to the
// previous entry.
func (v *Verifier) Check(e Entry) *Break {
	if v.broken != nil {
		return v.broken
	}
	want := v.head.Seq + 1
	switch {
	case e.Seq > want:
		v.broken = &Break{Seq: want, Problem: SequenceGap,
			Detail: fmt.Sprintf("after entry %d comes entry %d; %s missing", v.head.Seq, e.Seq, span(want, e.Seq-1))}
	case e.Seq < want:
		v.broken = &Break{Seq: e.Seq, Problem: SequenceGap,
			Detail: fmt.Sprintf("after entry %d comes entry %d again or out of order", v.head.Seq, e.Seq)}
	case Hash(e.PrevHash, e) != e.Hash:
		v.broken = &Break{Seq: e.Seq, Problem: ContentAltered,
			Detail: fmt.Sprintf("%s %s by %q at %s does not match its hash %s", e.Action, e.Subject, e.Actor,
				e.At.UTC().Format("2006-01-02T15:04:05.000000Z"), short(e.Hash))}
	case e.PrevHash != v.head.Hash && v.head.Seq == 0:
		v.broken = &Break{Seq: e.Seq, Problem: ChainBroken,
			Detail: fmt.Sprintf("the first entry's previous hash is %s, want none", short(e.PrevHash))}
	case e.PrevHash != v.head.Hash:
		v.broken = &Break{Seq: e.Seq, Problem: ChainBroken,
			Detail: fmt.Sprintf("its previous hash %s is not entry %d's hash %s: entry %d was altered or replaced",
				short(e.PrevHash), v.head.Seq, short(v.head.Hash), v.head.Seq)}
	case v.checked > 0 && e.TenantID != v.tenant:
		v.broken = &Break{Seq: e.Seq, Problem: ChainBroken,
			Detail: fmt.Sprintf("it is of tenant %q, the chain of tenant %q", e.TenantID, v.tenant)}
	}
	if v.broken != nil {
		return v.broken
	}
	v.head = Head{Seq: e.Seq, Hash: e.Hash}
	v.tenant = e.TenantID
	v.checked++
	return nil
}

// End checks that the chain ends at head, the head recorded for it, once
// every entry has been checked: a chain that stops short of it lost its
// newest entries. It returns the chain's first break, or nil.
func (v *Verifier) End(head Head) *Break {
	if v.broken != nil {
		return v.broken
	}
	switch {
	case head.Seq > v.head.Seq:
		v.broken = &Break{Seq: v.head.Seq + 1, Problem: Truncated,
			Detail: fmt.Sprintf("the chain ends at entry %d, its recorded head is entry %d; %s missing",
				v.head.Seq, head.Seq, span(v.head.Seq+1, head.Seq))}
	case head != v.head:
		v.broken = &Break{Seq: v.head.Seq, Problem: ChainBroken,
			Detail: fmt.Sprintf("the chain ends at entry %d with hash %s, its recorded head is entry %d with hash %s",
				v.head.Seq, short(v.head.Hash), head.Seq, short(head.Hash))}
	}
	return v.broken
}

// Head returns the newest entry checked good (or the head the Verifier
// started from).
func (v *Verifier) Head() Head { return v.head }

// Checked returns how many entries were checked good.
func (v *Verifier) Checked() int { return v.checked }

// Result is what Verify found.
type Result struct {
	// Checked is how many entries were found good, up to the break.
	Checked int
	// Head is the newest entry found good.
	Head Head
	// Break is the first break; nil when the chain is whole.
	Break *Break
}

// Verify checks a whole chain, oldest entry first, and stops at its first
// break. The error is one the entries gave (reading them failed); a
// broken chain is a Result with a Break, not an error.
func Verify(entries iter.Seq2[Entry, error]) (Result, error) {
	var v Verifier
	for e, err := range entries {
		if err != nil {
			return Result{Checked: v.Checked(), Head: v.Head()}, fmt.Errorf("verify audit chain after entry %d: %w", v.Head().Seq, err)
		}
		if v.Check(e) != nil {
			break
		}
	}
	return Result{Checked: v.Checked(), Head: v.Head(), Break: v.broken}, nil
}

// span names the entries from a to b.
func span(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("entry %d is", a)
	}
	return fmt.Sprintf("entries %d to %d are", a, b)
}

// short shortens a hash for messages.
func short(h string) string {
	if h == "" {
		return `""`
	}
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
