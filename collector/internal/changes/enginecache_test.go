package changes

import (
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// TestEngineCacheSeesOtherCollectors: a collector judges reports with
// the tenant's engine it keeps between reports; a ticket approved through
// another collector on the same database (another manager) is in the
// judgement of the next report all the same.
func TestEngineCacheSeesOtherCollectors(t *testing.T) {
	f := newFixture(t)
	motd := func(sum string) baseline.Item {
		return item("file:/etc/motd", map[string]string{"mode": "0644", "sha256": sum})
	}
	rest := f.base.Items[1:]
	f.report(2, append([]baseline.Item{motd("cc")}, rest...)...)
	if it := f.items()["file:/etc/motd"]; it.Verdict != store.VerdictUnauthorized {
		t.Fatalf("before any ticket: %s (%s)", it.Verdict, it.VerdictReason)
	}

	// The other collector.
	here := f.m
	f.m = &Manager{Store: f.st, Now: here.Now}
	f.motdTicket("CHG-9")
	f.act("CHG-9", ticket.ActionSubmit, alice)
	f.act("CHG-9", ticket.ActionReview, bob)
	f.act("CHG-9", ticket.ActionApprove, carol)
	f.m = here

	// Modified again: judged again here, under the approved ticket.
	f.now = f.now.Add(time.Second)
	f.report(3, append([]baseline.Item{motd("dd")}, rest...)...)
	if it := f.items()["file:/etc/motd"]; it.Verdict != store.VerdictAuthorized {
		t.Fatalf("modified again after the approval elsewhere: %s (%s)", it.Verdict, it.VerdictReason)
	}
}

// TestEngineCacheAge: a cached engine is built again once it is older than
// engineMaxAge by the manager's clock, so that a ticket finished long ago
// no longer counts even when nothing else changed.
func TestEngineCacheAge(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e1, err := f.m.cachedEngine(ctx, "tn_acme")
	if err != nil {
		t.Fatal(err)
	}
	e2, err := f.m.cachedEngine(ctx, "tn_acme")
	if err != nil {
		t.Fatal(err)
	}
	if e1 != e2 {
		t.Errorf("engine built again with nothing changed")
	}
	f.now = f.now.Add(engineMaxAge)
	e3, err := f.m.cachedEngine(ctx, "tn_acme")
	if err != nil {
		t.Fatal(err)
	}
	if e3 == e2 {
		t.Errorf("engine of age %v used again", engineMaxAge)
	}
	f.m.invalidate("tn_acme")
	e4, err := f.m.cachedEngine(ctx, "tn_acme")
	if err != nil {
		t.Fatal(err)
	}
	if e4 == e3 {
		t.Errorf("engine used again after invalidate")
	}
}
