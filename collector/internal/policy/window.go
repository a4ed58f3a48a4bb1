package policy

import (
	"fmt"
	"strings"
	"sync"
	"time"
	// Time zones are checked against the embedded database, so that a zone
	// valid on one collector is valid on all of them.
	_ "time/tzdata"
)

// Layouts a Window's Start and End may be written in: a wall-clock time in
// the window's zone, to the minute or the second, with "T" or a space
// between date and time; or an RFC 3339 time with an offset, which names
// one instant whatever the zone.
var Layouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// Window is a period given as wall-clock times in an IANA time zone: a
// change ticket's planned window, or a freeze period. Writing it as local
// time keeps "01:00 to 04:00 New York time" meaning that across daylight
// saving changes.
//
// A wall-clock time that does not exist in the zone (skipped when clocks go
// forward) is refused. One that exists twice (when clocks go back) is read
// so that the window is the wider one: the earlier instant for Start, the
// later for End.
type Window struct {
	// Start is the first moment of the window, "2006-01-02T15:04" in
	// TimeZone (see Layouts).
	Start string `json:"start"`
	// End is the end of the window, after Start.
	End string `json:"end"`
	// TimeZone is an IANA zone name such as "Europe/Berlin" or "UTC".
	TimeZone string `json:"time_zone"`
}

// IsZero reports whether no part of the window is set.
func (w Window) IsZero() bool { return w == Window{} }

// Bounds returns the window's first and last instants. The error names the
// part that is wrong (start, end or time_zone) and why.
func (w Window) Bounds() (start, end time.Time, err error) {
	if probs := w.Problems(); len(probs) > 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("%s: %s", probs[0].Field, probs[0].Message)
	}
	loc, _ := LoadZone(w.TimeZone)
	start, _ = ParseTime(w.Start, loc, false)
	end, _ = ParseTime(w.End, loc, true)
	return start, end, nil
}

// Location returns the window's time zone; UTC when it is not valid.
func (w Window) Location() *time.Location {
	loc, err := LoadZone(w.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Problems returns what is wrong with the window, each naming its field
// (start, end, time_zone); nil when it is valid.
func (w Window) Problems() []Problem {
	var probs []Problem
	loc, err := LoadZone(w.TimeZone)
	if err != nil {
		probs = append(probs, Problem{Field: "time_zone", Message: err.Error()})
	}
	var start, end time.Time
	var startErr, endErr error
	if w.Start == "" {
		startErr = fmt.Errorf("is required")
	} else if loc != nil {
		start, startErr = ParseTime(w.Start, loc, false)
	}
	if w.End == "" {
		endErr = fmt.Errorf("is required")
	} else if loc != nil {
		end, endErr = ParseTime(w.End, loc, true)
	}
	if startErr != nil {
		probs = append(probs, Problem{Field: "start", Message: startErr.Error()})
	}
	if endErr != nil {
		probs = append(probs, Problem{Field: "end", Message: endErr.Error()})
	}
	if loc != nil && startErr == nil && endErr == nil && !end.After(start) {
		probs = append(probs, Problem{Field: "end", Message: fmt.Sprintf("%s is not after start %s", w.End, w.Start)})
	}
	return probs
}

// String formats the window for people: "2025-03-09 01:00 – 2025-03-09
// 04:00 America/New_York".
func (w Window) String() string {
	return fmt.Sprintf("%s – %s %s", strings.Replace(w.Start, "T", " ", 1), strings.Replace(w.End, "T", " ", 1), w.TimeZone)
}

var zones sync.Map // zone name → *time.Location

// LoadZone returns the IANA time zone name refers to. "Local" and the empty
// name are refused: they would mean different things on different
// collectors.
func LoadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	switch {
	case name == "":
		return nil, fmt.Errorf("is required: an IANA time zone such as \"Europe/Berlin\" or \"UTC\"")
	case name == "Local" || strings.TrimSpace(name) != name:
		return nil, fmt.Errorf("%q is not an IANA time zone such as \"Europe/Berlin\" or \"UTC\"", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// ParseTime reads s as one of Layouts in loc, or as RFC 3339 with an offset.
// A wall-clock time that loc skips is an error; one that loc repeats gives
// the later instant when later is set, else the earlier.
func ParseTime(s string, loc *time.Location, later bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var civil time.Time
	ok := false
	for _, layout := range Layouts {
		if t, err := time.Parse(layout, s); err == nil {
			civil, ok = t, true
			break
		}
	}
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not a time: want \"2006-01-02T15:04\" (wall-clock time in the time zone) or RFC 3339 with an offset", s)
	}
	// civil holds the wall-clock reading as if it were UTC. The instants
	// that read so in loc are civil minus the offset in force then; the
	// offsets a day either side cover any one transition.
	var found []time.Time
	for _, probe := range []time.Time{civil.Add(-24 * time.Hour), civil.Add(24 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		t := civil.Add(-time.Duration(off) * time.Second).In(loc)
		if sameClock(t, civil) && (len(found) == 0 || !found[0].Equal(t)) {
			found = append(found, t)
		}
	}
	switch {
	case len(found) == 0:
		return time.Time{}, fmt.Errorf("%s does not exist in %s: the clocks skip it when they go forward", s, loc)
	case len(found) == 2 && later == found[0].Before(found[1]):
		return found[1], nil
	}
	return found[0], nil
}

// sameClock reports whether t reads as the wall-clock time civil (a UTC
// time holding that reading).
func sameClock(t, civil time.Time) bool {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	cy, cmo, cd := civil.Date()
	ch, cmi, cs := civil.Clock()
	return y == cy && mo == cmo && d == cd && h == ch && mi == cmi && s == cs
}
