package storetest

import (
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// transactionTests are the conformance tests of this part of the store.
func transactionTests() []test {
	return []test{
		{"TransactionsPutAndFind", testTransactionsPutAndFind},
		{"TransactionsUpdate", testTransactionsUpdate},
		{"TransactionsInvalid", testTransactionsInvalid},
		{"TransactionsTenantIsolation", testTransactionsTenantIsolation},
	}
}

// aptRun is an apt transaction of host h that started at start.
func aptRun(id string, start time.Time, items ...store.TransactionItem) store.PackageTransaction {
	return store.PackageTransaction{
		ID: id, Manager: "apt", Command: "apt-get install -y nginx", User: "alice",
		Started: start, Ended: start.Add(41 * time.Second),
		Packages: []store.PackageChange{
			{Name: "nginx", Arch: "amd64", To: "1.22.1-9", Action: "install"},
			{Name: "openssl", Arch: "amd64", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: "upgrade"},
		},
		Items: items,
	}
}

// storedTx is t as the store gives it back after report seq at at.
func storedTx(h store.Host, t store.PackageTransaction, seq uint64, at time.Time) store.PackageTransaction {
	t.TenantID, t.HostID, t.ReportSeq, t.ReceivedAt = h.TenantID, h.ID, seq, stored(at)
	t.Started, t.Ended = stored(t.Started), stored(t.Ended)
	if t.Packages == nil {
		t.Packages = []store.PackageChange{}
	}
	if len(t.Items) == 0 {
		t.Items = nil
	}
	return t
}

func testTransactionsPutAndFind(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "t1")
	h := enroll(t, s, "t1", "web-01")
	other := enroll(t, s, "t1", "web-02")
	conf := store.TransactionItem{Key: "file:/etc/nginx/nginx.conf", StateDigest: "aaaa"}
	pkg := store.TransactionItem{Key: "package:nginx", StateDigest: "bbbb"}
	first := aptRun("20260301T110000.000000000Z-apt-4101", t0, pkg, conf)
	second := aptRun("20260301T120000.000000000Z-apt-5101", t0.Add(time.Hour), store.TransactionItem{Key: "file:/etc/nginx/nginx.conf", StateDigest: "cccc"})
	second.Ended, second.Packages = time.Time{}, nil // in progress, nothing known yet

	// None is nothing, even for a host that is not there.
	must(t, "put none", s.PutTransactions(ctx, "t1", "nope", 1, t0, nil))
	must(t, "put", s.PutTransactions(ctx, "t1", h.ID, 3, t0, []store.PackageTransaction{first, second}))

	got, err := s.HostTransactions(ctx, "t1", h.ID, time.Time{}, 0)
	must(t, "host transactions", err)
	first.Items = []store.TransactionItem{conf, pkg} // sorted by key
	want := []store.PackageTransaction{storedTx(h, second, 3, t0), storedTx(h, first, 3, t0)}
	diff(t, "host transactions", want, got)
	for _, tx := range got {
		checkUTC(t, "transaction "+tx.ID, tx.Started, tx.Ended, tx.ReceivedAt)
	}
	got, err = s.HostTransactions(ctx, "t1", h.ID, t0.Add(time.Minute), 0)
	must(t, "host transactions since", err)
	diff(t, "host transactions since the second began", want[:1], got)
	got, err = s.HostTransactions(ctx, "t1", h.ID, time.Time{}, 1)
	must(t, "host transactions limited", err)
	diff(t, "newest host transaction", want[:1], got)
	got, err = s.HostTransactions(ctx, "t1", other.ID, time.Time{}, 0)
	must(t, "other host's transactions", err)
	diff(t, "other host's transactions", 0, len(got))

	states := []store.ItemState{
		{HostID: h.ID, Key: conf.Key, StateDigest: conf.StateDigest},
		{HostID: h.ID, Key: pkg.Key, StateDigest: pkg.StateDigest},
		{HostID: h.ID, Key: conf.Key, StateDigest: "cccc"},
		{HostID: h.ID, Key: conf.Key, StateDigest: "dddd"},               // another state: made by hand
		{HostID: other.ID, Key: conf.Key, StateDigest: conf.StateDigest}, // another host
		{HostID: h.ID, Key: "file:/etc/hosts", StateDigest: "aaaa"},
	}
	found, err := s.ItemTransactions(ctx, "t1", states)
	must(t, "item transactions", err)
	wantFound := map[store.ItemState]store.PackageTransaction{states[0]: want[1], states[1]: want[1], states[2]: want[0]}
	diff(t, "item transactions", wantFound, found)
}

func testTransactionsUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "t1")
	h := enroll(t, s, "t1", "web-01")
	conf := store.TransactionItem{Key: "file:/etc/nginx/nginx.conf", StateDigest: "aaaa"}
	pkg := store.TransactionItem{Key: "package:nginx", StateDigest: "bbbb"}
	run := aptRun("tx-1", t0, conf)
	open := run
	open.Ended, open.Packages = time.Time{}, nil
	must(t, "put in progress", s.PutTransactions(ctx, "t1", h.ID, 5, t0, []store.PackageTransaction{open}))

	// The next report knows the end and the packages, and one more item.
	later := run
	later.Items = []store.TransactionItem{pkg}
	must(t, "put ended", s.PutTransactions(ctx, "t1", h.ID, 6, t0.Add(time.Minute), []store.PackageTransaction{later}))
	// An older report arriving late changes nothing but adds its items.
	that := store.TransactionItem{Key: "file:/etc/x", StateDigest: "eeee"}
	stale := open
	stale.Command = "stale"
	stale.Items = []store.TransactionItem{that}
	must(t, "put stale", s.PutTransactions(ctx, "t1", h.ID, 4, t0.Add(2*time.Minute), []store.PackageTransaction{stale}))

	got, err := s.HostTransactions(ctx, "t1", h.ID, time.Time{}, 0)
	must(t, "host transactions", err)
	want := run
	want.Items = []store.TransactionItem{conf, that, pkg}
	diff(t, "transaction after updates", []store.PackageTransaction{storedTx(h, want, 6, t0.Add(time.Minute))}, got)

	// An end once known stays, even when a newer report lacks it.
	again := open
	again.Incomplete = true
	must(t, "put without end", s.PutTransactions(ctx, "t1", h.ID, 7, t0.Add(3*time.Minute), []store.PackageTransaction{again}))
	got, err = s.HostTransactions(ctx, "t1", h.ID, time.Time{}, 0)
	must(t, "host transactions", err)
	if len(got) != 1 || !got[0].Ended.Equal(stored(run.Ended)) || !got[0].Incomplete {
		t.Errorf("after a report without the end: %+v, want the end kept and incomplete set", got)
	}
}

func testTransactionsInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "t1")
	createTenant(t, s, "t2")
	h := enroll(t, s, "t1", "web-01")
	good := aptRun("tx-ok", t0, store.TransactionItem{Key: "file:/etc/a", StateDigest: "aaaa"})
	noID := aptRun("", t0)
	noManager := aptRun("tx-2", t0)
	noManager.Manager = ""
	noStart := aptRun("tx-3", time.Time{})
	backwards := aptRun("tx-4", t0)
	backwards.Ended = t0.Add(-time.Second)
	badItem := aptRun("tx-5", t0, store.TransactionItem{Key: "file:/etc/a"})
	tests := []struct {
		name   string
		tenant string
		host   string
		seq    uint64
		txs    []store.PackageTransaction
		want   error
	}{
		{"no ID", "t1", h.ID, 1, []store.PackageTransaction{good, noID}, store.ErrInvalid},
		{"twice", "t1", h.ID, 1, []store.PackageTransaction{good, good}, store.ErrInvalid},
		{"no manager", "t1", h.ID, 1, []store.PackageTransaction{good, noManager}, store.ErrInvalid},
		{"no start", "t1", h.ID, 1, []store.PackageTransaction{good, noStart}, store.ErrInvalid},
		{"ends before it starts", "t1", h.ID, 1, []store.PackageTransaction{good, backwards}, store.ErrInvalid},
		{"item without state", "t1", h.ID, 1, []store.PackageTransaction{good, badItem}, store.ErrInvalid},
		{"sequence 0", "t1", h.ID, 0, []store.PackageTransaction{good}, store.ErrInvalid},
		{"unknown host", "t1", "host-nope", 1, []store.PackageTransaction{good}, store.ErrNotFound},
		{"another tenant's host", "t2", h.ID, 1, []store.PackageTransaction{good}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutTransactions(ctx, tt.tenant, tt.host, tt.seq, t0, tt.txs)
			wantErr(t, "put", err, tt.want)
		})
	}
	got, err := s.HostTransactions(ctx, "t1", h.ID, time.Time{}, 0)
	must(t, "host transactions", err)
	if len(got) != 0 {
		t.Errorf("refused puts stored %+v", got)
	}
}

func testTransactionsTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "t1")
	createTenant(t, s, "t2")
	h := enroll(t, s, "t1", "web-01")
	item := store.TransactionItem{Key: "file:/etc/a", StateDigest: "aaaa"}
	must(t, "put", s.PutTransactions(ctx, "t1", h.ID, 1, t0, []store.PackageTransaction{aptRun("tx-1", t0, item)}))
	got, err := s.HostTransactions(ctx, "t2", h.ID, time.Time{}, 0)
	must(t, "host transactions of another tenant", err)
	found, err := s.ItemTransactions(ctx, "t2", []store.ItemState{{HostID: h.ID, Key: item.Key, StateDigest: item.StateDigest}})
	must(t, "item transactions of another tenant", err)
	if len(got) != 0 || len(found) != 0 {
		t.Errorf("another tenant sees %+v and %+v", got, found)
	}
}
