package reconcile

import (
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// patchRule is a standing patch ticket's rule: apt upgrades and installs
// of openssl and nginx packages, on Saturdays from 22:00 to 02:00 Berlin
// time.
var patchRule = ticket.PackageRule{
	Manager:  ticket.ManagerApt,
	Names:    []string{"openssl*", "libssl*", "nginx*"},
	Commands: []string{"apt-get upgrade*", "apt-get install *", "apt upgrade*"},
	Days:     []string{"sat", "sun"},
	Hours:    "22:00-02:00",
}

// standardEngine has the standing patch ticket CHG-PATCH (standard,
// approved, labels role=web, no item patterns) and a normal ticket
// CHG-NGINX for the nginx configuration on web-01.
func standardEngine(t *testing.T, state ticket.State) *Engine {
	t.Helper()
	std := tk{id: "t_patch", ref: "CHG-PATCH", state: state, class: ticket.Standard, labels: []string{"role=web"}}.build()
	rule := patchRule
	std.Packages = &rule
	normal := tk{id: "t_nginx", ref: "CHG-NGINX", state: ticket.Approved, hosts: []string{"web-01"},
		items: []string{"file:/etc/nginx/sites-enabled/*"}}.build()
	e, err := New("acme", policy.Default(), []*ticket.Ticket{std, normal})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// upgrade is `sudo apt-get upgrade -y` by alice inside windowBerlin
// (Saturday 2025-03-08 23:25 Berlin time).
func upgrade() *Transaction {
	return &Transaction{
		ID: "20250308T222500.000000000Z-apt-4101", Manager: "apt", Command: "apt-get upgrade -y", User: "alice",
		Started: at("2025-03-08T22:25:00Z"), Ended: at("2025-03-08T22:26:10Z"),
		Packages: []Package{
			{Name: "libssl3", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: "upgrade"},
			{Name: "openssl", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: "upgrade"},
		},
	}
}

func TestStandardChange(t *testing.T) {
	with := func(it Item, tx *Transaction) Item { it.Transaction = tx; return it }
	modify := func(f func(*Transaction)) *Transaction { tx := upgrade(); f(tx); return tx }
	const observed = "2025-03-08T22:26:00Z" // inside the transaction and the window
	tests := []struct {
		name       string
		state      ticket.State
		it         Item
		verdict    Verdict
		ticket     string
		reason     string // the reason contains it
		covering   []string
		classIsStd bool
	}{
		{"rule matches", ticket.Approved, with(item(web01, "file:/etc/ssl/openssl.cnf", observed), upgrade()),
			Authorized, "t_patch", "standard change CHG-PATCH: apt-get upgrade -y by alice", []string{"t_patch"}, true},
		{"package item of the transaction", ticket.Approved, with(item(web02, "package:openssl", observed), upgrade()),
			Authorized, "t_patch", "standard change CHG-PATCH: apt-get upgrade -y by alice", []string{"t_patch"}, true},
		{"package pattern miss", ticket.Approved, with(item(web01, "file:/etc/ssl/openssl.cnf", observed),
			modify(func(tx *Transaction) {
				tx.Packages = append(tx.Packages, Package{Name: "curl", To: "8.0", Action: "install"})
			})),
			Unauthorized, "", "does not cover package curl", []string{"t_patch"}, false},
		{"command miss", ticket.Approved, with(item(web01, "file:/etc/ssl/openssl.cnf", observed),
			modify(func(tx *Transaction) { tx.Command = "apt-get remove openssl" })),
			Unauthorized, "", `does not allow the command "apt-get remove openssl"`, []string{"t_patch"}, false},
		{"other manager", ticket.Approved, with(item(web01, "file:/etc/ssl/openssl.cnf", observed),
			modify(func(tx *Transaction) { tx.Manager = "dnf" })),
			Unauthorized, "", "rule is for apt", []string{"t_patch"}, false},
		{"dpkg counts as apt", ticket.Approved, with(item(web01, "file:/etc/ssl/openssl.cnf", observed),
			modify(func(tx *Transaction) { tx.Manager = "dpkg" })),
			Authorized, "t_patch", "standard change CHG-PATCH", []string{"t_patch"}, true},
		{"outside the rule's hours", ticket.Approved, with(item(web01, "file:/etc/ssl/openssl.cnf", "2025-03-08T21:00:00Z"),
			modify(func(tx *Transaction) { tx.Started = at("2025-03-08T20:30:00Z") })),
			Unauthorized, "", "does not allow a transaction starting Sat 2025-03-08 21:30 CET", []string{"t_patch"}, false},
		{"drift outside the transaction", ticket.Approved, item(web01, "file:/etc/ssl/openssl.cnf", observed),
			Unauthorized, "", "no change ticket covers file:/etc/ssl/openssl.cnf on web-01", nil, false},
		{"other host", ticket.Approved, with(item(db01, "file:/etc/ssl/openssl.cnf", observed), upgrade()),
			Unauthorized, "", "no change ticket covers file:/etc/ssl/openssl.cnf on db-01", nil, false},
		{"standard change not approved", ticket.Submitted, with(item(web01, "file:/etc/ssl/openssl.cnf", observed), upgrade()),
			Unauthorized, "", "no change ticket covers", []string{"t_patch"}, false},
		{"normal ticket decides first", ticket.Approved, with(item(web01, "file:/etc/nginx/sites-enabled/default", observed), upgrade()),
			Authorized, "t_nginx", "CHG-NGINX is approved", []string{"t_nginx", "t_patch"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := standardEngine(t, tt.state)
			r := e.Evaluate(tt.it)
			if r.Verdict != tt.verdict || r.Ticket != tt.ticket || !strings.Contains(r.Reason, tt.reason) && !matchesSay(r, tt.reason) {
				t.Errorf("got %s by %q: %q (matches %+v); want %s by %q saying %q", r.Verdict, r.Ticket, r.Reason, r.Matches, tt.verdict, tt.ticket, tt.reason)
			}
			if strings.Join(r.Covering, ",") != strings.Join(tt.covering, ",") {
				t.Errorf("covering %v, want %v", r.Covering, tt.covering)
			}
			if got := r.Class == ticket.Standard; got != tt.classIsStd {
				t.Errorf("class %q; standard: %v, want %v", r.Class, got, tt.classIsStd)
			}
			if tt.verdict == Authorized && tt.classIsStd && !strings.HasPrefix(r.Reason, StandardChangePrefix) {
				t.Errorf("reason %q does not start with %q", r.Reason, StandardChangePrefix)
			}
			// EvaluateAll decides the same.
			if all := e.EvaluateAll([]Item{tt.it}); all[0].Verdict != r.Verdict || all[0].Reason != r.Reason {
				t.Errorf("EvaluateAll: %s %q, Evaluate: %s %q", all[0].Verdict, all[0].Reason, r.Verdict, r.Reason)
			}
		})
	}
}

// matchesSay reports whether one of r's matches explains itself with s.
func matchesSay(r Result, s string) bool {
	for _, m := range r.Matches {
		if strings.Contains(m.Reason, s) {
			return true
		}
	}
	return false
}

func TestStandardChangeFrozen(t *testing.T) {
	pol := policy.Default()
	pol.Freezes = []policy.Freeze{{Name: "year end", Window: policy.Window{Start: "2025-03-08T00:00", End: "2025-03-10T00:00", TimeZone: "Europe/Berlin"}, Reason: "closing"}}
	std := tk{id: "t_patch", ref: "CHG-PATCH", state: ticket.Approved, class: ticket.Standard, labels: []string{"role=web"}}.build()
	rule := patchRule
	std.Packages = &rule
	e, err := New("acme", pol, []*ticket.Ticket{std})
	if err != nil {
		t.Fatal(err)
	}
	it := item(web01, "file:/etc/ssl/openssl.cnf", "2025-03-08T22:26:00Z")
	it.Transaction = upgrade()
	if r := e.Evaluate(it); r.Verdict != Frozen {
		t.Errorf("during a freeze: %s %q, want frozen", r.Verdict, r.Reason)
	}
}

func TestTransactionDescribe(t *testing.T) {
	tx := upgrade()
	if got := tx.Describe(); got != "apt-get upgrade -y by alice" {
		t.Errorf("Describe() = %q", got)
	}
	tx.Command, tx.User = "", ""
	if got := tx.Describe(); got != "apt transaction of libssl3, openssl" {
		t.Errorf("Describe() without a command = %q", got)
	}
}

func TestIsStandardChange(t *testing.T) {
	for _, tt := range []struct {
		verdict, reason string
		want            bool
	}{
		{"authorized", "standard change CHG-PATCH: apt-get upgrade -y by alice", true},
		{"authorized", "ticket CHG-PATCH approved: standard change CHG-PATCH: apt-get upgrade -y by alice", true},
		{"authorized", "CHG-1 is approved (approved by a@x) and the change was observed …", false},
		{"unauthorized", "standard change CHG-PATCH: apt-get upgrade -y by alice", false},
	} {
		if got := IsStandardChange(tt.verdict, tt.reason); got != tt.want {
			t.Errorf("IsStandardChange(%q, %q) = %v, want %v", tt.verdict, tt.reason, got, tt.want)
		}
	}
}
