package notify

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/internal/hclconf"
)

// Period is the span a digest covers.
type Period string

// Digest periods.
const (
	Daily   Period = "day"
	Weekly  Period = "week"
	Monthly Period = "month"
)

// Defaults for settings left out.
const (
	DefaultPeriod       = Weekly
	DefaultLevel3Window = 10 * time.Minute
	DefaultLevel2Every  = time.Hour
)

// defaultDigest is the schedule of each period's digest when none is
// given: daily at 08:00, Fridays at 16:00, the first of the month at 08:00.
var defaultDigest = map[Period]string{
	Daily:   "0 8 * * *",
	Weekly:  "0 16 * * FRI",
	Monthly: "0 8 1 * *",
}

// Bounds of the durations a policy may set.
const (
	minLevel3Window = time.Minute
	maxLevel3Window = 24 * time.Hour
	minLevel2Every  = 5 * time.Minute
	maxLevel2Every  = 24 * time.Hour
)

// Settings are a tenant's notification settings as a person writes them,
// in the collector's configuration (a notify block) or through the API
// (stored as this JSON). Compile checks them and fills in defaults.
type Settings struct {
	// Digest is the cron expression of the digest ("0 16 * * FRI");
	// empty: the period's default.
	Digest string `json:"digest,omitempty"`
	// TimeZone is the IANA zone schedules and quiet hours are read in
	// ("America/New_York"); empty: UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Period is what a digest covers: "day", "week" or "month" (or
	// "daily", "weekly", "monthly"); empty: a week.
	Period string `json:"period,omitempty"`
	// Recipients get the digest, which lists every change of the period.
	Recipients []string `json:"recipients,omitempty"`
	// AlertLevel3 get level 3 changes at once (the on-call address).
	AlertLevel3 []string `json:"alert_level3,omitempty"`
	// Level3Window is the span in which level 3 changes of one item on one
	// host coalesce into one message ("10m").
	Level3Window string `json:"level3_window,omitempty"`
	// AlertLevel2 get a summary of level 2 changes (the tech lead).
	AlertLevel2 []string `json:"alert_level2,omitempty"`
	// Level2Every is how often the level 2 summary goes out ("1h").
	Level2Every string `json:"level2_every,omitempty"`
	// QuietHours hold digests and summaries ("22:00-07:00"); level 3
	// alerts are never held.
	QuietHours string `json:"quiet_hours,omitempty"`
	// Mandatory names the lists recipients may not leave: "digest",
	// "summary" or "alert" (on-call alerts the tenant's policy requires).
	Mandatory []string `json:"mandatory,omitempty"`
}

// Policy is a tenant's notification policy, checked and complete.
type Policy struct {
	// TenantID is the tenant it applies to; when empty, TenantName names
	// it (as a notify block of the configuration does).
	TenantID   string
	TenantName string
	// Location is the zone of the digest schedule and the quiet hours.
	Location *time.Location
	// Digest is when the digest goes out; Period what it covers.
	Digest Cron
	Period Period
	// Recipients get the digest; none: no digest.
	Recipients []string
	// Level3 get level 3 alerts; Level3Window is their coalescing span.
	Level3       []string
	Level3Window time.Duration
	// Level2 get the level 2 summary every Level2Every.
	Level2      []string
	Level2Every time.Duration
	// Quiet holds digests and summaries; zero: never quiet.
	Quiet QuietHours
	// Mandatory marks the kinds of email recipients may not opt out of.
	Mandatory map[Kind]bool
}

// Problem is one thing wrong with Settings.
type Problem struct {
	// Field is the setting's name as written ("digest", "alert_level3").
	Field string
	// Index is the element of a list setting, from 0; -1 for the whole
	// setting.
	Index int
	// Message says what is wrong, as a sentence.
	Message string
}

// SettingsError lists every problem found in Settings.
type SettingsError struct {
	Problems []Problem
}

// Error joins the problems, one per line, each led by its field.
func (e *SettingsError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Field)
		if p.Index >= 0 {
			fmt.Fprintf(&b, "[%d]", p.Index)
		}
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// Compile checks s and returns the policy it describes, with defaults
// filled in. Every problem is reported, in a *SettingsError.
func (s Settings) Compile() (Policy, error) {
	var probs []Problem
	bad := func(field string, index int, format string, args ...any) {
		probs = append(probs, Problem{Field: field, Index: index, Message: fmt.Sprintf(format, args...)})
	}
	p := Policy{Location: time.UTC, Period: DefaultPeriod, Level3Window: DefaultLevel3Window, Level2Every: DefaultLevel2Every}

	if s.TimeZone != "" {
		loc, err := LoadLocation(s.TimeZone)
		if err != nil {
			bad("time_zone", -1, "%v.", err)
		} else {
			p.Location = loc
		}
	}
	if s.Period != "" {
		per, err := ParsePeriod(s.Period)
		if err != nil {
			bad("period", -1, "%v.", err)
		} else {
			p.Period = per
		}
	}
	spec := s.Digest
	if spec == "" {
		spec = defaultDigest[p.Period]
	}
	if c, err := ParseCron(spec, p.Location); err != nil {
		bad("digest", -1, "%v.", err)
	} else {
		p.Digest = c
	}

	addrs := func(field string, list []string) []string {
		var out []string
		seen := map[string]bool{}
		for i, a := range list {
			addr, err := ParseAddress(a)
			if err != nil {
				bad(field, i, "%v.", err)
				continue
			}
			if key := strings.ToLower(addr); !seen[key] {
				seen[key] = true
				out = append(out, addr)
			}
		}
		return out
	}
	p.Recipients = addrs("recipients", s.Recipients)
	p.Level3 = addrs("alert_level3", s.AlertLevel3)
	p.Level2 = addrs("alert_level2", s.AlertLevel2)

	duration := func(field, v string, lo, hi time.Duration, dst *time.Duration) {
		if v == "" {
			return
		}
		d, err := hclconf.ParseDuration(v)
		switch {
		case err != nil:
			bad(field, -1, "%v.", err)
		case d < lo || d > hi:
			bad(field, -1, "%s must be from %v to %v, not %q.", field, fmtDuration(lo), fmtDuration(hi), v)
		default:
			*dst = d
		}
	}
	duration("level3_window", s.Level3Window, minLevel3Window, maxLevel3Window, &p.Level3Window)
	duration("level2_every", s.Level2Every, minLevel2Every, maxLevel2Every, &p.Level2Every)

	if s.QuietHours != "" {
		q, err := ParseQuietHours(s.QuietHours, p.Location)
		if err != nil {
			bad("quiet_hours", -1, "%v.", err)
		} else {
			p.Quiet = q
		}
	}
	for i, m := range s.Mandatory {
		k := Kind(strings.ToLower(strings.TrimSpace(m)))
		if k != KindDigest && k != KindSummary && k != KindAlert {
			bad("mandatory", i, "%q is not a list: want \"digest\", \"summary\" or \"alert\".", m)
			continue
		}
		if p.Mandatory == nil {
			p.Mandatory = map[Kind]bool{}
		}
		p.Mandatory[k] = true
	}
	if len(probs) > 0 {
		return Policy{}, &SettingsError{Problems: probs}
	}
	return p, nil
}

// DefaultSchedule returns the cron expression of p's digest when none is
// given: "0 8 * * *" for a day, "0 16 * * FRI" for a week, "0 8 1 * *"
// for a month; empty for an unknown period.
func (p Period) DefaultSchedule() string { return defaultDigest[p] }

// LoadLocation loads an IANA time zone such as "Europe/Berlin"; "UTC" is
// UTC. "Local" is refused: schedules must not depend on the collector's
// own zone.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q: name an IANA zone such as \"America/New_York\" or \"UTC\"", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: name an IANA zone such as \"America/New_York\" or \"UTC\"", name)
	}
	return loc, nil
}

// ParsePeriod parses a digest period: day, week or month, or daily, weekly
// or monthly.
func ParsePeriod(s string) (Period, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "day", "daily":
		return Daily, nil
	case "week", "weekly":
		return Weekly, nil
	case "month", "monthly":
		return Monthly, nil
	}
	return "", fmt.Errorf("period %q: want \"day\", \"week\" or \"month\"", s)
}

// ParseAddress checks one email address, bare (ops@example.com) or with
// a name (Ops <ops@example.com>), and returns it as given, trimmed.
func ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an email address such as \"ops@example.com\": %v", s, err)
	}
	if !strings.Contains(a.Address, "@") || strings.HasPrefix(a.Address, "@") || strings.HasSuffix(a.Address, "@") {
		return "", fmt.Errorf("%q is not an email address such as \"ops@example.com\"", s)
	}
	return s, nil
}

// Start returns the start of the period that ends at end, on the wall
// clock of loc: a week before Friday 16:00 is the previous Friday 16:00,
// summer time or not.
func (p Period) Start(end time.Time, loc *time.Location) time.Time {
	local := end.In(loc)
	y, m, d := local.Date()
	switch p {
	case Daily:
		d--
	case Monthly:
		m--
		// The 31st of a month after a shorter one starts on its last day.
		if last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
			d = last
		}
	default:
		d -= 7
	}
	return wallTime(y, m, d, local.Hour(), local.Minute(), loc)
}

// Label names the period of a digest window in dedupe keys and subjects,
// on the wall clock of loc, by the middle of the window: 2026-11-05 for a
// day, 2026-W45 (ISO week) for a week, 2026-10 for a month. A daily digest
// at 08:00 is about the day before; a monthly one on the 1st about the
// month before.
func (p Period) Label(w Window, loc *time.Location) string {
	mid := w.Start.Add(w.End.Sub(w.Start) / 2).In(loc)
	switch p {
	case Daily:
		return mid.Format("2006-01-02")
	case Monthly:
		return mid.Format("2006-01")
	default:
		y, wk := mid.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, wk)
	}
}

// fmtDuration writes a duration as a person would: 10m, 1h, 24h.
func fmtDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	if s == "" {
		return "0s"
	}
	return s
}
