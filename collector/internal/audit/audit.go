package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Actions recorded by the collector. An action is a dotted name: the thing
// acted on, then the verb. Other actions may be recorded; these are the
// ones the product writes.
const (
	ActionTicketCreate     = "ticket.create"
	ActionTicketUpdate     = "ticket.update"
	ActionTicketTransition = "ticket.transition"
	ActionTicketApprove    = "ticket.approve"
	ActionPolicyUpdate     = "policy.update"
	ActionBaselineAdd      = "baseline.add"
	ActionDriftAccept      = "drift.accept"
	ActionDriftPromote     = "drift.promote"
	ActionDriftRevert      = "drift.revert_request"
)

// Entry is one entry of a tenant's audit log.
type Entry struct {
	// TenantID is the tenant whose chain the entry is in.
	TenantID string
	// Seq numbers the tenant's entries 1, 2, 3 …; the store assigns it.
	Seq uint64
	// At is when the recorded action happened.
	At time.Time
	// Actor is who acted: a user's email, or a component such as
	// "collector" or "integration:jira".
	Actor string
	// Action is what was done, such as "ticket.transition" (see the
	// Action constants).
	Action string
	// Subject is what it was done to: a ticket, host or drift item ID.
	Subject string
	// Detail is JSON with the particulars, or empty.
	Detail []byte
	// PrevHash is the previous entry's Hash; empty for the first entry.
	PrevHash string
	// Hash is Hash(PrevHash, the entry); the store computes it.
	Hash string
}

// Head is the end of a chain: its newest entry's sequence number and hash.
// The zero Head is an empty chain.
type Head struct {
	Seq  uint64
	Hash string
}

// tag starts every hashed encoding; a new encoding gets a new tag.
const tag = "driftwatch-audit-v1\n"

// Hash returns the hash of e chained to prev, the previous entry's hash
// ("" for the first entry), by the encoding in the package documentation.
// It ignores e.PrevHash and e.Hash.
func Hash(prev string, e Entry) string {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(tag))
	binary.BigEndian.PutUint64(n[:], e.Seq)
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixMicro()))
	h.Write(n[:])
	for _, f := range [][]byte{[]byte(e.TenantID), []byte(e.Actor), []byte(e.Action), []byte(e.Subject), canonicalDetail(e.Detail), []byte(prev)} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(f)))
		h.Write(n[:4])
		h.Write(f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalDetail is detail without insignificant white space, or detail
// itself when it is not valid JSON.
func canonicalDetail(detail []byte) []byte {
	if len(detail) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, detail); err != nil {
		return detail
	}
	return b.Bytes()
}
