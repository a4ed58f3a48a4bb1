package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

func testIngest(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")

	_, err := s.LatestReport(ctx, "a", h.ID)
	wantErr(t, "latest report before any", err, store.ErrNotFound)
	n, err := s.ReportCount(ctx, "a", h.ID)
	must(t, "report count before any", err)
	if n != 0 {
		t.Errorf("report count before any = %d", n)
	}

	r := report(h, 1, t0.Add(time.Minute))
	r.AgentVersion = "1.1.0"
	res, err := s.IngestReport(ctx, r, nil)
	must(t, "ingest", err)
	diff(t, "ingest result", store.IngestResult{}, res)

	got, err := s.LatestReport(ctx, "a", h.ID)
	must(t, "latest report", err)
	diff(t, "latest report (JSON kept as sent)", storedReport(r), got)
	checkUTC(t, "latest report", got.ReceivedAt, got.TakenAt)
	got, err = s.ReportBySnapshot(ctx, "a", h.ID, r.SnapshotDigest)
	must(t, "report by snapshot", err)
	diff(t, "report by snapshot", storedReport(r), got)
	_, err = s.ReportBySnapshot(ctx, "a", h.ID, baseline.Sum([]byte("other")))
	wantErr(t, "report of a snapshot never reported", err, store.ErrNotFound)
	n, err = s.ReportCount(ctx, "a", h.ID)
	must(t, "report count", err)
	if n != 1 {
		t.Errorf("report count = %d, want 1", n)
	}
	want := h
	want.LastSeen, want.OpenDrift, want.AgentVersion = stored(r.ReceivedAt), r.Changes, "1.1.0"
	diff(t, "host after a report", want, hostNow(t, s, h))

	// A report without sources or drift (nil or empty, read back as nil),
	// with sequence 0 and the largest.
	for _, seq := range []uint64{0, math.MaxInt64} {
		bare := report(h, seq, t0.Add(2*time.Minute))
		bare.Sources, bare.Drift = nil, []byte{}
		_, err = s.IngestReport(ctx, bare, nil)
		must(t, fmt.Sprintf("ingest report %d", seq), err)
		got, err = s.ReportBySnapshot(ctx, "a", h.ID, bare.SnapshotDigest)
		must(t, "report by snapshot", err)
		want := storedReport(bare)
		want.Drift = nil
		diff(t, fmt.Sprintf("report %d without JSON", seq), want, got)
	}
	_, err = s.IngestReport(ctx, report(h, math.MaxInt64+1, t0), nil)
	if err == nil {
		t.Errorf("ingest of sequence 2^63: no error")
	}

	// Unknown hosts.
	for _, r := range []store.Report{
		{TenantID: "a", HostID: "no-such-host", Sequence: 1, ReceivedAt: t0},
		{TenantID: "nobody", HostID: h.ID, Sequence: 9, ReceivedAt: t0},
	} {
		_, err := s.IngestReport(ctx, r, nil)
		wantErr(t, fmt.Sprintf("ingest for host %s of tenant %s", r.HostID, r.TenantID), err, store.ErrNotFound)
	}
	for _, f := range []func() error{
		func() error { _, err := s.LatestReport(ctx, "a", "no-such-host"); return err },
		func() error { _, err := s.ReportCount(ctx, "a", "no-such-host"); return err },
		func() error { _, err := s.ReportBySnapshot(ctx, "a", "no-such-host", r.SnapshotDigest); return err },
	} {
		wantErr(t, "report of an unknown host", f(), store.ErrNotFound)
	}
}

func testIngestDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	r := report(h, 5, t0.Add(time.Minute))
	_, err := s.IngestReport(ctx, r, nil)
	must(t, "ingest", err)
	must(t, "add baseline", s.AddBaseline(ctx, newBaseline(h, 1)))
	before := hostNow(t, s, h)

	// The same sequence again, later and with other content: acknowledged,
	// nothing changed, and its initial baseline ignored.
	again := report(h, 5, t0.Add(time.Hour))
	again.Changes, again.AgentVersion, again.Drift = 99, "9.9.9", []byte(`{"other":true}`)
	init := newBaseline(h, 1)
	res, err := s.IngestReport(ctx, again, &init)
	must(t, "ingest the same sequence again", err)
	diff(t, "ingest result", store.IngestResult{Duplicate: true, BaselineVersion: 1, BaselineDigest: init.Meta.SnapshotDigest}, res)
	got, err := s.LatestReport(ctx, "a", h.ID)
	must(t, "latest report", err)
	diff(t, "stored report after a duplicate", storedReport(r), got)
	diff(t, "host after a duplicate", before, hostNow(t, s, h))
	if n, err := s.ReportCount(ctx, "a", h.ID); err != nil || n != 1 {
		t.Errorf("report count after a duplicate = %d, %v; want 1", n, err)
	}

	// A duplicate of a host without baseline stores no initial baseline.
	h2 := enroll(t, s, "a", "web2")
	_, err = s.IngestReport(ctx, report(h2, 1, t0), nil)
	must(t, "ingest", err)
	init2 := newBaseline(h2, 1)
	res, err = s.IngestReport(ctx, report(h2, 1, t0), &init2)
	must(t, "ingest a duplicate with an initial baseline", err)
	diff(t, "ingest result", store.IngestResult{Duplicate: true}, res)
	_, err = s.Baseline(ctx, "a", h2.ID, 0)
	wantErr(t, "baseline after a duplicate with an initial baseline", err, store.ErrNotFound)
}

func testIngestOutOfOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	// Sent 1, 5, 3, received in that order; 1 and 5 are of one snapshot.
	r1 := report(h, 1, t0.Add(1*time.Minute))
	r5 := report(h, 5, t0.Add(2*time.Minute))
	r5.SnapshotDigest, r5.AgentVersion = r1.SnapshotDigest, "1.5.0"
	r3 := report(h, 3, t0.Add(3*time.Minute))
	r3.AgentVersion = "1.3.0"
	for _, r := range []store.Report{r1, r5, r3} {
		res, err := s.IngestReport(ctx, r, nil)
		must(t, fmt.Sprintf("ingest %d", r.Sequence), err)
		if res.Duplicate {
			t.Errorf("report %d taken for a duplicate", r.Sequence)
		}
	}
	got, err := s.LatestReport(ctx, "a", h.ID)
	must(t, "latest report", err)
	diff(t, "latest report is the highest sequence", storedReport(r5), got)
	got, err = s.ReportBySnapshot(ctx, "a", h.ID, r1.SnapshotDigest)
	must(t, "report by snapshot", err)
	diff(t, "report of a snapshot reported twice is the higher sequence", storedReport(r5), got)
	got, err = s.ReportBySnapshot(ctx, "a", h.ID, r3.SnapshotDigest)
	must(t, "report by snapshot", err)
	diff(t, "report by snapshot", storedReport(r3), got)
	if n, err := s.ReportCount(ctx, "a", h.ID); err != nil || n != 3 {
		t.Errorf("report count = %d, %v; want 3", n, err)
	}
	want := h
	want.LastSeen, want.OpenDrift, want.AgentVersion = stored(r3.ReceivedAt), r5.Changes, "1.5.0"
	diff(t, "host: last seen at the latest arrival, drift and version of the highest sequence", want, hostNow(t, s, h))

	// An older report arriving with an older receipt time moves nothing.
	r2 := report(h, 2, t0)
	_, err = s.IngestReport(ctx, r2, nil)
	must(t, "ingest 2", err)
	diff(t, "host after a late, old report", want, hostNow(t, s, h))
}

func testIngestInitialBaseline(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	init := newBaseline(h, 1)
	init.Meta.Reviewed, init.Meta.Tickets, init.Meta.ApprovedBy = false, nil, "driftwatch"
	init.TenantID, init.HostID = "", "" // taken from the report
	res, err := s.IngestReport(ctx, report(h, 1, t0), &init)
	must(t, "ingest with an initial baseline", err)
	diff(t, "ingest result", store.IngestResult{BaselineVersion: 1, BaselineDigest: init.Meta.SnapshotDigest}, res)
	wantB := init
	wantB.TenantID, wantB.HostID = "a", h.ID
	got, err := s.Baseline(ctx, "a", h.ID, 0)
	must(t, "baseline", err)
	diff(t, "initial baseline", storedBaseline(wantB), got)
	checkUTC(t, "initial baseline", got.Meta.ApprovedAt)
	if hh := hostNow(t, s, h); hh.BaselineVersion != 1 {
		t.Errorf("host's baseline version = %d, want 1", hh.BaselineVersion)
	}

	// A host with a baseline keeps it: a later initial baseline is ignored.
	other := newBaseline(h, 1)
	other.Meta.Reason = "should not replace v1"
	res, err = s.IngestReport(ctx, report(h, 2, t0.Add(time.Minute)), &other)
	must(t, "ingest with an initial baseline", err)
	diff(t, "ingest result", store.IngestResult{BaselineVersion: 1, BaselineDigest: init.Meta.SnapshotDigest}, res)
	ms, err := s.Baselines(ctx, "a", h.ID)
	must(t, "baselines", err)
	diff(t, "baselines after a second initial baseline", []baseline.Meta{storedMeta(init.Meta)}, ms)

	// A host at v2 is reported at v2.
	must(t, "add baseline", s.AddBaseline(ctx, newBaseline(h, 2)))
	res, err = s.IngestReport(ctx, report(h, 3, t0.Add(2*time.Minute)), &other)
	must(t, "ingest", err)
	diff(t, "ingest result", store.IngestResult{BaselineVersion: 2, BaselineDigest: newBaseline(h, 2).Meta.SnapshotDigest}, res)

	// An initial baseline of another host is refused, and nothing stored.
	h2 := enroll(t, s, "a", "web2")
	wrong := newBaseline(h, 1)
	_, err = s.IngestReport(ctx, report(h2, 1, t0), &wrong)
	if err == nil {
		t.Errorf("ingest with another host's initial baseline: no error")
	}
	if n, err := s.ReportCount(ctx, "a", h2.ID); err != nil || n != 0 {
		t.Errorf("report count after a refused ingest = %d, %v; want 0", n, err)
	}
}

// testIngestAtomic checks that an ingest that fails inside its
// transaction stores nothing.
func testIngestAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	before := hostNow(t, s, h)
	r := report(h, 1, t0.Add(time.Minute))
	bad := newBaseline(h, 2)
	_, err := s.IngestReport(ctx, r, &bad)
	wantErr(t, "ingest with an initial baseline v2", err, store.ErrConflict)
	checkNothingStored(t, s, h, before)

	// The same report with a good initial baseline is not a duplicate.
	good := newBaseline(h, 1)
	res, err := s.IngestReport(ctx, r, &good)
	must(t, "ingest with an initial baseline v1", err)
	diff(t, "ingest result", store.IngestResult{BaselineVersion: 1, BaselineDigest: good.Meta.SnapshotDigest}, res)

	// A context cancelled before the ingest starts.
	h2 := enroll(t, s, "a", "web2")
	before2 := hostNow(t, s, h2)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	init := newBaseline(h2, 1)
	_, err = s.IngestReport(cctx, report(h2, 1, t0), &init)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ingest with a cancelled context: error %v, want context.Canceled", err)
	}
	checkNothingStored(t, s, h2, before2)
}

// testIngestDrift: a report ingested with its drift applies it in the
// same transaction: once, and not at all when either part fails.
func testIngestDrift(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	ids := &idGen{prefix: "item"}
	withDrift := func(r store.Report, obs ...store.DriftObservation) store.Report {
		for i := range obs {
			if obs[i].NewID == "" {
				obs[i].NewID = ids.next()
			}
		}
		r.ApplyDrift, r.Observations = true, obs
		return r
	}
	items := func() []string {
		t.Helper()
		its, _, err := s.DriftItems(ctx, "a", store.DriftFilter{})
		must(t, "drift items", err)
		var out []string
		for _, it := range its {
			out = append(out, fmt.Sprintf("%s %s current=%v", it.Key, it.Status, it.Current))
		}
		slices.Sort(out)
		return out
	}
	hostTxs := func() []string {
		t.Helper()
		txs, err := s.HostTransactions(ctx, "a", h.ID, time.Time{}, 0)
		must(t, "host transactions", err)
		var out []string
		for _, tx := range txs {
			out = append(out, fmt.Sprintf("%s #%d at %s", tx.ID, tx.ReportSeq, tx.ReceivedAt.Format(time.RFC3339)))
		}
		return out
	}
	x := observation("k:x", "v1")
	x.Verdict = &store.VerdictUpdate{Verdict: store.VerdictUnauthorized, Level: 3, Reason: "no ticket"}
	r1 := withDrift(report(h, 1, t0), x, observation("k:y", "v1"))
	r1.Transactions = []store.PackageTransaction{aptRun("tx-1", t0.Add(-time.Minute), store.TransactionItem{Key: "k:x", StateDigest: x.StateDigest})}
	res, err := s.IngestReport(ctx, r1, nil)
	must(t, "ingest report 1 with its drift", err)
	if res.Duplicate || len(res.Drift.Opened) != 2 || res.Drift.Opened[0].Verdict != store.VerdictUnauthorized {
		t.Fatalf("ingest result: %+v", res)
	}
	xID := res.Drift.Opened[0].ID
	diff(t, "items after report 1", []string{"k:x open current=true", "k:y open current=true"}, items())
	diff(t, "transactions after report 1", []string{"tx-1 #1 at " + stored(t0).Format(time.RFC3339)}, hostTxs())
	got, err := s.DriftItem(ctx, "a", xID)
	must(t, "item k:x", err)
	diff(t, "item k:x", res.Drift.Opened[0], got)

	// Sent again: a duplicate, and neither its drift nor its
	// transactions are stored again.
	again := withDrift(report(h, 1, t0.Add(time.Hour)), observation("k:x", "v9"))
	again.Transactions = r1.Transactions
	res, err = s.IngestReport(ctx, again, nil)
	must(t, "ingest report 1 again", err)
	diff(t, "duplicate's result", store.IngestResult{Duplicate: true}, store.IngestResult{Duplicate: res.Duplicate, Drift: res.Drift})
	diff(t, "items after the duplicate", []string{"k:x open current=true", "k:y open current=true"}, items())
	diff(t, "transactions after the duplicate", []string{"tx-1 #1 at " + stored(t0).Format(time.RFC3339)}, hostTxs())

	// A drift that cannot be stored (an item ID taken) stores nothing of
	// the report either; so does a malformed observation.
	before := hostNow(t, s, h)
	t1 := t0.Add(time.Minute)
	taken := observation("k:z", "v1")
	taken.NewID = xID
	failing := withDrift(report(h, 2, t1), observation("k:x", "v2"), taken)
	failing.Transactions = []store.PackageTransaction{aptRun("tx-2", t1.Add(-time.Minute))}
	_, err = s.IngestReport(ctx, failing, nil)
	wantErr(t, "ingest with a taken item ID", err, store.ErrExists)
	badTx := withDrift(report(h, 2, t1), observation("k:x", "v2"))
	badTx.Transactions = []store.PackageTransaction{{ID: "tx-3"}} // no manager, no start
	_, err = s.IngestReport(ctx, badTx, nil)
	wantErr(t, "ingest with a malformed transaction", err, store.ErrInvalid)
	_, err = s.IngestReport(ctx, withDrift(report(h, 2, t1), store.DriftObservation{NewID: "no-key"}), nil)
	wantErr(t, "ingest with an observation without a key", err, store.ErrInvalid)
	if n, err := s.ReportCount(ctx, "a", h.ID); err != nil || n != 1 {
		t.Errorf("reports after the failed ingests = %d, %v; want 1", n, err)
	}
	diff(t, "host after the failed ingests", before, hostNow(t, s, h))
	diff(t, "items after the failed ingests", []string{"k:x open current=true", "k:y open current=true"}, items())
	diff(t, "transactions after the failed ingests", []string{"tx-1 #1 at " + stored(t0).Format(time.RFC3339)}, hostTxs())

	// Then sent well: stored, and applied.
	r2 := withDrift(report(h, 2, t1), observation("k:x", "v2"), observation("k:z", "v1"))
	res, err = s.IngestReport(ctx, r2, nil)
	must(t, "ingest report 2", err)
	diff(t, "report 2's drift", []string{"opened k:z", "updated k:x", "closed k:y"}, append(append(
		prefixed("opened", keys(res.Drift.Opened)), prefixed("updated", keys(res.Drift.Updated))...), prefixed("closed", keys(res.Drift.Closed))...))
	got, err = s.DriftItem(ctx, "a", xID)
	must(t, "item k:x", err)
	if got.Verdict != store.VerdictUnauthorized || got.LastSeq != 2 {
		t.Errorf("k:x after report 2 (no verdict given keeps its own): %+v", got)
	}
	latest, err := s.LatestReport(ctx, "a", h.ID)
	must(t, "latest report", err)
	diff(t, "report 2 as stored", storedReport(r2), latest)

	// Out of order: report 4, then 3. Report 3 is stored, and its drift,
	// older than what the items show, changes nothing.
	t4, t3 := t1.Add(2*time.Minute), t1.Add(3*time.Minute)
	res, err = s.IngestReport(ctx, withDrift(report(h, 4, t4), observation("k:x", "v4")), nil)
	must(t, "ingest report 4", err)
	diff(t, "report 4's drift", []string{"updated k:x", "closed k:z"}, append(
		prefixed("updated", keys(res.Drift.Updated)), prefixed("closed", keys(res.Drift.Closed))...))
	before4 := items()
	res, err = s.IngestReport(ctx, withDrift(report(h, 3, t3), observation("k:x", "v3"), observation("k:w", "v3")), nil)
	must(t, "ingest report 3 after 4", err)
	if res.Duplicate || !res.Drift.Stale || len(res.Drift.Opened)+len(res.Drift.Updated)+len(res.Drift.Closed) != 0 {
		t.Errorf("report 3 after 4: %+v, want stored with stale drift", res)
	}
	diff(t, "items after report 3", before4, items())
	if n, err := s.ReportCount(ctx, "a", h.ID); err != nil || n != 4 {
		t.Errorf("reports after report 3 = %d, %v; want 4", n, err)
	}
}

// testIngestDriftConcurrent: a report ingested with its drift while the
// host's drift is applied on its own (a collector of the previous release
// during an upgrade does that) on hosts without drift yet: both succeed.
func testIngestDriftConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	const hosts = 30
	var wg sync.WaitGroup
	errs := make(chan error, 2*hosts)
	for i := range hosts {
		h := enroll(t, s, "a", fmt.Sprintf("web%02d", i))
		wg.Add(2)
		go func() {
			defer wg.Done()
			o := observation("k:a", "v1")
			o.NewID = h.ID + "-apply"
			if _, err := s.ApplyDrift(ctx, "a", h.ID, 1, t0, []store.DriftObservation{o}); err != nil {
				errs <- fmt.Errorf("apply drift of %s: %w", h.Name, err)
			}
		}()
		go func() {
			defer wg.Done()
			o := observation("k:a", "v2")
			o.NewID = h.ID + "-ingest"
			r := report(h, 2, t0.Add(time.Second))
			r.ApplyDrift, r.Observations = true, []store.DriftObservation{o}
			if _, err := s.IngestReport(ctx, r, nil); err != nil {
				errs <- fmt.Errorf("ingest report of %s: %w", h.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// prefixed puts p before each of ss.
func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + " " + s
	}
	return out
}

// testIngestCancelled cancels an ingest at each point where the store
// looks at its context, one host per point, until one succeeds: each
// attempt is stored whole or not at all.
func testIngestCancelled(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	must(t, "create token", s.CreateToken(ctx, store.Token{ID: "tok", TenantID: "a", Hash: "hash", UsesLeft: 1000, CreatedAt: t0}))
	failed := 0
	for n := 1; ; n++ {
		if n > 300 {
			t.Fatalf("ingest still fails with a context cancelled at its %dth look", n)
		}
		h, err := s.Enroll(ctx, store.Enrollment{TokenHash: "hash", Name: fmt.Sprintf("web%d", n),
			CredentialHash: fmt.Sprintf("cred-%d", n), NewHostID: fmt.Sprintf("host-%d", n), At: t0})
		must(t, "enroll", err)
		r := report(h, 1, t0.Add(time.Minute))
		init := newBaseline(h, 1)
		_, err = s.IngestReport(newCountdownCtx(ctx, n), r, &init)
		count, cerr := s.ReportCount(ctx, "a", h.ID)
		must(t, "report count", cerr)
		if err == nil || count == 1 {
			// Stored: whole. (An error after the commit, when the
			// database has committed but not yet answered, is allowed.)
			checkAllStored(t, s, h, r, init)
			if err == nil {
				if failed == 0 {
					t.Errorf("ingest never looked at its context")
				}
				t.Logf("ingest cancelled at each of %d points stored nothing, then succeeded", failed)
				return
			}
			continue
		}
		failed++
		checkNothingStored(t, s, h, h)
	}
}

// checkNothingStored checks that a failed ingest left no trace.
func checkNothingStored(t *testing.T, s store.Store, h, before store.Host) {
	t.Helper()
	ctx := t.Context()
	if n, err := s.ReportCount(ctx, h.TenantID, h.ID); err != nil || n != 0 {
		t.Errorf("report count after a failed ingest = %d, %v; want 0", n, err)
	}
	_, err := s.LatestReport(ctx, h.TenantID, h.ID)
	wantErr(t, "latest report after a failed ingest", err, store.ErrNotFound)
	ms, err := s.Baselines(ctx, h.TenantID, h.ID)
	must(t, "baselines", err)
	if len(ms) != 0 {
		t.Errorf("failed ingest stored baselines %v", ms)
	}
	diff(t, "host after a failed ingest", before, hostNow(t, s, h))
}

// checkAllStored checks that report r with initial baseline b is stored
// whole.
func checkAllStored(t *testing.T, s store.Store, h store.Host, r store.Report, b store.Baseline) {
	t.Helper()
	ctx := t.Context()
	got, err := s.LatestReport(ctx, h.TenantID, h.ID)
	must(t, "latest report", err)
	diff(t, "stored report", storedReport(r), got)
	gotB, err := s.Baseline(ctx, h.TenantID, h.ID, 0)
	must(t, "baseline", err)
	diff(t, "stored baseline", storedBaseline(b), gotB)
	want := h
	want.LastSeen, want.OpenDrift, want.AgentVersion, want.BaselineVersion = stored(r.ReceivedAt), r.Changes, r.AgentVersion, 1
	diff(t, "host", want, hostNow(t, s, h))
}

// testIngestConcurrent ingests every report of many hosts twice, from
// many goroutines at once, in random order.
func testIngestConcurrent(t *testing.T, s store.Store) {
	const (
		nHosts   = 6
		nReports = 10
		workers  = 12
	)
	ctx := t.Context()
	createTenant(t, s, "a")
	var hosts []store.Host
	type job struct {
		host int
		seq  uint64
	}
	var jobs []job
	for i := range nHosts {
		hosts = append(hosts, enroll(t, s, "a", fmt.Sprintf("web%d", i)))
		for seq := uint64(1); seq <= nReports; seq++ {
			jobs = append(jobs, job{i, seq}, job{i, seq})
		}
	}
	rand.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	at := func(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Minute) }

	var (
		mu   sync.Mutex
		kept = map[job]int{} // non-duplicate results
		dups = map[job]int{}
		errs []error
	)
	ch := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range ch {
				h := hosts[j.host]
				var init *store.Baseline
				if j.seq%3 == 0 {
					b := newBaseline(h, 1)
					init = &b
				}
				res, err := s.IngestReport(ctx, report(h, j.seq, at(j.seq)), init)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case res.Duplicate:
					dups[j]++
				default:
					kept[j]++
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("concurrent ingest: %v", err)
	}
	for i, h := range hosts {
		for seq := uint64(1); seq <= nReports; seq++ {
			j := job{i, seq}
			if kept[j] != 1 || dups[j] != 1 {
				t.Errorf("host %s report %d: stored %d times, duplicate %d times; want 1 and 1", h.Name, seq, kept[j], dups[j])
			}
		}
		if n, err := s.ReportCount(ctx, "a", h.ID); err != nil || n != nReports {
			t.Errorf("host %s: report count %d, %v; want %d", h.Name, n, err, nReports)
		}
		latest, err := s.LatestReport(ctx, "a", h.ID)
		must(t, "latest report", err)
		last := report(h, nReports, at(nReports))
		diff(t, "latest report of "+h.Name, storedReport(last), latest)
		want := h
		want.LastSeen, want.OpenDrift, want.BaselineVersion = stored(at(nReports)), last.Changes, 1
		diff(t, "host "+h.Name, want, hostNow(t, s, h))
		ms, err := s.Baselines(ctx, "a", h.ID)
		must(t, "baselines", err)
		diff(t, "baselines of "+h.Name, []baseline.Meta{storedMeta(newBaseline(h, 1).Meta)}, ms, cmpopts.EquateEmpty())
	}
}
