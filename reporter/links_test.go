package reporter

import "testing"

func TestLinksEscape(t *testing.T) {
	l := NewLinks("https://drift.example.net/ui/")
	tests := []struct{ got, want string }{
		{l.Drift("a/b?c#d e"), "https://drift.example.net/ui/drift/a%2Fb%3Fc%23d%20e"},
		{l.Host("../admin"), "https://drift.example.net/ui/hosts/..%2Fadmin"},
		{l.Search("a&b=c"), "https://drift.example.net/ui/search?q=a%26b%3Dc"},
		{l.Inbox(InboxFilter{TenantID: "t 1", Verdicts: []Verdict{VerdictUnauthorized}}, "x&y"), "https://drift.example.net/ui/inbox?cursor=x%26y&tenant=t+1&verdict=unauthorized"},
		{l.HostDoc("h", "md", 3), "https://drift.example.net/ui/hosts/h/doc.md?version=3"},
		{l.ChangeLogCSV("t", "2024-11-01", ""), "https://drift.example.net/ui/changelog.csv?from=2024-11-01&tenant=t"},
		{l.DriftAction("d", "accept"), "https://drift.example.net/ui/drift/d/accept"},
		{NewLinks("/ui").Overview(""), "/ui/"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/ui/inbox?tenant=t":     "/ui/inbox?tenant=t",
		"":                       "/ui/",
		"//evil.example/":        "/ui/",
		"https://evil.example/":  "/ui/",
		"javascript:alert(1)":    "/ui/",
		"/\\evil.example":        "/ui/",
		"/ui/x\r\nLocation: y":   "/ui/",
		"ui/inbox":               "/ui/",
		"/ui/drift/d-1#rollback": "/ui/drift/d-1#rollback",
	} {
		if got := SafeNext(next, "/ui/"); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestSafeExternalURL(t *testing.T) {
	for u, want := range map[string]string{
		"https://jira.example.net/browse/OPS-1": "https://jira.example.net/browse/OPS-1",
		"http://x.example/a b":                  "http://x.example/a%20b",
		"javascript:alert(1)":                   "",
		"JAVASCRIPT:alert(1)":                   "",
		"data:text/html,<script>":               "",
		"/relative":                             "",
		"https:///nohost":                       "",
	} {
		if got := safeExternalURL(u); got != want {
			t.Errorf("safeExternalURL(%q) = %q, want %q", u, got, want)
		}
	}
}
