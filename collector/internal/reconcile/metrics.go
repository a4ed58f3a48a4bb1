package reconcile

import (
	"fmt"
	"slices"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
)

// Status is where a drift item is in its life; the values are the
// store's drift item statuses.
type Status string

// Statuses of a drift item.
const (
	// StatusOpen: the change awaits a decision.
	StatusOpen Status = "open"
	// StatusAccepted: a person accepted the change as it is.
	StatusAccepted Status = "accepted"
	// StatusPromoted: the change was made part of a new baseline.
	StatusPromoted Status = "promoted"
	// StatusRevertRequested: a person asked for the change to be rolled
	// back.
	StatusRevertRequested Status = "revert_requested"
	// StatusReverted: the item returned to its baseline state.
	StatusReverted Status = "reverted"
)

// Record is what metrics need of one drift item.
type Record struct {
	// FirstSeen is when the change was first observed.
	FirstSeen time.Time `json:"first_seen"`
	// ResolvedAt is when it was reconciled: when a person decided on it
	// (accepted, promoted, revert requested) or it returned to its
	// baseline state (reverted); zero while it awaits a decision.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Verdict and Level are its reconciliation verdict and escalation
	// level.
	Verdict Verdict `json:"verdict"`
	Level   int     `json:"level"`
	// Status is how it was resolved, or StatusOpen.
	Status Status `json:"status"`
}

// Levels counts items by escalation level.
type Levels struct {
	Level1 int `json:"level_1"`
	Level2 int `json:"level_2"`
	Level3 int `json:"level_3"`
}

// Metrics describe one tenant's drift over a period [From, To).
type Metrics struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Observed is the number of changes first seen in the period.
	Observed int `json:"observed"`
	// Authorized is how many of them were authorized.
	Authorized int `json:"authorized"`
	// AuthorizedShare is Authorized / Observed, the change success rate;
	// 0 when nothing was observed.
	AuthorizedShare float64 `json:"authorized_share"`
	// ByVerdict counts the changes observed in the period by verdict.
	ByVerdict map[Verdict]int `json:"by_verdict"`
	// UnauthorizedByLevel counts the changes observed in the period that
	// were not authorized (any other verdict), by escalation level.
	UnauthorizedByLevel Levels `json:"unauthorized_by_level"`
	// Resolved is how many changes were reconciled in the period, and
	// ResolvedByStatus how.
	Resolved         int            `json:"resolved"`
	ResolvedByStatus map[Status]int `json:"resolved_by_status"`
	// MTTR is the mean time from first seen to reconciled of the changes
	// reconciled in the period; 0 when none was.
	MTTR policy.Duration `json:"mttr"`
	// Open is how many changes were open at the end of the period,
	// whenever they were first seen; OldestOpen and MedianOpenAge are
	// their ages then.
	Open          int             `json:"open"`
	OldestOpen    policy.Duration `json:"oldest_open"`
	MedianOpenAge policy.Duration `json:"median_open_age"`
}

// Compute computes the metrics of the period [from, to) from a tenant's
// drift records. Records first seen at or after to are not counted. The
// error names a record resolved before it was first seen, or a period that
// ends before it starts.
func Compute(records []Record, from, to time.Time) (Metrics, error) {
	if !to.After(from) {
		return Metrics{}, fmt.Errorf("drift metrics: period %s to %s ends before it starts", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	m := Metrics{From: from, To: to, ByVerdict: map[Verdict]int{}, ResolvedByStatus: map[Status]int{}}
	var repair time.Duration
	var ages []time.Duration
	for i, r := range records {
		resolved := !r.ResolvedAt.IsZero()
		if resolved && r.ResolvedAt.Before(r.FirstSeen) {
			return Metrics{}, fmt.Errorf("drift metrics: record %d resolved at %s, before it was first seen at %s",
				i, r.ResolvedAt.Format(time.RFC3339), r.FirstSeen.Format(time.RFC3339))
		}
		if !r.FirstSeen.Before(to) {
			continue
		}
		if !r.FirstSeen.Before(from) {
			m.Observed++
			m.ByVerdict[r.Verdict]++
			if r.Verdict == Authorized {
				m.Authorized++
			} else {
				switch r.Level {
				case 1:
					m.UnauthorizedByLevel.Level1++
				case 2:
					m.UnauthorizedByLevel.Level2++
				case 3:
					m.UnauthorizedByLevel.Level3++
				}
			}
		}
		switch {
		case resolved && !r.ResolvedAt.Before(from) && r.ResolvedAt.Before(to):
			m.Resolved++
			m.ResolvedByStatus[r.Status]++
			repair += r.ResolvedAt.Sub(r.FirstSeen)
		case !resolved || !r.ResolvedAt.Before(to):
			ages = append(ages, to.Sub(r.FirstSeen))
		}
	}
	if m.Observed > 0 {
		m.AuthorizedShare = float64(m.Authorized) / float64(m.Observed)
	}
	if m.Resolved > 0 {
		m.MTTR = policy.Duration(repair / time.Duration(m.Resolved))
	}
	if m.Open = len(ages); m.Open > 0 {
		slices.Sort(ages)
		m.OldestOpen = policy.Duration(ages[len(ages)-1])
		mid := len(ages) / 2
		median := ages[mid]
		if len(ages)%2 == 0 {
			median = ages[mid-1] + (ages[mid]-ages[mid-1])/2
		}
		m.MedianOpenAge = policy.Duration(median)
	}
	return m, nil
}
