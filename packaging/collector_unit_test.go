package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The collector's unit runs the packaged binary with the packaged
// configuration as the unprivileged user the package creates, and may write
// only its data directory.
func TestCollectorUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("systemd", "driftwatch-collector.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"ExecStart=/usr/bin/driftwatch-collector serve -config /etc/driftwatch/collector.hcl\n",
		"User=driftwatch\n",
		"Group=driftwatch\n",
		"StateDirectory=driftwatch-collector\n",
		"ReadWritePaths=/var/lib/driftwatch-collector\n",
		"NoNewPrivileges=yes\n",
		"ProtectSystem=strict\n",
		"ProtectHome=yes\n",
		"CapabilityBoundingSet=\n",
		"WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("driftwatch-collector.service lacks %q", want)
		}
	}
	// The collector does not reload on SIGHUP: a reload would end it.
	if strings.Contains(unit, "ExecReload=") {
		t.Error("driftwatch-collector.service has ExecReload, but the collector does not handle SIGHUP")
	}
}

// systemd-analyze verify accepts the collector's unit, with the binary at a
// path that exists.
func TestCollectorUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found: scripts/deps.sh installs the systemd package")
		}
		t.Skip("systemd-analyze not found (Debian package systemd): unit not verified")
	}
	b, err := os.ReadFile(filepath.Join("systemd", "driftwatch-collector.service"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "driftwatch-collector")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "driftwatch-collector.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/bin/driftwatch-collector", exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	// verify fails on warnings about the machine (no systemd as PID 1,
	// other units); only lines about this unit count.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "driftwatch-collector.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil && len(out) == 0 {
		t.Fatalf("systemd-analyze verify: %v", err)
	}
}
