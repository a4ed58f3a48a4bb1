package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/connector"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
)

// connectorEnv is a collector whose connector routes have a sealer (or
// none).
func connectorEnv(t *testing.T, withSealer bool) (*env, *connector.Sealer) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "collector.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := connector.LoadSealer(filepath.Join(t.TempDir(), connector.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Store: st, Log: zaptest.NewLogger(t)}
	if withSealer {
		opt.ConnectorSealer = sealer
	}
	srv := httptest.NewServer(New(opt).Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv}, sealer
}

// call sends a JSON request and decodes a 2xx answer into out; it returns
// the status and, for an error, its body.
func (e *env) call(method, path, cred string, in, out any) (int, api.Error, string) {
	e.t.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ae api.Error
	switch {
	case resp.StatusCode >= 400:
		_ = json.Unmarshal(raw, &ae)
	case out != nil:
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, ae, string(raw)
}

func TestConnectorAPI(t *testing.T) {
	e, sealer := connectorEnv(t, true)
	acme, globex := e.tenant("acme"), e.tenant("globex")
	_, msp := userToken(t, e, "", store.RoleAdmin)
	_, acmeAdmin := userToken(t, e, acme.ID, store.RoleAdmin)
	_, globexAdmin := userToken(t, e, globex.ID, store.RoleAdmin)
	_, approver := userToken(t, e, acme.ID, store.RoleApprover)

	snow := api.Connector{Name: "acme-snow", Tenant: "acme", Kind: "servicenow", URL: "https://acme.service-now.com", Poll: "10m",
		Credentials: &api.ConnectorCredentials{Username: "driftwatch", Password: "s3cret-passw0rd"},
		Mapping:     &api.ConnectorMapping{Fields: map[string]string{"items": "u_driftwatch_items"}}}
	var got api.Connector
	code, ae, raw := e.call(http.MethodPost, api.PathConnectors, acmeAdmin, snow, &got)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %+v", code, ae)
	}
	if strings.Contains(raw, "s3cret-passw0rd") || got.Credentials != nil || !got.HasCredentials || got.Source != api.ConnectorFromAPI || got.Poll != "10m" {
		t.Errorf("create answered %s", raw)
	}
	// Stored sealed: the password is not in the store, and opens with
	// the collector's key.
	row, err := e.st.Connector(t.Context(), "acme-snow")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.Secret, []byte("s3cret-passw0rd")) || bytes.Contains(row.Config, []byte("s3cret-passw0rd")) {
		t.Error("the password is stored in the clear")
	}
	if creds, err := sealer.Open("acme-snow", row.Secret); err != nil || creds.Password != "s3cret-passw0rd" {
		t.Errorf("stored credentials open to %v, %v", creds.Username, err)
	}

	// Refusals.
	for _, tt := range []struct {
		name      string
		method    string
		path      string
		cred      string
		body      any
		wantCode  int
		wantField string
	}{
		{"not an admin", http.MethodPost, api.PathConnectors, approver, snow, http.StatusForbidden, ""},
		{"no token", http.MethodGet, api.PathConnectors, "", nil, http.StatusUnauthorized, ""},
		{"name taken", http.MethodPost, api.PathConnectors, acmeAdmin, snow, http.StatusConflict, "name"},
		{"bad name", http.MethodPost, api.PathConnectors, acmeAdmin, api.Connector{Name: "a b", Tenant: "acme", Kind: "webhook"}, http.StatusBadRequest, "name"},
		{"bad kind", http.MethodPost, api.PathConnectors, acmeAdmin, api.Connector{Name: "x", Tenant: "acme", Kind: "remedy"}, http.StatusBadRequest, "kind"},
		{"poll too short", http.MethodPost, api.PathConnectors, acmeAdmin, api.Connector{Name: "x", Tenant: "acme", Kind: "servicenow", URL: "https://a.example", Poll: "5s"}, http.StatusBadRequest, "poll"},
		{"url with password", http.MethodPost, api.PathConnectors, acmeAdmin, api.Connector{Name: "x", Tenant: "acme", Kind: "jira", URL: "https://u:p@a.example"}, http.StatusBadRequest, "url"},
		{"no credentials", http.MethodPost, api.PathConnectors, acmeAdmin, api.Connector{Name: "x", Tenant: "acme", Kind: "webhook"}, http.StatusBadRequest, "credentials"},
		{"unknown state", http.MethodPost, api.PathConnectors, acmeAdmin, api.Connector{Name: "x", Tenant: "acme", Kind: "webhook", CredentialsEnv: "HOOK",
			Mapping: &api.ConnectorMapping{States: map[string]string{"Done": "finished"}}}, http.StatusBadRequest, "mapping.states"},
		{"another tenant", http.MethodPost, api.PathConnectors, globexAdmin, api.Connector{Name: "x", Tenant: "acme", Kind: "webhook", CredentialsEnv: "HOOK"}, http.StatusBadRequest, "tenant"},
		{"another tenant's connector", http.MethodGet, api.PathConnectors + "/acme-snow", globexAdmin, nil, http.StatusNotFound, ""},
		{"rename", http.MethodPut, api.PathConnectors + "/acme-snow", acmeAdmin, api.Connector{Name: "other", Tenant: "acme", Kind: "webhook"}, http.StatusBadRequest, "name"},
		{"missing", http.MethodDelete, api.PathConnectors + "/nosuch", acmeAdmin, nil, http.StatusNotFound, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, ae, _ := e.call(tt.method, tt.path, tt.cred, tt.body, nil)
			if code != tt.wantCode || ae.Field != tt.wantField {
				t.Errorf("%d field %q (%s), want %d field %q", code, ae.Field, ae.Error, tt.wantCode, tt.wantField)
			}
		})
	}

	// A change without credentials keeps the stored ones.
	snow.Credentials, snow.Poll = nil, "15m"
	if code, ae, _ := e.call(http.MethodPut, api.PathConnectors+"/acme-snow", acmeAdmin, snow, &got); code != http.StatusOK {
		t.Fatalf("put: %d %+v", code, ae)
	}
	if got.Poll != "15m" || !got.HasCredentials {
		t.Errorf("after put: %+v", got)
	}

	// A configuration-file connector shows, read-only, with its status.
	cfgDoc, _ := json.Marshal(connector.ToAPI(connector.Config{Name: "acme-jira", Kind: "jira", URL: "https://acme.atlassian.net", Poll: time.Minute,
		Credentials: connector.CredentialSource{File: "/etc/driftwatch/jira.json"}}, "acme"))
	now := time.Now()
	if err := e.st.RegisterConnector(t.Context(), store.Connector{Name: "acme-jira", TenantID: acme.ID, Kind: "jira", Source: store.ConnectorFromConfig,
		Config: cfgDoc, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	state := connector.StoreState{Store: e.st}
	if err := state.Save(t.Context(), "acme-jira", connector.State{Status: connector.Status{Connector: "acme-jira", TenantID: acme.ID,
		LastSuccess: now.Add(-time.Hour), LastError: "connector acme-jira: credentials refused", Created: 4, Rejected: 1,
		Rejects: []connector.Reject{{Reference: "OPS-2", Reason: "no window"}}}}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := e.call(http.MethodDelete, api.PathConnectors+"/acme-jira", acmeAdmin, nil, nil); code != http.StatusConflict {
		t.Errorf("delete of a configuration-file connector: %d, want 409", code)
	}
	if code, _, _ := e.call(http.MethodPut, api.PathConnectors+"/acme-jira", acmeAdmin, api.Connector{Tenant: "acme", Kind: "jira"}, nil); code != http.StatusConflict {
		t.Errorf("put of a configuration-file connector: %d, want 409", code)
	}

	var list api.ConnectorList
	if code, ae, _ := e.call(http.MethodGet, api.PathConnectors+"?tenant=acme", msp, nil, &list); code != http.StatusOK {
		t.Fatalf("list: %d %+v", code, ae)
	}
	if len(list.Connectors) != 2 || list.Connectors[0].Name != "acme-jira" || list.Connectors[1].Name != "acme-snow" {
		t.Fatalf("list: %+v", list.Connectors)
	}
	jira := list.Connectors[0]
	if jira.Source != api.ConnectorFromConfig || jira.Tenant != "acme" || jira.CredentialsFile != "/etc/driftwatch/jira.json" || jira.Status == nil ||
		!jira.Status.Stale || jira.Status.Created != 4 || len(jira.Status.Rejects) != 1 {
		t.Errorf("configuration-file connector: %+v status %+v", jira, jira.Status)
	}
	if list.Connectors[1].Status != nil {
		t.Errorf("a connector that never ran has a status: %+v", list.Connectors[1].Status)
	}
	if code, _, _ := e.call(http.MethodGet, api.PathConnectors, globexAdmin, nil, &list); code != http.StatusOK || len(list.Connectors) != 0 {
		t.Errorf("globex's admin sees %d connectors, want none", len(list.Connectors))
	}

	if code, _, _ := e.call(http.MethodDelete, api.PathConnectors+"/acme-snow", acmeAdmin, nil, nil); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code, _, _ := e.call(http.MethodGet, api.PathConnectors+"/acme-snow", acmeAdmin, nil, nil); code != http.StatusNotFound {
		t.Errorf("get after delete: %d", code)
	}
}

// Without a secrets key the collector refuses credentials it cannot keep
// safely, and takes a credentials file.
func TestConnectorAPINoSealer(t *testing.T) {
	e, _ := connectorEnv(t, false)
	e.tenant("acme")
	_, admin := userToken(t, e, "", store.RoleAdmin)
	hook := api.Connector{Name: "hook", Tenant: "acme", Kind: "webhook", Credentials: &api.ConnectorCredentials{Secret: "x-secret"}}
	if code, ae, _ := e.call(http.MethodPost, api.PathConnectors+"?tenant=acme", admin, hook, nil); code != http.StatusServiceUnavailable || ae.Field != "credentials" {
		t.Errorf("inline credentials without a key: %d %+v, want 503", code, ae)
	}
	hook.Credentials, hook.CredentialsFile = nil, "/etc/driftwatch/hook.json"
	if code, ae, _ := e.call(http.MethodPost, api.PathConnectors+"?tenant=acme", admin, hook, nil); code != http.StatusCreated {
		t.Errorf("credentials file: %d %+v, want 201", code, ae)
	}
}
