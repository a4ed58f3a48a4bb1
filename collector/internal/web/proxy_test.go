package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/reporter"
)

func TestClientAddr(t *testing.T) {
	h := &Handler{opt: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}}}
	tests := []struct {
		name   string
		peer   string
		xff    []string
		client string
	}{
		{"no proxy", "198.51.100.4:51000", nil, "198.51.100.4"},
		{"spoofed header from an untrusted peer", "198.51.100.4:51000", []string{"10.0.0.1, 203.0.113.5"}, "198.51.100.4"},
		{"trusted proxy without header", "10.0.0.1:443", nil, "10.0.0.1"},
		{"trusted proxy", "10.0.0.1:443", []string{"203.0.113.5"}, "203.0.113.5"},
		{"client's own header before the proxy's", "10.0.0.1:443", []string{"192.0.2.66, 203.0.113.5"}, "203.0.113.5"},
		{"client claims to be a proxy", "10.0.0.1:443", []string{"10.9.9.9, 203.0.113.5"}, "203.0.113.5"},
		{"two trusted proxies", "10.0.0.1:443", []string{"192.0.2.66, 203.0.113.5, 10.0.0.2"}, "203.0.113.5"},
		{"two headers", "10.0.0.1:443", []string{"192.0.2.66", "203.0.113.5, 10.0.0.2"}, "203.0.113.5"},
		{"only proxies", "10.0.0.1:443", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"not an address at the right", "10.0.0.1:443", []string{"203.0.113.5, <script>"}, "10.0.0.1"},
		{"not an address further left", "10.0.0.1:443", []string{"bogus, 203.0.113.5"}, "203.0.113.5"},
		{"address with port", "10.0.0.1:443", []string{"203.0.113.5:4711"}, "203.0.113.5"},
		{"IPv6 proxy and client", "[2001:db8::1]:443", []string{"[2001:db8:1::2]:80, 2a00:1450::7"}, "2a00:1450::7"},
		{"IPv4 in IPv6 peer", "[::ffff:10.0.0.1]:443", []string{"203.0.113.5"}, "203.0.113.5"},
		{"empty header", "10.0.0.1:443", []string{""}, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/ui/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := h.clientAddr(r); got != tt.client {
				t.Errorf("client %q, want %q", got, tt.client)
			}
		})
	}
	t.Run("no trusted proxies", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/ui/", nil)
		r.RemoteAddr = "10.0.0.1:443"
		r.Header.Set("X-Forwarded-For", "203.0.113.5")
		if got := (&Handler{}).clientAddr(r); got != "10.0.0.1" {
			t.Errorf("client %q, want the peer 10.0.0.1", got)
		}
	})
}

// signInFrom tries a sign-in with an X-Forwarded-For header.
func (c *client) signInFrom(xff, email, password string) response {
	c.f.t.Helper()
	r := c.get("/ui/signin")
	m := csrfInput.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		c.f.t.Fatalf("sign-in page: %d, no CSRF token\n%s", r.status, r.body)
	}
	return c.do(http.MethodPost, "/ui/signin", url.Values{reporter.FieldCSRF: {m[1]}, reporter.FieldEmail: {email},
		reporter.FieldPassword: {password}}, map[string]string{"X-Forwarded-For": xff})
}

// TestSignInLimitBehindProxy checks the sign-in rate limit per client
// address behind a trusted proxy (the test server's clients come from
// 127.0.0.1), and that a client cannot escape it with a header of its
// own.
func TestSignInLimitBehindProxy(t *testing.T) {
	const limit = 4
	fail := func(t *testing.T, f *fixture, xff string, n int) {
		t.Helper()
		for i := range n {
			if r := f.client().signInFrom(xff, "user"+string(rune('a'+i))+"@msp.test", "guess"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d from %q: %d", i+1, xff, r.status)
			}
		}
	}
	t.Run("trusted proxy", func(t *testing.T) {
		f := newFixture(t, func(o *Options) {
			o.AddressLimit = limit
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		})
		fail(t, f, "203.0.113.7", limit)
		if r := f.client().signInFrom("203.0.113.7", "admin@msp.test", testPassword); r.status != http.StatusTooManyRequests {
			t.Errorf("sign in from the client with %d failures: %d, want 429", limit, r.status)
		}
		// A client spoofing another's address in front of the proxy's
		// entry is still itself.
		if r := f.client().signInFrom("198.51.100.9, 203.0.113.7", "admin@msp.test", testPassword); r.status != http.StatusTooManyRequests {
			t.Errorf("sign in with a spoofed header: %d, want 429", r.status)
		}
		// Another client behind the same proxy is not limited.
		c := f.client()
		if r := c.signInFrom("203.0.113.8", "admin@msp.test", testPassword); r.status != http.StatusSeeOther {
			t.Fatalf("sign in from another client: %d, want 303", r.status)
		}
		// The session records the client, not the proxy.
		u, _ := url.Parse(f.srv.URL)
		var secret string
		for _, ck := range c.hc.Jar.Cookies(u) {
			if ck.Name == sessionCookie {
				secret = ck.Value
			}
		}
		s, _, err := f.st.Session(t.Context(), auth.Hash(secret), fixNow)
		if err != nil {
			t.Fatalf("the session: %v", err)
		}
		if s.RemoteAddr != "203.0.113.8" {
			t.Errorf("session's address %q, want the client's 203.0.113.8", s.RemoteAddr)
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.AddressLimit = limit })
		for i := range limit {
			// A new address in the header on every try.
			xff := "203.0.113." + string(rune('1'+i))
			if r := f.client().signInFrom(xff, "user"+string(rune('a'+i))+"@msp.test", "guess"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i+1, r.status)
			}
		}
		if r := f.client().signInFrom("192.0.2.200", "admin@msp.test", testPassword); r.status != http.StatusTooManyRequests {
			t.Errorf("sign in with yet another header after %d failures: %d, want 429", limit, r.status)
		}
	})
}
