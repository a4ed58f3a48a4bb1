package reporter

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/google/go-cmp/cmp"
)

func TestOverviewOrdersByUrgency(t *testing.T) {
	host := func(name string, seen time.Duration, add ...any) HostSummary {
		h := HostSummary{Host: HostRef{ID: name, Name: name}, LastSeen: fixNow.Add(-seen)}
		for i := 0; i < len(add); i += 2 {
			h.Open.Add(add[i].(Verdict), add[i+1].(Level))
		}
		return h
	}
	p := &OverviewPage{Page: fixPage(), Tenants: []TenantOverview{{Tenant: acme, Hosts: []HostSummary{
		host("quiet", time.Minute),
		host("l1-many", time.Minute, VerdictAuthorized, Level1, VerdictAuthorized, Level1, VerdictAuthorized, Level1),
		host("l3-authorized", time.Minute, VerdictAuthorized, Level3),
		host("l3-unauthorized", time.Minute, VerdictUnauthorized, Level3),
		host("l2", time.Minute, VerdictOutOfWindow, Level2),
		host("silent", 3*time.Hour),
		host("never", 0),
	}, Connectors: []Connector{
		{Name: "fresh", LastSuccess: fixNow.Add(-time.Minute)},
		{Name: "failing", LastSuccess: fixNow.Add(-time.Minute), LastError: "401"},
		{Name: "quiet", LastSuccess: fixNow.Add(-2 * time.Hour)},
	}}}}
	p.Tenants[0].Hosts[6].LastSeen = time.Time{}
	v := p.View()[0]
	var drifting, stale, conns []string
	for _, h := range v.Drifting {
		drifting = append(drifting, h.Host.Name)
	}
	for _, h := range v.Stale {
		stale = append(stale, h.Host.Name)
	}
	for _, c := range v.StaleConnectors {
		conns = append(conns, c.Name)
	}
	if diff := cmp.Diff([]string{"l3-unauthorized", "l3-authorized", "l2", "l1-many"}, drifting); diff != "" {
		t.Errorf("drifting hosts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"never", "silent"}, stale); diff != "" {
		t.Errorf("hosts not seen recently (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"failing", "quiet"}, conns); diff != "" {
		t.Errorf("stale connectors (-want +got):\n%s", diff)
	}
	tot := p.Totals()
	if tot.Open.Level(Level3) != 2 || tot.Open.Verdict(VerdictUnauthorized) != 1 || tot.StaleHosts != 2 || tot.StaleConnectors != 2 || tot.Hosts != 7 {
		t.Errorf("totals %+v", tot)
	}
}

func TestTicketWorkflow(t *testing.T) {
	classes := func(p *TicketPage) string {
		var s []string
		for _, w := range p.Workflow() {
			s = append(s, string(w.State)+":"+w.Class)
		}
		return strings.Join(s, " ")
	}
	p := fixTicket()
	if got, want := classes(p), "draft:done submitted:done reviewed:done approved:current implementing: implemented: documented:"; got != want {
		t.Errorf("approved ticket: %s, want %s", got, want)
	}
	p.Ticket.State = StateRejected
	p.Transitions = append(p.Transitions[:3], Transition{From: StateReviewed, To: StateRejected})
	if got, want := classes(p), "draft:done submitted:done reviewed:done rejected:current"; got != want {
		t.Errorf("rejected ticket: %s, want %s", got, want)
	}
}

func TestInventoryOf(t *testing.T) {
	old, _, _ := fixSnapshots()
	inv := InventoryOf(old)
	want := Inventory{OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-26-amd64 x86_64", CPU: "Intel(R) Xeon(R) Gold 6248 × 4",
		Memory: "8.0 GiB", Hostname: "web-01", MachineID: "4f1c0e5a9b2d4e6f8a0b1c2d3e4f5a6b",
		Disks:      []InventoryEntry{{Name: "sda", Summary: "100.0 GiB, QEMU HARDDISK, SSD"}},
		Interfaces: []InventoryEntry{{Name: "eth0", Summary: "addresses=10.0.0.11/24, mac=52:54:00:12:34:56, mtu=1500"}}}
	if diff := cmp.Diff(want, inv); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	if !InventoryOf(nil).Empty() {
		t.Error("a nil snapshot has inventory")
	}
}

func TestDocumentationSections(t *testing.T) {
	s := fixHostDoc().Sections()
	var titles []string
	rows := map[string]int{}
	for _, tb := range s.Tables {
		titles = append(titles, tb.Title)
		rows[tb.ID] = len(tb.Rows)
	}
	if diff := cmp.Diff([]string{"Services", "Packages", "Users", "Groups", "Listening ports", "Kernel parameters", "Configuration files"}, titles); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	if rows["files"] != 4 || rows["packages"] != 2 || rows["ports"] != 2 {
		t.Errorf("rows per section %v", rows)
	}
	var files []string
	for _, f := range s.Files {
		files = append(files, f.Name)
		switch f.Name {
		case "/etc/shadow":
			if f.HasContent || f.Digest == "" {
				t.Error("/etc/shadow: want digest only")
			}
		case "/etc/nginx/nginx.conf":
			if !f.HasContent || !f.Redacted || !strings.Contains(f.Content, "ssl_password_file ********") {
				t.Errorf("nginx.conf: %+v", f)
			}
		}
	}
	if diff := cmp.Diff([]string{"/etc/nginx/nginx.conf", "/etc/shadow", "/etc/ssh/sshd_config"}, files); diff != "" {
		t.Errorf("file contents (-want +got), directories left out:\n%s", diff)
	}
	if len(s.Commands) != 1 || s.Commands[0].Name != "iptables-save" || !s.Commands[0].HasContent {
		t.Errorf("commands %+v", s.Commands)
	}
}

func TestTenantDocumentation(t *testing.T) {
	r := newRenderer(t)
	a := fixHostDoc()
	b := fixHostDoc()
	b.Host = HostRef{ID: "h-app", Name: "app-01"}
	d := &TenantDocumentation{Tenant: acme, Hosts: []*HostDocumentation{a, b}, GeneratedAt: fixNow, Location: berlin}
	var html, md bytes.Buffer
	if err := r.TenantDocumentationHTML(&html, d); err != nil {
		t.Fatal(err)
	}
	if err := WriteTenantMarkdown(&md, d); err != nil {
		t.Fatal(err)
	}
	// Hosts by name, each a section of its own, linked from the contents.
	h := html.String()
	if i, j := strings.Index(h, `<section class="host-doc" id="host-h-app-3">`), strings.Index(h, `<section class="host-doc" id="host-h-web01-3">`); i < 0 || j < 0 || i > j {
		t.Error("host sections missing or not in name order")
	}
	if !strings.Contains(h, `<a href="#host-h-app-3">app-01</a>`) {
		t.Error("contents table does not link the host sections")
	}
	m := md.String()
	if i, j := strings.Index(m, "\n## app-01 — baseline v3"), strings.Index(m, "\n## web-01 — baseline v3"); i < 0 || j < 0 || i > j {
		t.Errorf("Markdown host headings missing or out of order")
	}
	if !strings.Contains(m, "\n### Services\n") {
		t.Error("Markdown sections are not one level below the host heading")
	}
}

func TestSplitViewLineNumbers(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.Drift(&buf, fixDriftPage(ViewSplit)); err != nil {
		t.Fatal(err)
	}
	want := `<tr><td class="no">3</td><td class="del">PermitRootLogin no</td><td class="no">3</td><td class="add">PermitRootLogin yes</td>`
	if !strings.Contains(buf.String(), want) {
		t.Errorf("split view lacks the paired line:\n%s", want)
	}
	if !strings.Contains(buf.String(), `<td class="no"></td><td class="empty"></td><td class="no">9</td><td class="add">AllowUsers deploy</td>`) {
		t.Error("split view lacks the added line with an empty left side")
	}
}

func TestTimeWindowString(t *testing.T) {
	start := time.Date(2024, 11, 20, 21, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		w    TimeWindow
		want string
	}{
		{TimeWindow{Start: start, End: start.Add(90 * time.Minute), TimeZone: "Europe/Berlin"}, "2024-11-20 22:00 – 23:30 Europe/Berlin"},
		{TimeWindow{Start: start, End: start.Add(5 * time.Hour), TimeZone: "Europe/Berlin"}, "2024-11-20 22:00 – 2024-11-21 03:00 Europe/Berlin"},
		{TimeWindow{Start: start, End: start.Add(time.Hour), TimeZone: "Mars/Base"}, "2024-11-20 21:00 – 22:00 UTC (time zone Mars/Base is unknown)"},
		{TimeWindow{}, "no window"},
	} {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestRelativeTimes(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second: "just now", 5 * time.Minute: "5 min ago", 3 * time.Hour: "3 h ago", 47 * time.Hour: "47 h ago",
		72 * time.Hour: "3 d ago", -2 * time.Hour: "2 h from now",
	} {
		if got := ago(fixNow, fixNow.Add(-d)); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	if ago(fixNow, time.Time{}) != "never" {
		t.Error("zero time is not never")
	}
}

func TestHostPageBaselineCompare(t *testing.T) {
	r := newRenderer(t)
	old, cur, b := fixSnapshots()
	p := &HostPage{Page: fixPage(), Host: HostSummary{Host: web01, BaselineVersion: 4},
		Inventory: InventoryOf(cur), Sources: cur.Sources,
		Baselines: []baseline.Meta{{Version: 4, ApprovedBy: "dana"}, {Version: 3, ApprovedBy: "sam", Reviewed: true}},
		DiffFrom:  3, DiffTo: 4, BaselineDiff: baseline.Diff(old, cur, baseline.DiffOptions{Blobs: b})}
	var buf bytes.Buffer
	if err := r.Host(&buf, p); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{
		`<h2 id="baseline-diff">Changes from v3 to v4</h2>`,
		`<p>1 added, 0 removed, 2 modified</p>`,
		`<option value="3" selected>v3</option>`,
		`<span class="badge warn" title="Documents the host as found; nobody reviewed it">as found</span>`,
		`/etc/ssl/private: permission denied`,
		`<div class="muted">and 3 in all</div>`,
		`<tr class="add"><td class="no"></td><td class="no">3</td><td class="mk">&#43;</td><td>PermitRootLogin yes</td></tr>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("host page lacks %s", want)
		}
	}
}

// TestHostRowLinksMatchLinks checks that the overview's fast links are
// the ones Links.Inbox builds, for names that need escaping.
func TestHostRowLinksMatchLinks(t *testing.T) {
	p := &OverviewPage{Page: fixPage()}
	p.links = NewLinks("/ui")
	h := HostSummary{Host: HostRef{ID: "h/1", Name: "web 01&x=y?#"}}
	h.Open.Add(VerdictUnauthorized, Level3)
	h.Open.Add(VerdictFrozen, Level1)
	for _, tenant := range []string{"t&1 ü", ""} {
		html := string(p.HostRows(tenant, []*HostSummary{&h}))
		for _, want := range []string{
			p.InboxFor(tenant, h.Host.Name, "", Level3),
			p.InboxFor(tenant, h.Host.Name, "", Level1),
			p.InboxFor(tenant, h.Host.Name, VerdictUnauthorized, 0),
			p.InboxFor(tenant, h.Host.Name, VerdictFrozen, 0),
		} {
			if !strings.Contains(html, `href="`+htmlAttr(want)+`"`) {
				t.Errorf("tenant %q: row lacks the link %s:\n%s", tenant, want, html)
			}
		}
		if strings.Count(html, "<a href=") != 5 {
			t.Errorf("tenant %q: %d links, want the host and four counts", tenant, strings.Count(html, "<a href="))
		}
	}
}
