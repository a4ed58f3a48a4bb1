package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// The change log reads at most changeLogMax changes of a period (the CSV
// export csvMax), and shows changeLogPageSize at a time.
const (
	changeLogMax      = 5000
	csvMax            = 100000
	changeLogPageSize = 200
	defaultPeriodDays = 7
)

// period reads a page's from and to dates ("2006-01-02", in the pages'
// zone): the first and last day shown, the last days days when empty.
func (h *Handler) period(r *http.Request, days int) (from, to string, start, end time.Time, err error) {
	loc := h.loc(r.Context())
	q := r.URL.Query()
	from, to = strings.TrimSpace(q.Get(reporter.FieldFrom)), strings.TrimSpace(q.Get(reporter.FieldTo))
	today := dayStart(h.now(), loc)
	if to == "" {
		to = today.Format(time.DateOnly)
	}
	endDay, err := time.ParseInLocation(time.DateOnly, to, loc)
	if err != nil {
		return "", "", time.Time{}, time.Time{}, badRequest(fmt.Sprintf("to %q: give a date as 2006-01-02", to))
	}
	if from == "" {
		from = endDay.AddDate(0, 0, -(days - 1)).Format(time.DateOnly)
	}
	start, err = time.ParseInLocation(time.DateOnly, from, loc)
	if err != nil {
		return "", "", time.Time{}, time.Time{}, badRequest(fmt.Sprintf("from %q: give a date as 2006-01-02", from))
	}
	end = endDay.AddDate(0, 0, 1)
	if !end.After(start) {
		return "", "", time.Time{}, time.Time{}, badRequest(fmt.Sprintf("to %s is before from %s", to, from))
	}
	return from, to, start, end, nil
}

// periodItems reads the drift items of the tenants that changed in
// [start, end), at most max of them, the newest first; truncated says
// there were more.
func (h *Handler) periodItems(ctx context.Context, tenants []store.Tenant, start, end time.Time, max int) ([]tenantItem, bool, error) {
	var all []tenantItem
	for _, t := range tenants {
		f := store.DriftFilter{Since: start, Until: end, Limit: store.MaxPageSize}
		for {
			page, next, err := h.st.DriftItems(ctx, t.ID, f)
			if err != nil {
				return nil, false, err
			}
			for _, di := range page {
				all = append(all, tenantItem{di, t})
			}
			if next == "" || len(all) > max {
				break
			}
			f.Cursor = next
		}
		if len(all) > max {
			break
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].di, all[j].di
		if !a.ChangedAt.Equal(b.ChangedAt) {
			return a.ChangedAt.After(b.ChangedAt)
		}
		return a.ID > b.ID
	})
	truncated := len(all) > max
	if truncated {
		all = all[:max]
	}
	return all, truncated, nil
}

// changeLogEntry is a change in the change log's columns: time, what
// changed, ticket, owner, who needs to know, notes.
func (lk *lookup) changeLogEntry(x tenantItem) (reporter.ChangeLogEntry, error) {
	di := x.di
	_, hosts, err := lk.hostsOf(x.t.ID)
	if err != nil {
		return reporter.ChangeLogEntry{}, err
	}
	hs, ok := hosts[di.HostID]
	if !ok {
		hs = store.Host{ID: di.HostID, Name: di.HostID}
	}
	e := reporter.ChangeLogEntry{At: di.ChangedAt, Host: hostRef(hs, x.t), Key: di.Key, Change: di.Change,
		Verdict: reporter.Verdict(di.Verdict), DriftID: di.ID}
	if c, err := change(di); err == nil {
		e.Summary = changeSummary(c)
	}
	if e.Ticket, err = lk.itemTicket(di); err != nil {
		return e, err
	}
	if e.Ticket != nil && e.Ticket.ID != "" {
		if tk, err := lk.ticket(x.t.ID, e.Ticket.ID); err == nil && tk != nil {
			e.Owner, e.NeedsToKnow = tk.Requester.Email, tk.Notify
		}
	}
	var notes []string
	if di.ResolvedBy != "" {
		if e.Owner == "" {
			e.Owner = di.ResolvedBy
		}
		notes = append(notes, fmt.Sprintf("%s by %s: %s", driftStatus(di.Status).Label(), di.ResolvedBy, di.Reason))
	} else if di.Status == store.DriftReverted {
		notes = append(notes, "Back to its baseline state.")
	}
	// An authorized change's reason is noted when a CI deployment decided
	// it: it names the commit.
	if di.VerdictReason != "" && (di.Verdict != store.VerdictAuthorized || strings.Contains(di.VerdictReason, reconcile.DeploymentMarker)) {
		notes = append(notes, di.VerdictReason)
	}
	e.Notes = strings.Join(notes, "\n")
	return e, nil
}

// changeLog serves the change log of a period.
func (h *Handler) changeLog(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	from, to, start, end, err := h.period(r, defaultPeriodDays)
	if err != nil {
		return err
	}
	offset, err := offsetCursor(r.URL.Query().Get(reporter.FieldCursor))
	if err != nil {
		return err
	}
	items, truncated, err := h.periodItems(r.Context(), tenants, start, end, changeLogMax)
	if err != nil {
		return err
	}
	page := &reporter.ChangeLogPage{From: from, To: to}
	lk := h.lookup(r.Context())
	for i := offset; i < len(items) && i < offset+changeLogPageSize; i++ {
		e, err := lk.changeLogEntry(items[i])
		if err != nil {
			return err
		}
		page.Entries = append(page.Entries, e)
	}
	if offset+changeLogPageSize < len(items) {
		page.NextCursor = strconv.Itoa(offset + changeLogPageSize)
	}
	page.Page = h.basePage(w, r, p, tenantID)
	if truncated {
		page.Flashes = append(page.Flashes, reporter.Flash{Kind: reporter.FlashWarning,
			Message: fmt.Sprintf("The period has more than %d changes; only the newest %d are listed. Choose a shorter period, or download the CSV.", changeLogMax, changeLogMax)})
	}
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.ChangeLog(out, page) })
}

// changeLogCSV serves the change log of a period as CSV.
func (h *Handler) changeLogCSV(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	from, to, start, end, err := h.period(r, defaultPeriodDays)
	if err != nil {
		return err
	}
	items, truncated, err := h.periodItems(r.Context(), tenants, start, end, csvMax)
	if err != nil {
		return err
	}
	if truncated {
		return badRequest(fmt.Sprintf("The period has more than %d changes; export a shorter one.", csvMax))
	}
	lk := h.lookup(r.Context())
	entries := make([]reporter.ChangeLogEntry, 0, len(items))
	for _, x := range items {
		e, err := lk.changeLogEntry(x)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	name := "all-tenants"
	if tenantID != "" {
		name = fileSafe(tenants[0].Name)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="driftwatch-changes-%s-%s-to-%s.csv"`, name, from, to))
	return reporter.WriteChangeLogCSV(w, entries, h.loc(r.Context()))
}

// fileSafe reduces a name to characters safe in a file name.
func fileSafe(s string) string {
	out := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		case r == ' ':
			return '-'
		}
		return -1
	}, s)
	out = strings.Trim(out, ".-")
	if out == "" {
		return "tenant"
	}
	return out
}
