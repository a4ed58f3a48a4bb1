package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// connectorTests are the conformance tests of this part of the store.
func connectorTests() []test {
	return []test{
		{"Connectors", testConnectors},
		{"ConnectorRegister", testConnectorRegister},
		{"ConnectorInvalid", testConnectorInvalid},
		{"ConnectorState", testConnectorState},
		{"ConnectorLease", testConnectorLease},
		{"ConnectorLeaseRace", testConnectorLeaseRace},
	}
}

func newConnector(tenantID, name string) store.Connector {
	return store.Connector{
		Name: name, TenantID: tenantID, Kind: "servicenow", Source: store.ConnectorFromAPI,
		// Odd spacing and key order, which must come back as sent.
		Config:    []byte(`{"url": "https://acme.service-now.com",  "kind":"servicenow", "poll":"5m"}`),
		Secret:    []byte{0x01, 0x00, 0xff, 0x42},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func storedConnector(c store.Connector) store.Connector {
	c.CreatedAt, c.UpdatedAt = stored(c.CreatedAt), stored(c.UpdatedAt)
	if len(c.Secret) == 0 {
		c.Secret = nil
	}
	return c
}

func testConnectors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "acme")
	createTenant(t, s, "globex")
	a := newConnector("acme", "acme-snow")
	b := newConnector("globex", "globex-hook")
	b.Kind, b.Secret = "webhook", nil
	must(t, "create a", s.CreateConnector(ctx, a))
	must(t, "create b", s.CreateConnector(ctx, b))
	wantErr(t, "create a again", s.CreateConnector(ctx, a), store.ErrExists)
	wantErr(t, "create in a missing tenant", s.CreateConnector(ctx, newConnector("nosuch", "x")), store.ErrNotFound)

	got, err := s.Connector(ctx, "acme-snow")
	must(t, "connector", err)
	checkUTC(t, "connector", got.CreatedAt, got.UpdatedAt)
	diff(t, "connector", storedConnector(a), got)

	all, err := s.ListConnectors(ctx, "")
	must(t, "list all", err)
	diff(t, "list all", []store.Connector{storedConnector(a), storedConnector(b)}, all)
	mine, err := s.ListConnectors(ctx, "globex")
	must(t, "list globex", err)
	diff(t, "list globex", []store.Connector{storedConnector(b)}, mine)

	up := a
	up.Config = []byte(`{"url":"https://acme2.service-now.com"}`)
	up.Secret = nil
	up.CreatedAt = t0.Add(time.Hour) // ignored: CreatedAt stays
	up.UpdatedAt = t0.Add(2 * time.Hour)
	must(t, "update", s.UpdateConnector(ctx, up))
	got, err = s.Connector(ctx, "acme-snow")
	must(t, "connector after update", err)
	want := storedConnector(up)
	want.CreatedAt = stored(t0)
	diff(t, "connector after update", want, got)
	wantErr(t, "update a missing one", s.UpdateConnector(ctx, newConnector("acme", "nosuch")), store.ErrNotFound)

	must(t, "save state", s.SaveConnectorState(ctx, store.ConnectorState{Name: "acme-snow", TenantID: "acme", State: []byte(`{}`), UpdatedAt: t0}))
	must(t, "claim", func() error { _, err := s.ClaimConnector(ctx, "acme-snow", "c1", t0, time.Minute); return err }())
	must(t, "delete", s.DeleteConnector(ctx, "acme-snow"))
	_, err = s.Connector(ctx, "acme-snow")
	wantErr(t, "connector after delete", err, store.ErrNotFound)
	_, err = s.ConnectorState(ctx, "acme-snow")
	wantErr(t, "state after delete", err, store.ErrNotFound)
	won, err := s.ClaimConnector(ctx, "acme-snow", "c2", t0, time.Minute)
	must(t, "claim after delete", err)
	if !won {
		t.Error("the lease of a deleted connector is still held")
	}
	wantErr(t, "delete again", s.DeleteConnector(ctx, "acme-snow"), store.ErrNotFound)
}

func testConnectorRegister(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "acme")
	c := newConnector("acme", "from-file")
	c.Source, c.Secret = store.ConnectorFromConfig, nil
	must(t, "register", s.RegisterConnector(ctx, c))
	c2 := c
	c2.Config = []byte(`{"poll":"10m"}`)
	c2.CreatedAt, c2.UpdatedAt = t0.Add(time.Hour), t0.Add(time.Hour)
	must(t, "register again", s.RegisterConnector(ctx, c2))
	got, err := s.Connector(ctx, "from-file")
	must(t, "connector", err)
	want := storedConnector(c2)
	want.CreatedAt = stored(t0)
	diff(t, "registered connector", want, got)

	// The API cannot take or change a configuration-file connector, nor
	// a configuration file an API one.
	api := newConnector("acme", "from-file")
	wantErr(t, "create over a registered one", s.CreateConnector(ctx, api), store.ErrExists)
	wantErr(t, "update a registered one", s.UpdateConnector(ctx, api), store.ErrNotFound)
	must(t, "create api", s.CreateConnector(ctx, newConnector("acme", "from-api")))
	reg := newConnector("acme", "from-api")
	reg.Source = store.ConnectorFromConfig
	wantErr(t, "register over an api one", s.RegisterConnector(ctx, reg), store.ErrExists)
	got, err = s.Connector(ctx, "from-api")
	must(t, "api connector", err)
	diff(t, "api connector untouched", storedConnector(newConnector("acme", "from-api")), got)
}

func testConnectorInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "acme")
	bad := newConnector("acme", "bad")
	bad.Config = []byte(`{"url":`)
	if err := s.CreateConnector(ctx, bad); err == nil {
		t.Error("a config that is not JSON was stored")
	}
	if err := s.CreateConnector(ctx, newConnector("acme", "")); err == nil {
		t.Error("a connector without a name was stored")
	}
	if err := s.SaveConnectorState(ctx, store.ConnectorState{Name: "x", TenantID: "acme", State: []byte("nope"), UpdatedAt: t0}); err == nil {
		t.Error("a state that is not JSON was stored")
	}
	all, err := s.ListConnectors(ctx, "")
	must(t, "list", err)
	if len(all) != 0 {
		t.Errorf("invalid connectors were stored: %v", all)
	}
}

func testConnectorState(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ConnectorState(ctx, "acme-snow")
	wantErr(t, "state before the first save", err, store.ErrNotFound)
	st := store.ConnectorState{Name: "acme-snow", TenantID: "acme",
		State:       []byte(`{"cursor": {"updated_at":"2026-03-01T11:00:00Z"}, "hashes":{"CHG1":"ab"}}`),
		LastSuccess: t0, UpdatedAt: t0}
	must(t, "save", s.SaveConnectorState(ctx, st))
	other := store.ConnectorState{Name: "globex-jira", TenantID: "globex", State: []byte(`{}`),
		LastError: "credentials refused", UpdatedAt: t0.Add(time.Minute)}
	must(t, "save other", s.SaveConnectorState(ctx, other))
	want := func(st store.ConnectorState) store.ConnectorState {
		st.LastSuccess, st.UpdatedAt = stored(st.LastSuccess), stored(st.UpdatedAt)
		return st
	}
	got, err := s.ConnectorState(ctx, "acme-snow")
	must(t, "state", err)
	checkUTC(t, "state", got.LastSuccess, got.UpdatedAt)
	diff(t, "state", want(st), got)

	st.State = []byte(`{"cursor":{}}`)
	st.LastSuccess, st.LastError, st.UpdatedAt = time.Time{}, "rate limited", t0.Add(time.Hour)
	must(t, "replace", s.SaveConnectorState(ctx, st))
	got, err = s.ConnectorState(ctx, "acme-snow")
	must(t, "state after replace", err)
	diff(t, "state after replace", want(st), got)

	all, err := s.ConnectorStates(ctx, "")
	must(t, "states", err)
	diff(t, "states", []store.ConnectorState{want(st), want(other)}, all)
	mine, err := s.ConnectorStates(ctx, "globex")
	must(t, "states of globex", err)
	diff(t, "states of globex", []store.ConnectorState{want(other)}, mine)
}

func testConnectorLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	claim := func(owner string, at time.Time, want bool) {
		t.Helper()
		got, err := s.ClaimConnector(ctx, "acme-snow", owner, at, time.Minute)
		must(t, "claim by "+owner, err)
		if got != want {
			t.Errorf("claim by %s at %s: got %v, want %v", owner, at.Sub(t0), got, want)
		}
	}
	claim("c1", t0, true)
	claim("c2", t0.Add(30*time.Second), false)
	claim("c1", t0.Add(50*time.Second), true) // renewed until t0+110s
	claim("c2", t0.Add(100*time.Second), false)
	claim("c2", t0.Add(110*time.Second), true) // expired
	claim("c1", t0.Add(120*time.Second), false)
	must(t, "release by a non-owner", s.ReleaseConnector(ctx, "acme-snow", "c1"))
	claim("c1", t0.Add(121*time.Second), false)
	must(t, "release", s.ReleaseConnector(ctx, "acme-snow", "c2"))
	claim("c1", t0.Add(122*time.Second), true)
	if _, err := s.ClaimConnector(ctx, "acme-snow", "", t0, time.Minute); err == nil {
		t.Error("a claim without an owner succeeded")
	}
}

func testConnectorLeaseRace(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			won[i], errs[i] = s.ClaimConnector(t.Context(), "acme-snow", string(rune('a'+i)), t0, time.Minute)
		})
	}
	wg.Wait()
	winners := 0
	for i := range n {
		must(t, "claim", errs[i])
		if won[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d collectors hold the lease at once, want 1", winners)
	}
}
