package notify

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Change is one reconciled drift item as notifications need it.
type Change struct {
	HostID string
	// Host is the host's name.
	Host string
	// Key is the item's key, such as "file:/etc/ssh/sshd_config".
	Key string
	// Kind is added, removed or modified.
	Kind string
	// Verdict is the reconciliation's: authorized, unapproved ticket, out
	// of window or unauthorized.
	Verdict string
	// Level is the escalation level: 1 log it, 2 escalate internally, 3
	// full escalation.
	Level int
	// Ticket is the ID of the change ticket it matched; empty for none.
	// TicketRef is that ticket's reference for people ("CHG-1042"), and
	// TicketTitle its title; TicketRef may be set without Ticket for a
	// ticket named by hand that the collector does not hold.
	Ticket      string
	TicketRef   string
	TicketTitle string
	// At is when the collector received the report holding the change:
	// notifications follow what the collector learns, so a report that
	// arrives late from a host that was offline still alerts.
	At time.Time
	// ID is the drift item's ID in the store, for links; empty when there
	// is none. Changes to an item that was modified again share it.
	ID string
	// Summary says what changed for people: "PermitRootLogin no → yes".
	Summary string
	// Diff is the unified diff of the item's text content, as the agent
	// redacted it; Note explains a content change without one.
	Diff string
	Note string
	// StandardChange is set when a standard change's package rule
	// authorized the item.
	StandardChange bool
}

// Window is a span of time, Start included, End excluded.
type Window struct {
	Start, End time.Time
}

// Contains reports whether t falls in w.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Kind is what an email is.
type Kind string

// Kinds of email.
const (
	// KindDigest is the scheduled digest of every change of a period.
	KindDigest Kind = "digest"
	// KindAlert is a level 3 alert about one item on one host.
	KindAlert Kind = "alert"
	// KindSummary is the periodic summary of level 2 changes.
	KindSummary Kind = "summary"
	// KindTest is a test message sent by an operator.
	KindTest Kind = "test"
)

// List is the preference list an email of kind k belongs to:
// store.ListDigest, store.ListSummary or store.ListAlert.
func (k Kind) List() string { return string(k) }

// priority orders the outbox: alerts first, digests last.
func (k Kind) priority() int {
	switch k {
	case KindAlert:
		return 2
	case KindSummary:
		return 1
	}
	return 0
}

// Planning constants.
const (
	// Level3Hold is how long the first level 3 alert about an item waits
	// for more changes to the same item, so that a burst is one message.
	Level3Hold = 30 * time.Second
	// Settle is how long the planner waits after a window closes before it
	// plans an email for it, so that reports being stored at that moment
	// are in it.
	Settle = 5 * time.Second
)

// Planned is an email the planner says is due, before it is rendered.
type Planned struct {
	Kind Kind
	// Key is the dedupe key: the tenant's outbox holds at most one email
	// with it, however often and by however many collectors it is planned.
	Key string
	// To are the recipients.
	To []string
	// Window is the span the changes were picked from.
	Window Window
	// NotBefore is when it may be sent: the end of the quiet hours for a
	// digest due in them; zero for at once.
	NotBefore time.Time
	// Label names a digest's period (2026-W45).
	Label string
	// Host, HostID and Item name an alert's subject.
	Host, HostID, Item string
	// Update marks a level 3 alert about changes that followed a first
	// alert about the same item in the same window.
	Update bool
	// Changes are what the email reports, oldest first.
	Changes []Change
}

// PlanRange returns the span of changes Plan needs at now.
func PlanRange(p Policy, now time.Time) Window {
	w := Window{Start: now, End: now.Add(time.Nanosecond)}
	if len(p.Level3) > 0 {
		w.Start = minTime(w.Start, level3From(p, now))
	}
	if len(p.Level2) > 0 {
		if ds := summaryWindows(p, now); len(ds) > 0 {
			w.Start = minTime(w.Start, ds[0].Start)
		}
	}
	return w
}

// Plan returns the alerts and summaries due at now for a tenant with
// policy p, given its changes over PlanRange(p, now) (others are
// ignored), in the order they fell due. It is a pure function: planning
// again, later or on another collector, gives the same keys, so the outbox
// holds each email once.
//
// Level 3: the changes to one item on one host coalesce by windows of
// p.Level3Window. The first change in a window after a window without one
// is alerted Level3Hold later, with the changes of that hold; the rest of
// the window's changes follow in one update when the window ends. A window
// that follows one with changes sends only the update. So an item that
// keeps changing gets one message per window.
//
// Level 2: one summary every p.Level2Every, aligned to midnight in the
// policy's zone, of the level 2 changes since the last; none when there
// are none. In quiet hours summaries are held and go out as one when the
// quiet hours end. Summaries of the last two periods are planned, so a
// collector that was down briefly still sends them, and one that starts
// does not send a day's worth.
//
// Level 1 changes wait for the digest (PlanDigest).
func Plan(p Policy, changes []Change, now time.Time) []Planned {
	var out []Planned
	if len(p.Level3) > 0 {
		out = append(out, planLevel3(p, changes, now)...)
	}
	if len(p.Level2) > 0 {
		out = append(out, planSummaries(p, changes, now)...)
	}
	slices.SortStableFunc(out, func(a, b Planned) int {
		return cmp.Or(dueAt(a).Compare(dueAt(b)), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// dueAt is when a planned alert or summary fell due: Settle after its
// window closed.
func dueAt(p Planned) time.Time { return p.Window.End.Add(Settle) }

// level3From is the start of the level 3 windows Plan looks at: those
// that may still owe an email at now (the current one, and the one before
// to tolerate a missed tick), and the window before those, which decides
// whether the first is an update.
func level3From(p Policy, now time.Time) time.Time {
	w := p.Level3Window
	return now.Add(-2*w - Settle).UTC().Truncate(w).Add(-w)
}

type itemKey struct{ hostID, item string }

func planLevel3(p Policy, changes []Change, now time.Time) []Planned {
	var out []Planned
	for _, c := range level3Candidates(p, changes, now) {
		if !now.Before(c.due) {
			out = append(out, c.Planned)
		}
	}
	return out
}

// candidate is a level 3 email and when it falls due.
type candidate struct {
	Planned
	due time.Time
}

// level3Candidates returns the level 3 emails of the changes up to now,
// each with when it falls due: those due already as Plan sends them, and
// the ones due later as they stand at now.
func level3Candidates(p Policy, changes []Change, now time.Time) []candidate {
	w := p.Level3Window
	from := level3From(p, now)
	byItem := map[itemKey][]Change{}
	for _, c := range changes {
		if c.Level >= 3 && !c.At.Before(from) && !c.At.After(now) {
			k := itemKey{c.HostID, c.Key}
			byItem[k] = append(byItem[k], c)
		}
	}
	var out []candidate
	for k, cs := range byItem {
		sortChanges(cs)
		buckets := map[time.Time][]Change{}
		for _, c := range cs {
			b := c.At.UTC().Truncate(w)
			buckets[b] = append(buckets[b], c)
		}
		for start, bc := range buckets {
			if start.Equal(from) {
				continue // only there to tell whether the next one continues it
			}
			end := start.Add(w)
			rest := bc
			base := Planned{Kind: KindAlert, To: p.Level3, Host: bc[0].Host, HostID: k.hostID, Item: k.item}
			if _, continues := buckets[start.Add(-w)]; !continues {
				first := bc[0].At
				holdEnd := minTime(first.Add(Level3Hold), end)
				var held []Change
				held, rest = splitAt(bc, holdEnd)
				a := base
				a.Key = alertKey(k, start)
				a.Window = Window{Start: start, End: holdEnd}
				a.Changes = held
				out = append(out, candidate{Planned: a, due: holdEnd.Add(Settle)})
			}
			if len(rest) > 0 {
				a := base
				a.Key = alertKey(k, start) + "/more"
				a.Window = Window{Start: start, End: end}
				a.Update = true
				a.Changes = rest
				out = append(out, candidate{Planned: a, due: end.Add(Settle)})
			}
		}
	}
	return out
}

// NextDue returns the first instant after now at which Plan, given the
// same changes, plans a level 3 alert it does not plan at now: when the
// hold of a first alert ends, or the window of an update, plus Settle.
// Zero when none is pending. A notifier ticks then, so that an alert goes
// out when its hold ends rather than at its next regular tick.
func NextDue(p Policy, changes []Change, now time.Time) time.Time {
	var next time.Time
	if len(p.Level3) == 0 {
		return next
	}
	for _, c := range level3Candidates(p, changes, now) {
		if c.due.After(now) && (next.IsZero() || c.due.Before(next)) {
			next = c.due
		}
	}
	return next
}

// splitAt splits changes sorted by time into those before t and the rest.
func splitAt(cs []Change, t time.Time) (before, rest []Change) {
	i, _ := slices.BinarySearchFunc(cs, t, func(c Change, t time.Time) int { return c.At.Compare(t) })
	return cs[:i:i], cs[i:]
}

// summaryWindows returns the windows of the level 2 summaries that fell
// due in the last two periods before now (less Settle), oldest first.
func summaryWindows(p Policy, now time.Time) []Window {
	to := now.Add(-Settle)
	from := to.Add(-2 * p.Level2Every)
	// Deliveries from a day and a half earlier give each window its start:
	// quiet hours are shorter than a day, and a summary goes out at least
	// once a day.
	ds := summaryDeliveries(p, from.Add(-36*time.Hour), to)
	var out []Window
	for i := 1; i < len(ds); i++ {
		if ds[i].After(from) {
			out = append(out, Window{Start: ds[i-1], End: ds[i]})
		}
	}
	return out
}

// summaryDeliveries returns the instants in [from, to] at which a level 2
// summary goes out, in order: every p.Level2Every from local midnight,
// with those in quiet hours moved to their end (and so merged).
func summaryDeliveries(p Policy, from, to time.Time) []time.Time {
	var out []time.Time
	local := from.In(p.Location)
	y, m, d := local.Date()
	for day := 0; ; day++ {
		midnight := wallTime(y, m, d+day, 0, 0, p.Location)
		next := wallTime(y, m, d+day+1, 0, 0, p.Location)
		if midnight.After(to) {
			break
		}
		for b := midnight; b.Before(next); b = b.Add(p.Level2Every) {
			if r := p.Quiet.Release(b); !r.Before(from) && !r.After(to) {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.CompactFunc(out, time.Time.Equal)
}

func planSummaries(p Policy, changes []Change, now time.Time) []Planned {
	var out []Planned
	for _, w := range summaryWindows(p, now) {
		var cs []Change
		for _, c := range changes {
			if c.Level == 2 && w.Contains(c.At) {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		sortChanges(cs)
		out = append(out, Planned{Kind: KindSummary, Key: "summary/" + keyTime(w.End), To: p.Level2, Window: w, Changes: cs})
	}
	return out
}

// DigestRun is one run of a tenant's digest schedule.
type DigestRun struct {
	// Due is when the schedule fired.
	Due time.Time
	// Window is the period it covers, ending at Due.
	Window Window
	// Label names the period (2026-W45).
	Label string
}

// DigestDue returns the digest run the schedule owes at now: its last run
// at or before now, when that is at most catchUp ago. A collector that was
// down at the run's time sends it late, within catchUp; older runs are
// skipped. There is none without recipients.
func DigestDue(p Policy, now time.Time, catchUp time.Duration) (DigestRun, bool) {
	if len(p.Recipients) == 0 || p.Digest.IsZero() {
		return DigestRun{}, false
	}
	due := p.Digest.Prev(now, now.Add(-catchUp-time.Nanosecond))
	if due.IsZero() {
		return DigestRun{}, false
	}
	return DigestRunAt(p, due), true
}

// DigestRunAt returns the digest run due at due.
func DigestRunAt(p Policy, due time.Time) DigestRun {
	w := Window{Start: p.Period.Start(due, p.Location), End: due}
	return DigestRun{Due: due, Window: w, Label: p.Period.Label(w, p.Location)}
}

// PlanDigest returns the digest of run, given the tenant's changes over
// run.Window (others are ignored). A digest due in quiet hours goes out
// when they end. It is sent with no changes too: an empty digest says the
// hosts were watched and nothing changed.
func PlanDigest(p Policy, run DigestRun, changes []Change) Planned {
	var cs []Change
	for _, c := range changes {
		if run.Window.Contains(c.At) {
			cs = append(cs, c)
		}
	}
	sortChanges(cs)
	pl := Planned{Kind: KindDigest, Key: "digest/" + run.Label, To: p.Recipients, Window: run.Window, Label: run.Label, Changes: cs}
	if r := p.Quiet.Release(run.Due); r.After(run.Due) {
		pl.NotBefore = r
	}
	return pl
}

// sortChanges orders changes by time, then host and item.
func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Host, b.Host), cmp.Compare(a.Key, b.Key))
	})
}

// maxKeyItem is the longest item key kept whole in a dedupe key; longer
// ones are cut and made unique with a hash.
const maxKeyItem = 160

// alertKey is the dedupe key of the level 3 alert about an item in the
// window starting at start.
func alertKey(k itemKey, start time.Time) string {
	item := k.item
	if len(item) > maxKeyItem {
		sum := sha256.Sum256([]byte(item))
		item = strings.ToValidUTF8(item[:maxKeyItem-17], "") + "~" + hex.EncodeToString(sum[:8])
	}
	return "alert/" + k.hostID + "/" + item + "/" + keyTime(start)
}

// keyTime writes a time for a dedupe key: UTC, to the minute.
func keyTime(t time.Time) string { return t.UTC().Format("20060102T1504Z") }

// EmailID derives an email's ID from its tenant and dedupe key, so that
// collectors planning the same email give it the same ID and the same
// Message-ID.
func EmailID(tenantID, key string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + key))
	return "em-" + hex.EncodeToString(sum[:16])
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
