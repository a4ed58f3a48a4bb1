package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/reporter"
)

// ticketsPageSize is the number of tickets the list shows at once.
const ticketsPageSize = 50

// tenantTicket is a stored ticket with its decoded document and tenant.
type tenantTicket struct {
	st store.Ticket
	tk *ticket.Ticket
	t  store.Tenant
}

// tickets serves the ticket list.
func (h *Handler) tickets(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	f, err := reporter.ParseTicketFilter(r.URL.Query())
	if err != nil {
		return badRequest(err.Error())
	}
	f.TenantID = tenantID
	cursor := r.URL.Query().Get(reporter.FieldCursor)
	if cursor != "" {
		if _, err := store.ParseTicketCursor(cursor); err != nil {
			return badRequest("The page cursor is not valid; go back to the first page.")
		}
	}
	var all []tenantTicket
	more := false
	for _, t := range tenants {
		ts, m, err := h.tenantTickets(r.Context(), t, f, cursor, ticketsPageSize)
		if err != nil {
			return err
		}
		all, more = append(all, ts...), more || m
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].st, all[j].st
		if !a.UpdatedAt.Equal(b.UpdatedAt) {
			return a.UpdatedAt.After(b.UpdatedAt)
		}
		return a.ID > b.ID
	})
	if len(all) > ticketsPageSize {
		all, more = all[:ticketsPageSize], true
	}
	page := &reporter.TicketsPage{Filter: f, CanCreate: p.atLeast(store.RoleEngineer)}
	for _, x := range all {
		items, _, err := h.st.DriftItems(r.Context(), x.t.ID, store.DriftFilter{Ticket: x.st.ID, Limit: store.MaxPageSize})
		if err != nil {
			return err
		}
		row := reporter.TicketRow{Ticket: ticketRef(x.tk), Origin: string(x.tk.Origin), Class: string(x.tk.Class),
			Tenant: reporter.TenantRef{ID: x.t.ID, Name: x.t.Name}, Requester: x.tk.Requester.Email, UpdatedAt: x.st.UpdatedAt, Drift: len(items)}
		if x.tk.Window != nil {
			if start, end, err := x.tk.Window.Bounds(); err == nil {
				row.Window = reporter.TimeWindow{Start: start, End: end, TimeZone: x.tk.Window.TimeZone}
			}
		}
		page.Rows = append(page.Rows, row)
	}
	if more && len(all) > 0 {
		last := all[len(all)-1].st
		page.NextCursor = store.TicketCursor{UpdatedAt: last.UpdatedAt, ID: last.ID}.String()
	}
	page.Page = h.basePage(w, r, p, tenantID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Tickets(out, page) })
}

// tenantTickets returns up to n tickets of a tenant after the cursor that
// match the filter's text, and whether there may be more.
func (h *Handler) tenantTickets(ctx context.Context, t store.Tenant, f reporter.TicketFilter, cursor string, n int) ([]tenantTicket, bool, error) {
	sf := store.TicketFilter{Limit: n, Cursor: cursor}
	if f.State != "" {
		sf.States = []string{string(f.State)}
	}
	q := strings.ToLower(f.Query)
	var out []tenantTicket
	for {
		page, next, err := h.st.Tickets(ctx, t.ID, sf)
		if err != nil {
			return nil, false, err
		}
		for _, st := range page {
			tk, err := decodeTicket(st)
			if err != nil {
				return nil, false, err
			}
			if q != "" && !strings.Contains(strings.ToLower(tk.Reference+"\x00"+tk.Title+"\x00"+tk.Requester.Email+"\x00"+tk.ID), q) {
				continue
			}
			out = append(out, tenantTicket{st, tk, t})
			if len(out) == n {
				return out, true, nil
			}
		}
		if next == "" {
			return out, false, nil
		}
		sf.Cursor = next
	}
}

// findTicket finds a ticket the user may see, by ID in any of their
// tenants, else by reference.
func (h *Handler) findTicket(r *http.Request, p *principal, id string) (*ticket.Ticket, store.Tenant, error) {
	st, t, err := searchTenants(r, p, func(ctx context.Context, tenantID string) (store.Ticket, error) {
		return h.st.Ticket(ctx, tenantID, id)
	})
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusNotFound {
		st, t, err = searchTenants(r, p, func(ctx context.Context, tenantID string) (store.Ticket, error) {
			return h.st.TicketByReference(ctx, tenantID, id)
		})
	}
	if err != nil {
		return nil, store.Tenant{}, err
	}
	tk, err := decodeTicket(st)
	return tk, t, err
}

// ticketPage serves a ticket's page.
func (h *Handler) ticketPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	tk, t, err := h.findTicket(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.renderTicket(w, r, p, tk, t, reporter.FormState{}, http.StatusOK)
}

func (h *Handler) renderTicket(w http.ResponseWriter, r *http.Request, p *principal, tk *ticket.Ticket, t store.Tenant, form reporter.FormState, status int) error {
	ctx := r.Context()
	lk := h.lookup(ctx)
	hosts, _, err := lk.hostsOf(t.ID)
	if err != nil {
		return err
	}
	pol, _, err := h.changes.Policy(ctx, t.ID)
	if err != nil {
		return err
	}
	page := &reporter.TicketPage{Ticket: ticketView(tk, t, hosts), Transitions: transitions(tk),
		Actions: ticketActions(tk.Allowed(p.actor(), pol, h.now())), Form: form}
	items, _, err := h.st.DriftItems(ctx, t.ID, store.DriftFilter{Ticket: tk.ID, Limit: 200})
	if err != nil {
		return err
	}
	if page.Drift, err = lk.driftRows(items, t); err != nil {
		return err
	}
	page.Page = h.basePage(w, r, p, t.ID)
	return h.write(w, status, func(out io.Writer) error { return h.r.Ticket(out, page) })
}

// doneMessages say what a workflow action did.
var doneMessages = map[ticket.Action]string{
	ticket.ActionSubmit:   "submitted for review",
	ticket.ActionReview:   "reviewed",
	ticket.ActionApprove:  "approved",
	ticket.ActionReject:   "rejected",
	ticket.ActionStart:    "in implementation",
	ticket.ActionComplete: "implemented; its authorized changes are now part of the hosts' baselines",
	ticket.ActionDocument: "documented",
	ticket.ActionCancel:   "cancelled",
}

// ticketAction takes a workflow action on a ticket.
func (h *Handler) ticketAction(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	tk, t, err := h.findTicket(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	act := ticket.Action(strings.TrimSpace(r.PostForm.Get(reporter.FieldAction)))
	comment := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get(reporter.FieldComment), "\r\n", "\n"))
	fs := reporter.FormState{Action: "action", Values: map[string]string{reporter.FieldComment: comment}, Errors: map[string]string{}}
	if _, ok := actionLabels[act]; !ok {
		return badRequest(fmt.Sprintf("%q is not an action on a ticket.", act))
	}
	pol, _, err := h.changes.Policy(ctx, t.ID)
	if err != nil {
		return err
	}
	if !slices.Contains(tk.Allowed(p.actor(), pol, h.now()), act) && !p.atLeast(store.RoleEngineer) {
		return forbidden("Your role may read tickets but not change them.")
	}
	done, err := h.changes.Act(ctx, t.ID, tk.ID, act, p.actor(), comment)
	h.changed(t.ID)
	if err != nil && done == nil {
		status := http.StatusUnprocessableEntity
		var ae *ticket.ActionError
		var ve *policy.ValidationError
		switch {
		case errors.As(err, &ae):
			fs.Errors[reporter.FieldAction] = ae.Reason
			if errors.Is(err, ticket.ErrCommentRequired) {
				fs.Errors[reporter.FieldComment] = "Say why."
			}
			switch {
			case errors.Is(err, ticket.ErrForbidden), errors.Is(err, ticket.ErrSelfApproval):
				status = http.StatusForbidden
			case !errors.Is(err, ticket.ErrCommentRequired):
				status = http.StatusConflict
			}
		case errors.As(err, &ve):
			fs.Errors[reporter.FieldAction] = "The ticket is not complete: " + problemList(ve)
		case errors.Is(err, store.ErrConflict):
			status = http.StatusConflict
			fs.Errors[reporter.FieldAction] = "Someone changed the ticket meanwhile; check it and try again."
		default:
			return err
		}
		if cur, _, err := h.findTicket(r, p, tk.ID); err == nil {
			tk = cur
		}
		return h.renderTicket(w, r, p, tk, t, fs, status)
	}
	msg := fmt.Sprintf("Ticket %s %s.", done.Name(), doneMessages[act])
	if act == ticket.ActionApprove && len(done.PendingApproval) > 0 {
		sides := make([]string, len(done.PendingApproval))
		for i, s := range done.PendingApproval {
			sides[i] = reporter.SideLabel(string(s))
		}
		msg = fmt.Sprintf("Your approval of %s is recorded; it still needs the %s approval.", done.Name(), strings.Join(sides, " and "))
	}
	kind := reporter.FlashSuccess
	if err != nil {
		h.log.Error("ticket action done, follow-up failed", zap.String("request_id", requestID(r)), zap.String("ticket", done.ID), zap.Error(err))
		kind, msg = reporter.FlashWarning, msg+" What follows from it did not complete ("+err.Error()+"); it is retried with the next report or action."
	}
	h.flash(w, r, kind, msg)
	return h.see(w, r, h.links.Ticket(done.ID))
}

// problemList lists a validation error's problems for people.
func problemList(ve *policy.ValidationError) string {
	parts := make([]string, len(ve.Problems))
	for i, pr := range ve.Problems {
		parts[i] = pr.Field + " " + pr.Message
	}
	return strings.Join(parts, "; ")
}

// timeZones are the zones the ticket form offers.
func (h *Handler) timeZones(def string) []string {
	zs := []string{def, h.opt.Location.String(), "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York",
		"America/Chicago", "America/Denver", "America/Los_Angeles", "Asia/Tokyo", "Asia/Singapore", "Australia/Sydney"}
	var out []string
	for _, z := range zs {
		if z != "" && !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	return out
}

// ticketNew serves the ticket form, pre-filled from a drift item when
// ?drift= names one.
func (h *Handler) ticketNew(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.atLeast(store.RoleEngineer) {
		return forbidden("Raising a change ticket needs the engineer role or above.")
	}
	page := &reporter.TicketFormPage{}
	var t store.Tenant
	ok := false
	if id := r.URL.Query().Get("drift"); id != "" {
		di, dt, err := searchTenants(r, p, func(ctx context.Context, tenantID string) (store.DriftItem, error) {
			return h.st.DriftItem(ctx, tenantID, id)
		})
		if err != nil {
			return err
		}
		row, err := h.lookup(r.Context()).driftRow(di, dt)
		if err != nil {
			return err
		}
		page.FromDrift, t, ok = &row, dt, true
		page.Draft = reporter.TicketDraft{Title: fmt.Sprintf("%s %s on %s", di.Key, di.Change, row.Host.Name),
			Hosts: []string{row.Host.Name}, ItemPatterns: []string{changes.KeyPattern(di.Key)}}
	} else {
		var err error
		if t, ok, err = h.oneTenant(r, p); err != nil {
			return err
		}
	}
	return h.renderTicketForm(w, r, p, t, ok, page, http.StatusOK)
}

func (h *Handler) renderTicketForm(w http.ResponseWriter, r *http.Request, p *principal, t store.Tenant, ok bool, page *reporter.TicketFormPage, status int) error {
	def := ""
	if ok {
		page.Draft.TenantID = t.ID
		hs, _, err := h.lookup(r.Context()).hostsOf(t.ID)
		if err != nil {
			return err
		}
		for _, x := range hs {
			page.Hosts = append(page.Hosts, hostRef(x, t))
		}
		pol, _, err := h.changes.Policy(r.Context(), t.ID)
		if err != nil {
			return err
		}
		def = pol.DefaultTimeZone
	}
	page.TimeZones = h.timeZones(def)
	if page.Draft.TimeZone == "" {
		page.Draft.TimeZone = page.TimeZones[0]
	}
	tenantID := ""
	if ok {
		tenantID = t.ID
	}
	page.Page = h.basePage(w, r, p, tenantID)
	return h.write(w, status, func(out io.Writer) error { return h.r.NewTicket(out, page) })
}

// ticketCreate raises a ticket from the form, as a draft.
func (h *Handler) ticketCreate(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.atLeast(store.RoleEngineer) {
		return forbidden("Raising a change ticket needs the engineer role or above.")
	}
	d, errs := reporter.ParseTicketForm(r.PostForm, nil)
	if errs == nil {
		errs = reporter.FieldErrors{}
	}
	if !p.msp() && d.TenantID == "" {
		d.TenantID = p.user.TenantID
	}
	page := &reporter.TicketFormPage{Draft: d, Errors: errs}
	t, ok := p.tenant(d.TenantID)
	if d.TenantID != "" && !ok {
		return notFound()
	}
	if !ok {
		errs["tenant"] = "Choose the tenant whose hosts the change touches."
	}
	if len(errs) > 0 {
		return h.renderTicketForm(w, r, p, t, ok, page, http.StatusUnprocessableEntity)
	}
	tk, err := h.changes.CreateTicket(r.Context(), t.ID, specOf(d), p.actor())
	h.changed(t.ID)
	var ve *policy.ValidationError
	var ae *ticket.ActionError
	switch {
	case errors.As(err, &ve):
		for _, pr := range ve.Problems {
			errs[formField(pr.Field)] = pr.Message
		}
		return h.renderTicketForm(w, r, p, t, ok, page, http.StatusUnprocessableEntity)
	case errors.As(err, &ae):
		return forbidden(ae.Reason)
	case errors.Is(err, store.ErrExists):
		errs[reporter.FieldReference] = "Another ticket of this tenant has this reference."
		return h.renderTicketForm(w, r, p, t, ok, page, http.StatusConflict)
	case err != nil:
		return err
	}
	h.flash(w, r, reporter.FlashSuccess, fmt.Sprintf("Ticket %s is saved as a draft. Submit it for review when it is complete.", tk.Name()))
	return h.see(w, r, h.links.Ticket(tk.ID))
}

// specOf is the ticket a valid form describes.
func specOf(d reporter.TicketDraft) ticket.Spec {
	s := ticket.Spec{Reference: d.Reference, Title: d.Title, Description: d.Description, Impact: d.Impact,
		RollbackPlan: d.RollbackPlan, Origin: ticket.Origin(d.Origin), Class: ticket.Class(d.Class),
		Scope: ticket.Scope{Hosts: d.Hosts, Labels: d.Labels, Items: d.ItemPatterns}, Notify: d.Notify}
	if d.WindowStart != "" || d.WindowEnd != "" {
		s.Window = &policy.Window{Start: d.WindowStart, End: d.WindowEnd, TimeZone: d.TimeZone}
	}
	a := d.Answers
	s.Questions = ticket.Questions{Problem: a[reporter.QuestionProblem], Touches: a[reporter.QuestionTouches],
		StagingNotes: a[reporter.QuestionStagingNotes], RollbackPath: a[reporter.QuestionRollbackPath],
		EscalationOwner: a[reporter.QuestionEscalationOwner]}
	switch a[reporter.QuestionTestedInStaging] {
	case "yes":
		s.Questions.TestedInStaging = new(bool)
		*s.Questions.TestedInStaging = true
	case "no":
		s.Questions.TestedInStaging = new(bool)
	}
	for _, l := range strings.Split(a[reporter.QuestionDocsToUpdate], "\n") {
		if l = strings.TrimSpace(l); l != "" {
			s.Questions.DocsToUpdate = append(s.Questions.DocsToUpdate, l)
		}
	}
	return s
}

// formField is the form field of a ticket spec's JSON path.
func formField(path string) string {
	base, _, _ := strings.Cut(path, "[")
	switch base {
	case "scope.hosts":
		return reporter.FieldHostPatterns
	case "scope.labels":
		return reporter.FieldLabels
	case "scope.items":
		return reporter.FieldItemPatterns
	case "window.start", "window":
		return reporter.FieldWindowStart
	case "window.end":
		return reporter.FieldWindowEnd
	case "window.time_zone":
		return reporter.FieldTimeZone
	case "notify":
		return reporter.FieldNotify
	case "questions.docs_to_update":
		return reporter.FieldAnswerPrefix + reporter.QuestionDocsToUpdate
	}
	return base
}
