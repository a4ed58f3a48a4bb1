package changes

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// fixture is a tenant with one host whose baseline v1 has three items,
// over a real SQLite store, with a clock the test moves.
type fixture struct {
	t    *testing.T
	st   store.Store
	m    *Manager
	now  time.Time
	host store.Host
	base *baseline.Snapshot
}

func item(key string, attrs map[string]string) baseline.Item {
	return baseline.Item{Key: key, Source: "files.etc", Attrs: baseline.AttrsFromMap(attrs)}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	f.m = &Manager{Store: st, Now: func() time.Time { return f.now }}
	if _, err := st.CreateTenant(ctx, "tn_acme", "acme", f.now); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, store.Token{ID: "t1", TenantID: "tn_acme", Hash: "tokhash", UsesLeft: 1, CreatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	f.host, err = st.Enroll(ctx, store.Enrollment{TokenHash: "tokhash", Name: "web-01", Labels: map[string]string{"role": "web"},
		CredentialHash: "cred", NewHostID: "h_web01", At: f.now})
	if err != nil {
		t.Fatal(err)
	}
	f.base = &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "web-01"}, TakenAt: f.now, Items: []baseline.Item{
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "aa"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "bb"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}),
	}}
	enc, err := f.base.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	meta := baseline.Meta{Host: "web-01", Version: 1, SnapshotDigest: f.base.Digest(), Items: 3, ApprovedBy: "ops", ApprovedAt: f.now, Reason: "initial"}
	if err := st.AddBaseline(ctx, store.Baseline{TenantID: "tn_acme", HostID: "h_web01", Meta: meta, Snapshot: enc}); err != nil {
		t.Fatal(err)
	}
	return f
}

// report applies the drift of a host state to the drift items.
func (f *fixture) report(seq uint64, items ...baseline.Item) store.ApplyResult {
	f.t.Helper()
	cur := &baseline.Snapshot{Format: baseline.FormatVersion, Host: f.base.Host, TakenAt: f.now, Items: items}
	cur.Sort()
	d := baseline.Diff(f.currentBaseline(), cur, baseline.DiffOptions{})
	return f.ingest(seq, d)
}

// ingest stores report seq of the host, received now, with drift d and
// package transactions txs, as the server does, and returns what applying
// its drift did.
func (f *fixture) ingest(seq uint64, d *baseline.Drift, txs ...store.PackageTransaction) store.ApplyResult {
	f.t.Helper()
	r := store.Report{TenantID: f.host.TenantID, HostID: f.host.ID, Sequence: seq, ReceivedAt: f.now, TakenAt: f.now,
		SnapshotDigest: baseline.Sum(fmt.Appendf(nil, "snapshot %d", seq)), AgentVersion: "test"}
	if d != nil {
		raw, err := json.Marshal(d)
		if err != nil {
			f.t.Fatal(err)
		}
		r.Drift, r.Changes = raw, len(d.Changes)
	}
	res, err := f.m.Ingest(context.Background(), f.host, r, nil, d, txs...)
	if err != nil {
		f.t.Fatalf("ingest report %d: %v", seq, err)
	}
	if res.Duplicate {
		f.t.Fatalf("report %d taken for a duplicate", seq)
	}
	return res.Drift
}

func (f *fixture) currentBaseline() *baseline.Snapshot {
	f.t.Helper()
	b, err := f.st.Baseline(context.Background(), "tn_acme", "h_web01", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := baseline.Unmarshal(b.Snapshot)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) items() map[string]store.DriftItem {
	f.t.Helper()
	page, _, err := f.st.DriftItems(context.Background(), "tn_acme", store.DriftFilter{Limit: 100})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]store.DriftItem{}
	for _, di := range page {
		if di.Current || out[di.Key].ID == "" {
			out[di.Key] = di
		}
	}
	return out
}

var (
	alice = ticket.Actor{ID: "u_a", Email: "alice@msp.test", Role: ticket.RoleEngineer}
	bob   = ticket.Actor{ID: "u_b", Email: "bob@msp.test", Role: ticket.RoleEngineer}
	carol = ticket.Actor{ID: "u_c", Email: "carol@msp.test", Role: ticket.RoleApprover}
)

// motdTicket raises a ticket for /etc/motd on web-01 with a window around
// the fixture's clock.
func (f *fixture) motdTicket(ref string) *ticket.Ticket {
	f.t.Helper()
	spec := ticket.Spec{Reference: ref, Title: "new motd", Description: "maintenance notice", Impact: "none", RollbackPlan: "restore from baseline",
		Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/motd"}},
		Window: &policy.Window{Start: f.now.Add(-time.Hour).Format("2006-01-02T15:04"), End: f.now.Add(2 * time.Hour).Format("2006-01-02T15:04"), TimeZone: "UTC"}}
	tk, err := f.m.CreateTicket(context.Background(), "tn_acme", spec, alice)
	if err != nil {
		f.t.Fatal(err)
	}
	return tk
}

func (f *fixture) act(ref string, a ticket.Action, by ticket.Actor) *ticket.Ticket {
	f.t.Helper()
	tk, err := f.m.Act(context.Background(), "tn_acme", ref, a, by, string(a)+" by "+by.Email)
	if err != nil {
		f.t.Fatalf("%s %s by %s: %v", ref, a, by.Email, err)
	}
	return tk
}

// A ticket approved after the drift was reported turns the verdict from
// unapproved to authorized, and the item's history says so.
func TestLateApprovalReevaluates(t *testing.T) {
	f := newFixture(t)
	f.motdTicket("CHG-1")
	f.act("CHG-1", ticket.ActionSubmit, alice)
	f.report(1,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "cc"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "bb"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}))
	it := f.items()["file:/etc/motd"]
	if it.Verdict != store.VerdictUnapprovedTicket {
		t.Fatalf("before approval: %s (%s)", it.Verdict, it.VerdictReason)
	}
	f.now = f.now.Add(10 * time.Minute)
	f.act("CHG-1", ticket.ActionReview, bob)
	f.act("CHG-1", ticket.ActionApprove, carol)
	it = f.items()["file:/etc/motd"]
	if it.Verdict != store.VerdictAuthorized || it.Level != 1 {
		t.Fatalf("after approval: %s level %d (%s)", it.Verdict, it.Level, it.VerdictReason)
	}
	hist, err := f.st.DriftHistory(context.Background(), "tn_acme", it.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.Event != store.DriftEventVerdict || last.FromVerdict != store.VerdictUnapprovedTicket || last.ToVerdict != store.VerdictAuthorized {
		t.Errorf("last history event = %+v", last)
	}
}

// An implemented ticket promotes the drift it authorizes into the next
// baseline version, which names the ticket; unauthorized drift stays out
// of it and open.
func TestImplementedTicketPromotes(t *testing.T) {
	f := newFixture(t)
	f.motdTicket("CHG-2")
	for _, step := range []struct {
		a  ticket.Action
		by ticket.Actor
	}{{ticket.ActionSubmit, alice}, {ticket.ActionReview, bob}, {ticket.ActionApprove, carol}} {
		f.act("CHG-2", step.a, step.by)
	}
	f.report(1,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "cc"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0600", "sha256": "bb"}),
		item("file:/etc/issue", map[string]string{"mode": "0644"}))
	items := f.items()
	if items["file:/etc/ssh/sshd_config"].Verdict != store.VerdictUnauthorized || items["file:/etc/ssh/sshd_config"].Level != 3 {
		t.Errorf("sshd_config: %+v", items["file:/etc/ssh/sshd_config"])
	}
	if items["package:openssl"].Verdict != store.VerdictUnauthorized || items["package:openssl"].Level != 2 {
		t.Errorf("removed openssl: %+v", items["package:openssl"])
	}
	f.act("CHG-2", ticket.ActionStart, bob)
	tk := f.act("CHG-2", ticket.ActionComplete, bob)
	if tk.State != ticket.Implemented {
		t.Fatalf("state %s", tk.State)
	}
	metas, err := f.st.Baselines(context.Background(), "tn_acme", "h_web01")
	if err != nil {
		t.Fatal(err)
	}
	v2 := metas[len(metas)-1]
	if v2.Version != 2 || !slices.Equal(v2.Tickets, []string{"CHG-2"}) || v2.ApprovedBy != "bob@msp.test" {
		t.Fatalf("baseline v2 = %+v", v2)
	}
	b := f.currentBaseline()
	got := map[string]string{}
	for _, it := range b.Items {
		var parts []string
		for _, a := range it.Attrs {
			parts = append(parts, a.Name+"="+a.Value)
		}
		got[it.Key] = strings.Join(parts, " ")
	}
	if len(got) != 3 || got["file:/etc/motd"] != "mode=0644 sha256=cc" || got["file:/etc/ssh/sshd_config"] != "mode=0644 sha256=bb" || got["package:openssl"] == "" {
		t.Errorf("baseline v2 items = %v; want motd promoted, the rest as in v1", got)
	}
	items = f.items()
	if items["file:/etc/motd"].Status != store.DriftPromoted || items["file:/etc/ssh/sshd_config"].Status != store.DriftOpen {
		t.Errorf("statuses: motd %s, sshd_config %s", items["file:/etc/motd"].Status, items["file:/etc/ssh/sshd_config"].Status)
	}
	// The audit log has the transitions, the approval and the baseline.
	es, err := f.st.AuditEntries(context.Background(), "tn_acme", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"ticket.create", "ticket.approve", "baseline.add", "drift.promote"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit actions %v lack %s", actions, want)
		}
	}
	if res, err := store.VerifyAudit(context.Background(), f.st, "tn_acme"); err != nil || res.Break != nil {
		t.Errorf("audit chain: %+v, %v", res, err)
	}
}

// Accepting drift makes it the next baseline with the reason and the
// ticket named afterwards; a revert on the host closes an item by itself.
func TestAcceptAndRevert(t *testing.T) {
	f := newFixture(t)
	f.report(1,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "cc"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0600", "sha256": "bb"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}))
	items := f.items()
	if _, err := f.m.Accept(context.Background(), "tn_acme", []string{items["file:/etc/motd"].ID}, "carol@msp.test", "", ""); err == nil {
		t.Error("accept without a reason succeeded")
	}
	ps, err := f.m.Accept(context.Background(), "tn_acme", []string{items["file:/etc/motd"].ID}, "carol@msp.test", "emergency notice", "INC-7")
	if err != nil || len(ps) != 1 || ps[0].Version != 2 {
		t.Fatalf("accept: %+v, %v", ps, err)
	}
	metas, _ := f.st.Baselines(context.Background(), "tn_acme", "h_web01")
	if v2 := metas[len(metas)-1]; v2.Reason != "accepted: emergency notice" || !slices.Equal(v2.Tickets, []string{"INC-7"}) {
		t.Errorf("v2 = %+v", v2)
	}
	// Accepting it again is refused: it is promoted.
	if _, err := f.m.Accept(context.Background(), "tn_acme", []string{items["file:/etc/motd"].ID}, "carol@msp.test", "again", ""); err == nil {
		t.Error("second accept succeeded")
	}
	// sshd_config is put back on the host: the item closes as reverted.
	f.now = f.now.Add(time.Minute)
	f.report(2,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "cc"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "bb"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}))
	page, _, err := f.st.DriftItems(context.Background(), "tn_acme", store.DriftFilter{Key: "file:/etc/ssh/sshd_config", Limit: 10})
	if err != nil || len(page) != 1 || page[0].Status != store.DriftReverted {
		t.Errorf("sshd_config after the revert: %+v, %v", page, err)
	}
	var c baseline.Change
	if err := json.Unmarshal(page[0].ChangeDoc, &c); err != nil || c.Key != "file:/etc/ssh/sshd_config" {
		t.Errorf("change doc: %v %+v", err, c)
	}
}

// With auto-promotion, the authorized drift of an approved ticket becomes
// the baseline once its window (and the grace) has closed, not before.
func TestAutoPromote(t *testing.T) {
	f := newFixture(t)
	f.motdTicket("CHG-3")
	for _, step := range []struct {
		a  ticket.Action
		by ticket.Actor
	}{{ticket.ActionSubmit, alice}, {ticket.ActionReview, bob}, {ticket.ActionApprove, carol}} {
		f.act("CHG-3", step.a, step.by)
	}
	f.report(1,
		item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "cc"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "bb"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}))
	if ps, err := f.m.AutoPromote(context.Background(), "tn_acme"); err != nil || len(ps) != 0 {
		t.Fatalf("inside the window: %+v, %v", ps, err)
	}
	// The window ends two hours after the fixture's clock; the default
	// grace is 30 minutes.
	f.now = f.now.Add(2*time.Hour + 20*time.Minute)
	if ps, _ := f.m.AutoPromote(context.Background(), "tn_acme"); len(ps) != 0 {
		t.Fatalf("inside the grace: %+v", ps)
	}
	f.now = f.now.Add(20 * time.Minute)
	ps, err := f.m.AutoPromote(context.Background(), "tn_acme")
	if err != nil || len(ps) != 1 || ps[0].Version != 2 {
		t.Fatalf("after the window: %+v, %v", ps, err)
	}
	if again, err := f.m.AutoPromote(context.Background(), "tn_acme"); err != nil || len(again) != 0 {
		t.Errorf("second run: %+v, %v", again, err)
	}
	metas, _ := f.st.Baselines(context.Background(), "tn_acme", "h_web01")
	if v2 := metas[len(metas)-1]; v2.ApprovedBy != autoPromoteBy || !slices.Equal(v2.Tickets, []string{"CHG-3"}) {
		t.Errorf("v2 = %+v", v2)
	}
	// Off in the policy: nothing is promoted.
	g := newFixture(t)
	pol := policy.Default()
	pol.AutoPromote = false
	if _, err := g.m.SetPolicy(context.Background(), "tn_acme", pol, 0, "admin@msp.test"); err != nil {
		t.Fatal(err)
	}
	g.motdTicket("CHG-4")
	g.act("CHG-4", ticket.ActionSubmit, alice)
	g.act("CHG-4", ticket.ActionReview, bob)
	g.act("CHG-4", ticket.ActionApprove, carol)
	g.report(1, item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": "cc"}),
		item("file:/etc/ssh/sshd_config", map[string]string{"mode": "0644", "sha256": "bb"}),
		item("package:openssl", map[string]string{"version": "3.0.1"}))
	g.now = g.now.Add(24 * time.Hour)
	if ps, err := g.m.AutoPromote(context.Background(), "tn_acme"); err != nil || len(ps) != 0 {
		t.Errorf("auto-promotion off: %+v, %v", ps, err)
	}
}

// A customer's change under a policy that wants the customer's approval
// waits in reviewed after the MSP's approval and is approved by the
// customer's.
func TestCustomerApproval(t *testing.T) {
	f := newFixture(t)
	customer := ticket.Actor{ID: "u_cust", Email: "cio@acme.test", Role: ticket.RoleApprover, TenantID: "tn_acme"}
	requester := ticket.Actor{ID: "u_req", Email: "ops@acme.test", Role: ticket.RoleEngineer, TenantID: "tn_acme"}
	spec := ticket.Spec{Reference: "CHG-C", Title: "customer change", Description: "d", Impact: "i", RollbackPlan: "r",
		Scope:  ticket.Scope{Hosts: []string{"web-01"}, Items: []string{"file:/etc/motd"}},
		Window: &policy.Window{Start: f.now.Format("2006-01-02T15:04"), End: f.now.Add(time.Hour).Format("2006-01-02T15:04"), TimeZone: "UTC"}}
	if _, err := f.m.CreateTicket(context.Background(), "tn_acme", spec, requester); err != nil {
		t.Fatal(err)
	}
	f.act("CHG-C", ticket.ActionSubmit, requester)
	f.act("CHG-C", ticket.ActionReview, bob)
	tk := f.act("CHG-C", ticket.ActionApprove, carol)
	if tk.State != ticket.Reviewed || len(tk.PendingApproval) == 0 {
		t.Fatalf("after the MSP's approval: %s, pending %v", tk.State, tk.PendingApproval)
	}
	if tk = f.act("CHG-C", ticket.ActionApprove, customer); tk.State != ticket.Approved {
		t.Fatalf("after the customer's approval: %s", tk.State)
	}
	trs, err := f.st.TicketTransitions(context.Background(), "tn_acme", tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := trs[len(trs)-1]; last.From != "reviewed" || last.To != "approved" || last.Actor != "cio@acme.test" {
		t.Errorf("last transition = %+v", last)
	}
}
