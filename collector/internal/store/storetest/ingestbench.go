package storetest

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// RunIngestBenchmark measures the store alone at what bench/loadgen asks
// of the collector: hosts hosts, each with 20 changes open, send reports
// of those 20 changes modified again (a report row with its ~19 KB drift
// document, 20 items and their events, one transaction each), from 32
// goroutines at once. It reports reports/s: what the store can take
// before any HTTP, TLS or JSON work. s must be new and empty.
func RunIngestBenchmark(b *testing.B, s store.Store, hosts int) {
	ctx := b.Context()
	const changes = 20
	if _, err := s.CreateTenant(ctx, "bench", "Bench", t0); err != nil {
		b.Fatal(err)
	}
	// A drift document the size loadgen's reports carry (19 KB).
	var doc strings.Builder
	doc.WriteString(`{"host":"bench","changes":[`)
	for i := range changes {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"key":"file:/etc/bench/%06d","kind":"file","change":"modified","content_diff":%q}`, i,
			strings.Repeat("@@ -1,3 +1,3 @@\n-old line of the file\n+new line of the file\n", 18))
	}
	doc.WriteString(`]}`)
	drift := []byte(doc.String())
	verdict := &store.VerdictUpdate{Verdict: store.VerdictUnauthorized, Level: 3, Rule: "bench", Reason: "no ticket covers it"}
	type benchHostState struct {
		h   store.Host
		seq atomic.Uint64
	}
	states := make([]*benchHostState, hosts)
	// The observations of two states, made once: a report modifies the
	// host's items from one to the other (new item IDs are used only by
	// each host's first report, which opens them).
	var variants [2][]store.DriftObservation
	for v := range variants {
		variants[v] = BenchObservations(changes, fmt.Sprint("v", v), fmt.Sprint("state", v))
		for i := range variants[v] {
			variants[v][i].Verdict = verdict
		}
	}
	report := func(h store.Host, seq uint64, obs []store.DriftObservation) store.Report {
		return store.Report{TenantID: "bench", HostID: h.ID, Sequence: seq, ReceivedAt: t0.Add(time.Duration(seq) * time.Second),
			TakenAt: t0, SnapshotDigest: baseline.Sum(fmt.Appendf(nil, "%s/%d", h.ID, seq)), ItemCount: 200,
			AgentVersion: "bench", Drift: drift, Changes: changes, Size: len(drift), ApplyDrift: true, Observations: obs}
	}
	start := time.Now()
	for i := range states {
		st := &benchHostState{h: benchHost(b, s, fmt.Sprintf("ingest%05d", i))}
		st.seq.Store(1)
		if _, err := s.IngestReport(ctx, report(st.h, 1, BenchObservations(changes, st.h.ID, "state1")), nil); err != nil {
			b.Fatal(err)
		}
		states[i] = st
	}
	b.Logf("%d hosts with %d open changes each in %v", hosts, changes, time.Since(start).Round(time.Millisecond))
	var next atomic.Uint64
	b.SetParallelism(16) // 32 goroutines on 2 processors, as loadgen's 32 requests
	b.ResetTimer()
	begin := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			st := states[next.Add(1)%uint64(len(states))]
			seq := st.seq.Add(1)
			if _, err := s.IngestReport(ctx, report(st.h, seq, variants[seq%2]), nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "reports/s")
}
