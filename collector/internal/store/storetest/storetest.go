package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// Run runs the conformance suite against the stores open makes. Each
// subtest calls open once and runs in parallel with the others, so open
// must return a new, empty store each time and arrange its cleanup with
// t.Cleanup, Close included. The suite calls Close itself too, so Close
// must be safe to call twice.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []test{
		{"Tenants", testTenants},
		{"Tokens", testTokens},
		{"Enroll", testEnroll},
		{"EnrollRace", testEnrollRace},
		{"Reenroll", testReenroll},
		{"Users", testUsers},
		{"Hosts", testHosts},
		{"TenantIsolation", testTenantIsolation},
		{"Blobs", testBlobs},
		{"Ingest", testIngest},
		{"IngestDuplicate", testIngestDuplicate},
		{"IngestOutOfOrder", testIngestOutOfOrder},
		{"IngestInitialBaseline", testIngestInitialBaseline},
		{"IngestAtomic", testIngestAtomic},
		{"IngestDrift", testIngestDrift},
		{"IngestDriftConcurrent", testIngestDriftConcurrent},
		{"IngestCancelled", testIngestCancelled},
		{"IngestConcurrent", testIngestConcurrent},
		{"Baselines", testBaselines},
		{"BaselineRace", testBaselineRace},
		{"PingClose", testPingClose},
	}
	tests = append(tests, agentTests()...)
	tests = append(tests, ticketTests()...)
	tests = append(tests, outboxTests()...)
	tests = append(tests, webTests()...)
	tests = append(tests, connectorTests()...)
	tests = append(tests, deploymentTests()...)
	tests = append(tests, transactionTests()...)
	tests = append(tests, notifyPrefTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// test is one conformance test: it gets a new, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the suite's reference time: not UTC and with nanoseconds, so that
// every round trip shows the conversion to UTC and the truncation to
// microseconds.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

// stored is t as a store gives it back.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// checkUTC fails unless every non-zero time is in time.UTC. cmp compares
// times with Equal, which ignores the location.
func checkUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for _, tm := range times {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, tm, tm.Location())
		}
	}
}

// wantErr fails unless err matches target (nil: no error).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Fatalf("%s: %v", what, err)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// must fails the test on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func createTenant(t *testing.T, s store.Store, id string) store.Tenant {
	t.Helper()
	tn, err := s.CreateTenant(t.Context(), id, "Tenant "+id, t0)
	must(t, "create tenant", err)
	return tn
}

// enroll enrolls a host named name in the tenant with a token of its own;
// its ID is "host-<tenant>-<name>" and its credential hash
// "cred-<tenant>-<name>".
func enroll(t *testing.T, s store.Store, tenantID, name string) store.Host {
	t.Helper()
	tok := store.Token{
		ID: "tok-" + tenantID + "-" + name, TenantID: tenantID, Hash: "tokhash-" + tenantID + "-" + name,
		ExpiresAt: t0.Add(time.Hour), UsesLeft: 1, CreatedAt: t0,
	}
	must(t, "create token", s.CreateToken(t.Context(), tok))
	h, err := s.Enroll(t.Context(), store.Enrollment{
		TokenHash: tok.Hash, Name: name, Labels: map[string]string{"env": "prod"}, AgentVersion: "1.0.0",
		CredentialHash: "cred-" + tenantID + "-" + name, NewHostID: "host-" + tenantID + "-" + name, At: t0,
	})
	must(t, "enroll "+name, err)
	return h
}

// report makes report seq of a host, received at at.
func report(h store.Host, seq uint64, at time.Time) store.Report {
	return store.Report{
		TenantID:       h.TenantID,
		HostID:         h.ID,
		Sequence:       seq,
		ReceivedAt:     at,
		TakenAt:        at.Add(-1500 * time.Millisecond),
		SnapshotDigest: baseline.Sum(fmt.Appendf(nil, "%s snapshot %d", h.ID, seq)),
		ItemCount:      100 + int(seq%1000),
		AgentVersion:   "1.0.0",
		// Odd spacing and key order, which must come back as sent.
		Sources: []byte(`{"files": {"items": 3,  "took": "1ms"}, "a": 1}`),
		Drift:   fmt.Appendf(nil, `{"changes":[{"key":"file:/etc/hosts","kind":"modified"}], "seq": %d}`, seq),
		Changes: int(seq%7) + 1,
		Size:    2048 + int(seq%1000),
	}
}

// storedReport is r as a store gives it back.
func storedReport(r store.Report) store.Report {
	r.ReceivedAt = stored(r.ReceivedAt)
	r.TakenAt = stored(r.TakenAt)
	r.ApplyDrift, r.Observations = false, nil // applied, not kept
	return r
}

// meta makes the approval of version v of a host.
func meta(h store.Host, v int, snapshot []byte) baseline.Meta {
	return baseline.Meta{
		Host:           h.Name,
		Version:        v,
		SnapshotDigest: baseline.Sum(snapshot),
		Items:          10 * v,
		ApprovedBy:     "alice@example.com",
		ApprovedAt:     t0.Add(time.Duration(v) * time.Hour),
		Reason:         fmt.Sprintf("approve v%d", v),
		Tickets:        []string{fmt.Sprintf("CHG-%d", v), "CHG-100"},
		Reviewed:       true,
	}
}

func newBaseline(h store.Host, v int) store.Baseline {
	snap := fmt.Appendf(nil, `{"host":%q,"version":%d}`, h.Name, v)
	return store.Baseline{TenantID: h.TenantID, HostID: h.ID, Meta: meta(h, v, snap), Snapshot: snap}
}

// storedMeta is m as a store gives it back.
func storedMeta(m baseline.Meta) baseline.Meta {
	m.ApprovedAt = stored(m.ApprovedAt)
	if len(m.Tickets) == 0 {
		m.Tickets = nil
	}
	return m
}

func storedBaseline(b store.Baseline) store.Baseline {
	b.Meta = storedMeta(b.Meta)
	return b
}

// hostNow reads a host back.
func hostNow(t *testing.T, s store.Store, h store.Host) store.Host {
	t.Helper()
	got, err := s.Host(t.Context(), h.TenantID, h.ID)
	must(t, "host "+h.Name, err)
	checkUTC(t, "host "+h.Name, got.EnrolledAt, got.LastSeen)
	return got
}

// diff fails the test when want and got differ.
func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// countdownCtx is a context that is cancelled at the nth call of Done or
// Err: a way to cancel an operation at each of the points where it looks.
type countdownCtx struct {
	context.Context
	mu   sync.Mutex
	left int
	done chan struct{}
}

func newCountdownCtx(parent context.Context, n int) *countdownCtx {
	c := &countdownCtx{Context: parent, left: n, done: make(chan struct{})}
	if n <= 0 {
		close(c.done)
	}
	return c
}

func (c *countdownCtx) tick() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		c.left--
		if c.left == 0 {
			close(c.done)
		}
	}
	return c.left == 0
}

func (c *countdownCtx) Done() <-chan struct{} {
	c.tick()
	return c.done
}

func (c *countdownCtx) Err() error {
	if c.tick() {
		return context.Canceled
	}
	return nil
}
