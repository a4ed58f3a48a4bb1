package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/reporter"
)

// footerZone is the zone a page's footer names, and the time it shows.
var footerZone = regexp.MustCompile(`Times in (?:<a [^>]*>)?([A-Za-z_/]+)(?:</a>)? · as of <time datetime="[^"]+">([^<]+)</time>`)

func zoneOf(t *testing.T, body string) (zone, now string) {
	t.Helper()
	m := footerZone.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page's footer names no zone:\n%s", body)
	}
	return m[1], m[2]
}

// TestTimeZones: pages show times in the user's zone, else the tenant's
// default, else the collector's (UTC here), naming the zone; the change
// log's CSV gives each time with its offset.
func TestTimeZones(t *testing.T) {
	f := newFixture(t)
	admin, viewer := f.client(), f.client()
	admin.signIn("admin@msp.test")
	viewer.signIn("view@acme.test")
	check := func(c *client, path, wantZone, wantNow string) {
		t.Helper()
		r := c.get(path)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, r.status)
		}
		if zone, now := zoneOf(t, r.body); zone != wantZone || now != wantNow {
			t.Errorf("GET %s: times in %s (now %s), want %s (%s)", path, zone, now, wantZone, wantNow)
		}
	}
	check(viewer, "/ui/", "UTC", "2026-03-02 06:04")

	// An administrator sets Acme's default.
	r := admin.post("/ui/settings", url.Values{reporter.FieldTenant: {"t-acme"}, "scope": {"tenant"}, reporter.FieldTimeZone: {"Europe/Berlin"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("set the tenant's zone: %d\n%s", r.status, r.body)
	}
	check(viewer, "/ui/", "Europe/Berlin", "2026-03-02 07:04")
	check(viewer, "/ui/drift/d-web01-sshd", "Europe/Berlin", "2026-03-02 07:04")
	// The MSP's staff see it on Acme's pages, and UTC on every tenant's.
	check(admin, "/ui/?tenant=t-acme", "Europe/Berlin", "2026-03-02 07:04")
	check(admin, "/ui/", "UTC", "2026-03-02 06:04")

	// The viewer chooses their own zone, which wins.
	if r := viewer.post("/ui/settings", url.Values{reporter.FieldTimeZone: {"America/New_York"}}); r.status != http.StatusSeeOther {
		t.Fatalf("set the user's zone: %d\n%s", r.status, r.body)
	}
	check(viewer, "/ui/", "America/New_York", "2026-03-02 01:04")
	page := viewer.get("/ui/settings")
	if !strings.Contains(page.body, `value="America/New_York"`) || !strings.Contains(page.body, "the default of Acme Corp") {
		t.Errorf("the settings page does not show the chosen zone and the tenant's default:\n%s", page.body)
	}
	csv := viewer.get("/ui/changelog.csv?from=2026-03-01&to=2026-03-02")
	if !regexp.MustCompile(`(?m)^2026-03-0[12]T\d\d:\d\d:\d\d-05:00,`).MatchString(csv.body) {
		t.Errorf("the CSV's times are not in the user's zone with the offset:\n%s", csv.body)
	}

	// A name that is not a zone is refused, and nothing changes.
	for _, bad := range []string{"Mars/Olympus", "Local", "/etc/localtime", "../../etc/passwd", "<script>"} {
		r := viewer.post("/ui/settings", url.Values{reporter.FieldTimeZone: {bad}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "is not a time zone") {
			t.Errorf("zone %q: %d, want 422 with a message", bad, r.status)
		}
		if strings.Contains(r.body, "<script>") {
			t.Errorf("zone %q is shown unescaped", bad)
		}
	}
	check(viewer, "/ui/", "America/New_York", "2026-03-02 01:04")

	// A viewer may not set the tenant's default.
	if r := viewer.post("/ui/settings", url.Values{reporter.FieldTenant: {"t-acme"}, "scope": {"tenant"}, reporter.FieldTimeZone: {"Asia/Tokyo"}}); r.status != http.StatusForbidden {
		t.Errorf("a viewer sets the tenant's zone: %d, want 403", r.status)
	}
	// Clearing the user's zone falls back to the tenant's default.
	if r := viewer.post("/ui/settings", url.Values{reporter.FieldTimeZone: {""}}); r.status != http.StatusSeeOther {
		t.Fatalf("clear the user's zone: %d", r.status)
	}
	check(viewer, "/ui/", "Europe/Berlin", "2026-03-02 07:04")
}
