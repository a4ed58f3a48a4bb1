package reporter

import (
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func validTicketForm() url.Values {
	return url.Values{
		FieldTenant: {"t-acme"}, FieldTitle: {"Harden nginx TLS"}, FieldOrigin: {"customer"}, FieldClass: {"normal"},
		FieldReference: {"CHG0030001"}, FieldDescription: {"Disable TLS 1.0\r\nand 1.1"}, FieldImpact: {"Old clients fail"},
		FieldRollbackPlan: {"Restore nginx.conf"}, FieldHosts: {"web-01", "web-02", "web-01"}, FieldHostPatterns: {"edge-*\nweb-02"},
		FieldLabels: {"role=web, env=prod\nrole=web"}, FieldItemPatterns: {"file:/etc/nginx/**\r\n\r\nservice:nginx.service\n"},
		FieldWindowStart: {"2024-11-20T22:00"}, FieldWindowEnd: {"2024-11-20T23:30"}, FieldTimeZone: {"Europe/Berlin"},
		FieldNotify:                                 {"noc@msp.example, helpdesk@acme.example"},
		FieldAnswerPrefix + QuestionProblem:         {"Audit finding"},
		FieldAnswerPrefix + QuestionTestedInStaging: {"yes"},
	}
}

func TestParseTicketFormValid(t *testing.T) {
	d, errs := ParseTicketForm(validTicketForm(), nil)
	if errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	if d.Description != "Disable TLS 1.0\nand 1.1" {
		t.Errorf("description %q: CRLF not normalized", d.Description)
	}
	for name, got := range map[string][]string{
		"web-01 web-02 edge-*":                     d.Hosts,
		"role=web env=prod":                        d.Labels,
		"file:/etc/nginx/** service:nginx.service": d.ItemPatterns,
		"noc@msp.example helpdesk@acme.example":    d.Notify,
	} {
		if diff := cmp.Diff(name, joinSpace(got)); diff != "" {
			t.Errorf("list (-want +got):\n%s", diff)
		}
	}
	// 22:00 in Berlin in November is 21:00 UTC.
	if !d.Start.Equal(time.Date(2024, 11, 20, 21, 0, 0, 0, time.UTC)) || !d.End.Equal(time.Date(2024, 11, 20, 22, 30, 0, 0, time.UTC)) {
		t.Errorf("window %v – %v, want 21:00–22:30 UTC", d.Start.UTC(), d.End.UTC())
	}
	if diff := cmp.Diff(map[string]string{QuestionProblem: "Audit finding", QuestionTestedInStaging: "yes"}, d.Answers); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func joinSpace(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestParseTicketFormWithoutWindow(t *testing.T) {
	v := validTicketForm()
	v.Del(FieldWindowStart)
	v.Del(FieldWindowEnd)
	v.Del(FieldTimeZone)
	d, errs := ParseTicketForm(v, nil)
	if errs != nil || !d.Start.IsZero() {
		t.Errorf("a ticket planned later: errors %v, start %v", errs, d.Start)
	}
}

func TestParseTicketFormErrors(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(url.Values)
		field string
	}{
		{"no title", func(v url.Values) { v.Del(FieldTitle) }, FieldTitle},
		{"reference with spaces", func(v url.Values) { v.Set(FieldReference, "CHG 1") }, FieldReference},
		{"bad origin", func(v url.Values) { v.Set(FieldOrigin, "vendor") }, FieldOrigin},
		{"bad class", func(v url.Values) { v.Set(FieldClass, "urgent") }, FieldClass},
		{"no description", func(v url.Values) { v.Set(FieldDescription, "  ") }, FieldDescription},
		{"no rollback plan", func(v url.Values) { v.Set(FieldRollbackPlan, "  ") }, FieldRollbackPlan},
		{"no scope", func(v url.Values) { v.Del(FieldHosts); v.Del(FieldHostPatterns); v.Del(FieldLabels) }, FieldHosts},
		{"label without =", func(v url.Values) { v.Set(FieldLabels, "web") }, FieldLabels},
		{"pattern without kind", func(v url.Values) { v.Set(FieldItemPatterns, "/etc/nginx/**") }, FieldItemPatterns},
		{"not an email", func(v url.Values) { v.Set(FieldNotify, "noc") }, FieldNotify},
		{"unknown zone", func(v url.Values) { v.Set(FieldTimeZone, "Mars/Olympus") }, FieldTimeZone},
		{"bad start", func(v url.Values) { v.Set(FieldWindowStart, "tonight") }, FieldWindowStart},
		{"start without end", func(v url.Values) { v.Del(FieldWindowEnd) }, FieldWindowEnd},
		{"end before start", func(v url.Values) { v.Set(FieldWindowEnd, "2024-11-20T21:00") }, FieldWindowEnd},
		{"answer not a choice", func(v url.Values) { v.Set(FieldAnswerPrefix+QuestionTestedInStaging, "maybe") }, FieldAnswerPrefix + QuestionTestedInStaging},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validTicketForm()
			tt.edit(v)
			d, errs := ParseTicketForm(v, nil)
			if len(errs) != 1 || errs.Get(tt.field) == "" {
				t.Errorf("errors %v, want exactly one, for %s", errs, tt.field)
			}
			if !d.Start.IsZero() {
				t.Error("an invalid draft carries a parsed window")
			}
			if d.Title == "" && tt.field != FieldTitle {
				t.Error("the draft lost its values for redisplay")
			}
		})
	}
	// A tenant may require a question.
	qs := append([]Question{{ID: "backup", Text: "Backup taken?", Required: true}}, DefaultQuestions...)
	if _, errs := ParseTicketForm(validTicketForm(), qs); errs.Get(FieldAnswerPrefix+"backup") == "" {
		t.Errorf("required question left empty: errors %v", errs)
	}
}
