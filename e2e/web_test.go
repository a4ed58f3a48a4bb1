package e2e

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runEnv runs a binary with extra environment and stdin, to its end.
func runEnv(t *testing.T, env []string, stdin string, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// webClient is a browser-like client of the collector's web report: it
// pins the collector's certificate, keeps cookies and does not follow
// redirects.
type webClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newWebClient(t *testing.T, e *env) *webClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	pin := func(raw [][]byte, _ [][]*x509.Certificate) error {
		sum := sha256.Sum256(raw[0])
		if !strings.EqualFold(hex.EncodeToString(sum[:]), strings.ReplaceAll(e.fp, ":", "")) {
			return errors.New("the collector's certificate is not the pinned one")
		}
		return nil
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: pin}} // pinned by fingerprint
	return &webClient{t: t, base: e.url, hc: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *webClient) do(method, path string, form url.Values) (int, http.Header, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token reads the CSRF token of a page's forms.
func (c *webClient) token(path string) string {
	c.t.Helper()
	status, _, body := c.do(http.MethodGet, path, nil)
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		c.t.Fatalf("GET %s: %d, no form token\n%s", path, status, body)
	}
	return m[1]
}

func (c *webClient) signIn(email, password string) (int, http.Header) {
	c.t.Helper()
	tok := c.token("/ui/signin")
	status, hdr, _ := c.do(http.MethodPost, "/ui/signin", url.Values{"csrf_token": {tok}, "email": {email}, "password": {password}})
	return status, hdr
}

// TestWebReport runs the web report in the real collector: a password
// set with the CLI signs in over HTTPS, the agent's change shows in the
// inbox, accepting it there makes the host's baseline v2, which the
// agent then compares with; "user signout" ends the session.
func TestWebReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	const email, password = "ops@acme.test", "a long enough passphrase"
	pwArgs := []string{"user", "password", "-config", e.ccfg, "-tenant", "acme", "-email", email}
	if _, errs, code := runEnv(t, []string{"DRIFTWATCH_PASSWORD=short"}, "", collectorBin, pwArgs...); code != 2 || !strings.Contains(errs, "at least 12") {
		t.Errorf("a short password: exit %d, %s", code, errs)
	}
	if _, errs, code := runEnv(t, nil, "", collectorBin, "user", "password", "-config", e.ccfg, "-email", "nobody@acme.test", "-generate"); code != 2 || !strings.Contains(errs, "no user nobody@acme.test") {
		t.Errorf("an unknown user: exit %d, %s", code, errs)
	}
	if _, errs, code := runEnv(t, nil, password+"\n", collectorBin, pwArgs...); code != 0 || !strings.Contains(errs, "password set for ops@acme.test") {
		t.Fatalf("set the password from stdin: exit %d, %s", code, errs)
	}

	c := newWebClient(t, e)
	if status, hdr, _ := c.do(http.MethodGet, "/", nil); status != http.StatusSeeOther || hdr.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d to %q, want a redirect to /ui/", status, hdr.Get("Location"))
	}
	if status, _ := c.signIn(email, "not the password"); status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", status)
	}
	if status, hdr := c.signIn(email, password); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	} else if !strings.Contains(strings.Join(hdr["Set-Cookie"], "\n"), "__Host-dw_session=") {
		t.Errorf("over HTTPS the session cookie is not the __Host- one: %v", hdr["Set-Cookie"])
	}

	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	sshd := filepath.Join(e.tree, "ssh", "sshd_config")
	writeFile(t, sshd, "PermitRootLogin yes\n")
	var id string
	rowLink := regexp.MustCompile(`class="row-link" href="/ui/drift/([^"]+)">file:` + regexp.QuoteMeta(sshd) + `<`)
	waitFor(t, "the change in the inbox", func() bool {
		_, _, body := c.do(http.MethodGet, "/ui/inbox", nil)
		if m := rowLink.FindStringSubmatch(body); m != nil {
			id = m[1]
			return true
		}
		return false
	})
	_, _, page := c.do(http.MethodGet, "/ui/drift/"+id, nil)
	for _, want := range []string{"PermitRootLogin yes", "Unauthorized", "no ticket"} {
		if !strings.Contains(page, want) {
			t.Errorf("the drift page lacks %q", want)
		}
	}
	tok := c.token("/ui/drift/" + id)
	status, hdr, _ := c.do(http.MethodPost, "/ui/drift/"+id+"/accept", url.Values{"csrf_token": {tok}, "reason": {"root login for the migration"}})
	if status != http.StatusSeeOther {
		t.Fatalf("accept: %d", status)
	}
	if _, _, body := c.do(http.MethodGet, hdr.Get("Location"), nil); !strings.Contains(body, "it is now v2") {
		t.Errorf("the page after accepting does not name v2:\n%s", body)
	}
	ms, err := e.client.Baselines(t.Context(), e.hostID)
	if err != nil || len(ms) != 2 || ms[1].ApprovedBy != email {
		t.Fatalf("baselines after accepting: %+v, %v", ms, err)
	}
	// The agent syncs v2 and no longer reports the change.
	e.waitDrift("the drift against v2", map[string]string{})

	if out, errs, code := runEnv(t, nil, "", collectorBin, "user", "signout", "-config", e.ccfg, "-tenant", "acme", "-email", email); code != 0 || !strings.Contains(out, "1 session(s)") {
		t.Errorf("user signout: exit %d, %s%s", code, out, errs)
	}
	if status, hdr, _ := c.do(http.MethodGet, "/ui/inbox", nil); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/ui/signin") {
		t.Errorf("inbox after user signout: %d to %q", status, hdr.Get("Location"))
	}
}
