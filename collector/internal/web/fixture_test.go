package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/reporter"
)

// The fixture: an MSP with two customers, Acme Corp (web-01, db-01) and
// Globex (mail-01), on a real SQLite store. web-01's report shows four
// changes: the SSH configuration (with hostile text in it), the message
// of the day (under the approved ticket CHG-1001), openssl upgraded, and
// a new sudoers file. Times come from a clock the tests set.

var (
	// t0 is when web-01's report arrived.
	t0 = time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC)
	// fixNow is when the pages are looked at.
	fixNow = time.Date(2026, 3, 2, 6, 4, 0, 0, time.UTC)
)

// testPassword is every fixture user's password.
const testPassword = "correct horse battery staple"

// testParams are cheap argon2id parameters, so that the many sign-ins of
// the tests are quick; the defaults are tested in password_test.go.
var testParams = PasswordParams{Memory: 64, Time: 1, Threads: 1}

// The fixture's users.
var fixUsers = []store.User{
	{ID: "u-admin", Email: "admin@msp.test", Role: store.RoleAdmin},
	{ID: "u-eng", Email: "eng@msp.test", Role: store.RoleEngineer},
	{ID: "u-lead", Email: "lead@msp.test", Role: store.RoleApprover},
	{ID: "u-acme-view", TenantID: "t-acme", Email: "view@acme.test", Role: store.RoleViewer},
	{ID: "u-acme-eng", TenantID: "t-acme", Email: "eng@acme.test", Role: store.RoleEngineer},
	{ID: "u-acme-appr", TenantID: "t-acme", Email: "appr@acme.test", Role: store.RoleApprover},
	{ID: "u-globex", TenantID: "t-globex", Email: "ops@globex.test", Role: store.RoleAdmin},
}

// hostileSSHD is web-01's new SSH configuration: markup, a right-to-left
// override, a zero-width space and a very long line.
var hostileSSHD = "Port 22\nPermitRootLogin yes\n<script>alert('x')</script>\n" +
	"# \u202egnp.exe\u200b\nBanner " + strings.Repeat("A", 3000) + "\n"

// clock is the tests' clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a seeded store with the web report over it.
type fixture struct {
	t       *testing.T
	dbPath  string
	st      store.Store
	clock   *clock
	mgr     *changes.Manager
	h       *Handler
	srv     *httptest.Server
	tickets map[string]*ticket.Ticket // by reference
}

// newFixture seeds a new store and serves the web report on a test
// server; opts adjust the handler's options.
func newFixture(t *testing.T, opts ...func(*Options)) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "collector.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, dbPath: path, st: st, clock: &clock{t: t0.Add(-2 * time.Hour)}, tickets: map[string]*ticket.Ticket{}}
	f.mgr = &changes.Manager{Store: st, Log: zaptest.NewLogger(t).Named("changes"), Now: f.clock.Now}
	f.seed()
	f.clock.Set(fixNow)
	opt := Options{Store: st, Changes: f.mgr, Now: f.clock.Now, Log: zaptest.NewLogger(t), PasswordParams: testParams,
		PublicURL: "https://drift.example.net"}
	for _, o := range opts {
		o(&opt)
	}
	if f.h, err = New(opt); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(f.h.BasePath()+"/", f.h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) must(what string, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("fixture: %s: %v", what, err)
	}
}

// item makes a file item with text content, storing the content.
func (f *fixture) file(tenant, path, content, mode string) baseline.Item {
	f.t.Helper()
	d := baseline.Sum([]byte(content))
	f.must("put blob", f.st.PutBlob(f.t.Context(), tenant, d, []byte(content)))
	return baseline.Item{Key: "file:" + path, Source: "files.etc", Digest: d, Content: d,
		Attrs: baseline.AttrsFromMap(map[string]string{"type": "file", "mode": mode, "owner": "root", "group": "root",
			"size": fmt.Sprint(len(content)), "sha256": d.String()})}
}

func attrsItem(key, source string, attrs map[string]string) baseline.Item {
	return baseline.Item{Key: key, Source: source, Attrs: baseline.AttrsFromMap(attrs)}
}

func (f *fixture) seed() {
	t, ctx, st := f.t, f.t.Context(), f.st
	for _, tn := range []store.Tenant{{ID: "t-acme", Name: "Acme Corp"}, {ID: "t-globex", Name: "Globex"}} {
		_, err := st.CreateTenant(ctx, tn.ID, tn.Name, t0.Add(-48*time.Hour))
		f.must("create tenant", err)
	}
	hash, err := HashPassword(testPassword, testParams)
	f.must("hash", err)
	for i, u := range fixUsers {
		u.TokenHash, u.CreatedAt = fmt.Sprintf("token-%d", i), t0.Add(-48*time.Hour)
		f.must("create user", st.CreateUser(ctx, u))
		_, err := st.SetPassword(ctx, u.ID, hash, t0.Add(-48*time.Hour))
		f.must("set password", err)
	}
	hosts := map[string]store.Host{}
	for _, hh := range []struct {
		tenant, id, name string
		labels           map[string]string
	}{
		{"t-acme", "h-web01", "web-01", map[string]string{"role": "web", "env": "prod"}},
		{"t-acme", "h-db01", "db-01", map[string]string{"role": "db", "env": "prod"}},
		{"t-globex", "h-mail01", "mail-01", map[string]string{"role": "mail"}},
	} {
		tok := store.Token{ID: "tok-" + hh.id, TenantID: hh.tenant, Hash: "tokhash-" + hh.id, UsesLeft: 1, CreatedAt: t0.Add(-48 * time.Hour)}
		f.must("create token", st.CreateToken(ctx, tok))
		h, err := st.Enroll(ctx, store.Enrollment{TokenHash: tok.Hash, Name: hh.name, Labels: hh.labels, AgentVersion: "1.4.0",
			CredentialHash: "cred-" + hh.id, NewHostID: hh.id, At: t0.Add(-47 * time.Hour)})
		f.must("enroll", err)
		hosts[hh.name] = h
	}

	web1 := &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "web-01", ID: "h-web01"}, TakenAt: t0.Add(-46 * time.Hour),
		AgentVersion: "1.4.0", Items: []baseline.Item{
			attrsItem("inventory:os", "inventory", map[string]string{"pretty_name": "Debian GNU/Linux 12 (bookworm)"}),
			attrsItem("inventory:kernel", "inventory", map[string]string{"release": "6.1.0-18-amd64", "arch": "x86_64"}),
			attrsItem("inventory:memory", "inventory", map[string]string{"total_human": "7.8 GiB"}),
			f.file("t-acme", "/etc/ssh/sshd_config", "Port 22\nPermitRootLogin no\n", "0644"),
			f.file("t-acme", "/etc/motd", "welcome\n", "0644"),
			attrsItem("package:openssl", "packages", map[string]string{"version": "3.0.11-1~deb12u2", "architecture": "amd64", "manager": "dpkg"}),
			attrsItem("service:sshd.service", "services", map[string]string{"state": "active", "unit_file": "enabled"}),
			attrsItem("port:tcp/22", "ports", map[string]string{"addresses": "0.0.0.0", "process": "sshd", "uid": "0"}),
			attrsItem("user:deploy", "users", map[string]string{"uid": "1001", "gid": "1001", "home": "/home/deploy", "shell": "/bin/bash"}),
		}}
	web1.Sort()
	f.addBaseline("t-acme", hosts["web-01"], web1)
	db1 := &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "db-01"}, TakenAt: t0.Add(-46 * time.Hour),
		Items: []baseline.Item{f.file("t-acme", "/etc/postgresql/15/main/postgresql.conf", "max_connections = 100\n", "0644")}}
	f.addBaseline("t-acme", hosts["db-01"], db1)
	mail1 := &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "mail-01"}, TakenAt: t0.Add(-46 * time.Hour),
		Items: []baseline.Item{f.file("t-globex", "/etc/postfix/main.cf", "relayhost = [smtp.globex.test]\n", "0644")}}
	f.addBaseline("t-globex", hosts["mail-01"], mail1)

	// CHG-1001: an approved internal change of web-01's motd, with a
	// window around the report; CHG-1002 a draft for db-01.
	eng := ticket.Actor{ID: "u-eng", Email: "eng@msp.test", Role: ticket.RoleEngineer}
	lead := ticket.Actor{ID: "u-lead", Email: "lead@msp.test", Role: ticket.RoleApprover}
	tk, err := f.mgr.CreateTicket(ctx, "t-acme", ticket.Spec{Reference: "CHG-1001", Title: "New message of the day",
		Description: "Announce the maintenance window.", Impact: "None.", RollbackPlan: "Restore the motd from the baseline.",
		Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/motd"}},
		Window: &policy.Window{Start: "2026-03-02T04:00", End: "2026-03-02T08:00", TimeZone: "UTC"},
		Notify: []string{"noc@acme.test"}}, eng)
	f.must("create ticket", err)
	for _, a := range []struct {
		act ticket.Action
		by  ticket.Actor
	}{{ticket.ActionSubmit, eng}, {ticket.ActionReview, lead}, {ticket.ActionApprove, lead}} {
		f.clock.Add(time.Minute)
		tk, err = f.mgr.Act(ctx, "t-acme", tk.ID, a.act, a.by, string(a.act)+" by "+a.by.Email)
		f.must("act on ticket", err)
	}
	f.tickets["CHG-1001"] = tk
	f.clock.Add(time.Minute)
	tk, err = f.mgr.CreateTicket(ctx, "t-acme", ticket.Spec{Reference: "CHG-1002", Title: "Tune PostgreSQL connections",
		Description: "Raise max_connections for the new app servers.", RollbackPlan: "Put the old value back.",
		Scope: ticket.Scope{Hosts: []string{"db-01"}, Items: []string{"file:/etc/postgresql/**"}}}, eng)
	f.must("create ticket", err)
	f.tickets["CHG-1002"] = tk
	f.clock.Add(time.Minute)
	tk, err = f.mgr.CreateTicket(ctx, "t-globex", ticket.Spec{Reference: "CHG-2001", Title: "Move the mail relay",
		Description: "Relay through the new smarthost.", RollbackPlan: "Put the old relayhost back.",
		Scope: ticket.Scope{Hosts: []string{"mail-01"}, Items: []string{"file:/etc/postfix/**"}}}, eng)
	f.must("create ticket", err)
	f.tickets["CHG-2001"] = tk

	// web-01's report at t0.
	f.clock.Set(t0)
	now1 := &baseline.Snapshot{Format: web1.Format, Host: web1.Host, TakenAt: t0.Add(-2 * time.Second), AgentVersion: "1.4.0"}
	for _, it := range web1.Items {
		switch it.Key {
		case "file:/etc/ssh/sshd_config":
			it = f.file("t-acme", "/etc/ssh/sshd_config", hostileSSHD, "0600")
		case "file:/etc/motd":
			it = f.file("t-acme", "/etc/motd", "maintenance tonight 22:00-23:00\n", "0644")
		case "package:openssl":
			it = attrsItem("package:openssl", "packages", map[string]string{"version": "3.0.13-1~deb12u1", "architecture": "amd64", "manager": "dpkg"})
		}
		now1.Items = append(now1.Items, it)
	}
	now1.Items = append(now1.Items, f.file("t-acme", "/etc/sudoers.d/deploy", "deploy ALL=(ALL) NOPASSWD: ALL\n", "0440"))
	now1.Sort()
	f.report("t-acme", hosts["web-01"], 1, web1, now1, map[string]string{
		"file:/etc/ssh/sshd_config": "d-web01-sshd", "file:/etc/motd": "d-web01-motd",
		"package:openssl": "d-web01-openssl", "file:/etc/sudoers.d/deploy": "d-web01-sudoers"})
	f.clock.Set(t0.Add(10 * time.Minute))
	mail2 := &baseline.Snapshot{Format: mail1.Format, Host: mail1.Host, TakenAt: t0.Add(10 * time.Minute),
		Items: []baseline.Item{f.file("t-globex", "/etc/postfix/main.cf", "relayhost = [evil.example]\n", "0644")}}
	f.report("t-globex", hosts["mail-01"], 1, mail1, mail2, map[string]string{"file:/etc/postfix/main.cf": "d-mail01-main"})
	// db-01 last reported five hours ago, without drift.
	f.clock.Set(t0.Add(-4 * time.Hour))
	f.report("t-acme", hosts["db-01"], 1, db1, db1, nil)
	_ = t
}

func (f *fixture) addBaseline(tenant string, h store.Host, snap *baseline.Snapshot) {
	f.t.Helper()
	b, err := snap.Marshal()
	f.must("marshal snapshot", err)
	f.must("add baseline", f.st.AddBaseline(f.t.Context(), store.Baseline{TenantID: tenant, HostID: h.ID, Snapshot: b,
		Meta: baseline.Meta{Host: h.Name, Version: 1, SnapshotDigest: snap.Digest(), Items: len(snap.Items), ApprovedBy: "agent",
			ApprovedAt: snap.TakenAt, Reason: "initial documentation", Tickets: []string{"CHG-1"}}}))
}

// report stores a report of cur against old and applies its drift with
// the given item IDs, then reconciles the tenant.
func (f *fixture) report(tenant string, h store.Host, seq uint64, old, cur *baseline.Snapshot, ids map[string]string) {
	f.t.Helper()
	ctx := f.t.Context()
	d := baseline.DiffBaseline(&baseline.Baseline{Meta: baseline.Meta{Version: 1}, Snapshot: old}, cur,
		baseline.DiffOptions{Blobs: storeBlobs{ctx, f.st, tenant}})
	dj, err := json.Marshal(d)
	f.must("encode drift", err)
	sources, _ := json.Marshal([]baseline.SourceStatus{{Name: "files.etc", Kind: "file", Status: baseline.StatusOK, Items: 3},
		{Name: "packages", Kind: "package", Status: baseline.StatusPartial, Items: 1, Warnings: []string{"dpkg status: <b>locked</b>"}, WarningCount: 1}})
	now := f.clock.Now()
	_, err = f.st.IngestReport(ctx, store.Report{TenantID: tenant, HostID: h.ID, Sequence: seq, ReceivedAt: now, TakenAt: cur.TakenAt,
		SnapshotDigest: cur.Digest(), ItemCount: len(cur.Items), AgentVersion: "1.4.0", Sources: sources, Drift: dj,
		Changes: len(d.Changes), Size: len(dj)}, nil)
	f.must("ingest", err)
	var obs []store.DriftObservation
	for _, c := range d.Changes {
		doc, err := json.Marshal(c)
		f.must("encode change", err)
		id := ids[c.Key]
		if id == "" {
			f.t.Fatalf("fixture: no ID for change %s", c.Key)
		}
		obs = append(obs, store.DriftObservation{Key: c.Key, Kind: c.Kind, Change: c.Change, StateDigest: cur.Lookup(c.Key).Digest.String() + "-" + c.Key,
			ChangeDoc: doc, NewID: id})
	}
	_, err = f.st.ApplyDrift(ctx, tenant, h.ID, seq, now, obs)
	f.must("apply drift", err)
	_, err = f.mgr.Reconcile(ctx, tenant, "report")
	f.must("reconcile", err)
}

// client is a browser-like client of the fixture: it keeps cookies and
// does not follow redirects.
type client struct {
	f   *fixture
	hc  *http.Client
	csr string
}

func (f *fixture) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return &client{f: f, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) response {
	c.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.f.srv.URL+path, body)
	if err != nil {
		c.f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil, nil) }

// post posts a form with the client's CSRF token.
func (c *client) post(path string, form url.Values) response {
	if form == nil {
		form = url.Values{}
	}
	if c.csr != "" && form.Get(reporter.FieldCSRF) == "" {
		form.Set(reporter.FieldCSRF, c.csr)
	}
	return c.do(http.MethodPost, path, form, nil)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn signs in as email with the fixture password and fails the test
// unless it works; it keeps the session's CSRF token.
func (c *client) signIn(email string) {
	c.f.t.Helper()
	if r := c.trySignIn(email, testPassword); r.status != http.StatusSeeOther {
		c.f.t.Fatalf("sign in as %s: %d\n%s", email, r.status, r.body)
	}
	r := c.get("/ui/")
	m := csrfInput.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		c.f.t.Fatalf("overview after signing in as %s: %d, no CSRF token", email, r.status)
	}
	c.csr = m[1]
}

// trySignIn loads the sign-in form and posts it.
func (c *client) trySignIn(email, password string) response {
	c.f.t.Helper()
	r := c.get("/ui/signin")
	m := csrfInput.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		c.f.t.Fatalf("sign-in page: %d, no CSRF token\n%s", r.status, r.body)
	}
	return c.do(http.MethodPost, "/ui/signin", url.Values{reporter.FieldCSRF: {m[1]}, reporter.FieldEmail: {email},
		reporter.FieldPassword: {password}}, nil)
}

// driftItem reads a drift item back.
func (f *fixture) driftItem(tenant, id string) store.DriftItem {
	f.t.Helper()
	di, err := f.st.DriftItem(f.t.Context(), tenant, id)
	f.must("drift item "+id, err)
	return di
}
