package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// deploymentTests are the conformance tests of this part of the store.
func deploymentTests() []test {
	return []test{
		{"DeploymentAddList", testDeploymentAddList},
		{"DeploymentRefused", testDeploymentRefused},
		{"DeploymentFilterPages", testDeploymentFilterPages},
	}
}

// newDeployment is a deployment of ticket tk to hosts at t0 plus offset.
func newDeployment(tenantID, id, ticketID string, offset time.Duration, hosts ...string) store.Deployment {
	return store.Deployment{
		ID: id, TenantID: tenantID, TicketID: ticketID, TicketRef: "REF-" + ticketID, Environment: "prod",
		Commit: "0123456789abcdef0123456789abcdef01234567", Repository: "https://git.example/shop.git",
		PipelineURL: "https://ci.example/shop/pipelines/42", HostIDs: hosts,
		At: t0.Add(offset), RecordedAt: t0.Add(offset + time.Minute), By: "ci@shop.example",
	}
}

func addDeployment(t *testing.T, s store.Store, d store.Deployment) store.Deployment {
	t.Helper()
	got, err := s.AddDeployment(t.Context(), d, auditEntry("deployment.record", d.ID, d.RecordedAt))
	must(t, "add deployment "+d.ID, err)
	return got
}

// listDeployments reads every page of a listing.
func listDeployments(t *testing.T, s store.Store, tenantID string, f store.DeploymentFilter) []store.Deployment {
	t.Helper()
	var out []store.Deployment
	for {
		page, next, err := s.Deployments(t.Context(), tenantID, f)
		must(t, "list deployments", err)
		for _, d := range page {
			checkUTC(t, "deployment "+d.ID, d.At, d.RecordedAt)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

func deploymentIDs(ds []store.Deployment) []string {
	ids := []string{}
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func testDeploymentAddList(t *testing.T, s store.Store) {
	createTenant(t, s, "a")
	web1, web2 := enroll(t, s, "a", "web-01"), enroll(t, s, "a", "web-02")
	createTicket(t, s, newTicket("a", "tk-1", "CHG1"))

	d := newDeployment("a", "dep-1", "tk-1", 0, web2.ID, web1.ID, web2.ID)
	d.Labels = map[string]string{"role": "web"}
	got := addDeployment(t, s, d)
	want := d
	want.HostIDs = []string{web1.ID, web2.ID} // sorted, each once
	want.At, want.RecordedAt = stored(d.At), stored(d.RecordedAt)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AddDeployment returned (-want +got):\n%s", diff)
	}
	// Without labels, optional fields empty.
	d2 := newDeployment("a", "dep-2", "tk-1", time.Hour, web1.ID)
	d2.Repository, d2.PipelineURL, d2.Environment = "", "", ""
	addDeployment(t, s, d2)

	all := listDeployments(t, s, "a", store.DeploymentFilter{})
	want2 := d2
	want2.At, want2.RecordedAt = stored(d2.At), stored(d2.RecordedAt)
	if diff := cmp.Diff([]store.Deployment{want2, want}, all); diff != "" {
		t.Errorf("Deployments (-want +got):\n%s", diff)
	}
	es := auditLog(t, s, "a")
	if diff := cmp.Diff([]string{"ticket.create tk-1", "deployment.record dep-1", "deployment.record dep-2"}, actions(es)); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
	verifyAudit(t, s, "a", 3)
}

func testDeploymentRefused(t *testing.T, s store.Store) {
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	web1 := enroll(t, s, "a", "web-01")
	other := enroll(t, s, "b", "web-01")
	createTicket(t, s, newTicket("a", "tk-1", "CHG1"))
	createTicket(t, s, newTicket("b", "tk-b", "CHG9"))
	addDeployment(t, s, newDeployment("a", "dep-1", "tk-1", 0, web1.ID))

	cases := []struct {
		name   string
		d      store.Deployment
		target error
	}{
		{"unknown ticket", newDeployment("a", "dep-2", "tk-nope", 0, web1.ID), store.ErrNotFound},
		{"another tenant's ticket", newDeployment("a", "dep-2", "tk-b", 0, web1.ID), store.ErrNotFound},
		{"another tenant's host", newDeployment("a", "dep-2", "tk-1", 0, web1.ID, other.ID), store.ErrNotFound},
		{"unknown tenant", newDeployment("zz", "dep-2", "tk-1", 0, web1.ID), store.ErrNotFound},
		{"ID taken", newDeployment("a", "dep-1", "tk-1", 0, web1.ID), store.ErrExists},
		{"no hosts", newDeployment("a", "dep-2", "tk-1", 0), store.ErrInvalid},
		{"no commit", func() store.Deployment {
			d := newDeployment("a", "dep-2", "tk-1", 0, web1.ID)
			d.Commit = " "
			return d
		}(), store.ErrInvalid},
		{"no time", func() store.Deployment {
			d := newDeployment("a", "dep-2", "tk-1", 0, web1.ID)
			d.At = time.Time{}
			return d
		}(), store.ErrInvalid},
	}
	for _, c := range cases {
		_, err := s.AddDeployment(t.Context(), c.d, auditEntry("deployment.record", c.d.ID, t0))
		wantErr(t, c.name, err, c.target)
	}
	// Nothing of the refused ones was written: one deployment, two audit
	// entries, and tenant b has none.
	if got := deploymentIDs(listDeployments(t, s, "a", store.DeploymentFilter{})); !cmp.Equal(got, []string{"dep-1"}) {
		t.Errorf("deployments of a after refusals: %v, want [dep-1]", got)
	}
	if got := listDeployments(t, s, "b", store.DeploymentFilter{}); len(got) != 0 {
		t.Errorf("deployments of b: %v, want none", deploymentIDs(got))
	}
	verifyAudit(t, s, "a", 2)
	if _, _, err := s.Deployments(t.Context(), "a", store.DeploymentFilter{Cursor: "not a cursor"}); err == nil {
		t.Error("a malformed cursor was taken")
	} else {
		wantErr(t, "malformed cursor", err, store.ErrInvalid)
	}
}

func testDeploymentFilterPages(t *testing.T, s store.Store) {
	createTenant(t, s, "a")
	web1, web2 := enroll(t, s, "a", "web-01"), enroll(t, s, "a", "web-02")
	createTicket(t, s, newTicket("a", "tk-1", "CHG1"))
	createTicket(t, s, newTicket("a", "tk-2", "CHG2"))
	// Five deployments a minute apart, dep-4 and dep-5 at the same time.
	addDeployment(t, s, newDeployment("a", "dep-1", "tk-1", 0, web1.ID))
	addDeployment(t, s, newDeployment("a", "dep-2", "tk-2", time.Minute, web2.ID))
	addDeployment(t, s, newDeployment("a", "dep-3", "tk-1", 2*time.Minute, web1.ID, web2.ID))
	addDeployment(t, s, newDeployment("a", "dep-4", "tk-2", 3*time.Minute, web1.ID))
	addDeployment(t, s, newDeployment("a", "dep-5", "tk-1", 3*time.Minute, web2.ID))

	cases := []struct {
		name string
		f    store.DeploymentFilter
		want []string
	}{
		{"all, one per page", store.DeploymentFilter{Limit: 1}, []string{"dep-5", "dep-4", "dep-3", "dep-2", "dep-1"}},
		{"all, two per page", store.DeploymentFilter{Limit: 2}, []string{"dep-5", "dep-4", "dep-3", "dep-2", "dep-1"}},
		{"ticket", store.DeploymentFilter{TicketID: "tk-1"}, []string{"dep-5", "dep-3", "dep-1"}},
		{"host", store.DeploymentFilter{HostID: web1.ID, Limit: 1}, []string{"dep-4", "dep-3", "dep-1"}},
		{"since", store.DeploymentFilter{Since: t0.Add(2 * time.Minute)}, []string{"dep-5", "dep-4", "dep-3"}},
		{"until", store.DeploymentFilter{Until: t0.Add(2 * time.Minute)}, []string{"dep-2", "dep-1"}},
		{"ticket, host and since", store.DeploymentFilter{TicketID: "tk-1", HostID: web2.ID, Since: t0.Add(time.Minute)}, []string{"dep-5", "dep-3"}},
		{"unknown host", store.DeploymentFilter{HostID: "nope"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := deploymentIDs(listDeployments(t, s, "a", c.f))
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
