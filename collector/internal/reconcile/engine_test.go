package reconcile

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	mspAppr  = ticket.Actor{ID: "u_appr", Email: "appr@msp.example", Role: ticket.RoleApprover}
	mspEng   = ticket.Actor{ID: "u_eng", Email: "eng@msp.example", Role: ticket.RoleEngineer}
	mspEng2  = ticket.Actor{ID: "u_eng2", Email: "eng2@msp.example", Role: ticket.RoleEngineer}
	custAppr = ticket.Actor{ID: "c_appr", Email: "appr@acme.example", Role: ticket.RoleApprover, TenantID: "acme"}

	web01 = Host{Name: "web-01", Labels: map[string]string{"role": "web", "env": "prod"}}
	web02 = Host{Name: "web-02", Labels: map[string]string{"role": "web", "env": "staging"}}
	db01  = Host{Name: "db-01", Labels: map[string]string{"role": "db", "env": "prod"}}
)

// tk describes a ticket for a test.
type tk struct {
	id, ref string
	state   ticket.State
	class   ticket.Class // default normal
	hosts   []string
	labels  []string
	items   []string
	window  *policy.Window // default windowBerlin
	noWin   bool
}

// windowBerlin is 2025-03-08 22:00 to 2025-03-09 02:00 Berlin time, 21:00
// to 01:00 UTC.
var windowBerlin = policy.Window{Start: "2025-03-08T22:00", End: "2025-03-09T02:00", TimeZone: "Europe/Berlin"}

// build makes a ticket of tenant acme in the described state, with the
// review, approvals and history that state implies.
func (d tk) build() *ticket.Ticket {
	class := d.class
	if class == "" {
		class = ticket.Normal
	}
	w := d.window
	if w == nil && !d.noWin {
		w = &windowBerlin
	}
	if w != nil {
		c := *w
		w = &c
	}
	created := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	t := &ticket.Ticket{
		ID: d.id, TenantID: "acme",
		Spec: ticket.Spec{
			Reference: d.ref, Title: "change " + d.id, Origin: ticket.Internal, Class: class,
			Scope: ticket.Scope{Hosts: d.hosts, Labels: d.labels, Items: d.items}, Window: w,
		},
		Requester: mspEng, State: d.state, CreatedAt: created, UpdatedAt: created, Version: 1,
		History: []ticket.Transition{{Action: ticket.ActionCreate, To: ticket.Draft, By: mspEng, At: created}},
	}
	if d.state.Authorizes() {
		t.Approvals = []ticket.Approval{{Side: ticket.SideMSP, Signoff: ticket.Signoff{By: mspAppr, At: created.Add(time.Hour)}}}
	}
	if d.state == ticket.Rejected || d.state == ticket.Cancelled {
		t.History = append(t.History, ticket.Transition{Action: ticket.ActionReject, From: ticket.Submitted, To: d.state,
			By: mspAppr, At: created.Add(2 * time.Hour), Comment: "not tested in staging"})
	}
	return t
}

func engine(t *testing.T, pol policy.Policy, ds ...tk) *Engine {
	t.Helper()
	var ts []*ticket.Ticket
	for _, d := range ds {
		ts = append(ts, d.build())
	}
	e, err := New("acme", pol, ts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func item(h Host, key string, observed string) Item {
	return Item{Host: h, Key: key, Change: baseline.Modified, Attrs: []string{"sha256", "size"}, ObservedAt: at(observed)}
}

// inWindow is inside windowBerlin: 2025-03-08 23:30 Berlin time.
const inWindow = "2025-03-08T22:30:00Z"

func ids(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Ticket)
	}
	return out
}

func TestScope(t *testing.T) {
	pol := policy.Default()
	tests := []struct {
		name    string
		ticket  tk
		item    Item
		verdict Verdict
		host    string // Match.Host when covered
		pattern string // Match.Pattern when covered
	}{
		{"named host", tk{hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}},
			item(web01, "file:/etc/nginx/nginx.conf", inWindow), Authorized, "host web-01", "file:/etc/nginx/**"},
		{"another host", tk{hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}},
			item(web02, "file:/etc/nginx/nginx.conf", inWindow), Unauthorized, "", ""},
		{"another item", tk{hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}},
			item(web01, "file:/etc/nginx2/nginx.conf", inWindow), Unauthorized, "", ""},
		{"every label", tk{labels: []string{"role=web", "env=prod"}, items: []string{"package:openssl"}},
			item(web01, "package:openssl", inWindow), Authorized, "labels role=web,env=prod", "package:openssl"},
		{"one label missing", tk{labels: []string{"role=web", "env=prod"}, items: []string{"package:openssl"}},
			item(web02, "package:openssl", inWindow), Unauthorized, "", ""},
		{"label without value match", tk{labels: []string{"role=db"}, items: []string{"package:openssl"}},
			item(web01, "package:openssl", inWindow), Unauthorized, "", ""},
		{"host glob", tk{hosts: []string{"web-*"}, items: []string{"service:*"}},
			item(web02, "service:nginx", inWindow), Authorized, "host glob web-*", "service:*"},
		{"host glob misses", tk{hosts: []string{"web-*"}, items: []string{"service:*"}},
			item(db01, "service:nginx", inWindow), Unauthorized, "", ""},
		{"every host", tk{hosts: []string{"*"}, items: []string{"sysctl:net.ipv4.*"}},
			item(db01, "sysctl:net.ipv4.ip_forward", inWindow), Authorized, "host glob *", "sysctl:net.ipv4.*"},
		{"named or labelled: by name", tk{hosts: []string{"db-01"}, labels: []string{"role=web"}, items: []string{"user:*"}},
			item(db01, "user:deploy", inWindow), Authorized, "host db-01", "user:*"},
		{"named or labelled: by label", tk{hosts: []string{"db-01"}, labels: []string{"role=web"}, items: []string{"user:*"}},
			item(web02, "user:deploy", inWindow), Authorized, "labels role=web", "user:*"},
		{"first matching pattern", tk{hosts: []string{"web-01"}, items: []string{"file:/etc/**", "file:/etc/nginx/nginx.conf"}},
			item(web01, "file:/etc/nginx/nginx.conf", inWindow), Authorized, "host web-01", "file:/etc/**"},
		{"kind must match", tk{hosts: []string{"web-01"}, items: []string{"package:nginx"}},
			item(web01, "service:nginx", inWindow), Unauthorized, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.ticket
			d.id, d.ref, d.state = "t_1", "CHG1", ticket.Approved
			e := engine(t, pol, d)
			r := e.Evaluate(tt.item)
			if r.Verdict != tt.verdict {
				t.Fatalf("verdict %s (%s), want %s", r.Verdict, r.Reason, tt.verdict)
			}
			if tt.host == "" {
				if len(r.Matches) != 0 || r.Ticket != "" {
					t.Errorf("matches %+v, want none", r.Matches)
				}
				if want := "no change ticket covers " + tt.item.Key + " on " + tt.item.Host.Name; r.Reason != want {
					t.Errorf("reason %q, want %q", r.Reason, want)
				}
				return
			}
			if len(r.Matches) != 1 || r.Matches[0].Host != tt.host || r.Matches[0].Pattern != tt.pattern || r.Ticket != "t_1" {
				t.Errorf("matches %+v, ticket %q; want t_1 by %q and %q", r.Matches, r.Ticket, tt.host, tt.pattern)
			}
		})
	}
}

// TestWindows judges changes around windows, with grace, in time zones
// and across daylight saving changes.
func TestWindows(t *testing.T) {
	spring := policy.Window{Start: "2025-03-09T01:00", End: "2025-03-09T04:00", TimeZone: "America/New_York"}
	fall := policy.Window{Start: "2025-11-02T00:30", End: "2025-11-02T01:30", TimeZone: "America/New_York"}
	tests := []struct {
		name     string
		window   policy.Window
		grace    time.Duration
		observed string
		want     Verdict
		reason   string // a part of the match's reason
	}{
		{"inside", windowBerlin, 0, "2025-03-08T21:00:00Z", Authorized, "is implementing (approved by appr@msp.example) and the change was observed 2025-03-08 22:00 CET, inside its window 2025-03-08 22:00 – 2025-03-09 02:00 Europe/Berlin ± 0s"},
		{"end is inside", windowBerlin, 0, "2025-03-09T01:00:00Z", Authorized, "inside"},
		{"a second after the end", windowBerlin, 0, "2025-03-09T01:00:01Z", OutOfWindow, "is implementing, but the change was observed 2025-03-09 02:00 CET, 1s after its window"},
		{"a second before the start", windowBerlin, 0, "2025-03-08T20:59:59Z", OutOfWindow, "1s before its window"},
		{"within grace after", windowBerlin, 30 * time.Minute, "2025-03-09T01:30:00Z", Authorized, "± 30m"},
		{"beyond grace after", windowBerlin, 30 * time.Minute, "2025-03-09T01:42:00Z", OutOfWindow, "12m after its window 2025-03-08 22:00 – 2025-03-09 02:00 Europe/Berlin ± 30m"},
		{"within grace before", windowBerlin, 30 * time.Minute, "2025-03-08T20:30:00Z", Authorized, "inside"},
		{"a day later", windowBerlin, 30 * time.Minute, "2025-03-10T01:30:00Z", OutOfWindow, "24h after"},
		// 01:00 EST to 04:00 EDT is 06:00 to 08:00 UTC, two hours, not three.
		{"spring forward: end in EDT", spring, 30 * time.Minute, "2025-03-09T08:20:00Z", Authorized, "observed 2025-03-09 04:20 EDT, inside"},
		{"spring forward: not three hours", spring, 30 * time.Minute, "2025-03-09T08:45:00Z", OutOfWindow, "observed 2025-03-09 04:45 EDT, 15m after"},
		{"spring forward: start in EST", spring, 30 * time.Minute, "2025-03-09T05:20:00Z", OutOfWindow, "observed 2025-03-09 00:20 EST, 10m before"},
		// 01:30 happens twice; the window ends at the second, 06:30 UTC.
		{"fall back: second 01:10", fall, 0, "2025-11-02T06:10:00Z", Authorized, "observed 2025-11-02 01:10 EST, inside"},
		{"fall back: after the second 01:30", fall, 0, "2025-11-02T06:31:00Z", OutOfWindow, "1m after"},
		{"fall back: start in EDT", fall, 0, "2025-11-02T04:29:00Z", OutOfWindow, "observed 2025-11-02 00:29 EDT, 1m before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := policy.Default()
			pol.Grace = policy.Duration(tt.grace)
			w := tt.window
			e := engine(t, pol, tk{id: "t_1", ref: "CHG1", state: ticket.Implementing, hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}, window: &w})
			r := e.Evaluate(item(web01, "file:/etc/nginx/nginx.conf", tt.observed))
			if r.Verdict != tt.want {
				t.Errorf("verdict %s, want %s: %s", r.Verdict, tt.want, r.Reason)
			}
			if len(r.Matches) != 1 || !strings.Contains(r.Matches[0].Reason, tt.reason) {
				t.Errorf("reason %q, want it to say %q", r.Matches[0].Reason, tt.reason)
			}
			if r.Ticket != "t_1" {
				t.Errorf("deciding ticket %q, want t_1", r.Ticket)
			}
		})
	}
}

func TestStates(t *testing.T) {
	for _, tt := range []struct {
		state    ticket.State
		observed string
		want     Verdict
		reason   string
	}{
		{ticket.Draft, inWindow, UnapprovedTicket, "CHG1 is draft, not approved, and the change was observed 2025-03-08 23:30 CET, inside its window"},
		{ticket.Submitted, inWindow, UnapprovedTicket, "CHG1 is submitted, not approved, and"},
		{ticket.Reviewed, inWindow, UnapprovedTicket, "CHG1 is reviewed, not approved, and"},
		{ticket.Approved, inWindow, Authorized, "CHG1 is approved (approved by appr@msp.example) and the change was observed 2025-03-08 23:30 CET, inside its window 2025-03-08 22:00 – 2025-03-09 02:00 Europe/Berlin ± 30m"},
		{ticket.Implementing, inWindow, Authorized, "CHG1 is implementing ("},
		{ticket.Implemented, inWindow, Authorized, "CHG1 is implemented ("},
		{ticket.Documented, inWindow, Authorized, "CHG1 is documented ("},
		{ticket.Rejected, inWindow, Unauthorized, "no change ticket authorizes file:/etc/nginx/nginx.conf on web-01; CHG1 was rejected by appr@msp.example at 2025-03-01 10:00 UTC: not tested in staging"},
		{ticket.Cancelled, inWindow, Unauthorized, "CHG1 was cancelled by appr@msp.example"},
		{ticket.Submitted, "2025-03-12T10:00:00Z", Unauthorized, "; CHG1 is submitted, not approved, and the change was observed 2025-03-12 11:00 CET, 80h30m after its window"},
		{ticket.Approved, "2025-03-12T10:00:00Z", OutOfWindow, "CHG1 is approved, but the change was observed 2025-03-12 11:00 CET, 80h30m after its window"},
	} {
		t.Run(string(tt.state)+"/"+tt.observed, func(t *testing.T) {
			pol := policy.Default()
			e := engine(t, pol, tk{id: "t_1", ref: "CHG1", state: tt.state, hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}})
			r := e.Evaluate(item(web01, "file:/etc/nginx/nginx.conf", tt.observed))
			if r.Verdict != tt.want || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("%s: %q; want %s saying %q", r.Verdict, r.Reason, tt.want, tt.reason)
			}
			if len(r.Matches) != 1 {
				t.Fatalf("matches %+v, want the ticket listed", r.Matches)
			}
			if wantTicket := tt.want != Unauthorized; (r.Ticket == "t_1") != wantTicket {
				t.Errorf("deciding ticket %q", r.Ticket)
			}
		})
	}
	t.Run("no window", func(t *testing.T) {
		e := engine(t, policy.Default(),
			tk{id: "t_1", ref: "CHG1", state: ticket.Draft, noWin: true, hosts: []string{"web-01"}, items: []string{"file:/etc/**"}})
		r := e.Evaluate(item(web01, "file:/etc/hosts", inWindow))
		if r.Verdict != Unauthorized || r.Matches[0].Reason != "is draft, not approved, and has no planned window" {
			t.Errorf("%s: %q", r.Verdict, r.Matches[0].Reason)
		}
	})
}

// TestPrecedence puts several tickets over one change and takes them away
// one by one, best first.
func TestPrecedence(t *testing.T) {
	later := policy.Window{Start: "2025-03-20T22:00", End: "2025-03-21T02:00", TimeZone: "Europe/Berlin"}
	much := policy.Window{Start: "2025-04-20T22:00", End: "2025-04-21T02:00", TimeZone: "Europe/Berlin"}
	all := []tk{
		{id: "t_can", ref: "CHG7", state: ticket.Cancelled, hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}},
		{id: "t_draft", ref: "CHG6", state: ticket.Draft, noWin: true, hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}},
		{id: "t_rej", ref: "CHG5", state: ticket.Rejected, labels: []string{"role=web"}, items: []string{"file:/etc/nginx/nginx.conf"}},
		{id: "t_far", ref: "CHG4", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/**"}, window: &much},
		{id: "t_out", ref: "CHG3", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}, window: &later},
		{id: "t_sub", ref: "CHG2", state: ticket.Submitted, labels: []string{"role=web"}, items: []string{"file:/etc/nginx/*.conf"}},
		{id: "t_ok", ref: "CHG1", state: ticket.Implemented, hosts: []string{"web-*"}, items: []string{"file:/etc/nginx/nginx.conf"}},
	}
	steps := []struct {
		tickets int // the first n of all
		verdict Verdict
		ticket  string
		order   []string
	}{
		{7, Authorized, "t_ok", []string{"t_ok", "t_sub", "t_out", "t_far", "t_rej", "t_draft", "t_can"}},
		{6, UnapprovedTicket, "t_sub", []string{"t_sub", "t_out", "t_far", "t_rej", "t_draft", "t_can"}},
		{5, OutOfWindow, "t_out", []string{"t_out", "t_far", "t_rej", "t_draft", "t_can"}}, // the nearer window first
		{3, Unauthorized, "", []string{"t_rej", "t_draft", "t_can"}},
	}
	for _, st := range steps {
		e := engine(t, policy.Default(), all[:st.tickets]...)
		r := e.Evaluate(item(web01, "file:/etc/nginx/nginx.conf", inWindow))
		if r.Verdict != st.verdict || r.Ticket != st.ticket {
			t.Errorf("with %d tickets: %s by %q, want %s by %q", st.tickets, r.Verdict, r.Ticket, st.verdict, st.ticket)
		}
		if diff := cmp.Diff(st.order, r.Covering); diff != "" {
			t.Errorf("with %d tickets: covering (-want +got):\n%s", st.tickets, diff)
		}
		if diff := cmp.Diff(st.order[:min(len(st.order), MaxMatches)], ids(r.Matches)); diff != "" {
			t.Errorf("with %d tickets: matches (-want +got):\n%s", st.tickets, diff)
		}
	}
}

func TestFreeze(t *testing.T) {
	pol := policy.Default()
	pol.Freezes = []policy.Freeze{{Name: "year-end", Window: policy.Window{Start: "2025-12-20T00:00", End: "2026-01-02T00:00", TimeZone: "Europe/Berlin"}, Reason: "finance closing"}}
	xmas := policy.Window{Start: "2025-12-23T20:00", End: "2025-12-23T23:00", TimeZone: "Europe/Berlin"}
	const during = "2025-12-23T20:00:00Z" // 21:00 in Berlin
	tests := []struct {
		name    string
		tickets []tk
		item    Item
		verdict Verdict
		ticket  string
		reason  string
	}{
		{"approved normal change", []tk{{id: "t_1", ref: "CHG1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"package:*"}, window: &xmas}},
			item(web01, "package:openssl", during), Frozen, "t_1",
			`made during freeze "year-end" (2025-12-20 00:00 – 2026-01-02 00:00 Europe/Berlin, finance closing); CHG1 would authorize it, but is a normal change, not an emergency`},
		{"approved standard change", []tk{{id: "t_1", ref: "CHG1", class: ticket.Standard, state: ticket.Implementing, hosts: []string{"web-01"}, items: []string{"package:*"}, window: &xmas}},
			item(web01, "package:openssl", during), Frozen, "t_1", "is a standard change, not an emergency"},
		{"emergency change", []tk{{id: "t_1", ref: "CHG1", class: ticket.Emergency, state: ticket.Implementing, hosts: []string{"web-01"}, items: []string{"package:*"}, window: &xmas}},
			item(web01, "package:openssl", during), Authorized, "t_1", "CHG1 is implementing"},
		{"emergency beats a normal ticket", []tk{
			{id: "t_1", ref: "CHG1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"package:*"}, window: &xmas},
			{id: "t_2", ref: "CHG2", class: ticket.Emergency, state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"package:openssl"}, window: &xmas}},
			item(web01, "package:openssl", during), Authorized, "t_2", "CHG2 is approved"},
		{"no ticket", nil, item(web01, "file:/etc/hosts", during), Frozen, "", `made during freeze "year-end"`},
		{"unapproved ticket", []tk{{id: "t_1", ref: "CHG1", state: ticket.Submitted, hosts: []string{"web-01"}, items: []string{"package:*"}, window: &xmas}},
			item(web01, "package:openssl", during), Frozen, "", `made during freeze "year-end" (2025-12-20 00:00 – 2026-01-02 00:00 Europe/Berlin, finance closing)`},
		{"after the freeze", []tk{{id: "t_1", ref: "CHG1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"package:*"}, window: &xmas}},
			item(web01, "package:openssl", "2026-01-01T23:00:00Z"), OutOfWindow, "t_1", "CHG1 is approved, but the change was observed 2026-01-02 00:00 CET, 216h30m after its window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := engine(t, pol, tt.tickets...)
			r := e.Evaluate(tt.item)
			if r.Verdict != tt.verdict || r.Ticket != tt.ticket || !strings.HasPrefix(r.Reason, tt.reason) && !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("%s by %q: %q; want %s by %q saying %q", r.Verdict, r.Ticket, r.Reason, tt.verdict, tt.ticket, tt.reason)
			}
			wantFreeze := ""
			if tt.item.ObservedAt.Before(at("2026-01-01T23:00:00Z")) {
				wantFreeze = "year-end"
			}
			if r.Freeze != wantFreeze {
				t.Errorf("freeze %q, want %q", r.Freeze, wantFreeze)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	good := tk{id: "t_1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/**"}}.build()
	other := good.Clone()
	other.ID, other.TenantID = "t_2", "globex"
	dup := good.Clone()
	badPattern := good.Clone()
	badPattern.ID, badPattern.Scope.Items = "t_3", []string{"etc/hosts"}
	badWindow := good.Clone()
	badWindow.ID, badWindow.Window = "t_4", &policy.Window{Start: "2025-03-09T02:30", End: "2025-03-09T05:00", TimeZone: "America/New_York"}
	badPol := policy.Default()
	badPol.Grace = policy.Duration(-time.Minute)
	tests := []struct {
		name    string
		pol     policy.Policy
		tickets []*ticket.Ticket
		want    string
	}{
		{"another tenant's ticket", policy.Default(), []*ticket.Ticket{good, other}, "reconcile tenant acme: ticket t_2 belongs to tenant globex"},
		{"duplicate ID", policy.Default(), []*ticket.Ticket{good, dup}, "tickets t_1 and t_1 have the same ID t_1"},
		{"bad pattern", policy.Default(), []*ticket.Ticket{badPattern}, `reconcile ticket t_3: scope.items[0]: pattern "etc/hosts" has no kind`},
		{"bad window", policy.Default(), []*ticket.Ticket{badWindow}, "reconcile ticket t_4: window.start: 2025-03-09T02:30 does not exist in America/New_York"},
		{"bad policy", badPol, nil, "reconcile tenant acme: policy: grace: -1m is not between 0 and 168h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("acme", tt.pol, tt.tickets)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestIndexFindsEveryTicket compares the tickets the index finds for
// generated drift with a plain scan of every ticket.
func TestIndexFindsEveryTicket(t *testing.T) {
	w := newWorld(7, 400, 60, 4000)
	e, err := New("acme", w.pol, w.tickets)
	if err != nil {
		t.Fatal(err)
	}
	results := e.EvaluateAll(w.items)
	matched := 0
	for i, it := range w.items {
		var want []string
		for _, tk := range w.tickets {
			if scanCovers(t, tk, it) {
				want = append(want, tk.ID)
			}
		}
		got := slices.Clone(results[i].Covering)
		if n := min(len(got), MaxMatches); !slices.Equal(got[:n], ids(results[i].Matches)) {
			t.Fatalf("item %d: matches %v do not explain the first of %v", i, ids(results[i].Matches), got)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Fatalf("item %d (%s on %s %v): index found %v, a scan %v", i, it.Key, it.Host.Name, it.Host.Labels, got, want)
		}
		if one := e.Evaluate(it); !cmp.Equal(one, results[i]) {
			t.Fatalf("item %d: Evaluate and EvaluateAll differ:\n%s", i, cmp.Diff(one, results[i]))
		}
		if len(got) > 0 {
			matched++
		}
	}
	counts := map[Verdict]int{}
	for _, r := range results {
		counts[r.Verdict]++
	}
	t.Logf("%d of %d items covered by a ticket; verdicts %v", matched, len(w.items), counts)
	for _, v := range Verdicts {
		if counts[v] == 0 {
			t.Errorf("no item got verdict %s; the generated world does not exercise it", v)
		}
	}
}

// scanCovers decides coverage the plain way, straight from the ticket.
func scanCovers(t *testing.T, tk *ticket.Ticket, it Item) bool {
	host := slices.Contains(tk.Scope.Hosts, it.Host.Name) || slices.Contains(tk.Scope.Hosts, "*")
	for _, h := range tk.Scope.Hosts {
		if strings.HasSuffix(h, "*") && strings.HasPrefix(it.Host.Name, strings.TrimSuffix(h, "*")) {
			host = true
		}
	}
	if !host && len(tk.Scope.Labels) > 0 {
		host = true
		for _, l := range tk.Scope.Labels {
			k, v, _ := strings.Cut(l, "=")
			if it.Host.Labels[k] != v {
				host = false
			}
		}
	}
	if !host {
		return false
	}
	for _, p := range tk.Scope.Items {
		kind, glob, _ := strings.Cut(p, ":")
		if kind != it.Kind() {
			continue
		}
		name := strings.TrimPrefix(it.Key, kind+":")
		switch {
		case strings.HasSuffix(glob, "/**"):
			if name == strings.TrimSuffix(glob, "/**") || strings.HasPrefix(name, strings.TrimSuffix(glob, "**")) {
				return true
			}
		case strings.HasSuffix(glob, "*") && !strings.Contains(strings.TrimSuffix(glob, "*"), "*"):
			rest, ok := strings.CutPrefix(name, strings.TrimSuffix(glob, "*"))
			if ok && (kind == "sysctl" || !strings.Contains(rest, "/")) {
				return true
			}
		case !strings.ContainsAny(glob, "*?["):
			if name == glob {
				return true
			}
		default:
			t.Fatalf("the plain scan cannot read pattern %q", p)
		}
	}
	return false
}

// TestResultGolden fixes the JSON form of a result, which the store keeps
// with each drift item.
func TestResultGolden(t *testing.T) {
	e := engine(t, policy.Default(),
		tk{id: "t_1", ref: "CHG0030001", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/ssh/**"}},
		tk{id: "t_2", ref: "CHG0030002", state: ticket.Reviewed, labels: []string{"role=web"}, items: []string{"file:/etc/ssh/sshd_config"}},
	)
	results := e.EvaluateAll([]Item{
		{ID: "d_1", Host: web01, Key: "file:/etc/ssh/sshd_config", Change: baseline.Modified, Attrs: []string{"sha256", "size"}, ObservedAt: at("2025-03-09T03:10:00Z")},
		{ID: "d_2", Host: web02, Key: "file:/etc/ssh/sshd_config", Change: baseline.Modified, Attrs: []string{"mode"}, ObservedAt: at(inWindow)},
		{ID: "d_3", Host: web02, Key: "user:mallory", Change: baseline.Added, ObservedAt: at(inWindow)},
	})
	got, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/results.json"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("JSON (-golden +got):\n%s", diff)
	}
	var back []Result
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(results, back); diff != "" {
		t.Errorf("JSON round trip (-before +after):\n%s", diff)
	}
}

func TestItemsFromDrift(t *testing.T) {
	d := &baseline.Drift{
		Host: "web-01", TakenAt: at(inWindow),
		Changes: []baseline.Change{
			{Key: "file:/etc/hosts", Kind: "file", Change: baseline.Modified, Attrs: map[string]baseline.AttrChange{"sha256": {}, "mode": {}, "size": {}}},
			{Key: "package:curl", Kind: "package", Change: baseline.Added, Attrs: map[string]baseline.AttrChange{"version": {New: "8.5"}}},
		},
	}
	got := ItemsFromDrift(d, web01.Labels)
	want := []Item{
		{Host: web01, Key: "file:/etc/hosts", Change: baseline.Modified, Attrs: []string{"mode", "sha256", "size"}, ObservedAt: at(inWindow)},
		{Host: web01, Key: "package:curl", Change: baseline.Added, Attrs: []string{"version"}, ObservedAt: at(inWindow)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestNamesInStep keeps the policy's list of verdict names, which
// escalation rules are checked against, equal to the verdicts.
func TestNamesInStep(t *testing.T) {
	var names []string
	for _, v := range Verdicts {
		names = append(names, string(v))
	}
	if diff := cmp.Diff(policy.VerdictNames, names); diff != "" {
		t.Errorf("policy.VerdictNames (-policy +reconcile):\n%s", diff)
	}
	changes := []string{string(baseline.Added), string(baseline.Removed), string(baseline.Modified)}
	if diff := cmp.Diff(policy.ChangeNames, changes); diff != "" {
		t.Errorf("policy.ChangeNames (-policy +baseline):\n%s", diff)
	}
}

// TestConcurrent judges the same drift from several goroutines on one
// engine, sharing its cache of hosts, and expects the same results as one
// goroutine alone.
func TestConcurrent(t *testing.T) {
	w := newWorld(3, 300, 40, 2000)
	e, err := New("acme", w.pol, w.tickets)
	if err != nil {
		t.Fatal(err)
	}
	want := e.EvaluateAll(w.items)
	e.views = newViewCache()
	errs := make(chan string, 4)
	for g := range 4 {
		go func() {
			for i := g; i < len(w.items); i += 4 {
				if got := e.Evaluate(w.items[i]); !cmp.Equal(got, want[i]) {
					errs <- fmt.Sprintf("item %d: %s", i, cmp.Diff(want[i], got))
					return
				}
			}
			errs <- ""
		}()
	}
	for range 4 {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}

// TestWithLeavesEngine replaces a ticket and checks that the engine it
// came from, hosts already seen included, still judges as before.
func TestWithLeavesEngine(t *testing.T) {
	e := engine(t, policy.Default(),
		tk{id: "t_a", ref: "CHG1", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/a/**"}},
		tk{id: "t_b", ref: "CHG2", state: ticket.Approved, hosts: []string{"web-01"}, items: []string{"file:/etc/b/**"}},
	)
	items := []Item{item(web01, "file:/etc/a/x", inWindow), item(web01, "file:/etc/b/x", inWindow), item(web01, "package:x", inWindow)}
	before := e.EvaluateAll(items)
	a, _ := e.Ticket("t_a")
	a.Scope.Items = []string{"package:x", "file:/etc/z/**"}
	next, err := e.With(a)
	if err != nil {
		t.Fatal(err)
	}
	got := []Verdict{next.Evaluate(items[0]).Verdict, next.Evaluate(items[1]).Verdict, next.Evaluate(items[2]).Verdict}
	if want := []Verdict{Unauthorized, Authorized, Authorized}; !slices.Equal(got, want) {
		t.Errorf("new engine: %v, want %v", got, want)
	}
	if diff := cmp.Diff(before, e.EvaluateAll(items)); diff != "" {
		t.Errorf("the old engine changed (-before +after):\n%s", diff)
	}
	e.views = newViewCache() // and for hosts it has not seen yet
	if diff := cmp.Diff(before, e.EvaluateAll(items)); diff != "" {
		t.Errorf("the old engine changed for a new host (-before +after):\n%s", diff)
	}
}
