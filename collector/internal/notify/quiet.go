package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// QuietHours is a daily span of wall-clock time, such as 22:00-07:00, in
// which emails below level 3 are held; they go out when the span ends. The
// zero QuietHours is never quiet.
type QuietHours struct {
	start, end int // minutes after midnight
	loc        *time.Location
}

// ParseQuietHours parses "HH:MM-HH:MM" for the zone loc (nil: UTC). The
// span may cross midnight; start and end must differ.
func ParseQuietHours(s string, loc *time.Location) (QuietHours, error) {
	if loc == nil {
		loc = time.UTC
	}
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want a span such as \"22:00-07:00\"", s)
	}
	start, err := parseClock(a)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours %q: %w", s, err)
	}
	end, err := parseClock(b)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours %q: %w", s, err)
	}
	if start == end {
		return QuietHours{}, fmt.Errorf("quiet hours %q start and end at the same time", s)
	}
	return QuietHours{start: start, end: end, loc: loc}, nil
}

// parseClock parses HH:MM, 00:00 to 23:59 (24:00 is midnight too).
func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day such as \"07:00\"", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	switch {
	case err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59:
		return 0, fmt.Errorf("%q is not a time of day such as \"07:00\"", s)
	case hh == 24 && mm == 0:
		return 0, nil
	case hh > 23:
		return 0, fmt.Errorf("%q is not a time of day such as \"07:00\"", s)
	}
	return hh*60 + mm, nil
}

// IsZero reports whether q is never quiet.
func (q QuietHours) IsZero() bool { return q.loc == nil }

// String returns the span as HH:MM-HH:MM; empty for the zero QuietHours.
func (q QuietHours) String() string {
	if q.IsZero() {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.start/60, q.start%60, q.end/60, q.end%60)
}

// Contains reports whether t falls in the quiet hours.
func (q QuietHours) Contains(t time.Time) bool {
	if q.IsZero() {
		return false
	}
	local := t.In(q.loc)
	m := local.Hour()*60 + local.Minute()
	if q.start < q.end {
		return q.start <= m && m < q.end
	}
	return m >= q.start || m < q.end
}

// Release returns when something held at t goes out: t itself outside the
// quiet hours, else the end of the quiet span t is in.
func (q QuietHours) Release(t time.Time) time.Time {
	if !q.Contains(t) {
		return t
	}
	local := t.In(q.loc)
	y, mo, d := local.Date()
	if q.start > q.end && local.Hour()*60+local.Minute() >= q.start {
		d++ // the span crosses midnight: it ends tomorrow
	}
	end := wallTime(y, mo, d, q.end/60, q.end%60, q.loc)
	if !end.After(t) { // a daylight-saving change moved the end before t
		return t
	}
	return end
}
