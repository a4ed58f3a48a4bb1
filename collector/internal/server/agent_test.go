package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// A heartbeat is kept and read back by the tenant's users, and its answer
// names the host's current baseline.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t, Options{})
	ta, tb := e.tenant("acme"), e.tenant("globex")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	user, _ := userToken(t, e, ta.ID, "viewer")
	other, _ := userToken(t, e, tb.ID, "admin")

	resp, err := agent.Heartbeat(ctx, api.Heartbeat{SentAt: time.Now(), AgentVersion: "1.1.0", Status: api.AgentStatus{OpenChanges: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.BaselineVersion != 0 || !resp.BaselineDigest.IsZero() || resp.ServerTime.IsZero() {
		t.Errorf("heartbeat answer before a baseline = %+v", resp)
	}
	st, err := user.HostStatus(ctx, enr.HostID)
	if err != nil {
		t.Fatal(err)
	}
	if st.HeartbeatAt == nil || st.Status == nil || st.Status.OpenChanges != 2 || st.Host.Name != "web01" {
		t.Errorf("host status = %+v", st)
	}

	first, _, blob := snapshots("web01")
	if _, err := agent.PostReport(ctx, firstReport(t, agent, first, blob)); err != nil {
		t.Fatal(err)
	}
	resp, err = agent.Heartbeat(ctx, api.Heartbeat{SentAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if resp.BaselineVersion != 1 || resp.BaselineDigest != first.Digest() {
		t.Errorf("heartbeat answer = %+v, want v1 %s", resp, first.Digest().Short())
	}

	// Another tenant's user does not see the host; a user cannot send
	// heartbeats.
	if _, err := other.HostStatus(ctx, enr.HostID); !isStatus(err, http.StatusNotFound) {
		t.Errorf("other tenant's status: %v, want 404", err)
	}
	if _, err := user.Heartbeat(ctx, api.Heartbeat{}); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("heartbeat with a user token: %v, want 401", err)
	}
}

// Events are stored once per ID, refused with the field named when
// malformed, and kept from other tenants.
func TestEvents(t *testing.T) {
	e := newEnv(t, Options{})
	ta, tb := e.tenant("acme"), e.tenant("globex")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	user, _ := userToken(t, e, ta.ID, "viewer")
	other, _ := userToken(t, e, tb.ID, "admin")
	at := time.Date(2026, 11, 23, 5, 59, 0, 0, time.UTC)
	gap := api.Event{ID: "gap-7", Kind: api.EventGap, At: at, Summary: "3 reports lost", Detail: json.RawMessage(`{"entries":3}`)}
	cov := api.Event{ID: "event-8", Kind: api.EventCoverageGap, At: at.Add(time.Minute), Summary: "realtime watch does not cover /etc/big"}

	got, err := agent.PostEvents(ctx, []api.Event{gap, cov})
	if err != nil || got.Added != 2 {
		t.Fatalf("post events = %+v, %v", got, err)
	}
	got, err = agent.PostEvents(ctx, []api.Event{gap})
	if err != nil || got.Added != 0 {
		t.Errorf("resent event = %+v, %v; want 0 added", got, err)
	}
	evs, err := user.HostEvents(ctx, enr.HostID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ID != "event-8" || evs[1].ID != "gap-7" || string(evs[1].Detail) != `{"entries":3}` || evs[1].ReceivedAt == nil {
		t.Errorf("events = %+v", evs)
	}
	if _, err := other.HostEvents(ctx, enr.HostID); !isStatus(err, http.StatusNotFound) {
		t.Errorf("other tenant's events: %v, want 404", err)
	}

	for _, tt := range []struct {
		name  string
		ev    api.Event
		field string
	}{
		{"no id", api.Event{Kind: api.EventGap, At: at}, "events[0].id"},
		{"unknown kind", api.Event{ID: "x", Kind: "reboot", At: at}, "events[0].kind"},
		{"no time", api.Event{ID: "x", Kind: api.EventGap}, "events[0].at"},
		{"long summary", api.Event{ID: "x", Kind: api.EventGap, At: at, Summary: strings.Repeat("x", 2000)}, "events[0].summary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agent.PostEvents(ctx, []api.Event{tt.ev})
			status, ae := statusOf(err)
			if status != http.StatusBadRequest || ae.Field != tt.field || !api.IsPermanent(err) {
				t.Errorf("err = %v (field %q); want 400 on %s", err, ae.Field, tt.field)
			}
		})
	}
	if evs, _ := user.HostEvents(ctx, enr.HostID); len(evs) != 2 {
		t.Errorf("a refused batch stored events: %d", len(evs))
	}
}

// A first report that carries the agent's approved baseline makes it the
// collector's version 1, with who approved it and why, and its drift is
// the host's open drift.
func TestFirstReportWithAgentBaseline(t *testing.T) {
	e := newEnv(t, Options{})
	ta := e.tenant("acme")
	ctx := context.Background()
	enr, agent := e.enroll(ta.ID, "web01")
	approved, now, blob := snapshots("web01")
	if err := agent.PutBlob(ctx, baseline.Sum(blob), blob); err != nil {
		t.Fatal(err)
	}
	enc, err := approved.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	meta := baseline.Meta{Host: "web01", Version: 3, SnapshotDigest: approved.Digest(), Items: len(approved.Items),
		ApprovedBy: "alice", ApprovedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Reason: "after patching", Tickets: []string{"CHG-9"}, Reviewed: true}
	rep := driftReport(1, approved, now)
	rep.Drift.BaselineDigest = approved.Digest()
	rep.Baseline = &api.Baseline{Meta: meta, Snapshot: enc}
	rep.Blobs = approved.ContentDigests()
	resp, err := agent.PostReport(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if resp.BaselineVersion != 1 || resp.BaselineDigest != approved.Digest() {
		t.Errorf("answer = %+v", resp)
	}
	b, _, err := agent.Baseline(ctx, enr.HostID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != 1 || b.ApprovedBy != "alice" || b.Reason != "after patching" || len(b.Tickets) != 1 || b.Tickets[0] != "CHG-9" || !b.Reviewed ||
		b.SnapshotDigest != approved.Digest() {
		t.Errorf("baseline v1 = %+v", b.Meta)
	}
	hosts, err := e.client(mustUser(t, e, ta.ID)).Hosts(ctx)
	if err != nil || len(hosts) != 1 || hosts[0].OpenDrift != len(rep.Drift.Changes) || hosts[0].OpenDrift == 0 {
		t.Errorf("hosts = %+v, %v; want the drift open", hosts, err)
	}

	// A baseline whose snapshot does not match its digest is refused.
	bad := *rep.Baseline
	bad.SnapshotDigest = now.Digest()
	rep2 := rep
	rep2.Sequence = 2
	rep2.Drift.BaselineDigest = baseline.Digest{}
	rep2.Baseline = &bad
	_, err = agent.PostReport(ctx, rep2)
	if status, ae := statusOf(err); status != http.StatusBadRequest || ae.Field != "report.baseline.snapshot" {
		t.Errorf("mismatched baseline: %v (field %q)", err, ae.Field)
	}
}

func mustUser(t *testing.T, e *env, tenantID string) string {
	t.Helper()
	_, secret := userToken(t, e, tenantID, "viewer")
	return secret
}
