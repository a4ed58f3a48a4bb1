package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// needed fails under CI=true and skips otherwise.
func needed(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestPackageTransactionStandardChange installs a small package with the
// real apt-get while the agent service runs, with the packaged apt hook
// loaded through APT_CONFIG: the configuration file the package puts in a
// watched directory is reported inside the transaction (command, user,
// package) and authorized by the tenant's standing patch ticket, a
// standard change; a file edited by hand on the same host stays
// unauthorized.
func TestPackageTransactionStandardChange(t *testing.T) {
	if os.Geteuid() != 0 {
		needed(t, "the package transaction end-to-end test installs a package: it needs root")
	}
	for _, p := range []string{"apt-get", "dpkg", "dpkg-deb", "dpkg-query"} {
		if _, err := exec.LookPath(p); err != nil {
			needed(t, "the package transaction end-to-end test needs %s: %v", p, err)
		}
	}
	const pkg = "driftwatch-e2e-standard-change"
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output(); err == nil && len(out) > 0 && !strings.Contains(string(out), "not-installed") {
		t.Fatalf("%s is already installed (%s): remove it first (dpkg --purge %s)", pkg, out, pkg)
	}
	e := newEnv(t, "")
	conf := filepath.Join(e.tree, "patched.conf")

	// The package: one configuration file in the agent's watched tree.
	work := filepath.Join(e.dir, "deb")
	root := filepath.Join(work, "root")
	writeFile(t, filepath.Join(root, "DEBIAN", "control"), "Package: "+pkg+"\nVersion: 2.0-1\nArchitecture: all\n"+
		"Maintainer: driftwatch tests <tests@driftwatch.invalid>\nSection: misc\nPriority: optional\n"+
		"Description: driftwatch standard change test\n A configuration file, nothing else.\n")
	writeFile(t, filepath.Join(root, conf[1:]), "# installed by the driftwatch standard change test\npatched = true\n")
	deb := filepath.Join(work, pkg+".deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// Whatever failed: leave the host as it was.
		if out, err := exec.Command("dpkg", "--purge", pkg).CombinedOutput(); err != nil {
			t.Logf("dpkg --purge %s: %v\n%s", pkg, err, out)
		}
	})

	// The packaged apt hook, calling the agent under test with its
	// configuration; APT_CONFIG is read as if it were in apt.conf.d.
	hook, err := os.ReadFile("../packaging/hooks/apt/80driftwatch-agent")
	if err != nil {
		t.Fatal(err)
	}
	snippet := strings.ReplaceAll(string(hook), "/usr/bin/driftwatch-agent", agentBin)
	snippet = strings.ReplaceAll(snippet, "/etc/driftwatch/agent.hcl", e.acfg)
	aptConf := filepath.Join(work, "80driftwatch-agent")
	writeFile(t, aptConf, snippet)

	// The tenant's standing patch ticket: a standard change whose package
	// rule allows apt installs of this package on the web hosts.
	now := time.Now().UTC()
	specFile := filepath.Join(e.dir, "standard.json")
	writeFile(t, specFile, fmt.Sprintf(`{
  "reference": "CHG-PATCH-1",
  "title": "Monthly patching, approved standing change",
  "description": "Routine package updates by the operations team",
  "impact": "services restart briefly",
  "rollback_plan": "reinstall the previous package version",
  "class": "standard",
  "scope": {"labels": ["role=web"]},
  "packages": {"manager": "apt", "names": ["driftwatch-e2e-*"], "commands": ["apt-get * install *"]},
  "window": {"start": %q, "end": %q, "time_zone": "UTC"}
}`, now.Add(-time.Hour).Format("2006-01-02T15:04"), now.Add(2*time.Hour).Format("2006-01-02T15:04")))
	must(t, collectorBin, e.tenantArgs("ticket", "create", "-as", "alice@msp.test", "-role", "engineer", "-file", specFile)...)
	for _, step := range [][3]string{{"alice@msp.test", "engineer", "submit"}, {"bob@msp.test", "engineer", "review"}, {"carol@msp.test", "approver", "approve"}} {
		must(t, collectorBin, e.tenantArgs("ticket", "act", "-as", step[0], "-role", step[1], "-action", step[2], "CHG-PATCH-1")...)
	}

	e.startAgent()
	e.waitDrift("the first report", map[string]string{})

	// alice installs the package with sudo.
	cmd := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=300", "-y", "install", deb)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+aptConf, "SUDO_USER=alice", "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install: %v\n%s", err, out)
	} else {
		t.Logf("apt-get install:\n%s", out)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("the package did not install %s: %v", conf, err)
	}

	var items map[string]api.DriftItem
	waitFor(t, "the package's file reconciled", func() bool {
		items = e.driftItems()
		return items["file:"+conf].Verdict != ""
	})
	it := items["file:"+conf]
	wantReason := "standard change CHG-PATCH-1: apt-get -o DPkg::Lock::Timeout=300 -y install " + deb + " by alice"
	if it.Verdict != "authorized" || it.VerdictReason != wantReason || len(it.Tickets) == 0 {
		t.Errorf("%s: verdict %s, reason %q, tickets %v; want authorized: %q", conf, it.Verdict, it.VerdictReason, it.Tickets, wantReason)
	}

	// A change made by hand on the same host, outside any transaction:
	// after the settling time the agent gives postinst scripts and
	// triggers (10s after the transaction's end).
	ended := transactionEnd(t, e.stateDir)
	time.Sleep(time.Until(ended.Add(11 * time.Second)))
	motd := filepath.Join(e.tree, "motd")
	writeFile(t, motd, "edited by hand\n")
	waitFor(t, "the hand edit reconciled", func() bool {
		items = e.driftItems()
		return items["file:"+motd].Verdict != ""
	})
	if m := items["file:"+motd]; m.Verdict != "unauthorized" {
		t.Errorf("hand edit of motd: verdict %s (%s), want unauthorized", m.Verdict, m.VerdictReason)
	}
	if it := items["file:"+conf]; it.Verdict != "authorized" {
		t.Errorf("%s after the hand edit: %s, want still authorized", conf, it.Verdict)
	}

	// The web report shows it as a standard change, the hand edit as
	// unauthorized.
	const email, password = "ops@acme.test", "a long enough passphrase"
	if _, errs, code := runEnv(t, nil, password+"\n", collectorBin, "user", "password", "-config", e.ccfg, "-tenant", "acme", "-email", email); code != 0 {
		t.Fatalf("set the password: exit %d, %s", code, errs)
	}
	c := newWebClient(t, e)
	if status, _ := c.signIn(email, password); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	}
	_, _, page := c.do(http.MethodGet, "/ui/drift/"+items["file:"+conf].ID, nil)
	if !strings.Contains(page, "Authorized (standard change)") || !strings.Contains(page, "CHG-PATCH-1") {
		t.Errorf("the drift page of %s does not show the standard change:\n%s", conf, page)
	}
	_, _, page = c.do(http.MethodGet, "/ui/drift/"+items["file:"+motd].ID, nil)
	if strings.Contains(page, "standard change") || !strings.Contains(page, "Unauthorized") {
		t.Errorf("the drift page of the hand edit does not show it unauthorized:\n%s", page)
	}
}

// transactionEnd returns the end of the one package transaction the
// agent's state directory records.
func transactionEnd(t *testing.T, stateDir string) time.Time {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(stateDir, "pkgtx", "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("package transaction records %v (%v), want one", files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Ended time.Time `json:"ended"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Ended.IsZero() {
		t.Fatalf("package transaction record %s: %v, ended %v", files[0], err, rec.Ended)
	}
	return rec.Ended
}
