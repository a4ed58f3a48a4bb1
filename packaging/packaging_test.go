package packaging

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the shipped unit from the template")

// The unit the packages ship is the template rendered with the packaged
// paths: `driftwatch-agent install` and the packages install the same unit.
func TestShippedAgentUnit(t *testing.T) {
	got, err := DefaultAgentUnit.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("systemd", "driftwatch-agent.service")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendered template; run go test ./packaging -update", path)
	}
}

func TestAgentUnitPaths(t *testing.T) {
	u := AgentUnit{Exec: "/opt/dw/driftwatch-agent", Config: "/opt/dw/agent.hcl", StateDir: "/srv/driftwatch"}
	got, err := u.Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=/opt/dw/driftwatch-agent run -config /opt/dw/agent.hcl\n",
		"ReadWritePaths=/srv/driftwatch\n",
		"NoNewPrivileges=yes\n",
		"ProtectHome=read-only\n",
		"ProtectSystem=strict\n",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("unit lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []AgentUnit{
		{Exec: "driftwatch-agent", Config: "/a", StateDir: "/b"},
		{Exec: "/usr/bin/driftwatch-agent", Config: "/etc/drift watch/agent.hcl", StateDir: "/b"},
		{Exec: "/usr/bin/driftwatch-agent", Config: "/a", StateDir: "/var/lib/%n"},
		{Exec: "/usr/bin/driftwatch-agent", Config: "/a", StateDir: "/var/lib/x\ny"},
	} {
		if _, err := bad.Render(); err == nil {
			t.Errorf("Render(%+v) = nil error, want one", bad)
		}
	}
}

// systemd-analyze verify accepts the shipped unit (where systemd-analyze is
// installed: scripts/deps.sh installs it for CI).
func TestAgentUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found: scripts/deps.sh installs the systemd package")
		}
		t.Skip("systemd-analyze not found (Debian package systemd): unit not verified")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "driftwatch-agent")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	u := AgentUnit{Exec: exe, Config: filepath.Join(dir, "agent.hcl"), StateDir: dir}
	b, err := u.Render()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "driftwatch-agent.service")
	if err := os.WriteFile(unit, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	// verify prints warnings about the machine (no systemd as PID 1, other
	// units) and fails on those; only lines about this unit count.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "driftwatch-agent.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil && len(out) == 0 {
		t.Fatalf("systemd-analyze verify: %v", err)
	}
}
