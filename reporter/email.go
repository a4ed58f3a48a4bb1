package reporter

import (
	"fmt"
	"html/template"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// Limits of a diff shown inline in an email; a longer diff is cut, with a
// link to the full one.
const (
	MailDiffMaxLines = 80
	MailDiffMaxBytes = 8 << 10
	// MailDiffBudget bounds the diff text of one whole email: past it,
	// changes are listed with a link only, so that the message stays
	// below the size at which mail clients clip it.
	MailDiffBudget = 48 << 10
)

// MailChange is one drift item in a digest or an alert.
type MailChange struct {
	// DriftID links the item's page.
	DriftID   string
	Host      HostRef
	Key       string
	Change    baseline.ChangeKind
	Verdict   Verdict
	Level     Level
	FirstSeen time.Time
	Ticket    *TicketRef
	// Summary says what changed for people: "PermitRootLogin no → yes".
	Summary string
	// Diff is the change's unified diff, if any; Note explains a content
	// change without one (baseline.Change.Note).
	Diff string
	Note string
	// StandardChange is set when a standard change's package rule
	// authorized the item.
	StandardChange bool
}

// VerdictLabel returns the verdict for people, "Authorized (standard
// change)" for an item a standard change authorized.
func (c MailChange) VerdictLabel() string { return verdictLabel(c.Verdict, c.StandardChange) }

// DigestMetrics are a tenant's figures for the digest's period.
type DigestMetrics struct {
	// SuccessRate is the percentage of implemented changes that needed no
	// rollback; negative when nothing was implemented.
	SuccessRate float64
	// MTTR is the mean time to resolve drift; 0 when nothing was resolved.
	MTTR time.Duration
	// OpenL3 is the number of level 3 items still open.
	OpenL3 int
	// TicketsImplemented is the number of tickets implemented.
	TicketsImplemented int
}

// DigestTenant is one tenant's part of a digest.
type DigestTenant struct {
	Tenant  TenantRef
	Changes []MailChange
	Metrics DigestMetrics
}

// Digest periods.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
)

// Digest is the "This week in changes" email: each tenant's changes of the
// period, grouped by host, with the period's figures.
type Digest struct {
	// Recipient is the name the digest greets; may be empty.
	Recipient string
	// Period is PeriodDay, PeriodWeek or PeriodMonth; empty means a week.
	Period string
	// From and To bound the period (To exclusive); Location is the zone
	// its times are shown in (nil: UTC).
	From, To time.Time
	Location *time.Location
	Tenants  []DigestTenant
	// BaseURL is the absolute URL of the web pages, e.g.
	// "https://drift.example.net/ui"; every link is built from it.
	BaseURL string
	// PreferencesURL and UnsubscribeURL are the recipient's own links
	// (absolute http or https).
	PreferencesURL string
	UnsubscribeURL string
}

// Alert is an escalation email: level 3 sent at once for one or a few
// items, level 2 as an hourly summary.
type Alert struct {
	Level   Level
	Tenant  TenantRef
	Changes []MailChange
	// Update says the alert follows an earlier one about the same item:
	// more changes came since.
	Update bool
	// From and To bound a summary's period; zero for an immediate alert.
	From, To       time.Time
	Location       *time.Location
	BaseURL        string
	PreferencesURL string
	UnsubscribeURL string
}

// mailHost is one host's changes in a digest.
type mailHost struct {
	Host    HostRef
	Changes []mailChange
}

// mailChange is a MailChange prepared for display.
type mailChange struct {
	MailChange
	URL       string
	TicketURL string
	// DiffLines is the diff as shown (maybe cut); Cut says it was, and
	// TotalLines how long it is.
	DiffLines  []string
	Cut        bool
	TotalLines int
	// Omitted says the diff was left out: the email reached
	// MailDiffBudget.
	Omitted bool
}

// mailTenant is a DigestTenant prepared for display.
type mailTenant struct {
	Tenant       TenantRef
	Hosts        []mailHost
	Metrics      DigestMetrics
	Changes      int
	Authorized   int
	Unauthorized int
	// Review counts the changes neither authorized nor unauthorized:
	// outside their window, during a freeze, or under an unapproved
	// ticket.
	Review   int
	InboxURL string
}

// mailView is the data of the email templates.
type mailView struct {
	Title          string
	Intro          string
	Recipient      string
	Tenants        []mailTenant
	Level          Level
	PreferencesURL string
	UnsubscribeURL string
	SiteURL        string
	loc            *time.Location
}

// Time shows t in the email's zone.
func (v *mailView) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(v.loc).Format("2006-01-02 15:04 MST")
}

// checkBase checks that links in an email can work: an absolute http(s)
// URL.
func checkBase(what, base string) (Links, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Links{}, fmt.Errorf("%s: base URL %q is not an absolute http or https URL", what, base)
	}
	return NewLinks(base), nil
}

// cutDiff splits a diff into lines and cuts it at the mail limits.
func cutDiff(diff string) (lines []string, cut bool, total int) {
	if diff == "" {
		return nil, false, 0
	}
	all := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	total = len(all)
	size := 0
	for i, l := range all {
		if i >= MailDiffMaxLines || size+len(l)+1 > MailDiffMaxBytes {
			if i == 0 {
				// One enormous line: show its start.
				t, _ := truncateRunes(l, MailDiffMaxBytes)
				return []string{t}, true, total
			}
			return all[:i], true, total
		}
		size += len(l) + 1
	}
	return all, false, total
}

func prepareChange(l Links, c MailChange, budget *int) mailChange {
	mc := mailChange{MailChange: c}
	if c.DriftID != "" {
		mc.URL = l.Drift(c.DriftID)
	}
	if c.Ticket != nil {
		if c.Ticket.ID != "" {
			mc.TicketURL = l.Ticket(c.Ticket.ID)
		} else {
			mc.TicketURL = safeExternalURL(c.Ticket.ExternalURL)
		}
	}
	mc.DiffLines, mc.Cut, mc.TotalLines = cutDiff(c.Diff)
	size := 0
	for _, l := range mc.DiffLines {
		size += len(l) + 1
	}
	if size > *budget {
		mc.DiffLines, mc.Cut, mc.Omitted = nil, false, true
	} else {
		*budget -= size
	}
	return mc
}

// verdictRank ranks verdicts by seriousness, 0 the most serious.
func verdictRank() map[Verdict]int {
	rank := map[Verdict]int{}
	for i, v := range Verdicts {
		rank[v] = i
	}
	return rank
}

// sortChanges orders changes: highest level, then verdict seriousness,
// then key.
func sortChanges(cs []MailChange) {
	rank := verdictRank()
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		if rank[a.Verdict] != rank[b.Verdict] {
			return rank[a.Verdict] < rank[b.Verdict]
		}
		return a.Key < b.Key
	})
}

func prepareTenant(l Links, t TenantRef, changes []MailChange, m DigestMetrics, budget *int) mailTenant {
	mt := mailTenant{Tenant: t, Metrics: m, Changes: len(changes)}
	mt.InboxURL = l.Inbox(InboxFilter{TenantID: t.ID}, "")
	byHost := map[string]*mailHost{}
	var order []string
	cs := append([]MailChange(nil), changes...)
	sortChanges(cs)
	for _, c := range cs {
		switch c.Verdict {
		case VerdictAuthorized:
			mt.Authorized++
		case VerdictUnauthorized:
			mt.Unauthorized++
		default:
			mt.Review++
		}
		k := c.Host.ID + "\x00" + c.Host.Name
		h, ok := byHost[k]
		if !ok {
			h = &mailHost{Host: c.Host}
			byHost[k] = h
			order = append(order, k)
		}
		h.Changes = append(h.Changes, prepareChange(l, c, budget))
	}
	// The host with the most serious change first: its changes are sorted,
	// so its first change is its most serious.
	rank := verdictRank()
	sort.Slice(order, func(i, j int) bool {
		a, b := byHost[order[i]], byHost[order[j]]
		ca, cb := a.Changes[0], b.Changes[0]
		if ca.Level != cb.Level {
			return ca.Level > cb.Level
		}
		if rank[ca.Verdict] != rank[cb.Verdict] {
			return rank[ca.Verdict] < rank[cb.Verdict]
		}
		if len(a.Changes) != len(b.Changes) {
			return len(a.Changes) > len(b.Changes)
		}
		return a.Host.Name < b.Host.Name
	})
	for _, k := range order {
		mt.Hosts = append(mt.Hosts, *byHost[k])
	}
	return mt
}

func mailLoc(l *time.Location) *time.Location {
	if l == nil {
		return time.UTC
	}
	return l
}

func (d *Digest) view() (*mailView, error) {
	l, err := checkBase("digest", d.BaseURL)
	if err != nil {
		return nil, err
	}
	v := &mailView{Recipient: d.Recipient, loc: mailLoc(d.Location),
		PreferencesURL: safeExternalURL(d.PreferencesURL), UnsubscribeURL: safeExternalURL(d.UnsubscribeURL),
		SiteURL: l.Overview("")}
	from, last := d.From.In(v.loc), d.To.Add(-time.Nanosecond).In(v.loc)
	switch d.Period {
	case PeriodDay:
		v.Title = "Changes on " + from.Format("Mon 2 Jan 2006")
		v.Intro = from.Format("Monday 2 January 2006") + " (" + v.loc.String() + ")"
	case PeriodMonth:
		v.Title = "This month in changes"
		v.Intro = from.Format("January 2006") + ": " + from.Format("2 Jan") + " – " + last.Format("2 Jan 2006") + " (" + v.loc.String() + ")"
	default:
		_, week := periodMiddle(d.From, d.To, v.loc).ISOWeek()
		v.Title = "This week in changes"
		v.Intro = "Week " + strconv.Itoa(week) + ": " + from.Format("Mon 2 Jan") + " – " + last.Format("Mon 2 Jan 2006") + " (" + v.loc.String() + ")"
	}
	budget := MailDiffBudget
	for _, t := range d.Tenants {
		v.Tenants = append(v.Tenants, prepareTenant(l, t.Tenant, t.Changes, t.Metrics, &budget))
	}
	return v, nil
}

func (a *Alert) view() (*mailView, error) {
	l, err := checkBase("alert", a.BaseURL)
	if err != nil {
		return nil, err
	}
	v := &mailView{Level: a.Level, loc: mailLoc(a.Location), PreferencesURL: safeExternalURL(a.PreferencesURL),
		UnsubscribeURL: safeExternalURL(a.UnsubscribeURL), SiteURL: l.Overview(a.Tenant.ID)}
	switch {
	case a.Level >= Level3 && a.Update:
		v.Title = "Full escalation, update: " + plural(len(a.Changes), "more change", "more changes")
		v.Intro = "More changes to the same item since the first alert; level 3 (full escalation) under " + a.Tenant.Name + "'s rules."
	case a.Level >= Level3:
		v.Title = "Full escalation: " + plural(len(a.Changes), "change needs", "changes need") + " attention now"
		v.Intro = "These changes reached escalation level 3 (full escalation) under " + a.Tenant.Name + "'s rules."
	default:
		v.Title = "Hourly summary: " + plural(len(a.Changes), "change", "changes") + " to review"
		v.Intro = "Level 2 (internal escalation) changes seen " + v.Time(a.From) + " – " + a.To.In(v.loc).Format("15:04 MST") + "."
	}
	budget := MailDiffBudget
	v.Tenants = []mailTenant{prepareTenant(l, a.Tenant, a.Changes, DigestMetrics{SuccessRate: -1}, &budget)}
	return v, nil
}

// plural writes "1 change" or "3 changes".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// DigestSubject returns a digest's subject line, the most serious news
// first: "3 unauthorized changes on 2 hosts — Acme Corp — week 47".
func DigestSubject(d *Digest) string {
	changes, unauth, review := 0, 0, 0
	hosts, unauthHosts, reviewHosts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, t := range d.Tenants {
		for _, c := range t.Changes {
			h := t.Tenant.ID + "\x00" + c.Host.ID + "\x00" + c.Host.Name
			changes++
			hosts[h] = true
			if c.Verdict == VerdictUnauthorized {
				unauth++
				unauthHosts[h] = true
			}
			if c.Verdict != VerdictAuthorized {
				review++
				reviewHosts[h] = true
			}
		}
	}
	var what string
	switch {
	case unauth > 0:
		what = plural(unauth, "unauthorized change", "unauthorized changes") + " on " + plural(len(unauthHosts), "host", "hosts")
	case review > 0:
		what = plural(review, "change", "changes") + " to review on " + plural(len(reviewHosts), "host", "hosts")
	case changes > 0:
		what = plural(changes, "change", "changes") + " on " + plural(len(hosts), "host", "hosts") + ", all authorized"
	default:
		what = "No changes"
	}
	from := d.From.In(mailLoc(d.Location))
	var when string
	switch d.Period {
	case PeriodDay:
		when = from.Format("2006-01-02")
	case PeriodMonth:
		when = from.Format("January 2006")
	default:
		_, week := periodMiddle(d.From, d.To, from.Location()).ISOWeek()
		when = "week " + strconv.Itoa(week)
	}
	return oneLine(what+" — "+tenantsName(d.Tenants)+" — "+when, 250)
}

func tenantsName(ts []DigestTenant) string {
	switch len(ts) {
	case 0:
		return "no tenants"
	case 1:
		return oneLine(ts[0].Tenant.Name, 60)
	}
	return strconv.Itoa(len(ts)) + " tenants"
}

// AlertSubject returns an alert's subject line: "[L3] Unauthorized change
// on web-01: file:/etc/ssh/sshd_config — Acme Corp" for one item, "[L2] 5
// changes to review on 3 hosts — Acme Corp — 06:00–07:00" for a summary.
func AlertSubject(a *Alert) string {
	prefix := "[" + a.Level.Short() + "] "
	if a.Update {
		prefix += "Update: "
	}
	tenant := oneLine(a.Tenant.Name, 60)
	if len(a.Changes) == 1 {
		c := a.Changes[0]
		return oneLine(prefix+c.VerdictLabel()+" change on "+oneLine(c.Host.Name, 60)+": "+oneLine(c.Key, 80)+" — "+tenant, 250)
	}
	hosts := map[string]bool{}
	unauth := 0
	for _, c := range a.Changes {
		hosts[c.Host.ID+"\x00"+c.Host.Name] = true
		if c.Verdict == VerdictUnauthorized {
			unauth++
		}
	}
	what := plural(len(a.Changes), "change", "changes") + " to review"
	if unauth == len(a.Changes) && unauth > 0 {
		what = plural(unauth, "unauthorized change", "unauthorized changes")
	}
	s := prefix + what + " on " + plural(len(hosts), "host", "hosts") + " — " + tenant
	if !a.From.IsZero() && !a.To.IsZero() {
		loc := mailLoc(a.Location)
		s += " — " + a.From.In(loc).Format("15:04") + "–" + a.To.In(loc).Format("15:04")
	}
	return oneLine(s, 250)
}

// DigestHTML renders a digest as HTML email: inline styles only, tables
// for layout, no images.
func (r *Renderer) DigestHTML(w io.Writer, d *Digest) error {
	v, err := d.view()
	if err != nil {
		return err
	}
	return r.execute(w, r.email["digest"], "digest", v, "digest email")
}

// AlertHTML renders an alert as HTML email.
func (r *Renderer) AlertHTML(w io.Writer, a *Alert) error {
	v, err := a.view()
	if err != nil {
		return err
	}
	return r.execute(w, r.email["alert"], "alert", v, "alert email")
}

// DigestText renders a digest as plain-text email.
func (r *Renderer) DigestText(w io.Writer, d *Digest) error {
	v, err := d.view()
	if err != nil {
		return err
	}
	return writeText(w, v, true, "digest")
}

// AlertText renders an alert as plain-text email.
func (r *Renderer) AlertText(w io.Writer, a *Alert) error {
	v, err := a.view()
	if err != nil {
		return err
	}
	return writeText(w, v, false, "alert")
}

// textLine makes a host string safe for a plain-text email line.
func textLine(s string) string { return VisibleText(s, false) }

func writeText(w io.Writer, v *mailView, metrics bool, what string) error {
	var b strings.Builder
	b.WriteString(textLine(v.Title) + "\n")
	b.WriteString(textLine(v.Intro) + "\n\n")
	if v.Recipient != "" {
		b.WriteString("Hello " + textLine(v.Recipient) + ",\n\n")
	}
	for _, t := range v.Tenants {
		b.WriteString(strings.Repeat("=", 72) + "\n")
		if t.Changes == 0 {
			b.WriteString(textLine(t.Tenant.Name) + ": no changes")
		} else {
			b.WriteString(textLine(t.Tenant.Name) + ": " + plural(t.Changes, "change", "changes") + " on " + plural(len(t.Hosts), "host", "hosts"))
			fmt.Fprintf(&b, " (%d unauthorized, %d other to review, %d authorized)", t.Unauthorized, t.Review, t.Authorized)
		}
		b.WriteString("\n")
		if metrics {
			m := t.Metrics
			var parts []string
			if m.SuccessRate >= 0 {
				parts = append(parts, "change success rate "+strconv.FormatFloat(m.SuccessRate, 'f', 1, 64)+" %")
			}
			if m.MTTR > 0 {
				parts = append(parts, "mean time to resolve "+humanDuration(m.MTTR))
			}
			parts = append(parts, strconv.Itoa(m.TicketsImplemented)+" tickets implemented", strconv.Itoa(m.OpenL3)+" level 3 items open")
			b.WriteString(strings.Join(parts, " · ") + "\n")
		}
		b.WriteString("Inbox: " + t.InboxURL + "\n")
		b.WriteString(strings.Repeat("=", 72) + "\n\n")
		for _, h := range t.Hosts {
			b.WriteString("## " + textLine(h.Host.Name) + "\n\n")
			for _, c := range h.Changes {
				ticket := "NO TICKET"
				if c.Ticket != nil {
					ticket = "ticket " + textLine(c.Ticket.Label())
				}
				fmt.Fprintf(&b, "[%s %s] %s %s — %s\n", c.Level.Short(), strings.ToUpper(c.VerdictLabel()), textLine(c.Key), c.Change, ticket)
				b.WriteString("  first seen " + v.Time(c.FirstSeen) + "\n")
				if c.Summary != "" {
					b.WriteString("  " + textLine(c.Summary) + "\n")
				}
				if c.Note != "" {
					b.WriteString("  " + textLine(c.Note) + "\n")
				}
				if c.URL != "" {
					b.WriteString("  " + c.URL + "\n")
				}
				if c.TicketURL != "" {
					b.WriteString("  ticket: " + c.TicketURL + "\n")
				}
				if c.Omitted {
					b.WriteString("  [diff not shown: this email is at its size limit; see the link above]\n")
				}
				if len(c.DiffLines) > 0 {
					b.WriteString("\n")
					for _, l := range c.DiffLines {
						b.WriteString("    " + VisibleText(l, false) + "\n")
					}
					if c.Cut {
						fmt.Fprintf(&b, "    [diff cut: %d of %d lines shown; full diff: %s]\n", len(c.DiffLines), c.TotalLines, c.URL)
					}
				}
				b.WriteString("\n")
			}
		}
	}
	b.WriteString("-- \n")
	b.WriteString("driftwatch: " + v.SiteURL + "\n")
	if v.PreferencesURL != "" {
		b.WriteString("Email preferences: " + v.PreferencesURL + "\n")
	}
	if v.UnsubscribeURL != "" {
		b.WriteString("Unsubscribe: " + v.UnsubscribeURL + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write %s text: %w", what, err)
	}
	return nil
}

// Inline styles of the HTML email.
var (
	verdictStyles = map[Verdict]string{
		VerdictUnauthorized:     "background:#c62828;color:#ffffff;",
		VerdictFrozen:           "background:#6a1b9a;color:#ffffff;",
		VerdictOutOfWindow:      "background:#ef6c00;color:#ffffff;",
		VerdictUnapprovedTicket: "background:#f9a825;color:#1a1a1a;",
		VerdictAuthorized:       "background:#2e7d32;color:#ffffff;",
	}
	levelStyles = map[Level]string{
		Level3: "background:#b71c1c;color:#ffffff;",
		Level2: "background:#e65100;color:#ffffff;",
		Level1: "background:#546e7a;color:#ffffff;",
	}
)

const badgeStyle = "display:inline-block;padding:1px 6px;border-radius:3px;font-size:12px;font-weight:bold;"

func mailFuncs() template.FuncMap {
	f := funcs()
	f["verdictStyle"] = func(v Verdict) template.CSS {
		s, ok := verdictStyles[v]
		if !ok {
			s = "background:#757575;color:#ffffff;"
		}
		return template.CSS(badgeStyle + s)
	}
	f["levelStyle"] = func(l Level) template.CSS {
		s, ok := levelStyles[l]
		if !ok {
			s = "background:#757575;color:#ffffff;"
		}
		return template.CSS(badgeStyle + s)
	}
	f["diffStyle"] = func(line string) template.CSS {
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			return "color:#555555;font-weight:bold;"
		case strings.HasPrefix(line, "+"):
			return "background:#e6ffed;color:#1a4d2a;"
		case strings.HasPrefix(line, "-"):
			return "background:#ffeef0;color:#6b1a1f;"
		case strings.HasPrefix(line, "@@"):
			return "color:#6a1b9a;"
		}
		return ""
	}
	f["pctOK"] = func(v float64) bool { return v >= 0 }
	return f
}

func (r *Renderer) parseEmail() error {
	for _, name := range []string{"digest", "alert"} {
		t, err := template.New(name).Funcs(mailFuncs()).ParseFS(templateFS, "templates/email/common.html", "templates/email/"+name+".html")
		if err != nil {
			return fmt.Errorf("parse %s email template: %w", name, err)
		}
		r.email[name] = t
	}
	return nil
}

// periodMiddle is the middle of a digest's period on loc's wall clock. A
// weekly digest sent on Friday covers the seven days before it, which
// start in the previous ISO week: it is named by the week its middle
// falls in, as the outbox's dedupe key is.
func periodMiddle(from, to time.Time, loc *time.Location) time.Time {
	if !to.After(from) {
		return from.In(loc)
	}
	return from.Add(to.Sub(from) / 2).In(loc)
}
