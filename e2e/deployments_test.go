package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// startSecondHost enrolls and starts a second agent, host web-02, watching
// a tree of its own with one file, app.conf; it returns that file's path.
func (e *env) startSecondHost() string {
	e.t.Helper()
	dir := filepath.Join(e.dir, "web-02")
	tree := filepath.Join(dir, "etc")
	conf := filepath.Join(tree, "app.conf")
	writeFile(e.t, conf, "workers = 4\n")
	cfg := filepath.Join(dir, "agent.hcl")
	writeFile(e.t, cfg, fmt.Sprintf(`state_dir = %q
host {
  name   = "web-02"
  labels = { role = "web" }
}
files "etc" {
  paths = [%q]
}
schedule {
  heartbeat = "1s"
}
spool {
  retry_max = "500ms"
}
`, filepath.Join(dir, "state"), tree))
	token := must(e.t, collectorBin, "token", "create", "-config", e.ccfg, "-tenant", "acme", "-uses", "1")
	must(e.t, agentBin, "baseline", "approve", "-config", cfg, "-reason", "initial documentation")
	must(e.t, agentBin, "enroll", "-config", cfg, "-collector", e.url, "-token", token, "-fingerprint", e.fp)
	p := start(e.t, agentBin, "run", "-config", cfg, "-log-level", "debug")
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("web-02 agent log:\n%s", p.log.String())
		}
	})
	waitFor(e.t, "web-02's first full scan", func() bool { return strings.Contains(p.log.String(), `"full scan done"`) })
	return conf
}

// A CI deployment note with the real binaries: a change on web-01 that no
// ticket covers shows as unauthorized; `driftwatch-collector deployment
// record` of an approved ticket for web-01 turns it authorized, naming the
// commit; the same kind of change on web-02, not deployed to, stays
// unauthorized; a deployment of a ticket not yet approved is recorded and
// authorizes nothing.
func TestDeploymentNotes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	appConf := e.startSecondHost()

	// An approved ticket whose own scope is another host and other items:
	// only the deployment can reach web-01's change.
	now := time.Now().UTC()
	spec := func(ref string) string {
		f := filepath.Join(e.dir, ref+".json")
		writeFile(t, f, fmt.Sprintf(`{
  "reference": %q,
  "title": "Shop release 4.2",
  "description": "Deploy release 4.2 of the shop",
  "impact": "none",
  "rollback_plan": "redeploy release 4.1",
  "scope": {"hosts": ["db-01"], "items": ["file:/srv/shop/**"]},
  "window": {"start": %q, "end": %q, "time_zone": "UTC"}
}`, ref, now.Add(-time.Hour).Format("2006-01-02T15:04"), now.Add(2*time.Hour).Format("2006-01-02T15:04")))
		return f
	}
	must(t, collectorBin, e.tenantArgs("ticket", "create", "-as", "alice@msp.test", "-role", "engineer", "-file", spec("CHG0040001"))...)
	must(t, collectorBin, e.tenantArgs("ticket", "create", "-as", "alice@msp.test", "-role", "engineer", "-file", spec("CHG0040002"))...)
	for _, step := range [][3]string{{"alice@msp.test", "engineer", "submit"}, {"bob@msp.test", "engineer", "review"}, {"carol@msp.test", "approver", "approve"}} {
		must(t, collectorBin, e.tenantArgs("ticket", "act", "-as", step[0], "-role", step[1], "-action", step[2], "CHG0040001")...)
	}

	// Changes on both hosts: unauthorized.
	motd := filepath.Join(e.tree, "motd")
	writeFile(t, motd, "release 4.2\n")
	writeFile(t, appConf, "workers = 8\n")
	var items map[string]api.DriftItem
	waitFor(t, "both changes reconciled", func() bool {
		items = e.driftItems()
		return items["file:"+motd].Verdict != "" && items["file:"+appConf].Verdict != ""
	})
	for _, key := range []string{"file:" + motd, "file:" + appConf} {
		if it := items[key]; it.Verdict != "unauthorized" {
			t.Fatalf("%s on %s before the deployment: %s (%s)", key, it.Host, it.Verdict, it.VerdictReason)
		}
	}

	// The pipeline records its deployment to web-01.
	commit := "4f2a9c1be07d3e58a6b1c9d0e2f3a4b5c6d7e8f9"
	out := must(t, collectorBin, e.tenantArgs("deployment", "record", "-ticket", "CHG0040001", "-commit", commit, "-env", "prod",
		"-hosts", "web-01", "-repo", "https://git.example/shop.git", "-url", "https://ci.example/shop/pipelines/4711", "-as", "ci@acme.test")...)
	if !strings.Contains(out, "CHG0040001 commit "+commit+" to prod") || !strings.Contains(out, "1 outstanding changes judged again") {
		t.Errorf("deployment record:\n%s", out)
	}
	items = e.driftItems()
	if it := items["file:"+motd]; it.Verdict != "authorized" || it.Level != 1 || !strings.Contains(it.VerdictReason, "CHG0040001 deployed commit "+commit+" to prod") ||
		len(it.Tickets) == 0 {
		t.Errorf("motd on web-01 after the deployment: %s level %d tickets %v: %s", it.Verdict, it.Level, it.Tickets, it.VerdictReason)
	}
	if it := items["file:"+appConf]; it.Verdict != "unauthorized" {
		t.Errorf("app.conf on web-02, not deployed to: %s (%s)", it.Verdict, it.VerdictReason)
	}
	var hist api.DriftItem
	if err := e.getJSON("/api/v1/drift/"+items["file:"+motd].ID, &hist); err != nil {
		t.Fatal(err)
	}
	if n := len(hist.History); n == 0 || !strings.Contains(hist.History[n-1].Reason, "deployment dep_") || hist.History[n-1].ToVerdict != "authorized" {
		t.Errorf("motd's history: %+v", hist.History)
	}

	// A change made on web-01 after the deployment, inside its window, is
	// authorized as it arrives.
	issue := filepath.Join(e.tree, "issue")
	writeFile(t, issue, "shop 4.2\n")
	waitFor(t, "the new file reconciled", func() bool { return e.driftItems()["file:"+issue].Verdict != "" })
	if it := e.driftItems()["file:"+issue]; it.Verdict != "authorized" || !strings.Contains(it.VerdictReason, commit) {
		t.Errorf("issue on web-01 after the deployment: %s (%s)", it.Verdict, it.VerdictReason)
	}

	// A deployment of a ticket not yet approved: recorded, authorizes
	// nothing.
	out = must(t, collectorBin, e.tenantArgs("deployment", "record", "-ticket", "CHG0040002", "-commit", "77aa", "-hosts", "web-02")...)
	if !strings.Contains(out, "not approved") {
		t.Errorf("deployment of a draft ticket:\n%s", out)
	}
	if it := e.driftItems()["file:"+appConf]; it.Verdict != "unauthorized" {
		t.Errorf("app.conf after a draft ticket's deployment: %s", it.Verdict)
	}
	// Refused: an unknown ticket, a host the tenant does not have.
	if _, errs, code := run(t, collectorBin, e.tenantArgs("deployment", "record", "-ticket", "CHG404", "-commit", "1", "-hosts", "web-01")...); code == 0 || !strings.Contains(errs, "CHG404") {
		t.Errorf("unknown ticket: exit %d, %s", code, errs)
	}
	if _, errs, code := run(t, collectorBin, e.tenantArgs("deployment", "record", "-ticket", "CHG0040001", "-commit", "1", "-hosts", "web-09")...); code != 2 || !strings.Contains(errs, `-hosts: no host "web-09"`) {
		t.Errorf("unknown host: exit %d, %s", code, errs)
	}

	out = must(t, collectorBin, e.tenantArgs("deployment", "list", "-host", "web-01")...)
	if !strings.Contains(out, commit) || !strings.Contains(out, "ci@acme.test") || strings.Contains(out, "77aa") {
		t.Errorf("deployment list -host web-01:\n%s", out)
	}
	var page api.DeploymentPage
	if err := e.getJSON("/api/v1/deployments?ticket=CHG0040002", &page); err != nil || len(page.Deployments) != 1 || page.Deployments[0].Authorizes {
		t.Errorf("GET deployments of CHG0040002: %+v, %v", page, err)
	}
}
