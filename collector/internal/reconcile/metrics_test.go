package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
)

func TestCompute(t *testing.T) {
	from := at("2025-03-01T00:00:00Z")
	to := at("2025-04-01T00:00:00Z")
	day := 24 * time.Hour
	rec := func(first string, resolvedAfter time.Duration, v Verdict, level int, st Status) Record {
		r := Record{FirstSeen: at(first), Verdict: v, Level: level, Status: st}
		if resolvedAfter > 0 {
			r.ResolvedAt = r.FirstSeen.Add(resolvedAfter)
		}
		return r
	}
	tests := []struct {
		name    string
		records []Record
		want    Metrics
	}{
		{"nothing", nil, Metrics{From: from, To: to, ByVerdict: map[Verdict]int{}, ResolvedByStatus: map[Status]int{}}},
		{"a month of drift", []Record{
			// Observed in March, resolved in March: 2h, 4h, 1d.
			rec("2025-03-02T10:00:00Z", 2*time.Hour, Authorized, 1, StatusAccepted),
			rec("2025-03-05T10:00:00Z", 4*time.Hour, Authorized, 1, StatusPromoted),
			rec("2025-03-09T10:00:00Z", day, Unauthorized, 3, StatusReverted),
			// Observed in March, still open at its end: 10 days and 1 day.
			rec("2025-03-22T00:00:00Z", 0, UnapprovedTicket, 2, StatusOpen),
			rec("2025-03-31T00:00:00Z", 0, Frozen, 2, StatusOpen),
			// Observed in March, resolved in April: open at the end of
			// March, 20 days old.
			rec("2025-03-12T00:00:00Z", 30*day, OutOfWindow, 1, StatusRevertRequested),
			// Observed in February, resolved in March (5 days): counts for
			// the repair time, not as observed.
			rec("2025-02-27T00:00:00Z", 5*day, Unauthorized, 2, StatusReverted),
			// Observed in February, still open: 41 days old.
			rec("2025-02-19T00:00:00Z", 0, Unauthorized, 3, StatusOpen),
			// Observed in April: not counted.
			rec("2025-04-02T00:00:00Z", 0, Unauthorized, 3, StatusOpen),
		}, Metrics{
			From: from, To: to,
			Observed: 6, Authorized: 2, AuthorizedShare: 2.0 / 6,
			ByVerdict:           map[Verdict]int{Authorized: 2, Unauthorized: 1, UnapprovedTicket: 1, Frozen: 1, OutOfWindow: 1},
			UnauthorizedByLevel: Levels{Level1: 1, Level2: 2, Level3: 1},
			Resolved:            4, ResolvedByStatus: map[Status]int{StatusAccepted: 1, StatusPromoted: 1, StatusReverted: 2},
			// (2h + 4h + 24h + 120h) / 4 = 37h30m.
			MTTR: policy.Duration(37*time.Hour + 30*time.Minute),
			// Open ages 41d, 20d, 10d, 1d: the median is 15d.
			Open: 4, OldestOpen: policy.Duration(41 * day), MedianOpenAge: policy.Duration(15 * day),
		}},
		{"one open, odd count", []Record{
			rec("2025-03-30T00:00:00Z", 0, Unauthorized, 1, StatusOpen),
			rec("2025-03-29T00:00:00Z", 0, Unauthorized, 1, StatusOpen),
			rec("2025-03-21T00:00:00Z", 0, Unauthorized, 1, StatusOpen),
		}, Metrics{
			From: from, To: to, Observed: 3, ByVerdict: map[Verdict]int{Unauthorized: 3},
			UnauthorizedByLevel: Levels{Level1: 3}, ResolvedByStatus: map[Status]int{},
			Open: 3, OldestOpen: policy.Duration(11 * day), MedianOpenAge: policy.Duration(3 * day),
		}},
		{"resolved at the end of the period is still open then", []Record{
			rec("2025-03-31T00:00:00Z", day, Authorized, 1, StatusAccepted),
		}, Metrics{
			From: from, To: to, Observed: 1, Authorized: 1, AuthorizedShare: 1,
			ByVerdict: map[Verdict]int{Authorized: 1}, ResolvedByStatus: map[Status]int{},
			Open: 1, OldestOpen: policy.Duration(day), MedianOpenAge: policy.Duration(day),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compute(tt.records, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestComputeErrors(t *testing.T) {
	from := at("2025-03-01T00:00:00Z")
	to := at("2025-04-01T00:00:00Z")
	bad := []Record{
		{FirstSeen: from, Verdict: Authorized, Level: 1},
		{FirstSeen: at("2025-03-05T00:00:00Z"), ResolvedAt: at("2025-03-04T00:00:00Z"), Verdict: Unauthorized, Level: 2, Status: StatusReverted},
	}
	if _, err := Compute(bad, from, to); err == nil || !strings.Contains(err.Error(), "record 1 resolved at 2025-03-04T00:00:00Z, before it was first seen at 2025-03-05T00:00:00Z") {
		t.Errorf("Compute = %v", err)
	}
	if _, err := Compute(nil, to, from); err == nil || !strings.Contains(err.Error(), "ends before it starts") {
		t.Errorf("Compute with a backwards period = %v", err)
	}
}
