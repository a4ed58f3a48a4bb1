package notify

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// policyCmp compares policies: crons and quiet hours by what they say,
// zones by name.
var policyCmp = []cmp.Option{
	cmp.Comparer(func(a, b Cron) bool {
		return a.String() == b.String() && a.Location().String() == b.Location().String()
	}),
	cmp.Comparer(func(a, b QuietHours) bool { return a.String() == b.String() }),
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
}

func TestCompile(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	mustCron := func(spec string, loc *time.Location) Cron {
		c, err := ParseCron(spec, loc)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	quiet, err := ParseQuietHours("22:00-07:00", ny)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   Settings
		want Policy
	}{
		{
			name: "defaults",
			in:   Settings{Recipients: []string{"ops@acme.example"}},
			want: Policy{Location: time.UTC, Digest: mustCron("0 16 * * FRI", time.UTC), Period: Weekly, Recipients: []string{"ops@acme.example"},
				Level3Window: 10 * time.Minute, Level2Every: time.Hour},
		},
		{
			name: "the period's default schedule",
			in:   Settings{Period: "daily", TimeZone: "America/New_York"},
			want: Policy{Location: ny, Digest: mustCron("0 8 * * *", ny), Period: Daily, Level3Window: 10 * time.Minute, Level2Every: time.Hour},
		},
		{
			name: "everything",
			in: Settings{
				Digest: "0 16 * * FRI", TimeZone: "America/New_York", Period: "week",
				Recipients:  []string{"ops@acme.example", "OPS@acme.example", " Acme Ops <ops2@acme.example> "},
				AlertLevel3: []string{"oncall@msp.example"}, Level3Window: "15m",
				AlertLevel2: []string{"lead@msp.example"}, Level2Every: "30m",
				QuietHours: "22:00-07:00",
			},
			want: Policy{
				Location: ny, Digest: mustCron("0 16 * * FRI", ny), Period: Weekly,
				Recipients: []string{"ops@acme.example", "Acme Ops <ops2@acme.example>"}, // a repeat dropped
				Level3:     []string{"oncall@msp.example"}, Level3Window: 15 * time.Minute,
				Level2: []string{"lead@msp.example"}, Level2Every: 30 * time.Minute,
				Quiet: quiet,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Compile()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, policyCmp...); d != "" {
				t.Errorf("policy (-want +got):\n%s", d)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	in := Settings{
		Digest:       "0 16 * * FRY",
		TimeZone:     "America/Gotham",
		Period:       "fortnight",
		Recipients:   []string{"ops@acme.example", "not an address"},
		AlertLevel3:  []string{"@msp.example"},
		Level3Window: "10 minutes",
		Level2Every:  "1m",
		QuietHours:   "22:00-22:00",
	}
	_, err := in.Compile()
	var se *SettingsError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *SettingsError", err)
	}
	type where struct {
		Field string
		Index int
	}
	var got []where
	for _, p := range se.Problems {
		got = append(got, where{p.Field, p.Index})
		if !strings.HasSuffix(p.Message, ".") {
			t.Errorf("%s: message %q is not a sentence", p.Field, p.Message)
		}
	}
	want := []where{
		{"time_zone", -1}, {"period", -1}, {"digest", -1}, {"recipients", 1}, {"alert_level3", 0},
		{"level3_window", -1}, {"level2_every", -1}, {"quiet_hours", -1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("problems (-want +got):\n%s", d)
	}
	for _, part := range []string{`unknown time zone "America/Gotham"`, `period "fortnight"`, `recipients[1]: "not an address" is not an email address`,
		`level2_every must be from 5m to 24h, not "1m"`, "start and end at the same time"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error does not say %q:\n%s", part, err)
		}
	}
	if _, err := (Settings{TimeZone: "Local"}).Compile(); err == nil {
		t.Error("time zone Local accepted: schedules would follow the collector's own zone")
	}
}

// TestSettingsJSON checks the stored form of settings, which the API keeps.
func TestSettingsJSON(t *testing.T) {
	in := Settings{Digest: "0 16 * * FRI", TimeZone: "America/New_York", Recipients: []string{"ops@acme.example"}, QuietHours: "22:00-07:00"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"digest":"0 16 * * FRI","time_zone":"America/New_York","recipients":["ops@acme.example"],"quiet_hours":"22:00-07:00"}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back Settings
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestPeriod(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	tests := []struct {
		p          Period
		end        string
		wantStart  string
		wantLabel  string
		wantLength time.Duration
	}{
		// A week over the November change is an hour longer.
		{Weekly, "2026-11-06T21:00:00Z", "2026-10-30T20:00:00Z", "2026-W45", 7*24*time.Hour + time.Hour},
		{Daily, "2026-11-06T13:00:00Z", "2026-11-05T13:00:00Z", "2026-11-05", 24 * time.Hour},
		{Monthly, "2026-11-01T12:00:00Z", "2026-10-01T11:00:00Z", "2026-10", 31*24*time.Hour + time.Hour},
		// 31 March looks back to the last day of February.
		{Monthly, "2026-03-31T12:00:00Z", "2026-02-28T13:00:00Z", "2026-03", 31*24*time.Hour - time.Hour},
		// ISO weeks cross years.
		{Weekly, "2027-01-01T21:00:00Z", "2026-12-25T21:00:00Z", "2026-W53", 7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		end := utcTime(tt.end)
		start := tt.p.Start(end, ny)
		if !start.Equal(utcTime(tt.wantStart)) || end.Sub(start) != tt.wantLength {
			t.Errorf("%s ending %s starts %v (%v long), want %s (%v)", tt.p, tt.end, start.UTC(), end.Sub(start), tt.wantStart, tt.wantLength)
		}
		if got := tt.p.Label(Window{start, end}, ny); got != tt.wantLabel {
			t.Errorf("%s ending %s is labelled %s, want %s", tt.p, tt.end, got, tt.wantLabel)
		}
	}
}
