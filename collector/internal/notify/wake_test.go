package notify

import (
	"context"
	"testing"
	"time"
)

// TestNextDue: the instant the next level 3 alert falls due, as the
// changes stand, so that the notifier ticks then.
func TestNextDue(t *testing.T) {
	const sshd = "file:/etc/ssh/sshd_config"
	p := testPolicy(t)
	tests := []struct {
		name    string
		changes []Change
		now     time.Time
		want    time.Time // zero: none pending
	}{
		{"nothing changed", nil, at(time.Minute), time.Time{}},
		{"level 1 and 2 wait for the digest and summary",
			[]Change{chg("web01", "package:openssl", 1, at(time.Minute)), chg("web01", "service:nginx", 2, at(time.Minute))},
			at(2 * time.Minute), time.Time{}},
		{"first change: its hold ends 30s later",
			[]Change{chg("web01", sshd, 3, at(time.Minute))},
			at(time.Minute + 5*time.Second), at(time.Minute + Level3Hold + Settle)},
		{"two items: the earlier hold",
			[]Change{chg("web01", sshd, 3, at(time.Minute+10*time.Second)), chg("db01", "file:/etc/sudoers", 3, at(time.Minute))},
			at(time.Minute + 15*time.Second), at(time.Minute + Level3Hold + Settle)},
		{"two items, the first alert sent: the other's hold",
			[]Change{chg("web01", sshd, 3, at(2*time.Minute)), chg("db01", "file:/etc/sudoers", 3, at(time.Minute))},
			at(2 * time.Minute), at(2*time.Minute + Level3Hold + Settle)},
		{"hold cut by the end of the window",
			[]Change{chg("web01", sshd, 3, at(9*time.Minute+50*time.Second))},
			at(9*time.Minute + 55*time.Second), at(10*time.Minute + Settle)},
		{"after the first alert, the update at the window's end",
			[]Change{chg("web01", sshd, 3, at(time.Minute)), chg("web01", sshd, 3, at(4*time.Minute))},
			at(5 * time.Minute), at(10*time.Minute + Settle)},
		{"first alert due already and no more changes: nothing pending",
			[]Change{chg("web01", sshd, 3, at(time.Minute))},
			at(2 * time.Minute), time.Time{}},
		{"a change after now is not known yet",
			[]Change{chg("web01", sshd, 3, at(3*time.Minute))},
			at(2 * time.Minute), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextDue(p, tt.changes, tt.now)
			if !got.Equal(tt.want) {
				t.Errorf("NextDue = %v, want %v", got.UTC(), tt.want.UTC())
			}
			// Whatever is due then is what Plan plans then and not before.
			if !got.IsZero() {
				before, then := Plan(p, tt.changes, got.Add(-time.Nanosecond)), Plan(p, tt.changes, got)
				if len(then) <= len(before) {
					t.Errorf("Plan at NextDue gives %d emails, just before %d: nothing new fell due", len(then), len(before))
				}
			}
		})
	}
	p.Level3 = nil
	if got := NextDue(p, []Change{chg("web01", sshd, 3, at(time.Minute))}, at(time.Minute)); !got.IsZero() {
		t.Errorf("NextDue without level 3 recipients = %v, want none", got)
	}
}

// TestRunWakesAtHoldEnd: Run, with an interval far longer than the hold,
// sends a level 3 alert when its hold ends, not at its next interval.
func TestRunWakesAtHoldEnd(t *testing.T) {
	e := newEnv(t, alerting)
	start := time.Now()
	// The notifier's clock runs with the wall clock, shifted so that the
	// hold of a change made at T+1m ends a moment after the first tick.
	offset := at(time.Minute+Level3Hold+Settle).Sub(start) - 300*time.Millisecond
	n := e.notifier("c", e.store, func(o *Options) {
		o.Interval = time.Hour
		o.Now = func() time.Time { return time.Now().Add(offset) }
	})
	e.changes.Add(e.tenant.ID, chg("web01", "file:/etc/sudoers", 3, at(time.Minute)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	got := e.srv.waitFor(1) // fails after its deadline, long before an hour
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if s := subjects(got, t); len(s) != 1 || s[0] != "[acme] LEVEL 3: file:/etc/sudoers changed on web01 (1 changes)" {
		t.Errorf("received %q", s)
	}
}
