package reporter

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

func TestDigestSubject(t *testing.T) {
	mk := func(host string, v Verdict) MailChange {
		return MailChange{Host: HostRef{ID: host, Name: host}, Verdict: v, Key: "file:/x"}
	}
	week47 := time.Date(2024, 11, 18, 0, 0, 0, 0, berlin)
	tests := []struct {
		name    string
		tenants []DigestTenant
		want    string
	}{
		{"unauthorized first", []DigestTenant{{Tenant: acme, Changes: []MailChange{mk("a", VerdictUnauthorized), mk("a", VerdictUnauthorized), mk("b", VerdictUnauthorized), mk("c", VerdictAuthorized)}}},
			"3 unauthorized changes on 2 hosts — Acme Corp — week 47"},
		{"one of each", []DigestTenant{{Tenant: acme, Changes: []MailChange{mk("a", VerdictUnauthorized)}}},
			"1 unauthorized change on 1 host — Acme Corp — week 47"},
		{"review without unauthorized", []DigestTenant{{Tenant: acme, Changes: []MailChange{mk("a", VerdictOutOfWindow), mk("b", VerdictAuthorized)}}},
			"1 change to review on 1 host — Acme Corp — week 47"},
		{"all authorized", []DigestTenant{{Tenant: acme, Changes: []MailChange{mk("a", VerdictAuthorized), mk("b", VerdictAuthorized)}}},
			"2 changes on 2 hosts, all authorized — Acme Corp — week 47"},
		{"nothing", []DigestTenant{{Tenant: acme}}, "No changes — Acme Corp — week 47"},
		{"several tenants", []DigestTenant{{Tenant: acme, Changes: []MailChange{mk("a", VerdictUnauthorized)}}, {Tenant: globex, Changes: []MailChange{mk("a", VerdictUnauthorized)}}},
			"2 unauthorized changes on 2 hosts — 2 tenants — week 47"},
		{"tenant name with a line break", []DigestTenant{{Tenant: TenantRef{Name: "Acme\r\nBcc: x@evil"}}}, "No changes — Acme Bcc: x@evil — week 47"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DigestSubject(&Digest{From: week47, Location: berlin, Tenants: tt.tenants}); got != tt.want {
				t.Errorf("subject %q, want %q", got, tt.want)
			}
		})
	}
	// A Friday 16:00 digest covers Friday to Friday: it is named by the
	// week it is sent in, the week most of its days fall in.
	fri := time.Date(2024, 11, 22, 16, 0, 0, 0, berlin)
	d := &Digest{From: fri.AddDate(0, 0, -7), To: fri, Location: berlin, Period: PeriodWeek}
	if got, want := DigestSubject(d), "No changes —  — week 47"; !strings.HasSuffix(got, "week 47") {
		t.Errorf("subject of the digest sent on Friday of week 47: %q, want one ending like %q", got, want)
	}
}

func TestAlertSubject(t *testing.T) {
	one := fixAlert()
	if got, want := AlertSubject(one), "[L3] Unauthorized change on web-01: file:/etc/ssh/sshd_config — Acme Corp"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	summary := &Alert{Level: Level2, Tenant: acme, Location: berlin, From: time.Date(2024, 11, 20, 5, 0, 0, 0, time.UTC), To: time.Date(2024, 11, 20, 6, 0, 0, 0, time.UTC),
		Changes: []MailChange{{Host: web01, Verdict: VerdictOutOfWindow}, {Host: db01, Verdict: VerdictUnauthorized}, {Host: db01, Verdict: VerdictFrozen}}}
	if got, want := AlertSubject(summary), "[L2] 3 changes to review on 2 hosts — Acme Corp — 06:00–07:00"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	one.Update = true
	if got, want := AlertSubject(one), "[L3] Update: Unauthorized change on web-01: file:/etc/ssh/sshd_config — Acme Corp"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
}

func TestDigestPeriods(t *testing.T) {
	r := newRenderer(t)
	for _, tt := range []struct {
		period, from, to, subject, title string
	}{
		{PeriodDay, "2024-11-20", "2024-11-21", "4 changes on 2 hosts — Acme Corp — 2024-11-20", "Changes on Wed 20 Nov 2024"},
		{PeriodWeek, "2024-11-18", "2024-11-25", "4 changes on 2 hosts — Acme Corp — week 47", "This week in changes\nWeek 47: Mon 18 Nov – Sun 24 Nov 2024"},
		{PeriodMonth, "2024-11-01", "2024-12-01", "4 changes on 2 hosts — Acme Corp — November 2024", "This month in changes\nNovember 2024: 1 Nov – 30 Nov 2024"},
	} {
		d := fixDigest()
		d.Period = tt.period
		d.From, _ = time.ParseInLocation("2006-01-02", tt.from, berlin)
		d.To, _ = time.ParseInLocation("2006-01-02", tt.to, berlin)
		for i := range d.Tenants[0].Changes {
			d.Tenants[0].Changes[i].Verdict = VerdictAuthorized
		}
		d.Tenants = d.Tenants[:1]
		if got := DigestSubject(d); got != strings.Replace(tt.subject, "4 changes on 2 hosts", "4 changes on 2 hosts, all authorized", 1) {
			t.Errorf("%s: subject %q", tt.period, got)
		}
		var buf bytes.Buffer
		if err := r.DigestText(&buf, d); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(buf.String(), tt.title) {
			t.Errorf("%s: text starts %q, want %q", tt.period, buf.String()[:60], tt.title)
		}
	}
}

func TestMailNeedsAbsoluteBase(t *testing.T) {
	r := newRenderer(t)
	for _, base := range []string{"", "/ui", "drift.example.net/ui", "javascript:alert(1)", "ftp://x/ui"} {
		d := fixDigest()
		d.BaseURL = base
		var buf bytes.Buffer
		err := r.DigestHTML(&buf, d)
		if err == nil || !strings.Contains(err.Error(), "is not an absolute http or https URL") {
			t.Errorf("base %q: error %v, want one naming the base URL", base, err)
		}
		if buf.Len() != 0 {
			t.Errorf("base %q: %d bytes written despite the error", base, buf.Len())
		}
	}
}

func TestCutDiff(t *testing.T) {
	long := "--- a\n+++ b\n@@ -1,200 +1,200 @@\n" + strings.Repeat("-x\n", 200)
	lines, cut, total := cutDiff(long)
	if len(lines) != MailDiffMaxLines || !cut || total != 203 {
		t.Errorf("cut to %d lines (cut %v) of %d, want %d of 203", len(lines), cut, total, MailDiffMaxLines)
	}
	wide := "--- a\n+++ b\n@@ -1 +1 @@\n-" + strings.Repeat("y", 20000) + "\n+z\n"
	lines, cut, _ = cutDiff(wide)
	if !cut || len(lines) != 3 {
		t.Errorf("a diff with a 20,000-byte line: %d lines, cut %v; want the 3 lines before it", len(lines), cut)
	}
	lines, _, _ = cutDiff("-" + strings.Repeat("é", 10000) + "\n")
	if len(lines) != 1 || len(lines[0]) > MailDiffMaxBytes || !strings.HasPrefix(lines[0], "-é") || !utf8Valid(lines[0]) {
		t.Errorf("one huge first line: want it cut to at most %d bytes at a rune boundary", MailDiffMaxBytes)
	}
	if lines, cut, _ := cutDiff(fixChange("file:/etc/ssh/sshd_config").ContentDiff); cut || len(lines) != 13 {
		t.Errorf("a short diff: %d lines, cut %v; want all 13", len(lines), cut)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestDigestSizeBudget sends a digest of 200 changes with long diffs and
// expects the email to stay small, the later diffs left out with a link.
func TestDigestSizeBudget(t *testing.T) {
	diff := "--- a/f\n+++ b/f\n@@ -1,60 +1,60 @@\n" + strings.Repeat("-old line of text that is fairly long\n+new line of text\n", 30)
	var cs []MailChange
	for i := 0; i < 200; i++ {
		cs = append(cs, MailChange{DriftID: "d", Host: web01, Key: "file:/etc/f", Change: baseline.Modified, Verdict: VerdictUnauthorized, Level: Level3, Diff: diff})
	}
	d := fixDigest()
	d.Tenants = []DigestTenant{{Tenant: acme, Changes: cs}}
	r := newRenderer(t)
	var text, html bytes.Buffer
	if err := r.DigestText(&text, d); err != nil {
		t.Fatal(err)
	}
	if err := r.DigestHTML(&html, d); err != nil {
		t.Fatal(err)
	}
	if text.Len() > MailDiffBudget+100<<10 {
		t.Errorf("text digest of %d bytes: the diff budget is not applied", text.Len())
	}
	if n := strings.Count(text.String(), "[diff not shown: this email is at its size limit"); n == 0 || n == 200 {
		t.Errorf("%d changes without their diff; want the later ones only", n)
	}
	if n := strings.Count(html.String(), "Diff not shown: this email is at its size limit"); n == 0 {
		t.Error("HTML digest does not say which diffs it left out")
	}
}

func TestDigestLinksAreAbsolute(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.DigestHTML(&buf, fixDigest()); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for i := 0; ; {
		j := strings.Index(s[i:], `href="`)
		if j < 0 {
			break
		}
		i += j + len(`href="`)
		if !strings.HasPrefix(s[i:], "https://drift.example.net/") {
			t.Errorf("link %q is not built from the base URL", s[i:min(len(s), i+60)])
		}
	}
	if strings.Contains(s, "<style") || strings.Contains(s, "<link") || strings.Contains(s, "<img") || strings.Contains(s, "<script") {
		t.Error("the HTML email has a style sheet, a linked resource, an image or a script")
	}
	for _, want := range []string{"https://drift.example.net/ui/settings/email?u=dana", "https://drift.example.net/ui/unsubscribe?t=abc123",
		"94.5 %", "5.5 h", "Diff cut: 80 of 153 lines shown."} {
		if !strings.Contains(s, want) {
			t.Errorf("digest lacks %q", want)
		}
	}
}
