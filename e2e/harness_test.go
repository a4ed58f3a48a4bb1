package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// The binaries under test, built once by TestMain.
var collectorBin, agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "driftwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	collectorBin = filepath.Join(dir, "driftwatch-collector")
	agentBin = filepath.Join(dir, "driftwatch-agent")
	for bin, pkg := range map[string]string{collectorBin: "../collector/cmd/driftwatch-collector", agentBin: "../agent/cmd/driftwatch-agent"} {
		if out, err := exec.Command("go", "build", "-race", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a log both a process and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs a binary to its end and returns its output and exit code.
func run(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// must runs a binary and fails the test unless it exits 0.
func must(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, errs, code := run(t, bin, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", filepath.Base(bin), strings.Join(args, " "), code, out, errs)
	}
	return strings.TrimSpace(out)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// onTimeout, when set, runs before a waitFor fails: a goroutine dump of
// the agent with DRIFTWATCH_E2E_DUMP set.
var onTimeout func()

// waitFor polls cond until it holds; it fails the test after a generous
// deadline, which only a broken behaviour reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if onTimeout != nil {
				onTimeout()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// process is a running binary.
type process struct {
	cmd *exec.Cmd
	log *syncBuffer
}

func start(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), log: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// stop sends SIGTERM and waits for the process to end.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not stop on SIGTERM", filepath.Base(p.cmd.Path))
	}
}

// kill ends the process with SIGKILL, as a crash or kill -9 would.
func (p *process) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// env is a collector on SQLite and one enrolled host with an agent
// config watching a small tree.
type env struct {
	t         *testing.T
	dir       string
	url       string
	fp        string
	ccfg      string
	acfg      string
	tree      string
	stateDir  string
	collector *process
	agent     *process
	client    *api.Client
	hostID    string
}

// newEnv makes the environment; extra is added to the agent config.
func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	e := &env{t: t, dir: dir, url: fmt.Sprintf("https://127.0.0.1:%d", port)}
	e.ccfg = filepath.Join(dir, "collector.hcl")
	writeFile(t, e.ccfg, fmt.Sprintf("listen = \"127.0.0.1:%d\"\npublic_url = %q\ndata_dir = %q\n", port, e.url, filepath.Join(dir, "cdata")))
	e.tree = filepath.Join(dir, "etc")
	writeFile(t, filepath.Join(e.tree, "motd"), "welcome\n")
	writeFile(t, filepath.Join(e.tree, "ssh", "sshd_config"), "PermitRootLogin no\n")
	e.stateDir = filepath.Join(dir, "state")
	e.acfg = filepath.Join(dir, "agent.hcl")
	e.writeAgentConfig(extra)

	must(t, collectorBin, "tenant", "create", "-config", e.ccfg, "acme")
	token := must(t, collectorBin, "token", "create", "-config", e.ccfg, "-tenant", "acme", "-uses", "1")
	user := must(t, collectorBin, "user", "create", "-config", e.ccfg, "-tenant", "acme", "-email", "ops@acme.test", "-role", "approver")
	e.fp = must(t, collectorBin, "fingerprint", "-config", e.ccfg)
	e.startCollector()
	must(t, agentBin, "baseline", "approve", "-config", e.acfg, "-reason", "initial documentation", "-ticket", "CHG-1")
	must(t, agentBin, "enroll", "-config", e.acfg, "-collector", e.url, "-token", token, "-fingerprint", e.fp)
	var err error
	e.client, err = api.NewClient(api.ClientOptions{BaseURL: e.url, Fingerprint: e.fp, Credential: user})
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := e.client.Hosts(t.Context())
	if err != nil || len(hosts) != 1 {
		t.Fatalf("hosts: %v, %v", hosts, err)
	}
	e.hostID = hosts[0].ID
	t.Cleanup(func() {
		if t.Failed() {
			if e.agent != nil {
				t.Logf("agent log:\n%s", e.agent.log.String())
			}
			if e.collector != nil {
				t.Logf("collector log:\n%s", e.collector.log.String())
			}
		}
	})
	return e
}

// writeAgentConfig writes the agent config: fast schedules for tests.
func (e *env) writeAgentConfig(extra string) {
	writeFile(e.t, e.acfg, fmt.Sprintf(`state_dir = %q
host {
  name   = "web-01"
  labels = { role = "web" }
}
files "etc" {
  paths   = [%q]
  exclude = ["**/*.swp"]
}
schedule {
  heartbeat = "1s"
}
spool {
  retry_max = "500ms"
}
%s
`, e.stateDir, e.tree, extra))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *env) startCollector() {
	e.t.Helper()
	e.collector = start(e.t, collectorBin, "serve", "-config", e.ccfg)
	waitFor(e.t, "the collector to answer", func() bool {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.url, "https://"), time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

func (e *env) startAgent() {
	e.t.Helper()
	if e.agent != nil && e.agent.cmd.ProcessState == nil {
		e.t.Fatal("agent already running")
	}
	prev := ""
	if e.agent != nil {
		prev = e.agent.log.String()
	}
	e.agent = start(e.t, agentBin, "run", "-config", e.acfg, "-log-level", "debug")
	if os.Getenv("DRIFTWATCH_E2E_DUMP") != "" {
		p := e.agent
		onTimeout = func() {
			p.cmd.Process.Signal(syscall.SIGQUIT)
			time.Sleep(time.Second)
		}
	}
	if prev != "" {
		e.agent.log.Write([]byte(prev + "--- restarted ---\n"))
	}
	waitFor(e.t, "the agent's first full scan", func() bool {
		return strings.Count(e.agent.log.String(), `"full scan done"`) > strings.Count(prev, `"full scan done"`)
	})
}

// drift returns the host's current drift at the collector, as change
// keys.
func (e *env) drift() map[string]string {
	e.t.Helper()
	d, err := e.client.HostDrift(context.Background(), e.hostID)
	if err != nil || d.Sequence == 0 {
		return nil
	}
	out := map[string]string{}
	if d.Drift != nil {
		for _, c := range d.Drift.Changes {
			out[c.Key] = string(c.Change)
		}
	}
	return out
}

// waitDrift waits until the collector's current drift is exactly want
// (key → added/removed/modified).
func (e *env) waitDrift(what string, want map[string]string) {
	e.t.Helper()
	var got map[string]string
	waitFor(e.t, what, func() bool {
		got = e.drift()
		if got == nil || len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
}

// reportCount is how many reports the collector stored for the host.
func (e *env) lastSequence() uint64 {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.stateDir, "collector.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var seq uint64
	if i := bytes.Index(b, []byte(`"last_sequence":`)); i >= 0 {
		fmt.Sscanf(strings.TrimSpace(string(b[i+len(`"last_sequence":`):])), "%d", &seq)
	}
	return seq
}

// spoolEntries is the number of entries in the agent's spool, from its
// status file.
func (e *env) statusField(field string) string {
	out, _, _ := run(e.t, agentBin, "status", "-config", e.acfg)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, field+":") {
			return strings.TrimSpace(strings.TrimPrefix(line, field+":"))
		}
	}
	return ""
}
