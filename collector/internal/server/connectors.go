package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/connector"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// connectorRoutes adds this part's API routes to v1.
func (s *Server) connectorRoutes(v1 *http.ServeMux) {
	v1.HandleFunc("GET "+api.PathConnectors, s.handleConnectors)
	v1.HandleFunc("POST "+api.PathConnectors, s.connectorsChanged(s.handleCreateConnector))
	v1.HandleFunc("GET "+api.PathConnectors+"/{name}", s.handleConnector)
	v1.HandleFunc("PUT "+api.PathConnectors+"/{name}", s.connectorsChanged(s.handlePutConnector))
	v1.HandleFunc("DELETE "+api.PathConnectors+"/{name}", s.connectorsChanged(s.handleDeleteConnector))
}

// connectorsChanged calls Options.ConnectorsChanged after h answered a
// request that may have changed a connector (a reload of an unchanged set
// is harmless).
func (s *Server) connectorsChanged(h http.HandlerFunc) http.HandlerFunc {
	if s.connChanged == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		s.connChanged()
	}
}

// connectorAdmin returns the admin who sent the request and the tenant
// they act in (an MSP-wide admin names it with ?tenant=NAME), or answers
// and returns nil.
func (s *Server) connectorAdmin(w http.ResponseWriter, r *http.Request) (*store.User, string) {
	u, tenantID := s.person(w, r)
	if u == nil {
		return nil, ""
	}
	if u.Role != store.RoleAdmin {
		writeError(w, r, http.StatusForbidden, api.Error{Error: "managing connectors needs the admin role"})
		return nil, ""
	}
	return u, tenantID
}

// connectorView is a stored connector as the API shows it.
func (s *Server) connectorView(ctx context.Context, c store.Connector, st *store.ConnectorState) (api.Connector, error) {
	var a api.Connector
	if err := json.Unmarshal(c.Config, &a); err != nil {
		return api.Connector{}, fmt.Errorf("connector %s: stored configuration: %w", c.Name, err)
	}
	a.Name, a.Kind, a.Source = c.Name, c.Kind, c.Source
	a.Credentials = nil
	a.HasCredentials = a.HasCredentials || len(c.Secret) > 0
	a.CreatedAt, a.UpdatedAt = c.CreatedAt, c.UpdatedAt
	if t, err := s.store.TenantByID(ctx, c.TenantID); err == nil {
		a.Tenant = t.Name
	} else if !errors.Is(err, store.ErrNotFound) {
		return api.Connector{}, err
	}
	a.Status = nil
	if st != nil {
		status, err := connector.StatusOf(*st)
		if err != nil {
			return api.Connector{}, err
		}
		status.Kind = c.Kind
		a.Status = connector.StatusToAPI(status, connector.PollOf(a), s.now())
	}
	return a, nil
}

// handleConnectors lists the connectors the admin manages, with their
// status.
func (s *Server) handleConnectors(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.connectorAdmin(w, r)
	if u == nil {
		return
	}
	rows, err := s.store.ListConnectors(r.Context(), tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	states, err := s.store.ConnectorStates(r.Context(), tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	byName := map[string]*store.ConnectorState{}
	for i := range states {
		byName[states[i].Name] = &states[i]
	}
	out := api.ConnectorList{Connectors: []api.Connector{}}
	for _, c := range rows {
		v, err := s.connectorView(r.Context(), c, byName[c.Name])
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		out.Connectors = append(out.Connectors, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// findConnector returns the named connector when the admin may see it,
// or answers 404 and returns false.
func (s *Server) findConnector(w http.ResponseWriter, r *http.Request, tenantID string) (store.Connector, bool) {
	name := r.PathValue("name")
	c, err := s.store.Connector(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) || err == nil && c.TenantID != tenantID {
		writeError(w, r, http.StatusNotFound, api.Error{Error: fmt.Sprintf("no connector named %q", name)})
		return store.Connector{}, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return store.Connector{}, false
	}
	return c, true
}

// answerConnector answers with the stored connector and its status.
func (s *Server) answerConnector(w http.ResponseWriter, r *http.Request, status int, name string) {
	c, err := s.store.Connector(r.Context(), name)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var st *store.ConnectorState
	if row, err := s.store.ConnectorState(r.Context(), name); err == nil {
		st = &row
	} else if !errors.Is(err, store.ErrNotFound) {
		s.serverError(w, r, err)
		return
	}
	v, err := s.connectorView(r.Context(), c, st)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// handleConnector shows one connector with its status.
func (s *Server) handleConnector(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.connectorAdmin(w, r)
	if u == nil {
		return
	}
	if c, ok := s.findConnector(w, r, tenantID); ok {
		s.answerConnector(w, r, http.StatusOK, c.Name)
	}
}

// connectorInput checks a connector given through the API and returns
// the row to store (CreatedAt and UpdatedAt unset), or answers and
// returns false. keep is the stored secret, kept when the request names
// no credentials.
func (s *Server) connectorInput(w http.ResponseWriter, r *http.Request, tenantID string, a api.Connector, keep []byte) (store.Connector, bool) {
	t, err := s.store.TenantByID(r.Context(), tenantID)
	if err != nil {
		s.serverError(w, r, err)
		return store.Connector{}, false
	}
	if a.Tenant != "" && a.Tenant != t.Name {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("the connector's tenant %q is not the tenant acted in, %q", a.Tenant, t.Name), Field: "tenant"})
		return store.Connector{}, false
	}
	a.Tenant = t.Name
	cfg, err := connector.FromAPI(a)
	var fe *connector.FieldError
	if errors.As(err, &fe) {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: fe.Error(), Field: fe.Field})
		return store.Connector{}, false
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: err.Error()})
		return store.Connector{}, false
	}
	row := store.Connector{Name: cfg.Name, TenantID: t.ID, Kind: cfg.Kind, Source: store.ConnectorFromAPI}
	switch {
	case cfg.Credentials.Inline != nil:
		sealer := s.sealer
		if sealer == nil {
			writeError(w, r, http.StatusServiceUnavailable, api.Error{Error: "this collector has no secrets key to store credentials with; give credentials_file or credentials_env", Field: "credentials"})
			return store.Connector{}, false
		}
		if row.Secret, err = sealer.Seal(cfg.Name, *cfg.Credentials.Inline); err != nil {
			s.serverError(w, r, err)
			return store.Connector{}, false
		}
	case cfg.Credentials.File == "" && cfg.Credentials.Env == "":
		row.Secret = keep
	}
	if len(row.Secret) == 0 && cfg.Credentials.File == "" && cfg.Credentials.Env == "" {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "a connector needs credentials (stored encrypted), credentials_file or credentials_env", Field: "credentials"})
		return store.Connector{}, false
	}
	doc := connector.ToAPI(cfg, cfg.Tenant)
	doc.HasCredentials = false
	if row.Config, err = json.Marshal(doc); err != nil {
		s.serverError(w, r, err)
		return store.Connector{}, false
	}
	return row, true
}

// handleCreateConnector stores a new connector; running collectors start
// it within their reload interval.
func (s *Server) handleCreateConnector(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.connectorAdmin(w, r)
	if u == nil {
		return
	}
	var a api.Connector
	if !decodeJSON(w, r, maxRequestBody, &a, "") {
		return
	}
	row, ok := s.connectorInput(w, r, tenantID, a, nil)
	if !ok {
		return
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	row.CreatedAt, row.UpdatedAt = now, now
	err := s.store.CreateConnector(r.Context(), row)
	if errors.Is(err, store.ErrExists) {
		writeError(w, r, http.StatusConflict, api.Error{Error: fmt.Sprintf("a connector named %q exists already", row.Name), Field: "name"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info("connector created", zap.String("connector", row.Name), zap.String("kind", row.Kind), zap.String("by", u.Email))
	w.Header().Set("Location", api.PathConnectors+"/"+row.Name)
	s.answerConnector(w, r, http.StatusCreated, row.Name)
}

// readOnly answers 409 for a connector of a configuration file.
func readOnly(w http.ResponseWriter, r *http.Request, c store.Connector) bool {
	if c.Source == store.ConnectorFromAPI {
		return false
	}
	writeError(w, r, http.StatusConflict, api.Error{Error: fmt.Sprintf("connector %q is configured in a collector's configuration file; change it there", c.Name)})
	return true
}

// handlePutConnector replaces a connector's configuration; credentials
// not given are kept.
func (s *Server) handlePutConnector(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.connectorAdmin(w, r)
	if u == nil {
		return
	}
	old, ok := s.findConnector(w, r, tenantID)
	if !ok || readOnly(w, r, old) {
		return
	}
	var a api.Connector
	if !decodeJSON(w, r, maxRequestBody, &a, "") {
		return
	}
	if a.Name != "" && a.Name != old.Name {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "a connector cannot be renamed; create a new one and delete this", Field: "name"})
		return
	}
	a.Name = old.Name
	row, ok := s.connectorInput(w, r, tenantID, a, old.Secret)
	if !ok {
		return
	}
	row.CreatedAt, row.UpdatedAt = old.CreatedAt, s.now().UTC().Truncate(time.Microsecond)
	if err := s.store.UpdateConnector(r.Context(), row); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.log.Info("connector updated", zap.String("connector", row.Name), zap.String("by", u.Email))
	s.answerConnector(w, r, http.StatusOK, row.Name)
}

// handleDeleteConnector deletes a connector with its state; the tickets
// it imported stay.
func (s *Server) handleDeleteConnector(w http.ResponseWriter, r *http.Request) {
	u, tenantID := s.connectorAdmin(w, r)
	if u == nil {
		return
	}
	c, ok := s.findConnector(w, r, tenantID)
	if !ok || readOnly(w, r, c) {
		return
	}
	if err := s.store.DeleteConnector(r.Context(), c.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.serverError(w, r, err)
		return
	}
	s.log.Info("connector deleted", zap.String("connector", c.Name), zap.String("by", u.Email))
	w.WriteHeader(http.StatusNoContent)
}
