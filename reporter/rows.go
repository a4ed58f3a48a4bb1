package reporter

import (
	"github.com/driftwatch/driftwatch/baseline"
	"html/template"
	"net/url"
	"strconv"
	"strings"
)

// The rows of the two long tables, the drift list and the overview's
// hosts, are written here rather than in a template: a page of 1,000 hosts
// costs tens of thousands of template actions, each a reflective call.
// Every value goes through the same escaping as in the templates:
// visibleHTML for text, htmlAttr for attribute values.

// htmlAttr escapes an attribute value.
func htmlAttr(s string) string { return template.HTMLEscapeString(baseline.EscapeBytes(s)) }

type rowWriter struct {
	strings.Builder
}

func (w *rowWriter) text(s string) { w.WriteString(string(visibleHTML(s, false))) }

func (w *rowWriter) attr(s string) { w.WriteString(htmlAttr(s)) }

// ticketRef writes a ticket reference as the ticket-ref template does.
func (w *rowWriter) ticketRef(l Links, t *TicketRef) {
	if t == nil {
		w.WriteString(`<span class="badge v-unauthorized">no ticket</span>`)
		return
	}
	if t.ID != "" {
		w.WriteString(`<a href="`)
		w.attr(l.Ticket(t.ID))
		w.WriteString(`">`)
		w.text(t.Label())
		w.WriteString(`</a>`)
	} else {
		w.text(t.Label())
	}
	if u := safeExternalURL(t.ExternalURL); u != "" {
		w.WriteString(` <a href="`)
		w.attr(u)
		w.WriteString(`" rel="noopener noreferrer" class="muted" title="Open in the ticket system">↗</a>`)
	}
	if t.State != "" {
		w.WriteString(` <span class="badge `)
		w.attr(t.State.Class())
		w.WriteString(`">`)
		w.text(t.State.Label())
		w.WriteString(`</span>`)
	}
}

// DriftRows writes the body rows of a drift table; host adds the host
// column.
func (p *Page) DriftRows(rows []DriftRow, host bool) template.HTML {
	var w rowWriter
	w.Grow(len(rows) * 900)
	l := p.links
	for i := range rows {
		r := &rows[i]
		w.WriteString("\n<tr>\n<td class=\"lvl\"><span class=\"badge ")
		w.attr(r.Level.Class())
		w.WriteString(`" title="`)
		w.attr(r.Level.Label())
		w.WriteString(`">`)
		w.text(r.Level.Short())
		w.WriteString("</span></td>\n<td class=\"vdt\"><span class=\"badge ")
		w.attr(r.Verdict.Class())
		w.WriteString(`">`)
		w.text(r.VerdictLabel())
		w.WriteString("</span></td>")
		if host {
			w.WriteString("\n<td class=\"host\"><a href=\"")
			w.attr(l.Host(r.Host.ID))
			w.WriteString(`">`)
			w.text(r.Host.Name)
			w.WriteString(`</a>`)
			if r.Host.TenantName != "" && p.TenantID == "" {
				w.WriteString(`<br><span class="muted">`)
				w.text(r.Host.TenantName)
				w.WriteString(`</span>`)
			}
			w.WriteString(`</td>`)
		}
		w.WriteString("\n<td class=\"key\"><a class=\"row-link\" href=\"")
		w.attr(l.Drift(r.ID))
		w.WriteString(`">`)
		w.text(r.Key)
		w.WriteString("</a></td>\n<td class=\"chg\"><span class=\"badge change\">")
		w.text(string(r.Change))
		w.WriteString("</span></td>\n<td class=\"seen\">")
		w.WriteString(string(p.When(r.FirstSeen)))
		w.WriteString("</td>\n<td class=\"tkt\">")
		w.ticketRef(l, r.Ticket)
		w.WriteString("</td>\n<td class=\"hide-narrow\">")
		w.text(r.Status.Label())
		w.WriteString("</td>\n</tr>")
	}
	return template.HTML(w.String())
}

// HostRows writes the overview's rows of a tenant's hosts with open
// drift: counts by level and verdict, each linking the inbox narrowed to
// it.
func (p *OverviewPage) HostRows(tenant string, hosts []*HostSummary) template.HTML {
	var w rowWriter
	w.Grow(len(hosts) * 1400)
	l := p.links
	// The cells' inbox links, built as Links.Inbox builds them (keys in
	// order: host, level, tenant, verdict) without a map per link.
	inbox := l.path("inbox") + "?"
	tenantQ := ""
	if tenant != "" {
		tenantQ = "&" + FieldTenant + "=" + url.QueryEscape(tenant)
	}
	var hostQ string
	cell := func(n int, class string, lv Level, v Verdict) {
		w.WriteString("\n<td class=\"num")
		w.WriteString(class)
		w.WriteString(`">`)
		if n == 0 {
			w.WriteString(`<span class="zero">·</span></td>`)
			return
		}
		w.WriteString(`<a href="`)
		u := inbox + hostQ
		if lv != 0 {
			u += "&level=" + strconv.Itoa(int(lv))
		}
		u += tenantQ
		if v != "" {
			u += "&verdict=" + url.QueryEscape(string(v))
		}
		w.attr(strings.Replace(u, "?&", "?", 1))
		w.WriteString(`">`)
		w.WriteString(strconv.Itoa(n))
		w.WriteString(`</a></td>`)
	}
	for _, h := range hosts {
		hostQ = ""
		if h.Host.Name != "" {
			hostQ = "host=" + url.QueryEscape(h.Host.Name)
		}
		w.WriteString("\n<tr><td><a href=\"")
		w.attr(l.Host(h.Host.ID))
		w.WriteString(`">`)
		w.text(h.Host.Name)
		w.WriteString(`</a></td>`)
		for _, lv := range Levels {
			n := h.Open.Level(lv)
			class := ""
			if n > 0 && lv == Level3 {
				class = " l3"
			}
			cell(n, class, lv, "")
		}
		for _, v := range Verdicts {
			n := h.Open.Verdict(v)
			class := " hide-narrow"
			if n > 0 && v == VerdictUnauthorized {
				class += " v-unauthorized"
			}
			cell(n, class, 0, v)
		}
		w.WriteString("\n<td>")
		w.WriteString(string(p.When(h.LastSeen)))
		w.WriteString(`</td><td class="hide-narrow">`)
		if h.BaselineVersion > 0 {
			w.WriteString("v" + strconv.Itoa(h.BaselineVersion))
		} else {
			w.WriteString(`<span class="muted">none</span>`)
		}
		w.WriteString(`</td></tr>`)
	}
	return template.HTML(w.String())
}
