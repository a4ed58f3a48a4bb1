package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// Bounds of what an agent may send besides reports.
const (
	maxEventsPerBatch = 1000
	maxEventDetail    = 64 << 10
	maxEventSummary   = 1000
	maxEventID        = 200
	maxEventsListed   = 1000
)

// eventKinds are the event kinds the collector keeps.
var eventKinds = map[string]bool{api.EventGap: true, api.EventCoverageGap: true, api.EventCoverageRestored: true}

// currentBaselineDigest returns the snapshot digest of the host's newest
// baseline; zero when it has none.
func (s *Server) currentBaselineDigest(r *http.Request, h *store.Host) (baseline.Digest, error) {
	ms, err := s.store.Baselines(r.Context(), h.TenantID, h.ID)
	if err != nil {
		return baseline.Digest{}, err
	}
	if len(ms) == 0 {
		return baseline.Digest{}, nil
	}
	return ms[len(ms)-1].SnapshotDigest, nil
}

// handleHeartbeat keeps an agent's status and answers with the host's
// current baseline.
func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	h := s.agent(w, r)
	if h == nil {
		return
	}
	var hb api.Heartbeat
	if !decodeJSON(w, r, maxRequestBody, &hb, "heartbeat") {
		return
	}
	status, err := json.Marshal(hb.Status)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	now := s.now()
	if err := s.store.RecordHeartbeat(r.Context(), h.TenantID, h.ID, store.Heartbeat{At: now, Status: status}); err != nil {
		s.serverError(w, r, fmt.Errorf("host %s: %w", h.ID, err))
		return
	}
	s.metrics.heartbeats.Inc()
	cur, err := s.store.Host(r.Context(), h.TenantID, h.ID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("host %s: %w", h.ID, err))
		return
	}
	resp := api.HeartbeatResponse{BaselineVersion: cur.BaselineVersion, ServerTime: now.UTC()}
	if cur.BaselineVersion > 0 {
		if resp.BaselineDigest, err = s.currentBaselineDigest(r, &cur); err != nil {
			s.serverError(w, r, fmt.Errorf("host %s: %w", h.ID, err))
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleEvents stores events an agent reports besides drift.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	h := s.agent(w, r)
	if h == nil {
		return
	}
	var in api.EventBatch
	if !decodeJSON(w, r, maxRequestBody+maxEventsPerBatch*1024, &in, "events") {
		return
	}
	if len(in.Events) > maxEventsPerBatch {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("%d events in one batch; at most %d", len(in.Events), maxEventsPerBatch), Field: "events"})
		return
	}
	now := s.now()
	evs := make([]store.HostEvent, 0, len(in.Events))
	for i, e := range in.Events {
		field := "events[" + strconv.Itoa(i) + "]"
		var problem, where string
		switch {
		case e.ID == "" || len(e.ID) > maxEventID || !utf8.ValidString(e.ID):
			problem, where = fmt.Sprintf("id must be 1 to %d bytes of UTF-8", maxEventID), ".id"
		case !eventKinds[e.Kind]:
			problem, where = fmt.Sprintf("kind %q is not one of gap, coverage_gap, coverage_restored", e.Kind), ".kind"
		case e.At.IsZero():
			problem, where = "at is required", ".at"
		case len(e.Summary) > maxEventSummary || !utf8.ValidString(e.Summary):
			problem, where = fmt.Sprintf("summary must be at most %d bytes of UTF-8", maxEventSummary), ".summary"
		case len(e.Detail) > maxEventDetail:
			problem, where = fmt.Sprintf("detail exceeds %d bytes", maxEventDetail), ".detail"
		}
		if problem != "" {
			writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("event %d: %s", i, problem), Field: field + where})
			return
		}
		var detail []byte
		if !isNull(e.Detail) {
			detail = e.Detail
		}
		evs = append(evs, store.HostEvent{ID: e.ID, Kind: e.Kind, At: e.At, ReceivedAt: now, Summary: e.Summary, Detail: detail})
	}
	added, err := s.store.AddHostEvents(r.Context(), h.TenantID, h.ID, evs)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("host %s: %w", h.ID, err))
		return
	}
	s.metrics.hostEvents.Add(float64(added))
	writeJSON(w, http.StatusOK, api.EventsResponse{Added: added})
}

// handleHostEvents lists a host's events for a person.
func (s *Server) handleHostEvents(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return
	}
	h, ok := s.lookupHost(w, r, tenantID)
	if !ok {
		return
	}
	evs, err := s.store.HostEvents(r.Context(), tenantID, h.ID, maxEventsListed)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := make([]api.Event, 0, len(evs))
	for _, e := range evs {
		rcv := e.ReceivedAt
		out = append(out, api.Event{ID: e.ID, Kind: e.Kind, At: e.At, Summary: e.Summary, Detail: e.Detail, ReceivedAt: &rcv})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleHostStatus answers a host with its agent's newest heartbeat.
func (s *Server) handleHostStatus(w http.ResponseWriter, r *http.Request) {
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
	out := api.HostStatus{Host: apiHost(h, name)}
	hb, err := s.store.LastHeartbeat(r.Context(), tenantID, h.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.serverError(w, r, err)
		return
	default:
		at := hb.At
		out.HeartbeatAt = &at
		var st api.AgentStatus
		if json.Unmarshal(hb.Status, &st) == nil {
			out.Status = &st
		}
	}
	writeJSON(w, http.StatusOK, out)
}
