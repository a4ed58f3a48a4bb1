package storetest

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// notifyPrefTests are the conformance tests of this part of the store.
func notifyPrefTests() []test {
	return []test{
		{"NotifyPrefs", testNotifyPrefs},
		{"NotifyPrefsInvalid", testNotifyPrefsInvalid},
		{"NotifySettings", testNotifySettings},
		{"NotifySigningKey", testNotifySigningKey},
	}
}

func testNotifyPrefs(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createTenant(t, s, "a")
	b := createTenant(t, s, "b")
	set := func(p store.NotifyPref) {
		t.Helper()
		must(t, "set preference", s.SetNotifyPref(ctx, p))
	}
	set(store.NotifyPref{TenantID: a.ID, Recipient: "ops@acme.example", List: store.ListDigest, Enabled: false, UpdatedAt: t0, Source: "one-click"})
	set(store.NotifyPref{TenantID: a.ID, Recipient: "lead@acme.example", List: store.ListSummary, Enabled: false, UpdatedAt: t0, Source: "page"})
	set(store.NotifyPref{TenantID: b.ID, Recipient: "ops@acme.example", List: store.ListAlert, Enabled: false, UpdatedAt: t0})
	// Changing one's mind replaces the choice.
	later := t0.Add(time.Hour)
	set(store.NotifyPref{TenantID: a.ID, Recipient: "ops@acme.example", List: store.ListDigest, Enabled: true, UpdatedAt: later, Source: "page"})
	set(store.NotifyPref{TenantID: a.ID, Recipient: "ops@acme.example", List: store.ListAlert, Enabled: false, UpdatedAt: later, Source: "page"})

	got, err := s.NotifyPrefs(ctx, a.ID, "")
	must(t, "list preferences", err)
	want := []store.NotifyPref{
		{TenantID: a.ID, Recipient: "lead@acme.example", List: store.ListSummary, Enabled: false, UpdatedAt: stored(t0), Source: "page"},
		{TenantID: a.ID, Recipient: "ops@acme.example", List: store.ListAlert, Enabled: false, UpdatedAt: stored(later), Source: "page"},
		{TenantID: a.ID, Recipient: "ops@acme.example", List: store.ListDigest, Enabled: true, UpdatedAt: stored(later), Source: "page"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("preferences of tenant a (-want +got):\n%s", d)
	}
	for _, p := range got {
		checkUTC(t, "preference", p.UpdatedAt)
	}
	one, err := s.NotifyPrefs(ctx, a.ID, "lead@acme.example")
	must(t, "preferences of one recipient", err)
	if d := cmp.Diff(want[:1], one); d != "" {
		t.Errorf("preferences of lead (-want +got):\n%s", d)
	}
	// Another tenant's choices stay its own.
	gotB, err := s.NotifyPrefs(ctx, b.ID, "ops@acme.example")
	must(t, "preferences of tenant b", err)
	if len(gotB) != 1 || gotB[0].List != store.ListAlert {
		t.Errorf("tenant b's preferences: %+v", gotB)
	}
	none, err := s.NotifyPrefs(ctx, "no-such-tenant", "")
	must(t, "preferences of an unknown tenant", err)
	if len(none) != 0 {
		t.Errorf("unknown tenant has preferences %+v", none)
	}
}

func testNotifyPrefsInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createTenant(t, s, "a")
	must(t, "set preference", s.SetNotifyPref(ctx, store.NotifyPref{TenantID: a.ID, Recipient: "ops@acme.example", List: store.ListDigest, UpdatedAt: t0}))
	for _, tt := range []struct {
		name string
		p    store.NotifyPref
		want error
	}{
		{"unknown tenant", store.NotifyPref{TenantID: "nope", Recipient: "ops@acme.example", List: store.ListDigest, UpdatedAt: t0}, store.ErrNotFound},
		{"no recipient", store.NotifyPref{TenantID: a.ID, List: store.ListDigest, UpdatedAt: t0}, store.ErrInvalid},
		{"upper case", store.NotifyPref{TenantID: a.ID, Recipient: "Ops@acme.example", List: store.ListDigest, UpdatedAt: t0}, store.ErrInvalid},
		{"unknown list", store.NotifyPref{TenantID: a.ID, Recipient: "ops@acme.example", List: "weekly", UpdatedAt: t0}, store.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "set preference", s.SetNotifyPref(ctx, tt.p), tt.want)
		})
	}
	got, err := s.NotifyPrefs(ctx, a.ID, "")
	must(t, "list preferences", err)
	if len(got) != 1 || got[0].Recipient != "ops@acme.example" || got[0].Enabled {
		t.Errorf("after refused writes: %+v", got)
	}
}

// sameJSON reports whether two JSON documents hold the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return cmp.Equal(va, vb)
}

func testNotifySettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createTenant(t, s, "a")
	b := createTenant(t, s, "b")
	_, err := s.NotifySettings(ctx, a.ID)
	wantErr(t, "settings before any", err, store.ErrNotFound)

	first := []byte(`{"digest": "0 16 * * FRI", "recipients": ["ops@acme.example"]}`)
	v, err := s.PutNotifySettings(ctx, a.ID, first, "admin@msp.example", t0)
	must(t, "put settings", err)
	if v != 1 {
		t.Errorf("first version %d, want 1", v)
	}
	second := []byte(`{"time_zone": "Europe/Berlin", "recipients": ["ops@acme.example", "lead@acme.example"]}`)
	v, err = s.PutNotifySettings(ctx, a.ID, second, "admin2@msp.example", t0.Add(time.Minute))
	must(t, "put settings again", err)
	if v != 2 {
		t.Errorf("second version %d, want 2", v)
	}
	got, err := s.NotifySettings(ctx, a.ID)
	must(t, "get settings", err)
	if got.TenantID != a.ID || got.Version != 2 || got.UpdatedBy != "admin2@msp.example" || !got.UpdatedAt.Equal(stored(t0.Add(time.Minute))) ||
		!sameJSON(t, got.Settings, second) {
		t.Errorf("settings %+v (%s)", got, got.Settings)
	}
	checkUTC(t, "settings", got.UpdatedAt)

	// Refused writes change nothing.
	for _, bad := range [][]byte{nil, []byte(`[1, 2]`), []byte(`{"digest":`), []byte(`"x"`)} {
		_, err := s.PutNotifySettings(ctx, a.ID, bad, "x", t0)
		wantErr(t, "put "+string(bad), err, store.ErrInvalid)
	}
	_, err = s.PutNotifySettings(ctx, "no-such-tenant", first, "x", t0)
	wantErr(t, "put for an unknown tenant", err, store.ErrNotFound)
	got2, err := s.NotifySettings(ctx, a.ID)
	must(t, "get settings", err)
	if got2.Version != 2 || !bytes.Equal(got2.Settings, got.Settings) {
		t.Errorf("refused writes changed the settings: %+v", got2)
	}

	_, err = s.PutNotifySettings(ctx, b.ID, first, "admin@msp.example", t0)
	must(t, "put settings of b", err)
	all, err := s.AllNotifySettings(ctx)
	must(t, "all settings", err)
	if len(all) != 2 || all[0].TenantID != a.ID || all[1].TenantID != b.ID || !sameJSON(t, all[1].Settings, first) {
		t.Errorf("all settings: %+v", all)
	}

	must(t, "delete settings of b", s.DeleteNotifySettings(ctx, b.ID))
	wantErr(t, "delete again", s.DeleteNotifySettings(ctx, b.ID), store.ErrNotFound)
	_, err = s.NotifySettings(ctx, b.ID)
	wantErr(t, "settings after delete", err, store.ErrNotFound)
	if _, err := s.NotifySettings(ctx, a.ID); err != nil {
		t.Errorf("deleting b's settings touched a's: %v", err)
	}
}

func testNotifySigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.NotifySigningKey(ctx, []byte("short"))
	wantErr(t, "short key", err, store.ErrInvalid)
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k := bytes.Repeat([]byte{byte('a' + i)}, 32)
			got, err := s.NotifySigningKey(ctx, k)
			if err != nil {
				t.Errorf("signing key %d: %v", i, err)
			}
			keys[i] = got
		})
	}
	wg.Wait()
	for i := range keys {
		if len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("collectors got different keys: %q and %q", keys[0], keys[i])
		}
	}
	stored := false
	for j := range keys {
		stored = stored || bytes.Equal(keys[0], bytes.Repeat([]byte{byte('a' + j)}, 32))
	}
	if !stored {
		t.Errorf("the key %q is none of the ones the collectors offered", keys[0])
	}
	again, err := s.NotifySigningKey(ctx, bytes.Repeat([]byte{'z'}, 40))
	must(t, "signing key again", err)
	if !bytes.Equal(again, keys[0]) {
		t.Errorf("the stored key changed to %q", again)
	}
}
