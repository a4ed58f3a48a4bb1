package changes

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// A standing patch ticket approved after a patch run was reported
// authorizes the run's drift when the tenant's drift is judged again; the
// hand edit reported with it stays unauthorized, and so does the run's
// file once it is edited by hand afterwards.
func TestStandardChangeAuthorizesTransaction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	spec := ticket.Spec{Reference: "CHG-PATCH", Title: "monthly patching", Description: "security updates", Impact: "restarts",
		RollbackPlan: "reinstall the previous versions", Class: ticket.Standard,
		Scope:    ticket.Scope{Labels: []string{"role=web"}},
		Packages: &ticket.PackageRule{Manager: ticket.ManagerApt, Names: []string{"openssl*"}},
		Window:   &policy.Window{Start: f.now.Add(-time.Hour).Format("2006-01-02T15:04"), End: f.now.Add(24 * time.Hour).Format("2006-01-02T15:04"), TimeZone: "UTC"}}
	if _, err := f.m.CreateTicket(ctx, "tn_acme", spec, alice); err != nil {
		t.Fatal(err)
	}
	f.act("CHG-PATCH", ticket.ActionSubmit, alice)

	// The patch run changed the package and its configuration; motd was
	// edited by hand.
	state := []baseline.Item{
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "hand"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "bb"}),
		item("file:/etc/ssl/openssl.cnf", map[string]string{"mode": "0644", "sha256": "new"}),
		item("package:openssl", map[string]string{"version": "3.0.2"}),
	}
	cur := &baseline.Snapshot{Format: baseline.FormatVersion, Host: f.base.Host, TakenAt: f.now, Items: state}
	cur.Sort()
	d := baseline.Diff(f.currentBaseline(), cur, baseline.DiffOptions{})
	tx := store.PackageTransaction{ID: "tx-1", Manager: "apt", Command: "apt-get upgrade -y", User: "alice",
		Started: f.now.Add(-time.Minute), Ended: f.now.Add(-30 * time.Second),
		Packages: []store.PackageChange{{Name: "openssl", From: "3.0.1", To: "3.0.2", Action: "upgrade"}},
		Items:    []store.TransactionItem{{Key: "file:/etc/ssl/openssl.cnf"}, {Key: "package:openssl"}}}
	f.ingest(1, d, tx)
	for key, it := range f.items() {
		if it.Verdict == store.VerdictAuthorized {
			t.Errorf("%s authorized before the standard change is approved: %s", key, it.VerdictReason)
		}
	}

	f.now = f.now.Add(10 * time.Minute)
	f.act("CHG-PATCH", ticket.ActionReview, bob)
	f.act("CHG-PATCH", ticket.ActionApprove, carol)
	items := f.items()
	for _, key := range []string{"file:/etc/ssl/openssl.cnf", "package:openssl"} {
		it := items[key]
		if want := "standard change CHG-PATCH: apt-get upgrade -y by alice"; it.Verdict != store.VerdictAuthorized || !strings.HasSuffix(it.VerdictReason, want) {
			t.Errorf("%s: %s (%s), want authorized: %q", key, it.Verdict, it.VerdictReason, want)
		}
		if !reconcile.IsStandardChange(it.Verdict, it.VerdictReason) {
			t.Errorf("%s: reason %q is not recognised as a standard change's", key, it.VerdictReason)
		}
	}
	if it := items["file:/etc/motd"]; it.Verdict != store.VerdictUnauthorized {
		t.Errorf("hand edit: %s (%s), want unauthorized", it.Verdict, it.VerdictReason)
	}

	// A deployment to the host (of a ticket not yet approved) judges its
	// drift again: the run's drift stays authorized by the standard
	// change, which needs the run looked up again.
	f.motdTicket("CHG-OTHER")
	if _, err := f.m.RecordDeployment(ctx, "tn_acme", DeploymentSpec{Ticket: "CHG-OTHER", Commit: "ccc333", Hosts: []string{f.host.Name}}, "ci@msp.test"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"file:/etc/ssl/openssl.cnf", "package:openssl"} {
		if it := f.items()[key]; it.Verdict != store.VerdictAuthorized || !reconcile.IsStandardChange(it.Verdict, it.VerdictReason) {
			t.Errorf("after a deployment was recorded, %s: %s (%s), want authorized by the standard change", key, it.Verdict, it.VerdictReason)
		}
	}

	// Edited by hand after the run: a new state, outside the transaction.
	state[2] = item("file:/etc/ssl/openssl.cnf", map[string]string{"mode": "0644", "sha256": "hand-again"})
	cur = &baseline.Snapshot{Format: baseline.FormatVersion, Host: f.base.Host, TakenAt: f.now, Items: state}
	cur.Sort()
	f.ingest(2, baseline.Diff(f.currentBaseline(), cur, baseline.DiffOptions{}))
	if _, err := f.m.Reconcile(ctx, "tn_acme", "test"); err != nil {
		t.Fatal(err)
	}
	if it := f.items()["file:/etc/ssl/openssl.cnf"]; it.Verdict != store.VerdictUnauthorized {
		t.Errorf("openssl.cnf edited by hand after the run: %s (%s), want unauthorized", it.Verdict, it.VerdictReason)
	}
}
