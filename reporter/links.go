package reporter

import (
	"net/url"
	"strconv"
	"strings"
)

// DefaultBasePath is where the collector serves the web pages: its root
// holds /api/v1/, /healthz and the Prometheus /metrics.
const DefaultBasePath = "/ui"

// The web routes, as http.ServeMux patterns relative to the base path (mount
// them with http.StripPrefix). Links builds the matching URLs; a value from
// a user is always escaped in them.
const (
	RouteOverview        = "GET /{$}"
	RouteSignIn          = "GET /signin"
	RouteSignInPost      = "POST /signin"
	RouteSignOut         = "POST /signout"
	RouteInbox           = "GET /inbox"
	RouteHosts           = "GET /hosts"
	RouteHost            = "GET /hosts/{host}"
	RouteHostDoc         = "GET /hosts/{host}/doc"
	RouteHostDocMarkdown = "GET /hosts/{host}/doc.md"
	RouteHostDocHTML     = "GET /hosts/{host}/doc.html"
	RouteTenantDoc       = "GET /tenants/{tenant}/doc"
	RouteTenantDocMD     = "GET /tenants/{tenant}/doc.md"
	RouteTenantDocHTML   = "GET /tenants/{tenant}/doc.html"
	RouteDrift           = "GET /drift/{id}"
	RouteDriftAccept     = "POST /drift/{id}/accept"
	RouteDriftLink       = "POST /drift/{id}/link"
	RouteDriftRevert     = "POST /drift/{id}/revert"
	RouteTickets         = "GET /tickets"
	RouteTicketNew       = "GET /tickets/new"
	RouteTicketCreate    = "POST /tickets"
	RouteTicket          = "GET /tickets/{id}"
	RouteTicketAction    = "POST /tickets/{id}/action"
	RouteChangeLog       = "GET /changelog"
	RouteChangeLogCSV    = "GET /changelog.csv"
	RouteSearch          = "GET /search"
	RouteMetrics         = "GET /metrics"
	RouteAudit           = "GET /audit"
	RouteOutbox          = "GET /outbox"
	RouteStatic          = "GET /static/"

	// The notification preferences: open and saved with a signed link
	// from an email (no sign-in) or by a signed-in user; one-click
	// unsubscription (RFC 8058) and its confirmation page.
	RouteNotifications     = "GET /notifications"
	RouteNotificationsSave = "POST /notifications"
	RouteUnsubscribe       = "GET /notifications/unsubscribe"
	RouteUnsubscribePost   = "POST /notifications/unsubscribe"
)

// Links builds the URLs of the web pages under a base: a path such as
// "/ui" for pages, or an absolute URL such as
// "https://drift.example.net/ui" for email. Every value is escaped:
// path segments with url.PathEscape, queries with url.Values.
type Links struct {
	// Base is the URL prefix, without a trailing slash.
	Base string
}

// NewLinks returns Links under base, trimming a trailing slash.
func NewLinks(base string) Links { return Links{Base: strings.TrimRight(base, "/")} }

func (l Links) path(segments ...string) string {
	var sb strings.Builder
	sb.WriteString(l.Base)
	for _, s := range segments {
		sb.WriteByte('/')
		sb.WriteString(s)
	}
	return sb.String()
}

func withQuery(u string, q url.Values) string {
	if enc := q.Encode(); enc != "" {
		return u + "?" + enc
	}
	return u
}

func tenantQuery(tenant string) url.Values {
	q := url.Values{}
	if tenant != "" {
		q.Set(FieldTenant, tenant)
	}
	return q
}

// Overview is the overview of every tenant, or of one.
func (l Links) Overview(tenant string) string { return withQuery(l.Base+"/", tenantQuery(tenant)) }

// SignIn is the sign-in page; next is where to go afterwards.
func (l Links) SignIn(next string) string {
	q := url.Values{}
	if next != "" {
		q.Set(FieldNext, next)
	}
	return withQuery(l.path("signin"), q)
}

// SignOut is where the sign-out form posts.
func (l Links) SignOut() string { return l.path("signout") }

// Inbox is the drift inbox with a filter and a page cursor.
func (l Links) Inbox(f InboxFilter, cursor string) string {
	q := f.Query()
	if cursor != "" {
		q.Set(FieldCursor, cursor)
	}
	return withQuery(l.path("inbox"), q)
}

// Hosts is the host list of a tenant, or of all.
func (l Links) Hosts(tenant string) string { return withQuery(l.path("hosts"), tenantQuery(tenant)) }

// Host is a host's page.
func (l Links) Host(id string) string { return l.path("hosts", url.PathEscape(id)) }

// HostBaselineDiff is a host's page comparing two baseline versions.
func (l Links) HostBaselineDiff(id string, from, to int) string {
	q := url.Values{}
	q.Set(FieldFrom, strconv.Itoa(from))
	q.Set(FieldTo, strconv.Itoa(to))
	return withQuery(l.Host(id), q) + "#baseline-diff"
}

// HostDoc is a host's baseline documentation; format is "" for the page,
// "md" for Markdown and "html" for standalone HTML. version 0 is the
// current baseline.
func (l Links) HostDoc(id string, format string, version int) string {
	name := "doc"
	if format != "" {
		name += "." + format
	}
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	return withQuery(l.path("hosts", url.PathEscape(id), name), q)
}

// TenantDoc is a tenant's baseline documentation; format as for HostDoc.
func (l Links) TenantDoc(id string, format string) string {
	name := "doc"
	if format != "" {
		name += "." + format
	}
	return l.path("tenants", url.PathEscape(id), name)
}

// Drift is a drift item's page.
func (l Links) Drift(id string) string { return l.path("drift", url.PathEscape(id)) }

// DriftView is a drift item's page with the diff shown unified or side by
// side.
func (l Links) DriftView(id, view string) string {
	return withQuery(l.Drift(id), url.Values{FieldView: {view}}) + "#diff"
}

// DriftAction is where a drift action form posts: action is "accept",
// "link" or "revert".
func (l Links) DriftAction(id, action string) string {
	return l.path("drift", url.PathEscape(id), url.PathEscape(action))
}

// Tickets is the ticket list, optionally of one tenant and state.
func (l Links) Tickets(tenant string, state TicketState) string {
	q := tenantQuery(tenant)
	if state != "" {
		q.Set("state", string(state))
	}
	return withQuery(l.path("tickets"), q)
}

// TicketsPage is the ticket list with a filter and a page cursor.
func (l Links) TicketsPage(f TicketFilter, cursor string) string {
	q := tenantQuery(f.TenantID)
	if f.State != "" {
		q.Set("state", string(f.State))
	}
	if f.Query != "" {
		q.Set(FieldQuery, f.Query)
	}
	if cursor != "" {
		q.Set(FieldCursor, cursor)
	}
	return withQuery(l.path("tickets"), q)
}

// NewTicket is the ticket form; scope pre-fills it from a drift item.
func (l Links) NewTicket(tenant, fromDrift string) string {
	q := tenantQuery(tenant)
	if fromDrift != "" {
		q.Set("drift", fromDrift)
	}
	return withQuery(l.path("tickets", "new"), q)
}

// CreateTicket is where the ticket form posts.
func (l Links) CreateTicket() string { return l.path("tickets") }

// Ticket is a ticket's page.
func (l Links) Ticket(id string) string { return l.path("tickets", url.PathEscape(id)) }

// TicketAction is where a ticket's action buttons post.
func (l Links) TicketAction(id string) string { return l.path("tickets", url.PathEscape(id), "action") }

// ChangeLog is the change log of a tenant (or all) over a period, given as
// the dates the filter form sends ("2006-01-02"); empty means the default.
func (l Links) ChangeLog(tenant, from, to string) string {
	return withQuery(l.path("changelog"), periodQuery(tenant, from, to))
}

// ChangeLogCSV is the change log as CSV.
func (l Links) ChangeLogCSV(tenant, from, to string) string {
	return withQuery(l.path("changelog.csv"), periodQuery(tenant, from, to))
}

func periodQuery(tenant, from, to string) url.Values {
	q := tenantQuery(tenant)
	if from != "" {
		q.Set(FieldFrom, from)
	}
	if to != "" {
		q.Set(FieldTo, to)
	}
	return q
}

// Search is the search page for a query.
func (l Links) Search(query string) string {
	q := url.Values{}
	if query != "" {
		q.Set(FieldQuery, query)
	}
	return withQuery(l.path("search"), q)
}

// Metrics is the metrics page.
func (l Links) Metrics(tenant string) string {
	return withQuery(l.path("metrics"), tenantQuery(tenant))
}

// Audit is the audit log; cursor pages it.
func (l Links) Audit(tenant, cursor string) string {
	q := tenantQuery(tenant)
	if cursor != "" {
		q.Set(FieldCursor, cursor)
	}
	return withQuery(l.path("audit"), q)
}

// Outbox is the email outbox.
func (l Links) Outbox(tenant string) string { return withQuery(l.path("outbox"), tenantQuery(tenant)) }

// Static is an embedded asset, with its content version for caching.
func (l Links) Static(name string) string {
	u := l.path("static", name)
	if v := assetVersion(name); v != "" {
		u += "?v=" + v
	}
	return u
}

// safeExternalURL returns u when it is an absolute http or https URL, and
// "" otherwise: links from integrations are shown only when they cannot
// run script.
func safeExternalURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return p.String()
}

// SafeNext returns next when it is a path on this site (one slash, not
// two, no scheme, no backslash), and fallback otherwise: the sign-in form
// redirects only there.
func SafeNext(next, fallback string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return fallback
	}
	p, err := url.Parse(next)
	if err != nil || p.Scheme != "" || p.Host != "" {
		return fallback
	}
	return next
}
