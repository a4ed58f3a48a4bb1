package all

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/redact"
	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/agent/internal/source/file"
	"github.com/driftwatch/driftwatch/baseline"
)

// shippedConfig is the default configuration the packages install.
const shippedConfig = "../../../../packaging/agent.hcl"

func names(srcs []source.Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Name())
	}
	return out
}

// TestSources loads configurations and checks the sources they build, in
// the order they run.
func TestSources(t *testing.T) {
	tests := []struct {
		name string
		path string
		want []string
	}{
		{
			name: "shipped default config",
			path: shippedConfig,
			want: []string{
				"files.etc", "files.usr-local-etc", "files.boot", "files.units", "files.cron", "files.root-ssh",
				"packages", "services", "users", "groups", "sysctl", "listening_ports", "inventory",
			},
		},
		{
			name: "config with every block",
			path: "../../config/testdata/full.hcl",
			want: []string{
				"files.etc", "command.firewall",
				"packages", "services", "users", "groups", "sysctl", "listening_ports", "inventory",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(tt.path)
			if err != nil {
				if d, ok := config.AsDiagnostics(err); ok {
					var sb strings.Builder
					d.WriteText(&sb)
					t.Fatalf("%s does not validate:\n%s", tt.path, sb.String())
				}
				t.Fatal(err)
			}
			srcs, err := Sources(cfg, Options{})
			if err != nil {
				t.Fatalf("Sources: %v", err)
			}
			if diff := cmp.Diff(tt.want, names(srcs)); diff != "" {
				t.Errorf("source names (-want +got):\n%s", diff)
			}
			for _, s := range srcs {
				if want := wantKind(s.Name()); s.Kind() != want {
					t.Errorf("source %s has kind %q, want %q", s.Name(), s.Kind(), want)
				}
			}
		})
	}
}

// wantKind is the item kind a source of the given name produces.
func wantKind(name string) string {
	prefix, _, _ := strings.Cut(name, ".")
	return map[string]string{
		"files": baseline.KindFile, "command": baseline.KindCommand, "packages": baseline.KindPackage,
		"services": baseline.KindService, "users": baseline.KindUser, "groups": baseline.KindGroup,
		"sysctl": baseline.KindSysctl, "listening_ports": baseline.KindPort, "inventory": baseline.KindInventory,
	}[prefix]
}

// sourceBlocks are the configuration blocks that enable sources. The
// others configure the agent itself.
var (
	sourceBlocks = []string{"files", "command", "packages", "services", "users", "sysctl", "listening_ports", "inventory"}
	otherBlocks  = []string{"host", "redact", "schedule", "watch", "spool"}
)

// TestKinds checks that the registry has one kind per source block of the
// configuration, and that a block added to config.Agent is either a
// source here or listed as not one.
func TestKinds(t *testing.T) {
	var blocks []string
	seen := map[string]bool{}
	for _, k := range Kinds() {
		if seen[k.Block] {
			t.Errorf("block %q has two kinds", k.Block)
		}
		seen[k.Block] = true
		if k.Build == nil {
			t.Errorf("kind %q has no Build", k.Block)
		}
		blocks = append(blocks, k.Block)
	}
	sort.Strings(blocks)
	want := append([]string(nil), sourceBlocks...)
	sort.Strings(want)
	if diff := cmp.Diff(want, blocks); diff != "" {
		t.Errorf("Kinds() blocks (-want +got):\n%s", diff)
	}

	var agentBlocks []string
	typ := reflect.TypeFor[config.Agent]()
	for i := range typ.NumField() {
		tag := typ.Field(i).Tag.Get("hcl")
		name, kind, _ := strings.Cut(tag, ",")
		if kind == "block" {
			agentBlocks = append(agentBlocks, name)
		}
	}
	sort.Strings(agentBlocks)
	all := append(append([]string(nil), sourceBlocks...), otherBlocks...)
	sort.Strings(all)
	if diff := cmp.Diff(all, agentBlocks); diff != "" {
		t.Errorf("config.Agent blocks (-known +got): a new block must be a source kind or listed in otherBlocks:\n%s", diff)
	}
}

// TestKindsAbsentBlocks checks that a configuration with one block builds
// only that block's sources.
func TestKindsAbsentBlocks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"files only", `files "etc" { paths = ["/etc/hosts"] }`, []string{"files.etc"}},
		{"two commands", "command \"a\" { argv = [\"true\"] }\ncommand \"b\" { argv = [\"true\"] }", []string{"command.a", "command.b"}},
		{"users gives users and groups", `users {}`, []string{"users", "groups"}},
		{"inventory only", `inventory {}`, []string{"inventory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.src), "agent.hcl")
			if err != nil {
				t.Fatal(err)
			}
			srcs, err := Sources(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, names(srcs)); diff != "" {
				t.Errorf("source names (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefaultConfigOnThisHost runs the shipped configuration's sources on
// the machine running the test and checks the snapshot they make.
func TestDefaultConfigOnThisHost(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the whole host configuration")
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skipf("not a host with /etc/passwd: %v", err)
	}
	cfg, err := config.Load(shippedConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = t.TempDir()
	cachePath := filepath.Join(cfg.StateDir, "scan-cache")
	cache, err := file.LoadCache(cachePath, cfg.Digest)
	if err != nil {
		t.Fatalf("LoadCache: %v", err)
	}
	srcs, err := Sources(cfg, Options{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(cfg.Redact.Patterns, cfg.Redact.UseDefaults())
	if err != nil {
		t.Fatal(err)
	}
	blobs := &source.MemoryBlobs{}
	r := &source.Runner{Sources: srcs, Redactor: red, Blobs: blobs, Log: zaptest.NewLogger(t)}
	snap, err := r.Snapshot(context.Background(), baseline.Host{Name: cfg.Host.Name})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := snap.Validate(); err != nil {
		t.Errorf("snapshot does not validate: %v", err)
	}
	if _, err := snap.Marshal(); err != nil {
		t.Errorf("snapshot does not encode: %v", err)
	}

	status := map[string]baseline.SourceStatus{}
	var ran []string
	for _, st := range snap.Sources {
		status[st.Name] = st
		ran = append(ran, st.Name)
		if st.Took < 0 {
			t.Errorf("source %s took %v", st.Name, st.Took)
		}
		t.Logf("%-20s %-7s %6d items %v %d warnings %s", st.Name, st.Status, st.Items, st.Took, st.WarningCount, st.Error)
	}
	want := names(srcs)
	sort.Strings(want)
	if diff := cmp.Diff(want, ran); diff != "" {
		t.Errorf("sources recorded (-want +got):\n%s", diff)
	}

	t.Run("files.etc reads /etc/passwd", func(t *testing.T) {
		if st := status["files.etc"]; st.Status == baseline.StatusError || st.Items == 0 {
			t.Errorf("files.etc: %+v", st)
		}
		it := snap.Lookup("file:/etc/passwd")
		if it == nil {
			t.Fatal("no file:/etc/passwd item")
		}
		fi, err := os.Stat("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		if mode, ok := it.Attrs.Get(baseline.AttrMode); !ok || mode != fmt.Sprintf("%04o", fi.Mode().Perm()) {
			t.Errorf("file:/etc/passwd mode = %q, %v; want %04o", mode, ok, fi.Mode().Perm())
		}
		if typ, _ := it.Attrs.Get(baseline.AttrType); typ != "file" {
			t.Errorf("file:/etc/passwd type = %q, want file", typ)
		}
		raw, err := os.ReadFile("/etc/passwd")
		if err != nil {
			t.Skipf("cannot read /etc/passwd to compare: %v", err)
		}
		if it.Digest != baseline.Sum(raw) {
			t.Errorf("file:/etc/passwd digest is not the file's SHA-256")
		}
		stored, err := blobs.Blob(it.Content)
		if err != nil {
			t.Fatalf("content of /etc/passwd not stored: %v", err)
		}
		if want, _ := red.Redact(raw); string(stored) != string(want) {
			t.Errorf("stored content of /etc/passwd is not its redacted text")
		}
	})
	t.Run("shadow content is never kept", func(t *testing.T) {
		it := snap.Lookup("file:/etc/shadow")
		if it == nil {
			t.Skip("no /etc/shadow")
		}
		if !it.Content.IsZero() {
			t.Errorf("file:/etc/shadow content was stored")
		}
	})
	t.Run("packages", func(t *testing.T) {
		_, dpkg := os.Stat("/var/lib/dpkg/status")
		_, rpm := exec.LookPath("rpm")
		if dpkg != nil && rpm != nil {
			t.Skip("no dpkg or rpm database on this host")
		}
		if st := status["packages"]; st.Status != baseline.StatusOK || st.Items == 0 {
			t.Errorf("packages: %+v", st)
		}
	})
	t.Run("users and groups", func(t *testing.T) {
		for _, key := range []string{"user:root", "group:root"} {
			if snap.Lookup(key) == nil {
				t.Errorf("no %s item", key)
			}
		}
	})
	t.Run("every item names its source", func(t *testing.T) {
		for _, it := range snap.Items {
			if _, ok := status[it.Source]; !ok {
				t.Errorf("%s: source %q is not one that ran", baseline.EscapeBytes(it.Key), it.Source)
				break
			}
		}
	})
}
