package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// TimeZones checks the web report's time zones of users and tenants on a
// new store; each store's tests call it.
func TimeZones(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	if _, err := s.CreateTenant(ctx, "tn_a", "acme", at); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "u_a", TenantID: "tn_a", Email: "a@acme.test", Role: store.RoleViewer, TokenHash: "ha", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	zones := func() (string, string) {
		t.Helper()
		u, tn, err := s.TimeZones(ctx, "u_a", "tn_a")
		if err != nil {
			t.Fatalf("TimeZones: %v", err)
		}
		return u, tn
	}
	if u, tn := zones(); u != "" || tn != "" {
		t.Errorf("zones before any is set: %q, %q; want none", u, tn)
	}
	if err := s.SetTenantTimeZone(ctx, "tn_a", "Europe/Berlin", "admin@msp.test", at); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserTimeZone(ctx, "u_a", "America/New_York", at); err != nil {
		t.Fatal(err)
	}
	if u, tn := zones(); u != "America/New_York" || tn != "Europe/Berlin" {
		t.Errorf("zones: %q, %q; want America/New_York, Europe/Berlin", u, tn)
	}
	if err := s.SetUserTimeZone(ctx, "u_a", "Asia/Tokyo", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if u, _ := zones(); u != "Asia/Tokyo" {
		t.Errorf("user zone after a change: %q, want Asia/Tokyo", u)
	}
	// Unknown IDs read as no zone.
	if u, tn, err := s.TimeZones(ctx, "u_nobody", ""); err != nil || u != "" || tn != "" {
		t.Errorf("zones of nobody: %q, %q, %v", u, tn, err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"unknown user", s.SetUserTimeZone(ctx, "u_nobody", "UTC", at), store.ErrNotFound},
		{"unknown tenant", s.SetTenantTimeZone(ctx, "tn_nope", "UTC", "x", at), store.ErrNotFound},
		{"no user", s.SetUserTimeZone(ctx, "", "UTC", at), store.ErrInvalid},
		{"no time", s.SetTenantTimeZone(ctx, "tn_a", "UTC", "x", time.Time{}), store.ErrInvalid},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	// Nothing of the refused writes was kept.
	if u, tn := zones(); u != "Asia/Tokyo" || tn != "Europe/Berlin" {
		t.Errorf("zones after refused writes: %q, %q", u, tn)
	}
	// An empty zone clears.
	if err := s.SetUserTimeZone(ctx, "u_a", "", at); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTenantTimeZone(ctx, "tn_a", "", "admin@msp.test", at); err != nil {
		t.Fatal(err)
	}
	if u, tn := zones(); u != "" || tn != "" {
		t.Errorf("zones after clearing: %q, %q; want none", u, tn)
	}
}
