package web

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// follow reads the page a redirect points to.
func (c *client) follow(r response) response {
	c.f.t.Helper()
	if r.status != http.StatusSeeOther {
		c.f.t.Fatalf("want a redirect, got %d\n%s", r.status, r.body)
	}
	return c.get(r.header.Get("Location"))
}

// auditActions lists a tenant's audit actions, oldest first.
func (f *fixture) auditActions(tenant string) []string {
	f.t.Helper()
	es, err := f.st.AuditEntries(f.t.Context(), tenant, 0, 0)
	f.must("audit entries", err)
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.Actor)
	}
	return out
}

func TestAcceptDrift(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	before := len(f.auditActions("t-acme"))
	r := c.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"security update from the vendor"},
		reporter.FieldTicket: {"CHG-1001"}})
	if r.header.Get("Location") != "/ui/drift/d-web01-openssl" {
		t.Fatalf("accept redirects to %q", r.header.Get("Location"))
	}
	page := c.follow(r)
	if !strings.Contains(page.body, "Accepted into the baseline of web-01: it is now v2.") {
		t.Errorf("the drift page does not say what was done:\n%s", page.body)
	}
	if strings.Contains(page.body, `action="/ui/drift/d-web01-openssl/accept"`) {
		t.Error("the accepted item still offers to accept it")
	}
	di := f.driftItem("t-acme", "d-web01-openssl")
	if di.Status != store.DriftPromoted || di.ResolvedBy != "lead@msp.test" || di.TicketRef != "CHG-1001" {
		t.Errorf("item after accept: status %s by %q ticket %q", di.Status, di.ResolvedBy, di.TicketRef)
	}
	b, err := f.st.Baseline(t.Context(), "t-acme", "h-web01", 0)
	if err != nil || b.Meta.Version != 2 || b.Meta.ApprovedBy != "lead@msp.test" || !strings.Contains(b.Meta.Reason, "security update") ||
		!slices.Equal(b.Meta.Tickets, []string{"CHG-1001"}) {
		t.Errorf("baseline after accept: %+v, %v", b.Meta, err)
	}
	actions := f.auditActions("t-acme")[before:]
	if !slices.Contains(actions, audit.ActionBaselineAdd+" lead@msp.test") || !slices.Contains(actions, audit.ActionDriftAccept+" lead@msp.test") {
		t.Errorf("audit entries of the accept: %v", actions)
	}
	// The host page lists v2 and shows its difference from v1.
	host := c.get("/ui/hosts/h-web01?from=1&to=2")
	for _, want := range []string{"Changes from v1 to v2", "package:openssl", "3.0.13-1~deb12u1", "accepted: security update from the vendor"} {
		if !strings.Contains(host.body, want) {
			t.Errorf("host page lacks %q", want)
		}
	}
	// Accepting again is refused: the item is part of the baseline.
	r = c.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"again"}})
	if r.status != http.StatusConflict {
		t.Errorf("accept an accepted item: %d, want 409", r.status)
	}
}

func TestDriftFormErrors(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	for _, tt := range []struct {
		action string
		form   url.Values
		want   string
	}{
		{"accept", url.Values{reporter.FieldReason: {"  "}}, "Say why."},
		{"accept", url.Values{reporter.FieldReason: {"ok"}, reporter.FieldTicket: {"CHG 1"}}, "one word"},
		{"revert", url.Values{}, "Say why."},
		{"link", url.Values{reporter.FieldReason: {"belongs to it"}}, "Name the ticket"},
		{"link", url.Values{reporter.FieldReason: {"belongs to it"}, reporter.FieldTicket: {"CHG-9999"}}, "no ticket CHG-9999"},
	} {
		r := c.post("/ui/drift/d-web01-sshd/"+tt.action, tt.form)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, tt.want) {
			t.Errorf("%s with %v: %d, want 422 with %q", tt.action, tt.form, r.status, tt.want)
		}
		// The refused form comes back with what was typed.
		if v := tt.form.Get(reporter.FieldReason); strings.TrimSpace(v) != "" && !strings.Contains(r.body, v+"</textarea>") {
			t.Errorf("%s: the reason typed is not kept in the form", tt.action)
		}
	}
	if di := f.driftItem("t-acme", "d-web01-sshd"); di.Status != store.DriftOpen {
		t.Errorf("refused forms changed the item: %s", di.Status)
	}
}

func TestRevertDrift(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("eng@msp.test")
	page := c.follow(c.post("/ui/drift/d-web01-sudoers/revert", url.Values{reporter.FieldReason: {"nobody asked for NOPASSWD"}}))
	if !strings.Contains(page.body, "Marked for revert.") || !strings.Contains(page.body, "Revert requested") {
		t.Errorf("the drift page after revert:\n%s", page.body)
	}
	di := f.driftItem("t-acme", "d-web01-sudoers")
	if di.Status != store.DriftRevertRequested || di.Reason != "nobody asked for NOPASSWD" || di.ResolvedBy != "eng@msp.test" {
		t.Errorf("item after revert: %+v", di)
	}
	// The inbox's revert-requested view lists it; the open view does not.
	if r := c.get("/ui/inbox?status=revert_requested"); !strings.Contains(r.body, "d-web01-sudoers") {
		t.Error("the revert-requested inbox does not list the item")
	}
	if r := c.get("/ui/inbox"); strings.Contains(r.body, "d-web01-sudoers") {
		t.Error("the open inbox still lists the item")
	}
}

func TestLinkTicket(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("eng@msp.test")
	tk := f.tickets["CHG-1002"]
	page := c.follow(c.post("/ui/drift/d-web01-sshd/link", url.Values{reporter.FieldTicket: {"CHG-1002"},
		reporter.FieldReason: {"part of the database rollout"}}))
	if !strings.Contains(page.body, "Ticket CHG-1002 now covers file:/etc/ssh/sshd_config on web-01.") {
		t.Errorf("the drift page after linking:\n%s", page.body)
	}
	st, err := f.st.Ticket(t.Context(), "t-acme", tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := decodeTicket(st)
	if !slices.Contains(got.Scope.Hosts, "web-01") || !slices.Contains(got.Scope.Items, "file:/etc/ssh/sshd_config") {
		t.Errorf("ticket scope after linking: %+v", got.Scope)
	}
	// The draft ticket covers the item now, and the item names it; a draft
	// without a window authorizes nothing, so the verdict stays.
	di := f.driftItem("t-acme", "d-web01-sshd")
	if di.Verdict != store.VerdictUnauthorized || !slices.Contains(di.Tickets, tk.ID) {
		t.Errorf("item after linking: verdict %s, tickets %v", di.Verdict, di.Tickets)
	}
	if !regexp.MustCompile(`(?s)Tickets considered.*CHG-1002.*is draft`).MatchString(page.body) {
		t.Error("the drift page does not list the linked ticket among the tickets considered")
	}
	if acts := f.auditActions("t-acme"); !slices.Contains(acts, audit.ActionTicketUpdate+" eng@msp.test") {
		t.Errorf("no ticket.update in the audit log: %v", acts)
	}
	// Linking the approved ticket sends it back for review: a change of
	// scope needs approval again.
	page = c.follow(c.post("/ui/drift/d-web01-sudoers/link", url.Values{reporter.FieldTicket: {"CHG-1001"}, reporter.FieldReason: {"same window"}}))
	if !strings.Contains(page.body, "went back from approved to submitted") {
		t.Errorf("linking an approved ticket does not say it needs approval again:\n%s", page.body)
	}
	if di := f.driftItem("t-acme", "d-web01-motd"); di.Verdict != store.VerdictUnapprovedTicket {
		t.Errorf("motd after its ticket went back to submitted: %s, want unapproved_ticket", di.Verdict)
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	viewer := f.client()
	viewer.signIn("view@acme.test")
	page := viewer.get("/ui/drift/d-web01-openssl")
	if page.status != http.StatusOK || strings.Contains(page.body, "Act on it") {
		t.Errorf("a viewer sees the actions: %d", page.status)
	}
	for _, tt := range []struct {
		c      *client
		who    string
		path   string
		form   url.Values
		status int
	}{
		{viewer, "viewer", "/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"x"}}, http.StatusForbidden},
		{viewer, "viewer", "/ui/drift/d-web01-openssl/revert", url.Values{reporter.FieldReason: {"x"}}, http.StatusForbidden},
		{viewer, "viewer", "/ui/tickets", url.Values{reporter.FieldTitle: {"x"}}, http.StatusForbidden},
	} {
		if r := tt.c.post(tt.path, tt.form); r.status != tt.status {
			t.Errorf("%s POST %s: %d, want %d", tt.who, tt.path, r.status, tt.status)
		}
	}
	if r := viewer.get("/ui/tickets/new"); r.status != http.StatusForbidden {
		t.Errorf("viewer opens the ticket form: %d", r.status)
	}
	if r := viewer.get("/ui/outbox"); r.status != http.StatusForbidden {
		t.Errorf("viewer opens the outbox: %d", r.status)
	}
	eng := f.client()
	eng.signIn("eng@acme.test")
	if r := eng.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"x"}}); r.status != http.StatusForbidden {
		t.Errorf("engineer accepts into the baseline: %d, want 403", r.status)
	}
	if page := eng.get("/ui/drift/d-web01-openssl"); strings.Contains(page.body, "/accept") || !strings.Contains(page.body, "/revert") {
		t.Error("an engineer's drift page should offer revert and not accept")
	}
	if di := f.driftItem("t-acme", "d-web01-openssl"); di.Status != store.DriftOpen {
		t.Errorf("refused actions changed the item: %s", di.Status)
	}
	// A customer's approver accepts into their own tenant's baseline.
	appr := f.client()
	appr.signIn("appr@acme.test")
	if r := appr.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"customer accepts"}}); r.status != http.StatusSeeOther {
		t.Errorf("customer approver accepts: %d", r.status)
	}
	// The outbox is for admins; a customer's admin sees only theirs.
	admin := f.client()
	admin.signIn("ops@globex.test")
	if r := admin.get("/ui/outbox"); r.status != http.StatusOK {
		t.Errorf("customer admin opens the outbox: %d", r.status)
	}
}

var ticketLink = regexp.MustCompile(`^/ui/tickets/(chg_[0-9a-f]+)$`)

func TestTicketWorkflow(t *testing.T) {
	f := newFixture(t)
	eng := f.client()
	eng.signIn("eng@msp.test")
	form := url.Values{
		reporter.FieldTenant: {"t-acme"}, reporter.FieldReference: {"CHG-1010"}, reporter.FieldTitle: {"Pin the NTP servers"},
		reporter.FieldOrigin: {"internal"}, reporter.FieldClass: {"normal"},
		reporter.FieldDescription: {"Use the customer's NTP servers."}, reporter.FieldImpact: {"Clock sync restarts."},
		reporter.FieldRollbackPlan: {"Restore /etc/chrony/chrony.conf from the baseline."},
		reporter.FieldHosts:        {"web-01", "db-01"}, reporter.FieldItemPatterns: {"file:/etc/chrony/**"},
		reporter.FieldWindowStart: {"2026-03-03T22:00"}, reporter.FieldWindowEnd: {"2026-03-03T23:00"}, reporter.FieldTimeZone: {"Europe/Berlin"},
		reporter.FieldNotify: {"noc@acme.test"}, reporter.FieldAnswerPrefix + reporter.QuestionTestedInStaging: {"yes"},
	}
	r := eng.post("/ui/tickets", form)
	m := ticketLink.FindStringSubmatch(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || m == nil {
		t.Fatalf("create ticket: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	id := m[1]
	page := eng.follow(r)
	for _, want := range []string{"CHG-1010", "is saved as a draft", "Pin the NTP servers", `value="submit"`, "2026-03-03 22:00 – 23:00 Europe/Berlin"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("new ticket's page lacks %q", want)
		}
	}
	act := func(c *client, action, comment string) response {
		return c.post("/ui/tickets/"+id+"/action", url.Values{reporter.FieldAction: {action}, reporter.FieldComment: {comment}})
	}
	if r := act(eng, "submit", ""); r.status != http.StatusSeeOther {
		t.Fatalf("submit: %d\n%s", r.status, r.body)
	}
	// The requester may not review their own change; the page offers no
	// such button either.
	page = eng.get("/ui/tickets/" + id)
	if strings.Contains(page.body, `value="review"`) || strings.Contains(page.body, `value="approve"`) {
		t.Error("the requester is offered review or approve")
	}
	if r := act(eng, "review", "fine by me"); r.status != http.StatusForbidden || !strings.Contains(r.body, "cannot review their own ticket") {
		t.Errorf("self-review: %d, want 403 with the reason", r.status)
	}
	lead := f.client()
	lead.signIn("lead@msp.test")
	if r := act(lead, "reject", ""); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Say why.") {
		t.Errorf("reject without a comment: %d, want 422", r.status)
	}
	for _, a := range []string{"review", "approve"} {
		page := lead.follow(act(lead, a, a+" ok"))
		if !strings.Contains(page.body, "Ticket CHG-1010") {
			t.Errorf("after %s: no message", a)
		}
	}
	st, err := f.st.Ticket(t.Context(), "t-acme", id)
	if err != nil || st.State != "approved" {
		t.Fatalf("ticket after review and approval: %s, %v", st.State, err)
	}
	tk, _ := decodeTicket(st)
	if tk.Requester.Email != "eng@msp.test" || tk.Review.By.Email != "lead@msp.test" || len(tk.Approvals) != 1 {
		t.Errorf("who did what: requester %s, review %+v, approvals %+v", tk.Requester.Email, tk.Review, tk.Approvals)
	}
	// The page's buttons are the actions the workflow allows now.
	page = lead.get("/ui/tickets/" + id)
	var buttons []string
	for _, m := range regexp.MustCompile(`name="action" value="([a-z]+)"`).FindAllStringSubmatch(page.body, -1) {
		buttons = append(buttons, m[1])
	}
	if !slices.Equal(buttons, []string{"start", "cancel"}) {
		t.Errorf("buttons of an approved ticket for its approver: %v, want [start cancel]", buttons)
	}
}

func TestTicketForm(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("eng@msp.test")
	// From a drift item: the form is filled with its host and item.
	page := c.get("/ui/tickets/new?drift=d-web01-sshd")
	for _, want := range []string{`<option value="web-01" selected>`, "file:/etc/ssh/sshd_config</textarea>", `name="tenant" value="t-acme"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("form from a drift item lacks %q", want)
		}
	}
	// An MSP user with several tenants chooses one.
	if page := c.get("/ui/tickets/new"); !strings.Contains(page.body, `<select id="f-tenant" name="tenant" required`) {
		t.Error("the form does not ask an MSP user for the tenant")
	}
	for _, tt := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"no title", url.Values{reporter.FieldTenant: {"t-acme"}, reporter.FieldDescription: {"d"}, reporter.FieldRollbackPlan: {"r"},
			reporter.FieldHostPatterns: {"web-01"}, reporter.FieldItemPatterns: {"file:/etc/x"}}, "A title is required"},
		{"no tenant", url.Values{reporter.FieldTitle: {"t"}, reporter.FieldDescription: {"d"}, reporter.FieldRollbackPlan: {"r"},
			reporter.FieldHostPatterns: {"web-01"}, reporter.FieldItemPatterns: {"file:/etc/x"}}, "Choose the tenant"},
		{"relative file pattern", url.Values{reporter.FieldTenant: {"t-acme"}, reporter.FieldTitle: {"t"}, reporter.FieldDescription: {"d"},
			reporter.FieldRollbackPlan: {"r"}, reporter.FieldHostPatterns: {"web-01"}, reporter.FieldItemPatterns: {"file:etc/x"}}, "must be absolute"},
		{"taken reference", url.Values{reporter.FieldTenant: {"t-acme"}, reporter.FieldReference: {"CHG-1001"}, reporter.FieldTitle: {"t"},
			reporter.FieldDescription: {"d"}, reporter.FieldRollbackPlan: {"r"}, reporter.FieldHostPatterns: {"web-01"},
			reporter.FieldItemPatterns: {"file:/etc/x"}}, "Another ticket of this tenant has this reference."},
	} {
		r := c.post("/ui/tickets", tt.form)
		if r.status < 400 || !strings.Contains(r.body, tt.field) {
			t.Errorf("%s: %d, want an error with %q", tt.name, r.status, tt.field)
		}
	}
	if ts, _, _ := f.st.Tickets(t.Context(), "t-acme", store.TicketFilter{}); len(ts) != 2 {
		t.Errorf("refused forms stored tickets: %d", len(ts))
	}
	// A customer's engineer raises customer changes of their tenant only.
	cust := f.client()
	cust.signIn("eng@acme.test")
	r := cust.post("/ui/tickets", url.Values{reporter.FieldTenant: {"t-globex"}, reporter.FieldTitle: {"t"}, reporter.FieldDescription: {"d"},
		reporter.FieldRollbackPlan: {"r"}, reporter.FieldHostPatterns: {"mail-01"}, reporter.FieldItemPatterns: {"file:/etc/x"}})
	if r.status != http.StatusNotFound {
		t.Errorf("customer raises a ticket in another tenant: %d, want 404", r.status)
	}
	r = cust.post("/ui/tickets", url.Values{reporter.FieldTitle: {"Open port 8443"}, reporter.FieldDescription: {"d"},
		reporter.FieldRollbackPlan: {"r"}, reporter.FieldHostPatterns: {"web-01"}, reporter.FieldItemPatterns: {"port:tcp/8443"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("customer raises a ticket: %d\n%s", r.status, r.body)
	}
	tk, _, err := f.h.findTicket(mustRequest(r.header.Get("Location")), &principal{tenants: []store.Tenant{{ID: "t-acme"}}},
		ticketLink.FindStringSubmatch(r.header.Get("Location"))[1])
	if err != nil || tk.Origin != "customer" || tk.TenantID != "t-acme" {
		t.Errorf("customer's ticket: %+v, %v", tk, err)
	}
}

func mustRequest(path string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		panic(err)
	}
	return r
}
