package connector

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

func TestFromAPI(t *testing.T) {
	prefix := "label:"
	a := api.Connector{Name: "acme-snow", Tenant: " acme ", Kind: KindServiceNow, URL: "https://acme.service-now.com", Poll: "10m",
		Filter: "assignment_group.name=Linux Ops", PageSize: 50, CredentialsFile: "/etc/driftwatch/snow.json",
		Mapping: &api.ConnectorMapping{Fields: map[string]string{"items": "u_driftwatch_items"}, States: map[string]string{"Scheduled": "approved"},
			Approvals: map[string]string{"ok": "approved"}, ItemLabelPrefix: &prefix, DefaultItems: []string{"file:/etc/**"},
			Origin: "customer", TimeZone: "Europe/Berlin"}}
	cfg, err := FromAPI(a)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "acme-snow", Tenant: "acme", Kind: KindServiceNow, URL: "https://acme.service-now.com", Poll: 10 * time.Minute,
		Filter: "assignment_group.name=Linux Ops", PageSize: 50, Credentials: CredentialSource{File: "/etc/driftwatch/snow.json"},
		Mapping: Mapping{Fields: map[string]string{"items": "u_driftwatch_items"}, States: map[string]ticket.State{"Scheduled": ticket.Approved},
			Approvals: map[string]Approval{"ok": ApprovalApproved}, ItemLabelPrefix: "label:", HostLabelPrefix: DefaultHostLabelPrefix,
			DefaultItems: []string{"file:/etc/**"}, Origin: ticket.Customer, TimeZone: "Europe/Berlin"}}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
	// What the API shows goes back to the same configuration.
	back, err := FromAPI(ToAPI(cfg, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(cfg, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestFromAPIRefuses(t *testing.T) {
	ok := api.Connector{Name: "x", Tenant: "acme", Kind: KindWebhook, CredentialsEnv: "HOOK_SECRET"}
	for _, tt := range []struct {
		name  string
		edit  func(a *api.Connector)
		field string
	}{
		{"name", func(a *api.Connector) { a.Name = "../etc" }, "name"},
		{"tenant", func(a *api.Connector) { a.Tenant = " " }, "tenant"},
		{"kind", func(a *api.Connector) { a.Kind = "remedy" }, "kind"},
		{"url", func(a *api.Connector) { a.Kind = KindJira }, "url"},
		{"url scheme", func(a *api.Connector) { a.URL = "ftp://x" }, "url"},
		{"two credentials", func(a *api.Connector) { a.CredentialsFile = "/x.json" }, "credentials"},
		{"relative file", func(a *api.Connector) { a.CredentialsEnv, a.CredentialsFile = "", "x.json" }, "credentials_file"},
		{"env holding a secret", func(a *api.Connector) { a.CredentialsEnv = `{"secret":"x"}` }, "credentials_env"},
		{"poll", func(a *api.Connector) { a.Poll = "10s" }, "poll"},
		{"poll unit", func(a *api.Connector) { a.Poll = "soon" }, "poll"},
		{"page size", func(a *api.Connector) { a.PageSize = 5000 }, "page_size"},
		{"halopsa filter", func(a *api.Connector) { a.Kind, a.URL, a.Filter = KindHaloPSA, "https://acme.halopsa.com", "changes" }, "filter"},
		{"field", func(a *api.Connector) { a.Mapping = &api.ConnectorMapping{Fields: map[string]string{"colour": "x"}} }, "mapping.fields"},
		{"approval", func(a *api.Connector) { a.Mapping = &api.ConnectorMapping{Approvals: map[string]string{"y": "maybe"}} }, "mapping.approvals"},
		{"origin", func(a *api.Connector) { a.Mapping = &api.ConnectorMapping{Origin: "partner"} }, "mapping.origin"},
		{"zone", func(a *api.Connector) { a.Mapping = &api.ConnectorMapping{TimeZone: "Mars/Olympus"} }, "mapping.time_zone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ok
			tt.edit(&a)
			_, err := FromAPI(a)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("error %v, want one naming %q", err, tt.field)
			}
		})
	}
	if _, err := FromAPI(ok); err != nil {
		t.Errorf("valid connector: %v", err)
	}
}
