package web

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// manyItems opens n more drift items on a host with a report of its own,
// named prefix-000 …, and reconciles them.
func (f *fixture) manyItems(tenant, hostID string, seq uint64, prefix string, n int) []string {
	f.t.Helper()
	var obs []store.DriftObservation
	var ids []string
	for i := range n {
		key := fmt.Sprintf("file:/etc/app/%s-%03d.conf", prefix, i)
		id := fmt.Sprintf("%s-%03d", prefix, i)
		obs = append(obs, store.DriftObservation{Key: key, Kind: "file", Change: baseline.Added, StateDigest: "s-" + id,
			ChangeDoc: fmt.Appendf(nil, `{"key":%q,"kind":"file","change":"added","redacted":false}`, key), NewID: id})
		ids = append(ids, id)
	}
	_, err := f.st.ApplyDrift(f.t.Context(), tenant, hostID, seq, f.clock.Now(), obs)
	f.must("apply drift", err)
	_, err = f.mgr.Reconcile(f.t.Context(), tenant, "more drift")
	f.must("reconcile", err)
	return ids
}

var driftLink = regexp.MustCompile(`class="row-link" href="/ui/drift/([^"]+)"`)
var nextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)

func TestInboxPaging(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(t0.Add(20 * time.Minute))
	want := f.manyItems("t-acme", "h-db01", 2, "db", 70)
	f.clock.Add(time.Minute)
	want = append(want, f.manyItems("t-globex", "h-mail01", 2, "mail", 40)...)
	want = append(want, "d-web01-sshd", "d-web01-motd", "d-web01-openssl", "d-web01-sudoers")
	f.clock.Set(fixNow)
	c := f.client()
	c.signIn("admin@msp.test")
	// The mail-01 report of seq 2 closed d-mail01-main: it is no longer
	// open.
	var got []string
	path := "/ui/inbox"
	for pages := 0; path != ""; pages++ {
		if pages > 10 {
			t.Fatal("the inbox pages do not end")
		}
		r := c.get(strings.ReplaceAll(path, "&amp;", "&"))
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.status)
		}
		ms := driftLink.FindAllStringSubmatch(r.body, -1)
		if len(ms) > inboxPageSize {
			t.Fatalf("page of %d items", len(ms))
		}
		for _, m := range ms {
			got = append(got, m[1])
		}
		path = ""
		if m := nextLink.FindStringSubmatch(r.body); m != nil {
			path = m[1]
		}
	}
	if len(got) != len(want) {
		t.Errorf("the pages list %d items, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("%s is listed twice", id)
		}
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("%s is not listed", id)
		}
	}
	// The most urgent first, across tenants: level 3 unauthorized, then
	// by level and verdict, the newest first.
	var prio []int
	for _, id := range got {
		tenant := "t-acme"
		if strings.HasPrefix(id, "mail") {
			tenant = "t-globex"
		}
		di := f.driftItem(tenant, id)
		prio = append(prio, store.DriftPriority(di.Verdict, di.Level))
	}
	if !slices.IsSortedFunc(prio, func(a, b int) int { return b - a }) {
		t.Errorf("inbox order by priority: %v", prio)
	}
}

func TestInboxFilters(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("admin@msp.test")
	for _, tt := range []struct {
		query string
		want  []string
	}{
		// Level 3, 2, then level 1 unauthorized (mail-01) before level 1
		// authorized (motd).
		{"", []string{"d-web01-sudoers", "d-web01-sshd", "d-web01-openssl", "d-mail01-main", "d-web01-motd"}},
		{"level=3", []string{"d-web01-sudoers", "d-web01-sshd"}},
		{"verdict=authorized", []string{"d-web01-motd"}},
		{"tenant=t-globex", []string{"d-mail01-main"}},
		{"host=WEB-*&level=1", []string{"d-web01-motd"}},
		{"label=role%3Dmail", []string{"d-mail01-main"}},
		{"item=sshd", []string{"d-web01-sshd"}},
		{"item=file:/etc/*", []string{"d-web01-sudoers", "d-web01-sshd", "d-mail01-main", "d-web01-motd"}},
		{"from=2026-03-03", nil},
		{"to=2026-03-01", nil},
		{"host=nosuchhost", nil},
		{"status=accepted", nil},
	} {
		r := c.get("/ui/inbox?" + tt.query)
		var got []string
		for _, m := range driftLink.FindAllStringSubmatch(r.body, -1) {
			got = append(got, m[1])
		}
		if r.status != http.StatusOK || !slices.Equal(got, tt.want) {
			t.Errorf("inbox?%s: %d %v, want %v", tt.query, r.status, got, tt.want)
		}
	}
	for _, q := range []string{"level=4", "verdict=bogus", "from=yesterday", "label=noequals", "cursor=garbage"} {
		r := c.get("/ui/inbox?" + q)
		if r.status != http.StatusBadRequest || driftLink.MatchString(r.body) {
			t.Errorf("inbox?%s: %d, want 400 and no rows", q, r.status)
		}
	}
}

func TestHostileText(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("eng@msp.test")
	// People type hostile text too: a ticket titled with markup.
	r := c.post("/ui/tickets", url.Values{reporter.FieldTenant: {"t-acme"}, reporter.FieldTitle: {`<img src=x onerror=alert(1)> "quoted" ‮evil`},
		reporter.FieldDescription: {"<script>alert('d')</script>"}, reporter.FieldRollbackPlan: {"r"},
		reporter.FieldHostPatterns: {"web-01"}, reporter.FieldItemPatterns: {"file:/etc/ssh/sshd_config"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create ticket: %d\n%s", r.status, r.body)
	}
	ticketPath := r.header.Get("Location")
	for _, p := range []string{"/ui/drift/d-web01-sshd", "/ui/drift/d-web01-sshd?view=split", "/ui/hosts/h-web01", "/ui/hosts/h-web01/doc",
		"/ui/hosts/h-web01/doc.html", "/ui/tenants/t-acme/doc", "/ui/search?q=sshd_config", ticketPath, "/ui/tickets", "/ui/changelog",
		"/ui/inbox", "/ui/audit?tenant=t-acme"} {
		r := c.get(p)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d", p, r.status)
			continue
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "\u202e", "\u200b", "<b>locked"} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s contains %q unescaped", p, bad)
			}
		}
	}
	drift := c.get("/ui/drift/d-web01-sshd").body
	for _, want := range []string{"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", `title="U+202E RIGHT-TO-LEFT OVERRIDE"`, strings.Repeat("A", 3000)} {
		if !strings.Contains(drift, want) {
			t.Errorf("the drift page does not show %q", want[:min(len(want), 60)])
		}
	}
	md := c.get("/ui/hosts/h-web01/doc.md")
	if md.header.Get("Content-Disposition") != `attachment; filename="web-01-baseline-v1.md"` || strings.Contains(md.body, "\u202e") {
		t.Errorf("Markdown documentation: %q", md.header.Get("Content-Disposition"))
	}
}

func TestChangeLog(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	c.follow(c.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"=HYPERLINK(\"http://evil\")"}}))
	page := c.get("/ui/changelog?tenant=t-acme&from=2026-03-01&to=2026-03-02")
	for _, want := range []string{"file:/etc/motd", "CHG-1001", "eng@msp.test", "noc@acme.test", "version 3.0.11-1~deb12u2 → 3.0.13-1~deb12u1"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("change log lacks %q", want)
		}
	}
	r := c.get("/ui/changelog.csv?tenant=t-acme&from=2026-03-01&to=2026-03-02")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		r.header.Get("Content-Disposition") != `attachment; filename="driftwatch-changes-Acme-Corp-2026-03-01-to-2026-03-02.csv"` {
		t.Fatalf("CSV: %d %q %q", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], reporter.ChangeLogColumns) || len(rows) != 5 {
		t.Fatalf("CSV header %v and %d rows, want the change log columns and 4 changes", rows[0], len(rows)-1)
	}
	for _, row := range rows[1:] {
		if row[3] == "package:openssl" && !strings.HasPrefix(row[11], "Accepted by lead@msp.test: accepted: =HYPERLINK") {
			t.Errorf("openssl notes: %q", row[11])
		}
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q starts like a formula", cell)
			}
		}
	}
	if r := c.get("/ui/changelog?from=2026-03-05&to=2026-03-01"); r.status != http.StatusBadRequest {
		t.Errorf("a period that ends before it starts: %d", r.status)
	}
}

func TestSearch(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("admin@msp.test")
	r := c.get("/ui/search?q=" + url.QueryEscape("sshd_config on all hosts last week"))
	if !strings.Contains(r.body, `href="/ui/drift/d-web01-sshd"`) || !strings.Contains(r.body, "Items in current state") {
		t.Errorf("search for sshd_config last week:\n%s", r.body)
	}
	if r := c.get("/ui/search?q=" + url.QueryEscape("sshd_config on mail-01")); strings.Contains(r.body, "/ui/drift/d-web01-sshd") {
		t.Error("a search on mail-01 finds web-01's drift")
	}
	if r := c.get("/ui/search?q=" + url.QueryEscape("sshd_config yesterday")); strings.Contains(r.body, "/ui/drift/d-web01-sshd") {
		t.Error("a search of yesterday finds today's drift")
	}
	if r := c.get("/ui/search?q=motd"); !strings.Contains(r.body, "CHG-1001") {
		t.Error("a search for motd does not find its ticket")
	}
	viewer := f.client()
	viewer.signIn("ops@globex.test")
	if r := viewer.get("/ui/search?q=sshd_config"); strings.Contains(r.body, "web-01") {
		t.Error("a Globex user's search finds Acme's host")
	}
}

func TestSearchParse(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC) // a Wednesday
	for _, tt := range []struct {
		q            string
		terms        []string
		host         string
		since, until time.Time
	}{
		{"sshd_config on all hosts last week", []string{"sshd_config"}, "", now.AddDate(0, 0, -7), time.Time{}},
		{"PermitRootLogin on web-* yesterday", []string{"permitrootlogin"}, "web-*", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"openssl last 3 days", []string{"openssl"}, "", now.Add(-72 * time.Hour), time.Time{}},
		{"nginx this week", []string{"nginx"}, "", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Time{}},
		{"sudoers deploy", []string{"sudoers", "deploy"}, "", time.Time{}, time.Time{}},
	} {
		got := parseSearch(tt.q, now, time.UTC)
		if !slices.Equal(got.terms, tt.terms) || got.host != tt.host || !got.since.Equal(tt.since) || !got.until.Equal(tt.until) {
			t.Errorf("parse %q: %+v", tt.q, got)
		}
	}
}

func TestAuditLog(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("admin@msp.test")
	r := c.get("/ui/audit?tenant=t-acme")
	if !strings.Contains(r.body, "Chain intact") || !strings.Contains(r.body, "ticket.approve") {
		t.Fatalf("audit page:\n%s", r.body)
	}
	if r := c.get("/ui/audit"); !strings.Contains(r.body, "choose a tenant") {
		t.Error("the audit page of all tenants does not ask for a tenant")
	}
	// Someone edits an entry in the database.
	db, err := sql.Open("sqlite", f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET actor = 'mallory@evil.example' WHERE tenant_id = 't-acme' AND seq = 2`); err != nil {
		t.Fatal(err)
	}
	f.h.changed("t-acme")
	r = c.get("/ui/audit?tenant=t-acme")
	if !strings.Contains(r.body, "Chain broken") || !strings.Contains(r.body, "at entry 2") || !strings.Contains(r.body, `class="broken"`) {
		t.Errorf("audit page after tampering:\n%s", r.body)
	}
}

func TestOutboxAndConnector(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for i, e := range []store.Email{
		{ID: "e-1", TenantID: "t-acme", DedupeKey: "digest/1", Kind: "digest", To: []string{"noc@acme.test"}, Subject: "Weekly digest", CreatedAt: t0},
		{ID: "e-2", TenantID: "t-acme", DedupeKey: "alert/1", Kind: "alert", To: []string{"oncall@acme.test"}, Subject: "Level 3: sshd_config", CreatedAt: t0.Add(time.Minute)},
	} {
		if _, err := f.st.EnqueueEmail(ctx, e); err != nil {
			t.Fatal(err)
		}
		cl, err := f.st.ClaimEmails(ctx, store.EmailClaim{Token: fmt.Sprint("tok-", i), At: t0.Add(2 * time.Minute), Lease: time.Minute, Limit: 1})
		if err != nil || len(cl) != 1 {
			t.Fatalf("claim: %v %v", cl, err)
		}
		if i == 0 {
			err = f.st.MarkEmailSent(ctx, "t-acme", e.ID, fmt.Sprint("tok-", i), t0.Add(3*time.Minute), "250 2.0.0 queued as 42")
		} else {
			err = f.st.MarkEmailFailed(ctx, "t-acme", e.ID, fmt.Sprint("tok-", i), t0.Add(3*time.Minute), "550 5.1.1 <oncall@acme.test>: user unknown")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	c := f.client()
	c.signIn("admin@msp.test")
	r := c.get("/ui/outbox")
	for _, want := range []string{"Weekly digest", "250 2.0.0 queued as 42", "550 5.1.1 &lt;oncall@acme.test&gt;: user unknown", `<span class="badge bad">failed</span>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("outbox lacks %q", want)
		}
	}
	ov := c.get("/ui/")
	if !regexp.MustCompile(`(?s)id="connectors".*Email <span class="muted">smtp</span></td><td>Acme Corp</td>.*user unknown`).MatchString(ov.body) {
		t.Errorf("the overview does not list the failing mail delivery:\n%s", ov.body)
	}
}

func TestDocumentation(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	c.follow(c.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"vendor security update"}, reporter.FieldTicket: {"CHG-1001"}}))
	doc := c.get("/ui/hosts/h-web01/doc")
	for _, want := range []string{"web-01 — baseline v2", "Appendix", "package:openssl", "vendor security update", "PermitRootLogin no",
		"Debian GNU/Linux 12 (bookworm)", "Listening ports", "Unauthorized"} {
		if !strings.Contains(doc.body, want) {
			t.Errorf("host documentation lacks %q", want)
		}
	}
	old := c.get("/ui/hosts/h-web01/doc?version=1")
	if !strings.Contains(old.body, "web-01 — baseline v1") || strings.Contains(old.body, "3.0.13-1~deb12u1") {
		t.Error("documentation of v1 shows v2")
	}
	md := c.get("/ui/hosts/h-web01/doc.md")
	if md.header.Get("Content-Type") != "text/markdown; charset=utf-8" || !strings.HasPrefix(md.body, "# web-01") {
		t.Errorf("Markdown: %q\n%s", md.header.Get("Content-Type"), md.body[:min(200, len(md.body))])
	}
	html := c.get("/ui/hosts/h-web01/doc.html")
	if html.header.Get("Content-Security-Policy") != f.h.r.StandaloneCSP() || strings.Contains(html.body, "<script") ||
		!strings.Contains(html.body, "https://drift.example.net/ui/tickets/") {
		t.Errorf("standalone HTML: CSP %q", html.header.Get("Content-Security-Policy"))
	}
	tdoc := c.get("/ui/tenants/t-acme/doc.md")
	if !strings.Contains(tdoc.body, "web-01") || !strings.Contains(tdoc.body, "db-01") || strings.Contains(tdoc.body, "mail-01") {
		t.Error("the tenant's documentation does not hold exactly its hosts")
	}
	if r := c.get("/ui/hosts/h-web01/doc?version=9"); r.status != http.StatusNotFound {
		t.Errorf("documentation of a version that does not exist: %d", r.status)
	}
}

func TestMetricsPage(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	c.follow(c.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {"ok"}}))
	c.follow(c.post("/ui/drift/d-web01-sudoers/revert", url.Values{reporter.FieldReason: {"no"}}))
	r := c.get("/ui/metrics?tenant=t-acme")
	for _, want := range []string{`<span class="n">4</span>changes`, `<span class="n">1</span>authorized`, `<span class="n">3</span>unauthorized`,
		`<span class="n">50.0 %</span>change success rate`, `id="drift-per-day"`, `id="success-rate"`, `id="mttr"`, `<span class="n">1</span>level 3 open`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics page lacks %q", want)
		}
	}
	if c := strings.Count(r.body, "<svg"); c != 3 {
		t.Errorf("%d charts, want 3", c)
	}
}

// TestHostsNotSeen lists a host whose agent went silent, and not one
// whose agent sends heartbeats without reports (nothing changed).
func TestHostsNotSeen(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("admin@msp.test")
	notSeen := regexp.MustCompile(`(?s)id="not-seen".*?</table>`)
	if sec := notSeen.FindString(c.get("/ui/").body); !strings.Contains(sec, "db-01") {
		t.Fatalf("db-01, silent for 5 h, is not listed as not seen recently:\n%s", sec)
	}
	if err := f.st.RecordHeartbeat(t.Context(), "t-acme", "h-db01", store.Heartbeat{At: fixNow.Add(-time.Minute), Status: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// The overview shows what it read a moment ago until the moment is
	// over.
	f.clock.Add(overviewTTL)
	if sec := notSeen.FindString(c.get("/ui/").body); strings.Contains(sec, "db-01") || !strings.Contains(sec, "Every host reported recently") {
		t.Errorf("db-01, heard from a minute ago, is listed as not seen recently:\n%s", sec)
	}
	if host := c.get("/ui/hosts/h-db01"); !strings.Contains(host.body, `<time datetime="2026-03-02T06:03:00Z">`) {
		t.Error("the host page does not show the heartbeat as last seen")
	}
}

// countingStore is the fixture's store, counting the calls of
// DriftCounts.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls int
}

func (s *countingStore) DriftCounts(ctx context.Context, tenantID string) ([]store.DriftCount, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.Store.DriftCounts(ctx, tenantID)
}

func (s *countingStore) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// TestSlowCounts: the counts of a tenant whose counting is slow are
// reused, counted again in the background once they are old, and counted
// at once after a change made in the web report.
func TestSlowCounts(t *testing.T) {
	f := newFixture(t)
	cs := &countingStore{Store: f.st}
	h, err := New(Options{Store: cs, Changes: f.mgr, Now: f.clock.Now, PasswordParams: testParams})
	if err != nil {
		t.Fatal(err)
	}
	h.slowCount = 0   // every count is slow
	h.overviewTTL = 0 // and the overview reads afresh every time
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f2 := *f
	f2.srv = srv
	c := f2.client()
	c.signIn("lead@msp.test") // counts both tenants, once
	unauth := regexp.MustCompile(`<span class="n">(\d+)</span>unauthorized`)
	unauthorized := func() string { return unauth.FindStringSubmatch(c.get("/ui/?tenant=t-acme").body)[1] }
	if got := unauthorized(); got != "3" || cs.n() != 2 {
		t.Fatalf("first overview: %s unauthorized, %d counts; want 2 and the counts kept from signing in", got, cs.n())
	}
	// New drift reported meanwhile: the kept counts are shown.
	f.clock.Set(t0.Add(30 * time.Minute))
	f.manyItems("t-acme", "h-db01", 2, "db", 3)
	if got := unauthorized(); got != "3" || cs.n() != 2 {
		t.Errorf("second overview: %s unauthorized, %d counts; want the kept counts", got, cs.n())
	}
	// Once old, they are still shown, and counted again in the
	// background.
	h.countsTTL = 0
	unauthorized()
	waitCond(t, "the count in the background", func() bool { return cs.n() == 3 })
	h.countsTTL = time.Hour
	waitCond(t, "the fresh counts", func() bool { return unauthorized() == "6" })
	// A change made here counts afresh at once.
	c.follow(c.post("/ui/drift/d-web01-sshd/revert", url.Values{reporter.FieldReason: {"undo"}}))
	if got := unauthorized(); got != "5" {
		t.Errorf("overview after a revert here: %s unauthorized, want 5", got)
	}
}

// waitCond polls cond until it holds, failing after a generous bound that
// only a broken behaviour reaches.
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
