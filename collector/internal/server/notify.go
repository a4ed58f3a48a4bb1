package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// actionNotifySettings is the audit action of a change to a tenant's
// notification settings.
const actionNotifySettings = "notify.settings"

// notifyRoutes adds the tenants' notification settings to v1.
func (s *Server) notifyRoutes(v1 *http.ServeMux) {
	v1.HandleFunc("GET "+api.PathTenants+"/{tenant}/notify", s.handleNotifySettings)
	v1.HandleFunc("PUT "+api.PathTenants+"/{tenant}/notify", s.handlePutNotifySettings)
	v1.HandleFunc("DELETE "+api.PathTenants+"/{tenant}/notify", s.handleDeleteNotifySettings)
}

// notifyAdmin returns the tenant the path names for an admin who may
// manage it, or answers and returns false. A tenant's user may name only
// their own tenant (by name or ID): any other is answered 404, whether or
// not it exists. An MSP-wide user may name any; an unknown one is
// answered 400 naming the field tenant, as ?tenant is elsewhere. The
// optional ?tenant, when given, must name the same tenant. Only admins
// pass.
func (s *Server) notifyAdmin(w http.ResponseWriter, r *http.Request) (store.Tenant, *store.User, bool) {
	c, err := s.authenticate(r)
	if err != nil {
		s.authFailed(w, r, err)
		return store.Tenant{}, nil, false
	}
	if c.user == nil {
		writeError(w, r, http.StatusUnauthorized, api.Error{Error: "this request needs a user API token (Authorization: Bearer dwu_…)"})
		return store.Tenant{}, nil, false
	}
	name := r.PathValue("tenant")
	var t store.Tenant
	if c.user.TenantID != "" {
		own, err := s.store.TenantByID(r.Context(), c.user.TenantID)
		if err != nil {
			s.serverError(w, r, fmt.Errorf("tenant %s: %w", c.user.TenantID, err))
			return store.Tenant{}, nil, false
		}
		if name != own.Name && name != own.ID {
			writeError(w, r, http.StatusNotFound, api.Error{Error: fmt.Sprintf("no tenant %q", name), Field: "tenant"})
			return store.Tenant{}, nil, false
		}
		t = own
	} else {
		t, err = s.store.TenantByName(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			t, err = s.store.TenantByID(r.Context(), name)
		}
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("no tenant named %q", name), Field: "tenant"})
			return store.Tenant{}, nil, false
		}
		if err != nil {
			s.serverError(w, r, fmt.Errorf("tenant %q: %w", name, err))
			return store.Tenant{}, nil, false
		}
	}
	if q := r.URL.Query().Get("tenant"); q != "" && q != t.Name && q != t.ID {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("?tenant=%s names another tenant than the path (%s)", q, name), Field: "tenant"})
		return store.Tenant{}, nil, false
	}
	if c.user.Role != store.RoleAdmin {
		writeError(w, r, http.StatusForbidden, api.Error{Error: "only an admin may see or change a tenant's notification settings"})
		return store.Tenant{}, nil, false
	}
	return t, c.user, true
}

// tenantNotify is the API form of stored settings.
func tenantNotify(t store.Tenant, ns store.TenantNotifySettings) (api.TenantNotify, error) {
	out := api.TenantNotify{Tenant: t.Name, Version: ns.Version, UpdatedAt: ns.UpdatedAt, UpdatedBy: ns.UpdatedBy}
	if err := json.Unmarshal(ns.Settings, &out.Settings); err != nil {
		return out, fmt.Errorf("decode notification settings of tenant %s: %w", t.Name, err)
	}
	return out, nil
}

func (s *Server) handleNotifySettings(w http.ResponseWriter, r *http.Request) {
	t, _, ok := s.notifyAdmin(w, r)
	if !ok {
		return
	}
	ns, err := s.store.NotifySettings(r.Context(), t.ID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, api.Error{Error: fmt.Sprintf("tenant %s has no notification settings set through the API", t.Name)})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out, err := tenantNotify(t, ns)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(ns.Version))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handlePutNotifySettings(w http.ResponseWriter, r *http.Request) {
	t, u, ok := s.notifyAdmin(w, r)
	if !ok {
		return
	}
	var in api.NotifySettings
	if !decodeJSON(w, r, maxRequestBody, &in, "settings") {
		return
	}
	settings := notify.Settings(in)
	if _, err := settings.Compile(); err != nil {
		var se *notify.SettingsError
		if errors.As(err, &se) && len(se.Problems) > 0 {
			p := se.Problems[0]
			field := p.Field
			if p.Index >= 0 {
				field += "[" + strconv.Itoa(p.Index) + "]"
			}
			writeError(w, r, http.StatusUnprocessableEntity, api.Error{Error: se.Error(), Field: field})
			return
		}
		writeError(w, r, http.StatusUnprocessableEntity, api.Error{Error: err.Error()})
		return
	}
	if len(in.Recipients) == 0 && len(in.AlertLevel3) == 0 && len(in.AlertLevel2) == 0 {
		writeError(w, r, http.StatusUnprocessableEntity, api.Error{
			Error: "recipients: the settings send nothing; set recipients (the digest), alert_level3 (on-call) or alert_level2 (tech lead)",
			Field: "recipients"})
		return
	}
	if im := r.Header.Get("If-Match"); im != "" {
		cur, err := s.store.NotifySettings(r.Context(), t.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.serverError(w, r, err)
			return
		}
		if !matchesETag(im, etag(cur.Version)) {
			writeError(w, r, http.StatusPreconditionFailed, api.Error{Error: fmt.Sprintf("the notification settings are at version %d", cur.Version)})
			return
		}
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	now := s.now()
	v, err := s.store.PutNotifySettings(r.Context(), t.ID, raw, u.Email, now)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if _, err := s.store.AppendAudit(r.Context(), store.AuditEntry{TenantID: t.ID, At: now, Actor: u.Email, Action: actionNotifySettings,
		Subject: "notify", Detail: raw}); err != nil {
		s.log.Warn("audit of notification settings", zap.Error(err))
	}
	ns, err := s.store.NotifySettings(r.Context(), t.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out, err := tenantNotify(t, ns)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(v))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeleteNotifySettings(w http.ResponseWriter, r *http.Request) {
	t, u, ok := s.notifyAdmin(w, r)
	if !ok {
		return
	}
	err := s.store.DeleteNotifySettings(r.Context(), t.ID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, api.Error{Error: fmt.Sprintf("tenant %s has no notification settings set through the API", t.Name)})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if _, err := s.store.AppendAudit(r.Context(), store.AuditEntry{TenantID: t.ID, At: s.now(), Actor: u.Email, Action: actionNotifySettings,
		Subject: "notify", Detail: []byte(`{"deleted":true}`)}); err != nil {
		s.log.Warn("audit of notification settings", zap.Error(err))
	}
	w.WriteHeader(http.StatusNoContent)
}
