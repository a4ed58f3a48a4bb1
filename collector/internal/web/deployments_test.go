package web

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// A change a CI deployment authorized shows the deployment, with its
// commit, in the change log and its CSV export.
func TestChangeLogShowsDeployment(t *testing.T) {
	f := newFixture(t)
	di := f.driftItem("t-acme", "d-web01-sudoers")
	if di.Verdict != store.VerdictUnauthorized {
		t.Fatalf("fixture: sudoers is %s", di.Verdict)
	}
	commit := "c0ffee1234567890abcdef1234567890abcdef12"
	rec, err := f.mgr.RecordDeployment(t.Context(), "t-acme", changes.DeploymentSpec{Ticket: "CHG-1001", Commit: commit, Environment: "prod",
		Hosts: []string{"web-01"}, At: di.ChangedAt.Add(-2 * time.Minute)}, "ci@msp.test")
	if err != nil || !rec.Authorizes {
		t.Fatalf("record deployment: %+v, %v", rec, err)
	}
	if di := f.driftItem("t-acme", "d-web01-sudoers"); di.Verdict != store.VerdictAuthorized {
		t.Fatalf("sudoers after the deployment: %s (%s)", di.Verdict, di.VerdictReason)
	}
	want := "CHG-1001 deployed commit " + commit + " to prod"

	c := f.client()
	c.signIn("lead@msp.test")
	if page := c.get("/ui/changelog?tenant=t-acme&from=2026-03-01&to=2026-03-02"); !strings.Contains(page.body, want) {
		t.Errorf("the change log does not show %q", want)
	}
	r := c.get("/ui/changelog.csv?tenant=t-acme&from=2026-03-01&to=2026-03-02")
	if r.status != http.StatusOK {
		t.Fatalf("CSV: %d", r.status)
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows[1:] {
		switch row[3] {
		case "file:/etc/sudoers.d/deploy":
			found = true
			if row[6] != "authorized" || !strings.Contains(row[11], want) {
				t.Errorf("sudoers row: verdict %q, notes %q; want authorized and %q", row[6], row[11], want)
			}
		case "package:openssl":
			// Open and unauthorized before: the deployment authorizes it
			// too.
			if !strings.Contains(row[11], want) {
				t.Errorf("openssl row: notes %q; want %q", row[11], want)
			}
		}
	}
	if !found {
		t.Errorf("no sudoers row in the CSV:\n%s", r.body)
	}
}
