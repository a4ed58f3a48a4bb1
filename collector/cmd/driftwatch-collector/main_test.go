package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// bins are the driftwatch-collector and driftwatch-agent binaries built for
// these tests.
var collectorBin, agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "driftwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	collectorBin = filepath.Join(dir, "driftwatch-collector")
	agentBin = filepath.Join(dir, "driftwatch-agent")
	for bin, pkg := range map[string]string{collectorBin: ".", agentBin: "../../../agent/cmd/driftwatch-agent"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
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

func must(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, errs, code := runBin(t, bin, args...)
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

// TestEnrollReportReadBack runs the real binaries: a collector on SQLite
// with a self-signed certificate, a tenant, an enrollment token and a
// user; an agent that enrolls with the pinned fingerprint, approves a
// baseline, drifts and reports; and the drift read back through the API.
func TestEnrollReportReadBack(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	ccfg := filepath.Join(dir, "collector.hcl")
	os.WriteFile(ccfg, []byte(fmt.Sprintf("listen = \"127.0.0.1:%d\"\npublic_url = %q\ndata_dir = %q\n", port, url, filepath.Join(dir, "cdata"))), 0o644)
	tree := filepath.Join(dir, "etc")
	os.MkdirAll(tree, 0o755)
	os.WriteFile(filepath.Join(tree, "motd"), []byte("welcome\n"), 0o644)
	acfg := filepath.Join(dir, "agent.hcl")
	os.WriteFile(acfg, []byte(fmt.Sprintf("state_dir = %q\nhost { name = \"web-01\" }\nfiles \"etc\" { paths = [%q] }\n", filepath.Join(dir, "astate"), tree)), 0o644)

	must(t, collectorBin, "tenant", "create", "-config", ccfg, "acme")
	must(t, collectorBin, "tenant", "create", "-config", ccfg, "globex")
	token := must(t, collectorBin, "token", "create", "-config", ccfg, "-tenant", "acme", "-uses", "1")
	user := must(t, collectorBin, "user", "create", "-config", ccfg, "-tenant", "acme", "-email", "ops@acme.test", "-role", "approver")
	other := must(t, collectorBin, "user", "create", "-config", ccfg, "-tenant", "globex", "-email", "ops@globex.test", "-role", "admin")
	fp := must(t, collectorBin, "fingerprint", "-config", ccfg)

	serve := exec.Command(collectorBin, "serve", "-config", ccfg)
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
		if t.Failed() {
			t.Logf("collector log:\n%s", serveLog.String())
		}
	}()
	waitReady(t, url, fp)

	// A wrong fingerprint is refused before the token is sent.
	wrong := strings.Repeat("ab", 32)
	if _, errs, code := runBin(t, agentBin, "enroll", "-config", acfg, "-collector", url, "-token", token, "-fingerprint", wrong); code != 2 || !strings.Contains(errs, "fingerprint mismatch") || !strings.Contains(errs, fp) {
		t.Fatalf("enroll with a wrong fingerprint: exit %d, %s; want a mismatch naming the certificate's fingerprint", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "astate", "collector.json")); err == nil {
		t.Fatal("a refused enrollment was saved")
	}
	out := must(t, agentBin, "enroll", "-config", acfg, "-collector", url, "-token", token, "-fingerprint", fp)
	if !strings.Contains(out, "acme") {
		t.Errorf("enroll output lacks the tenant:\n%s", out)
	}
	// The token had one use.
	if _, errs, code := runBin(t, agentBin, "enroll", "-config", acfg, "-collector", url, "-token", token, "-fingerprint", fp); code != 2 || !strings.Contains(errs, "used up") {
		t.Errorf("second enroll with a one-use token: exit %d, %s", code, errs)
	}

	must(t, agentBin, "baseline", "approve", "-config", acfg, "-reason", "initial")
	os.WriteFile(filepath.Join(tree, "motd"), []byte("maintenance tonight\n"), 0o644)
	if out, errs, code := runBin(t, agentBin, "check", "-config", acfg, "-report"); code != 1 {
		t.Fatalf("check -report: exit %d, want 1 (drift)\n%s%s", code, out, errs)
	}

	ctx := context.Background()
	c, err := api.NewClient(api.ClientOptions{BaseURL: url, Fingerprint: fp, Credential: user})
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := c.Hosts(ctx)
	if err != nil || len(hosts) != 1 || hosts[0].Name != "web-01" || hosts[0].Tenant != "acme" || hosts[0].LastSeen == nil || hosts[0].OpenDrift != 1 {
		t.Fatalf("hosts = %+v, %v", hosts, err)
	}
	drift := getJSON(t, url, fp, user, "/api/v1/hosts/"+hosts[0].ID+"/drift")
	if !strings.Contains(drift, "file:"+filepath.Join(tree, "motd")) || !strings.Contains(drift, "+maintenance tonight") {
		t.Errorf("drift read back lacks the change:\n%s", drift)
	}
	// Another tenant sees nothing of it.
	oc, _ := api.NewClient(api.ClientOptions{BaseURL: url, Fingerprint: fp, Credential: other})
	if hs, err := oc.Hosts(ctx); err != nil || len(hs) != 0 {
		t.Errorf("globex sees hosts %+v, %v", hs, err)
	}
	if body := getJSON(t, url, fp, other, "/api/v1/hosts/"+hosts[0].ID+"/drift"); !strings.HasPrefix(body, "404 ") || strings.Contains(body, "maintenance") {
		t.Errorf("globex reading acme's drift: %s", body)
	}
}

// waitReady polls /readyz until the collector answers.
func waitReady(t *testing.T, url, fp string) {
	t.Helper()
	hc := pinnedHTTP(fp)
	for i := 0; i < 100; i++ {
		resp, err := hc.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("collector did not become ready")
}

// pinnedHTTP is an HTTP client that trusts only the certificate with
// fingerprint fp.
func pinnedHTTP(fp string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || api.CertFingerprint(raw[0]) != fp {
				return fmt.Errorf("unexpected certificate")
			}
			return nil
		},
	}}}
}

// getJSON fetches path as the holder of token and returns "STATUS BODY".
func getJSON(t *testing.T, url, fp, token, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
	resp, err := pinnedHTTP(fp).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// validate accepts a good configuration and names the place of a bad one.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	os.WriteFile(good, []byte(fmt.Sprintf("listen = \"127.0.0.1:8443\"\npublic_url = \"https://collector.example:8443\"\ndata_dir = %q\n", dir)), 0o644)
	if out := must(t, collectorBin, "validate", "-config", good); !strings.Contains(out, "valid") || !strings.Contains(out, "sqlite") {
		t.Errorf("validate: %s", out)
	}
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("listen = \"127.0.0.1:8443\"\nlimits {\n  request_timeout = \"soon\"\n}\n"), 0o644)
	if _, errs, code := runBin(t, collectorBin, "validate", "-config", bad); code != 2 || !strings.Contains(errs, "bad.hcl:3:") {
		t.Errorf("validate of a bad config: exit %d, %s", code, errs)
	}
}
