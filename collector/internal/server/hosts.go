package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// errHostNotFound is the answer for a host that is not the caller's
// tenant's, whether or not it exists elsewhere.
var errHostNotFound = api.Error{Error: "host not found"}

// apiHost converts a store host.
func apiHost(h store.Host, tenantName string) api.Host {
	out := api.Host{
		ID:              h.ID,
		Name:            h.Name,
		Tenant:          tenantName,
		Labels:          h.Labels,
		EnrolledAt:      h.EnrolledAt,
		AgentVersion:    h.AgentVersion,
		BaselineVersion: h.BaselineVersion,
		OpenDrift:       h.OpenDrift,
	}
	if !h.LastSeen.IsZero() {
		t := h.LastSeen
		out.LastSeen = &t
	}
	return out
}

// tenantName returns the name of a tenant, or answers 500.
func (s *Server) tenantName(w http.ResponseWriter, r *http.Request, tenantID string) (string, bool) {
	t, err := s.store.TenantByID(r.Context(), tenantID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("tenant %s: %w", tenantID, err))
		return "", false
	}
	return t.Name, true
}

// lookupHost finds the {id} host in the tenant, or answers 404 (or 500).
func (s *Server) lookupHost(w http.ResponseWriter, r *http.Request, tenantID string) (store.Host, bool) {
	h, err := s.store.Host(r.Context(), tenantID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, errHostNotFound)
		return store.Host{}, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return store.Host{}, false
	}
	return h, true
}

// handleHosts lists the caller's tenant's hosts.
func (s *Server) handleHosts(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	name, ok := s.tenantName(w, r, tenantID)
	if !ok {
		return
	}
	hs, err := s.store.Hosts(r.Context(), tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := make([]api.Host, 0, len(hs))
	for _, h := range hs {
		out = append(out, apiHost(h, name))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDrift answers a host's current drift: that of its newest report.
func (s *Server) handleDrift(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	h, ok := s.lookupHost(w, r, tenantID)
	if !ok {
		return
	}
	name, ok := s.tenantName(w, r, tenantID)
	if !ok {
		return
	}
	out := api.HostDrift{Host: apiHost(h, name)}
	rep, err := s.store.LatestReport(r.Context(), tenantID, h.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusOK, out)
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	out.Sequence = rep.Sequence
	received := rep.ReceivedAt
	out.Received = &received
	if len(rep.Drift) > 0 {
		out.Drift = new(baseline.Drift)
		if err := json.Unmarshal(rep.Drift, out.Drift); err != nil {
			s.serverError(w, r, fmt.Errorf("decode drift of report %d of host %s: %w", rep.Sequence, h.ID, err))
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// etag is a baseline version's entity tag.
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// matchesETag reports whether an If-None-Match header names tag.
func matchesETag(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

// handleBaseline answers a host's newest baseline with its snapshot, to
// people of its tenant and to the host's own agent.
func (s *Server) handleBaseline(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	var h store.Host
	if c.host != nil {
		if c.host.ID != r.PathValue("id") {
			writeError(w, r, http.StatusNotFound, errHostNotFound)
			return
		}
		h = *c.host
	} else {
		tenantID, ok := s.userTenant(w, r, c.user)
		if !ok {
			return
		}
		if h, ok = s.lookupHost(w, r, tenantID); !ok {
			return
		}
	}
	if h.BaselineVersion == 0 {
		writeError(w, r, http.StatusNotFound, api.Error{Error: "host has no baseline yet"})
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, etag(h.BaselineVersion)) {
		w.Header().Set("ETag", etag(h.BaselineVersion))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	b, err := s.store.Baseline(r.Context(), h.TenantID, h.ID, 0)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, api.Error{Error: "host has no baseline yet"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(b.Meta.Version))
	writeJSON(w, http.StatusOK, api.Baseline{Meta: b.Meta, Snapshot: b.Snapshot})
}

// handleBaselines lists a host's baseline versions, oldest first.
func (s *Server) handleBaselines(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	ms, err := s.store.Baselines(r.Context(), tenantID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, errHostNotFound)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if ms == nil {
		ms = []baseline.Meta{}
	}
	writeJSON(w, http.StatusOK, ms)
}

// canApprove reports whether a role may approve baselines.
func canApprove(role string) bool { return role == store.RoleApprover || role == store.RoleAdmin }

// handleApprove makes a snapshot the host reported its next baseline.
func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	if !canApprove(u.Role) {
		writeError(w, r, http.StatusForbidden, api.Error{Error: "approving a baseline needs the approver role"})
		return
	}
	var req api.ApproveRequest
	if !decodeJSON(w, r, maxRequestBody, &req, "") {
		return
	}
	switch {
	case req.SnapshotDigest.IsZero():
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "snapshot_digest is required", Field: "snapshot_digest"})
		return
	case strings.TrimSpace(req.Reason) == "":
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "a reason is required", Field: "reason"})
		return
	case len(req.Tickets) == 0:
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "at least one ticket is required", Field: "tickets"})
		return
	}
	for i, t := range req.Tickets {
		if strings.TrimSpace(t) == "" {
			writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("ticket %d is empty", i+1), Field: "tickets"})
			return
		}
	}
	h, ok := s.lookupHost(w, r, tenantID)
	if !ok {
		return
	}
	rep, err := s.store.ReportBySnapshot(r.Context(), tenantID, h.ID, req.SnapshotDigest)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, api.Error{Error: "host never reported this snapshot", Field: "snapshot_digest"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	cur, err := s.store.Baseline(r.Context(), tenantID, h.ID, 0)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusConflict, api.Error{Error: "host has no baseline yet to approve a change from"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	snap, err := rebuild(cur, rep)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("host %s: %w", h.ID, err))
		return
	}
	if got := snap.Digest(); got != req.SnapshotDigest {
		writeError(w, r, http.StatusConflict, api.Error{Error: fmt.Sprintf(
			"the report of snapshot %s does not describe a change from the current baseline v%d; approve a snapshot reported against it",
			req.SnapshotDigest.Short(), cur.Meta.Version)})
		return
	}
	enc, err := snap.Marshal()
	if err != nil {
		s.serverError(w, r, fmt.Errorf("host %s: encode approved snapshot: %w", h.ID, err))
		return
	}
	meta := baseline.Meta{
		Host:           h.Name,
		Version:        cur.Meta.Version + 1,
		SnapshotDigest: req.SnapshotDigest,
		Items:          len(snap.Items),
		ApprovedBy:     u.Email,
		ApprovedAt:     s.now(),
		Reason:         req.Reason,
		Tickets:        req.Tickets,
		Reviewed:       true,
	}
	err = s.store.AddBaseline(r.Context(), store.Baseline{TenantID: tenantID, HostID: h.ID, Meta: meta, Snapshot: enc})
	if errors.Is(err, store.ErrConflict) {
		writeError(w, r, http.StatusConflict, api.Error{Error: "another baseline version was approved meanwhile"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var d baseline.Drift
	if len(rep.Drift) > 0 && json.Unmarshal(rep.Drift, &d) == nil {
		if err := s.changes.Approved(r.Context(), tenantID, h.ID, meta, &d); err != nil {
			s.log.Error("approval not recorded in the drift items", zap.String("host", h.ID), zap.Error(err))
		}
	}
	s.log.Info("baseline approved", zap.String("host", h.ID), zap.Int("baseline_version", meta.Version),
		zap.String("approved_by", u.Email), zap.Strings("tickets", meta.Tickets))
	w.Header().Set("ETag", etag(meta.Version))
	writeJSON(w, http.StatusCreated, api.Baseline{Meta: meta})
}

// rebuild applies a report's drift to a baseline's snapshot: the snapshot
// the report describes, if the drift was taken against that baseline.
func rebuild(cur store.Baseline, rep store.Report) (*baseline.Snapshot, error) {
	old, err := baseline.Unmarshal(cur.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("decode baseline v%d: %w", cur.Meta.Version, err)
	}
	items := make(map[string]baseline.Item, len(old.Items))
	for _, it := range old.Items {
		items[it.Key] = it
	}
	if len(rep.Drift) > 0 {
		var d baseline.Drift
		if err := json.Unmarshal(rep.Drift, &d); err != nil {
			return nil, fmt.Errorf("decode drift of report %d: %w", rep.Sequence, err)
		}
		for _, c := range d.Changes {
			key := c.ExactKey()
			switch {
			case c.Change == baseline.Removed:
				delete(items, key)
			case c.New != nil:
				items[key] = *c.New
			}
		}
		for _, it := range d.Informational {
			items[it.Key] = it
		}
	}
	snap := &baseline.Snapshot{
		Format:       baseline.FormatVersion,
		Host:         old.Host,
		TakenAt:      rep.TakenAt,
		AgentVersion: rep.AgentVersion,
		Items:        make([]baseline.Item, 0, len(items)),
	}
	for _, it := range items {
		snap.Items = append(snap.Items, it)
	}
	sort.Slice(snap.Items, func(i, j int) bool { return snap.Items[i].Key < snap.Items[j].Key })
	return snap, nil
}
