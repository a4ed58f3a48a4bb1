package reporter

import "io"

// Routes of the settings page.
const (
	RouteSettings     = "GET /settings"
	RouteSettingsSave = "POST /settings"
)

// FieldTenantTimeZone names the tenant's default zone on the settings
// page, for its error; the form posts the zone as FieldTimeZone (an IANA
// name, empty for the default) with scope=tenant.
const FieldTenantTimeZone = "tenant_time_zone"

// Settings is the settings page, of a tenant ("" for the user's own).
func (l Links) Settings(tenant string) string {
	return withQuery(l.path("settings"), tenantQuery(tenant))
}

// SettingsPage is where a user chooses the time zone the pages show times
// in, and an administrator the default zone of a tenant.
type SettingsPage struct {
	Page
	// UserZone is the zone the user chose; "" for the tenant's default.
	UserZone string
	// Tenant is the tenant whose default zone the page shows; nil for
	// an MSP user on every tenant.
	Tenant *TenantRef
	// TenantZone is the tenant's default; "" for the collector's,
	// DefaultZone.
	TenantZone  string
	DefaultZone string
	// CanSetTenant says the user may set the tenant's default.
	CanSetTenant bool
	// Zones are the zones the forms offer; others can be typed.
	Zones []string
	// Errors are the forms' problems by field.
	Errors map[string]string
}

// Action is where the forms post.
func (p *SettingsPage) Action() string { return p.links.path("settings") }

// Settings renders the settings page.
func (r *Renderer) Settings(w io.Writer, p *SettingsPage) error {
	return r.render(w, "settings", p, "settings", "Settings")
}
