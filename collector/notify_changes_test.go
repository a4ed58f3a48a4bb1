package collector

import (
	cmpop "cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// TestDriftChanges: each report that opened or modified an item is a
// change at the time the collector received it, with the item's host,
// verdict, level, ticket and latest diff.
func TestDriftChanges(t *testing.T) {
	w := newNotifyWorld(t, notifyConfig(t, "", 25, acmeNotifyBlock), notifyT0)
	motd := testFileChange("/etc/motd", "welcome\n", "maintenance\n")
	w.report(notifyT0, testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin yes\n"), motd)
	w.report(notifyT0.Add(time.Minute), testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin prohibit-password\n"), motd)
	w.report(notifyT0.Add(90*time.Second), testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin prohibit-password\n"), motd) // seen again
	w.report(notifyT0.Add(2*time.Minute), testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin without-password\n"), motd)
	// A ticket is named for motd afterwards.
	motdItem := w.item("file:/etc/motd")
	if _, err := w.st.ResolveDrift(t.Context(), w.tenant.ID, store.DriftResolution{ItemIDs: []string{motdItem.ID}, Status: store.DriftAccepted,
		By: "lead@msp.example", At: notifyT0.Add(3 * time.Minute), Reason: "announced", TicketRef: "CHG-77"},
		store.AuditEntry{At: notifyT0.Add(3 * time.Minute), Actor: "lead@msp.example", Action: audit.ActionDriftAccept, Subject: motdItem.ID}); err != nil {
		t.Fatal(err)
	}
	sshdItem := w.item("file:" + sshdConfig)
	src := &DriftChanges{Store: w.st}

	type row struct {
		Key, Host, Verdict, Ticket, Summary string
		Level                               int
		At                                  time.Duration
	}
	rows := func(cs []notify.Change) []row {
		var out []row
		for _, c := range cs {
			if c.HostID != "h_web01" || (c.Key == "file:"+sshdConfig) != (c.ID == sshdItem.ID) {
				t.Errorf("change %+v: wrong host or drift item", c)
			}
			out = append(out, row{c.Key, c.Host, c.Verdict, c.TicketRef, c.Summary, c.Level, c.At.Sub(notifyT0)})
		}
		return out
	}
	latest := "PermitRootLogin no → without-password"
	sshdAt := func(d time.Duration) row {
		return row{"file:" + sshdConfig, "web-01", "unauthorized", "", latest, 3, d}
	}
	motdRow := row{"file:/etc/motd", "web-01", "unauthorized", "CHG-77", "welcome → maintenance", 1, 0}
	tests := []struct {
		name string
		w    notify.Window
		want []row
	}{
		{"all of it", notify.Window{Start: notifyT0, End: notifyT0.Add(time.Hour)},
			[]row{motdRow, sshdAt(0), sshdAt(time.Minute), sshdAt(2 * time.Minute)}},
		{"the middle edit only", notify.Window{Start: notifyT0.Add(30 * time.Second), End: notifyT0.Add(90 * time.Second)},
			[]row{sshdAt(time.Minute)}},
		{"start included, end excluded", notify.Window{Start: notifyT0.Add(time.Minute), End: notifyT0.Add(2 * time.Minute)},
			[]row{sshdAt(time.Minute)}},
		{"before", notify.Window{Start: notifyT0.Add(-time.Hour), End: notifyT0}, nil},
		{"after", notify.Window{Start: notifyT0.Add(3 * time.Minute), End: notifyT0.Add(time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := src.Changes(t.Context(), w.tenant.ID, tt.w)
			if err != nil {
				t.Fatal(err)
			}
			got := rows(cs)
			slices.SortFunc(got, func(a, b row) int { return cmpop.Or(cmpop.Compare(a.At, b.At), strings.Compare(a.Key, b.Key)) })
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
			for _, c := range cs {
				if c.Key == "file:"+sshdConfig && !strings.Contains(c.Diff, "+PermitRootLogin without-password") {
					t.Errorf("sshd_config change at %v has diff %q, want the latest", c.At, c.Diff)
				}
			}
		})
	}
	if cs, err := src.Changes(t.Context(), "tn_nobody", notify.Window{Start: notifyT0, End: notifyT0.Add(time.Hour)}); err != nil || len(cs) != 0 {
		t.Errorf("changes of an unknown tenant: %v, %v; want none", cs, err)
	}
}

// TestDriftChangesTicket: a change an approved ticket covers carries the
// ticket's ID for links, its reference and its title.
func TestDriftChangesTicket(t *testing.T) {
	w := newNotifyWorld(t, notifyConfig(t, "", 25, acmeNotifyBlock), notifyT0)
	w.report(notifyT0, testPackageChange("openssl", "3.0.13-1", "3.0.15-1"))
	it := w.item("package:openssl")
	now := notifyT0.Add(time.Minute)
	if _, err := w.st.CreateTicket(t.Context(), store.TicketWrite{
		Ticket: store.Ticket{ID: "tk_1", TenantID: w.tenant.ID, Reference: "CHG-1", Title: "Patch OpenSSL", State: "approved",
			CreatedAt: now, UpdatedAt: now, Doc: []byte(`{}`)},
		Audit: store.AuditEntry{At: now, Actor: "lead@msp.example", Action: audit.ActionTicketCreate, Subject: "tk_1"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.SetVerdicts(t.Context(), w.tenant.ID, now, []store.VerdictUpdate{
		{ItemID: it.ID, Verdict: store.VerdictAuthorized, Level: 1, Tickets: []string{"tk_1", "tk_gone"}},
	}); err != nil {
		t.Fatal(err)
	}
	cs, err := (&DriftChanges{Store: w.st}).Changes(t.Context(), w.tenant.ID, notify.Window{Start: notifyT0, End: notifyT0.Add(time.Hour)})
	if err != nil || len(cs) != 1 {
		t.Fatalf("changes %v, %v", cs, err)
	}
	c := cs[0]
	if c.Ticket != "tk_1" || c.TicketRef != "CHG-1" || c.TicketTitle != "Patch OpenSSL" || c.Verdict != "authorized" || c.Level != 1 ||
		c.Summary != "version 3.0.13-1 → 3.0.15-1" {
		t.Errorf("change %+v", c)
	}
}

// TestDigestMetrics: the figures of a digest's week.
func TestDigestMetrics(t *testing.T) {
	w := newNotifyWorld(t, notifyConfig(t, "", 25, acmeNotifyBlock), notifyT0)
	week := notify.Window{Start: notifyT0.Add(-24 * time.Hour), End: notifyT0.Add(6 * 24 * time.Hour)}
	w.report(notifyT0.Add(-48*time.Hour), testFileChange("/etc/old", "a\n", "b\n")) // before the week
	all := []baseline.Change{testFileChange("/etc/old", "a\n", "b\n"), testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin yes\n"),
		testPackageChange("openssl", "1", "2"), testFileChange("/etc/motd", "a\n", "b\n")}
	w.report(notifyT0, all...)
	openssl := w.item("package:openssl")
	if _, err := w.st.SetVerdicts(t.Context(), w.tenant.ID, notifyT0, []store.VerdictUpdate{
		{ItemID: openssl.ID, Verdict: store.VerdictAuthorized, Level: 1},
	}); err != nil {
		t.Fatal(err)
	}
	motd := w.item("file:/etc/motd")
	if _, err := w.st.ResolveDrift(t.Context(), w.tenant.ID, store.DriftResolution{ItemIDs: []string{motd.ID}, Status: store.DriftAccepted,
		By: "lead@msp.example", At: notifyT0.Add(2 * time.Hour)},
		store.AuditEntry{At: notifyT0.Add(2 * time.Hour), Actor: "lead@msp.example", Action: audit.ActionDriftAccept, Subject: motd.ID}); err != nil {
		t.Fatal(err)
	}
	for i, at := range []time.Time{notifyT0.Add(time.Hour), notifyT0.Add(-3 * 24 * time.Hour)} { // one in the week, one before
		id := fmt.Sprintf("tk_%d", i)
		if _, err := w.st.CreateTicket(t.Context(), store.TicketWrite{
			Ticket:     store.Ticket{ID: id, TenantID: w.tenant.ID, Title: "done", State: "implemented", CreatedAt: at, UpdatedAt: at, Doc: []byte(`{}`)},
			Transition: &store.TicketTransition{At: at, Actor: "eng@msp.example", Role: "engineer", To: "implemented"},
			Audit:      store.AuditEntry{At: at, Actor: "eng@msp.example", Action: audit.ActionTicketCreate, Subject: id},
		}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := (&DriftChanges{Store: w.st}).DigestMetrics(t.Context(), w.tenant.ID, week)
	if err != nil {
		t.Fatal(err)
	}
	want := notify.Metrics{Observed: 3, Authorized: 1, MTTR: 2 * time.Hour, OpenLevel3: 1, TicketsImplemented: 1}
	if m != want {
		t.Errorf("metrics %+v, want %+v", m, want)
	}
	if m, err := (&DriftChanges{Store: w.st}).DigestMetrics(t.Context(), w.tenant.ID, notify.Window{Start: notifyT0, End: notifyT0}); err != nil || m != (notify.Metrics{}) {
		t.Errorf("metrics of an empty window: %+v, %v", m, err)
	}
}

func TestChangeSummary(t *testing.T) {
	attrs := func(kv ...string) map[string]baseline.AttrChange {
		m := map[string]baseline.AttrChange{}
		for i := 0; i+2 < len(kv); i += 3 {
			m[kv[i]] = baseline.AttrChange{Old: kv[i+1], New: kv[i+2]}
		}
		return m
	}
	diff := func(a, b string) string { return baseline.UnifiedDiff("a/f", "b/f", a, b, 3) }
	tests := []struct {
		name string
		c    baseline.Change
		want string
	}{
		{"one line replaced", baseline.Change{Change: baseline.Modified, ContentDiff: diff("PermitRootLogin no\n", "PermitRootLogin yes\n"),
			Attrs: attrs("sha256", "x", "y", "size", "19", "20")}, "PermitRootLogin no → yes"},
		{"nothing in common", baseline.Change{Change: baseline.Modified, ContentDiff: diff("a b\n", "c d\n")}, "a b → c d"},
		{"a line added", baseline.Change{Change: baseline.Modified, ContentDiff: diff("x\n", "x\ndeploy ALL=(ALL) NOPASSWD: ALL\n")},
			"added: deploy ALL=(ALL) NOPASSWD: ALL"},
		{"a line removed", baseline.Change{Change: baseline.Modified, ContentDiff: diff("x\nPort 2222\n", "x\n")}, "removed: Port 2222"},
		{"many lines", baseline.Change{Change: baseline.Modified, ContentDiff: diff("a\nb\nc\n", "A\nB\nc\nd\n")}, "3 lines added, 2 lines removed"},
		{"redacted secret", baseline.Change{Change: baseline.Modified, ContentDiff: diff("user = app\npassword = [REDACTED]\n", "user = web\npassword = [REDACTED]\n")},
			"user = app → web"},
		{"mode and owner", baseline.Change{Change: baseline.Modified, Attrs: attrs("mode", "0644", "0666", "owner", "root", "www-data", "mtime", "1", "2")},
			"mode 0644 → 0666; owner root → www-data"},
		{"an attribute appears", baseline.Change{Change: baseline.Modified, Attrs: attrs("target", "", "/tmp/x")}, "target — → /tmp/x"},
		{"added item", baseline.Change{Change: baseline.Added, Attrs: attrs("version", "", "1.0")}, ""},
		{"removed item", baseline.Change{Change: baseline.Removed}, ""},
		{"content changed, no diff", baseline.Change{Change: baseline.Modified, Attrs: attrs("sha256", "x", "y")}, ""},
		{"long line cut", baseline.Change{Change: baseline.Modified, ContentDiff: diff("k = v\n", "k = "+strings.Repeat("é", 200)+"\n")},
			"k = v → " + strings.Repeat("é", (maxSummary-len("k = v → ")-len("…"))/2) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := changeSummary(&tt.c); got != tt.want {
				t.Errorf("summary %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkDriftChanges reads the changes of a tenant with 1000 drift
// items, 200 of them modified again, as a tick (the last half hour) and a
// digest (the week) do.
func BenchmarkDriftChanges(b *testing.B) {
	w := newNotifyWorld(b, notifyConfig(b, "", 25, acmeNotifyBlock), notifyT0)
	var cs []baseline.Change
	for i := range 1000 {
		cs = append(cs, testFileChange(fmt.Sprintf("/etc/app/%04d.conf", i), "level = 1\n", "level = 2\n"))
	}
	w.report(notifyT0, cs...)
	for i := range 200 {
		cs[i] = testFileChange(fmt.Sprintf("/etc/app/%04d.conf", i), "level = 1\n", "level = 3\n")
	}
	w.report(notifyT0.Add(100*time.Minute), cs...)
	b.ResetTimer()
	src := &DriftChanges{Store: w.st}
	for _, bc := range []struct {
		name string
		w    notify.Window
	}{
		{"tick", notify.Window{Start: notifyT0.Add(90 * time.Minute), End: notifyT0.Add(2 * time.Hour)}},
		{"digest", notify.Window{Start: notifyT0.Add(-24 * time.Hour), End: notifyT0.Add(6 * 24 * time.Hour)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				cs, err := src.Changes(b.Context(), w.tenant.ID, bc.w)
				if err != nil {
					b.Fatal(err)
				}
				n = len(cs)
			}
			b.ReportMetric(float64(n), "changes")
		})
	}
}
