package reporter

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/baseline"
)

// evil is what an attacker who controls a host's files, item keys or a
// ticket's fields would write: markup, script URLs, a CSS breakout,
// template syntax, Trojan Source characters, a NUL, bytes that are not
// UTF-8 and Markdown fences.
const evil = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>'; x:expression(alert(1)); " +
	"javascript:alert(1) {{.}} \u202Egnp.exe \u200Bzw\u2066 nul\x00 bad\xff\xfe ``` ```` </textarea></pre><svg onload=alert(1)> =1+1 |a| [x](javascript:alert(1))"

// longLine is one line of 100,000 characters.
var longLine = strings.Repeat("A", 99990) + "<b>end</b>"

var evilRef = TicketRef{ID: evil, Ref: evil, Title: evil, State: TicketState(evil), ExternalURL: "javascript:alert(1)"}

func evilHost() HostRef { return HostRef{ID: evil, Name: evil, TenantID: evil, TenantName: evil} }

func evilPage() Page {
	return Page{Title: evil, Now: fixNow, Location: berlin, User: &User{Name: evil, Email: evil, Role: evil}, CSRFToken: evil,
		TenantOptions: []TenantRef{{ID: evil, Name: evil}, acme}, TenantID: evil,
		Flashes: []Flash{{Kind: evil, Message: evil}}, RequestID: evil}
}

func evilRow() DriftRow {
	t := evilRef
	return DriftRow{ID: evil, Host: evilHost(), Key: "file:/etc/" + evil, Change: baseline.ChangeKind(evil), Verdict: Verdict(evil),
		Level: 7, Status: DriftStatus(evil), FirstSeen: fixNow, LastSeen: fixNow, Ticket: &t}
}

// evilSnapshots returns a baseline and a drifted snapshot whose keys,
// attributes and content are hostile.
func evilSnapshots() (old, cur *baseline.Snapshot, b blobs) {
	b = blobs{}
	content := "line one\n" + evil + "\n" + longLine + "\n"
	mk := func(c string) []baseline.Item {
		return []baseline.Item{
			{Key: "command:" + evil, Attrs: baseline.Attrs{}.Set("argv", evil), Digest: baseline.Sum([]byte(c)), Content: b.add(c)},
			{Key: "file:/etc/" + evil, Attrs: baseline.Attrs{}.Set("type", "file").Set("mode", "0644").Set("owner", evil).Set("target", evil),
				Digest: baseline.Sum([]byte(c)), Content: b.add(c), Error: evil},
			{Key: "inventory:os", Attrs: baseline.Attrs{}.Set("pretty_name", evil)},
			{Key: "inventory:interface/" + evil, Attrs: baseline.Attrs{}.Set("mac", evil)},
			{Key: "package:" + evil, Attrs: baseline.Attrs{}.Set("version", evil)},
			{Key: "service:" + evil, Attrs: baseline.Attrs{}.Set("state", evil)},
			{Key: "sysctl:" + evil, Attrs: baseline.Attrs{}.Set("value", evil)},
			{Key: "user:" + evil, Attrs: baseline.Attrs{}.Set("shell", evil)},
			{Key: evil + ":x", Attrs: baseline.Attrs{}.Set(evil, evil)},
		}
	}
	old = &baseline.Snapshot{Format: 1, Host: baseline.Host{Name: evil, Labels: map[string]string{evil: evil}}, TakenAt: fixNow, AgentVersion: evil, Items: mk("first\n")}
	old.Sort()
	cur = &baseline.Snapshot{Format: 1, Host: old.Host, TakenAt: fixNow, Items: mk(content),
		Sources: []baseline.SourceStatus{{Name: evil, Status: baseline.StatusError, Error: evil, Warnings: []string{evil}}}}
	cur.Sort()
	return old, cur, b
}

func evilDrift() *baseline.Drift {
	old, cur, b := evilSnapshots()
	return baseline.Diff(old, cur, baseline.DiffOptions{Blobs: b})
}

func evilChange() baseline.Change {
	for _, c := range evilDrift().Changes {
		if c.Kind == baseline.KindFile {
			return c
		}
	}
	panic("no file change")
}

func evilHostDoc() *HostDocumentation {
	old, _, b := evilSnapshots()
	content := map[baseline.Digest]string{}
	for d, s := range b {
		content[d] = s
	}
	return &HostDocumentation{Tenant: TenantRef{ID: evil, Name: evil}, Host: evilHost(), Labels: map[string]string{evil: evil},
		Meta:     baseline.Meta{Host: evil, Version: 2, ApprovedBy: evil, Reason: evil, Tickets: []string{evil}, ApprovedAt: fixNow},
		Snapshot: old, Content: content, PreviousVersion: 1,
		Changes:     []DocChange{{Key: evil, Change: baseline.Modified, Verdict: Verdict(evil), Summary: evil, Tickets: []TicketRef{evilRef}, AcceptedBy: evil, Diff: evilChange().ContentDiff}},
		GeneratedAt: fixNow, BaseURL: "https://drift.example.net/ui"}
}

func evilMail() []MailChange {
	t := evilRef
	return []MailChange{{DriftID: evil, Host: evilHost(), Key: evil, Change: baseline.Modified, Verdict: VerdictUnauthorized, Level: Level3,
		FirstSeen: fixNow, Ticket: &t, Summary: evil, Diff: evilChange().ContentDiff, Note: evil}}
}

// evilPages renders every page, document and email with hostile data.
// style says whether style attributes are expected (email only).
var evilPages = []struct {
	name   string
	style  bool
	render func(r *Renderer, w io.Writer) error
}{
	{"overview", false, func(r *Renderer, w io.Writer) error {
		return r.Overview(w, &OverviewPage{Page: evilPage(), Tenants: []TenantOverview{{Tenant: TenantRef{ID: evil, Name: evil},
			Hosts:      []HostSummary{{Host: evilHost(), Labels: map[string]string{evil: evil}, AgentVersion: evil, Open: DriftCounts{ByVerdict: map[Verdict]int{Verdict(evil): 1, VerdictUnauthorized: 2}, ByLevel: [4]int{0, 1, 0, 2}}}},
			Connectors: []Connector{{Name: evil, Kind: evil, LastError: evil}}}}})
	}},
	{"hosts", false, func(r *Renderer, w io.Writer) error {
		return r.Hosts(w, &HostsPage{Page: evilPage(), Query: evil, NextCursor: evil, PrevCursor: evil,
			Hosts: []HostSummary{{Host: evilHost(), Labels: map[string]string{evil: evil}, AgentVersion: evil}}})
	}},
	{"host", false, func(r *Renderer, w io.Writer) error {
		_, cur, _ := evilSnapshots()
		return r.Host(w, &HostPage{Page: evilPage(), Host: HostSummary{Host: evilHost(), Labels: map[string]string{evil: evil}, AgentVersion: evil, BaselineVersion: 2},
			Inventory: InventoryOf(cur), Sources: cur.Sources, Drift: []DriftRow{evilRow()},
			Baselines: []baseline.Meta{{Version: 2, ApprovedBy: evil, Reason: evil, Tickets: []string{evil}}, {Version: 1, ApprovedBy: evil}},
			DiffFrom:  1, DiffTo: 2, BaselineDiff: evilDrift(), CanCreateTicket: true,
			Timeline: []TimelineEvent{{At: fixNow, Kind: evil, Title: evil, Detail: evil, Actor: evil, DriftID: evil, TicketID: evil, BaselineVersion: 2}}})
	}},
	{"inbox", false, func(r *Renderer, w io.Writer) error {
		return r.Inbox(w, &InboxPage{Page: evilPage(), Filter: InboxFilter{TenantID: evil, Host: evil, Label: evil, Item: evil, From: evil, To: evil, Status: evil, Verdicts: []Verdict{Verdict(evil)}},
			FilterError: evil, Rows: []DriftRow{evilRow()}, Total: 1, NextCursor: evil, PrevCursor: evil})
	}},
	{"drift-unified", false, func(r *Renderer, w io.Writer) error { return r.Drift(w, evilDriftPage(ViewUnified)) }},
	{"drift-split", false, func(r *Renderer, w io.Writer) error { return r.Drift(w, evilDriftPage(ViewSplit)) }},
	{"drift-raw-diff", false, func(r *Renderer, w io.Writer) error {
		p := evilDriftPage(ViewUnified)
		p.Change.ContentDiff = "not a diff " + evil
		return r.Drift(w, p)
	}},
	{"tickets", false, func(r *Renderer, w io.Writer) error {
		return r.Tickets(w, &TicketsPage{Page: evilPage(), Filter: TicketFilter{TenantID: evil, Query: evil, State: TicketState(evil)}, CanCreate: true, NextCursor: evil,
			Rows: []TicketRow{{Ticket: evilRef, Origin: evil, Class: evil, Tenant: TenantRef{ID: evil, Name: evil}, Requester: evil, Window: TimeWindow{Start: fixNow, End: fixNow, TimeZone: evil}, UpdatedAt: fixNow}}})
	}},
	{"ticket", false, func(r *Renderer, w io.Writer) error { return r.Ticket(w, evilTicketPage()) }},
	{"ticket-new", false, func(r *Renderer, w io.Writer) error {
		v := url.Values{}
		for _, f := range []string{FieldTitle, FieldReference, FieldOrigin, FieldClass, FieldDescription, FieldImpact, FieldRollbackPlan, FieldHosts, FieldHostPatterns,
			FieldLabels, FieldItemPatterns, FieldWindowStart, FieldWindowEnd, FieldTimeZone, FieldNotify, FieldTenant, FieldAnswerPrefix + evil, FieldAnswerPrefix + "c"} {
			v.Set(f, evil)
		}
		qs := []Question{{ID: evil, Text: evil, Help: evil, Required: true}, {ID: "c", Text: evil, Choices: []string{evil, "no"}}}
		d, errs := ParseTicketForm(v, qs)
		row := evilRow()
		return r.NewTicket(w, &TicketFormPage{Page: evilPage(), Draft: d, Errors: errs, Hosts: []HostRef{evilHost()}, TimeZones: []string{evil},
			Questions: qs, FromDrift: &row})
	}},
	{"changelog", false, func(r *Renderer, w io.Writer) error {
		t := evilRef
		return r.ChangeLog(w, &ChangeLogPage{Page: evilPage(), From: evil, To: evil, NextCursor: evil,
			Entries: []ChangeLogEntry{{At: fixNow, Host: evilHost(), Key: evil, Change: baseline.ChangeKind(evil), Verdict: Verdict(evil), Summary: evil, Ticket: &t, Owner: evil, NeedsToKnow: []string{evil}, Notes: evil, DriftID: evil}}})
	}},
	{"search", false, func(r *Renderer, w io.Writer) error {
		return r.Search(w, &SearchPage{Page: evilPage(), Query: "script", Hosts: []HostSummary{{Host: evilHost()}}, Drift: []DriftRow{evilRow()},
			Tickets: []TicketRow{{Ticket: evilRef}}, Items: []ItemHit{{Host: evilHost(), Key: evil, Snippet: evil}}, Truncated: true})
	}},
	{"search-highlight-evil-query", false, func(r *Renderer, w io.Writer) error {
		return r.Search(w, &SearchPage{Page: evilPage(), Query: "<img", Items: []ItemHit{{Host: evilHost(), Key: evil, Snippet: evil}}})
	}},
	{"metrics", false, func(r *Renderer, w io.Writer) error {
		p := fixMetrics()
		p.Page = evilPage()
		p.DriftPerDay = append(p.DriftPerDay, DayCounts{Day: fixNow, ByVerdict: map[Verdict]int{Verdict(evil): 3}})
		return r.Metrics(w, p)
	}},
	{"audit", false, func(r *Renderer, w io.Writer) error {
		return r.Audit(w, &AuditPage{Page: evilPage(), NextCursor: evil, Chain: ChainStatus{Checked: true, BrokenAt: 7, Reason: evil, CheckedAt: fixNow},
			Entries: []AuditEntry{{Seq: 7, At: fixNow, Actor: evil, Action: evil, Target: evil, Detail: evil, Hash: evil}}})
	}},
	{"outbox", false, func(r *Renderer, w io.Writer) error {
		return r.Outbox(w, &OutboxPage{Page: evilPage(), NextCursor: evil,
			Messages: []OutboxMessage{{ID: evil, Kind: evil, To: []string{evil}, Subject: evil, State: evil, Answer: evil, QueuedAt: fixNow}}})
	}},
	{"error", false, func(r *Renderer, w io.Writer) error {
		return r.Error(w, &ErrorPage{Page: evilPage(), Status: 500, Message: evil})
	}},
	{"signin", false, func(r *Renderer, w io.Writer) error {
		return r.SignIn(w, &SignInPage{Page: evilPage(), Email: evil, Next: "javascript:alert(1)", Error: evil, RateLimited: true, RetryAfter: 90 * time.Second})
	}},
	{"documentation", false, func(r *Renderer, w io.Writer) error {
		return r.Documentation(w, &HostDocPage{Page: evilPage(), Host: evilHostDoc()})
	}},
	{"documentation-tenant", false, func(r *Renderer, w io.Writer) error {
		return r.Documentation(w, &HostDocPage{Page: evilPage(), Tenant: &TenantDocumentation{Tenant: TenantRef{ID: evil, Name: evil}, Hosts: []*HostDocumentation{evilHostDoc()}, GeneratedAt: fixNow}})
	}},
	{"doc-standalone", false, func(r *Renderer, w io.Writer) error { return r.HostDocumentationHTML(w, evilHostDoc()) }},
	{"doc-tenant-standalone", false, func(r *Renderer, w io.Writer) error {
		return r.TenantDocumentationHTML(w, &TenantDocumentation{Tenant: TenantRef{ID: evil, Name: evil}, Hosts: []*HostDocumentation{evilHostDoc()}})
	}},
	{"digest", true, func(r *Renderer, w io.Writer) error { return r.DigestHTML(w, evilDigest()) }},
	{"alert", true, func(r *Renderer, w io.Writer) error { return r.AlertHTML(w, evilAlert()) }},
	{"chart-bars", false, func(r *Renderer, w io.Writer) error {
		c := &StackedBarChart{ID: evil, Title: evil, Desc: evil, YLabel: evil, Categories: []string{evil, "b"},
			Series: []BarSeries{{Name: evil, Class: evil, Color: evil, Values: []float64{1, 2}}}}
		_, err := io.WriteString(w, string(c.SVG()))
		return err
	}},
	{"chart-lines", false, func(r *Renderer, w io.Writer) error {
		c := &LineChart{ID: evil, Title: evil, Desc: evil, YLabel: evil, Unit: evil, XLayout: evil,
			Series: []LineSeries{{Name: evil, Class: evil, Color: evil, Points: []LinePoint{{At: fixNow, Value: 1}, {At: fixNow.Add(time.Hour), Value: 2}}}}}
		_, err := io.WriteString(w, string(c.SVG()))
		return err
	}},
}

func evilDriftPage(view string) *DriftPage {
	t := evilRef
	return &DriftPage{Page: evilPage(), Item: evilRow(), Change: evilChange(), View: view, TakenAt: fixNow,
		Matches:            []TicketMatch{{Ticket: evilRef, Verdict: Verdict(evil), Chosen: true, Reasons: []string{evil}}},
		Actions:            DriftActions{Accept: true, Link: true, Revert: true},
		Tickets:            []TicketRef{evilRef},
		Form:               FormState{Action: "accept", Values: map[string]string{FieldReason: evil, FieldTicket: evil}, Errors: map[string]string{FieldReason: evil}},
		RollbackContent:    evil + "\n" + longLine,
		HasRollbackContent: true,
		History:            []DriftEvent{{At: fixNow, Actor: evil, Action: evil, Reason: evil, Ticket: &t}}}
}

func evilTicketPage() *TicketPage {
	return &TicketPage{Page: evilPage(),
		Ticket: Ticket{ID: evil, Ref: evil, Title: evil, Origin: evil, Class: evil, State: StateRejected, Tenant: TenantRef{ID: evil, Name: evil},
			Description: evil, Impact: evil, RollbackPlan: evil, Requester: evil, Review: &Signoff{By: evil, Comment: evil},
			Approvals: []Approval{{Side: evil, Signoff: Signoff{By: evil, Comment: evil}}}, PendingApproval: []string{evil},
			Scope:  TicketScope{Hosts: []HostRef{evilHost(), {Name: evil}}, Labels: []string{evil}, ItemPatterns: []string{evil}},
			Window: TimeWindow{Start: fixNow, End: fixNow.Add(time.Hour), TimeZone: evil}, Answers: []Answer{{Question: evil, Answer: evil}},
			NeedsToKnow: []string{evil}, ExternalURL: "javascript:alert(1)"},
		Transitions: []Transition{{At: fixNow, By: evil, Role: evil, Action: evil, From: StateDraft, To: StateRejected, Comment: evil, Changed: []string{evil}}},
		Actions:     []TicketAction{{Name: evil, Label: evil, To: TicketState(evil), Danger: true, CommentRequired: true}},
		Drift:       []DriftRow{evilRow()},
		Form:        FormState{Values: map[string]string{FieldComment: evil}, Errors: map[string]string{FieldComment: evil, FieldAction: evil}}}
}

func evilDigest() *Digest {
	return &Digest{Recipient: evil, From: fixNow, To: fixNow.AddDate(0, 0, 7), BaseURL: "https://drift.example.net/ui",
		PreferencesURL: "javascript:alert(1)", UnsubscribeURL: "https://drift.example.net/u?x=" + url.QueryEscape(evil),
		Tenants: []DigestTenant{{Tenant: TenantRef{ID: evil, Name: evil}, Changes: evilMail(), Metrics: DigestMetrics{SuccessRate: 50}}}}
}

func evilAlert() *Alert {
	return &Alert{Level: Level3, Tenant: TenantRef{ID: evil, Name: evil}, Changes: evilMail(), BaseURL: "https://drift.example.net/ui",
		PreferencesURL: "https://drift.example.net/p"}
}

// allowedTags are the elements the pages, documents, charts and emails
// are made of.
var allowedTags = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`html head meta title link script body a header nav form label select option button input
		div span main footer h1 h2 h3 h4 p table thead tbody tr th td ul ol li details summary pre time strong mark br
		colgroup col fieldset legend textarea datalist dl dt dd section figure style svg g line text rect polyline circle desc`) {
		allowedTags[t] = true
	}
}

// checkMarkup scans HTML and fails for anything an attacker could have
// injected: a '<' that starts no known tag, an unknown element, an event
// handler attribute, a script, data or vbscript URL, inline script, or a
// style attribute where the page must do without (the web pages' CSP
// forbids them).
func checkMarkup(t *testing.T, doc string, allowStyle bool) {
	t.Helper()
	for i, p := range markupProblems(doc, allowStyle) {
		if i == 10 {
			t.Error("and more")
			break
		}
		t.Error(p)
	}
}

// markupProblems returns what checkMarkup reports.
func markupProblems(doc string, allowStyle bool) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !utf8.ValidString(doc) {
		fail("output is not valid UTF-8")
	}
	// Text between tags shows no hidden character raw; attribute values
	// (form fields echoed exactly) may hold them.
	text := func(s string, at int) {
		for _, bad := range []string{"\x00", "\u202E", "\u200B", "\u2066"} {
			if strings.Contains(s, bad) {
				fail("text at %d holds the raw character %q", at, bad)
			}
		}
	}
	n := len(doc)
	last := 0
	for i := 0; i < n; i++ {
		if doc[i] != '<' {
			continue
		}
		if !textareaOpen(doc[:last]) {
			text(doc[last:i], last)
		}
		ctx := doc[i:min(n, i+60)]
		j := i + 1
		if j < n && doc[j] == '!' { // <!DOCTYPE html>
			if !strings.HasPrefix(doc[j:], "!DOCTYPE html>") {
				fail("unexpected markup declaration at %d: %q", i, ctx)
			}
			continue
		}
		closing := j < n && doc[j] == '/'
		if closing {
			j++
		}
		k := j
		for k < n && (doc[k] >= 'a' && doc[k] <= 'z' || doc[k] >= '0' && doc[k] <= '9') {
			k++
		}
		name := doc[j:k]
		if name == "" || !allowedTags[name] {
			fail("unescaped '<' or unknown element at %d: %q", i, ctx)
			continue
		}
		// Attributes up to '>'.
		p := k
		attrs := map[string]string{}
		for p < n && doc[p] != '>' {
			for p < n && (doc[p] == ' ' || doc[p] == '\n' || doc[p] == '/') {
				p++
			}
			s := p
			for p < n && doc[p] != '=' && doc[p] != ' ' && doc[p] != '>' && doc[p] != '\n' {
				p++
			}
			attr := strings.ToLower(doc[s:p])
			val := ""
			if p < n && doc[p] == '=' {
				p++
				if p < n && (doc[p] == '"' || doc[p] == '\'') {
					q := doc[p]
					e := strings.IndexByte(doc[p+1:], q)
					if e < 0 {
						fail("unterminated attribute value at %d: %q", i, ctx)
						break
					}
					val = doc[p+1 : p+1+e]
					p += e + 2
				} else {
					s := p
					for p < n && doc[p] != ' ' && doc[p] != '>' {
						p++
					}
					val = doc[s:p]
				}
			}
			if attr != "" {
				attrs[attr] = html.UnescapeString(val)
			}
		}
		for a, v := range attrs {
			lv := strings.ToLower(strings.TrimSpace(v))
			switch {
			case strings.HasPrefix(a, "on"):
				fail("event handler attribute %s on <%s> at %d: %q", a, name, i, ctx)
			case a == "style" && !allowStyle:
				fail("style attribute on <%s> at %d (the CSP forbids it): %q", name, i, ctx)
			case a == "href" || a == "src" || a == "action" || a == "formaction":
				if strings.HasPrefix(lv, "javascript:") || strings.HasPrefix(lv, "data:") || strings.HasPrefix(lv, "vbscript:") {
					fail("dangerous URL in %s at %d: %q", a, i, v)
				}
				if strings.ContainsAny(v, "<>\"") {
					fail("unescaped character in URL %s at %d: %q", a, i, v)
				}
			}
		}
		last = p + 1
		if name == "script" && !closing {
			if _, ok := attrs["src"]; !ok {
				fail("inline script at %d", i)
			}
			if !strings.HasPrefix(doc[p+1:], "</script>") {
				fail("script element with a body at %d", i)
			}
		}
		i = p
	}
	text(doc[min(last, n):], last)
	return problems
}

// textareaOpen reports whether the text after doc is a textarea's value,
// which echoes what the user typed exactly.
func textareaOpen(doc string) bool {
	i := strings.LastIndex(doc, "<textarea")
	return i >= 0 && !strings.Contains(doc[i:], "</textarea>")
}

func TestHostileInputIsEscaped(t *testing.T) {
	r := newRenderer(t)
	for _, tc := range evilPages {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.render(r, &buf); err != nil {
				t.Fatal(err)
			}
			checkMarkup(t, buf.String(), tc.style)
		})
	}
}

func TestLongLinesShownWhole(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.Drift(&buf, evilDriftPage(ViewUnified)); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("A", 99990) + "&lt;b&gt;end&lt;/b&gt;"
	if n := strings.Count(buf.String(), want); n != 2 {
		t.Errorf("the 100,000-character line appears %d times whole, want 2 (diff and baseline content)", n)
	}
}

// TestMarkersShowHiddenCharacters checks that what hides text is shown:
// the RTL override, zero-width characters, the NUL and invalid bytes.
func TestMarkersShowHiddenCharacters(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.Drift(&buf, evilDriftPage(ViewUnified)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<span class="cc" title="U+202E RIGHT-TO-LEFT OVERRIDE">U+202E</span>`,
		`<span class="cc" title="U+200B ZERO WIDTH SPACE">U+200B</span>`,
		`<span class="cc" title="U+2066 LEFT-TO-RIGHT ISOLATE">U+2066</span>`,
		`<span class="cc" title="U+0000 NULL">U+0000</span>`,
		`<span class="cc" title="byte that is not valid UTF-8">\xff</span>`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestMarkdownHostile(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHostMarkdown(&buf, evilHostDoc()); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if !utf8.ValidString(md) || strings.ContainsAny(md, "\x00\u202E\u200B") {
		t.Error("Markdown holds raw control, bidi or zero-width characters, or invalid UTF-8")
	}
	// Outside fenced blocks, every '<' and '[' is escaped; inside, the
	// block closes only at its own fence.
	fence := ""
	for n, l := range strings.Split(md, "\n") {
		if fence != "" {
			if l == fence {
				fence = ""
			} else if strings.HasPrefix(strings.TrimLeft(l, " "), fence) {
				t.Errorf("line %d would close the fence %q early: %q", n+1, fence, l)
			}
			continue
		}
		if strings.HasPrefix(l, "```") {
			fence = strings.TrimRight(l, "abcdefghijklmnopqrstuvwxyz")
			continue
		}
		for i := 0; i < len(l); i++ {
			if (l[i] == '<' || l[i] == '[' || l[i] == '`') && (i == 0 || l[i-1] != '\\') {
				t.Errorf("line %d: unescaped %q at %d: %q", n+1, l[i], i, l[:min(len(l), 80)])
				break
			}
		}
	}
	if fence != "" {
		t.Errorf("fence %q never closed", fence)
	}
	if !strings.Contains(md, "\n`````\n") {
		t.Error("content holding ```` is not fenced with five backticks")
	}
}

func TestTextEmailHostile(t *testing.T) {
	r := newRenderer(t)
	for name, render := range map[string]func(io.Writer) error{
		"digest": func(w io.Writer) error { return r.DigestText(w, evilDigest()) },
		"alert":  func(w io.Writer) error { return r.AlertText(w, evilAlert()) },
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := render(&buf); err != nil {
				t.Fatal(err)
			}
			s := buf.String()
			if !utf8.ValidString(s) {
				t.Error("not valid UTF-8")
			}
			for _, r := range s {
				if r < 0x20 && r != '\n' || r == 0x7F || r == '\u202E' || r == '\u200B' {
					t.Fatalf("raw control or hidden character %U in the text email", r)
				}
			}
			if strings.Contains(s, "javascript:") && strings.Contains(s, "Email preferences: javascript:") {
				t.Error("a javascript: preferences link is shown")
			}
			if len(s) > 3*MailDiffMaxBytes {
				t.Errorf("text email of %d bytes: the 100,000-character diff line was not cut", len(s))
			}
		})
	}
}

func TestSubjectsAreOneLine(t *testing.T) {
	for _, s := range []string{DigestSubject(evilDigest()), AlertSubject(evilAlert())} {
		if strings.ContainsAny(s, "\r\n\x00") || !utf8.ValidString(s) || len(s) > 260 {
			t.Errorf("subject %q: want one valid line of at most 260 bytes", s)
		}
	}
}

func TestCSVHostile(t *testing.T) {
	e := ChangeLogEntry{At: fixNow, Host: evilHost(), Key: evil, Change: baseline.ChangeKind("=cmd|' /C calc'!A0"), Summary: "+1", Owner: "@SUM(A1:A9)",
		NeedsToKnow: []string{"-2+3"}, Notes: "\t=1", Ticket: &TicketRef{Ref: "=HYPERLINK(\"http://x\")", Title: evil}}
	var buf bytes.Buffer
	if err := WriteChangeLogCSV(&buf, []ChangeLogEntry{e}, nil); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want a header and one row", len(recs))
	}
	for i, cell := range recs[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("cell %d (%s) starts with a formula character: %q", i, ChangeLogColumns[i], cell)
		}
		if strings.ContainsAny(cell, "\x00\u202E") || !utf8.ValidString(cell) {
			t.Errorf("cell %d holds raw hidden characters or invalid UTF-8: %q", i, cell)
		}
	}
	for i, want := range map[int]string{4: "'=cmd|' /C calc'!A0", 5: "'+1", 7: "'=HYPERLINK(\"http://x\")", 9: "'@SUM(A1:A9)", 10: "'-2+3", 11: "'\t=1"} {
		if recs[1][i] != want {
			t.Errorf("cell %d (%s) = %q, want %q", i, ChangeLogColumns[i], recs[1][i], want)
		}
	}
}

// TestCheckMarkupFindsInjections makes sure the scanner above fails for
// what it must catch, so that a passing hostile test means something.
func TestCheckMarkupFindsInjections(t *testing.T) {
	for _, doc := range []string{
		`<p><script>alert(1)</script></p>`,
		`<p><img src=x onerror=alert(1)></p>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href="JaVaScRiPt&#58;alert(1)">x</a>`,
		`<p onclick="x()">x</p>`,
		`<p style="color:red">x</p>`,
		`<p>a < b</p>`,
		"<p>\u202E</p>",
		"<p title=\"\xff\">x</p>",
	} {
		if len(markupProblems(doc, false)) == 0 {
			t.Errorf("checkMarkup accepted %q", doc)
		}
	}
	if p := markupProblems(`<!DOCTYPE html><p class="a" title='&lt;x&gt;'>a &lt; b <a href="/ui/x?a=1&amp;b=2">x</a></p>`, false); len(p) > 0 {
		t.Errorf("checkMarkup refused clean markup: %v", p)
	}
}
