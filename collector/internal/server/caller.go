package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// caller is who sent a request: an agent (host set) or a person or script
// (user set).
type caller struct {
	host *store.Host
	user *store.User
}

// errUnauthenticated means the request carries no credential the collector
// knows.
var errUnauthenticated = errors.New("missing or unknown bearer token")

// authenticate finds the caller from the Authorization header.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return caller{}, errUnauthenticated
	}
	switch {
	case strings.HasPrefix(secret, auth.PrefixHostCredential):
		h, err := s.store.HostByCredentialHash(r.Context(), auth.Hash(secret))
		if errors.Is(err, store.ErrNotFound) {
			return caller{}, errUnauthenticated
		}
		if err != nil {
			return caller{}, fmt.Errorf("authenticate host: %w", err)
		}
		return caller{host: &h}, nil
	case strings.HasPrefix(secret, auth.PrefixUserToken):
		u, err := s.store.UserByTokenHash(r.Context(), auth.Hash(secret))
		if errors.Is(err, store.ErrNotFound) {
			return caller{}, errUnauthenticated
		}
		if err != nil {
			return caller{}, fmt.Errorf("authenticate user: %w", err)
		}
		return caller{user: &u}, nil
	}
	return caller{}, errUnauthenticated
}

// authFailed answers a failed authenticate.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errUnauthenticated) {
		writeError(w, r, http.StatusUnauthorized, api.Error{Error: err.Error()})
		return
	}
	s.serverError(w, r, err)
}

// agent returns the host whose agent sent the request, or answers 401 and
// returns nil.
func (s *Server) agent(w http.ResponseWriter, r *http.Request) *store.Host {
	c, err := s.authenticate(r)
	if err != nil {
		s.authFailed(w, r, err)
		return nil
	}
	if c.host == nil {
		writeError(w, r, http.StatusUnauthorized, api.Error{Error: "this request needs a host credential (Authorization: Bearer dwh_…)"})
		return nil
	}
	return c.host
}

// person returns the user who sent the request and the tenant they act
// in, or answers and returns nil. A user of a tenant acts in it; an
// MSP-wide admin names the tenant with ?tenant=NAME.
func (s *Server) person(w http.ResponseWriter, r *http.Request) (*store.User, string) {
	c, err := s.authenticate(r)
	if err != nil {
		s.authFailed(w, r, err)
		return nil, ""
	}
	if c.user == nil {
		writeError(w, r, http.StatusUnauthorized, api.Error{Error: "this request needs a user API token (Authorization: Bearer dwu_…)"})
		return nil, ""
	}
	tenantID, ok := s.userTenant(w, r, c.user)
	if !ok {
		return nil, ""
	}
	return c.user, tenantID
}

// userTenant returns the tenant u acts in, or answers and returns false.
func (s *Server) userTenant(w http.ResponseWriter, r *http.Request, u *store.User) (string, bool) {
	if u.TenantID != "" {
		// A tenant's user always acts in their own tenant; ?tenant cannot
		// reach another one.
		return u.TenantID, true
	}
	name := r.URL.Query().Get("tenant")
	if name == "" {
		writeError(w, r, http.StatusBadRequest, api.Error{
			Error: "an MSP-wide user must name the tenant with ?tenant=NAME",
			Field: "tenant",
		})
		return "", false
	}
	t, err := s.store.TenantByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("no tenant named %q", name), Field: "tenant"})
		return "", false
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("tenant %q: %w", name, err))
		return "", false
	}
	return t.ID, true
}
