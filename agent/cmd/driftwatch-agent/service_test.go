package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/packaging"
)

// On systemd, `install` writes the unit the packages ship, with this
// binary's path, the given config and its state directory.
func TestServiceUnitIsThePackagedOne(t *testing.T) {
	_, cfg := host(t)
	sc, err := serviceConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := sc.Option["SystemdScript"].(string)
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	want, err := packaging.AgentUnit{Exec: exe, Config: cfg, StateDir: filepath.Join(filepath.Dir(cfg), "state")}.Render()
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("install's unit differs from the packaged template:\n%s", got)
	}
	shipped, err := os.ReadFile("../../../packaging/systemd/driftwatch-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	// The same unit but for the three paths.
	norm := func(s string) string {
		s = strings.ReplaceAll(s, exe, packaging.AgentExec)
		s = strings.ReplaceAll(s, cfg, packaging.AgentConfig)
		return strings.ReplaceAll(s, filepath.Join(filepath.Dir(cfg), "state"), packaging.AgentStateDir)
	}
	if norm(got) != string(shipped) {
		t.Errorf("install's unit is not the shipped one with other paths")
	}
	if sc.Arguments[0] != "run" || sc.Arguments[2] != cfg {
		t.Errorf("service arguments = %q", sc.Arguments)
	}
}

// On a host with SysV init (as this test machine, whose PID 1 is not
// systemd), install, status and uninstall go through the init script.
func TestInstallSysV(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("install needs root")
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: install would enable a real unit")
	}
	if _, err := os.Stat("/etc/init.d"); err != nil {
		t.Skip("no /etc/init.d")
	}
	script := "/etc/init.d/driftwatch-agent"
	if _, err := os.Stat(script); err == nil {
		t.Skip(script + " exists: an agent is installed on this machine")
	}
	_, cfg := host(t)
	t.Cleanup(func() { runAgent(t, "uninstall", "-config", cfg) })

	r := runAgent(t, "install", "-config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "installed the driftwatch-agent service") {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), bin) || !strings.Contains(string(b), "run -config "+cfg) && !strings.Contains(string(b), "\"run\" \"-config\" \""+cfg+"\"") {
		t.Errorf("init script does not run %s run -config %s:\n%s", bin, cfg, b)
	}
	r = runAgent(t, "status", "-config", cfg)
	if !strings.Contains(r.stdout, "service:      stopped") && !strings.Contains(r.stdout, "service:      installed ("+script+")") {
		t.Errorf("status after install:\n%s%s", r.stdout, r.stderr)
	}
	if r := runAgent(t, "install", "-config", cfg); r.code == 0 {
		t.Error("a second install succeeded")
	}
	r = runAgent(t, "uninstall", "-config", cfg)
	if r.code != 0 {
		t.Fatalf("uninstall: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(script); err == nil {
		t.Error("uninstall left the init script")
	}
	r = runAgent(t, "status", "-config", cfg)
	if !strings.Contains(r.stdout, "service:      not installed") {
		t.Errorf("status after uninstall:\n%s", r.stdout)
	}
}

// A configuration error stops `run` and `install` at once, with the place.
func TestRunBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte("users {}\nschedule {\n  full_scan = \"never\"\n}\n"), 0o644)
	for _, cmd := range []string{"run", "install"} {
		r := runAgent(t, cmd, "-config", cfg)
		if r.code != exitError || !strings.Contains(r.stderr, "agent.hcl:3:") {
			t.Errorf("%s with a bad config: exit %d, %s", cmd, r.code, r.stderr)
		}
	}
}
