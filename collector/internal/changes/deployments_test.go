package changes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Deployments judged by the tenant's policy window, and by the ticket's
// approval whenever it comes.
func TestDeploymentWindowAndLateApproval(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.motdTicket("CHG-1")
	f.act("CHG-1", ticket.ActionSubmit, alice)
	f.act("CHG-1", ticket.ActionReview, bob)
	f.act("CHG-1", ticket.ActionApprove, carol)
	f.motdTicket("CHG-2")

	// An SSH change no ticket covers, reported now.
	f.report(1,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "aa"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "b2"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}))
	sshd := func() store.DriftItem { return f.items()["file:/etc/ssh/sshd_config"] }
	if it := sshd(); it.Verdict != store.VerdictUnauthorized {
		t.Fatalf("before: %s", it.Verdict)
	}

	// Deployed two hours before: outside the default window.
	rec, err := f.m.RecordDeployment(ctx, "tn_acme", DeploymentSpec{Ticket: "CHG-1", Commit: "aaa111", Hosts: []string{"web-01"},
		At: f.now.Add(-2 * time.Hour)}, "ci@msp.test")
	if err != nil || rec.Reconciled != 0 || !rec.Authorizes {
		t.Fatalf("record: %+v, %v", rec, err)
	}
	if it := sshd(); it.Verdict != store.VerdictUnauthorized {
		t.Fatalf("two hours after the deployment: %s (%s)", it.Verdict, it.VerdictReason)
	}
	// The tenant widens its deployment window to three hours after.
	pol, v, err := f.m.Policy(ctx, "tn_acme")
	if err != nil {
		t.Fatal(err)
	}
	pol.DeploymentWindow = &policy.DeploymentWindow{Before: policy.Duration(time.Minute), After: policy.Duration(3 * time.Hour)}
	if _, err := f.m.SetPolicy(ctx, "tn_acme", pol, v, "admin@msp.test"); err != nil {
		t.Fatal(err)
	}
	if it := sshd(); it.Verdict != store.VerdictAuthorized || !strings.Contains(it.VerdictReason, "CHG-1 deployed commit aaa111") ||
		!strings.Contains(it.VerdictReason, "1m before to 3h after") || it.Tickets[0] != rec.Ticket.ID {
		t.Fatalf("with a 3h window: %s (%s) %v", it.Verdict, it.VerdictReason, it.Tickets)
	}

	// A new change; a deployment of the draft CHG-2 authorizes nothing
	// until CHG-2 is approved.
	f.now = f.now.Add(24 * time.Hour)
	f.report(2,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "aa"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "b2"}),
		item("package:openssl", map[string]string{"version": "3.0.2"}))
	openssl := func() store.DriftItem { return f.items()["package:openssl"] }
	rec, err = f.m.RecordDeployment(ctx, "tn_acme", DeploymentSpec{Ticket: "CHG-2", Commit: "bbb222", Environment: "staging",
		Labels: map[string]string{"role": "web"}}, "ci@msp.test")
	if err != nil || rec.Authorizes || !strings.Contains(rec.Note, "not approved") || len(rec.Hosts) != 1 || rec.Hosts[0] != "web-01" {
		t.Fatalf("record of a draft: %+v, %v", rec, err)
	}
	if it := openssl(); it.Verdict != store.VerdictUnauthorized {
		t.Fatalf("openssl under a draft's deployment: %s (%s)", it.Verdict, it.VerdictReason)
	}
	f.act("CHG-2", ticket.ActionSubmit, alice)
	f.act("CHG-2", ticket.ActionReview, bob)
	f.act("CHG-2", ticket.ActionApprove, carol)
	if it := openssl(); it.Verdict != store.VerdictAuthorized || !strings.Contains(it.VerdictReason, "CHG-2 deployed commit bbb222 to staging") {
		t.Fatalf("openssl after CHG-2's approval: %s (%s)", it.Verdict, it.VerdictReason)
	}

	// Refusals name the field, or the ticket; nothing is stored.
	for _, c := range []struct {
		spec  DeploymentSpec
		field string
	}{
		{DeploymentSpec{Commit: "c", Hosts: []string{"web-01"}}, "ticket"},
		{DeploymentSpec{Ticket: "CHG-1", Hosts: []string{"web-01"}}, "commit"},
		{DeploymentSpec{Ticket: "CHG-1", Commit: "c"}, "hosts"},
		{DeploymentSpec{Ticket: "CHG-1", Commit: "c", Hosts: []string{"web-02"}}, "hosts"},
		{DeploymentSpec{Ticket: "CHG-1", Commit: "c", Labels: map[string]string{"role": "db"}}, "labels"},
		{DeploymentSpec{Ticket: "CHG-1", Commit: "c", Hosts: []string{"web-01"}, PipelineURL: "ci/1"}, "pipeline_url"},
		{DeploymentSpec{Ticket: "CHG-1", Commit: "c", Hosts: []string{"web-01"}, At: f.now.Add(time.Hour)}, "at"},
	} {
		_, err := f.m.RecordDeployment(ctx, "tn_acme", c.spec, "ci@msp.test")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: %v, want a problem with %s", c.spec, err, c.field)
		}
	}
	if _, err := f.m.RecordDeployment(ctx, "tn_acme", DeploymentSpec{Ticket: "CHG-9", Commit: "c", Hosts: []string{"web-01"}}, "x"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `"CHG-9"`) {
		t.Errorf("unknown ticket: %v", err)
	}
	ds, _, _, err := f.m.Deployments(ctx, "tn_acme", store.DeploymentFilter{})
	if err != nil || len(ds) != 2 {
		t.Errorf("deployments stored: %d, %v; want 2", len(ds), err)
	}
}
