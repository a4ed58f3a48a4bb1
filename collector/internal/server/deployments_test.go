package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// send sends a JSON body (a string is sent as it is) with the protocol
// header and returns the status and the answer.
func (e *env) send(method, path, cred string, body any) (int, []byte) {
	e.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// approvedTicket raises a ticket in the tenant and, unless draft, takes it
// through review and approval.
func approvedTicket(t *testing.T, st store.Store, tenantID, ref string, draft bool) *ticket.Ticket {
	t.Helper()
	ctx := context.Background()
	m := &changes.Manager{Store: st}
	eng := ticket.Actor{ID: "u_eng", Email: "eng@msp.test", Role: ticket.RoleEngineer}
	now := time.Now().UTC()
	spec := ticket.Spec{Reference: ref, Title: "shop release", Description: "release 4.2", Impact: "none", RollbackPlan: "redeploy 4.1",
		Scope:  ticket.Scope{Hosts: []string{"db-01"}, Items: []string{"file:/etc/shop/*"}},
		Window: &policy.Window{Start: now.Add(-time.Hour).Format("2006-01-02T15:04"), End: now.Add(time.Hour).Format("2006-01-02T15:04"), TimeZone: "UTC"}}
	tk, err := m.CreateTicket(ctx, tenantID, spec, eng)
	if err != nil {
		t.Fatal(err)
	}
	if draft {
		return tk
	}
	for _, step := range []struct {
		a  ticket.Action
		by ticket.Actor
	}{
		{ticket.ActionSubmit, eng},
		{ticket.ActionReview, ticket.Actor{ID: "u_rev", Email: "rev@msp.test", Role: ticket.RoleEngineer}},
		{ticket.ActionApprove, ticket.Actor{ID: "u_appr", Email: "appr@msp.test", Role: ticket.RoleApprover}},
	} {
		if tk, err = m.Act(ctx, tenantID, ref, step.a, step.by, "ok"); err != nil {
			t.Fatalf("%s %s: %v", step.a, ref, err)
		}
	}
	return tk
}

func TestDeploymentsAPI(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	acme, other := e.tenant("acme"), e.tenant("globex")
	enroll := func(tenantID, name string, labels map[string]string) (api.EnrollResponse, *api.Client) {
		resp, err := e.client("").Enroll(ctx, api.EnrollRequest{Token: e.token(tenantID, 1, time.Time{}),
			Host: baseline.Host{Name: name, Labels: labels}, AgentVersion: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		return resp, e.client(resp.Credential)
	}
	web01, agent := enroll(acme.ID, "web-01", map[string]string{"role": "web"})
	web02, _ := enroll(acme.ID, "web-02", map[string]string{"role": "web"})
	enroll(acme.ID, "db-01", map[string]string{"role": "db"})
	enroll(other.ID, "db-09", nil)
	approvedTicket(t, e.st, acme.ID, "CHG1", false)
	approvedTicket(t, e.st, acme.ID, "CHG2", true)
	approvedTicket(t, e.st, other.ID, "CHG9", false)

	// web-01 reports drift the tickets do not cover: unauthorized.
	first, second, blob := snapshots("web-01")
	if _, err := agent.PostReport(ctx, firstReport(t, agent, first, blob)); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.PostReport(ctx, driftReport(2, first, second)); err != nil {
		t.Fatal(err)
	}
	_, engineer := userToken(t, e, acme.ID, store.RoleEngineer)
	_, viewer := userToken(t, e, acme.ID, store.RoleViewer)
	_, otherEngineer := userToken(t, e, other.ID, store.RoleEngineer)
	_, mspAdmin := userToken(t, e, "", store.RoleAdmin)
	_, mspEngineer := userToken(t, e, "", store.RoleEngineer)
	var drift api.DriftPage
	getJSON(t, e, api.PathDrift+"?host="+web01.HostID, viewer, &drift)
	if len(drift.Items) != 3 {
		t.Fatalf("drift of web-01: %d items, want 3", len(drift.Items))
	}
	for _, it := range drift.Items {
		if it.Verdict != string(store.VerdictUnauthorized) {
			t.Fatalf("before the deployment: %s is %s", it.Key, it.Verdict)
		}
	}

	now := time.Now().UTC()
	commit := "9f2c1e7d4b3a5f60718293a4b5c6d7e8f9a0b1c2"
	cases := []struct {
		name   string
		cred   string
		query  string
		body   any
		status int
		field  string // of the error
		check  func(t *testing.T, d api.Deployment)
	}{
		{"hosts by name, of an approved ticket", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Environment: "prod", Commit: commit,
			Repository: "https://git.example/shop.git", PipelineURL: "https://ci.example/p/1", Hosts: []string{"web-01"}}, http.StatusCreated, "",
			func(t *testing.T, d api.Deployment) {
				if !d.Authorizes || d.Note != "" || d.Ticket != "CHG1" || d.TicketState != "approved" || d.Commit != commit ||
					len(d.Hosts) != 1 || d.Hosts[0].Name != "web-01" || d.Hosts[0].ID != web01.HostID || d.Reconciled != 3 ||
					d.WindowBefore != "10m" || d.WindowAfter != "30m" || d.At.Before(now.Add(-time.Minute)) {
					t.Errorf("answer %+v", d)
				}
			}},
		{"hosts by label and ID", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc123", Hosts: []string{web02.HostID},
			Labels: map[string]string{"role": "web"}, At: now.Add(-time.Hour).Format(time.RFC3339)}, http.StatusCreated, "",
			func(t *testing.T, d api.Deployment) {
				// Each name with its own host's ID.
				if len(d.Hosts) != 2 || d.Hosts[0].Name != "web-01" || d.Hosts[0].ID != web01.HostID ||
					d.Hosts[1].Name != "web-02" || d.Hosts[1].ID != web02.HostID || d.Labels["role"] != "web" ||
					!d.At.Equal(now.Add(-time.Hour).Truncate(time.Second)) {
					t.Errorf("answer %+v", d)
				}
			}},
		{"a ticket not approved is recorded and authorizes nothing", engineer, "", api.DeploymentRequest{Ticket: "CHG2", Commit: "abc123", Hosts: []string{"db-01"}},
			http.StatusCreated, "", func(t *testing.T, d api.Deployment) {
				if d.Authorizes || !strings.Contains(d.Note, "CHG2 is draft, not approved") || d.TicketState != "draft" {
					t.Errorf("answer %+v", d)
				}
			}},
		{"an MSP admin naming the tenant", mspAdmin, "?tenant=acme", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc123", Hosts: []string{"db-01"}}, http.StatusCreated, "", nil},
		{"no ticket", engineer, "", api.DeploymentRequest{Commit: "abc", Hosts: []string{"web-01"}}, http.StatusUnprocessableEntity, "ticket", nil},
		{"no commit", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Hosts: []string{"web-01"}}, http.StatusUnprocessableEntity, "commit", nil},
		{"a commit with a space", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc def", Hosts: []string{"web-01"}}, http.StatusUnprocessableEntity, "commit", nil},
		{"no hosts", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc"}, http.StatusUnprocessableEntity, "hosts", nil},
		{"an unknown host", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01", "web-99"}}, http.StatusUnprocessableEntity, "hosts", nil},
		{"another tenant's host", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"db-09"}}, http.StatusUnprocessableEntity, "hosts", nil},
		{"labels that select no host", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Labels: map[string]string{"role": "mail"}}, http.StatusUnprocessableEntity, "labels", nil},
		{"a time that is not RFC 3339", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}, At: "yesterday"}, http.StatusUnprocessableEntity, "at", nil},
		{"a time in the future", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}, At: now.Add(time.Hour).Format(time.RFC3339)}, http.StatusUnprocessableEntity, "at", nil},
		{"a repository that is no URL", engineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}, Repository: "git@git.example:shop"}, http.StatusUnprocessableEntity, "repository", nil},
		{"hosts of the wrong type", engineer, "", `{"ticket":"CHG1","commit":"abc","hosts":"web-01"}`, http.StatusBadRequest, "hosts", nil},
		{"an unknown ticket", engineer, "", api.DeploymentRequest{Ticket: "CHG404", Commit: "abc", Hosts: []string{"web-01"}}, http.StatusNotFound, "ticket", nil},
		{"another tenant's ticket", engineer, "", api.DeploymentRequest{Ticket: "CHG9", Commit: "abc", Hosts: []string{"web-01"}}, http.StatusNotFound, "ticket", nil},
		{"a viewer", viewer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}}, http.StatusForbidden, "", nil},
		{"another tenant's engineer naming this tenant", otherEngineer, "?tenant=acme", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}}, http.StatusForbidden, "tenant", nil},
		{"another tenant's engineer", otherEngineer, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}}, http.StatusNotFound, "ticket", nil},
		{"an MSP engineer", mspEngineer, "?tenant=acme", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}}, http.StatusForbidden, "", nil},
		{"an MSP admin without the tenant", mspAdmin, "", api.DeploymentRequest{Ticket: "CHG1", Commit: "abc", Hosts: []string{"web-01"}}, http.StatusBadRequest, "tenant", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.send(http.MethodPost, api.PathDeployments+c.query, c.cred, c.body)
			if status != c.status {
				t.Fatalf("%d %s, want %d", status, body, c.status)
			}
			if status >= 400 {
				var ae api.Error
				if err := json.Unmarshal(body, &ae); err != nil || ae.Field != c.field || ae.Error == "" {
					t.Errorf("error %s: want field %q", body, c.field)
				}
				if c.name == "an unknown ticket" && !strings.Contains(ae.Error, `"CHG404"`) {
					t.Errorf("error %q does not name the ticket", ae.Error)
				}
				return
			}
			var d api.Deployment
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, d)
			}
		})
	}

	// The drift web-01 reported before is authorized now, naming the
	// ticket, the commit and the environment.
	getJSON(t, e, api.PathDrift+"?host="+web01.HostID, viewer, &drift)
	for _, it := range drift.Items {
		if it.Verdict != string(store.VerdictAuthorized) || !strings.Contains(it.VerdictReason, "CHG1 deployed commit "+commit+" to prod") || it.Level != 1 {
			t.Errorf("after the deployment: %s is %s (level %d): %s", it.Key, it.Verdict, it.Level, it.VerdictReason)
		}
	}

	// Listings and their filters; nothing of the refused requests.
	list := func(q string) []api.Deployment {
		t.Helper()
		var page api.DeploymentPage
		getJSON(t, e, api.PathDeployments+q, viewer, &page)
		return page.Deployments
	}
	if got := list(""); len(got) != 4 {
		t.Errorf("all deployments: %d, want 4", len(got))
	}
	if got := list("?ticket=CHG2"); len(got) != 1 || got[0].Authorizes || got[0].TicketState != "draft" {
		t.Errorf("deployments of CHG2: %+v", got)
	}
	if got := list("?host=web-02"); len(got) != 1 || got[0].Commit != "abc123" {
		t.Errorf("deployments to web-02: %+v", got)
	}
	if got := list("?host=" + web01.HostID + "&since=" + now.Add(-time.Minute).Format(time.RFC3339)); len(got) != 1 || got[0].Commit != commit {
		t.Errorf("deployments to web-01 since a minute ago: %+v", got)
	}
	var page api.DeploymentPage
	getJSON(t, e, api.PathDeployments+"?limit=3", viewer, &page)
	if len(page.Deployments) != 3 || page.Next == "" {
		t.Errorf("a page of 3: %d, next %q", len(page.Deployments), page.Next)
	}
	getJSON(t, e, api.PathDeployments, otherEngineer, &page)
	if len(page.Deployments) != 0 {
		t.Errorf("another tenant sees %d deployments", len(page.Deployments))
	}
	for q, want := range map[string]int{"?host=db-09": 404, "?ticket=CHG9": 404, "?since=today": 400, "?limit=0": 400, "?cursor=x": 400} {
		if status, body := e.send(http.MethodGet, api.PathDeployments+q, viewer, nil); status != want {
			t.Errorf("GET %s: %d %s, want %d", q, status, body, want)
		}
	}
}
