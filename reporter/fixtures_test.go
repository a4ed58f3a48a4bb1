package reporter

import (
	"fmt"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// The fixtures: one MSP with two customers, a web host whose sshd_config
// drifted, and the documents made from them. Times are fixed so golden
// files never depend on the clock.

var (
	fixNow    = time.Date(2024, 11, 20, 6, 4, 0, 0, time.UTC)
	berlin    = mustZone("Europe/Berlin")
	acme      = TenantRef{ID: "t-acme", Name: "Acme Corp"}
	globex    = TenantRef{ID: "t-globex", Name: "Globex"}
	web01     = HostRef{ID: "h-web01", Name: "web-01", TenantID: acme.ID, TenantName: acme.Name}
	db01      = HostRef{ID: "h-db01", Name: "db-01", TenantID: acme.ID, TenantName: acme.Name}
	mail01    = HostRef{ID: "h-mail01", Name: "mail-01", TenantID: globex.ID, TenantName: globex.Name}
	chg1042   = TicketRef{ID: "tk-1042", Ref: "CHG-1042", Title: "Harden nginx TLS settings", State: StateApproved}
	chg1050   = TicketRef{ID: "tk-1050", Ref: "CHG-1050", Title: "Open port 8443 for the admin UI", State: StateSubmitted, ExternalURL: "https://jira.example.net/browse/OPS-77"}
	fixUser   = &User{Name: "Dana Night", Email: "dana@msp.example", Role: "admin"}
	fixTenant = []TenantRef{acme, globex}
)

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func fixPage() Page {
	return Page{Now: fixNow, Location: berlin, User: fixUser, CSRFToken: "csrf-token-123", TenantOptions: fixTenant}
}

// blobs is a baseline.BlobSource over a map.
type blobs map[baseline.Digest]string

func (b blobs) Blob(d baseline.Digest) ([]byte, error) {
	s, ok := b[d]
	if !ok {
		return nil, fmt.Errorf("no blob %s", d.Short())
	}
	return []byte(s), nil
}

func (b blobs) add(s string) baseline.Digest {
	d := baseline.Sum([]byte(s))
	b[d] = s
	return d
}

const sshdOld = `# managed by config management
Port 22
PermitRootLogin no
PasswordAuthentication no
X11Forwarding no
UsePAM yes
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
`

const sshdNew = `# managed by config management
Port 22
PermitRootLogin yes
PasswordAuthentication no
X11Forwarding no
UsePAM yes
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
AllowUsers deploy
`

const nginxConf = "# nginx\nserver {\n  listen 443 ssl;\n  # a comment with ``` backticks and <script>alert(1)</script>\n  ssl_password_file ********;\n}\n"

const iptables = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp --dport 443 -j ACCEPT\nCOMMIT\n"

func file(b blobs, path, mode, owner string, content string, redacted bool) baseline.Item {
	it := baseline.Item{Key: "file:" + path, Source: "files.etc",
		Attrs: baseline.Attrs{}.Set("type", "file").Set("mode", mode).Set("owner", owner).Set("group", owner).
			Set("uid", "0").Set("gid", "0").Set("size", fmt.Sprint(len(content))).Set("mtime", "2024-11-01T10:00:00Z"),
		Digest: baseline.Sum([]byte(content)), Redacted: redacted}
	if b != nil {
		it.Content = b.add(content)
	}
	return it
}

// fixSnapshots returns web-01's baseline snapshot, a later drifted one, and
// the blobs they reference.
func fixSnapshots() (old, cur *baseline.Snapshot, b blobs) {
	b = blobs{}
	common := []baseline.Item{
		{Key: "command:iptables-save", Source: "command.firewall", Attrs: baseline.Attrs{}.Set("argv", "iptables-save").Set("exit_status", "0"),
			Digest: baseline.Sum([]byte(iptables)), Content: b.add(iptables)},
		{Key: "file:/etc/nginx", Source: "files.etc", Attrs: baseline.Attrs{}.Set("type", "dir").Set("mode", "0755").Set("owner", "root").Set("group", "root")},
		file(b, "/etc/nginx/nginx.conf", "0644", "root", nginxConf, true),
		file(nil, "/etc/shadow", "0640", "root", "root:$6$...", false),
		{Key: "group:sudo", Source: "users", Attrs: baseline.Attrs{}.Set("gid", "27").Set("members", "deploy")},
		{Key: "inventory:cpu", Source: "inventory", Attrs: baseline.Attrs{}.Set("model", "Intel(R) Xeon(R) Gold 6248").Set("count", "4")},
		{Key: "inventory:disk/sda", Source: "inventory", Attrs: baseline.Attrs{}.Set("size_bytes", "107374182400").Set("model", "QEMU HARDDISK").Set("rotational", "0")},
		{Key: "inventory:interface/eth0", Source: "inventory", Attrs: baseline.Attrs{}.Set("mac", "52:54:00:12:34:56").Set("mtu", "1500").Set("addresses", "10.0.0.11/24")},
		{Key: "inventory:kernel", Source: "inventory", Attrs: baseline.Attrs{}.Set("release", "6.1.0-26-amd64").Set("arch", "x86_64").Set("version", "#1 SMP Debian")},
		{Key: "inventory:machine", Source: "inventory", Attrs: baseline.Attrs{}.Set("hostname", "web-01").Set("machine_id", "4f1c0e5a9b2d4e6f8a0b1c2d3e4f5a6b")},
		{Key: "inventory:memory", Source: "inventory", Attrs: baseline.Attrs{}.Set("total", "8589934592").Set("total_human", "8.0 GiB")},
		{Key: "inventory:os", Source: "inventory", Attrs: baseline.Attrs{}.Set("pretty_name", "Debian GNU/Linux 12 (bookworm)").Set("id", "debian")},
		{Key: "package:nginx", Source: "packages", Attrs: baseline.Attrs{}.Set("version", "1.22.1-9").Set("architecture", "amd64").Set("manager", "dpkg")},
		{Key: "port:tcp/22", Source: "ports", Attrs: baseline.Attrs{}.Set("addresses", "0.0.0.0,::").Set("process", "sshd").Set("uid", "0")},
		{Key: "port:tcp/443", Source: "ports", Attrs: baseline.Attrs{}.Set("addresses", "0.0.0.0").Set("process", "nginx").Set("uid", "0")},
		{Key: "service:nginx.service", Source: "services", Attrs: baseline.Attrs{}.Set("state", "enabled").Set("unit_file", "/lib/systemd/system/nginx.service").Set("wanted_by", "multi-user.target")},
		{Key: "service:ssh.service", Source: "services", Attrs: baseline.Attrs{}.Set("state", "enabled").Set("unit_file", "/lib/systemd/system/ssh.service").Set("wanted_by", "multi-user.target")},
		{Key: "sysctl:net.ipv4.ip_forward", Source: "sysctl", Attrs: baseline.Attrs{}.Set("value", "0")},
		{Key: "user:deploy", Source: "users", Attrs: baseline.Attrs{}.Set("uid", "1001").Set("gid", "1001").Set("home", "/home/deploy").Set("shell", "/bin/bash").Set("groups", "sudo").Set("gecos", "Deploy user")},
		{Key: "user:root", Source: "users", Attrs: baseline.Attrs{}.Set("uid", "0").Set("gid", "0").Set("home", "/root").Set("shell", "/bin/bash")},
	}
	oldItems := append([]baseline.Item{
		file(b, "/etc/ssh/sshd_config", "0644", "root", sshdOld, false),
		{Key: "package:openssl", Source: "packages", Attrs: baseline.Attrs{}.Set("version", "3.0.14-1~deb12u2").Set("architecture", "amd64").Set("manager", "dpkg")},
	}, common...)
	newItems := append([]baseline.Item{
		file(b, "/etc/ssh/sshd_config", "0666", "root", sshdNew, false),
		{Key: "package:openssl", Source: "packages", Attrs: baseline.Attrs{}.Set("version", "3.0.15-1~deb12u1").Set("architecture", "amd64").Set("manager", "dpkg")},
		{Key: "port:tcp/8443", Source: "ports", Attrs: baseline.Attrs{}.Set("addresses", "0.0.0.0").Set("process", "python3").Set("uid", "1001")},
	}, common...)
	old = &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "web-01", Labels: map[string]string{"role": "web", "env": "prod"}},
		TakenAt: time.Date(2024, 11, 1, 9, 0, 0, 0, time.UTC), AgentVersion: "0.9.0", Items: oldItems}
	old.Sort()
	cur = &baseline.Snapshot{Format: baseline.FormatVersion, Host: old.Host, TakenAt: time.Date(2024, 11, 20, 5, 2, 0, 0, time.UTC),
		AgentVersion: "0.9.0", Items: newItems,
		Sources: []baseline.SourceStatus{{Name: "files.etc", Kind: "file", Status: baseline.StatusPartial, Items: 812,
			Warnings: []string{"/etc/ssl/private: permission denied"}, WarningCount: 3}, {Name: "packages", Kind: "package", Status: baseline.StatusOK, Items: 412}}}
	cur.Sort()
	return old, cur, b
}

// fixDrift is web-01's drift from its baseline to now.
func fixDrift() *baseline.Drift {
	old, cur, b := fixSnapshots()
	return baseline.Diff(old, cur, baseline.DiffOptions{Blobs: b})
}

func fixChange(key string) baseline.Change {
	for _, c := range fixDrift().Changes {
		if c.Key == key {
			return c
		}
	}
	panic("no change " + key)
}

func fixOverview(hostsPerTenant int) *OverviewPage {
	p := &OverviewPage{Page: fixPage()}
	for ti, t := range []TenantRef{acme, globex} {
		to := TenantOverview{Tenant: t}
		for i := 0; i < hostsPerTenant; i++ {
			h := HostSummary{Host: HostRef{ID: fmt.Sprintf("h-%d-%04d", ti, i), Name: fmt.Sprintf("srv-%04d", i), TenantID: t.ID, TenantName: t.Name},
				Labels: map[string]string{"role": []string{"web", "db", "cache"}[i%3]}, AgentVersion: "0.9.0",
				LastSeen: fixNow.Add(-time.Duration(i%7) * 29 * time.Minute), BaselineVersion: 1 + i%4}
			for j := 0; j < i%5; j++ {
				h.Open.Add(Verdicts[(i+j)%len(Verdicts)], Level(1+(i+j)%3))
			}
			to.Hosts = append(to.Hosts, h)
		}
		p.Tenants = append(p.Tenants, to)
	}
	p.Tenants[0].Connectors = []Connector{
		{Name: "Acme Jira", Kind: "jira", LastSuccess: fixNow.Add(-5 * time.Minute)},
		{Name: "Acme ServiceNow", Kind: "servicenow", LastSuccess: fixNow.Add(-26 * time.Hour), LastError: "401 Unauthorized: token expired"},
	}
	return p
}

func fixDriftRows(n int) []DriftRow {
	hosts := []HostRef{web01, db01, mail01}
	keys := []string{"file:/etc/ssh/sshd_config", "package:openssl", "port:tcp/8443", "service:nginx.service", "sysctl:net.ipv4.ip_forward", "user:backup"}
	kinds := []baseline.ChangeKind{baseline.Modified, baseline.Modified, baseline.Added, baseline.Modified, baseline.Modified, baseline.Added}
	rows := make([]DriftRow, n)
	for i := range rows {
		v := Verdicts[i%len(Verdicts)]
		r := DriftRow{ID: fmt.Sprintf("d-%03d", i+1), Host: hosts[i%len(hosts)], Key: keys[i%len(keys)], Change: kinds[i%len(kinds)],
			Verdict: v, Level: Level(3 - i%3), Status: DriftOpen,
			FirstSeen: fixNow.Add(-time.Duration(i*17) * time.Minute), LastSeen: fixNow.Add(-time.Duration(i) * time.Minute)}
		switch v {
		case VerdictAuthorized, VerdictOutOfWindow:
			t := chg1042
			r.Ticket = &t
		case VerdictUnapprovedTicket:
			t := chg1050
			r.Ticket = &t
		}
		rows[i] = r
	}
	return rows
}

func fixInbox(n int) *InboxPage {
	p := &InboxPage{Page: fixPage(), Rows: fixDriftRows(n), Total: n + 40, NextCursor: "c2", PrevCursor: ""}
	p.Filter = InboxFilter{TenantID: acme.ID, Levels: []Level{Level3, Level2}, Verdicts: []Verdict{VerdictUnauthorized, VerdictFrozen}}
	p.TenantID = acme.ID
	return p
}

func fixDriftPage(view string) *DriftPage {
	c := fixChange("file:/etc/ssh/sshd_config")
	p := &DriftPage{Page: fixPage(), Change: c, BaselineVersion: 3, TakenAt: time.Date(2024, 11, 20, 5, 2, 0, 0, time.UTC), View: view,
		Item: DriftRow{ID: "d-001", Host: web01, Key: c.Key, Change: c.Change, Verdict: VerdictUnauthorized, Level: Level3, Status: DriftOpen,
			FirstSeen: time.Date(2024, 11, 20, 5, 2, 0, 0, time.UTC), LastSeen: time.Date(2024, 11, 20, 6, 0, 0, 0, time.UTC)},
		Matches: []TicketMatch{{Ticket: chg1042, Verdict: VerdictUnauthorized, Reasons: []string{"host web-01 is in scope (label role=web)",
			"item file:/etc/ssh/sshd_config matches no pattern of the ticket (file:/etc/nginx/**)"}}},
		Actions:            DriftActions{Accept: true, Link: true, Revert: true},
		Tickets:            []TicketRef{chg1042, chg1050},
		RollbackContent:    sshdOld,
		HasRollbackContent: true,
		History: []DriftEvent{{At: time.Date(2024, 11, 20, 5, 3, 0, 0, time.UTC), Actor: "driftwatch", Action: "escalated to level 3",
			Reason: "rule: sshd_config changes without a ticket"}},
	}
	p.TenantID = acme.ID
	return p
}

func fixTicket() *TicketPage {
	p := &TicketPage{Page: fixPage(),
		Ticket: Ticket{ID: chg1042.ID, Ref: chg1042.Ref, Title: chg1042.Title, Origin: OriginCustomer, Class: ClassNormal, State: StateApproved, Tenant: acme,
			Description:  "Disable TLS 1.0 and 1.1 in nginx and enable HSTS, after the customer's security audit (finding AUD-17).",
			Impact:       "Clients older than 2014 can no longer connect.",
			RollbackPlan: "Restore /etc/nginx/nginx.conf from baseline v3 and reload nginx.",
			Requester:    "sam@msp.example",
			Review:       &Signoff{By: "lee@msp.example", At: time.Date(2024, 11, 16, 11, 0, 0, 0, time.UTC), Comment: "Window agreed with the customer."},
			Approvals: []Approval{{Side: SideMSP, Signoff: Signoff{By: "dana@msp.example", At: time.Date(2024, 11, 17, 9, 0, 0, 0, time.UTC)}},
				{Side: SideCustomer, Signoff: Signoff{By: "cio@acme.example", At: time.Date(2024, 11, 18, 14, 30, 0, 0, time.UTC), Comment: "Approved."}}},
			Scope:  TicketScope{Hosts: []HostRef{web01, {Name: "web-*"}}, Labels: []string{"role=web"}, ItemPatterns: []string{"file:/etc/nginx/**", "service:nginx.service"}},
			Window: TimeWindow{Start: time.Date(2024, 11, 20, 21, 0, 0, 0, time.UTC), End: time.Date(2024, 11, 20, 22, 30, 0, 0, time.UTC), TimeZone: "Europe/Berlin"},
			Answers: []Answer{{Question: DefaultQuestions[0].Text, Answer: "Audit finding AUD-17: TLS 1.0 is still offered."},
				{Question: DefaultQuestions[2].Text, Answer: "yes"},
				{Question: DefaultQuestions[5].Text, Answer: "Lee (on call), then the customer's helpdesk."}},
			NeedsToKnow: []string{"helpdesk@acme.example", "noc@msp.example"}, ExternalURL: "https://jira.example.net/browse/OPS-42",
			CreatedAt: time.Date(2024, 11, 15, 9, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2024, 11, 18, 14, 30, 0, 0, time.UTC)},
		Transitions: []Transition{
			{At: time.Date(2024, 11, 15, 9, 0, 0, 0, time.UTC), By: "sam@msp.example", Role: "requester", Action: "create", To: StateDraft},
			{At: time.Date(2024, 11, 15, 9, 30, 0, 0, time.UTC), By: "sam@msp.example", Role: "requester", Action: "submit", From: StateDraft, To: StateSubmitted},
			{At: time.Date(2024, 11, 16, 10, 0, 0, 0, time.UTC), By: "sam@msp.example", Role: "requester", Action: "amend", From: StateSubmitted, To: StateSubmitted, Changed: []string{"window", "impact"}},
			{At: time.Date(2024, 11, 16, 11, 0, 0, 0, time.UTC), By: "lee@msp.example", Role: "reviewer", Action: "review", From: StateSubmitted, To: StateReviewed, Comment: "Window agreed with the customer."},
			{At: time.Date(2024, 11, 17, 9, 0, 0, 0, time.UTC), By: "dana@msp.example", Role: "approver", Action: "approve", From: StateReviewed, To: StateReviewed},
			{At: time.Date(2024, 11, 18, 14, 30, 0, 0, time.UTC), By: "cio@acme.example", Role: "customer approver", Action: "approve", From: StateReviewed, To: StateApproved, Comment: "Approved."},
		},
		Actions: []TicketAction{{Name: "start", Label: "Start implementing", To: StateImplementing},
			{Name: "cancel", Label: "Cancel", To: StateCancelled, Danger: true, CommentRequired: true}},
		Drift: func() []DriftRow {
			r := fixDriftRows(1)
			t := chg1042
			r[0].ID, r[0].Host, r[0].Key, r[0].Verdict, r[0].Level, r[0].Ticket = "d-010", web01, "file:/etc/nginx/nginx.conf", VerdictAuthorized, Level1, &t
			return r
		}(),
	}
	p.TenantID = acme.ID
	return p
}

func fixHostDoc() *HostDocumentation {
	old, _, b := fixSnapshots()
	content := map[baseline.Digest]string{}
	for d, s := range b {
		content[d] = s
	}
	return &HostDocumentation{Tenant: acme, Host: web01, Labels: old.Host.Labels,
		Meta: baseline.Meta{Host: "web-01", Version: 3, SnapshotDigest: old.Digest(), Items: len(old.Items), ApprovedBy: "dana@msp.example",
			ApprovedAt: time.Date(2024, 11, 1, 9, 30, 0, 0, time.UTC), Reason: "TLS hardening implemented", Tickets: []string{"CHG-1042"}, Reviewed: true},
		Snapshot: old, Content: content, PreviousVersion: 2,
		Changes: []DocChange{{Key: "file:/etc/nginx/nginx.conf", Change: baseline.Modified, Verdict: VerdictAuthorized, Summary: "ssl_protocols TLSv1.2 TLSv1.3",
			Tickets: []TicketRef{chg1042}, At: time.Date(2024, 10, 30, 21, 10, 0, 0, time.UTC), AcceptedBy: "dana@msp.example",
			Diff: baseline.UnifiedDiff("a/etc/nginx/nginx.conf", "b/etc/nginx/nginx.conf", "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n", "ssl_protocols TLSv1.2 TLSv1.3;\n", 3)}},
		GeneratedAt: fixNow, Location: berlin, BaseURL: "https://drift.example.net/ui"}
}

func fixMailChanges() []MailChange {
	d := fixDrift()
	var out []MailChange
	for i, c := range d.Changes {
		mc := MailChange{DriftID: fmt.Sprintf("d-%03d", i+1), Host: web01, Key: c.Key, Change: c.Change, Verdict: VerdictUnauthorized, Level: Level3,
			FirstSeen: time.Date(2024, 11, 20, 5, 2, 0, 0, time.UTC), Diff: c.ContentDiff, Note: c.Note}
		if c.Kind == baseline.KindPackage {
			t := chg1042
			mc.Ticket, mc.Verdict, mc.Level = &t, VerdictAuthorized, Level1
			mc.Summary = "version 3.0.14-1~deb12u2 → 3.0.15-1~deb12u1"
		}
		out = append(out, mc)
	}
	long := strings.Repeat("+line\n", 150)
	out = append(out, MailChange{DriftID: "d-900", Host: db01, Key: "command:pg_dump-schema", Change: baseline.Modified, Verdict: VerdictOutOfWindow,
		Level: Level2, FirstSeen: time.Date(2024, 11, 19, 23, 40, 0, 0, time.UTC), Ticket: &chg1050,
		Diff: "--- a/command:pg_dump-schema\n+++ b/command:pg_dump-schema\n@@ -0,0 +1,150 @@\n" + long})
	return out
}

func fixDigest() *Digest {
	return &Digest{Recipient: "Dana", From: time.Date(2024, 11, 18, 0, 0, 0, 0, berlin), To: time.Date(2024, 11, 25, 0, 0, 0, 0, berlin),
		Location: berlin, BaseURL: "https://drift.example.net/ui",
		PreferencesURL: "https://drift.example.net/ui/settings/email?u=dana", UnsubscribeURL: "https://drift.example.net/ui/unsubscribe?t=abc123",
		Tenants: []DigestTenant{
			{Tenant: acme, Changes: fixMailChanges(), Metrics: DigestMetrics{SuccessRate: 94.5, MTTR: 5*time.Hour + 30*time.Minute, OpenL3: 2, TicketsImplemented: 7}},
			{Tenant: globex, Metrics: DigestMetrics{SuccessRate: -1}},
		}}
}

func fixAlert() *Alert {
	cs := fixMailChanges()[:1]
	return &Alert{Level: Level3, Tenant: acme, Changes: cs, Location: berlin, BaseURL: "https://drift.example.net/ui",
		PreferencesURL: "https://drift.example.net/ui/settings/email?u=dana"}
}

func fixMetrics() *MetricsPage {
	p := &MetricsPage{Page: fixPage(), From: time.Date(2024, 11, 6, 0, 0, 0, 0, berlin), To: time.Date(2024, 11, 20, 0, 0, 0, 0, berlin),
		Summary: MetricsSummary{Changes: 143, Authorized: 120, Unauthorized: 9, SuccessRate: 96.2, MTTR: 4*time.Hour + 12*time.Minute, OpenL3: 2}}
	for i := 0; i < 14; i++ {
		day := time.Date(2024, 11, 6+i, 0, 0, 0, 0, berlin)
		p.DriftPerDay = append(p.DriftPerDay, DayCounts{Day: day, ByVerdict: map[Verdict]int{
			VerdictAuthorized: 5 + i%4*2, VerdictUnauthorized: i % 3, VerdictOutOfWindow: i % 5 / 3, VerdictUnapprovedTicket: i % 4 / 2, VerdictFrozen: i / 13}})
	}
	for i, v := range []float64{92, 95.5, 91, 97, 96.2, 98} {
		at := time.Date(2024, 10, 14, 0, 0, 0, 0, berlin).AddDate(0, 0, 7*i)
		p.SuccessRate = append(p.SuccessRate, LinePoint{At: at, Value: v})
		p.MTTR = append(p.MTTR, LinePoint{At: at, Value: []float64{7.5, 6, 9.25, 5, 4.2, 4.5}[i]})
	}
	return p
}

func fixChangeLog() []ChangeLogEntry {
	t := chg1042
	return []ChangeLogEntry{
		{At: time.Date(2024, 11, 20, 5, 2, 0, 0, time.UTC), Host: web01, Key: "file:/etc/ssh/sshd_config", Change: "modified", Verdict: VerdictUnauthorized,
			Summary: "PermitRootLogin no → yes", Owner: "unknown", NeedsToKnow: []string{"NOC", "Acme security"}, Notes: "Escalated, level 3", DriftID: "d-001"},
		{At: time.Date(2024, 10, 30, 21, 10, 0, 0, time.UTC), Host: web01, Key: "file:/etc/nginx/nginx.conf", Change: "modified", Verdict: VerdictAuthorized,
			Summary: "ssl_protocols TLSv1.2 TLSv1.3", Ticket: &t, Owner: "sam@msp.example", NeedsToKnow: []string{"Acme helpdesk"},
			Notes: "Line one, \"quoted\"\nline two", DriftID: "d-000"},
		{At: time.Date(2024, 10, 29, 8, 0, 0, 0, time.UTC), Host: db01, Key: "command:=HYPERLINK(\"http://evil.example\",\"x\")", Change: "added",
			Verdict: VerdictUnauthorized, Summary: "+1 line", Owner: "@attacker", Notes: "-2+3"},
	}
}
