package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowBounds(t *testing.T) {
	tests := []struct {
		name       string
		w          Window
		start, end string // UTC
	}{
		{"winter", Window{"2025-01-15T22:00", "2025-01-16T02:00", "Europe/Berlin"}, "2025-01-15T21:00:00Z", "2025-01-16T01:00:00Z"},
		{"summer", Window{"2025-07-15T22:00", "2025-07-16T02:00", "Europe/Berlin"}, "2025-07-15T20:00:00Z", "2025-07-16T00:00:00Z"},
		// Clocks go forward at 02:00 EST: 01:00 to 04:00 is two hours.
		{"across spring forward", Window{"2025-03-09T01:00", "2025-03-09T04:00", "America/New_York"}, "2025-03-09T06:00:00Z", "2025-03-09T08:00:00Z"},
		// Clocks go back at 02:00 EDT: 00:00 to 03:00 is four hours.
		{"across fall back", Window{"2025-11-02T00:00", "2025-11-02T03:00", "America/New_York"}, "2025-11-02T04:00:00Z", "2025-11-02T08:00:00Z"},
		// 01:30 happens twice: the start is the first, the end the second.
		{"repeated hour", Window{"2025-11-02T01:30", "2025-11-02T01:30:30", "America/New_York"}, "2025-11-02T05:30:00Z", "2025-11-02T06:30:30Z"},
		{"space and seconds", Window{"2025-05-01 08:00:30", "2025-05-01 09:00", "UTC"}, "2025-05-01T08:00:30Z", "2025-05-01T09:00:00Z"},
		{"offset given", Window{"2025-05-01T08:00:00+02:00", "2025-05-01T09:00", "UTC"}, "2025-05-01T06:00:00Z", "2025-05-01T09:00:00Z"},
		{"half-hour zone", Window{"2025-04-06T01:00", "2025-04-06T03:00", "Australia/Lord_Howe"}, "2025-04-05T14:00:00Z", "2025-04-05T16:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end, err := tt.w.Bounds()
			if err != nil {
				t.Fatal(err)
			}
			if !start.Equal(utc(tt.start)) || !end.Equal(utc(tt.end)) {
				t.Errorf("Bounds() = %s, %s; want %s, %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), tt.start, tt.end)
			}
		})
	}
}

func TestWindowProblems(t *testing.T) {
	tests := []struct {
		name string
		w    Window
		want []Problem
	}{
		{"valid", Window{"2025-01-01T00:00", "2025-01-01T01:00", "UTC"}, nil},
		{"empty", Window{}, []Problem{
			{"time_zone", `is required: an IANA time zone such as "Europe/Berlin" or "UTC"`},
			{"start", "is required"},
			{"end", "is required"},
		}},
		{"unknown zone", Window{"2025-01-01T00:00", "2025-01-01T01:00", "Europe/Atlantis"}, []Problem{
			{"time_zone", `unknown time zone "Europe/Atlantis": want an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"`},
		}},
		{"end before start", Window{"2025-01-01T02:00", "2025-01-01T01:00", "UTC"}, []Problem{
			{"end", "2025-01-01T01:00 is not after start 2025-01-01T02:00"},
		}},
		{"end equals start", Window{"2025-01-01T02:00", "2025-01-01T02:00", "UTC"}, []Problem{
			{"end", "2025-01-01T02:00 is not after start 2025-01-01T02:00"},
		}},
		{"skipped by daylight saving", Window{"2025-03-09T02:30", "2025-03-09T05:00", "America/New_York"}, []Problem{
			{"start", "2025-03-09T02:30 does not exist in America/New_York: the clocks skip it when they go forward"},
		}},
		{"not a time", Window{"tomorrow", "2025-13-01T00:00", "UTC"}, []Problem{
			{"start", `"tomorrow" is not a time: want "2006-01-02T15:04" (wall-clock time in the time zone) or RFC 3339 with an offset`},
			{"end", `"2025-13-01T00:00" is not a time: want "2006-01-02T15:04" (wall-clock time in the time zone) or RFC 3339 with an offset`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.w.Problems()); diff != "" {
				t.Errorf("Problems() (-want +got):\n%s", diff)
			}
			_, _, err := tt.w.Bounds()
			if (err != nil) != (tt.want != nil) {
				t.Errorf("Bounds() error = %v, want one: %v", err, tt.want != nil)
			}
		})
	}
}
