package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

func testBaselines(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")

	ms, err := s.Baselines(ctx, "a", h.ID)
	must(t, "baselines of a host without any", err)
	diff(t, "baselines of a host without any", []baseline.Meta(nil), ms, cmpopts.EquateEmpty())
	_, err = s.Baseline(ctx, "a", h.ID, 0)
	wantErr(t, "newest baseline of a host without any", err, store.ErrNotFound)

	b1 := newBaseline(h, 1)
	b1.Meta.Tickets, b1.Meta.Reviewed = nil, false
	b2 := newBaseline(h, 2)
	// Meta round trip: several tickets, reviewed, approved at a time with
	// nanoseconds in another zone.
	b2.Meta.ApprovedAt = time.Date(2026, 7, 4, 23, 59, 59, 999999999, time.FixedZone("PDT", -7*3600))
	b2.Meta.Tickets = []string{"CHG-7", "INC-3", "CHG-7b"}
	b3 := newBaseline(h, 3)

	steps := []struct {
		name string
		b    store.Baseline
		want error
	}{
		{"v1", b1, nil},
		{"v1 again", b1, store.ErrConflict},
		{"v3 after v1 (gap)", b3, store.ErrConflict},
		{"v0", newBaseline(h, 0), store.ErrConflict},
		{"v-1", newBaseline(h, -1), store.ErrConflict},
		{"v2", b2, nil},
		{"v2 again", b2, store.ErrConflict},
		{"v1 after v2", b1, store.ErrConflict},
		{"v3", b3, nil},
		{"unknown host", store.Baseline{TenantID: "a", HostID: "no-such-host", Meta: meta(h, 1, nil), Snapshot: []byte("{}")}, store.ErrNotFound},
		{"unknown tenant", store.Baseline{TenantID: "nobody", HostID: h.ID, Meta: meta(h, 4, nil), Snapshot: []byte("{}")}, store.ErrNotFound},
	}
	for _, st := range steps {
		wantErr(t, "add baseline "+st.name, s.AddBaseline(ctx, st.b), st.want)
	}

	for _, tt := range []struct {
		v    int
		want store.Baseline
	}{
		{0, b3}, {1, b1}, {2, b2}, {3, b3},
	} {
		got, err := s.Baseline(ctx, "a", h.ID, tt.v)
		must(t, fmt.Sprintf("baseline %d", tt.v), err)
		diff(t, fmt.Sprintf("baseline %d", tt.v), storedBaseline(tt.want), got)
		checkUTC(t, fmt.Sprintf("baseline %d", tt.v), got.Meta.ApprovedAt)
	}
	_, err = s.Baseline(ctx, "a", h.ID, 4)
	wantErr(t, "baseline 4 of 3", err, store.ErrNotFound)

	ms, err = s.Baselines(ctx, "a", h.ID)
	must(t, "baselines", err)
	diff(t, "baselines, oldest first", []baseline.Meta{storedMeta(b1.Meta), storedMeta(b2.Meta), storedMeta(b3.Meta)}, ms)
	for _, m := range ms {
		checkUTC(t, fmt.Sprintf("baseline %d", m.Version), m.ApprovedAt)
	}
	if got := ms[1].ApprovedAt; !got.Equal(time.Date(2026, 7, 5, 6, 59, 59, 999999000, time.UTC)) {
		t.Errorf("v2 approved at %v, want 2026-07-05T06:59:59.999999Z", got)
	}
	if hh := hostNow(t, s, h); hh.BaselineVersion != 3 {
		t.Errorf("host's baseline version = %d, want 3", hh.BaselineVersion)
	}
	_, err = s.Baselines(ctx, "a", "no-such-host")
	wantErr(t, "baselines of an unknown host", err, store.ErrNotFound)
}

// testBaselineRace approves the same next version from several goroutines:
// one wins.
func testBaselineRace(t *testing.T, s store.Store) {
	const racers = 8
	createTenant(t, s, "a")
	h := enroll(t, s, "a", "web1")
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			b := newBaseline(h, 1)
			b.Meta.Reason = fmt.Sprintf("racer %d", i)
			errs[i] = s.AddBaseline(t.Context(), b)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racer %d: error %v, want nil or ErrConflict", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d racers added v1, want 1", ok)
	}
	ms, err := s.Baselines(t.Context(), "a", h.ID)
	must(t, "baselines", err)
	if len(ms) != 1 {
		t.Errorf("%d baselines after the race, want 1", len(ms))
	}
}

func testPingClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "ping", s.Ping(ctx))
	createTenant(t, s, "a")
	must(t, "close", s.Close())
	must(t, "close again", s.Close())
	if err := s.Ping(ctx); err == nil {
		t.Errorf("ping after close: no error")
	}
	_, err := s.TenantByID(ctx, "a")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("lookup after close: error %v, want a closed-store error", err)
	}
}
