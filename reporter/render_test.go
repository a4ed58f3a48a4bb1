package reporter

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// everyPage renders each web page from its zero view model (plus the page
// chrome): a handler that fills little must still get a page.
var everyPage = []struct {
	name   string
	render func(r *Renderer, w io.Writer, p Page) error
}{
	{"overview", func(r *Renderer, w io.Writer, p Page) error { return r.Overview(w, &OverviewPage{Page: p}) }},
	{"hosts", func(r *Renderer, w io.Writer, p Page) error { return r.Hosts(w, &HostsPage{Page: p}) }},
	{"host", func(r *Renderer, w io.Writer, p Page) error { return r.Host(w, &HostPage{Page: p}) }},
	{"inbox", func(r *Renderer, w io.Writer, p Page) error { return r.Inbox(w, &InboxPage{Page: p}) }},
	{"drift", func(r *Renderer, w io.Writer, p Page) error { return r.Drift(w, &DriftPage{Page: p}) }},
	{"tickets", func(r *Renderer, w io.Writer, p Page) error { return r.Tickets(w, &TicketsPage{Page: p}) }},
	{"ticket", func(r *Renderer, w io.Writer, p Page) error { return r.Ticket(w, &TicketPage{Page: p}) }},
	{"ticket-new", func(r *Renderer, w io.Writer, p Page) error { return r.NewTicket(w, &TicketFormPage{Page: p}) }},
	{"changelog", func(r *Renderer, w io.Writer, p Page) error { return r.ChangeLog(w, &ChangeLogPage{Page: p}) }},
	{"search", func(r *Renderer, w io.Writer, p Page) error { return r.Search(w, &SearchPage{Page: p}) }},
	{"metrics", func(r *Renderer, w io.Writer, p Page) error { return r.Metrics(w, &MetricsPage{Page: p}) }},
	{"audit", func(r *Renderer, w io.Writer, p Page) error { return r.Audit(w, &AuditPage{Page: p}) }},
	{"outbox", func(r *Renderer, w io.Writer, p Page) error { return r.Outbox(w, &OutboxPage{Page: p}) }},
	{"error", func(r *Renderer, w io.Writer, p Page) error { return r.Error(w, &ErrorPage{Page: p}) }},
	{"signin", func(r *Renderer, w io.Writer, p Page) error { return r.SignIn(w, &SignInPage{Page: p}) }},
	{"documentation", func(r *Renderer, w io.Writer, p Page) error {
		return r.Documentation(w, &HostDocPage{Page: p, Host: &HostDocumentation{}})
	}},
}

func TestEveryPageFromEmptyModel(t *testing.T) {
	r := newRenderer(t)
	for _, pc := range everyPage {
		for _, chrome := range []struct {
			name string
			p    Page
		}{{"bare", Page{}}, {"signed in", fixPage()}} {
			t.Run(pc.name+"/"+chrome.name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := pc.render(r, &buf, chrome.p); err != nil {
					t.Fatal(err)
				}
				checkMarkup(t, buf.String(), false)
				if !strings.HasPrefix(buf.String(), "<!DOCTYPE html>") || !strings.HasSuffix(buf.String(), "</html>\n") {
					t.Error("not a whole HTML document")
				}
			})
		}
	}
}

// postForm finds each form that posts and what it holds.
var postForm = regexp.MustCompile(`(?s)<form method="post"[^>]*>(.*?)</form>`)

func TestEveryPostFormCarriesTheCSRFToken(t *testing.T) {
	r := newRenderer(t)
	pages := map[string]func(io.Writer) error{
		"drift":      func(w io.Writer) error { return r.Drift(w, fixDriftPage(ViewUnified)) },
		"ticket":     func(w io.Writer) error { return r.Ticket(w, fixTicket()) },
		"ticket-new": func(w io.Writer) error { return r.NewTicket(w, &TicketFormPage{Page: fixPage()}) },
		"signin":     func(w io.Writer) error { return r.SignIn(w, &SignInPage{Page: fixPage()}) },
		"overview":   func(w io.Writer) error { return r.Overview(w, fixOverview(2)) },
	}
	forms := 0
	for name, render := range pages {
		var buf bytes.Buffer
		if err := render(&buf); err != nil {
			t.Fatal(err)
		}
		for _, m := range postForm.FindAllStringSubmatch(buf.String(), -1) {
			forms++
			if !strings.Contains(m[1], `<input type="hidden" name="csrf_token" value="csrf-token-123">`) {
				t.Errorf("%s: a form posts without the CSRF token: %.200s", name, m[0])
			}
		}
	}
	if forms < 8 {
		t.Errorf("found %d forms that post; the pattern no longer matches the pages", forms)
	}
}

func TestNothingWrittenOnError(t *testing.T) {
	r := newRenderer(t)
	tmpl := template.Must(template.New("x").Funcs(template.FuncMap{"fail": func() (string, error) { return "", errors.New("boom") }}).
		Parse(`<p>half a page</p>{{fail}}`))
	var buf bytes.Buffer
	err := r.execute(&buf, tmpl, "x", nil, "test page")
	if err == nil || !strings.Contains(err.Error(), "render test page") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %v, want one naming the page and the cause", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written before the error", buf.Len())
	}
	err = r.Overview(failWriter{}, fixOverview(1))
	if err == nil || !strings.Contains(err.Error(), "write overview page: disk full") {
		t.Errorf("error %v, want it to name the page and the writer's error", err)
	}
}

func TestStatic(t *testing.T) {
	r := newRenderer(t)
	mux := http.NewServeMux()
	mux.Handle("GET /ui/static/", r.Static())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		path, ctype, cache string
		status             int
	}{
		{r.Links().Static("style.css"), "text/css", "immutable", 200},
		{r.Links().Static("app.js"), "javascript", "immutable", 200},
		{"/ui/static/favicon.svg", "image/svg+xml", "no-cache", 200},
		{"/ui/static/nope.css", "", "", 404},
		{"/ui/static/../render.go", "", "", 404},
		{"/ui/static/", "", "", 404},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
			continue
		}
		if tt.status != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.ctype) {
			t.Errorf("%s: content type %q, want %q", tt.path, ct, tt.ctype)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, tt.cache) {
			t.Errorf("%s: cache control %q, want %q", tt.path, cc, tt.cache)
		}
		if len(body) == 0 {
			t.Errorf("%s: empty body", tt.path)
		}
	}
}

func TestStandaloneHasNoExternalReference(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.HostDocumentationHTML(&buf, fixHostDoc()); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, bad := range []string{"<script", "<link", "<img", "@import", "url(", "src="} {
		if strings.Contains(s, bad) {
			t.Errorf("standalone documentation holds %q", bad)
		}
	}
	// The inline style sheet is the one the CSP names by hash.
	start, end := strings.Index(s, "<style>")+len("<style>"), strings.Index(s, "</style>")
	sum := sha256.Sum256([]byte(s[start:end]))
	want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(r.StandaloneCSP(), want) {
		t.Errorf("CSP %q does not name the inline style sheet %s", r.StandaloneCSP(), want)
	}
	if !strings.Contains(s, "@media print") || !strings.Contains(s, "prefers-color-scheme: dark") {
		t.Error("standalone documentation lacks the print or dark styles")
	}
}

func TestSignInStates(t *testing.T) {
	r := newRenderer(t)
	tests := []struct {
		p    SignInPage
		want []string
		not  []string
	}{
		{SignInPage{Email: "dana@msp.example", Error: "Wrong email or password.", Next: "/ui/inbox"},
			[]string{`value="dana@msp.example"`, "Wrong email or password.", `<input type="hidden" name="next" value="/ui/inbox">`}, []string{"disabled"}},
		{SignInPage{RateLimited: true, RetryAfter: 150e9, Next: "//evil.example"},
			[]string{"Too many sign-in attempts. Try again in 3 minutes.", `<button type="submit" disabled>`}, []string{"evil.example"}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		tt.p.Page = Page{User: fixUser}
		if err := r.SignIn(&buf, &tt.p); err != nil {
			t.Fatal(err)
		}
		s := buf.String()
		for _, w := range tt.want {
			if !strings.Contains(s, w) {
				t.Errorf("sign-in page lacks %s", w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(s, n) {
				t.Errorf("sign-in page holds %s", n)
			}
		}
		if strings.Contains(s, "Sign out") {
			t.Error("the sign-in page shows the signed-in user's menu")
		}
	}
}

func TestErrorPages(t *testing.T) {
	r := newRenderer(t)
	for status, want := range map[int]string{404: "404 Not Found", 403: "403 Forbidden", 500: "500 Internal Server Error", 0: "500 Internal Server Error"} {
		var buf bytes.Buffer
		if err := r.Error(&buf, &ErrorPage{Page: Page{RequestID: "req-7"}, Status: status}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "<h1>"+want+"</h1>") || !strings.Contains(buf.String(), "req-7") {
			t.Errorf("status %d: page lacks %q or the request ID", status, want)
		}
	}
}
