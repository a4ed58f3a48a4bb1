package baseline

import (
	"fmt"
	"strings"
	"time"
)

// Meta describes one approved baseline version of a host: which snapshot it
// is, who approved it, when and why.
type Meta struct {
	// Host is the host's name.
	Host string `json:"host"`
	// Version counts the host's baselines from 1.
	Version int `json:"version"`
	// SnapshotDigest is the state digest of the approved snapshot.
	SnapshotDigest Digest `json:"snapshot_digest"`
	// Items is the number of items in the approved snapshot.
	Items int `json:"items"`
	// ApprovedBy is who approved it.
	ApprovedBy string `json:"approved_by"`
	// ApprovedAt is when it was approved.
	ApprovedAt time.Time `json:"approved_at"`
	// Reason is why it was approved.
	Reason string `json:"reason"`
	// Tickets are the change tickets the approval refers to.
	Tickets []string `json:"tickets,omitempty"`
	// Reviewed is false for a baseline that documents what existed without
	// anyone having reviewed it (a host's first baseline, taken as found).
	Reviewed bool `json:"reviewed"`
}

// Validate checks that the approval says who, why and which version.
func (m *Meta) Validate() error {
	var missing []string
	if m.Version < 1 {
		missing = append(missing, "version (must be 1 or more)")
	}
	if strings.TrimSpace(m.ApprovedBy) == "" {
		missing = append(missing, "approved_by")
	}
	if strings.TrimSpace(m.Reason) == "" {
		missing = append(missing, "reason")
	}
	if m.ApprovedAt.IsZero() {
		missing = append(missing, "approved_at")
	}
	if len(missing) > 0 {
		return fmt.Errorf("baseline v%d: missing %s", m.Version, strings.Join(missing, ", "))
	}
	return nil
}

// Baseline is an approved snapshot of a host with its approval.
type Baseline struct {
	Meta
	// Snapshot is the approved state.
	Snapshot *Snapshot `json:"-"`
}
