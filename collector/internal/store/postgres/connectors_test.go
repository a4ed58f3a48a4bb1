package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/connector"
)

// leaseSource is a Source that records which collector polled it and
// whether two polls ever overlapped.
type leaseSource struct {
	inflight atomic.Int32
	overlap  atomic.Bool
	mu       sync.Mutex
	polls    map[string]int
}

func (s *leaseSource) Name() string { return "acme-snow" }
func (s *leaseSource) Kind() string { return connector.KindServiceNow }

func (s *leaseSource) poll(owner string) {
	if s.inflight.Add(1) > 1 {
		s.overlap.Store(true)
	}
	defer s.inflight.Add(-1)
	s.mu.Lock()
	s.polls[owner]++
	s.mu.Unlock()
}

func (s *leaseSource) count(owner string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls[owner]
}

// ownedSource polls the shared leaseSource as one collector.
type ownedSource struct {
	*leaseSource
	owner string
}

func (o ownedSource) Poll(_ context.Context, since connector.Cursor) ([]connector.Record, connector.Cursor, error) {
	o.poll(o.owner)
	return nil, since, nil
}

// TestConnectorLeaseTwoCollectors runs one connector's syncer in two
// collectors on one schema: only the lease holder polls; when it stops,
// the other takes over.
func TestConnectorLeaseTwoCollectors(t *testing.T) {
	dsn := newSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	if _, err := a.CreateTenant(t.Context(), "acme", "acme", time.Now()); err != nil {
		t.Fatal(err)
	}
	src := &leaseSource{polls: map[string]int{}}
	// Each syncer's "sleep" between polls hands a turn to the test, so
	// the two loops run in lock step without wall-clock waits.
	type collector struct {
		turns  chan struct{}
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(st *Store, owner string) *collector {
		c := &collector{turns: make(chan struct{}), done: make(chan struct{})}
		ctx, cancel := context.WithCancel(t.Context())
		c.cancel = cancel
		sy := &connector.Syncer{
			Source: ownedSource{src, owner}, TenantID: "acme",
			State: connector.StoreState{Store: st},
			Lease: connector.StoreLease{Store: st, Owner: owner},
			Poll:  time.Minute, LeaseTerm: time.Hour,
			Sleep: func(ctx context.Context, _ time.Duration) error {
				select {
				case <-c.turns:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		}
		go func() {
			defer close(c.done)
			_ = sy.Run(ctx)
		}()
		return c
	}
	ca, cb := start(a, "collector-a"), start(b, "collector-b")
	turn := func(c *collector) { c.turns <- struct{}{} }
	for range 10 {
		turn(ca)
		turn(cb)
	}
	polledA, polledB := src.count("collector-a"), src.count("collector-b")
	if polledA != 0 && polledB != 0 {
		t.Errorf("both collectors polled while one held the lease: a %d, b %d", polledA, polledB)
	}
	if polledA+polledB < 10 {
		t.Errorf("the lease holder polled %d times in 10 turns, want at least 10", polledA+polledB)
	}
	// The holder stops and releases its lease: the other takes over.
	holder, other, otherName := ca, cb, "collector-b"
	if polledB > 0 {
		holder, other, otherName = cb, ca, "collector-a"
	}
	holder.cancel()
	<-holder.done
	before := src.count(otherName)
	for range 3 {
		turn(other)
	}
	if got := src.count(otherName) - before; got < 2 {
		t.Errorf("after the holder stopped, %s polled %d times in 3 turns, want the lease taken over", otherName, got)
	}
	other.cancel()
	<-other.done
	if src.overlap.Load() {
		t.Error("two polls of one connector overlapped")
	}
	// The state the holder saved is shared.
	st, err := connector.StoreState{Store: b}.Load(t.Context(), "acme-snow")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.LastSuccess.IsZero() || st.Status.TenantID != "acme" {
		t.Errorf("shared status = %+v, want a success of tenant acme", st.Status)
	}
}
