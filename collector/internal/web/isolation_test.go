package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// routeRequest is one request of the walk: a route's method and path
// with another tenant's objects in it.
type routeRequest struct {
	method, path string
	form         url.Values
}

// foreignRequests builds, for every route, requests that name the objects
// of tenant "other" (its host, drift item, ticket and itself).
func foreignRequests(f *fixture, other string) map[string][]routeRequest {
	host, drift, tenant, ticketID := "h-web01", "d-web01-sshd", "t-acme", f.tickets["CHG-1001"].ID
	if other == "t-globex" {
		host, drift, tenant, ticketID = "h-mail01", "d-mail01-main", "t-globex", f.tickets["CHG-2001"].ID
	}
	ref := map[string]string{"t-acme": "CHG-1001", "t-globex": "CHG-2001"}[other]
	q := "?tenant=" + tenant
	get := func(p ...string) []routeRequest {
		var out []routeRequest
		for _, x := range p {
			out = append(out, routeRequest{method: http.MethodGet, path: x})
		}
		return out
	}
	post := func(p string, form url.Values) []routeRequest {
		return []routeRequest{{method: http.MethodPost, path: p, form: form}}
	}
	return map[string][]routeRequest{
		reporter.RouteOverview:        get("/ui/" + q),
		reporter.RouteInbox:           get("/ui/inbox"+q, "/ui/inbox"+q+"&host=web-01"),
		reporter.RouteHosts:           get("/ui/hosts" + q),
		reporter.RouteHost:            get("/ui/hosts/"+host, "/ui/hosts/"+host+q, "/ui/hosts/"+host+"?from=1&to=1"),
		reporter.RouteHostDoc:         get("/ui/hosts/" + host + "/doc"),
		reporter.RouteHostDocMarkdown: get("/ui/hosts/" + host + "/doc.md"),
		reporter.RouteHostDocHTML:     get("/ui/hosts/" + host + "/doc.html?version=1"),
		reporter.RouteTenantDoc:       get("/ui/tenants/" + tenant + "/doc"),
		reporter.RouteTenantDocMD:     get("/ui/tenants/" + tenant + "/doc.md"),
		reporter.RouteTenantDocHTML:   get("/ui/tenants/" + tenant + "/doc.html"),
		reporter.RouteDrift:           get("/ui/drift/"+drift, "/ui/drift/"+drift+q),
		reporter.RouteDriftAccept:     post("/ui/drift/"+drift+"/accept", url.Values{reporter.FieldReason: {"mine now"}}),
		reporter.RouteDriftLink:       post("/ui/drift/"+drift+"/link", url.Values{reporter.FieldReason: {"mine"}, reporter.FieldTicket: {ref}}),
		reporter.RouteDriftRevert:     post("/ui/drift/"+drift+"/revert", url.Values{reporter.FieldReason: {"undo"}}),
		reporter.RouteTickets:         get("/ui/tickets" + q),
		reporter.RouteTicketNew:       get("/ui/tickets/new"+q, "/ui/tickets/new?drift="+drift),
		reporter.RouteTicketCreate: post("/ui/tickets", url.Values{reporter.FieldTenant: {tenant}, reporter.FieldTitle: {"take over"},
			reporter.FieldDescription: {"x"}, reporter.FieldRollbackPlan: {"x"}, reporter.FieldHostPatterns: {"*"}, reporter.FieldItemPatterns: {"file:/etc/**"}}),
		reporter.RouteTicket:       get("/ui/tickets/"+ticketID, "/ui/tickets/"+ref),
		reporter.RouteTicketAction: post("/ui/tickets/"+ticketID+"/action", url.Values{reporter.FieldAction: {"cancel"}, reporter.FieldComment: {"mine"}}),
		reporter.RouteChangeLog:    get("/ui/changelog" + q),
		reporter.RouteChangeLogCSV: get("/ui/changelog.csv" + q),
		reporter.RouteSearch:       get("/ui/search" + q + "&q=sshd_config"),
		reporter.RouteMetrics:      get("/ui/metrics" + q),
		reporter.RouteAudit:        get("/ui/audit" + q),
		reporter.RouteOutbox:       get("/ui/outbox" + q),
		reporter.RouteSettings:     get("/ui/settings" + q),
		reporter.RouteSettingsSave: post("/ui/settings", url.Values{reporter.FieldTenant: {tenant}, "scope": {"tenant"}, reporter.FieldTimeZone: {"Asia/Tokyo"}}),
		// Without a link token the notification pages show the user's own
		// preferences, never in another tenant.
		reporter.RouteNotifications:     get("/ui/notifications" + q),
		reporter.RouteNotificationsSave: post("/ui/notifications", url.Values{reporter.FieldTenant: {tenant}, "list": {"digest"}}),
		reporter.RouteUnsubscribe:       get("/ui/notifications/unsubscribe" + q),
		reporter.RouteUnsubscribePost:   post("/ui/notifications/unsubscribe"+q, url.Values{"List-Unsubscribe": {"One-Click"}}),
	}
}

// publicRoutes need no session and show no tenant's data.
var publicRoutes = map[string]bool{reporter.RouteSignIn: true, reporter.RouteSignInPost: true, reporter.RouteSignOut: true, reporter.RouteStatic: true}

// TestTenantIsolation walks every route as a user of another tenant,
// naming Acme's host, drift item, ticket and tenant: each answers 404 (or
// 403), shows nothing of Acme, and changes nothing.
func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name, user, other string
		secrets           []string
	}{
		{"Globex admin on Acme", "ops@globex.test", "t-acme", []string{"Acme", "web-01", "sshd_config", "CHG-1001"}},
		{"Acme approver on Globex", "appr@acme.test", "t-globex", []string{"Globex", "mail-01", "main.cf", "CHG-2001"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client()
			c.signIn(tt.user)
			reqs := foreignRequests(f, tt.other)
			for _, route := range Routes() {
				if publicRoutes[route] {
					continue
				}
				rs, ok := reqs[route]
				if !ok {
					t.Errorf("route %s is not walked: add it to foreignRequests", route)
					continue
				}
				for _, rq := range rs {
					var r response
					if rq.method == http.MethodPost {
						r = c.post(rq.path, rq.form)
					} else {
						r = c.get(rq.path)
					}
					if r.status != http.StatusNotFound && r.status != http.StatusForbidden {
						t.Errorf("%s %s: %d, want 404 or 403", rq.method, rq.path, r.status)
					}
					for _, s := range tt.secrets {
						if strings.Contains(r.body, s) {
							t.Errorf("%s %s shows %q of the other tenant", rq.method, rq.path, s)
						}
					}
				}
			}
		})
	}
	// Nothing changed.
	for _, id := range []string{"d-web01-sshd"} {
		if di := f.driftItem("t-acme", id); di.Status != "open" {
			t.Errorf("%s is %s after the walk", id, di.Status)
		}
	}
	if di := f.driftItem("t-globex", "d-mail01-main"); di.Status != "open" {
		t.Errorf("d-mail01-main is %s after the walk", di.Status)
	}
	st, err := f.st.Ticket(t.Context(), "t-acme", f.tickets["CHG-1001"].ID)
	if err != nil || st.State != "approved" || st.Version != f.tickets["CHG-1001"].Version {
		t.Errorf("CHG-1001 after the walk: %s v%d, %v", st.State, st.Version, err)
	}
	if ts, _, _ := f.st.Tickets(t.Context(), "t-acme", storeTicketFilter()); len(ts) != 2 {
		t.Errorf("Acme has %d tickets after the walk, want 2", len(ts))
	}
	// The same walk as the MSP's admin reaches Acme's pages: the walk
	// names things that exist.
	admin := f.client()
	admin.signIn("admin@msp.test")
	for _, rs := range foreignRequests(f, "t-acme") {
		for _, rq := range rs {
			if rq.method != http.MethodGet {
				continue
			}
			if r := admin.get(rq.path); r.status != http.StatusOK {
				t.Errorf("MSP admin: GET %s: %d, want 200", rq.path, r.status)
			}
		}
	}
}

func storeTicketFilter() store.TicketFilter { return store.TicketFilter{} }
