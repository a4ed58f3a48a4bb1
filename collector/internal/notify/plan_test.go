package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testPolicy is Acme's: New York time, digest Fridays at 16:00, level 3
// to on-call in 10-minute windows, level 2 hourly to the tech lead, quiet
// from 22:00 to 07:00.
func testPolicy(t *testing.T) Policy {
	t.Helper()
	p, err := Settings{
		Digest: "0 16 * * FRI", TimeZone: "America/New_York", Period: "week",
		Recipients:  []string{"ops@acme.example"},
		AlertLevel3: []string{"oncall@msp.example"}, Level3Window: "10m",
		AlertLevel2: []string{"lead@msp.example"}, Level2Every: "1h",
		QuietHours: "22:00-07:00",
	}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	p.TenantName = "acme"
	return p
}

// T is Wednesday 4 November 2026, 10:00 in New York.
var T = utcTime("2026-11-04T15:00:00Z")

func at(d time.Duration) time.Time { return T.Add(d) }

func chg(host, item string, level int, when time.Time) Change {
	return Change{HostID: "h-" + host, Host: host, Key: item, Kind: "modified", Verdict: "unauthorized", Level: level, At: when}
}

// view is what a test compares of a planned email.
type view struct {
	Kind      Kind
	Key       string
	To        string
	Window    string
	NotBefore string
	Update    bool
	Changes   string // "host item level@offset" …
}

func viewOf(p Planned) view {
	var cs []string
	for _, c := range p.Changes {
		cs = append(cs, fmt.Sprintf("%s %s %d@%s", c.Host, c.Key, c.Level, c.At.Sub(T)))
	}
	v := view{Kind: p.Kind, Key: p.Key, To: strings.Join(p.To, ","), Update: p.Update, Changes: strings.Join(cs, "; "),
		Window: p.Window.Start.UTC().Format("01-02T15:04:05") + "/" + p.Window.End.UTC().Format("01-02T15:04:05")}
	if !p.NotBefore.IsZero() {
		v.NotBefore = p.NotBefore.UTC().Format(time.RFC3339)
	}
	return v
}

func TestPlan(t *testing.T) {
	const sshd = "file:/etc/ssh/sshd_config"
	const hosts = "file:/etc/hosts"
	tests := []struct {
		name    string
		change  func(p *Policy)
		changes []Change
		now     time.Time
		want    []view
	}{
		{
			name:    "a level 3 change waits for the hold",
			changes: []Change{chg("web01", sshd, 3, at(time.Minute))},
			now:     at(time.Minute + Level3Hold + Settle - time.Second),
		},
		{
			name:    "a level 3 change is alerted within a minute",
			changes: []Change{chg("web01", sshd, 3, at(time.Minute))},
			now:     at(time.Minute + Level3Hold + Settle),
			want: []view{{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
				Window: "11-04T15:00:00/11-04T15:01:30", Changes: "web01 " + sshd + " 3@1m0s"}},
		},
		{
			name: "a burst to one item is one alert with a count; another item is another",
			changes: []Change{
				chg("web01", sshd, 3, at(time.Minute)), chg("web01", sshd, 3, at(time.Minute+10*time.Second)),
				chg("web01", hosts, 3, at(time.Minute+20*time.Second)),
			},
			now: at(2 * time.Minute),
			want: []view{
				{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
					Window: "11-04T15:00:00/11-04T15:01:30", Changes: "web01 " + sshd + " 3@1m0s; web01 " + sshd + " 3@1m10s"},
				{Kind: KindAlert, Key: "alert/h-web01/" + hosts + "/20261104T1500Z", To: "oncall@msp.example",
					Window: "11-04T15:00:00/11-04T15:01:50", Changes: "web01 " + hosts + " 3@1m20s"},
			},
		},
		{
			name: "the same item on two hosts is two alerts",
			changes: []Change{
				chg("web01", sshd, 3, at(time.Minute)), chg("web02", sshd, 3, at(time.Minute)),
			},
			now: at(2 * time.Minute),
			want: []view{
				{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
					Window: "11-04T15:00:00/11-04T15:01:30", Changes: "web01 " + sshd + " 3@1m0s"},
				{Kind: KindAlert, Key: "alert/h-web02/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
					Window: "11-04T15:00:00/11-04T15:01:30", Changes: "web02 " + sshd + " 3@1m0s"},
			},
		},
		{
			name: "later changes in the window wait for its end",
			changes: []Change{
				chg("web01", sshd, 3, at(time.Minute)), chg("web01", sshd, 3, at(3*time.Minute)), chg("web01", sshd, 3, at(7*time.Minute)),
			},
			now: at(9 * time.Minute),
			want: []view{{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
				Window: "11-04T15:00:00/11-04T15:01:30", Changes: "web01 " + sshd + " 3@1m0s"}},
		},
		{
			name: "and go in one update when it ends",
			changes: []Change{
				chg("web01", sshd, 3, at(time.Minute)), chg("web01", sshd, 3, at(3*time.Minute)), chg("web01", sshd, 3, at(7*time.Minute)),
			},
			now: at(10*time.Minute + Settle),
			want: []view{
				{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
					Window: "11-04T15:00:00/11-04T15:01:30", Changes: "web01 " + sshd + " 3@1m0s"},
				{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z/more", To: "oncall@msp.example", Update: true,
					Window: "11-04T15:00:00/11-04T15:10:00", Changes: "web01 " + sshd + " 3@3m0s; web01 " + sshd + " 3@7m0s"},
			},
		},
		{
			name: "an item that keeps changing gets one update per window",
			changes: []Change{
				chg("web01", sshd, 3, at(time.Minute)), chg("web01", sshd, 3, at(12*time.Minute)), chg("web01", sshd, 3, at(15*time.Minute)),
			},
			now: at(20*time.Minute + Settle),
			want: []view{
				{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
					Window: "11-04T15:00:00/11-04T15:01:30", Changes: "web01 " + sshd + " 3@1m0s"},
				{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1510Z/more", To: "oncall@msp.example", Update: true,
					Window: "11-04T15:10:00/11-04T15:20:00", Changes: "web01 " + sshd + " 3@12m0s; web01 " + sshd + " 3@15m0s"},
			},
		},
		{
			name:    "the hold ends with the window",
			changes: []Change{chg("web01", sshd, 3, at(9*time.Minute+50*time.Second)), chg("web01", sshd, 3, at(10*time.Minute+5*time.Second))},
			now:     at(10*time.Minute + Settle),
			want: []view{{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261104T1500Z", To: "oncall@msp.example",
				Window: "11-04T15:00:00/11-04T15:10:00", Changes: "web01 " + sshd + " 3@9m50s"}},
		},
		{
			name:    "level 3 is never quiet",
			changes: []Change{chg("web01", sshd, 3, utcTime("2026-11-05T08:00:00Z"))}, // 03:00 in New York
			now:     utcTime("2026-11-05T08:01:00Z"),
			want: []view{{Kind: KindAlert, Key: "alert/h-web01/" + sshd + "/20261105T0800Z", To: "oncall@msp.example",
				Window: "11-05T08:00:00/11-05T08:00:30", Changes: "web01 " + sshd + " 3@17h0m0s"}},
		},
		{
			name:    "an old change is not alerted again",
			changes: []Change{chg("web01", sshd, 3, at(time.Minute))},
			now:     at(time.Hour),
		},
		{
			name:    "no on-call address: no alert",
			change:  func(p *Policy) { p.Level3 = nil },
			changes: []Change{chg("web01", sshd, 3, at(time.Minute))},
			now:     at(2 * time.Minute),
		},
		{
			name:    "level 1 waits for the digest",
			changes: []Change{chg("web01", sshd, 1, at(time.Minute))},
			now:     at(2 * time.Hour),
		},
		{
			name:    "level 2 is summarized at the next hour",
			changes: []Change{chg("web01", sshd, 2, at(20*time.Minute)), chg("db01", hosts, 2, at(50*time.Minute)), chg("web01", hosts, 3, at(30*time.Minute))},
			now:     at(time.Hour + Settle),
			want: []view{
				{Kind: KindSummary, Key: "summary/20261104T1600Z", To: "lead@msp.example",
					Window: "11-04T15:00:00/11-04T16:00:00", Changes: "web01 " + sshd + " 2@20m0s; db01 " + hosts + " 2@50m0s"},
			},
		},
		{
			name:    "not before",
			changes: []Change{chg("web01", sshd, 2, at(20*time.Minute))},
			now:     at(time.Hour + Settle - time.Second),
		},
		{
			name:    "a summary is planned again while it is recent, with the same key",
			changes: []Change{chg("web01", sshd, 2, at(20*time.Minute))},
			now:     at(2*time.Hour + 30*time.Minute),
			want: []view{{Kind: KindSummary, Key: "summary/20261104T1600Z", To: "lead@msp.example",
				Window: "11-04T15:00:00/11-04T16:00:00", Changes: "web01 " + sshd + " 2@20m0s"}},
		},
		{
			name:    "and then no longer",
			changes: []Change{chg("web01", sshd, 2, at(20*time.Minute))},
			now:     at(3*time.Hour + 30*time.Minute),
		},
		{
			name: "quiet hours hold level 2 and send one summary when they end",
			changes: []Change{
				chg("web01", sshd, 2, utcTime("2026-11-05T02:30:00Z")), // 21:30
				chg("web01", sshd, 2, utcTime("2026-11-05T04:30:00Z")), // 23:30
				chg("db01", hosts, 2, utcTime("2026-11-05T09:00:00Z")), // 04:00
			},
			now: utcTime("2026-11-05T12:00:05Z"), // 07:00:05
			want: []view{{Kind: KindSummary, Key: "summary/20261105T1200Z", To: "lead@msp.example",
				Window:  "11-05T02:00:00/11-05T12:00:00",
				Changes: "web01 " + sshd + " 2@11h30m0s; web01 " + sshd + " 2@13h30m0s; db01 " + hosts + " 2@18h0m0s"}},
		},
		{
			name:    "nothing goes out in quiet hours",
			changes: []Change{chg("web01", sshd, 2, utcTime("2026-11-05T04:30:00Z"))},
			now:     utcTime("2026-11-05T09:00:05Z"),
		},
		{
			name:    "every 30 minutes",
			change:  func(p *Policy) { p.Level2Every = 30 * time.Minute },
			changes: []Change{chg("web01", sshd, 2, at(20*time.Minute)), chg("web01", sshd, 2, at(40*time.Minute))},
			now:     at(time.Hour + Settle),
			want: []view{
				{Kind: KindSummary, Key: "summary/20261104T1530Z", To: "lead@msp.example",
					Window: "11-04T15:00:00/11-04T15:30:00", Changes: "web01 " + sshd + " 2@20m0s"},
				{Kind: KindSummary, Key: "summary/20261104T1600Z", To: "lead@msp.example",
					Window: "11-04T15:30:00/11-04T16:00:00", Changes: "web01 " + sshd + " 2@40m0s"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy(t)
			if tt.change != nil {
				tt.change(&p)
			}
			// Plan only sees what PlanRange asks for, as from the store.
			r := PlanRange(p, tt.now)
			var in []Change
			for _, c := range tt.changes {
				if r.Contains(c.At) {
					in = append(in, c)
				}
			}
			var got []view
			for _, pl := range Plan(p, in, tt.now) {
				got = append(got, viewOf(pl))
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("planned (-want +got):\n%s", d)
			}
			// Planning is pure: again, the same.
			var again []view
			for _, pl := range Plan(p, in, tt.now) {
				again = append(again, viewOf(pl))
			}
			if d := cmp.Diff(got, again); d != "" {
				t.Errorf("planned differently the second time (-first +second):\n%s", d)
			}
		})
	}
}

// TestPlanRange checks that the range covers every change Plan uses: with
// all changes of a day given, Plan plans what it plans with only the
// range's.
func TestPlanRange(t *testing.T) {
	p := testPolicy(t)
	var all []Change
	for i := range 24 * 12 {
		all = append(all, chg("web01", "file:/etc/ssh/sshd_config", 2+i%2, at(time.Duration(i)*5*time.Minute+time.Minute)))
	}
	for now := at(0); now.Before(at(24 * time.Hour)); now = now.Add(7 * time.Minute) {
		r := PlanRange(p, now)
		var in []Change
		for _, c := range all {
			if r.Contains(c.At) {
				in = append(in, c)
			}
		}
		var full, ranged []view
		for _, pl := range Plan(p, all, now) {
			full = append(full, viewOf(pl))
		}
		for _, pl := range Plan(p, in, now) {
			ranged = append(ranged, viewOf(pl))
		}
		if d := cmp.Diff(full, ranged); d != "" {
			t.Fatalf("at %v the range %v misses changes (-all +ranged):\n%s", now.UTC(), r, d)
		}
	}
}

func TestDigestDue(t *testing.T) {
	p := testPolicy(t)
	fri := utcTime("2026-11-06T21:00:00Z") // Friday 16:00 EST, the week after the change
	tests := []struct {
		name    string
		now     time.Time
		catchUp time.Duration
		due     time.Time // zero: none
	}{
		{"at 16:00 New York time, after the change", fri, time.Hour, fri},
		{"a minute before", fri.Add(-time.Minute), time.Hour, time.Time{}},
		{"at 16:00 UTC-4 (the summer offset)", utcTime("2026-11-06T20:00:00Z"), time.Hour, time.Time{}},
		{"late within the catch-up", fri.Add(5 * time.Hour), 6 * time.Hour, fri},
		{"too late", fri.Add(7 * time.Hour), 6 * time.Hour, time.Time{}},
		{"the week before, in summer time", utcTime("2026-10-30T20:00:30Z"), time.Hour, utcTime("2026-10-30T20:00:00Z")},
	}
	for _, tt := range tests {
		run, ok := DigestDue(p, tt.now, tt.catchUp)
		if ok != !tt.due.IsZero() || (ok && !run.Due.Equal(tt.due)) {
			t.Errorf("%s: due %v (%v), want %v", tt.name, run.Due.UTC(), ok, tt.due)
		}
	}

	run, _ := DigestDue(p, fri, time.Hour)
	want := DigestRun{Due: fri, Window: Window{Start: utcTime("2026-10-30T20:00:00Z"), End: fri}, Label: "2026-W45"}
	if !run.Due.Equal(want.Due) || !run.Window.Start.Equal(want.Window.Start) || !run.Window.End.Equal(want.Window.End) || run.Label != want.Label {
		t.Errorf("run %+v, want %+v", run, want)
	}

	changes := []Change{
		chg("web01", "package:openssl", 1, utcTime("2026-10-30T19:59:59Z")), // before the window
		chg("web01", "package:openssl", 1, utcTime("2026-10-30T20:00:00Z")),
		chg("db01", "file:/etc/hosts", 3, utcTime("2026-11-03T10:00:00Z")),
		chg("web01", "service:nginx", 2, utcTime("2026-11-06T20:59:59Z")),
		chg("web01", "service:nginx", 2, fri), // the next digest's
	}
	pl := PlanDigest(p, run, changes)
	if pl.Kind != KindDigest || pl.Key != "digest/2026-W45" || strings.Join(pl.To, ",") != "ops@acme.example" || !pl.NotBefore.IsZero() {
		t.Errorf("digest %+v", pl)
	}
	if len(pl.Changes) != 3 || !pl.Changes[0].At.Equal(utcTime("2026-10-30T20:00:00Z")) || pl.Changes[2].Key != "service:nginx" {
		t.Errorf("digest changes %+v, want the three in the window, every level, oldest first", pl.Changes)
	}
	if empty := PlanDigest(p, run, nil); empty.Key != "digest/2026-W45" || len(empty.Changes) != 0 {
		t.Errorf("a quiet week's digest: %+v", empty)
	}

	// A digest due in quiet hours is held until they end.
	late, err := ParseCron("0 23 * * FRI", p.Location)
	if err != nil {
		t.Fatal(err)
	}
	p.Digest = late
	run, ok := DigestDue(p, utcTime("2026-11-07T04:00:00Z"), time.Hour)
	if !ok {
		t.Fatal("23:00 digest not due")
	}
	if pl := PlanDigest(p, run, nil); !pl.NotBefore.Equal(utcTime("2026-11-07T12:00:00Z")) {
		t.Errorf("23:00 digest may be sent at %v, want 07:00 the next morning", pl.NotBefore.UTC())
	}

	p.Recipients = nil
	if _, ok := DigestDue(p, fri, time.Hour); ok {
		t.Error("digest due without recipients")
	}
}

func TestKeys(t *testing.T) {
	long := "file:/srv/" + strings.Repeat("ä", 200)
	k := alertKey(itemKey{"h1", long}, T)
	if len(k) > 200 || !strings.HasPrefix(k, "alert/h1/file:/srv/ää") || !strings.HasSuffix(k, "/20261104T1500Z") {
		t.Errorf("long item key %q (%d bytes)", k, len(k))
	}
	if !strings.Contains(k, "~") || strings.ContainsRune(k, '\uFFFD') {
		t.Errorf("long item key %q is not cut cleanly with a hash", k)
	}
	other := alertKey(itemKey{"h1", long + "x"}, T)
	if other == k {
		t.Error("two long items share a key")
	}
	if EmailID("a", "digest/2026-W45") == EmailID("b", "digest/2026-W45") || EmailID("a", "k") != EmailID("a", "k") {
		t.Error("email IDs are not per tenant and key")
	}
}
