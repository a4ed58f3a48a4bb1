package config

import (
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/connector"
)

func TestConnectors(t *testing.T) {
	src := `
insecure = true
listen = "127.0.0.1:8080"
connector "acme-sn" {
  tenant = "acme"
  kind = "servicenow"
  url = "https://acme.service-now.com"
  credentials_file = "/etc/driftwatch/acme-sn.json"
  poll = "10m"
  filter = "assignment_group.name=Linux Ops"
  mapping {
    fields = { items = "u_driftwatch_items" }
    states = { "-2" = "approved" }
    time_zone = "Europe/Berlin"
    origin = "customer"
  }
}
connector "acme-hook" {
  tenant = "acme"
  kind = "webhook"
  credentials_env = "DW_ACME_HOOK"
}
`
	cfg, err := Parse([]byte(src), "collector.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Connectors) != 2 {
		t.Fatalf("connectors %+v", cfg.Connectors)
	}
	sn := cfg.Connectors[0]
	if sn.Kind != connector.KindServiceNow || sn.Poll != 10*time.Minute || sn.Credentials.File != "/etc/driftwatch/acme-sn.json" ||
		sn.Mapping.Fields["items"] != "u_driftwatch_items" || sn.Mapping.TimeZone != "Europe/Berlin" || sn.Mapping.Origin != "customer" ||
		sn.Mapping.ItemLabelPrefix != connector.DefaultItemLabelPrefix {
		t.Errorf("servicenow connector %+v", sn)
	}
	if h := cfg.Connectors[1]; h.Credentials.Env != "DW_ACME_HOOK" || h.Poll != connector.DefaultPoll {
		t.Errorf("webhook connector %+v", h)
	}
}

func TestConnectorErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"unknown kind", `tenant = "acme"` + "\n" + `kind = "remedy"` + "\n" + `url = "https://x.example"` + "\n" + `credentials_file = "/c.json"`, "collector.hcl:4,8-16: Unknown connector kind"},
		{"relative credentials", `tenant = "acme"` + "\n" + `kind = "jira"` + "\n" + `url = "https://x.example"` + "\n" + `credentials_file = "c.json"`, "collector.hcl:6,20-28: Invalid path"},
		{"no credentials", `tenant = "acme"` + "\n" + `kind = "jira"` + "\n" + `url = "https://x.example"`, "collector.hcl:2,11-15: Missing credentials"},
		{"password in url", `tenant = "acme"` + "\n" + `kind = "jira"` + "\n" + `url = "https://bob:hunter22@x.example"` + "\n" + `credentials_env = "X"`, "must not hold a user name or password"},
		{"short poll", `tenant = "acme"` + "\n" + `kind = "jira"` + "\n" + `url = "https://x.example"` + "\n" + `credentials_env = "X"` + "\n" + `poll = "5s"`, "collector.hcl:7,8-12: Poll interval too short"},
		{"bad state", `tenant = "acme"` + "\n" + `kind = "jira"` + "\n" + `url = "https://x.example"` + "\n" + `credentials_env = "X"` + "\n" + `mapping {` + "\n" + `states = { Done = "finished" }` + "\n}", "Unknown ticket state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "insecure = true\nconnector \"c1\" {\n" + tc.body + "\n}\n"
			_, err := Parse([]byte(src), "collector.hcl")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
