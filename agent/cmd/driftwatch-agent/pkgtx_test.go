package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/agent/internal/pkgtx"
)

// pkgtxConfig writes an agent configuration whose state directory is
// stateDir and returns its path.
func pkgtxConfig(t *testing.T, stateDir string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "agent.hcl")
	conf := fmt.Sprintf("state_dir = %q\nhost { name = \"pkgtx-host\" }\npackages {}\n", stateDir)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// needed fails under CI=true and skips otherwise.
func needed(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestPkgtxHookNeverFails: whatever goes wrong, the hook exits 0 so the
// package manager goes on, and says why on standard error.
func TestPkgtxHookNeverFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"agent not configured", []string{"pkgtx", "begin", "-config", filepath.Join(t.TempDir(), "missing.hcl")}, "package transaction not recorded"},
		// Under a regular file: not even root can create it.
		{"state dir unwritable", []string{"pkgtx", "begin", "-config", pkgtxConfig(t, filepath.Join(file, "state"))}, "not a directory"},
		{"state dir unwritable at end", []string{"pkgtx", "end", "-tool", "dnf", "-config", pkgtxConfig(t, filepath.Join(file, "state"))}, "not a directory"},
		{"invalid configuration", []string{"pkgtx", "end", "-config", writeFile(t, "agent.hcl", "state_dir = \"relative\"\n")}, "state_dir must be an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAgent(t, tt.args...)
			if r.code != exitOK {
				t.Errorf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q, want it to say %q", r.stderr, tt.wantErr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	// A mistyped command line is the operator's: it fails.
	if r := runAgent(t, "pkgtx", "start"); r.code != exitError {
		t.Errorf("pkgtx start: exit %d, want %d", r.code, exitError)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPkgtxHookFakeParent runs the hooks as real processes under a parent
// whose command line is apt-get's, behind sudo.
func TestPkgtxHookFakeParent(t *testing.T) {
	state := t.TempDir()
	cfg := pkgtxConfig(t, state)
	dir := t.TempDir()
	script := filepath.Join(dir, "apt-get")
	body := fmt.Sprintf("#!/bin/sh\n%q pkgtx begin -tool apt -config %q || exit 1\n%q pkgtx end -tool apt -config %q || exit 1\n", bin, cfg, bin, cfg)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "install", "-y", "demo")
	cmd.Env = append(os.Environ(), "SUDO_USER=alice")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	before := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	log, err := pkgtx.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := log.Transactions(before.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 1 {
		t.Fatalf("transactions %+v, want one", txs)
	}
	tx := txs[0]
	if want := script + " install -y demo"; tx.Command != want {
		t.Errorf("command %q, want %q", tx.Command, want)
	}
	if tx.User != "alice" || tx.Tool != pkgtx.ToolApt || tx.InProgress() || tx.Incomplete || tx.Started.Before(before.Add(-time.Second)) {
		t.Errorf("transaction %+v: want alice's apt run, begun after %v, ended, complete", tx, before)
	}
	st, err := os.Stat(filepath.Join(state, pkgtx.Dir, tx.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", st.Mode().Perm())
	}
}

// TestPkgtxAptEndToEnd installs and purges a small local package with the
// real apt-get and dpkg, with the packaged apt hook calling this binary,
// and checks the transactions recorded.
func TestPkgtxAptEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		needed(t, "the apt end-to-end test installs a package: it needs root")
	}
	for _, p := range []string{"apt-get", "dpkg", "dpkg-deb", "dpkg-query"} {
		if _, err := exec.LookPath(p); err != nil {
			needed(t, "the apt end-to-end test needs %s: %v", p, err)
		}
	}
	const pkg = "driftwatch-pkgtx-test"
	const conf = "/etc/driftwatch-pkgtx-test.conf"
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output(); err == nil && len(out) > 0 && !strings.Contains(string(out), "not-installed") {
		t.Fatalf("%s is already installed (%s): remove it first (dpkg --purge %s)", pkg, out, pkg)
	}
	if _, err := os.Lstat(conf); err == nil {
		t.Fatalf("%s exists: it belongs to no package this test installs; remove it first", conf)
	}

	// The package: one configuration file.
	work := t.TempDir()
	root := filepath.Join(work, "root")
	for path, content := range map[string]string{
		"DEBIAN/control":   "Package: " + pkg + "\nVersion: 1.0-1\nArchitecture: all\nMaintainer: driftwatch tests <tests@driftwatch.invalid>\nSection: misc\nPriority: optional\nDescription: driftwatch package transaction test\n A configuration file, nothing else.\n",
		"DEBIAN/conffiles": conf + "\n",
		conf[1:]:           "# installed by the driftwatch package transaction test\nenabled = true\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(work, pkg+".deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}

	// The packaged hook, pointing at this binary and a temporary agent.
	state := filepath.Join(work, "state")
	cfg := pkgtxConfig(t, state)
	hook, err := os.ReadFile("../../../packaging/hooks/apt/80driftwatch-agent")
	if err != nil {
		t.Fatal(err)
	}
	snippet := strings.ReplaceAll(string(hook), "/usr/bin/driftwatch-agent", bin)
	snippet = strings.ReplaceAll(snippet, "/etc/driftwatch/agent.hcl", cfg)
	if snippet == string(hook) {
		t.Fatal("the packaged apt hook does not call /usr/bin/driftwatch-agent")
	}
	// APT_CONFIG is read before the host's configuration: the hook runs
	// as if installed in /etc/apt/apt.conf.d.
	aptConf := filepath.Join(work, "80driftwatch-agent")
	if err := os.WriteFile(aptConf, []byte(snippet), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever failed: leave the host as it was.
		if out, err := exec.Command("dpkg", "--purge", pkg).CombinedOutput(); err != nil {
			t.Logf("dpkg --purge %s: %v\n%s", pkg, err, out)
		}
		os.Remove(conf)
	})
	apt := func(args ...string) {
		t.Helper()
		full := append([]string{"-o", "DPkg::Lock::Timeout=300", "-y"}, args...)
		cmd := exec.Command("apt-get", full...)
		cmd.Env = append(os.Environ(), "APT_CONFIG="+aptConf, "SUDO_USER=tester", "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("apt-get %s:\n%s", strings.Join(args, " "), out)
	}

	start := time.Now()
	apt("install", deb)
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("the package did not install %s: %v", conf, err)
	}
	installed := time.Now()
	apt("purge", pkg)

	log, err := pkgtx.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := log.Transactions(start.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 2 {
		t.Fatalf("transactions %+v, want the install and the purge", txs)
	}
	want := []struct {
		command string
		change  pkgtx.PackageChange
	}{
		{"apt-get -o DPkg::Lock::Timeout=300 -y install " + deb,
			pkgtx.PackageChange{Name: pkg, Arch: "all", To: "1.0-1", Action: pkgtx.ActionInstall}},
		{"apt-get -o DPkg::Lock::Timeout=300 -y purge " + pkg,
			pkgtx.PackageChange{Name: pkg, Arch: "all", From: "1.0-1", Action: pkgtx.ActionRemove}},
	}
	for i, tx := range txs {
		if tx.Command != want[i].command || tx.User != "tester" || tx.Tool != pkgtx.ToolApt || tx.InProgress() || tx.Incomplete {
			t.Errorf("transaction %d: %+v; want tester's %q, ended", i, tx, want[i].command)
		}
		if c := tx.Changed(pkg, ""); c == nil || *c != want[i].change {
			t.Errorf("transaction %d changed %+v, want %+v", i, tx.Packages, want[i].change)
		}
	}

	// The drift the installation caused is attributed to it; the purge's
	// to the purge; a change long after to neither.
	got, err := log.Attribute([]pkgtx.ItemChange{
		{Key: "file:" + conf, ObservedAt: installed},
		{Key: "package:" + pkg, ObservedAt: txs[1].Ended.Add(time.Minute)},
		{Key: "file:/etc/hosts", ObservedAt: txs[1].Ended.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tx := got["file:"+conf]; tx == nil || tx.ID != txs[0].ID {
		t.Errorf("%s attributed to %+v, want the installation %s", conf, tx, txs[0].ID)
	}
	if tx := got["package:"+pkg]; tx == nil || tx.ID != txs[1].ID {
		t.Errorf("package:%s attributed to %+v, want the purge %s", pkg, tx, txs[1].ID)
	}
	if tx := got["file:/etc/hosts"]; tx != nil {
		t.Errorf("a change an hour after the purge attributed to %s", tx.ID)
	}
}
