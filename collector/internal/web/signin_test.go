package web

import (
	"crypto/tls"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/reporter"
)

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	anon := f.client()
	c.signIn("admin@msp.test")
	for _, tt := range []struct {
		name   string
		c      *client
		path   string
		status int
		csp    string
		cache  string
	}{
		{"sign-in page", anon, "/ui/signin", http.StatusOK, reporter.ContentSecurityPolicy, "no-store"},
		{"overview", c, "/ui/", http.StatusOK, reporter.ContentSecurityPolicy, "no-store"},
		{"not found", c, "/ui/no/such/page", http.StatusNotFound, reporter.ContentSecurityPolicy, "no-store"},
		{"redirect to sign in", anon, "/ui/inbox", http.StatusSeeOther, reporter.ContentSecurityPolicy, "no-store"},
		{"static", anon, "/ui/static/style.css", http.StatusOK, reporter.ContentSecurityPolicy, "no-cache"},
		{"standalone documentation", c, "/ui/hosts/h-web01/doc.html", http.StatusOK, f.h.r.StandaloneCSP(), "no-store"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.get(tt.path)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			for k, want := range map[string]string{
				"Content-Security-Policy": tt.csp, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
				"Referrer-Policy": "same-origin", "Cache-Control": tt.cache, "Cross-Origin-Opener-Policy": "same-origin",
			} {
				if got := r.header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestSignInRedirects(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	r := c.get("/ui/inbox?level=3")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/signin?next=%2Fui%2Finbox%3Flevel%3D3" {
		t.Fatalf("unauthenticated inbox: %d to %q, want the sign-in page with next", r.status, r.header.Get("Location"))
	}
	for _, tt := range []struct{ next, want string }{
		{"/ui/inbox?level=3", "/ui/inbox?level=3"},
		{"//evil.example/ui/", "/ui/"},
		{"https://evil.example/", "/ui/"},
		{"/\\evil.example", "/ui/"},
		{"", "/ui/"},
	} {
		c := f.client()
		page := c.get("/ui/signin?next=" + url.QueryEscape(tt.next))
		m := csrfInput.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatal("no CSRF token on the sign-in page")
		}
		r := c.do(http.MethodPost, "/ui/signin", url.Values{reporter.FieldCSRF: {m[1]}, reporter.FieldEmail: {"lead@msp.test"},
			reporter.FieldPassword: {testPassword}, reporter.FieldNext: {tt.next}}, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != tt.want {
			t.Errorf("sign in with next %q: %d to %q, want %q", tt.next, r.status, r.header.Get("Location"), tt.want)
		}
	}
}

func TestSignInRefused(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name, email, password string
	}{
		{"wrong password", "lead@msp.test", "not the password at all"},
		{"unknown email", "nobody@msp.test", testPassword},
		{"empty password", "lead@msp.test", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client()
			r := c.trySignIn(tt.email, tt.password)
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, html(msgBadCredentials)) {
				t.Fatalf("status %d, want 401 with %q\n%s", r.status, msgBadCredentials, r.body)
			}
			if r := c.get("/ui/"); r.status != http.StatusSeeOther {
				t.Errorf("after a refused sign-in the overview answers %d, want a redirect to sign in", r.status)
			}
		})
	}
	// The same email in two accounts: the password of either signs in to
	// that account.
	t.Run("email case", func(t *testing.T) {
		c := f.client()
		if r := c.trySignIn("LEAD@msp.TEST", testPassword); r.status != http.StatusSeeOther {
			t.Errorf("sign in with the email in other case: %d", r.status)
		}
	})
}

// html escapes s as the pages do.
func html(s string) string {
	return strings.NewReplacer("'", "&#39;", `"`, "&#34;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestSignInCSRF(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	page := c.get("/ui/signin")
	m := csrfInput.FindStringSubmatch(page.body)
	// The wrong token differs from the form's in its first character
	// (whatever that is).
	first := "x"
	if m[1][0] == 'x' {
		first = "y"
	}
	for _, tt := range []struct {
		name  string
		token string
	}{{"no token", ""}, {"wrong token", first + m[1][1:]}} {
		r := c.do(http.MethodPost, "/ui/signin", url.Values{reporter.FieldCSRF: {tt.token}, reporter.FieldEmail: {"lead@msp.test"},
			reporter.FieldPassword: {testPassword}}, nil)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, msgFormExpired) {
			t.Errorf("%s: %d, want 403 with %q", tt.name, r.status, msgFormExpired)
		}
	}
	// A form posted from a browser without the form's cookie (another
	// site's page posting here) is refused too.
	other := f.client()
	r := other.do(http.MethodPost, "/ui/signin", url.Values{reporter.FieldCSRF: {m[1]}, reporter.FieldEmail: {"lead@msp.test"},
		reporter.FieldPassword: {testPassword}}, nil)
	if r.status != http.StatusForbidden {
		t.Errorf("sign-in without the form's cookie: %d, want 403", r.status)
	}
	if r := other.get("/ui/"); r.status != http.StatusSeeOther {
		t.Errorf("a refused sign-in left a session: overview %d", r.status)
	}
}

func TestSessionCookie(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	page := c.get("/ui/signin")
	m := csrfInput.FindStringSubmatch(page.body)
	r := c.do(http.MethodPost, "/ui/signin", url.Values{reporter.FieldCSRF: {m[1]}, reporter.FieldEmail: {"lead@msp.test"},
		reporter.FieldPassword: {testPassword}}, nil)
	var sess *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == sessionCookie {
			sess = ck
		}
	}
	if sess == nil {
		t.Fatalf("no %s cookie in %v", sessionCookie, r.header["Set-Cookie"])
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Secure {
		t.Errorf("session cookie over plain HTTP: %+v; want HttpOnly, SameSite=Lax, path /, not Secure", sess)
	}
	if len(sess.Value) < 40 {
		t.Errorf("session secret %q is short", sess.Value)
	}
	// The store keeps the secret's hash only.
	if _, _, err := f.st.Session(t.Context(), sess.Value, fixNow); err == nil {
		t.Error("the store finds the session by the cookie's secret itself")
	}
}

func TestSecureCookiesOverTLS(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewTLSServer(f.srv.Config.Handler)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the test server's own certificate
	resp, err := hc.Get(srv.URL + "/ui/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no Strict-Transport-Security over TLS")
	}
	var token *http.Cookie
	for _, ck := range resp.Cookies() {
		token = ck
	}
	if token == nil || token.Name != secureSigninCookie || !token.Secure || !token.HttpOnly {
		t.Fatalf("sign-in form cookie over TLS: %+v, want %s, Secure, HttpOnly", token, secureSigninCookie)
	}
	u, _ := url.Parse(srv.URL + "/ui/signin")
	resp, err = hc.PostForm(u.String(), url.Values{reporter.FieldCSRF: {token.Value}, reporter.FieldEmail: {"lead@msp.test"},
		reporter.FieldPassword: {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	found := false
	for _, ck := range resp.Cookies() {
		if ck.Name == secureSessionCookie && ck.Value != "" {
			found = ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteLaxMode
		}
	}
	if resp.StatusCode != http.StatusSeeOther || !found {
		t.Errorf("sign in over TLS: %d, cookies %v; want a Secure %s", resp.StatusCode, resp.Header["Set-Cookie"], secureSessionCookie)
	}
}

func TestSignOut(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	u, _ := url.Parse(f.srv.URL)
	var secret string
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			secret = ck.Value
		}
	}
	r := c.post("/ui/signout", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/signin" {
		t.Fatalf("sign out: %d to %q", r.status, r.header.Get("Location"))
	}
	if r := c.get("/ui/signin"); !strings.Contains(r.body, "You are signed out.") {
		t.Error("the sign-in page does not say the user is signed out")
	}
	// The old cookie, replayed, no longer signs in: the session ended in
	// the store.
	replay := f.client()
	replay.hc.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: secret, Path: "/"}})
	if r := replay.get("/ui/"); r.status != http.StatusSeeOther {
		t.Errorf("replayed session cookie after sign-out: %d, want a redirect to sign in", r.status)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.SessionIdle, o.SessionLifetime = time.Hour, 24*time.Hour })
		c := f.client()
		c.signIn("lead@msp.test")
		f.clock.Add(59 * time.Minute)
		if r := c.get("/ui/inbox"); r.status != http.StatusOK {
			t.Fatalf("inbox 59 min after sign-in: %d", r.status)
		}
		// Each use moves the idle expiry.
		f.clock.Add(59 * time.Minute)
		if r := c.get("/ui/inbox"); r.status != http.StatusOK {
			t.Fatalf("inbox 59 min after the last use: %d", r.status)
		}
		f.clock.Add(61 * time.Minute)
		r := c.get("/ui/inbox")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/ui/signin") {
			t.Fatalf("inbox 61 min idle: %d to %q, want the sign-in page", r.status, r.header.Get("Location"))
		}
		if page := c.follow(r); !strings.Contains(page.body, "Your session has ended.") {
			t.Error("the sign-in page does not say the session ended")
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.SessionIdle, o.SessionLifetime = time.Hour, 3*time.Hour })
		c := f.client()
		c.signIn("lead@msp.test")
		for range 5 {
			f.clock.Add(35 * time.Minute)
			if r := c.get("/ui/"); r.status != http.StatusOK {
				t.Fatalf("overview %v after sign-in, used every 35 min: %d", f.clock.Now().Sub(fixNow), r.status)
			}
		}
		f.clock.Add(20 * time.Minute) // 3 h 15 min after sign-in
		if r := c.get("/ui/"); r.status != http.StatusSeeOther {
			t.Errorf("overview past the session's lifetime: %d, want a redirect to sign in", r.status)
		}
	})
}

func TestSignInRateLimit(t *testing.T) {
	t.Run("account", func(t *testing.T) {
		f := newFixture(t)
		for i := range DefaultAccountLimit {
			if r := f.client().trySignIn("lead@msp.test", "wrong password number "+string(rune('a'+i))); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i+1, r.status)
			}
			f.clock.Add(time.Minute)
		}
		// Now even the right password is refused, without checking it.
		r := f.client().trySignIn("lead@msp.test", testPassword)
		if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many sign-in attempts") {
			t.Fatalf("sign in after %d failures: %d, want 429\n%s", DefaultAccountLimit, r.status, r.body)
		}
		// The first failure leaves the window 15 min after it: 10 min
		// from now.
		if got := r.header.Get("Retry-After"); got != "601" {
			t.Errorf("Retry-After %q, want 601 (10 min and a second)", got)
		}
		// Another account from the same address is not locked.
		if r := f.client().trySignIn("eng@msp.test", testPassword); r.status != http.StatusSeeOther {
			t.Errorf("another account: %d", r.status)
		}
		// A second collector on the same store counts the same failures.
		h2, err := New(Options{Store: f.st, Now: f.clock.Now, PasswordParams: testParams})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/ui/", h2)
		srv2 := httptest.NewServer(mux)
		defer srv2.Close()
		f2 := *f
		f2.srv = srv2
		if r := f2.client().trySignIn("lead@msp.test", testPassword); r.status != http.StatusTooManyRequests {
			t.Errorf("sign in at another collector: %d, want 429", r.status)
		}
		f.clock.Add(10*time.Minute + time.Second)
		if r := f.client().trySignIn("lead@msp.test", testPassword); r.status != http.StatusSeeOther {
			t.Fatalf("sign in once the first failure left the window: %d", r.status)
		}
		// A successful sign-in clears the account's failures.
		if r := f.client().trySignIn("lead@msp.test", "wrong again"); r.status != http.StatusUnauthorized {
			t.Errorf("one failure after a success: %d, want 401", r.status)
		}
	})
	t.Run("address", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.AddressLimit = 6 })
		for i := range 6 {
			if r := f.client().trySignIn("user"+string(rune('a'+i))+"@msp.test", "guess"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i+1, r.status)
			}
		}
		if r := f.client().trySignIn("admin@msp.test", testPassword); r.status != http.StatusTooManyRequests {
			t.Errorf("sign in from an address with %d failures: %d, want 429", 6, r.status)
		}
	})
}

func TestCrossOriginPost(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	form := url.Values{reporter.FieldCSRF: {c.csr}, reporter.FieldReason: {"looks fine"}}
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		r := c.do(http.MethodPost, "/ui/drift/d-web01-openssl/accept", form, hdr)
		if r.status != http.StatusForbidden {
			t.Errorf("post with %v: %d, want 403", hdr, r.status)
		}
	}
	if di := f.driftItem("t-acme", "d-web01-openssl"); di.Status != "open" {
		t.Errorf("a refused cross-origin post changed the item: %s", di.Status)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.signIn("lead@msp.test")
	other := f.client()
	other.signIn("admin@msp.test")
	for _, tt := range []struct {
		name, token string
	}{
		{"no token", ""},
		{"wrong token", flipFirst(c.csr)},
		{"another session's token", other.csr},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(http.MethodPost, "/ui/drift/d-web01-openssl/accept",
				url.Values{reporter.FieldCSRF: {tt.token}, reporter.FieldReason: {"planned upgrade"}}, nil)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "The form has expired") {
				t.Fatalf("%d, want 403\n%s", r.status, r.body)
			}
		})
	}
	// Nothing was accepted: the item is open and the baseline still v1.
	if di := f.driftItem("t-acme", "d-web01-openssl"); di.Status != "open" {
		t.Errorf("item is %s after refused posts", di.Status)
	}
	if h, _ := f.st.Host(t.Context(), "t-acme", "h-web01"); h.BaselineVersion != 1 {
		t.Errorf("baseline v%d after refused posts, want v1", h.BaselineVersion)
	}
	// Every other form is guarded the same way.
	for _, p := range []string{"/ui/drift/d-web01-openssl/revert", "/ui/drift/d-web01-openssl/link", "/ui/tickets",
		"/ui/tickets/" + f.tickets["CHG-1002"].ID + "/action", "/ui/signout"} {
		if r := c.do(http.MethodPost, p, url.Values{reporter.FieldReason: {"x"}, reporter.FieldAction: {"submit"}}, nil); r.status != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d, want 403", p, r.status)
		}
	}
	if r := c.get("/ui/"); r.status != http.StatusOK {
		t.Errorf("the session ended on a sign-out without a token: %d", r.status)
	}
}

// flipFirst returns a token that differs from tok in its first character.
func flipFirst(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}
