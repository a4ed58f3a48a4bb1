package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// bin is the driftwatch-agent binary built for these tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "driftwatch-agent-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "driftwatch-agent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build driftwatch-agent: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runAgent(t *testing.T, args ...string) result {
	t.Helper()
	return runAgentEnv(t, nil, args...)
}

// runAgentEnv runs the agent with env added to the test's environment.
func runAgentEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// host makes a temporary tree to watch and a configuration for it.
func host(t *testing.T) (root, cfg string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "etc")
	files := map[string]string{
		"ssh/sshd_config": "Port 22\nPermitRootLogin no\n",
		"motd":            "welcome\n",
		"app/db.conf":     "host = db\npassword = s3cret\n",
		"old.conf":        "to be deleted\n",
		"hosts":           "127.0.0.1 localhost\n",
	}
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("motd", filepath.Join(root, "issue")); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "agent.hcl")
	conf := fmt.Sprintf(`state_dir = %q
host { name = "e2e-host" }
files "etc" {
  paths   = [%q]
  exclude = ["**/*.swp"]
}
`, filepath.Join(dir, "state"), root)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, cfg
}

// TestDriftEndToEnd is the standalone workflow: snapshot, approve, change
// five things, and check reports exactly those five.
func TestDriftEndToEnd(t *testing.T) {
	root, cfg := host(t)
	if r := runAgent(t, "validate", "-config", cfg); r.code != 0 {
		t.Fatalf("validate: %d %s", r.code, r.stderr)
	}
	r := runAgent(t, "check", "-config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "no approved baseline yet") || !strings.Contains(r.stderr, "baseline approve -config "+cfg) {
		t.Fatalf("check before a baseline: exit %d, stderr %q; want 2 and how to make one", r.code, r.stderr)
	}
	if r := runAgent(t, "baseline", "approve", "-config", cfg, "-reason", "initial documentation", "-ticket", "CHG-100", "-by", "alice"); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	if r := runAgent(t, "check", "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "no drift") {
		t.Fatalf("check right after approval: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Five changes: edit, chmod, add, delete, retarget a symlink.
	must(t, os.WriteFile(filepath.Join(root, "ssh/sshd_config"), []byte("Port 22\nPermitRootLogin yes\n"), 0o644))
	must(t, os.Chmod(filepath.Join(root, "hosts"), 0o600))
	must(t, os.WriteFile(filepath.Join(root, "new.conf"), []byte("added = true\n"), 0o644))
	must(t, os.Remove(filepath.Join(root, "old.conf")))
	must(t, os.Remove(filepath.Join(root, "issue")))
	must(t, os.Symlink("hosts", filepath.Join(root, "issue")))

	r = runAgent(t, "check", "-config", cfg, "-format", "json")
	if r.code != 1 {
		t.Fatalf("check with drift: exit %d, want 1\n%s", r.code, r.stderr)
	}
	var d baseline.Drift
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("json report: %v\n%s", err, r.stdout)
	}
	got := map[string]string{}
	for _, c := range d.Changes {
		got[strings.TrimPrefix(c.Key, "file:"+root)] = string(c.Change)
	}
	want := map[string]string{
		"/ssh/sshd_config": "modified",
		"/hosts":           "modified",
		"/new.conf":        "added",
		"/old.conf":        "removed",
		"/issue":           "modified",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes = %v\nwant %v", got, want)
	}
	if d.Host != "e2e-host" || d.BaselineVersion != 1 || d.Summary != (baseline.Summary{Added: 1, Removed: 1, Modified: 3}) {
		t.Errorf("report header: host %q, baseline v%d, summary %+v", d.Host, d.BaselineVersion, d.Summary)
	}
	for _, c := range d.Changes {
		switch strings.TrimPrefix(c.Key, "file:"+root) {
		case "/ssh/sshd_config":
			if !strings.Contains(c.ContentDiff, "-PermitRootLogin no\n+PermitRootLogin yes\n") {
				t.Errorf("sshd_config diff:\n%s", c.ContentDiff)
			}
		case "/hosts":
			if c.Attrs["mode"] != (baseline.AttrChange{Old: "0644", New: "0600"}) {
				t.Errorf("hosts attrs: %+v", c.Attrs)
			}
		case "/issue":
			if c.Attrs["target"] != (baseline.AttrChange{Old: "motd", New: "hosts"}) {
				t.Errorf("issue attrs: %+v", c.Attrs)
			}
		}
	}

	// The text report says the same for a person, with rollback commands.
	r = runAgent(t, "check", "-config", cfg)
	for _, s := range []string{"drift: 5 changes (1 added, 1 removed, 3 modified)", "files.etc", "chmod 0644 " + root + "/hosts", "ln -sfn motd " + root + "/issue", "+PermitRootLogin yes"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("text report lacks %q:\n%s", s, r.stdout)
		}
	}
	// -full re-reads everything and finds the same.
	if r := runAgent(t, "check", "-config", cfg, "-full", "-format", "json"); r.code != 1 || strings.Count(r.stdout, `"change": `) != 5 {
		t.Errorf("check -full: exit %d, %d changes", r.code, strings.Count(r.stdout, `"change": `))
	}

	// Approving the new state makes v2 and ends the drift.
	if r := runAgent(t, "baseline", "approve", "-config", cfg, "-reason", "reviewed changes", "-ticket", "CHG-101"); r.code != 0 {
		t.Fatalf("approve v2: %s", r.stderr)
	}
	if r := runAgent(t, "check", "-config", cfg); r.code != 0 {
		t.Errorf("check after approving v2: exit %d\n%s", r.code, r.stdout)
	}
	r = runAgent(t, "baseline", "list", "-config", cfg)
	if !strings.Contains(r.stdout, "v1") || !strings.Contains(r.stdout, "v2") || !strings.Contains(r.stdout, "CHG-101") || !strings.Contains(r.stdout, "alice") {
		t.Errorf("baseline list:\n%s", r.stdout)
	}
	r = runAgent(t, "baseline", "show", "-config", cfg, "-version", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "baseline v1 of e2e-host") || !strings.Contains(r.stdout, "old.conf") {
		t.Errorf("baseline show -version 1:\n%s%s", r.stdout, r.stderr)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	root, cfg := host(t)
	runAgent(t, "baseline", "approve", "-config", cfg, "-reason", "initial")
	must(t, os.WriteFile(filepath.Join(root, "app/db.conf"), []byte("host = db\npassword = n3w-s3cret\n"), 0o644))
	for _, format := range []string{"text", "json"} {
		r := runAgent(t, "check", "-config", cfg, "-format", format)
		if r.code != 1 {
			t.Fatalf("%s: exit %d, want 1 (a change inside a redacted span is still drift)", format, r.code)
		}
		if strings.Contains(r.stdout, "s3cret") {
			t.Errorf("%s report shows a secret:\n%s", format, r.stdout)
		}
		if !strings.Contains(r.stdout, "content changed, redacted") {
			t.Errorf("%s report does not say the redacted content changed:\n%s", format, r.stdout)
		}
	}
	// Nothing in the state directory holds the secret either.
	filepath.Walk(filepath.Join(filepath.Dir(cfg), "state"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("s3cret")) {
				t.Errorf("%s holds the secret", p)
			}
		}
		return nil
	})
}

func TestSnapshotFilesAndDiff(t *testing.T) {
	root, cfg := host(t)
	dir := t.TempDir()
	old, cur := filepath.Join(dir, "old.json"), filepath.Join(dir, "new.json")
	if r := runAgent(t, "snapshot", "-config", cfg, "-o", old); r.code != 0 {
		t.Fatalf("snapshot: %s", r.stderr)
	}
	must(t, os.WriteFile(filepath.Join(root, "motd"), []byte("maintenance tonight\n"), 0o644))
	if r := runAgent(t, "snapshot", "-config", cfg, "-o", cur); r.code != 0 {
		t.Fatalf("snapshot: %s", r.stderr)
	}
	r := runAgent(t, "diff", "-format", "json", old, cur)
	if r.code != 1 || !strings.Contains(r.stdout, `+maintenance tonight`) {
		t.Fatalf("diff: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runAgent(t, "diff", old, old); r.code != 0 || !strings.Contains(r.stdout, "no drift") {
		t.Errorf("diff of a snapshot with itself: exit %d\n%s", r.code, r.stdout)
	}
	// A saved snapshot can be approved later, even from another state dir.
	_, cfg2 := host(t)
	if r := runAgent(t, "baseline", "approve", "-config", cfg2, "-reason", "from file", "-from", old); r.code != 0 {
		t.Fatalf("approve -from: %s", r.stderr)
	}
	r = runAgent(t, "baseline", "show", "-config", cfg2, "-format", "json")
	if !strings.Contains(r.stdout, `"reason": "from file"`) || !strings.Contains(r.stdout, root) {
		t.Errorf("approved -from snapshot:\n%.500s", r.stdout)
	}
	// A damaged snapshot file is refused with its name.
	b, _ := os.ReadFile(cur)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, bytes.Replace(b, []byte(`0644`), []byte(`0777`), 1), 0o600)
	if r := runAgent(t, "diff", old, bad); r.code != 2 || !strings.Contains(r.stderr, "bad.json") {
		t.Errorf("diff with a damaged snapshot: exit %d, %s", r.code, r.stderr)
	}
}

func TestNonUTF8FileName(t *testing.T) {
	root, cfg := host(t)
	name := filepath.Join(root, "caf\xe9.conf")
	must(t, os.WriteFile(name, []byte("x = 1\n"), 0o644))
	runAgent(t, "baseline", "approve", "-config", cfg, "-reason", "initial")
	must(t, os.WriteFile(name, []byte("x = 2\n"), 0o644))
	r := runAgent(t, "check", "-config", cfg, "-format", "json")
	var d baseline.Drift
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || len(d.Changes) != 1 {
		t.Fatalf("exit %d, err %v, report:\n%s", r.code, err, r.stdout)
	}
	if got := d.Changes[0].ExactKey(); got != "file:"+name {
		t.Errorf("exact key %q, want %q", got, "file:"+name)
	}
	if !strings.Contains(d.Changes[0].Key, `caf\xe9.conf`) {
		t.Errorf("readable key %q", d.Changes[0].Key)
	}
}

func TestTamperedBaselineRefused(t *testing.T) {
	_, cfg := host(t)
	runAgent(t, "baseline", "approve", "-config", cfg, "-reason", "initial")
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "state", "baselines", "v*.json"))
	if len(files) != 1 {
		t.Fatalf("baseline files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	os.WriteFile(files[0], bytes.Replace(b, []byte(`"0644"`), []byte(`"0666"`), 1), 0o600)
	r := runAgent(t, "check", "-config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "modified outside driftwatch") {
		t.Errorf("check on a tampered baseline: exit %d, %s", r.code, r.stderr)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(cfg, []byte("files \"etc\" {\n  paths = [\"/etc\"]\n  timeout = \"10 parsecs\"\n}\n"), 0o644)
	for _, args := range [][]string{{"validate", "-config", cfg}, {"check", "-config", cfg}, {"snapshot", "-config", cfg}} {
		r := runAgent(t, args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2", args[0], r.code)
		}
		if !strings.Contains(r.stderr, cfg+":3:3: error: Unsupported argument") || !strings.Contains(r.stderr, `timeout = "10 parsecs"`) {
			t.Errorf("%s: stderr does not show file:line,col and the line:\n%s", args[0], r.stderr)
		}
	}
	if r := runAgent(t, "validate", "-config", filepath.Join(dir, "missing.hcl")); r.code != 2 || !strings.Contains(r.stderr, "missing.hcl") {
		t.Errorf("missing config: exit %d, %s", r.code, r.stderr)
	}
	if r := runAgent(t, "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("unknown command: exit %d, %s", r.code, r.stderr)
	}
	if r := runAgent(t, "baseline", "approve", "-config", cfg); r.code != 2 || !strings.Contains(r.stderr, "-reason is required") {
		t.Errorf("approve without reason: exit %d, %s", r.code, r.stderr)
	}
}

// collectorStub answers enrollment, blob and report requests like a
// collector, keeping the reports it accepts.
type collectorStub struct {
	mu      sync.Mutex
	blobs   map[string]bool
	reports []api.Report
	refuse  bool // answer reports with 400
}

func startCollectorStub(t *testing.T) (*collectorStub, string, string) {
	t.Helper()
	c := &collectorStub{blobs: map[string]bool{}}
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		var req api.EnrollRequest
		if json.NewDecoder(r.Body).Decode(&req) != nil || req.Token != "e2e-token" {
			reply(w, http.StatusUnauthorized, api.Error{Error: "enrollment token not known", Field: "token"})
			return
		}
		reply(w, http.StatusOK, api.EnrollResponse{HostID: "h-e2e", Tenant: "acme", Credential: "e2e-credential"})
	})
	mux.HandleFunc("HEAD "+api.PathBlobs+"{d}", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.blobs[r.PathValue("d")] {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	mux.HandleFunc("PUT "+api.PathBlobs+"{d}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.blobs[baseline.Sum(b).String()] = true
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST "+api.PathReports, func(w http.ResponseWriter, r *http.Request) {
		var rep api.Report
		zr, err := gzip.NewReader(r.Body)
		if err == nil {
			err = json.NewDecoder(zr).Decode(&rep)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil || c.refuse || r.Header.Get("Authorization") != "Bearer e2e-credential" {
			reply(w, http.StatusBadRequest, api.Error{Error: "report refused by the stub", Field: "report"})
			return
		}
		c.reports = append(c.reports, rep)
		reply(w, http.StatusOK, api.ReportResponse{Sequence: rep.Sequence, BaselineVersion: 1})
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return c, srv.URL, api.CertFingerprint(srv.Certificate().Raw)
}

// TestEnrollAndReport enrolls against a collector over TLS, with a wrong
// pin and on first use, and reports a check's drift to it.
func TestEnrollAndReport(t *testing.T) {
	stub, url, fp := startCollectorStub(t)
	root, cfg := host(t)
	state := filepath.Join(filepath.Dir(cfg), "state", "collector.json")
	runAgent(t, "baseline", "approve", "-config", cfg, "-reason", "initial")

	if r := runAgent(t, "check", "-config", cfg, "-report"); r.code != 2 || !strings.Contains(r.stderr, "not enrolled: run `driftwatch-agent enroll -config "+cfg) {
		t.Errorf("check -report before enrolling: exit %d, %s", r.code, r.stderr)
	}
	if r := runAgentEnv(t, []string{"DRIFTWATCH_ENROLL_TOKEN="}, "enroll", "-config", cfg, "-collector", url); r.code != 2 || !strings.Contains(r.stderr, "DRIFTWATCH_ENROLL_TOKEN") {
		t.Errorf("enroll without a token: exit %d, %s", r.code, r.stderr)
	}
	r := runAgent(t, "enroll", "-config", cfg, "-collector", url, "-token", "e2e-token", "-fingerprint", strings.Repeat("0", 64))
	if r.code != 2 || !strings.Contains(r.stderr, "fingerprint mismatch") || !strings.Contains(r.stderr, fp) {
		t.Errorf("enroll with a wrong fingerprint: exit %d, %s", r.code, r.stderr)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("collector.json after a refused enrollment: %v", err)
	}

	// Trust on first use, with the token from the environment.
	r = runAgentEnv(t, []string{"DRIFTWATCH_ENROLL_TOKEN=e2e-token"}, "enroll", "-config", cfg, "-collector", url)
	if r.code != 0 {
		t.Fatalf("enroll: exit %d, %s", r.code, r.stderr)
	}
	for _, s := range []string{"host ID:     h-e2e", "tenant:      acme", "fingerprint: " + fp + " (pinned)", "learned on first use", "driftwatch-collector fingerprint"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("enroll output lacks %q:\n%s", s, r.stdout)
		}
	}
	if fi, err := os.Stat(state); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("collector.json: %v, %v; want mode 0600", fi, err)
	}
	// With the right pin, nothing is learned on first use.
	r = runAgent(t, "enroll", "-config", cfg, "-collector", url, "-token", "e2e-token", "-fingerprint", strings.ToUpper(fp))
	if r.code != 0 || strings.Contains(r.stdout, "first use") || !strings.Contains(r.stdout, fp) {
		t.Errorf("enroll with the fingerprint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	must(t, os.WriteFile(filepath.Join(root, "motd"), []byte("maintenance tonight\n"), 0o644))
	if r := runAgent(t, "check", "-config", cfg, "-report", "-format", "json"); r.code != 1 {
		t.Fatalf("check -report with drift: exit %d, want 1\n%s", r.code, r.stderr)
	}
	stub.mu.Lock()
	reports := append([]api.Report(nil), stub.reports...)
	stub.refuse = true
	stub.mu.Unlock()
	if len(reports) != 1 || reports[0].Sequence != 1 || reports[0].Snapshot == nil || reports[0].Drift == nil || len(reports[0].Drift.Changes) != 1 {
		t.Fatalf("collector got %d reports, want one with sequence 1, the snapshot and one change", len(reports))
	}
	if r := runAgent(t, "check", "-config", cfg, "-report"); r.code != 2 || !strings.Contains(r.stderr, "400 Bad Request: report refused by the stub") || !strings.Contains(r.stdout, "maintenance tonight") {
		t.Errorf("check -report refused: exit %d, want 2 with the drift printed and the collector's error\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := runAgent(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "driftwatch-agent ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
