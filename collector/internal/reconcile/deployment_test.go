package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// deployEngine is an engine with tickets CHG1 (approved, for file:/etc/app/*
// on web-01 in windowBerlin), CHG2 (reviewed, not approved), CHG3 (an
// approved emergency change), CHG4 (rejected), a freeze on 2025-03-12 and
// these deployments:
//
//	dep-1  CHG1 to web-01, web-02  2025-03-10 10:00 UTC  commit 1111…
//	dep-2  CHG2 to db-01           2025-03-10 10:00 UTC
//	dep-3  CHG1 to web-02          2025-03-12 10:00 UTC (in the freeze)
//	dep-4  CHG3 to db-01           2025-03-12 10:00 UTC (in the freeze)
//	dep-5  CHG4 to web-02          2025-03-14 10:00 UTC
//	dep-6  CHG1 to web-02          2025-03-10 10:20 UTC  commit 6666…
func deployEngine(t *testing.T, w DeploymentWindow) *Engine {
	t.Helper()
	pol := policy.Default()
	pol.Freezes = []policy.Freeze{{Name: "release-freeze", Window: policy.Window{Start: "2025-03-12T00:00", End: "2025-03-13T00:00", TimeZone: "UTC"}, Reason: "quarter close"}}
	e := engine(t, pol,
		tk{id: "t1", ref: "CHG1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/app/*"}},
		tk{id: "t2", ref: "CHG2", state: ticket.Reviewed, hosts: []string{"db-01"}, items: []string{"file:/etc/app/*"}},
		tk{id: "t3", ref: "CHG3", state: ticket.Approved, class: ticket.Emergency, hosts: []string{"db-01"}, items: []string{"package:*"}},
		tk{id: "t4", ref: "CHG4", state: ticket.Rejected, hosts: []string{"web-02"}, items: []string{"file:/opt/*"}},
	)
	dep := func(id, tkt, commit, when string, hosts ...string) Deployment {
		return Deployment{ID: id, Ticket: tkt, Environment: "prod", Commit: commit, Hosts: hosts, At: at(when), By: "ci@msp.example"}
	}
	e, err := e.WithDeployments([]Deployment{
		dep("dep-1", "t1", "1111aaaa", "2025-03-10T10:00:00Z", "web-01", "web-02"),
		dep("dep-2", "t2", "2222bbbb", "2025-03-10T10:00:00Z", "db-01"),
		dep("dep-3", "t1", "3333cccc", "2025-03-12T10:00:00Z", "web-02"),
		dep("dep-4", "t3", "4444dddd", "2025-03-12T10:00:00Z", "db-01"),
		dep("dep-5", "t4", "5555eeee", "2025-03-14T10:00:00Z", "web-02"),
		dep("dep-6", "t1", "6666ffff", "2025-03-10T10:20:00Z", "web-02"),
	}, w)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDeployments(t *testing.T) {
	e := deployEngine(t, DeploymentWindow{})
	cases := []struct {
		name    string
		it      Item
		verdict Verdict
		ticket  string
		reason  []string // in the reason, in this order
	}{
		{"a few minutes after, outside the ticket's scope", item(web02, "file:/srv/shop/config.yml", "2025-03-10T10:05:00Z"), Authorized, "t1",
			[]string{"CHG1 deployed commit 1111aaaa to prod at 2025-03-10 10:00 UTC", "approved by appr@msp.example", "observed 5m after it", "10m before to 30m after"}},
		{"10 minutes before: the window's first instant", item(web02, "file:/srv/shop/config.yml", "2025-03-10T09:50:00Z"), Authorized, "t1",
			[]string{"commit 1111aaaa", "10m before it"}},
		{"11 minutes before", item(web02, "file:/srv/shop/config.yml", "2025-03-10T09:49:00Z"), Unauthorized, "",
			[]string{"no change ticket covers file:/srv/shop/config.yml on web-02"}},
		{"the nearer of two deployments decides", item(web02, "package:nginx", "2025-03-10T10:16:00Z"), Authorized, "t1",
			[]string{"commit 6666ffff", "4m before it"}},
		{"30 minutes after the later one: the window's last instant", item(web02, "package:nginx", "2025-03-10T10:50:00Z"), Authorized, "t1",
			[]string{"commit 6666ffff", "30m after it"}},
		{"31 minutes after", item(web02, "package:nginx", "2025-03-10T10:51:00Z"), Unauthorized, "", nil},
		{"the ticket's own item outside its window", item(web01, "file:/etc/app/app.conf", "2025-03-10T10:05:00Z"), Authorized, "t1",
			[]string{"CHG1 deployed commit 1111aaaa"}},
		{"the ticket's own item outside its window, no deployment then", item(web01, "file:/etc/app/app.conf", "2025-03-11T10:05:00Z"), OutOfWindow, "t1", nil},
		{"another host", item(Host{Name: "app-01"}, "file:/srv/shop/config.yml", "2025-03-10T10:05:00Z"), Unauthorized, "", nil},
		{"a ticket not approved authorizes nothing", item(db01, "file:/srv/shop/config.yml", "2025-03-10T10:05:00Z"), Unauthorized, "", nil},
		{"a rejected ticket authorizes nothing", item(web02, "file:/srv/shop/config.yml", "2025-03-14T10:05:00Z"), Unauthorized, "", nil},
		{"a freeze wins over a normal change's deployment", item(web02, "file:/srv/shop/config.yml", "2025-03-12T10:05:00Z"), Frozen, "",
			[]string{`freeze "release-freeze"`, "CHG1 deployed commit 3333cccc to prod", "would authorize it, but is a normal change, not an emergency"}},
		{"an emergency change's deployment in a freeze", item(db01, "file:/srv/shop/config.yml", "2025-03-12T10:05:00Z"), Authorized, "t3",
			[]string{"CHG3 deployed commit 4444dddd"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Evaluate(c.it)
			if r.Verdict != c.verdict || r.Ticket != c.ticket {
				t.Fatalf("verdict %s by %q, want %s by %q; reason: %s", r.Verdict, r.Ticket, c.verdict, c.ticket, r.Reason)
			}
			rest := r.Reason
			for _, want := range c.reason {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("reason %q: no %q (in order)", r.Reason, want)
				}
				rest = rest[i+len(want):]
			}
			if c.verdict == Authorized {
				if len(r.Covering) == 0 || r.Covering[0] != c.ticket || len(r.Matches) == 0 || r.Matches[0].Ticket != c.ticket {
					t.Errorf("covering %v, matches %v: want %s first in both", r.Covering, ids(r.Matches), c.ticket)
				}
				if r.Level != 1 {
					t.Errorf("level %d (rule %s), want 1", r.Level, r.Rule)
				}
			}
			if c.verdict == Authorized && !strings.Contains(r.Reason, DeploymentMarker) {
				t.Errorf("reason %q: no deployment marker", r.Reason)
			}
		})
	}
}

func TestDeploymentWindowSetting(t *testing.T) {
	e := deployEngine(t, DeploymentWindow{Before: time.Minute, After: 5 * time.Minute})
	if got := e.DeploymentWindow(); got != (DeploymentWindow{Before: time.Minute, After: 5 * time.Minute}) {
		t.Fatalf("window %v", got)
	}
	for _, c := range []struct {
		at   string
		want Verdict
	}{
		{"2025-03-10T09:58:59Z", Unauthorized},
		{"2025-03-10T09:59:00Z", Authorized},
		{"2025-03-10T10:05:00Z", Authorized},
		{"2025-03-10T10:05:01Z", Unauthorized},
	} {
		if r := e.Evaluate(item(web01, "file:/srv/shop/config.yml", c.at)); r.Verdict != c.want {
			t.Errorf("at %s: %s (%s), want %s", c.at, r.Verdict, r.Reason, c.want)
		}
	}
	if _, err := e.WithDeployments(nil, DeploymentWindow{Before: -time.Minute}); err == nil {
		t.Error("a negative window was taken")
	}
	if _, err := e.WithDeployments([]Deployment{{ID: "d", Ticket: "t1", Commit: "c", Hosts: []string{"web-01"}}}, DeploymentWindow{}); err == nil ||
		!strings.Contains(err.Error(), "deployment d has no time") {
		t.Errorf("a deployment without a time: %v", err)
	}
}

// A ticket approved after its deployment was recorded authorizes the
// drift when the ticket's change is judged again; one cancelled
// afterwards no longer does.
func TestDeploymentReevaluate(t *testing.T) {
	e := deployEngine(t, DeploymentWindow{})
	it := item(db01, "file:/srv/shop/config.yml", "2025-03-10T10:05:00Z")
	prev := []Result{e.Evaluate(it)}
	if prev[0].Verdict != Unauthorized {
		t.Fatalf("before approval: %s", prev[0].Verdict)
	}
	approved, _ := e.Ticket("t2")
	approved.State = ticket.Approved
	approved.Version++
	approved.Approvals = []ticket.Approval{{Side: ticket.SideMSP, Signoff: ticket.Signoff{By: mspAppr, At: at("2025-03-10T11:00:00Z")}}}
	approved.History = append(approved.History, ticket.Transition{Action: ticket.ActionApprove, From: ticket.Reviewed, To: ticket.Approved, By: mspAppr, At: at("2025-03-10T11:00:00Z")})
	// Reevaluate looks at the items a ticket matched; an item only a
	// deployment can reach is judged again with Rejudge, as the
	// collector does after every ticket change.
	next, _, err := e.Reevaluate(prev, approved)
	if err != nil {
		t.Fatal(err)
	}
	chs := next.Rejudge(prev, "ticket CHG2 approved")
	if len(chs) != 1 || chs[0].Result.Verdict != Authorized || !strings.Contains(chs[0].Result.Reason, "CHG2 deployed commit 2222bbbb") {
		t.Fatalf("after approval: %+v", chs)
	}
	prev = []Result{chs[0].Result}
	cancelled := approved.Clone()
	cancelled.State = ticket.Cancelled
	cancelled.Version++
	next2, chs, err := next.Reevaluate(prev, cancelled)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 || chs[0].Result.Verdict != Unauthorized {
		t.Fatalf("after cancellation: %+v", chs)
	}
	if next2.Evaluate(it).Verdict == Authorized {
		t.Error("a cancelled ticket's deployment still authorizes")
	}
}
