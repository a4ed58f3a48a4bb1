package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// agentTests are the tests of the Agents methods.
func agentTests() []test {
	return []test{
		{"Heartbeats", testHeartbeats},
		{"HostEvents", testHostEvents},
	}
}

func testHeartbeats(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "t1")
	createTenant(t, s, "t2")
	h := enroll(t, s, "t1", "web-01")
	other := enroll(t, s, "t2", "db-01")

	_, err := s.LastHeartbeat(ctx, "t1", h.ID)
	wantErr(t, "heartbeat before the first", err, store.ErrNotFound)

	first := store.Heartbeat{At: t0, Status: []byte(`{"spool":{"entries":3}}`)}
	must(t, "record", s.RecordHeartbeat(ctx, "t1", h.ID, first))
	got, err := s.LastHeartbeat(ctx, "t1", h.ID)
	must(t, "last heartbeat", err)
	diff(t, "heartbeat", store.Heartbeat{At: stored(t0), Status: first.Status}, got)
	checkUTC(t, "heartbeat", got.At)

	newer := store.Heartbeat{At: t0.Add(time.Minute), Status: []byte(`{"spool":{"entries":0}}`)}
	must(t, "record newer", s.RecordHeartbeat(ctx, "t1", h.ID, newer))
	// One that arrives late (sent before the newer one) changes nothing.
	must(t, "record older", s.RecordHeartbeat(ctx, "t1", h.ID, store.Heartbeat{At: t0.Add(30 * time.Second), Status: []byte(`{"late":true}`)}))
	got, err = s.LastHeartbeat(ctx, "t1", h.ID)
	must(t, "last heartbeat", err)
	diff(t, "heartbeat after a late one", store.Heartbeat{At: stored(newer.At), Status: newer.Status}, got)

	// Another tenant's host is not found, either way.
	wantErr(t, "record for another tenant's host", s.RecordHeartbeat(ctx, "t1", other.ID, first), store.ErrNotFound)
	_, err = s.LastHeartbeat(ctx, "t2", h.ID)
	wantErr(t, "heartbeat seen from another tenant", err, store.ErrNotFound)
}

func testHostEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "t1")
	createTenant(t, s, "t2")
	h := enroll(t, s, "t1", "web-01")
	other := enroll(t, s, "t2", "db-01")

	evs := func(ids ...int) []store.HostEvent {
		var out []store.HostEvent
		for _, i := range ids {
			out = append(out, store.HostEvent{
				ID: fmt.Sprintf("spool-%d", i), Kind: "gap", At: t0.Add(time.Duration(i) * time.Minute),
				ReceivedAt: t0.Add(time.Hour), Summary: fmt.Sprintf("%d reports dropped", i),
				Detail: []byte(fmt.Sprintf(`{"count":%d}`, i)),
			})
		}
		return out
	}
	n, err := s.AddHostEvents(ctx, "t1", h.ID, evs(1, 2))
	must(t, "add", err)
	if n != 2 {
		t.Errorf("added %d, want 2", n)
	}
	// Sent again with one new: only the new one counts and is stored.
	n, err = s.AddHostEvents(ctx, "t1", h.ID, evs(2, 3))
	must(t, "add again", err)
	if n != 1 {
		t.Errorf("added %d on resend, want 1", n)
	}
	got, err := s.HostEvents(ctx, "t1", h.ID, 0)
	must(t, "list", err)
	var want []store.HostEvent
	for _, e := range evs(3, 2, 1) {
		e.At, e.ReceivedAt = stored(e.At), stored(e.ReceivedAt)
		want = append(want, e)
	}
	diff(t, "events, newest first", want, got)
	for _, e := range got {
		checkUTC(t, "event", e.At, e.ReceivedAt)
	}
	got, err = s.HostEvents(ctx, "t1", h.ID, 1)
	must(t, "list one", err)
	if len(got) != 1 || got[0].ID != "spool-3" {
		t.Errorf("limit 1: %+v", got)
	}

	// An event without detail reads back without.
	_, err = s.AddHostEvents(ctx, "t1", h.ID, []store.HostEvent{{ID: "x", Kind: "coverage_restored", At: t0, ReceivedAt: t0, Summary: "watch restored"}})
	must(t, "add without detail", err)

	// Tenant isolation: another tenant's host is not found and sees nothing.
	_, err = s.AddHostEvents(ctx, "t2", h.ID, evs(9))
	wantErr(t, "add to another tenant's host", err, store.ErrNotFound)
	got, err = s.HostEvents(ctx, "t2", h.ID, 0)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("another tenant sees %d events", len(got))
	}
	got, err = s.HostEvents(ctx, "t2", other.ID, 0)
	must(t, "list other", err)
	if len(got) != 0 {
		t.Errorf("a host with no events lists %d", len(got))
	}
}
