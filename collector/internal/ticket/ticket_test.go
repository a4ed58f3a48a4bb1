package ticket

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Spec)
		submit bool
		want   []policy.Problem
	}{
		{"complete", func(*Spec) {}, true, nil},
		{"empty title", func(s *Spec) { s.Title = " \t" }, false, []policy.Problem{{Field: "title", Message: "is required"}}},
		{"long title", func(s *Spec) { s.Title = strings.Repeat("x", 201) }, false, []policy.Problem{{Field: "title", Message: "is 201 bytes long; at most 200"}}},
		{"end before start", func(s *Spec) { s.Window.End = "2025-03-08T21:00" }, false,
			[]policy.Problem{{Field: "window.end", Message: "2025-03-08T21:00 is not after start 2025-03-08T22:00"}}},
		{"unknown time zone", func(s *Spec) { s.Window.TimeZone = "Berlin" }, false,
			[]policy.Problem{{Field: "window.time_zone", Message: `unknown time zone "Berlin": want an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"`}}},
		{"bad pattern", func(s *Spec) { s.Scope.Items = []string{"file:/etc/nginx/**", "file:etc/hosts", "pkg:openssl"} }, false,
			[]policy.Problem{
				{Field: "scope.items[1]", Message: `pattern "file:etc/hosts": file patterns must be absolute paths such as "file:/etc/hosts"`},
				{Field: "scope.items[2]", Message: `pattern "pkg:openssl": unknown kind "pkg" (known kinds: file, package, service, sysctl, user, group, port, command, inventory)`},
			}},
		{"bad label", func(s *Spec) { s.Scope.Labels = []string{"role=web", "prod"} }, false,
			[]policy.Problem{{Field: "scope.labels[1]", Message: `"prod" is not a label selector: want key=value such as "role=web"`}}},
		{"bad host", func(s *Spec) { s.Scope.Hosts = []string{"web 01", "web-[0-"} }, false,
			[]policy.Problem{
				{Field: "scope.hosts[0]", Message: `"web 01" is not a host name or a glob of host names such as "web-01" or "web-*"`},
				{Field: "scope.hosts[1]", Message: `"web-[0-" is not a host name or a glob of host names such as "web-01" or "web-*"`},
			}},
		{"bad reference", func(s *Spec) { s.Reference = "CHG 1" }, false,
			[]policy.Problem{{Field: "reference", Message: `"CHG 1" is not a ticket reference: want letters, digits and . _ : / # - (up to 64), such as "CHG0030001" or "JIRA-1322"`}}},
		{"references", func(s *Spec) { s.Reference = "JIRA-1322" }, true, nil},
		{"unknown class and origin", func(s *Spec) { s.Class, s.Origin = "urgent", "vendor" }, false,
			[]policy.Problem{
				{Field: "origin", Message: `"vendor" is not an origin: want "internal" or "customer"`},
				{Field: "class", Message: `"urgent" is not a class: want "standard", "normal" or "emergency"`},
			}},
		{"bad notify", func(s *Spec) { s.Notify = []string{"noc@msp.example", "the NOC"} }, false,
			[]policy.Problem{{Field: "notify[1]", Message: `"the NOC" is not an email address such as "ops@example.com"`}}},
		{"a draft may be incomplete", func(s *Spec) { *s = Spec{Title: "t", Origin: Internal, Class: Normal} }, false, nil},
		{"submit needs a window and scope", func(s *Spec) { s.Window, s.Scope = nil, Scope{} }, true,
			[]policy.Problem{
				{Field: "scope.hosts", Message: `name at least one host (or "*" for every host) or give scope.labels before the ticket is submitted`},
				{Field: "scope.items", Message: `give at least one item pattern, such as "file:/etc/nginx/**", before the ticket is submitted`},
				{Field: "window", Message: "is required before the ticket is submitted"},
			}},
		{"labels alone are a host selector", func(s *Spec) { s.Scope.Hosts = nil }, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec()
			s.Origin, s.Class = Internal, Normal
			tt.edit(&s)
			err := s.Validate()
			if tt.submit {
				err = s.ValidateForSubmit()
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid spec: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, ve.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(err.Error(), "ticket ") || !strings.Contains(err.Error(), tt.want[0].Field+": ") {
				t.Errorf("message %q does not name the ticket and the field", err)
			}
		})
	}
}

// TestJSONGolden runs a customer change through the workflow and compares
// its JSON form, the document the store keeps, with the golden file; and
// reads it back.
func TestJSONGolden(t *testing.T) {
	pol := polCustomer()
	s := spec()
	yes := true
	s.Questions = Questions{
		Problem: "Connections are dropped at peak.", Touches: "The load balancer's health checks.",
		TestedInStaging: &yes, StagingNotes: "Load test at 5,000 connections.", RollbackPath: "Restore from the baseline.",
		EscalationOwner: "web-team@msp.example", DocsToUpdate: []string{"Runbook: web tier"},
	}
	tk, err := New("t_42", "acme", s, custEng, pol, t0)
	if err != nil {
		t.Fatal(err)
	}
	at := t0
	for _, st := range []struct {
		act Action
		by  Actor
		msg string
	}{
		{ActionSubmit, custEng, ""},
		{ActionReview, mspEng, "Config checked with nginx -t in staging."},
		{ActionApprove, mspAppr, ""},
		{ActionApprove, custBoss, "Go ahead."},
	} {
		at = at.Add(time.Hour)
		if _, err := tk.Apply(st.act, st.by, pol, at, st.msg); err != nil {
			t.Fatal(err)
		}
	}
	got, err := json.MarshalIndent(tk, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/ticket.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("JSON (-golden +got):\n%s", diff)
	}
	var back Ticket
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tk, &back); diff != "" {
		t.Errorf("JSON round trip (-before +after):\n%s", diff)
	}
	start, end, ok := back.WindowBounds()
	if !ok || !start.Equal(time.Date(2025, 3, 8, 21, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2025, 3, 9, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("WindowBounds = %s, %s, %v", start, end, ok)
	}
}
