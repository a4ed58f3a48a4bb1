package server

import (
	"context"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// TestReportTransactions: a report's package transactions are stored with
// the states of the changes they caused; a report naming a transaction it
// does not carry, or a change it does not have, is refused whole.
func TestReportTransactions(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	first, second, blob := snapshots("web01")
	if _, err := agent.PostReport(ctx, firstReport(t, agent, first, blob)); err != nil {
		t.Fatal(err)
	}
	tx := api.PackageTransaction{ID: "20261101T010000.000000000Z-apt-4101", Manager: api.ManagerApt, Command: "apt-get install -y issue",
		User: "alice", Started: t0.Add(59 * time.Minute), Ended: t0.Add(59*time.Minute + 20*time.Second),
		Packages: []api.PackageChange{{Name: "issue", Arch: "all", To: "1.0", Action: "install"}}}

	tests := []struct {
		name  string
		edit  func(*api.Report)
		field string
	}{
		{"unknown transaction", func(r *api.Report) { r.ItemTransactions = map[string]string{"file:/etc/issue": "nope"} }, "report.item_transactions"},
		{"no such change", func(r *api.Report) { r.ItemTransactions = map[string]string{"file:/etc/passwd": tx.ID} }, "report.item_transactions"},
		{"unknown manager", func(r *api.Report) { r.Transactions[0].Manager = "pacman" }, "report.transactions[0].manager"},
		{"listed twice", func(r *api.Report) { r.Transactions = append(r.Transactions, tx) }, "report.transactions[1].id"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := driftReport(uint64(10+i), first, second)
			rep.Transactions = []api.PackageTransaction{tx}
			rep.ItemTransactions = map[string]string{"file:/etc/issue": tx.ID}
			tt.edit(&rep)
			_, err := agent.PostReport(ctx, rep)
			status, ae := statusOf(err)
			if status != 400 || ae.Field != tt.field {
				t.Errorf("answer %d %+v, want 400 naming %s", status, ae, tt.field)
			}
		})
	}
	if n := e.reportCount(ta.ID, enr.HostID); n != 1 {
		t.Errorf("refused reports stored: %d reports, want 1", n)
	}

	rep := driftReport(2, first, second)
	rep.Transactions = []api.PackageTransaction{tx}
	rep.ItemTransactions = map[string]string{"file:/etc/issue": tx.ID}
	if _, err := agent.PostReport(ctx, rep); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.HostTransactions(ctx, ta.ID, enr.HostID, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != tx.ID || got[0].User != "alice" || got[0].ReportSeq != 2 || len(got[0].Items) != 1 ||
		got[0].Items[0].Key != "file:/etc/issue" || got[0].Items[0].StateDigest == "" {
		t.Errorf("stored transactions %+v, want the install with the state of file:/etc/issue", got)
	}
}
