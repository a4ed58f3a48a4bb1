package web

import (
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/reporter"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	csrfValue = regexp.MustCompile(`(name="csrf_token" value=")[^"]+`)
	ticketID  = regexp.MustCompile(`chg_[0-9a-f]{24}`)
)

// normalize replaces what differs between runs: session tokens, and the
// ticket IDs the collector draws at random, numbered in order of first
// appearance.
func normalize(s string) string {
	s = csrfValue.ReplaceAllString(s, "${1}CSRF")
	ids := map[string]string{}
	return ticketID.ReplaceAllStringFunc(s, func(id string) string {
		if n, ok := ids[id]; ok {
			return n
		}
		ids[id] = "chg_TICKET" + strconv.Itoa(len(ids)+1)
		return ids[id]
	})
}

// golden compares a page with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	got = normalize(got)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs from the golden file (-want +got; go test -update rewrites it):\n%s", name, d)
	}
}

// TestGoldenPages renders the key pages from the fixture, at a fixed
// time, and compares them with golden files.
func TestGoldenPages(t *testing.T) {
	f := newFixture(t)
	admin := f.client()
	admin.signIn("admin@msp.test")
	lead := f.client()
	lead.signIn("lead@msp.test")
	cust := f.client()
	cust.signIn("view@acme.test")
	anon := f.client()

	golden(t, "signin.html", anon.get("/ui/signin?next=%2Fui%2Finbox").body)
	golden(t, "overview.html", admin.get("/ui/").body)
	golden(t, "overview-customer.html", cust.get("/ui/").body)
	golden(t, "inbox.html", admin.get("/ui/inbox").body)
	golden(t, "inbox-filtered.html", admin.get("/ui/inbox?tenant=t-acme&level=3&item=file:/etc/*").body)
	golden(t, "drift-unified.html", lead.get("/ui/drift/d-web01-sshd").body)
	golden(t, "drift-split-viewer.html", cust.get("/ui/drift/d-web01-motd?view=split").body)
	golden(t, "tickets.html", admin.get("/ui/tickets").body)
	golden(t, "ticket.html", lead.get("/ui/tickets/"+f.tickets["CHG-1001"].ID).body)
	golden(t, "drift-accept-error.html", lead.post("/ui/drift/d-web01-openssl/accept", url.Values{reporter.FieldReason: {""}}).body)

	// After accepting openssl: the flash, and the host's new baseline
	// compared with the old one.
	golden(t, "drift-accepted.html", lead.follow(lead.post("/ui/drift/d-web01-openssl/accept",
		url.Values{reporter.FieldReason: {"vendor security update"}, reporter.FieldTicket: {"CHG-1001"}})).body)
	golden(t, "host.html", lead.get("/ui/hosts/h-web01?from=1&to=2").body)
	golden(t, "documentation.html", lead.get("/ui/hosts/h-web01/doc").body)
	golden(t, "changelog.csv", lead.get("/ui/changelog.csv?from=2026-03-01&to=2026-03-02").body)
}
