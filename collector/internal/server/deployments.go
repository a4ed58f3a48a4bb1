package server

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// deploymentRoutes adds the CI deployment notes: POST and GET
// /api/v1/deployments.
func (s *Server) deploymentRoutes(v1 *http.ServeMux) {
	v1.HandleFunc("POST "+api.PathDeployments, s.handleRecordDeployment)
	v1.HandleFunc("GET "+api.PathDeployments, s.handleDeployments)
}

// deployer returns the user who may record a deployment and the tenant,
// or answers and returns nil: an engineer, approver or admin of the
// tenant, or an MSP-wide admin naming it with ?tenant=NAME. A tenant's
// user naming another tenant is refused.
func (s *Server) deployer(w http.ResponseWriter, r *http.Request) (*store.User, string) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return nil, ""
	}
	if u.TenantID != "" {
		if name := r.URL.Query().Get("tenant"); name != "" {
			t, err := s.store.TenantByID(r.Context(), u.TenantID)
			if err != nil {
				s.serverError(w, r, err)
				return nil, ""
			}
			if t.Name != name {
				writeError(w, r, http.StatusForbidden, api.Error{Error: fmt.Sprintf("this token is of tenant %q; it cannot act in tenant %q", t.Name, name), Field: "tenant"})
				return nil, ""
			}
		}
		if !canResolve(u.Role) {
			writeError(w, r, http.StatusForbidden, api.Error{Error: "recording a deployment needs the engineer role or above"})
			return nil, ""
		}
		return u, tenantID
	}
	if u.Role != store.RoleAdmin {
		writeError(w, r, http.StatusForbidden, api.Error{Error: "an MSP-wide user records deployments with the admin role only"})
		return nil, ""
	}
	return u, tenantID
}

func (s *Server) handleRecordDeployment(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.deployer(w, r)
	if u == nil {
		return
	}
	var in api.DeploymentRequest
	if !decodeJSON(w, r, maxRequestBody, &in, "") {
		return
	}
	spec := changes.DeploymentSpec{Ticket: in.Ticket, Environment: in.Environment, Commit: in.Commit, Repository: in.Repository,
		PipelineURL: in.PipelineURL, Hosts: in.Hosts, Labels: in.Labels}
	if in.At != "" {
		t, err := time.Parse(time.RFC3339, in.At)
		if err != nil {
			writeError(w, r, http.StatusUnprocessableEntity, api.Error{Error: fmt.Sprintf("at: not an RFC 3339 time: %q", in.At), Field: "at"})
			return
		}
		spec.At = t
	}
	rec, err := s.changes.RecordDeployment(r.Context(), tenantID, spec, u.Email)
	if err != nil && rec.Deployment.ID == "" {
		s.deploymentError(w, r, err)
		return
	}
	if err != nil {
		s.log.Error("deployment recorded, follow-up failed", zap.String("deployment", rec.Deployment.ID), zap.Error(err))
	}
	out := deploymentOf(rec.Deployment, rec.HostNames, rec.Ticket)
	out.Note = rec.Note
	out.WindowBefore, out.WindowAfter = policy.Duration(rec.Window.Before).String(), policy.Duration(rec.Window.After).String()
	out.Reconciled = rec.Reconciled
	w.Header().Set("Location", api.PathDeployments+"?ticket="+rec.Ticket.ID)
	writeJSON(w, http.StatusCreated, out)
}

// deploymentError answers an error of recording a deployment.
func (s *Server) deploymentError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *changes.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, r, http.StatusUnprocessableEntity, api.Error{Error: err.Error(), Field: fe.Field})
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, api.Error{Error: err.Error(), Field: "ticket"})
	case errors.Is(err, store.ErrInvalid):
		writeError(w, r, http.StatusUnprocessableEntity, api.Error{Error: err.Error()})
	default:
		s.serverError(w, r, err)
	}
}

// deploymentOf is a deployment as the API gives it; tk is its ticket (nil
// when it cannot be read).
func deploymentOf(d store.Deployment, names map[string]string, tk *ticket.Ticket) api.Deployment {
	out := api.Deployment{ID: d.ID, Ticket: d.TicketRef, TicketID: d.TicketID, Environment: d.Environment, Commit: d.Commit,
		Repository: d.Repository, PipelineURL: d.PipelineURL, Hosts: []api.DeploymentHost{}, Labels: d.Labels,
		At: d.At, RecordedAt: d.RecordedAt, By: d.By}
	for _, id := range d.HostIDs {
		out.Hosts = append(out.Hosts, api.DeploymentHost{ID: id, Name: names[id]})
	}
	// By name, as people read them (the store keeps them by ID).
	slices.SortFunc(out.Hosts, func(a, b api.DeploymentHost) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	if tk != nil {
		out.Ticket, out.TicketState, out.Authorizes = tk.Name(), string(tk.State), tk.State.Authorizes()
	}
	return out
}

func (s *Server) handleDeployments(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	q := r.URL.Query()
	f := store.DeploymentFilter{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("limit %q is not a positive number", v), Field: "limit"})
			return
		}
		f.Limit = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("since: not an RFC 3339 time: %q", v), Field: "since"})
			return
		}
		f.Since = t
	}
	tickets := map[string]*ticket.Ticket{}
	if ref := q.Get("ticket"); ref != "" {
		tk, err := s.changes.Ticket(r.Context(), tenantID, ref)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, r, http.StatusNotFound, api.Error{Error: fmt.Sprintf("ticket %q: not found", ref), Field: "ticket"})
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		f.TicketID = tk.ID
		tickets[tk.ID] = tk
	}
	if host := q.Get("host"); host != "" {
		hs, err := s.store.Hosts(r.Context(), tenantID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		for _, h := range hs {
			if h.ID == host || h.Name == host {
				f.HostID = h.ID
			}
		}
		if f.HostID == "" {
			writeError(w, r, http.StatusNotFound, api.Error{Error: fmt.Sprintf("host %q: not found", host), Field: "host"})
			return
		}
	}
	page, next, names, err := s.changes.Deployments(r.Context(), tenantID, f)
	if errors.Is(err, store.ErrInvalid) {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: err.Error(), Field: "cursor"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := api.DeploymentPage{Deployments: []api.Deployment{}, Next: next}
	for _, d := range page {
		tk, ok := tickets[d.TicketID]
		if !ok {
			tk, err = s.changes.Ticket(r.Context(), tenantID, d.TicketID)
			if err != nil {
				s.log.Warn("deployment's ticket unreadable", zap.String("deployment", d.ID), zap.Error(err))
				tk = nil
			}
			tickets[d.TicketID] = tk
		}
		out.Deployments = append(out.Deployments, deploymentOf(d, names, tk))
	}
	writeJSON(w, http.StatusOK, out)
}
