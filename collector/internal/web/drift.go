package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile/pattern"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/reporter"
)

// inboxPageSize is the number of drift items the inbox shows at once.
const inboxPageSize = 50

// inbox serves the drift inbox: the most urgent first (level 3 and
// unauthorized first), filtered, a page at a time.
func (h *Handler) inbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	page := &reporter.InboxPage{Total: -1}
	f, ferr := reporter.ParseInboxFilter(r.URL.Query())
	f.TenantID = tenantID
	page.Filter = f
	status := http.StatusOK
	if ferr != nil {
		page.FilterError, status = ferr.Error(), http.StatusBadRequest
	} else {
		lk := h.lookup(r.Context())
		page.Rows, page.NextCursor, err = h.inboxRows(r.Context(), lk, tenants, f, r.URL.Query().Get(reporter.FieldCursor), inboxPageSize)
		if err != nil {
			return err
		}
	}
	page.Page = h.basePage(w, r, p, tenantID)
	return h.write(w, status, func(out io.Writer) error { return h.r.Inbox(out, page) })
}

// tenantItem is a drift item with its tenant.
type tenantItem struct {
	di store.DriftItem
	t  store.Tenant
}

// inboxRows lists n drift items of the tenants in inbox order after the
// cursor. The order (priority, time first seen in this state, ID) is one
// order across tenants, so one cursor pages them all: each tenant's page
// after the cursor, merged.
func (h *Handler) inboxRows(ctx context.Context, lk *lookup, tenants []store.Tenant, f reporter.InboxFilter, cursor string, n int) ([]reporter.DriftRow, string, error) {
	if cursor != "" {
		if _, err := store.ParseDriftCursor(cursor); err != nil {
			return nil, "", badRequest("The page cursor is not valid; go back to the first page.")
		}
	}
	// Each tenant's page, and its hosts for the rows' names, are read at
	// once.
	pages := make([][]store.DriftItem, len(tenants))
	nexts := make([]string, len(tenants))
	var tasks []func() error
	for i, t := range tenants {
		tasks = append(tasks, func() error {
			df, none, err := h.driftFilter(lk, t, f)
			if err != nil || none {
				return err
			}
			df.Cursor, df.Limit = cursor, n
			pages[i], nexts[i], err = h.st.DriftItems(ctx, t.ID, df)
			if errors.Is(err, store.ErrInvalid) {
				return badRequest("The filter is not valid: " + err.Error())
			}
			return err
		}, func() error {
			_, _, err := lk.hostsOf(t.ID)
			return err
		})
	}
	if err := parallel(tasks...); err != nil {
		return nil, "", err
	}
	var all []tenantItem
	more := false
	for i, t := range tenants {
		more = more || nexts[i] != ""
		for _, di := range pages[i] {
			all = append(all, tenantItem{di, t})
		}
	}
	sort.Slice(all, func(i, j int) bool { return inboxBefore(all[i].di, all[j].di) })
	if len(all) > n {
		all, more = all[:n], true
	}
	rows := make([]reporter.DriftRow, 0, len(all))
	for _, x := range all {
		row, err := lk.driftRow(x.di, x.t)
		if err != nil {
			return nil, "", err
		}
		rows = append(rows, row)
	}
	next := ""
	if more && len(all) > 0 {
		last := all[len(all)-1].di
		next = store.DriftCursor{Priority: store.DriftPriority(last.Verdict, last.Level), ChangedAt: last.ChangedAt, ID: last.ID}.String()
	}
	return rows, next, nil
}

// inboxBefore is the inbox order: as store.Tickets.DriftItems lists.
func inboxBefore(a, b store.DriftItem) bool {
	pa, pb := store.DriftPriority(a.Verdict, a.Level), store.DriftPriority(b.Verdict, b.Level)
	if pa != pb {
		return pa > pb
	}
	if !a.ChangedAt.Equal(b.ChangedAt) {
		return a.ChangedAt.After(b.ChangedAt)
	}
	return a.ID > b.ID
}

// driftFilter is the store's filter of an inbox filter in a tenant; none
// is true when no host of the tenant matches its host or label.
func (h *Handler) driftFilter(lk *lookup, t store.Tenant, f reporter.InboxFilter) (store.DriftFilter, bool, error) {
	df := store.DriftFilter{Statuses: storeStatuses(f.Status)}
	if f.Host != "" || f.Label != "" {
		hs, _, err := lk.hostsOf(t.ID)
		if err != nil {
			return df, false, err
		}
		lk, lv, _ := strings.Cut(f.Label, "=")
		for _, x := range hs {
			if f.Host != "" && !wildcardFold(f.Host, x.Name) {
				continue
			}
			if f.Label != "" && x.Labels[strings.TrimSpace(lk)] != strings.TrimSpace(lv) {
				continue
			}
			df.HostIDs = append(df.HostIDs, x.ID)
		}
		if len(df.HostIDs) == 0 {
			return df, true, nil
		}
	}
	for _, l := range f.Levels {
		df.Levels = append(df.Levels, int(l))
	}
	for _, v := range f.Verdicts {
		df.Verdicts = append(df.Verdicts, string(v))
	}
	df.Key = itemPattern(f.Item)
	df.Since, df.Until = f.Range(h.loc(lk.ctx))
	return df, false, nil
}

// itemPattern is the store's key pattern of the inbox's item field: a
// whole key ("file:/etc/hosts"), a pattern with "*", or a part of a key
// ("sshd_config").
func itemPattern(s string) string {
	if s == "" || strings.Contains(s, "*") || strings.Contains(s, ":") {
		return s
	}
	return "*" + s + "*"
}

// wildcardFold reports whether s matches pat, where "*" matches any run of
// characters and case does not matter.
func wildcardFold(pat, s string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(pat) {
		if strings.ContainsRune(`?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return pattern.MatchGlob(b.String(), strings.ToLower(s))
}

// findDrift finds a drift item the user may see.
func (h *Handler) findDrift(r *http.Request, p *principal) (store.DriftItem, store.Tenant, error) {
	return searchTenants(r, p, func(ctx context.Context, tenantID string) (store.DriftItem, error) {
		return h.st.DriftItem(ctx, tenantID, r.PathValue("id"))
	})
}

// drift serves a drift item's page.
func (h *Handler) drift(w http.ResponseWriter, r *http.Request, p *principal) error {
	di, t, err := h.findDrift(r, p)
	if err != nil {
		return err
	}
	return h.renderDrift(w, r, p, di, t, reporter.FormState{}, http.StatusOK)
}

// maxRollbackContent is the largest baseline content the drift page shows.
const maxRollbackContent = 256 << 10

// openStates are the states of tickets the link form offers.
var openStates = []string{string(ticket.Draft), string(ticket.Submitted), string(ticket.Reviewed), string(ticket.Approved), string(ticket.Implementing)}

// driftActions are what the user may do about an item now.
func driftActions(p *principal, di store.DriftItem) reporter.DriftActions {
	can := store.CanResolve(di.Status, di.Current)
	outstanding := di.Current && (di.Status == store.DriftOpen || di.Status == store.DriftRevertRequested)
	return reporter.DriftActions{
		Accept: can && p.atLeast(store.RoleApprover),
		Link:   outstanding && p.atLeast(store.RoleEngineer),
		Revert: can && di.Status != store.DriftRevertRequested && p.atLeast(store.RoleEngineer),
	}
}

func (h *Handler) renderDrift(w http.ResponseWriter, r *http.Request, p *principal, di store.DriftItem, t store.Tenant, form reporter.FormState, status int) error {
	ctx := r.Context()
	lk := h.lookup(ctx)
	row, err := lk.driftRow(di, t)
	if err != nil {
		return err
	}
	c, err := change(di)
	if err != nil {
		return err
	}
	page := &reporter.DriftPage{Item: row, Change: c, View: reporter.ViewUnified, Form: form, TakenAt: di.ChangedAt,
		Actions: driftActions(p, di)}
	if r.URL.Query().Get(reporter.FieldView) == reporter.ViewSplit {
		page.View = reporter.ViewSplit
	}
	_, hosts, err := lk.hostsOf(t.ID)
	if err != nil {
		return err
	}
	hs := hosts[di.HostID]
	if di.Current {
		if rep, err := h.st.LatestReport(ctx, t.ID, di.HostID); err == nil && len(rep.Drift) > 0 {
			var head struct {
				BaselineVersion int       `json:"baseline_version"`
				TakenAt         time.Time `json:"taken_at"`
			}
			if json.Unmarshal(rep.Drift, &head) == nil {
				page.BaselineVersion, page.TakenAt = head.BaselineVersion, head.TakenAt
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if page.BaselineVersion == 0 {
		page.BaselineVersion = hs.BaselineVersion
	}
	if page.Matches, err = h.matches(ctx, lk, t, hs, di); err != nil {
		return err
	}
	if page.Actions.Any() {
		tks, _, err := h.st.Tickets(ctx, t.ID, store.TicketFilter{States: openStates, Limit: 200})
		if err != nil {
			return err
		}
		for _, st := range tks {
			page.Tickets = append(page.Tickets, reporter.TicketRef{ID: st.ID, Ref: st.Reference, Title: st.Title, State: reporter.TicketState(st.State)})
		}
	}
	if c.Old != nil && !c.Old.Content.IsZero() {
		b, err := h.st.Blob(ctx, t.ID, c.Old.Content)
		switch {
		case err == nil && len(b) <= maxRollbackContent && utf8.Valid(b):
			page.RollbackContent, page.HasRollbackContent = string(b), true
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	hist, err := h.st.DriftHistory(ctx, t.ID, di.ID)
	if err != nil {
		return err
	}
	for _, e := range hist {
		page.History = append(page.History, driftEvent(e))
	}
	page.Page = h.basePage(w, r, p, t.ID)
	return h.write(w, status, func(out io.Writer) error { return h.r.Drift(out, page) })
}

// driftEvent is one entry of a drift item's history for its page.
func driftEvent(e store.DriftEvent) reporter.DriftEvent {
	what := e.Event
	switch e.Event {
	case store.DriftEventOpened:
		what = "first seen"
	case store.DriftEventModified:
		what = "changed again"
	case store.DriftEventReverted:
		what = "back to its baseline state"
	case store.DriftEventCleared:
		what = "no longer drifts"
	case store.DriftEventSuperseded:
		what = "changed into another state (a new item)"
	case store.DriftEventVerdict:
		what = fmt.Sprintf("verdict %s, level %d", reporter.Verdict(e.ToVerdict).Label(), e.ToLevel)
		if e.FromVerdict != "" {
			what = fmt.Sprintf("verdict %s → %s, level %d → %d", reporter.Verdict(e.FromVerdict).Label(),
				reporter.Verdict(e.ToVerdict).Label(), e.FromLevel, e.ToLevel)
		}
	case store.DriftEventResolved:
		what = driftStatus(e.ToStatus).Label()
		if e.ToStatus == store.DriftPromoted {
			what = "accepted into the baseline"
		}
	}
	if e.ReportSeq > 0 {
		what += fmt.Sprintf(" (report %d)", e.ReportSeq)
	}
	actor := e.Actor
	if actor == "" {
		actor = "collector"
	}
	return reporter.DriftEvent{At: e.At, Actor: actor, Action: what, Reason: e.Reason}
}

// matches explains which tickets cover the item and why, by evaluating it
// against the tenant's tickets and policy now.
func (h *Handler) matches(ctx context.Context, lk *lookup, t store.Tenant, hs store.Host, di store.DriftItem) ([]reporter.TicketMatch, error) {
	pol, _, err := h.changes.Policy(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	stored, err := h.st.OpenTickets(ctx, t.ID, h.now().AddDate(0, 0, -30))
	if err != nil {
		return nil, err
	}
	tks := make([]*ticket.Ticket, 0, len(stored))
	for _, st := range stored {
		if tk, err := decodeTicket(st); err == nil {
			tks = append(tks, tk)
		}
	}
	eng, err := reconcile.New(t.ID, pol, tks)
	if err != nil {
		return nil, err
	}
	it := reconcile.Item{ID: di.ID, Host: reconcile.Host{Name: hs.Name, Labels: hs.Labels}, Key: di.Key, Change: di.Change, ObservedAt: di.ChangedAt}
	if c, err := change(di); err == nil {
		for n := range c.Attrs {
			it.Attrs = append(it.Attrs, n)
		}
		slices.Sort(it.Attrs)
	}
	res := eng.Evaluate(it)
	var out []reporter.TicketMatch
	for _, m := range res.Matches {
		ref := reporter.TicketRef{ID: m.Ticket, Ref: m.Reference, State: reporter.TicketState(m.State)}
		if tk, err := lk.ticket(t.ID, m.Ticket); err != nil {
			return nil, err
		} else if tk != nil {
			ref = ticketRef(tk)
		}
		var reasons []string
		for _, s := range []string{m.Host, "item pattern " + m.Pattern, m.Reason} {
			if s != "" && s != "item pattern " {
				reasons = append(reasons, s)
			}
		}
		out = append(out, reporter.TicketMatch{Ticket: ref, Verdict: reporter.Verdict(m.Verdict), Chosen: m.Ticket == res.Ticket, Reasons: reasons})
	}
	return out, nil
}

// driftForm reads a drift action's form; errors are by field.
func driftForm(r *http.Request, action string, needTicket bool) reporter.FormState {
	fs := reporter.FormState{Action: action, Values: map[string]string{}, Errors: map[string]string{}}
	reason := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get(reporter.FieldReason), "\r\n", "\n"))
	ref := strings.TrimSpace(r.PostForm.Get(reporter.FieldTicket))
	fs.Values[reporter.FieldReason], fs.Values[reporter.FieldTicket] = reason, ref
	switch {
	case reason == "":
		fs.Errors[reporter.FieldReason] = "Say why."
	case utf8.RuneCountInString(reason) > ticket.MaxText:
		fs.Errors[reporter.FieldReason] = "The reason is too long."
	}
	switch {
	case ref == "" && needTicket:
		fs.Errors[reporter.FieldTicket] = "Name the ticket, by its reference or ID."
	case len(ref) > 64 || strings.ContainsAny(ref, " \t\r\n"):
		fs.Errors[reporter.FieldTicket] = "A ticket reference is one word of at most 64 characters, e.g. CHG0030001."
	}
	return fs
}

// driftAccept accepts a change into its host's baseline.
func (h *Handler) driftAccept(w http.ResponseWriter, r *http.Request, p *principal) error {
	di, t, err := h.findDrift(r, p)
	if err != nil {
		return err
	}
	if !driftActions(p, di).Accept {
		return h.refuseDrift(w, r, p, di, t, "accept", "Accepting a change into the baseline needs the approver or admin role.")
	}
	fs := driftForm(r, "accept", false)
	ref := fs.Values[reporter.FieldTicket]
	if ref != "" && len(fs.Errors) == 0 {
		tk, err := h.lookup(r.Context()).ticket(t.ID, ref)
		if err != nil {
			return err
		}
		if tk != nil {
			ref = tk.Name()
		}
	}
	if len(fs.Errors) > 0 {
		return h.renderDrift(w, r, p, di, t, fs, http.StatusUnprocessableEntity)
	}
	ps, err := h.changes.Accept(r.Context(), t.ID, []string{di.ID}, p.user.Email, fs.Values[reporter.FieldReason], ref)
	h.changed(t.ID)
	if err != nil {
		return h.driftFailed(w, r, p, di, t, fs, err)
	}
	msg := "Accepted."
	if len(ps) > 0 {
		msg = fmt.Sprintf("Accepted into the baseline of %s: it is now v%d.", ps[0].Host, ps[0].Version)
	}
	h.flash(w, r, reporter.FlashSuccess, msg)
	return h.see(w, r, h.links.Drift(di.ID))
}

// driftRevert marks a change to be rolled back.
func (h *Handler) driftRevert(w http.ResponseWriter, r *http.Request, p *principal) error {
	di, t, err := h.findDrift(r, p)
	if err != nil {
		return err
	}
	if !driftActions(p, di).Revert {
		return h.refuseDrift(w, r, p, di, t, "revert", "Marking a change for revert needs the engineer role or above.")
	}
	fs := driftForm(r, "revert", false)
	delete(fs.Errors, reporter.FieldTicket)
	if len(fs.Errors) > 0 {
		return h.renderDrift(w, r, p, di, t, fs, http.StatusUnprocessableEntity)
	}
	_, err = h.changes.RequestRevert(r.Context(), t.ID, []string{di.ID}, p.user.Email, fs.Values[reporter.FieldReason])
	h.changed(t.ID)
	if err != nil {
		return h.driftFailed(w, r, p, di, t, fs, err)
	}
	h.flash(w, r, reporter.FlashSuccess, "Marked for revert. The item resolves when the host is back as its baseline has it.")
	return h.see(w, r, h.links.Drift(di.ID))
}

// refuseDrift answers an action the user may not take: 403 when the
// role does not allow it, 409 when the item's state no longer does.
func (h *Handler) refuseDrift(w http.ResponseWriter, r *http.Request, p *principal, di store.DriftItem, t store.Tenant, action, roleMsg string) error {
	if !p.atLeast(store.RoleEngineer) || (action == "accept" && !p.atLeast(store.RoleApprover)) {
		return forbidden(roleMsg)
	}
	fs := reporter.FormState{Action: action, Errors: map[string]string{reporter.FieldReason: fmt.Sprintf("The item is %s now; this can no longer be done.", strings.ToLower(driftStatus(di.Status).Label()))}}
	return h.renderDrift(w, r, p, di, t, fs, http.StatusConflict)
}

// driftFailed answers a drift action that changes.Manager refused.
func (h *Handler) driftFailed(w http.ResponseWriter, r *http.Request, p *principal, di store.DriftItem, t store.Tenant, fs reporter.FormState, err error) error {
	status, field, msg := http.StatusUnprocessableEntity, reporter.FieldReason, ""
	var ae *ticket.ActionError
	var ve *policy.ValidationError
	switch {
	case errors.As(err, &ae):
		msg = ae.Reason
		if errors.Is(err, ticket.ErrForbidden) {
			status = http.StatusForbidden
		} else {
			status = http.StatusConflict
		}
	case errors.As(err, &ve):
		msg = ve.Error()
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, "The item changed meanwhile and can no longer be resolved this way; reload the page."
	case errors.Is(err, store.ErrInvalid):
		msg = err.Error()
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusConflict, "The host has no baseline to accept the change into; approve its first baseline with the agent."
	default:
		return err
	}
	if fs.Errors == nil {
		fs.Errors = map[string]string{}
	}
	if fs.Action == "link" {
		field = reporter.FieldTicket
	}
	fs.Errors[field] = msg
	if current, err := h.st.DriftItem(r.Context(), t.ID, di.ID); err == nil {
		di = current
	}
	return h.renderDrift(w, r, p, di, t, fs, status)
}

// driftLink links a change to a ticket: the ticket's scope is amended to
// cover the host and the item (which sends an approved ticket back for
// review, as every change of scope does), and the tenant's drift is
// reconciled again.
func (h *Handler) driftLink(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	di, t, err := h.findDrift(r, p)
	if err != nil {
		return err
	}
	if !driftActions(p, di).Link {
		return h.refuseDrift(w, r, p, di, t, "link", "Linking a ticket needs the engineer role or above.")
	}
	fs := driftForm(r, "link", true)
	if len(fs.Errors) > 0 {
		return h.renderDrift(w, r, p, di, t, fs, http.StatusUnprocessableEntity)
	}
	lk := h.lookup(ctx)
	tk, err := lk.ticket(t.ID, fs.Values[reporter.FieldTicket])
	if err != nil {
		return err
	}
	if tk == nil {
		fs.Errors[reporter.FieldTicket] = "This tenant has no ticket " + fs.Values[reporter.FieldTicket] + "."
		return h.renderDrift(w, r, p, di, t, fs, http.StatusUnprocessableEntity)
	}
	l, err := h.changes.Amend(ctx, t.ID, tk.ID, di.ID, p.actor(), fs.Values[reporter.FieldReason])
	h.changed(t.ID)
	name := tk.Name()
	switch {
	case err != nil && l.Ticket == nil:
		return h.driftFailed(w, r, p, di, t, fs, err)
	case err != nil:
		return err
	}
	msg := fmt.Sprintf("Ticket %s already covers this change; the verdict was decided again.", name)
	if l.Amended {
		msg = fmt.Sprintf("Ticket %s now covers %s on %s.", name, di.Key, l.HostName)
		if l.Ticket.State != l.Before {
			msg += fmt.Sprintf(" Its scope changed, so it went back from %s to %s and needs review and approval again.", l.Before, l.Ticket.State)
		}
	}
	h.flash(w, r, reporter.FlashSuccess, msg)
	return h.see(w, r, h.links.Drift(di.ID))
}

// changeSummary says what changed for people, in one line: the
// attributes that differ and the size of the content diff.
func changeSummary(c baseline.Change) string {
	var parts []string
	names := make([]string, 0, len(c.Attrs))
	for n := range c.Attrs {
		if n != baseline.AttrSHA256 && !baseline.IsInformational(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		a := c.Attrs[n]
		switch {
		case c.Change == baseline.Added:
			parts = append(parts, n+" "+oneLine(a.New))
		case c.Change == baseline.Removed:
			parts = append(parts, n+" was "+oneLine(a.Old))
		default:
			parts = append(parts, n+" "+oneLine(a.Old)+" → "+oneLine(a.New))
		}
		if len(parts) == 4 {
			break
		}
	}
	if c.ContentDiff != "" {
		add, del := 0, 0
		for _, l := range strings.Split(c.ContentDiff, "\n") {
			switch {
			case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			case strings.HasPrefix(l, "+"):
				add++
			case strings.HasPrefix(l, "-"):
				del++
			}
		}
		parts = append(parts, fmt.Sprintf("content +%d −%d lines", add, del))
	} else if c.Note != "" {
		parts = append(parts, c.Note)
	}
	return strings.Join(parts, "; ")
}

// oneLine shortens a value for a summary.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:59]) + "…"
	}
	if s == "" {
		return `""`
	}
	return s
}
