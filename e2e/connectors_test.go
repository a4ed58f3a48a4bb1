package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// sign is the generic webhook's signature: "sha256=" +
// hex(HMAC-SHA256(secret, timestamp "." body)).
func sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts.Unix())
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// snowServer serves the Table API of a ServiceNow instance: the first
// recorded change request of testdata/servicenow/page1.json, with its
// window moved around now, its configuration item the test's host and
// its item pattern the test's motd.
func snowServer(t *testing.T, host, item string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	raw, err := os.ReadFile("../collector/internal/connector/testdata/servicenow/page1.json")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Result []map[string]map[string]string `json:"result"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	rec := page.Result[0]
	now := time.Now().UTC()
	set := func(field, v string) { rec[field] = map[string]string{"display_value": v, "value": v} }
	const layout = "2006-01-02 15:04:05"
	set("start_date", now.Add(-time.Hour).Format(layout))
	set("end_date", now.Add(2*time.Hour).Format(layout))
	set("sys_updated_on", now.Add(-time.Minute).Format(layout))
	set("cmdb_ci", host)
	set("u_driftwatch_items", item)
	body, err := json.Marshal(map[string]any{"result": []any{rec}})
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "driftwatch" || p != "snow-pass-1234" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/api/now/table/change_request" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Total-Count", "1")
		if r.URL.Query().Get("sysparm_offset") != "0" {
			fmt.Fprint(w, `{"result":[]}`)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// insecureHTTP talks to the test collector's self-signed TLS.
var insecureHTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// call sends an API request with a user token and decodes the answer
// into out (when not nil); it returns the status.
func (e *env) call(method, path, token string, in, out any) int {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
	req.Header.Set("Content-Type", "application/json")
	resp, err := insecureHTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// deliver posts a generic webhook delivery signed with secret.
func (e *env) deliver(name, secret string, body []byte) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+api.PathWebhooks+name, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	req.Header.Set("X-Driftwatch-Timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("X-Driftwatch-Signature", sign(secret, now, body))
	resp, err := insecureHTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// connectors lists the connectors as an admin sees them, by name.
func (e *env) connectors(admin string) map[string]api.Connector {
	e.t.Helper()
	var list api.ConnectorList
	if code := e.call(http.MethodGet, api.PathConnectors, admin, nil, &list); code != http.StatusOK {
		e.t.Fatalf("GET %s: %d", api.PathConnectors, code)
	}
	out := map[string]api.Connector{}
	for _, c := range list.Connectors {
		out[c.Name] = c
	}
	return out
}

// A collector configured with a ServiceNow connector imports the
// approved change request; the change the agent then reports on the
// ticket's host and item, in its window, comes back authorized by it. A
// generic webhook of the configuration file takes a delivery signed with
// its secret and refuses a wrong signature; a webhook connector created
// through the API, its secret stored encrypted, is picked up by the
// running collector and never shows its secret.
func TestConnectors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	motd := filepath.Join(e.tree, "motd")
	snow, requests := snowServer(t, "web-01", "file:"+motd)
	writeFile(t, filepath.Join(e.dir, "snow.json"), `{"username":"driftwatch","password":"snow-pass-1234"}`)
	writeFile(t, filepath.Join(e.dir, "hook.json"), `{"secret":"hook-secret-5678"}`)
	writeFile(t, filepath.Join(e.dir, "expired.json"), `{"username":"driftwatch","password":"expired-pass-0000"}`)
	if err := os.Chmod(filepath.Join(e.dir, "snow.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(e.ccfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, e.ccfg, string(cfg)+fmt.Sprintf(`
connector "acme-snow" {
  tenant           = "acme"
  kind             = "servicenow"
  url              = %q
  credentials_file = %q
  poll             = "30s"
  mapping {
    fields = { items = "u_driftwatch_items" }
  }
}
connector "acme-broken" {
  tenant           = "acme"
  kind             = "servicenow"
  url              = %q
  credentials_file = %q
}
connector "acme-hook" {
  tenant           = "acme"
  kind             = "webhook"
  credentials_file = %q
}
`, snow.URL, filepath.Join(e.dir, "snow.json"), snow.URL, filepath.Join(e.dir, "expired.json"), filepath.Join(e.dir, "hook.json")))
	admin := must(t, collectorBin, "user", "create", "-config", e.ccfg, "-tenant", "acme", "-email", "admin@acme.test", "-role", "admin")
	engineer := must(t, collectorBin, "user", "create", "-config", e.ccfg, "-tenant", "acme", "-email", "eng@acme.test", "-role", "engineer")
	e.collector.stop(t)
	e.startCollector()

	var snowStatus *api.ConnectorStatus
	waitFor(t, "the ServiceNow connector's first import", func() bool {
		snowStatus = e.connectors(admin)["acme-snow"].Status
		return snowStatus != nil && snowStatus.Created == 1
	})
	if requests.Load() == 0 || snowStatus.LastSuccess.IsZero() || snowStatus.Stale || snowStatus.LastError != "" {
		t.Errorf("acme-snow status %+v after %d requests", snowStatus, requests.Load())
	}

	// A connector whose credentials are refused is stale on the web
	// report's overview; the working one is not.
	var broken *api.ConnectorStatus
	waitFor(t, "the broken connector's first failure", func() bool {
		broken = e.connectors(admin)["acme-broken"].Status
		return broken != nil && broken.LastError != ""
	})
	if !broken.AuthFailed || !broken.Stale || strings.Contains(broken.LastError, "expired-pass-0000") {
		t.Errorf("acme-broken status %+v", broken)
	}
	const password = "a long enough passphrase"
	if _, errs, code := runEnv(t, []string{"DRIFTWATCH_PASSWORD=" + password}, "", collectorBin,
		"user", "password", "-config", e.ccfg, "-tenant", "acme", "-email", "admin@acme.test"); code != 0 {
		t.Fatalf("set a password: exit %d, %s", code, errs)
	}
	web := newWebClient(t, e)
	if status, _ := web.signIn("admin@acme.test", password); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	}
	status, _, page := web.do(http.MethodGet, "/ui/", nil)
	_, stale, _ := strings.Cut(page, `id="connectors"`)
	if status != http.StatusOK || !strings.Contains(stale, "acme-broken") || strings.Contains(stale, "acme-snow") {
		t.Errorf("overview: %d; its stale connectors should name acme-broken and not acme-snow:\n%s", status, stale)
	}

	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	writeFile(t, motd, "nginx maintenance tonight\n")
	var item api.DriftItem
	waitFor(t, "the motd change reconciled", func() bool {
		item = e.driftItems()["file:"+motd]
		return item.Verdict != ""
	})
	if item.Verdict != "authorized" || len(item.Tickets) != 1 || !strings.Contains(item.VerdictReason, "CHG0030001") {
		t.Errorf("motd: verdict %s, tickets %v (%s); want authorized by the imported CHG0030001", item.Verdict, item.Tickets, item.VerdictReason)
	}

	// The generic webhook of the configuration file.
	delivery := []byte(fmt.Sprintf(`{"records":[{"reference":"DEP-7","title":"Deploy release 7","state":"approved","approval":"approved",
		"hosts":["web-01"],"items":["file:%s"],"start":%q,"end":%q}]}`, filepath.Join(e.tree, "ssh", "**"),
		time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), time.Now().UTC().Add(time.Hour).Format(time.RFC3339)))
	if code, body := e.deliver("acme-hook", "hook-secret-5678", delivery); code != http.StatusAccepted || !strings.Contains(body, `"created":1`) {
		t.Errorf("signed delivery: %d %s; want 202 with one ticket created", code, body)
	}
	if code, body := e.deliver("acme-hook", "not-the-secret", delivery); code != http.StatusUnauthorized {
		t.Errorf("delivery with a wrong signature: %d %s; want 401", code, body)
	}
	if code, _ := e.deliver("no-such-hook", "x", delivery); code != http.StatusNotFound {
		t.Errorf("delivery to a missing connector: %d; want 404", code)
	}
	hook := e.connectors(admin)["acme-hook"]
	if hook.Source != api.ConnectorFromConfig || hook.Status == nil || hook.Status.Created != 1 {
		t.Errorf("acme-hook: %+v", hook)
	}
	// Configuration-file connectors are read-only through the API.
	if code := e.call(http.MethodDelete, api.PathConnectors+"/acme-hook", admin, nil, nil); code != http.StatusConflict {
		t.Errorf("DELETE of a configuration-file connector: %d; want 409", code)
	}

	// A webhook connector created through the API, its secret kept
	// encrypted; the running collector starts it.
	in := api.Connector{Name: "acme-api-hook", Tenant: "acme", Kind: "webhook",
		Credentials: &api.ConnectorCredentials{Secret: "api-secret-9012"}}
	var created api.Connector
	if code := e.call(http.MethodPost, api.PathConnectors, admin, in, &created); code != http.StatusCreated {
		t.Fatalf("POST %s: %d", api.PathConnectors, code)
	}
	if !created.HasCredentials || created.Credentials != nil || created.Source != api.ConnectorFromAPI {
		t.Errorf("created connector: %+v", created)
	}
	if code := e.call(http.MethodPost, api.PathConnectors, engineer, in, nil); code != http.StatusForbidden {
		t.Errorf("POST by a non-admin: %d; want 403", code)
	}
	api2 := []byte(`{"reference":"OPS-9","title":"Rotate keys","state":"draft"}`)
	waitFor(t, "the API connector to take deliveries", func() bool {
		code, _ := e.deliver("acme-api-hook", "api-secret-9012", api2)
		return code == http.StatusAccepted
	})
	var raw bytes.Buffer
	req, _ := http.NewRequest(http.MethodGet, e.url+api.PathConnectors+"/acme-api-hook", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
	if resp, err := insecureHTTP.Do(req); err == nil {
		io.Copy(&raw, resp.Body)
		resp.Body.Close()
	}
	for _, secret := range []string{"api-secret-9012", "snow-pass-1234", "hook-secret-5678"} {
		if strings.Contains(raw.String(), secret) || strings.Contains(e.collector.log.String(), secret) {
			t.Errorf("the secret %q shows in an answer or the collector's log", secret)
		}
	}
	if code := e.call(http.MethodDelete, api.PathConnectors+"/acme-api-hook", admin, nil, nil); code != http.StatusNoContent {
		t.Errorf("DELETE: %d; want 204", code)
	}
	waitFor(t, "the deleted connector to stop taking deliveries", func() bool {
		code, _ := e.deliver("acme-api-hook", "api-secret-9012", api2)
		return code == http.StatusNotFound
	})
	key, err := os.Stat(filepath.Join(e.dir, "cdata", "connector-secrets.key"))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Errorf("secrets key file: %v, %v; want mode 0600", key, err)
	}
	e.collector.stop(t)
}
