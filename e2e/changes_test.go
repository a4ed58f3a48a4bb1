package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// tenantArgs are the arguments every change-management command takes.
func (e *env) tenantArgs(args ...string) []string {
	return append([]string{args[0], args[1], "-config", e.ccfg, "-tenant", "acme"}, args[2:]...)
}

// driftItems returns the collector's outstanding drift items of the host,
// by key.
func (e *env) driftItems() map[string]api.DriftItem {
	e.t.Helper()
	out := map[string]api.DriftItem{}
	var page api.DriftPage
	if err := e.getJSON("/api/v1/drift?status=open&status=revert_requested", &page); err != nil {
		return nil
	}
	for _, it := range page.Items {
		out[it.Key] = it
	}
	return out
}

// getJSON reads an API path with the test's user token.
func (e *env) getJSON(path string, v any) error {
	return e.client.GetJSON(context.Background(), path, v)
}

// The whole change-management flow with the real binaries: a ticket for
// /etc/motd on one host is requested, reviewed and approved by different
// people; the agent reports a change to motd (authorized by the ticket)
// and one to the SSH config (unauthorized, level 3 by the default rules);
// marking the ticket implemented makes baseline v2 carry the ticket, and
// the agent compares with it; the audit chain verifies, then names the
// entry someone altered in the database.
func TestChangeManagement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})

	motd := filepath.Join(e.tree, "motd")
	sshd := filepath.Join(e.tree, "ssh", "sshd_config")
	now := time.Now().UTC()
	spec := fmt.Sprintf(`{
  "reference": "CHG0030001",
  "title": "New message of the day",
  "description": "Announce the maintenance window",
  "impact": "none",
  "rollback_plan": "restore the previous motd from the baseline",
  "scope": {"hosts": ["web-01"], "items": ["file:%s"]},
  "window": {"start": %q, "end": %q, "time_zone": "UTC"}
}`, motd, now.Add(-time.Hour).Format("2006-01-02T15:04"), now.Add(2*time.Hour).Format("2006-01-02T15:04"))
	// The tenant's policy: this tree's SSH configuration is as sensitive
	// as /etc/ssh (which the default rules cover).
	policyFile := filepath.Join(e.dir, "policy.hcl")
	writeFile(t, policyFile, fmt.Sprintf(`customer_approval = true
grace             = "15m"
escalation "test-ssh" {
  description = "SSH configuration of the test tree changed without authorization."
  items       = ["file:%s/ssh/**"]
  verdicts    = ["unauthorized", "frozen", "out_of_window"]
  level       = 3
}
`, e.tree))
	if out := must(t, collectorBin, e.tenantArgs("policy", "load", "-file", policyFile, "-as", "admin@msp.test")...); !strings.Contains(out, "version 1") {
		t.Errorf("policy load: %s", out)
	}
	bad := filepath.Join(e.dir, "bad-policy.hcl")
	writeFile(t, bad, "grace = \"soon\"\n")
	if _, errs, code := run(t, collectorBin, e.tenantArgs("policy", "load", "-file", bad)...); code == 0 || !strings.Contains(errs, "bad-policy.hcl:1:") {
		t.Errorf("bad policy: exit %d, %s", code, errs)
	}
	specFile := filepath.Join(e.dir, "ticket.json")
	writeFile(t, specFile, spec)

	must(t, collectorBin, e.tenantArgs("ticket", "create", "-as", "alice@msp.test", "-role", "engineer", "-file", specFile)...)
	act := func(as, role, action string) (string, string, int) {
		return run(t, collectorBin, e.tenantArgs("ticket", "act", "-as", as, "-role", role, "-action", action, "-comment", action+" by "+as, "CHG0030001")...)
	}
	if out, _, code := act("alice@msp.test", "engineer", "submit"); code != 0 || !strings.Contains(out, "submitted") {
		t.Fatalf("submit: %d %s", code, out)
	}
	// The requester may not review or approve their own change.
	if _, errs, code := act("alice@msp.test", "approver", "approve"); code == 0 || !strings.Contains(errs, "alice") {
		t.Errorf("self-approval: exit %d, %s", code, errs)
	}
	if out, errs, code := act("bob@msp.test", "engineer", "review"); code != 0 {
		t.Fatalf("review: %d %s%s", code, out, errs)
	}
	if out, errs, code := act("carol@msp.test", "approver", "approve"); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve: %d %s%s", code, out, errs)
	}

	// The changes on the host.
	writeFile(t, motd, "maintenance tonight 22:00-23:00\n")
	writeFile(t, sshd, "PermitRootLogin yes\n")
	var items map[string]api.DriftItem
	waitFor(t, "both changes reconciled", func() bool {
		items = e.driftItems()
		m, s := items["file:"+motd], items["file:"+sshd]
		return m.Verdict != "" && s.Verdict != ""
	})
	m, s := items["file:"+motd], items["file:"+sshd]
	if m.Verdict != "authorized" || m.Level != 1 || len(m.Tickets) == 0 {
		t.Errorf("motd: verdict %s level %d tickets %v (%s); want authorized, level 1, by the ticket", m.Verdict, m.Level, m.Tickets, m.VerdictReason)
	}
	if s.Verdict != "unauthorized" || s.Level != 3 || s.Rule != "test-ssh" {
		t.Errorf("sshd_config: verdict %s level %d rule %q; want unauthorized, level 3 by a rule", s.Verdict, s.Level, s.Rule)
	}
	out := must(t, collectorBin, e.tenantArgs("drift", "list")...)
	if !strings.Contains(out, "unauthorized") || !strings.Contains(out, "sshd_config") {
		t.Errorf("drift list:\n%s", out)
	}

	// Implemented: the authorized change becomes baseline v2 with the
	// ticket; the unauthorized one stays open.
	for _, step := range [][2]string{{"dave@msp.test", "start"}, {"dave@msp.test", "complete"}} {
		if out, errs, code := act(step[0], "engineer", step[1]); code != 0 {
			t.Fatalf("%s: %d %s%s", step[1], code, out, errs)
		}
	}
	ms, err := e.client.Baselines(t.Context(), e.hostID)
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1]
	if len(ms) != 2 || last.Version != 2 || len(last.Tickets) != 1 || last.Tickets[0] != "CHG0030001" {
		t.Fatalf("baselines after implementation: %+v", ms)
	}
	// The agent syncs v2: motd no longer drifts, sshd_config still does.
	e.waitDrift("the drift against v2", map[string]string{"file:" + sshd: "modified"})
	waitFor(t, "the motd item promoted", func() bool {
		var it api.DriftItem
		return e.getJSON("/api/v1/drift/"+m.ID, &it) == nil && it.Status == "promoted"
	})
	if items := e.driftItems(); len(items) != 1 || items["file:"+sshd].Status != "open" {
		t.Errorf("outstanding after promotion: %+v", items)
	}

	// The audit log verifies, and names the first entry altered directly
	// in the database.
	out = must(t, collectorBin, e.tenantArgs("audit", "verify")...)
	if !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %s", out)
	}
	export := must(t, collectorBin, e.tenantArgs("audit", "export")...)
	lines := strings.Split(strings.TrimSpace(export), "\n")
	if len(lines) < 6 {
		t.Fatalf("audit export has %d entries:\n%s", len(lines), export)
	}
	var third struct {
		Seq    uint64 `json:"seq"`
		Action string `json:"action"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &third); err != nil {
		t.Fatal(err)
	}
	e.collector.stop(t)
	// The log's triggers refuse an UPDATE: someone with the file drops
	// them first.
	e.execSQL(`DROP TRIGGER audit_log_no_update`)
	e.execSQL(`UPDATE audit_log SET actor = 'mallory@evil.test' WHERE seq = 3`)
	out, _, code := run(t, collectorBin, e.tenantArgs("audit", "verify")...)
	if code == 0 || !strings.Contains(out, "BROKEN at entry 3") {
		t.Errorf("audit verify after tampering: exit %d, %s", code, out)
	}
}
