package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host.Name != "web-01" || cfg.Host.Labels["role"] != "web" || cfg.Host.Labels["env"] != "prod" {
		t.Errorf("host = %+v", cfg.Host)
	}
	if len(cfg.Files) != 1 || cfg.Files[0].Name != "etc" || cfg.Files[0].ContentSize != 1<<20 || !cfg.Files[0].KeepContent() {
		t.Errorf("files = %+v", cfg.Files[0])
	}
	if diff := cmp.Diff([]string{"/etc/mtab", "**/*.swp"}, cfg.Files[0].Exclude); diff != "" {
		t.Errorf("exclude (-want +got):\n%s", diff)
	}
	if len(cfg.Commands) != 1 || cfg.Commands[0].TimeoutDuration != 10*time.Second {
		t.Errorf("commands = %+v", cfg.Commands)
	}
	if cfg.Packages == nil || cfg.Packages.Manager != "auto" || cfg.Services == nil || cfg.Users == nil ||
		cfg.Sysctl == nil || cfg.ListeningPorts == nil || cfg.Inventory == nil {
		t.Errorf("system sources missing: %+v", cfg)
	}
	if cfg.Digest.IsZero() {
		t.Error("config digest not set")
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`files "x" { paths = ["/etc/hosts"] }`), "min.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != DefaultStateDir {
		t.Errorf("state_dir = %q, want %q", cfg.StateDir, DefaultStateDir)
	}
	host, _ := os.Hostname()
	if cfg.Host.Name != host {
		t.Errorf("host name = %q, want the hostname %q", cfg.Host.Name, host)
	}
	if !cfg.Files[0].KeepContent() || cfg.Files[0].ContentSize != DefaultMaxContentSize {
		t.Errorf("files defaults = %+v", cfg.Files[0])
	}
	if !cfg.Redact.UseDefaults() {
		t.Error("redaction defaults off without a redact block")
	}
	if s := cfg.Schedule; s.FullScanEvery != DefaultFullScan || s.CommandsEvery != DefaultCommandsEvery ||
		s.HeartbeatEvery != DefaultHeartbeat || s.UncoveredScanEvery != DefaultUncoveredScan {
		t.Errorf("schedule defaults = %+v", s)
	}
	if !cfg.Watch.On() || cfg.Watch.DebounceDuration != DefaultDebounce || cfg.Watch.MaxDelayDuration != DefaultMaxDelay {
		t.Errorf("watch defaults = %+v", cfg.Watch)
	}
	if cfg.Spool.Size != DefaultSpoolSize || cfg.HashRate != 0 {
		t.Errorf("spool size %d, hash rate %d; want %d, unbounded", cfg.Spool.Size, cfg.HashRate, DefaultSpoolSize)
	}
}

func TestServiceSettings(t *testing.T) {
	cfg, err := Parse([]byte(`users {}
schedule {
  full_scan = "2h"
  commands  = "10m"
  heartbeat = "30s"
  uncovered_scan = "1m"
}
watch {
  enabled     = true
  debounce    = "100ms"
  max_delay   = "1s"
  max_watches = 500
}
spool { max_size = "16MiB" }
max_hash_rate = "50MiB/s"
`), "svc.hcl")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule
	if s.FullScanEvery != 2*time.Hour || s.CommandsEvery != 10*time.Minute || s.HeartbeatEvery != 30*time.Second || s.UncoveredScanEvery != time.Minute {
		t.Errorf("schedule = %+v", s)
	}
	if w := cfg.Watch; !w.On() || w.DebounceDuration != 100*time.Millisecond || w.MaxDelayDuration != time.Second || w.MaxWatches != 500 {
		t.Errorf("watch = %+v", w)
	}
	if cfg.Spool.Size != 16<<20 || cfg.HashRate != 50<<20 {
		t.Errorf("spool size %d, hash rate %d", cfg.Spool.Size, cfg.HashRate)
	}
	off, err := Parse([]byte("users {}\nwatch { enabled = false }\n"), "off.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if off.Watch.On() {
		t.Error("watch { enabled = false } left the watch on")
	}
}

// TestErrors checks that each mistake is reported at the place it is, with
// a message that says what is wrong.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		pos       string // line:col of the first error
		want      string // part of its message
	}{
		{"unknown attribute", "files \"etc\" {\n  paths = [\"/etc\"]\n  contnet = true\n}\n", "3:3", `An argument named "contnet" is not expected here`},
		{"unknown block", "fiels \"etc\" {\n  paths = [\"/etc\"]\n}\n", "1:1", `Blocks of type "fiels" are not expected here`},
		{"bad duration", "command \"fw\" {\n  argv = [\"iptables-save\"]\n  timeout = \"10 parsecs\"\n}\n", "3:13", `duration "10 parsecs"`},
		{"negative duration", "command \"fw\" {\n  argv = [\"x\"]\n  timeout = \"-1s\"\n}\n", "3:13", `timeout must be positive`},
		{"bad size", "files \"etc\" {\n  paths = [\"/etc\"]\n  max_content_size = \"1 parsec\"\n}\n", "3:22", `unknown unit "parsec"`},
		{"bad regexp", "files \"etc\" { paths = [\"/etc\"] }\nredact {\n  patterns = [\"ok\", \"(unclosed\"]\n}\n", "3:21", `not a valid regular expression`},
		{"relative path", "files \"etc\" {\n  paths = [\"/etc\", \"etc/ssh\"]\n}\n", "2:20", `Paths must be absolute, not "etc/ssh"`},
		{"bad exclude", "files \"etc\" {\n  paths = [\"/etc\"]\n  exclude = [\"/etc/[\"]\n}\n", "3:14", `syntax error in pattern`},
		{"duplicate files block", "files \"etc\" { paths = [\"/etc\"] }\nfiles \"etc\" { paths = [\"/usr/local/etc\"] }\n", "2:1", `already defined at agent.hcl:1`},
		{"duplicate packages block", "packages {}\npackages {}\n", "2:1", `Duplicate packages block`},
		{"wrong type", "files \"etc\" {\n  paths = [\"/etc\"]\n  content = \"maybe\"\n}\n", "3:14", `Unsuitable value`},
		{"missing paths", "files \"etc\" {\n  content = true\n}\n", "1:13", `The argument "paths" is required`},
		{"empty argv", "command \"x\" {\n  argv = []\n}\n", "2:10", `needs a program to run`},
		{"no sources", "state_dir = \"/tmp/x\"\n", "1:1", `No sources configured`},
		{"bad package manager", "packages {\n  manager = \"pacman\"\n}\n", "2:13", `manager must be "auto", "dpkg" or "rpm"`},
		{"syntax error", "files \"etc\" {\n  paths = [\"/etc\"\n}\n", "3:1", `Missing item separator`},
		{"relative state_dir", "state_dir = \"state\"\nusers {}\n", "1:13", `state_dir must be an absolute path`},
		{"bad full_scan", "users {}\nschedule {\n  full_scan = \"often\"\n}\n", "3:15", `duration "often"`},
		{"tiny full_scan", "users {}\nschedule {\n  full_scan = \"1s\"\n}\n", "3:15", `full_scan must be at least 1m0s`},
		{"unknown schedule attribute", "users {}\nschedule {\n  fullscan = \"1h\"\n}\n", "3:3", `An argument named "fullscan" is not expected here`},
		{"max_delay below debounce", "users {}\nwatch {\n  debounce = \"5s\"\n  max_delay = \"1s\"\n}\n", "4:15", `must not be shorter than debounce`},
		{"negative max_watches", "users {}\nwatch {\n  max_watches = -1\n}\n", "3:17", `max_watches must not be negative`},
		{"bad spool size", "users {}\nspool {\n  max_size = \"lots\"\n}\n", "3:14", `Invalid size`},
		{"tiny spool", "users {}\nspool {\n  max_size = \"1KiB\"\n}\n", "3:14", `at least 64KiB`},
		{"bad hash rate", "users {}\nmax_hash_rate = \"fast\"\n", "2:17", `a size per second`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "agent.hcl")
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			d, ok := AsDiagnostics(err)
			if !ok {
				t.Fatalf("error %v is not diagnostics", err)
			}
			first := d.Diags[0]
			if first.Subject == nil {
				t.Fatalf("diagnostic %q has no position", first.Summary)
			}
			pos := first.Subject.Start
			got := strings.TrimSuffix(strings.Join([]string{itoa(pos.Line), itoa(pos.Column)}, ":"), ":")
			if !strings.HasPrefix(got, tt.pos) {
				t.Errorf("position %s, want %s (%s)", got, tt.pos, first.Error())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err.Error(), tt.want)
			}
			if !strings.Contains(err.Error(), "agent.hcl:"+itoa(pos.Line)) {
				t.Errorf("error %q does not name agent.hcl:%d", err.Error(), pos.Line)
			}
			var buf bytes.Buffer
			if err := d.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			// The text writer shows the offending source line.
			line := strings.Split(tt.src, "\n")[pos.Line-1]
			if !strings.Contains(buf.String(), strings.TrimSpace(line)) {
				t.Errorf("diagnostic text does not show the line %q:\n%s", line, buf.String())
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if err == nil || !strings.Contains(err.Error(), "nope.hcl") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}
