package reporter

import (
	"io"
	"net/url"
)

// FieldLinkToken is the query parameter and form field of the signed
// token of a preference or unsubscribe link.
const FieldLinkToken = "t"

// Notifications is the notification preference page: with a signed link
// token, the page of the recipient it speaks for; without, the signed-in
// user's own, of tenant (empty: their own tenant).
func (l Links) Notifications(token, tenant string) string {
	q := url.Values{}
	if token != "" {
		q.Set(FieldLinkToken, token)
	}
	if tenant != "" {
		q.Set(FieldTenant, tenant)
	}
	return withQuery(l.path("notifications"), q)
}

// Unsubscribe is the unsubscription page of a signed link token: its
// GET shows a confirmation with a button, its POST unsubscribes.
func (l Links) Unsubscribe(token string) string {
	q := url.Values{}
	q.Set(FieldLinkToken, token)
	return withQuery(l.path("notifications", "unsubscribe"), q)
}

// NotificationList is one list a recipient can be on, as the preference
// page shows it.
type NotificationList struct {
	// ID is the form value: "digest", "summary" or "alert".
	ID string
	// Name and Description say what the list is.
	Name        string
	Description string
	// Enabled is whether the recipient gets it.
	Enabled bool
	// Mandatory is set when the tenant's policy requires the recipient
	// to get it: the page shows it checked and disabled.
	Mandatory bool
	// Addressed is whether the tenant's settings send this list to the
	// recipient at all.
	Addressed bool
}

// NotificationListInfo returns the name and description of a list.
func NotificationListInfo(id string) (name, description string) {
	switch id {
	case "digest":
		return "Digest", "The scheduled summary of every change on the tenant's hosts (\"This week in changes\")."
	case "summary":
		return "Level 2 summaries", "A periodic summary of changes that escalate internally (level 2)."
	case "alert":
		return "Level 3 alerts", "An alert within a minute of a change that calls for full escalation (level 3), such as an unauthorized change to sshd_config on a production host."
	}
	return id, ""
}

// NotificationsPage is a recipient's notification preferences for one
// tenant.
type NotificationsPage struct {
	Page
	// Token is the signed link token the page was opened with; empty for
	// a signed-in user's own preferences.
	Token string
	// Recipient is the address the preferences are for.
	Recipient string
	Tenant    TenantRef
	Lists     []NotificationList
	// Saved says the form was just saved.
	Saved bool
	// Error says why the form was not saved.
	Error string
	// Tenants are the other tenants a signed-in user can open.
	Tenants []TenantRef
}

// Action is where the form posts.
func (p *NotificationsPage) Action() string { return p.links.Notifications("", "") }

// TenantURL is the page of a signed-in user's preferences in a tenant.
func (p *NotificationsPage) TenantURL(id string) string { return p.links.Notifications("", id) }

// AnyMandatory reports whether a list is mandatory.
func (p *NotificationsPage) AnyMandatory() bool {
	for _, l := range p.Lists {
		if l.Mandatory {
			return true
		}
	}
	return false
}

// Notifications renders the preference page.
func (r *Renderer) Notifications(w io.Writer, p *NotificationsPage) error {
	return r.render(w, "notifications", p, "notifications", "Email preferences")
}

// UnsubscribePage confirms an unsubscription, or asks for it.
type UnsubscribePage struct {
	Page
	Token     string
	Recipient string
	Tenant    TenantRef
	List      NotificationList
	// Done says the recipient is unsubscribed; otherwise the page asks
	// with a button.
	Done bool
}

// Action is where the button posts.
func (p *UnsubscribePage) Action() string { return p.links.Unsubscribe(p.Token) }

// PreferencesURL is the recipient's preference page.
func (p *UnsubscribePage) PreferencesURL() string { return p.links.Notifications(p.Token, "") }

// Unsubscribe renders the unsubscription page.
func (r *Renderer) Unsubscribe(w io.Writer, p *UnsubscribePage) error {
	title := "Unsubscribe"
	if p.Done {
		title = "Unsubscribed"
	}
	return r.render(w, "unsubscribe", p, "notifications", title)
}
