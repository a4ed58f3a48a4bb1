package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/pkgtx"
	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// writeTx writes a package transaction record as the hooks do.
func writeTx(t *testing.T, stateDir string, tx pkgtx.Transaction) {
	t.Helper()
	rec := struct {
		pkgtx.Transaction
		Format int `json:"format"`
	}{tx, 1}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(stateDir, pkgtx.Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tx.ID+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileChange(key, content string) baseline.Change {
	return baseline.Change{Key: key, Kind: "file", Change: baseline.Modified,
		New: &baseline.Item{Key: key, Content: baseline.Sum([]byte(content))}}
}

// TestReportTransactions: a report carries the transactions its new
// changes happened in, and only those; a change reported before is not
// attributed again; a report of drift inside a transaction in progress
// waits for its end.
func TestReportTransactions(t *testing.T) {
	state := t.TempDir()
	s := &service{cfg: &config.Agent{StateDir: state}, log: zaptest.NewLogger(t), spool: nil}
	s.openTransactions()
	if s.tx.log == nil {
		t.Fatal("transactions not opened")
	}
	now := time.Now().UTC().Truncate(time.Second)
	install := pkgtx.Transaction{ID: "install", Tool: pkgtx.ToolApt, Command: "apt-get install -y nginx", User: "alice",
		Started: now.Add(-5 * time.Second), Ended: now.Add(-2 * time.Second),
		Packages: []pkgtx.PackageChange{{Name: "nginx", Arch: "amd64", To: "1.22.1-9", Action: pkgtx.ActionInstall}}}
	older := pkgtx.Transaction{ID: "older", Tool: pkgtx.ToolApt, Command: "apt-get upgrade -y", User: "bob",
		Started: now.Add(-2 * time.Hour), Ended: now.Add(-2*time.Hour + time.Minute), Packages: []pkgtx.PackageChange{}}
	writeTx(t, state, older)
	writeTx(t, state, install)

	d := &baseline.Drift{TakenAt: now, Changes: []baseline.Change{fileChange("file:/etc/nginx/nginx.conf", "a")}}
	var rep api.Report
	if !s.attachTransactions(&rep, d) {
		t.Fatal("report held without a transaction in progress")
	}
	want := []api.PackageTransaction{{ID: "install", Manager: "apt", Command: "apt-get install -y nginx", User: "alice",
		Started: install.Started, Ended: install.Ended,
		Packages: []api.PackageChange{{Name: "nginx", Arch: "amd64", To: "1.22.1-9", Action: "install"}}}}
	if diff := cmp.Diff(want, rep.Transactions); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"file:/etc/nginx/nginx.conf": "install"}, rep.ItemTransactions); diff != "" {
		t.Errorf("item transactions (-want +got):\n%s", diff)
	}
	s.reportedTransactions(d)

	// An hour later the file is still drifting, and a hand edit joins it:
	// neither is attributed, nothing is attached.
	later := &baseline.Drift{TakenAt: now.Add(time.Hour), Changes: []baseline.Change{
		fileChange("file:/etc/motd", "hand"), fileChange("file:/etc/nginx/nginx.conf", "a")}}
	rep = api.Report{}
	if !s.attachTransactions(&rep, later) || rep.Transactions != nil || rep.ItemTransactions != nil {
		t.Errorf("later report: transactions %+v, items %v; want none", rep.Transactions, rep.ItemTransactions)
	}
	s.reportedTransactions(later)

	// A change inside a transaction in progress: the report waits, then
	// goes with the ended transaction.
	upgrade := pkgtx.Transaction{ID: "upgrade", Tool: pkgtx.ToolApt, Command: "apt-get upgrade -y", User: "carol",
		Started: now.Add(2 * time.Hour), Packages: []pkgtx.PackageChange{}}
	writeTx(t, state, upgrade)
	during := &baseline.Drift{TakenAt: now.Add(2*time.Hour + time.Second), Changes: []baseline.Change{
		fileChange("file:/etc/motd", "hand"), fileChange("file:/etc/nginx/nginx.conf", "b")}}
	rep = api.Report{}
	if s.attachTransactions(&rep, during) {
		t.Fatalf("report not held during a transaction in progress: %+v", rep.Transactions)
	}
	select {
	case <-s.tx.ended:
	case <-time.After(time.Minute):
		t.Fatal("no poll for the transaction's end")
	}
	upgrade.Ended = now.Add(2*time.Hour + 30*time.Second)
	upgrade.Packages = []pkgtx.PackageChange{{Name: "nginx", From: "1.22.1-9", To: "1.22.1-10", Action: pkgtx.ActionUpgrade}}
	writeTx(t, state, upgrade)
	if !s.attachTransactions(&rep, during) {
		t.Fatal("report still held after the transaction ended")
	}
	if len(rep.Transactions) != 1 || rep.Transactions[0].ID != "upgrade" || rep.Transactions[0].Ended.IsZero() {
		t.Errorf("transactions %+v, want the ended upgrade alone", rep.Transactions)
	}
	if diff := cmp.Diff(map[string]string{"file:/etc/nginx/nginx.conf": "upgrade"}, rep.ItemTransactions); diff != "" {
		t.Errorf("item transactions (-want +got):\n%s", diff)
	}
}
