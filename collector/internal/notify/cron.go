package notify

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones on hosts without a zoneinfo database

	"github.com/robfig/cron/v3"
)

// cronParser reads the five standard fields (minute, hour, day of month,
// month, day of week) and the descriptors @daily, @weekly, @monthly …
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronHorizon bounds the search for a schedule's next run.
const cronHorizon = 5 * 366 // days

// Cron is a cron schedule in a time zone: "0 16 * * FRI" in
// America/New_York runs every Friday at 16:00 New York time, in summer and
// in winter.
//
// Next runs are computed on the wall clock of the zone. A wall time that a
// daylight-saving change skips (02:30 on the spring change) runs when the
// clocks jump, once; a wall time that occurs twice (01:30 on the autumn
// change) runs at its first occurrence only.
type Cron struct {
	spec  string
	loc   *time.Location
	sched *cron.SpecSchedule
}

// ParseCron parses a five-field cron expression or a descriptor (@daily,
// @weekly, @monthly, @hourly) for the zone loc (nil: UTC). Day and month
// names (FRI, NOV) are accepted. The zone is given here, not in the
// expression: CRON_TZ= and TZ= prefixes are refused, and so is an
// expression that never runs (0 0 30 2 *).
func ParseCron(spec string, loc *time.Location) (Cron, error) {
	spec = strings.TrimSpace(spec)
	if loc == nil {
		loc = time.UTC
	}
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return Cron{}, fmt.Errorf("cron expression %q names a time zone: give it as time_zone instead", spec)
	}
	if strings.HasPrefix(spec, "@every") {
		return Cron{}, fmt.Errorf("cron expression %q: @every is not a calendar schedule; use five fields such as \"0 16 * * FRI\"", spec)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return Cron{}, fmt.Errorf("cron expression %q: %v (want five fields: minute hour day-of-month month day-of-week, such as \"0 16 * * FRI\")", spec, err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return Cron{}, fmt.Errorf("cron expression %q is not a calendar schedule", spec)
	}
	c := Cron{spec: spec, loc: loc, sched: ss}
	// A schedule that never runs, such as 30 February, is a mistake.
	if c.Next(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Cron{}, fmt.Errorf("cron expression %q never runs", spec)
	}
	return c, nil
}

// String returns the expression as written.
func (c Cron) String() string { return c.spec }

// Location returns the zone the schedule runs in.
func (c Cron) Location() *time.Location { return c.loc }

// IsZero reports whether c is the zero Cron, which never runs.
func (c Cron) IsZero() bool { return c.sched == nil }

// Next returns the first run strictly after t, in c's zone; zero when
// there is none within five years (or c is zero).
func (c Cron) Next(t time.Time) time.Time {
	if c.sched == nil {
		return time.Time{}
	}
	local := t.In(c.loc)
	y, m, d := local.Date()
	// The day before t too: a wall time late on the previous day can map
	// to an instant after t around a daylight-saving change.
	day := time.Date(y, m, d-1, 12, 0, 0, 0, time.UTC)
	for range cronHorizon {
		if r, ok := c.firstOnDay(day, t); ok {
			return r.In(c.loc)
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}
}

// Prev returns the last run at or before t that is after since; zero when
// there is none.
func (c Cron) Prev(t, since time.Time) time.Time {
	var last time.Time
	for r := c.Next(since); !r.IsZero() && !r.After(t); r = c.Next(r) {
		last = r
	}
	return last
}

// firstOnDay returns the first run on the calendar day of day (a UTC noon
// carrying the date) that is after t. Wall times in ascending order map to
// instants in non-decreasing order, so the first one after t is the
// earliest.
func (c Cron) firstOnDay(day, t time.Time) (time.Time, bool) {
	s := c.sched
	y, m, d := day.Date()
	if s.Month&(1<<uint(m)) == 0 || !c.dayMatches(day) {
		return time.Time{}, false
	}
	for h := 0; h < 24; h++ {
		if s.Hour&(1<<uint(h)) == 0 {
			continue
		}
		for mi := 0; mi < 60; mi++ {
			if s.Minute&(1<<uint(mi)) == 0 {
				continue
			}
			if r := wallTime(y, m, d, h, mi, c.loc); r.After(t) {
				return r, true
			}
		}
	}
	return time.Time{}, false
}

// starBit marks a field written as "*" (or "?") in robfig/cron's bit sets.
const starBit = 1 << 63

// dayMatches applies cron's day rule: when both day of month and day of
// week are restricted, either may match; otherwise both must.
func (c Cron) dayMatches(day time.Time) bool {
	s := c.sched
	dom := s.Dom&(1<<uint(day.Day())) != 0
	dow := s.Dow&(1<<uint(day.Weekday())) != 0
	if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

// wallTime returns the instant the wall clock of loc first shows the given
// date and time. A time skipped by a daylight-saving change maps to the
// instant the clocks jump.
func wallTime(y int, m time.Month, d, h, mi int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
	var first time.Time
	// The offsets in effect half a day either side cover every change.
	for _, probe := range []time.Time{wall.Add(-14 * time.Hour), wall.Add(14 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		u := wall.Add(-time.Duration(off) * time.Second)
		if sameWall(u.In(loc), wall) && (first.IsZero() || u.Before(first)) {
			first = u
		}
	}
	if !first.IsZero() {
		return first
	}
	// Skipped: read the wall time with the offset before the change,
	// which lands after it, and go back to the change.
	_, off := wall.Add(-14 * time.Hour).In(loc).Zone()
	after := wall.Add(-time.Duration(off) * time.Second)
	start, _ := after.In(loc).ZoneBounds()
	if start.IsZero() || start.After(after) {
		return after
	}
	return start
}

func sameWall(a, wall time.Time) bool {
	return a.Year() == wall.Year() && a.Month() == wall.Month() && a.Day() == wall.Day() &&
		a.Hour() == wall.Hour() && a.Minute() == wall.Minute()
}
