package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// DriftChanges gives notifications the reconciled drift items of the
// store: a notify.ChangeSource and a notify.MetricsSource.
//
// A change is what a report showed: an item opening, or an open item
// modified again, at the time the collector received the report. Each
// carries the item's verdict, level, ticket, host and its diff as it
// stands now (an item keeps its latest state only), as the agent redacted
// it.
type DriftChanges struct {
	// Store is read; required.
	Store store.Store
	// Log gets what cannot be read of an item; nil logs nothing.
	Log *zap.Logger

	mu sync.Mutex
	// times caches, by tenant and item, when the reports that changed an
	// item modified again were received: its history only grows, so the
	// times hold while its ChangedAt does. Each call keeps the entries of
	// the items it saw.
	times map[string]map[string]itemTimes
}

// itemTimes are the change times of an item whose latest change was at
// changedAt.
type itemTimes struct {
	changedAt time.Time
	times     []time.Time
}

func (d *DriftChanges) log() *zap.Logger {
	if d.Log == nil {
		return zap.NewNop()
	}
	return d.Log
}

// Changes returns the tenant's changes received in w.
func (d *DriftChanges) Changes(ctx context.Context, tenantID string, w notify.Window) ([]notify.Change, error) {
	hosts, err := d.Store.Hosts(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("changes of tenant %s: %w", tenantID, err)
	}
	names := make(map[string]string, len(hosts))
	for _, h := range hosts {
		names[h.ID] = h.Name
	}
	tickets := map[string]store.Ticket{}
	seen := map[string]itemTimes{}
	defer d.keepTimes(tenantID, seen)
	var out []notify.Change
	cursor := ""
	for {
		// ChangedAt is an item's latest change: an item with a change in
		// w has its latest at or after w's start.
		page, next, err := d.Store.DriftItems(ctx, tenantID, store.DriftFilter{Since: w.Start, Limit: store.MaxPageSize, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("changes of tenant %s: %w", tenantID, err)
		}
		for _, di := range page {
			times, err := d.changeTimes(ctx, tenantID, di, seen)
			if err != nil {
				return nil, err
			}
			var base *notify.Change
			for _, at := range times {
				if !w.Contains(at) {
					continue
				}
				if base == nil {
					c, err := d.change(ctx, tenantID, di, names, tickets)
					if err != nil {
						return nil, err
					}
					base = &c
				}
				c := *base
				c.At = at
				out = append(out, c)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// changeTimes returns when the reports that opened or modified an item
// were received, oldest first, and records them in seen.
func (d *DriftChanges) changeTimes(ctx context.Context, tenantID string, di store.DriftItem, seen map[string]itemTimes) ([]time.Time, error) {
	if !di.ChangedAt.After(di.FirstSeen) {
		return []time.Time{di.FirstSeen}, nil
	}
	d.mu.Lock()
	cached, ok := d.times[tenantID][di.ID]
	d.mu.Unlock()
	if ok && cached.changedAt.Equal(di.ChangedAt) {
		seen[di.ID] = cached
		return cached.times, nil
	}
	evs, err := d.Store.DriftHistory(ctx, tenantID, di.ID)
	if err != nil {
		return nil, fmt.Errorf("history of drift item %s: %w", di.ID, err)
	}
	var out []time.Time
	for _, e := range evs {
		if e.Event == store.DriftEventOpened || e.Event == store.DriftEventModified {
			out = append(out, e.At)
		}
	}
	if len(out) == 0 {
		out = []time.Time{di.FirstSeen}
	}
	seen[di.ID] = itemTimes{changedAt: di.ChangedAt, times: out}
	return out, nil
}

// keepTimes makes seen the cached change times of a tenant's items.
func (d *DriftChanges) keepTimes(tenantID string, seen map[string]itemTimes) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.times == nil {
		d.times = map[string]map[string]itemTimes{}
	}
	if len(seen) == 0 {
		delete(d.times, tenantID)
		return
	}
	d.times[tenantID] = seen
}

// change is a drift item as notifications show it.
func (d *DriftChanges) change(ctx context.Context, tenantID string, di store.DriftItem, names map[string]string, tickets map[string]store.Ticket) (notify.Change, error) {
	c := notify.Change{
		ID: di.ID, HostID: di.HostID, Host: names[di.HostID], Key: di.Key, Kind: string(di.Change),
		Verdict: di.Verdict, Level: di.Level, StandardChange: reconcile.IsStandardChange(di.Verdict, di.VerdictReason),
	}
	if c.Host == "" {
		c.Host = di.HostID
	}
	var bc baseline.Change
	if err := json.Unmarshal(di.ChangeDoc, &bc); err != nil {
		d.log().Warn("drift item's change unreadable; notified without its details", zap.String("drift_id", di.ID), zap.Error(err))
		c.Note = "The details of this change could not be read; see the web report."
	} else {
		c.Summary = changeSummary(&bc)
		c.Diff, c.Note = bc.ContentDiff, bc.Note
		if bc.Redacted && c.Note == "" {
			c.Note = "Secrets in this content were redacted on the host."
		}
	}
	switch {
	case len(di.Tickets) > 0:
		id := di.Tickets[0]
		tk, ok := tickets[id]
		if !ok {
			var err error
			tk, err = d.Store.Ticket(ctx, tenantID, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				tk = store.Ticket{ID: id}
			case err != nil:
				return notify.Change{}, fmt.Errorf("ticket %s of drift item %s: %w", id, di.ID, err)
			}
			tickets[id] = tk
		}
		c.Ticket, c.TicketRef, c.TicketTitle = tk.ID, tk.Reference, tk.Title
	case di.TicketRef != "":
		c.TicketRef = di.TicketRef
	}
	return c, nil
}

// maxSummary bounds a change's summary, in bytes.
const maxSummary = 240

// changeSummary says what changed for people: the changed line of a
// one-line edit ("PermitRootLogin no → yes") or the count of lines, and
// the attributes that changed ("mode 0644 → 0600"). The content digest,
// size and time stand for the content, which the diff shows. Added and
// removed items have none: the change itself says it.
func changeSummary(c *baseline.Change) string {
	if c.Change != baseline.Modified {
		return ""
	}
	var parts []string
	if s := diffSummary(c.ContentDiff); s != "" {
		parts = append(parts, s)
	}
	names := make([]string, 0, len(c.Attrs))
	for n := range c.Attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		switch n {
		case "sha256", baseline.AttrSize, baseline.AttrMtime:
			continue
		}
		a := c.Attrs[n]
		parts = append(parts, n+" "+dashIfEmpty(a.Old)+" → "+dashIfEmpty(a.New))
	}
	return clipSummary(strings.Join(parts, "; "), maxSummary)
}

// diffSummary summarizes a unified diff: "old → new" for one line
// replaced, the line for one added or removed, else the counts.
func diffSummary(diff string) string {
	if diff == "" {
		return ""
	}
	var added, removed []string
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			added = append(added, strings.TrimSpace(l[1:]))
		case strings.HasPrefix(l, "-"):
			removed = append(removed, strings.TrimSpace(l[1:]))
		}
	}
	switch {
	case len(added) == 1 && len(removed) == 1:
		return replacedLine(removed[0], added[0])
	case len(added) == 1 && len(removed) == 0:
		return "added: " + added[0]
	case len(added) == 0 && len(removed) == 1:
		return "removed: " + removed[0]
	case len(added)+len(removed) == 0:
		return ""
	}
	return lineCount(len(added)) + " added, " + lineCount(len(removed)) + " removed"
}

// replacedLine writes a line replaced by another, the words they start with
// once: "PermitRootLogin no → yes".
func replacedLine(old, new string) string {
	a, b := strings.Fields(old), strings.Fields(new)
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	if k == 0 || k == len(a) || k == len(b) {
		return old + " → " + new
	}
	return strings.Join(a[:k], " ") + " " + strings.Join(a[k:], " ") + " → " + strings.Join(b[k:], " ")
}

func lineCount(n int) string {
	if n == 1 {
		return "1 line"
	}
	return strconv.Itoa(n) + " lines"
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// clipSummary cuts s to at most n bytes at a character boundary, marking
// the cut.
func clipSummary(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// DigestMetrics returns a tenant's figures for w: the changes first seen
// in it and how many were authorized, the mean time to resolve, the
// level 3 items awaiting a decision now, and the tickets implemented in
// w.
func (d *DriftChanges) DigestMetrics(ctx context.Context, tenantID string, w notify.Window) (notify.Metrics, error) {
	var m notify.Metrics
	if !w.End.After(w.Start) {
		return m, nil
	}
	rm, err := (&changes.Manager{Store: d.Store, Log: d.Log}).Metrics(ctx, tenantID, w.Start, w.End)
	if err != nil {
		return m, fmt.Errorf("metrics of tenant %s: %w", tenantID, err)
	}
	m.Observed, m.Authorized, m.MTTR = rm.Observed, rm.Authorized, time.Duration(rm.MTTR)
	counts, err := d.Store.DriftCounts(ctx, tenantID)
	if err != nil {
		return m, fmt.Errorf("metrics of tenant %s: %w", tenantID, err)
	}
	for _, c := range counts {
		if c.Level == 3 {
			m.OpenLevel3 += c.Count
		}
	}
	m.TicketsImplemented, err = d.implemented(ctx, tenantID, w)
	return m, err
}

// implemented counts the tickets that moved to implemented in w.
func (d *DriftChanges) implemented(ctx context.Context, tenantID string, w notify.Window) (int, error) {
	n := 0
	cursor := ""
	for {
		page, next, err := d.Store.Tickets(ctx, tenantID, store.TicketFilter{
			States: []string{string(ticket.Implemented), string(ticket.Documented)}, UpdatedSince: w.Start,
			Limit: store.MaxPageSize, Cursor: cursor,
		})
		if err != nil {
			return 0, fmt.Errorf("implemented tickets of tenant %s: %w", tenantID, err)
		}
		for _, t := range page {
			trs, err := d.Store.TicketTransitions(ctx, tenantID, t.ID)
			if err != nil {
				return 0, fmt.Errorf("transitions of ticket %s: %w", t.ID, err)
			}
			for _, tr := range trs {
				if tr.To == string(ticket.Implemented) && w.Contains(tr.At) {
					n++
					break
				}
			}
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}
