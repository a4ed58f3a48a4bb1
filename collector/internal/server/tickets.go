package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// changeRoutes adds the change-management API: tickets, policy, drift
// items, the audit log and metrics.
func (s *Server) changeRoutes(v1 *http.ServeMux) {
	v1.HandleFunc("POST "+api.PathTickets, s.handleCreateTicket)
	v1.HandleFunc("GET "+api.PathTickets, s.handleTickets)
	v1.HandleFunc("GET "+api.PathTickets+"/{id}", s.handleTicket)
	v1.HandleFunc("POST "+api.PathTickets+"/{id}/actions", s.handleTicketAction)
	v1.HandleFunc("GET "+api.PathPolicy, s.handlePolicy)
	v1.HandleFunc("PUT "+api.PathPolicy, s.handlePutPolicy)
	v1.HandleFunc("GET "+api.PathDrift, s.handleDriftItems)
	v1.HandleFunc("GET "+api.PathDrift+"/{id}", s.handleDriftItem)
	v1.HandleFunc("POST "+api.PathDrift+"/{id}/accept", s.handleAcceptDrift)
	v1.HandleFunc("POST "+api.PathDrift+"/{id}/revert", s.handleRevertDrift)
	v1.HandleFunc("GET "+api.PathAudit, s.handleAudit)
	v1.HandleFunc("GET "+api.PathAudit+"/verify", s.handleAuditVerify)
	v1.HandleFunc("GET "+api.PathMetricsAPI, s.handleChangeMetrics)
}

// actor is the user as the ticket workflow sees them.
func actor(u *store.User) ticket.Actor {
	return ticket.Actor{ID: u.ID, Email: u.Email, Role: ticket.Role(u.Role), TenantID: u.TenantID}
}

// changeError answers an error of change management with its status.
func (s *Server) changeError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *policy.ValidationError
	var ae *ticket.ActionError
	switch {
	case errors.As(err, &ve):
		writeError(w, r, http.StatusUnprocessableEntity, api.Error{Error: err.Error(), Field: firstField(ve)})
	case errors.Is(err, ticket.ErrForbidden), errors.Is(err, ticket.ErrSelfApproval):
		writeError(w, r, http.StatusForbidden, api.Error{Error: err.Error()})
	case errors.Is(err, ticket.ErrInvalidTransition), errors.Is(err, ticket.ErrAlreadyApproved), errors.Is(err, ticket.ErrFrozen),
		errors.Is(err, store.ErrConflict):
		writeError(w, r, http.StatusConflict, api.Error{Error: err.Error()})
	case errors.As(err, &ae), errors.Is(err, ticket.ErrCommentRequired), errors.Is(err, ticket.ErrInvalid), errors.Is(err, store.ErrInvalid),
		errors.Is(err, policy.ErrInvalid):
		writeError(w, r, http.StatusUnprocessableEntity, api.Error{Error: err.Error()})
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, api.Error{Error: "not found"})
	case errors.Is(err, store.ErrExists):
		writeError(w, r, http.StatusConflict, api.Error{Error: "a ticket with that reference exists already"})
	default:
		s.serverError(w, r, err)
	}
}

func firstField(ve *policy.ValidationError) string {
	if len(ve.Problems) > 0 {
		return ve.Problems[0].Field
	}
	return ""
}

// ticketView is a ticket with the actions the caller may take now.
type ticketView struct {
	*ticket.Ticket
	Allowed []ticket.Action `json:"allowed_actions"`
}

func (s *Server) viewTicket(r *http.Request, u *store.User, tenantID string, tk *ticket.Ticket) (ticketView, error) {
	pol, _, err := s.changes.Policy(r.Context(), tenantID)
	if err != nil {
		return ticketView{}, err
	}
	allowed := tk.Allowed(actor(u), pol, s.now())
	if allowed == nil {
		allowed = []ticket.Action{}
	}
	return ticketView{Ticket: tk, Allowed: allowed}, nil
}

func (s *Server) handleCreateTicket(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	var spec ticket.Spec
	if !decodeJSON(w, r, maxRequestBody, &spec, "ticket") {
		return
	}
	tk, err := s.changes.CreateTicket(r.Context(), tenantID, spec, actor(u))
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	v, err := s.viewTicket(r, u, tenantID, tk)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) handleTickets(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	q := r.URL.Query()
	f := store.TicketFilter{States: q["state"], Cursor: q.Get("cursor")}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	page, next, err := s.store.Tickets(r.Context(), tenantID, f)
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	out := struct {
		Tickets []json.RawMessage `json:"tickets"`
		Next    string            `json:"next,omitempty"`
	}{Tickets: []json.RawMessage{}, Next: next}
	for _, t := range page {
		out.Tickets = append(out.Tickets, t.Doc)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleTicket(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	tk, err := s.changes.Ticket(r.Context(), tenantID, r.PathValue("id"))
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	v, err := s.viewTicket(r, u, tenantID, tk)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleTicketAction(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	var in api.TicketAction
	if !decodeJSON(w, r, maxRequestBody, &in, "action") {
		return
	}
	var tk *ticket.Ticket
	var err error
	if in.Action == string(ticket.ActionAmend) {
		err = fmt.Errorf("amend a ticket with its spec, not through actions: %w", ticket.ErrInvalidTransition)
	} else {
		tk, err = s.changes.Act(r.Context(), tenantID, r.PathValue("id"), ticket.Action(in.Action), actor(u), in.Comment)
	}
	if err != nil && tk == nil {
		s.changeError(w, r, err)
		return
	}
	if err != nil {
		s.log.Error("ticket action done, follow-up failed", zap.Error(err))
	}
	v, verr := s.viewTicket(r, u, tenantID, tk)
	if verr != nil {
		s.serverError(w, r, verr)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	pol, version, err := s.changes.Policy(r.Context(), tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(version))
	writeJSON(w, http.StatusOK, pol)
}

func (s *Server) handlePutPolicy(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	if u.Role != store.RoleAdmin {
		writeError(w, r, http.StatusForbidden, api.Error{Error: "only an admin may change a tenant's policy"})
		return
	}
	var raw json.RawMessage
	if !decodeJSON(w, r, maxRequestBody, &raw, "policy") {
		return
	}
	pol, err := policy.Decode(raw)
	if err != nil {
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			s.changeError(w, r, err)
		} else {
			writeError(w, r, http.StatusBadRequest, api.Error{Error: err.Error(), Field: "policy"})
		}
		return
	}
	_, version, err := s.changes.Policy(r.Context(), tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if im := r.Header.Get("If-Match"); im != "" && !matchesETag(im, etag(version)) {
		writeError(w, r, http.StatusPreconditionFailed, api.Error{Error: fmt.Sprintf("the policy is at version %d", version)})
		return
	}
	v, err := s.changes.SetPolicy(r.Context(), tenantID, pol, version, u.Email)
	if err != nil && v == 0 {
		s.changeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(v))
	writeJSON(w, http.StatusOK, pol)
}

// driftItemOf is a drift item as the API gives it.
func driftItemOf(di store.DriftItem, hostName string) api.DriftItem {
	out := api.DriftItem{ID: di.ID, HostID: di.HostID, Host: hostName, Key: di.Key, Kind: di.Kind, Change: string(di.Change),
		FirstSeen: di.FirstSeen, ChangedAt: di.ChangedAt, LastSeen: di.LastSeen, Current: di.Current, Status: di.Status,
		Verdict: di.Verdict, Level: di.Level, Rule: di.Rule, Tickets: di.Tickets, VerdictReason: di.VerdictReason,
		ResolvedBy: di.ResolvedBy, Reason: di.Reason, TicketRef: di.TicketRef, Detail: di.ChangeDoc}
	if !di.ResolvedAt.IsZero() {
		t := di.ResolvedAt
		out.ResolvedAt = &t
	}
	if out.Tickets == nil {
		out.Tickets = []string{}
	}
	return out
}

func (s *Server) hostNames(r *http.Request, tenantID string) (map[string]string, error) {
	hs, err := s.store.Hosts(r.Context(), tenantID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(hs))
	for _, h := range hs {
		names[h.ID] = h.Name
	}
	return names, nil
}

func (s *Server) handleDriftItems(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	q := r.URL.Query()
	f := store.DriftFilter{HostIDs: q["host"], Statuses: q["status"], Verdicts: q["verdict"], Key: q.Get("key"), Ticket: q.Get("ticket"), Cursor: q.Get("cursor")}
	for _, l := range q["level"] {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 3 {
			writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("level %q is not 1, 2 or 3", l), Field: "level"})
			return
		}
		f.Levels = append(f.Levels, n)
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("%s: not an RFC 3339 time: %q", name, v), Field: name})
				return
			}
			*dst = t
		}
	}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	page, next, err := s.store.DriftItems(r.Context(), tenantID, f)
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	names, err := s.hostNames(r, tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := api.DriftPage{Items: []api.DriftItem{}, Next: next}
	for _, di := range page {
		out.Items = append(out.Items, driftItemOf(di, names[di.HostID]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDriftItem(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	di, err := s.store.DriftItem(r.Context(), tenantID, r.PathValue("id"))
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	hist, err := s.store.DriftHistory(r.Context(), tenantID, di.ID)
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	names, err := s.hostNames(r, tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := driftItemOf(di, names[di.HostID])
	for _, e := range hist {
		out.History = append(out.History, api.DriftEvent{At: e.At, Event: e.Event, Actor: e.Actor, ReportSequence: e.ReportSeq,
			FromStatus: e.FromStatus, ToStatus: e.ToStatus, FromVerdict: e.FromVerdict, ToVerdict: e.ToVerdict,
			FromLevel: e.FromLevel, ToLevel: e.ToLevel, Reason: e.Reason})
	}
	writeJSON(w, http.StatusOK, out)
}

// canResolve reports whether a role may decide on drift.
func canResolve(role string) bool { return role == store.RoleEngineer || canApprove(role) }

func (s *Server) handleAcceptDrift(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	if !canApprove(u.Role) {
		writeError(w, r, http.StatusForbidden, api.Error{Error: "accepting drift into the baseline needs the approver or admin role"})
		return
	}
	var in api.DriftDecision
	if !decodeJSON(w, r, maxRequestBody, &in, "decision") {
		return
	}
	if strings.TrimSpace(in.Reason) == "" {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "a reason is required", Field: "reason"})
		return
	}
	ps, err := s.changes.Accept(r.Context(), tenantID, []string{r.PathValue("id")}, u.Email, in.Reason, in.Ticket)
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	out := api.DriftDecisionResult{}
	for _, p := range ps {
		out.Baselines = append(out.Baselines, api.HostBaselineVersion{HostID: p.HostID, Host: p.Host, Version: p.Version})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRevertDrift(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	if !canResolve(u.Role) {
		writeError(w, r, http.StatusForbidden, api.Error{Error: "marking drift for revert needs the engineer role or above"})
		return
	}
	var in api.DriftDecision
	if !decodeJSON(w, r, maxRequestBody, &in, "decision") {
		return
	}
	if strings.TrimSpace(in.Reason) == "" {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "a reason is required", Field: "reason"})
		return
	}
	if _, err := s.changes.RequestRevert(r.Context(), tenantID, []string{r.PathValue("id")}, u.Email, in.Reason); err != nil {
		s.changeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DriftDecisionResult{})
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	es, err := s.store.AuditEntries(r.Context(), tenantID, after, limit)
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	out := make([]api.AuditEntry, 0, len(es))
	for _, e := range es {
		out = append(out, api.AuditEntry{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAuditVerify(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	res, err := store.VerifyAudit(r.Context(), s.store, tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, auditResult(res))
}

// auditResult is a chain verification as the API gives it.
func auditResult(res audit.Result) api.AuditVerification {
	out := api.AuditVerification{Checked: uint64(res.Checked), Intact: res.Break == nil}
	if res.Break != nil {
		out.BrokenAt = res.Break.Seq
		out.Problem = res.Break.Error()
	}
	return out
}

func (s *Server) handleChangeMetrics(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	to := s.now()
	from := to.Add(-7 * 24 * time.Hour)
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := r.URL.Query().Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("%s: not an RFC 3339 time: %q", name, v), Field: name})
				return
			}
			*dst = t
		}
	}
	if !to.After(from) {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "to must be after from", Field: "to"})
		return
	}
	m, err := s.changes.Metrics(r.Context(), tenantID, from, to)
	if err != nil {
		s.changeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
