package collector

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// MailRenderer renders notification emails with the reporter: subject,
// HTML and text bodies, links into the web report from MailLinks. It is a
// notify.Renderer, safe for concurrent use, and does no I/O.
type MailRenderer struct {
	r     *reporter.Renderer
	links MailLinks
}

// NewMailRenderer returns a renderer whose links start at links.Base.
func NewMailRenderer(links MailLinks) (*MailRenderer, error) {
	r, err := reporter.New(reporter.Options{})
	if err != nil {
		return nil, fmt.Errorf("mail renderer: %w", err)
	}
	return &MailRenderer{r: r, links: links}, nil
}

// preferences is a recipient's preference link: their signed token, or,
// without one (a preview), the tenant's page for signed-in users.
func (m *MailRenderer) preferences(t store.Tenant, rc notify.Recipient) string {
	if rc.Token == "" {
		return mailLink(m.links.Preferences, "tenant", t.ID)
	}
	return mailLink(m.links.Preferences, "t", rc.Token)
}

// unsubscribe is a recipient's unsubscription link of the list their
// token names, as the List-Unsubscribe header has it; empty when there is
// none.
func (m *MailRenderer) unsubscribe(rc notify.Recipient) string {
	if m.links.Unsubscribe == "" || rc.Token == "" {
		return ""
	}
	return mailLink(m.links.Unsubscribe, "t", rc.Token)
}

// Digest renders "This week in changes".
func (m *MailRenderer) Digest(d notify.DigestData) (notify.Content, error) {
	metrics := reporter.DigestMetrics{SuccessRate: -1}
	if x := d.Metrics; x != nil {
		if x.Observed > 0 {
			metrics.SuccessRate = 100 * float64(x.Authorized) / float64(x.Observed)
		}
		metrics.MTTR, metrics.OpenL3, metrics.TicketsImplemented = x.MTTR, x.OpenLevel3, x.TicketsImplemented
	}
	dg := &reporter.Digest{
		Period: string(d.Period), From: d.Window.Start, To: d.Window.End, Location: d.Location,
		Tenants: []reporter.DigestTenant{{Tenant: mailTenant(d.Tenant), Changes: mailChanges(d.Tenant, d.Changes), Metrics: metrics}},
		BaseURL: m.links.Base, PreferencesURL: m.preferences(d.Tenant, d.Recipient), UnsubscribeURL: m.unsubscribe(d.Recipient),
	}
	var html, text bytes.Buffer
	if err := m.r.DigestHTML(&html, dg); err != nil {
		return notify.Content{}, err
	}
	if err := m.r.DigestText(&text, dg); err != nil {
		return notify.Content{}, err
	}
	return notify.Content{Subject: reporter.DigestSubject(dg), HTML: html.String(), Text: text.String()}, nil
}

// Alert renders a level 3 alert.
func (m *MailRenderer) Alert(a notify.AlertData) (notify.Content, error) {
	return m.alert(&reporter.Alert{
		Level: reporter.Level3, Tenant: mailTenant(a.Tenant), Changes: mailChanges(a.Tenant, a.Changes), Update: a.Update,
		Location: a.Location, BaseURL: m.links.Base, PreferencesURL: m.preferences(a.Tenant, a.Recipient),
	})
}

// Summary renders a level 2 summary.
func (m *MailRenderer) Summary(s notify.SummaryData) (notify.Content, error) {
	return m.alert(&reporter.Alert{
		Level: reporter.Level2, Tenant: mailTenant(s.Tenant), Changes: mailChanges(s.Tenant, s.Changes),
		From: s.Window.Start, To: s.Window.End, Location: s.Location, BaseURL: m.links.Base,
		PreferencesURL: m.preferences(s.Tenant, s.Recipient), UnsubscribeURL: m.unsubscribe(s.Recipient),
	})
}

func (m *MailRenderer) alert(a *reporter.Alert) (notify.Content, error) {
	var html, text bytes.Buffer
	if err := m.r.AlertHTML(&html, a); err != nil {
		return notify.Content{}, err
	}
	if err := m.r.AlertText(&text, a); err != nil {
		return notify.Content{}, err
	}
	return notify.Content{Subject: reporter.AlertSubject(a), HTML: html.String(), Text: text.String()}, nil
}

func mailTenant(t store.Tenant) reporter.TenantRef { return reporter.TenantRef{ID: t.ID, Name: t.Name} }

// mailChanges turns changes into the reporter's, one per drift item: an
// item modified again several times in the email's span is shown once,
// in its latest state, first seen at its earliest change, with the count
// in its summary.
func mailChanges(t store.Tenant, cs []notify.Change) []reporter.MailChange {
	type item struct {
		first, last notify.Change
		n           int
	}
	var order []string
	items := map[string]*item{}
	for _, c := range cs {
		k := c.ID
		if k == "" {
			k = c.HostID + "\x00" + c.Key
		}
		it, ok := items[k]
		if !ok {
			it = &item{first: c}
			items[k] = it
			order = append(order, k)
		}
		if c.At.Before(it.first.At) {
			it.first = c
		}
		if it.n == 0 || !c.At.Before(it.last.At) {
			it.last = c
		}
		it.n++
	}
	out := make([]reporter.MailChange, 0, len(order))
	for _, k := range order {
		it := items[k]
		c := it.last
		mc := reporter.MailChange{
			DriftID: c.ID, Host: reporter.HostRef{ID: c.HostID, Name: c.Host, TenantID: t.ID, TenantName: t.Name},
			Key: c.Key, Change: baseline.ChangeKind(c.Kind), Verdict: reporter.Verdict(c.Verdict), Level: reporter.Level(c.Level),
			FirstSeen: it.first.At, Summary: c.Summary, Diff: c.Diff, Note: c.Note, StandardChange: c.StandardChange,
		}
		if c.Ticket != "" || c.TicketRef != "" {
			mc.Ticket = &reporter.TicketRef{ID: c.Ticket, Ref: c.TicketRef, Title: c.TicketTitle}
		}
		if it.n > 1 {
			times := "changed " + strconv.Itoa(it.n) + " times; the latest state is shown"
			if mc.Summary == "" {
				mc.Summary = "Changed " + strconv.Itoa(it.n) + " times; the latest state is shown"
			} else {
				mc.Summary += " (" + times + ")"
			}
		}
		out = append(out, mc)
	}
	return out
}
