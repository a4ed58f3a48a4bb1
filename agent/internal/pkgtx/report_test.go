package pkgtx

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

func change(key, content string) baseline.Change {
	return baseline.Change{Key: key, Change: baseline.Modified, New: &baseline.Item{Key: key, Content: baseline.Sum([]byte(content))}}
}

// TestPkgtxSeen: a change is pending with the time its state was first
// seen until a report carried it; a new state of the same item is pending
// again, from when it was seen.
func TestPkgtxSeen(t *testing.T) {
	t0 := time.Date(2025, 1, 14, 2, 15, 0, 0, time.UTC)
	var s Seen
	d1 := &baseline.Drift{Changes: []baseline.Change{change("file:/a", "1"), change("file:/b", "1")}}
	want := []ItemChange{{"file:/a", t0}, {"file:/b", t0}}
	if diff := cmp.Diff(want, s.Pending(d1, t0)); diff != "" {
		t.Errorf("first (-want +got):\n%s", diff)
	}
	// Not reported yet (held): still pending, from when first seen.
	if diff := cmp.Diff(want, s.Pending(d1, t0.Add(time.Minute))); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	s.Reported([]string{"file:/a", "file:/b"})
	d2 := &baseline.Drift{Changes: []baseline.Change{change("file:/a", "1"), change("file:/b", "2"), change("file:/c", "1")}}
	want = []ItemChange{{"file:/b", t0.Add(time.Hour)}, {"file:/c", t0.Add(time.Hour)}}
	if diff := cmp.Diff(want, s.Pending(d2, t0.Add(time.Hour))); diff != "" {
		t.Errorf("second (-want +got):\n%s", diff)
	}
	// A removed drift is forgotten: when it comes back it is new.
	s.Reported([]string{"file:/a", "file:/b", "file:/c"})
	s.Pending(&baseline.Drift{}, t0.Add(2*time.Hour))
	want = []ItemChange{{"file:/a", t0.Add(3 * time.Hour)}}
	if diff := cmp.Diff(want, s.Pending(&baseline.Drift{Changes: []baseline.Change{change("file:/a", "1")}}, t0.Add(3*time.Hour))); diff != "" {
		t.Errorf("back again (-want +got):\n%s", diff)
	}
}

// TestPkgtxForReport: only the transactions that explain the items are
// attached, each once; an item inside a transaction in progress holds
// the report.
func TestPkgtxForReport(t *testing.T) {
	t0 := time.Date(2025, 1, 14, 2, 15, 0, 0, time.UTC)
	log, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log.alive = func(pid int, _ uint64) bool { return pid == 300 }
	log.Now = func() time.Time { return t0.Add(2*time.Hour + time.Minute) }
	for _, r := range []*record{
		{Transaction: Transaction{ID: "a-patch", Tool: ToolApt, Command: "apt-get upgrade -y", User: "alice",
			Started: t0, Ended: t0.Add(40 * time.Second),
			Packages: []PackageChange{{Name: "openssl", Arch: "amd64", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: ActionUpgrade}}}},
		{Transaction: Transaction{ID: "b-unrelated", Tool: ToolDnf, Started: t0.Add(time.Hour), Ended: t0.Add(time.Hour + time.Second), Packages: []PackageChange{}}},
		{Transaction: Transaction{ID: "c-running", Tool: ToolApt, Started: t0.Add(2 * time.Hour), Packages: []PackageChange{}}, PID: 300},
	} {
		r.Format = recordFormat
		if err := writeRecord(log.Dir(), r); err != nil {
			t.Fatal(err)
		}
	}
	txs, byKey, hold, err := ForReport(log, []ItemChange{
		{"file:/etc/ssl/openssl.cnf", t0.Add(10 * time.Second)},
		{"package:openssl", t0.Add(30 * time.Minute)},
		{"file:/etc/hosts", t0.Add(30 * time.Minute)},
	})
	if err != nil || hold {
		t.Fatalf("hold %v, err %v", hold, err)
	}
	want := []api.PackageTransaction{{ID: "a-patch", Manager: "apt", Command: "apt-get upgrade -y", User: "alice",
		Started: t0, Ended: t0.Add(40 * time.Second),
		Packages: []api.PackageChange{{Name: "openssl", Arch: "amd64", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: "upgrade"}}}}
	if diff := cmp.Diff(want, txs); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"file:/etc/ssl/openssl.cnf": "a-patch", "package:openssl": "a-patch"}, byKey); diff != "" {
		t.Errorf("by key (-want +got):\n%s", diff)
	}

	txs, byKey, hold, err = ForReport(log, []ItemChange{{"file:/etc/apt/sources.list", t0.Add(2*time.Hour + time.Second)}})
	if err != nil || !hold || len(txs) != 1 || byKey["file:/etc/apt/sources.list"] != "c-running" {
		t.Errorf("in progress: txs %+v, by key %v, hold %v, err %v; want c-running, held", txs, byKey, hold, err)
	}
	if txs, byKey, hold, err := ForReport(log, nil); txs != nil || byKey != nil || hold || err != nil {
		t.Errorf("no items: %v %v %v %v", txs, byKey, hold, err)
	}
}
