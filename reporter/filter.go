package reporter

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// dateLayout is how filter forms send dates.
const dateLayout = "2006-01-02"

// Inbox status filter values besides the DriftStatus values.
const (
	// StatusAll shows drift items whatever was done about them.
	StatusAll = "all"
)

// InboxFilter is what the drift inbox shows: its filter form's fields. The
// zero filter shows every open item of every tenant the user may see.
type InboxFilter struct {
	// TenantID limits the inbox to one tenant.
	TenantID string
	// Host is a host name; "*" matches any run of characters.
	Host string
	// Label is a host label as "key=value".
	Label string
	// Levels shows items at one of these escalation levels; none for all.
	Levels []Level
	// Verdicts shows items with one of these verdicts; none for all.
	Verdicts []Verdict
	// From and To are the first and last day, "2006-01-02" in the page's
	// time zone, an item was first seen; empty for open-ended.
	From, To string
	// Item is an item key pattern such as "file:/etc/ssh/*"; "*" matches
	// any run of characters.
	Item string
	// Status is a DriftStatus, StatusAll, or empty for open items.
	Status string
}

// ParseInboxFilter reads the inbox filter form from a query. A value that
// is not one the form offers is an error naming the field; the handler
// shows the inbox with the error rather than a silently wider result.
func ParseInboxFilter(q url.Values) (InboxFilter, error) {
	f := InboxFilter{
		TenantID: strings.TrimSpace(q.Get(FieldTenant)),
		Host:     strings.TrimSpace(q.Get("host")),
		Label:    strings.TrimSpace(q.Get("label")),
		Item:     strings.TrimSpace(q.Get("item")),
		From:     strings.TrimSpace(q.Get(FieldFrom)),
		To:       strings.TrimSpace(q.Get(FieldTo)),
		Status:   strings.TrimSpace(q.Get("status")),
	}
	for _, v := range q["level"] {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || !Level(n).Valid() {
			return f, fmt.Errorf("inbox filter: level %q: want 1, 2 or 3", v)
		}
		if !f.HasLevel(Level(n)) {
			f.Levels = append(f.Levels, Level(n))
		}
	}
	for _, v := range q["verdict"] {
		if v == "" {
			continue
		}
		if !Verdict(v).Valid() {
			return f, fmt.Errorf("inbox filter: verdict %q: want one of %s", v, verdictList())
		}
		f.Verdicts = append(f.Verdicts, Verdict(v))
	}
	if f.Label != "" && !strings.Contains(f.Label, "=") {
		return f, fmt.Errorf("inbox filter: label %q: want key=value", f.Label)
	}
	for _, d := range []struct{ name, v string }{{FieldFrom, f.From}, {FieldTo, f.To}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(dateLayout, d.v); err != nil {
			return f, fmt.Errorf("inbox filter: %s %q: want a date as 2006-01-02", d.name, d.v)
		}
	}
	if f.From != "" && f.To != "" && f.To < f.From {
		return f, fmt.Errorf("inbox filter: to %s is before from %s", f.To, f.From)
	}
	switch DriftStatus(f.Status) {
	case "", DriftOpen, DriftAccepted, DriftRevertRequested, DriftResolved, StatusAll:
	default:
		return f, fmt.Errorf("inbox filter: status %q: want open, accepted, revert_requested, resolved or all", f.Status)
	}
	if f.Status == string(DriftOpen) {
		f.Status = ""
	}
	return f, nil
}

func verdictList() string {
	s := make([]string, len(Verdicts))
	for i, v := range Verdicts {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Query returns the filter as the form sends it.
func (f InboxFilter) Query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set(FieldTenant, f.TenantID)
	set("host", f.Host)
	set("label", f.Label)
	for _, l := range f.Levels {
		q.Add("level", strconv.Itoa(int(l)))
	}
	for _, v := range f.Verdicts {
		q.Add("verdict", string(v))
	}
	set(FieldFrom, f.From)
	set(FieldTo, f.To)
	set("item", f.Item)
	set("status", f.Status)
	return q
}

// Range returns the filter's period in loc: from the start of From to the
// end of To (exclusive), zero times for open ends.
func (f InboxFilter) Range(loc *time.Location) (from, to time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	if t, err := time.ParseInLocation(dateLayout, f.From, loc); err == nil {
		from = t
	}
	if t, err := time.ParseInLocation(dateLayout, f.To, loc); err == nil {
		to = t.AddDate(0, 0, 1)
	}
	return from, to
}

// HasVerdict reports whether the filter selects verdict v explicitly.
func (f InboxFilter) HasVerdict(v Verdict) bool {
	for _, x := range f.Verdicts {
		if x == v {
			return true
		}
	}
	return false
}

// HasLevel reports whether the filter selects level l explicitly.
func (f InboxFilter) HasLevel(l Level) bool {
	for _, x := range f.Levels {
		if x == l {
			return true
		}
	}
	return false
}

// Active reports whether any field narrows the inbox beyond open items of
// the tenant.
func (f InboxFilter) Active() bool {
	return f.Host != "" || f.Label != "" || len(f.Levels) > 0 || len(f.Verdicts) > 0 || f.From != "" ||
		f.To != "" || f.Item != "" || f.Status != ""
}

// TicketFilter is what the ticket list shows.
type TicketFilter struct {
	TenantID string
	// State shows tickets in one state; empty for all.
	State TicketState
	// Query matches the reference, title or requester.
	Query string
}

// ParseTicketFilter reads the ticket list's filter form from a query.
func ParseTicketFilter(q url.Values) (TicketFilter, error) {
	f := TicketFilter{TenantID: strings.TrimSpace(q.Get(FieldTenant)), Query: strings.TrimSpace(q.Get(FieldQuery))}
	if s := strings.TrimSpace(q.Get("state")); s != "" {
		if !TicketState(s).Valid() {
			return f, fmt.Errorf("ticket filter: state %q is not a ticket state", s)
		}
		f.State = TicketState(s)
	}
	return f, nil
}
