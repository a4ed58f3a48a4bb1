package web

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// Times on the pages are shown in the reader's zone: the one the user
// chose on the settings page; else the default of the tenant the page is
// about (the one ?tenant= names, or the user's own); else
// Options.Location; else UTC. The pages name the zone.

// locationKey carries a request's zone in its context.
type locationKey struct{}

// withLocation finds the zone of a signed-in user's request and puts it
// in the request's context; a zone that no longer loads is skipped.
func (h *Handler) withLocation(r *http.Request, p *principal) (*http.Request, error) {
	tenantID := p.user.TenantID
	for _, id := range []string{r.PathValue("tenant"), strings.TrimSpace(r.URL.Query().Get(reporter.FieldTenant))} {
		if _, ok := p.tenant(id); ok && id != "" {
			tenantID = id
			break
		}
	}
	user, tenant, err := h.st.TimeZones(r.Context(), p.user.ID, tenantID)
	if err != nil {
		return r, err
	}
	p.zone, p.tenantZone = user, tenant
	loc := h.opt.Location
	for _, z := range []string{user, tenant} {
		if l, err := policy.LoadZone(z); err == nil {
			loc = l
			break
		}
	}
	return r.WithContext(context.WithValue(r.Context(), locationKey{}, loc)), nil
}

// loc is the zone times are shown in for a request's context.
func (h *Handler) loc(ctx context.Context) *time.Location {
	if l, ok := ctx.Value(locationKey{}).(*time.Location); ok && l != nil {
		return l
	}
	return h.opt.Location
}

// settings serves the settings page: the user's time zone and, for an
// administrator, the default zone of the tenant.
func (h *Handler) settings(w http.ResponseWriter, r *http.Request, p *principal) error {
	return h.renderSettings(w, r, p, nil, http.StatusOK)
}

// settingsTenant is the tenant whose default the settings page shows: the
// one ?tenant= names, or the user's own; ok is false for an MSP user on
// all tenants.
func (h *Handler) settingsTenant(r *http.Request, p *principal) (store.Tenant, bool, error) {
	id := strings.TrimSpace(r.FormValue(reporter.FieldTenant))
	if id == "" {
		id = p.user.TenantID
	}
	if id == "" {
		return store.Tenant{}, false, nil
	}
	t, ok := p.tenant(id)
	if !ok {
		return store.Tenant{}, false, notFound()
	}
	return t, true, nil
}

func (h *Handler) renderSettings(w http.ResponseWriter, r *http.Request, p *principal, errs map[string]string, status int) error {
	t, ok, err := h.settingsTenant(r, p)
	if err != nil {
		return err
	}
	page := &reporter.SettingsPage{UserZone: p.zone, DefaultZone: h.opt.Location.String(), Errors: errs}
	if ok {
		page.Tenant = &reporter.TenantRef{ID: t.ID, Name: t.Name}
		page.TenantZone = p.tenantZone
		page.CanSetTenant = p.atLeast(store.RoleAdmin)
	}
	page.Zones = h.timeZones(p.zone)
	for _, z := range []string{p.tenantZone} {
		if z != "" && !slices.Contains(page.Zones, z) {
			page.Zones = append(page.Zones, z)
		}
	}
	page.Page = h.basePage(w, r, p, t.ID)
	return h.write(w, status, func(out io.Writer) error { return h.r.Settings(out, page) })
}

// settingsSave saves the user's zone, or the tenant's default zone
// (administrators only).
func (h *Handler) settingsSave(w http.ResponseWriter, r *http.Request, p *principal) error {
	zone := strings.TrimSpace(r.PostForm.Get(reporter.FieldTimeZone))
	field := reporter.FieldTimeZone
	forTenant := r.PostForm.Get("scope") == "tenant"
	var t store.Tenant
	if forTenant {
		field = reporter.FieldTenantTimeZone
		var ok bool
		var err error
		if t, ok, err = h.settingsTenant(r, p); err != nil {
			return err
		}
		if !ok {
			return badRequest("Name the tenant whose default zone to set.")
		}
		if !p.atLeast(store.RoleAdmin) {
			return forbidden("Setting a tenant's default time zone needs the admin role.")
		}
	}
	if zone != "" {
		if _, err := policy.LoadZone(zone); err != nil {
			p.zone, p.tenantZone = h.keepForm(p, forTenant, zone)
			return h.renderSettings(w, r, p, map[string]string{field: "“" + zone + "” is not a time zone; pick one such as Europe/Berlin or America/New_York."},
				http.StatusUnprocessableEntity)
		}
	}
	ctx := r.Context()
	if !forTenant {
		if err := h.st.SetUserTimeZone(ctx, p.user.ID, zone, h.now()); err != nil {
			return err
		}
		msg := "Times are now shown in " + zone + "."
		if zone == "" {
			msg = "Times are now shown in the tenant's default zone."
		}
		h.flash(w, r, reporter.FlashSuccess, msg)
		return h.see(w, r, h.links.Settings(r.PostForm.Get(reporter.FieldTenant)))
	}
	if err := h.st.SetTenantTimeZone(ctx, t.ID, zone, p.user.Email, h.now()); err != nil {
		return err
	}
	h.log.Info("tenant time zone set", zap.String("tenant", t.ID), zap.String("user", p.user.ID), zap.String("zone", zone))
	msg := "The default time zone of " + t.Name + " is now " + zone + "."
	if zone == "" {
		msg = "The default time zone of " + t.Name + " is now the collector's, " + h.opt.Location.String() + "."
	}
	h.flash(w, r, reporter.FlashSuccess, msg)
	return h.see(w, r, h.links.Settings(t.ID))
}

// keepForm returns the zones the settings page shows after a refused
// form: the one typed in its field, the stored one in the other.
func (h *Handler) keepForm(p *principal, forTenant bool, zone string) (user, tenant string) {
	if forTenant {
		return p.zone, zone
	}
	return zone, p.tenantZone
}
