package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// Search result limits.
const (
	searchHosts   = 50
	searchDrift   = 100
	searchTickets = 50
	searchItems   = 100
	// searchStates is the number of hosts whose current baseline search
	// reads for items.
	searchStates = 50
)

// searchQuery is a search as typed, read: "sshd_config on all hosts last
// week" is the term sshd_config, every host, the last seven days.
type searchQuery struct {
	terms []string
	// host is a host name or glob after "on"; empty for every host.
	host         string
	since, until time.Time
}

var (
	lastN     = regexp.MustCompile(`\b(?:last|past) (\d{1,3}) (hours?|days?|weeks?)\b`)
	onHost    = regexp.MustCompile(` on ([A-Za-z0-9*?._-]+) `)
	stopWords = map[string]bool{"all": true, "hosts": true, "host": true, "in": true, "the": true, "changes": true,
		"changed": true, "change": true, "of": true, "for": true, "to": true, "any": true, "every": true, "what": true, "since": true}
)

// parseSearch reads a search. Time phrases (today, yesterday, last week,
// this week, last month, last N hours/days/weeks) bound when the drift
// was seen; "on NAME" names a host ("on all hosts" is every host); the
// remaining words are terms every result must contain.
func parseSearch(q string, now time.Time, loc *time.Location) searchQuery {
	var sq searchQuery
	s := " " + strings.ToLower(strings.Join(strings.Fields(q), " ")) + " "
	today := dayStart(now, loc)
	cut := func(phrase string, since, until time.Time) {
		if strings.Contains(s, " "+phrase+" ") {
			s = strings.Replace(s, " "+phrase+" ", " ", 1)
			sq.since, sq.until = since, until
		}
	}
	if m := lastN.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		d := time.Duration(n) * time.Hour
		switch {
		case strings.HasPrefix(m[2], "day"):
			d *= 24
		case strings.HasPrefix(m[2], "week"):
			d *= 24 * 7
		}
		sq.since = now.Add(-d)
		s = strings.Replace(s, m[0], " ", 1)
	}
	cut("today", today, time.Time{})
	cut("yesterday", today.AddDate(0, 0, -1), today)
	cut("last week", now.AddDate(0, 0, -7), time.Time{})
	cut("this week", today.AddDate(0, 0, -int((today.Weekday()+6)%7)), time.Time{})
	cut("last month", now.AddDate(0, -1, 0), time.Time{})
	if m := onHost.FindStringSubmatch(s); m != nil && m[1] != "all" && m[1] != "every" && m[1] != "any" {
		sq.host = m[1]
		s = strings.Replace(s, m[0], " ", 1)
	}
	for _, w := range strings.Fields(s) {
		if w == "on" || stopWords[w] {
			continue
		}
		sq.terms = append(sq.terms, w)
	}
	return sq
}

// matchesAll reports whether s contains every term, in any case.
func matchesAll(s string, terms []string) bool {
	ls := strings.ToLower(s)
	for _, t := range terms {
		if !strings.Contains(ls, t) {
			return false
		}
	}
	return true
}

// search serves the search page: hosts, drift, tickets and items in the
// hosts' current baselines that match the query.
func (h *Handler) search(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	page := &reporter.SearchPage{Query: strings.TrimSpace(r.URL.Query().Get(reporter.FieldQuery))}
	if page.Query != "" {
		sq := parseSearch(page.Query, h.now(), h.loc(r.Context()))
		lk := h.lookup(ctx)
		if err := h.searchTenants(ctx, lk, tenants, sq, page); err != nil {
			return err
		}
	}
	page.Page = h.basePage(w, r, p, tenantID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Search(out, page) })
}

func (h *Handler) searchTenants(ctx context.Context, lk *lookup, tenants []store.Tenant, sq searchQuery, page *reporter.SearchPage) error {
	var items []tenantItem
	for _, t := range tenants {
		hs, _, err := lk.hostsOf(t.ID)
		if err != nil {
			return err
		}
		var scoped []store.Host
		for _, x := range hs {
			if sq.host == "" || wildcardFold(sq.host, x.Name) {
				scoped = append(scoped, x)
			}
		}
		if len(sq.terms) > 0 {
			for _, x := range scoped {
				if matchesAll(x.Name, sq.terms) {
					if len(page.Hosts) == searchHosts {
						page.Truncated = true
						break
					}
					page.Hosts = append(page.Hosts, hostSummary(x, t, reporter.DriftCounts{}, nil))
				}
			}
		}
		if len(scoped) == 0 {
			continue
		}
		f := store.DriftFilter{Since: sq.since, Until: sq.until, Limit: store.MaxPageSize}
		if len(sq.terms) > 0 {
			f.Key = "*" + sq.terms[0] + "*"
		}
		if sq.host != "" {
			for _, x := range scoped {
				f.HostIDs = append(f.HostIDs, x.ID)
			}
		}
		if len(sq.terms) > 0 || !sq.since.IsZero() {
			found, next, err := h.st.DriftItems(ctx, t.ID, f)
			if err != nil {
				return err
			}
			for _, di := range found {
				if matchesAll(di.Key, sq.terms) {
					items = append(items, tenantItem{di, t})
				}
			}
			if next != "" {
				page.Truncated = true
			}
		}
		if len(sq.terms) > 0 {
			if err := h.searchTickets(ctx, t, sq.terms, page); err != nil {
				return err
			}
			if err := h.searchStates(ctx, t, scoped, sq.terms, page); err != nil {
				return err
			}
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].di.ChangedAt.After(items[j].di.ChangedAt) })
	if len(items) > searchDrift {
		items, page.Truncated = items[:searchDrift], true
	}
	for _, x := range items {
		row, err := lk.driftRow(x.di, x.t)
		if err != nil {
			return err
		}
		page.Drift = append(page.Drift, row)
	}
	return nil
}

// searchTickets adds the tenant's tickets whose reference, title or
// description contains the terms.
func (h *Handler) searchTickets(ctx context.Context, t store.Tenant, terms []string, page *reporter.SearchPage) error {
	f := store.TicketFilter{Limit: store.MaxPageSize}
	for {
		ts, next, err := h.st.Tickets(ctx, t.ID, f)
		if err != nil {
			return err
		}
		for _, st := range ts {
			tk, err := decodeTicket(st)
			if err != nil {
				return err
			}
			if !matchesAll(tk.Reference+" "+tk.ID+" "+tk.Title+" "+tk.Description+" "+strings.Join(tk.Scope.Items, " "), terms) {
				continue
			}
			if len(page.Tickets) == searchTickets {
				page.Truncated = true
				return nil
			}
			page.Tickets = append(page.Tickets, reporter.TicketRow{Ticket: ticketRef(tk), Tenant: reporter.TenantRef{ID: t.ID, Name: t.Name},
				Origin: string(tk.Origin), Class: string(tk.Class), Requester: tk.Requester.Email, UpdatedAt: tk.UpdatedAt})
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

// searchStates adds the items of the hosts' current baselines whose key
// or an attribute contains the terms; it reads at most searchStates
// hosts' baselines.
func (h *Handler) searchStates(ctx context.Context, t store.Tenant, hosts []store.Host, terms []string, page *reporter.SearchPage) error {
	for i, x := range hosts {
		if len(page.Items) >= searchItems {
			page.Truncated = true
			return nil
		}
		if i == searchStates {
			page.Truncated = true
			return nil
		}
		if x.BaselineVersion == 0 {
			continue
		}
		_, snap, err := h.loadBaseline(ctx, t.ID, x.ID, 0)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for j := range snap.Items {
			it := &snap.Items[j]
			if hit, ok := itemHit(it, terms); ok {
				page.Items = append(page.Items, reporter.ItemHit{Host: hostRef(x, t), Key: it.Key, Snippet: hit})
				if len(page.Items) >= searchItems {
					break
				}
			}
		}
	}
	return nil
}

// itemHit reports whether an item's key or one of its attributes contains
// every term, with the attribute that did as the snippet.
func itemHit(it *baseline.Item, terms []string) (string, bool) {
	if matchesAll(it.Key, terms) {
		return "", true
	}
	for _, a := range it.Attrs {
		if s := a.Name + "=" + a.Value; matchesAll(it.Key+" "+s, terms) && matchesAll(s, terms[:1]) {
			return s, true
		}
	}
	return "", false
}
