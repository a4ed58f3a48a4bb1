package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDeploymentWindow(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		want    *DeploymentWindow
		problem string // in the error, with its place
	}{
		{"not set", ``, nil, ""},
		{"both sides", "deployment_window {\n  before = \"5m\"\n  after  = \"1h\"\n}\n",
			&DeploymentWindow{Before: Duration(5 * time.Minute), After: Duration(time.Hour)}, ""},
		{"one side, the other default", "deployment_window {\n  after = \"2h\"\n}\n",
			&DeploymentWindow{Before: Duration(10 * time.Minute), After: Duration(2 * time.Hour)}, ""},
		{"not a duration", "deployment_window {\n  before = \"soon\"\n}\n", nil, "policy.hcl:2:12"},
		{"too long", "deployment_window {\n  after = \"2d\"\n}\n", nil, "policy.hcl:2:11: error: Invalid duration"},
		{"nothing", "deployment_window {\n  before = \"0s\"\n  after = \"0s\"\n}\n", nil, "both 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol, err := Parse([]byte(c.src), "policy.hcl")
			if c.problem != "" {
				msg := ""
				var d *DiagnosticsError
				if errors.As(err, &d) {
					var buf bytes.Buffer
					_ = d.WriteText(&buf)
					msg = buf.String()
				} else if err != nil {
					msg = err.Error()
				}
				if !strings.Contains(msg, c.problem) {
					t.Fatalf("error %q, want one with %q", msg, c.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case (pol.DeploymentWindow == nil) != (c.want == nil):
				t.Fatalf("window %+v, want %+v", pol.DeploymentWindow, c.want)
			case c.want != nil && *pol.DeploymentWindow != *c.want:
				t.Fatalf("window %+v, want %+v", *pol.DeploymentWindow, *c.want)
			}
			// The JSON form says the same.
			doc, err := json.Marshal(pol)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(doc)
			if err != nil {
				t.Fatal(err)
			}
			if (back.DeploymentWindow == nil) != (c.want == nil) || (c.want != nil && *back.DeploymentWindow != *c.want) {
				t.Errorf("JSON round trip: %s", doc)
			}
		})
	}
	if _, err := Decode([]byte(`{"deployment_window":{"before":"-5m","after":"30m"}}`)); err == nil || !strings.Contains(err.Error(), "deployment_window.before") {
		t.Errorf("a negative side in JSON: %v", err)
	}
}
