package connector

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "collector.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateTenant(t.Context(), "t-acme", "acme", time.Now()); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStoreState(t *testing.T) {
	st := openStore(t)
	ss := StoreState{Store: st}
	got, err := ss.Load(t.Context(), "acme-snow")
	if err != nil || !got.Cursor.UpdatedAt.IsZero() || got.Hashes != nil {
		t.Fatalf("state before the first save: %+v, %v", got, err)
	}
	at := time.Date(2026, 11, 20, 9, 12, 44, 0, time.UTC)
	want := State{Cursor: Cursor{UpdatedAt: at}, Hashes: map[string]string{"CHG0030001": "ab12"},
		Status: Status{Connector: "acme-snow", Kind: KindServiceNow, TenantID: "t-acme", LastSuccess: at, Created: 3, Rejected: 1,
			Rejects: []Reject{{Reference: "CHG0030004", Reason: "start_date: not a date"}}}}
	if err := ss.Save(t.Context(), "acme-snow", want); err != nil {
		t.Fatal(err)
	}
	got, err = ss.Load(t.Context(), "acme-snow")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("state (-want +got):\n%s", d)
	}
	row, err := st.ConnectorState(t.Context(), "acme-snow")
	if err != nil {
		t.Fatal(err)
	}
	if !row.LastSuccess.Equal(at) || row.TenantID != "t-acme" || row.LastError != "" {
		t.Errorf("stored row: %+v", row)
	}
}

func TestHealths(t *testing.T) {
	st := openStore(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	add := func(name, kind, poll string, status *Status) {
		t.Helper()
		doc, _ := json.Marshal(api.Connector{Name: name, Tenant: "acme", Kind: kind, Poll: poll})
		if err := st.CreateConnector(t.Context(), store.Connector{Name: name, TenantID: "t-acme", Kind: kind, Config: doc, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if status != nil {
			status.TenantID = "t-acme"
			if err := (StoreState{Store: st}).Save(t.Context(), name, State{Status: *status}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("fresh", KindServiceNow, "5m", &Status{LastSuccess: now.Add(-10 * time.Minute)})
	add("quiet", KindServiceNow, "5m", &Status{LastSuccess: now.Add(-16 * time.Minute)})
	add("failing", KindJira, "1h", &Status{LastSuccess: now.Add(-time.Minute), LastError: "connector failing: credentials refused"})
	add("never", KindHaloPSA, "", nil)
	add("hook", KindWebhook, "", nil)
	add("hook-bad", KindWebhook, "", &Status{LastError: "import failed"})
	hs, err := Healths(t.Context(), st, "t-acme", now)
	if err != nil {
		t.Fatal(err)
	}
	stale := map[string]string{}
	for _, h := range hs {
		if h.Stale {
			stale[h.Name] = h.LastError
		}
	}
	want := map[string]string{
		"quiet":    "no successful sync for 16m (polls every 5m)",
		"failing":  "connector failing: credentials refused",
		"never":    "no successful sync yet",
		"hook-bad": "import failed",
	}
	if d := cmp.Diff(want, stale); d != "" {
		t.Errorf("stale connectors (-want +got):\n%s", d)
	}
	if len(hs) != 6 || !strings.HasPrefix(hs[0].Name, "failing") {
		t.Errorf("healths not by name: %+v", hs)
	}
}
