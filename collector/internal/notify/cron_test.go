package notify

import (
	"strings"
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utcTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestCronNext checks run times on the wall clock of a zone, across the
// daylight-saving changes of 2026 (America/New_York: 8 March and
// 1 November).
func TestCronNext(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		zone  string
		after string
		want  []string // the next runs, in UTC
	}{
		{
			name: "Friday 16:00 digest across the November change",
			spec: "0 16 * * FRI", zone: "America/New_York", after: "2026-10-30T19:00:00Z",
			// 16:00 EDT is 20:00Z; after the change 16:00 EST is 21:00Z.
			want: []string{"2026-10-30T20:00:00Z", "2026-11-06T21:00:00Z", "2026-11-13T21:00:00Z"},
		},
		{
			name: "Friday 16:00 digest across the March change",
			spec: "0 16 * * FRI", zone: "America/New_York", after: "2026-03-01T00:00:00Z",
			want: []string{"2026-03-06T21:00:00Z", "2026-03-13T20:00:00Z"},
		},
		{
			name: "a skipped wall time runs when the clocks jump",
			spec: "30 2 * * *", zone: "America/New_York", after: "2026-03-07T12:00:00Z",
			// 02:30 does not exist on 8 March: it runs at 03:00 EDT (07:00Z).
			want: []string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
		},
		{
			name: "a repeated wall time runs once, at its first occurrence",
			spec: "30 1 * * *", zone: "America/New_York", after: "2026-10-31T12:00:00Z",
			// 01:30 EDT (05:30Z); not again at 01:30 EST (06:30Z).
			want: []string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		},
		{
			name: "half-hourly through the repeated hour",
			spec: "*/30 * * * *", zone: "America/New_York", after: "2026-11-01T05:00:00Z",
			want: []string{"2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"},
		},
		{
			name: "half-hourly through the skipped hour",
			spec: "*/30 * * * *", zone: "America/New_York", after: "2026-03-08T06:00:00Z",
			// 02:00, 02:30 and 03:00 all fall on the jump: one run.
			want: []string{"2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"},
		},
		{
			name: "descriptor in a zone east of UTC",
			spec: "@daily", zone: "Europe/Berlin", after: "2026-06-30T23:00:00Z",
			want: []string{"2026-07-01T22:00:00Z", "2026-07-02T22:00:00Z"},
		},
		{
			name: "weekdays in a half-hour zone",
			spec: "0 9 * * MON-FRI", zone: "Asia/Kolkata", after: "2026-11-06T04:00:00Z",
			// Friday 09:00 IST is 03:30Z, gone; next Monday.
			want: []string{"2026-11-09T03:30:00Z", "2026-11-10T03:30:00Z"},
		},
		{
			name: "day of month or day of week",
			spec: "0 0 13 * FRI", zone: "UTC", after: "2026-11-01T00:00:00Z",
			want: []string{"2026-11-06T00:00:00Z", "2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z"},
		},
		{
			name: "monthly on the first",
			spec: "0 8 1 * *", zone: "UTC", after: "2026-01-01T08:00:00Z",
			want: []string{"2026-02-01T08:00:00Z", "2026-03-01T08:00:00Z"},
		},
		{
			name: "leap day",
			spec: "0 0 29 2 *", zone: "UTC", after: "2026-01-01T00:00:00Z",
			want: []string{"2028-02-29T00:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.spec, mustZone(t, tt.zone))
			if err != nil {
				t.Fatal(err)
			}
			at := utcTime(tt.after)
			for i, w := range tt.want {
				at = c.Next(at)
				if !at.Equal(utcTime(w)) {
					t.Fatalf("run %d: %s (%s), want %s", i+1, at.UTC().Format(time.RFC3339), at.In(c.Location()).Format(time.RFC3339), w)
				}
				if at.Location() != c.Location() {
					t.Errorf("run %d is in %v, want %v", i+1, at.Location(), c.Location())
				}
			}
		})
	}
}

func TestCronPrev(t *testing.T) {
	c, err := ParseCron("0 16 * * FRI", mustZone(t, "America/New_York"))
	if err != nil {
		t.Fatal(err)
	}
	fri := utcTime("2026-11-06T21:00:00Z")
	tests := []struct {
		at, since string
		want      time.Time
	}{
		{"2026-11-06T21:00:00Z", "2026-11-06T15:00:00Z", fri},         // at the run
		{"2026-11-07T02:00:00Z", "2026-11-06T20:00:00Z", fri},         // after it
		{"2026-11-06T20:59:00Z", "2026-11-06T14:59:00Z", time.Time{}}, // before it
		{"2026-11-14T00:00:00Z", "2026-10-01T00:00:00Z", utcTime("2026-11-13T21:00:00Z")},
		{"2026-11-07T02:00:00Z", "2026-11-06T21:00:00Z", time.Time{}}, // since is exclusive
	}
	for _, tt := range tests {
		if got := c.Prev(utcTime(tt.at), utcTime(tt.since)); !got.Equal(tt.want) {
			t.Errorf("Prev(%s, since %s) = %v, want %v", tt.at, tt.since, got.UTC(), tt.want)
		}
	}
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"0 16 * * FRY", `cron expression "0 16 * * FRY"`},
		{"0 16 * *", "want five fields"},
		{"0 0 16 * * FRI", "want five fields"},
		{"", "want five fields"},
		{"CRON_TZ=Europe/Berlin 0 16 * * FRI", "give it as time_zone"},
		{"TZ=UTC 0 16 * * FRI", "give it as time_zone"},
		{"@every 1h", "not a calendar schedule"},
		{"0 0 30 2 *", "never runs"},
		{"61 * * * *", `cron expression "61 * * * *"`},
	}
	for _, tt := range tests {
		_, err := ParseCron(tt.spec, time.UTC)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCron(%q): error %v, want one with %q", tt.spec, err, tt.want)
		}
	}
	var zero Cron
	if !zero.IsZero() || !zero.Next(time.Now()).IsZero() {
		t.Error("the zero Cron runs")
	}
}

func TestQuietHours(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	night, err := ParseQuietHours("22:00-07:00", ny)
	if err != nil {
		t.Fatal(err)
	}
	lunch, err := ParseQuietHours("12:00-13:30", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		q       QuietHours
		at      string
		release string // empty: not quiet
	}{
		{"before the night", night, "2026-11-04T02:59:00Z", ""},                      // 21:59 EST
		{"at its start", night, "2026-11-04T03:00:00Z", "2026-11-04T12:00:00Z"},      // 22:00 EST → 07:00 EST
		{"after midnight", night, "2026-11-04T08:00:00Z", "2026-11-04T12:00:00Z"},    // 03:00 EST
		{"at its end", night, "2026-11-04T12:00:00Z", ""},                            // 07:00 EST
		{"across the change", night, "2026-11-01T03:00:00Z", "2026-11-01T12:00:00Z"}, // 23:00 EDT → 07:00 EST, 11 hours later
		{"in summer", night, "2026-07-01T03:00:00Z", "2026-07-01T11:00:00Z"},         // 23:00 EDT → 07:00 EDT
		{"within a day", lunch, "2026-11-04T12:45:00Z", "2026-11-04T13:30:00Z"},
		{"after a day span", lunch, "2026-11-04T13:30:00Z", ""},
		{"before a day span", lunch, "2026-11-04T11:59:59Z", ""},
	}
	for _, tt := range tests {
		at := utcTime(tt.at)
		want := at
		if tt.release != "" {
			want = utcTime(tt.release)
		}
		if got := tt.q.Contains(at); got != (tt.release != "") {
			t.Errorf("%s: Contains = %v", tt.name, got)
		}
		if got := tt.q.Release(at); !got.Equal(want) {
			t.Errorf("%s: Release = %v, want %v", tt.name, got.UTC(), want)
		}
	}
	var never QuietHours
	if never.Contains(utcTime("2026-11-04T03:00:00Z")) || never.String() != "" {
		t.Error("the zero QuietHours is quiet")
	}
	if night.String() != "22:00-07:00" {
		t.Errorf("String() = %q", night.String())
	}
	for _, bad := range []string{"22-07", "22:00", "25:00-07:00", "22:00-07:60", "22:00-22:00", "ten-seven", "22:00-7"} {
		if _, err := ParseQuietHours(bad, ny); err == nil {
			t.Errorf("ParseQuietHours(%q): no error", bad)
		}
	}
	if q, err := ParseQuietHours("23:00-24:00", ny); err != nil || q.String() != "23:00-00:00" {
		t.Errorf("24:00 as midnight: %v, %v", q, err)
	}
}
