package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestExampleGolden loads the example policy and compares its JSON form,
// the form the store keeps and the API serves, with the golden file.
func TestExampleGolden(t *testing.T) {
	pol, err := Load("testdata/example.hcl")
	if err != nil {
		if d, ok := err.(*DiagnosticsError); ok {
			var buf bytes.Buffer
			_ = d.WriteText(&buf)
			t.Fatal(buf.String())
		}
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(pol, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/example.json"
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
		t.Errorf("JSON of testdata/example.hcl (-golden +got):\n%s", diff)
	}

	// The JSON form reads back to the same policy.
	back, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pol, back); diff != "" {
		t.Errorf("JSON round trip (-loaded +decoded):\n%s", diff)
	}
}

// TestExampleValues checks what the example file says in words, beyond
// the golden file: defaults filled in, the freeze zone inherited.
func TestExampleValues(t *testing.T) {
	pol, err := Load("testdata/example.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if pol.Grace != Duration(45*time.Minute) {
		t.Errorf("grace = %v, want 45m", pol.Grace)
	}
	if got := pol.Freezes[0].TimeZone; got != "Europe/Berlin" {
		t.Errorf("year-end freeze zone = %q, want the default Europe/Berlin", got)
	}
	rules := pol.Rules()
	if len(rules) != 3+len(DefaultEscalation()) || rules[0].Name != "database-config" || rules[3].Name != RuleAuthorized {
		t.Errorf("rules start %q, %q; want the tenant's first, then the defaults", rules[0].Name, rules[3].Name)
	}
	if !pol.IsApprover("CIO@acme.example") || pol.IsApprover("intern@acme.example") {
		t.Error("IsApprover does not follow the approvers list")
	}
}

func TestDefault(t *testing.T) {
	pol, err := Parse([]byte("# nothing set\n"), "empty.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Default(), pol); diff != "" {
		t.Errorf("empty file (-Default +parsed):\n%s", diff)
	}
	def := Default()
	if err := def.Validate(); err != nil {
		t.Errorf("Default does not validate: %v", err)
	}
	if !def.CustomerApproval || def.Grace != Duration(30*time.Minute) || !def.EscalationDefaults || def.DefaultTimeZone != "UTC" {
		t.Errorf("Default() = %+v", def)
	}
	if !def.IsApprover("anyone@example.com") {
		t.Error("with no approvers list, every tenant approver counts")
	}
	off, err := Parse([]byte("escalation_defaults = false\n"), "off.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(off.Rules()) != 0 {
		t.Errorf("escalation_defaults = false still has rules %v", off.Rules())
	}
}

// TestParseErrors checks that each mistake is reported at the file:line:col
// of the thing that is wrong, with a message that says what.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		want   []string // "line:col: summary" of every diagnostic, in order
		detail string   // a part of the error's text
	}{
		{"unknown attribute", "grace = \"30m\"\ncustomer_aproval = true\n",
			[]string{"2:1: Unsupported argument"}, `An argument named "customer_aproval" is not expected here. Did you mean "customer_approval"?`},
		{"unknown block", "freze \"x\" {\n}\n",
			[]string{"1:1: Unsupported block type"}, `Blocks of type "freze" are not expected here. Did you mean "freeze"?`},
		{"unknown attribute in a block", "freeze \"x\" {\n  start = \"2025-12-20T00:00\"\n  end = \"2025-12-21T00:00\"\n  reason = \"r\"\n  zone = \"UTC\"\n}\n",
			[]string{"5:3: Unsupported argument"}, `"zone" is not expected here`},
		{"bad duration", "\ngrace = \"half an hour\"\n",
			[]string{"2:9: Invalid duration"}, `duration "half an hour": want a number and a unit`},
		{"negative grace", "grace = \"-5m\"\n",
			[]string{"1:9: Invalid duration"}, "-5m is not between 0 and 168h"},
		{"bad zone", "default_time_zone = \"Europe/Berln\"\n",
			[]string{"1:21: Invalid time zone"}, `unknown time zone "Europe/Berln"`},
		{"bad zone in a freeze", "freeze \"x\" {\n  start = \"2025-12-20T00:00\"\n  end = \"2025-12-21T00:00\"\n  time_zone = \"Local\"\n  reason = \"r\"\n}\n",
			[]string{"4:15: Invalid time zone"}, `"Local" is not an IANA time zone`},
		{"bad time", "freeze \"x\" {\n  start = \"20.12.2025 00:00\"\n  end = \"2025-12-21T00:00\"\n  reason = \"r\"\n}\n",
			[]string{"2:11: Invalid time"}, `"20.12.2025 00:00" is not a time: want "2006-01-02T15:04"`},
		{"end before start", "freeze \"x\" {\n  start = \"2025-12-20T00:00\"\n  end = \"2025-12-19T00:00\"\n  reason = \"r\"\n}\n",
			[]string{"3:9: Invalid time"}, "2025-12-19T00:00 is not after start 2025-12-20T00:00"},
		{"skipped time", "default_time_zone = \"America/New_York\"\nfreeze \"x\" {\n  start = \"2025-03-09T02:30\"\n  end = \"2025-03-10T00:00\"\n  reason = \"r\"\n}\n",
			[]string{"3:11: Invalid time"}, "2025-03-09T02:30 does not exist in America/New_York"},
		{"missing reason", "freeze \"x\" {\n  start = \"2025-12-20T00:00\"\n  end = \"2025-12-21T00:00\"\n}\n",
			[]string{"1:12: Missing required argument"}, `The argument "reason" is required`},
		{"empty reason", "freeze \"x\" {\n  start = \"2025-12-20T00:00\"\n  end = \"2025-12-21T00:00\"\n  reason = \" \"\n}\n",
			[]string{"4:12: Invalid reason"}, "is required: it is shown with every change made in the freeze"},
		{"duplicate freeze", "freeze \"x\" {\n  start = \"2025-12-20T00:00\"\n  end = \"2025-12-21T00:00\"\n  reason = \"r\"\n}\nfreeze \"x\" {\n  start = \"2025-12-22T00:00\"\n  end = \"2025-12-23T00:00\"\n  reason = \"r\"\n}\n",
			[]string{"6:8: Invalid name"}, `"x" is also the name of freezes[0]`},
		{"bad pattern", "escalation \"x\" {\n  items = [\"file:/etc/ssh/**\", \"etc/nginx\"]\n  level = 2\n}\n",
			[]string{"2:32: Invalid pattern"}, `pattern "etc/nginx" has no kind`},
		{"bad level", "escalation \"x\" {\n  level = 4\n}\n",
			[]string{"2:11: Invalid level"}, "4 is not a level"},
		{"level not a number", "escalation \"x\" {\n  level = \"high\"\n}\n",
			[]string{"2:12: Unsuitable value type"}, "a number is required"},
		{"unknown verdict", "escalation \"x\" {\n  verdicts = [\"authorised\"]\n  level = 1\n}\n",
			[]string{"2:15: Invalid verdicts"}, `unknown value "authorised": want one of authorized, frozen, unapproved_ticket`},
		{"unknown class and change", "escalation \"x\" {\n  classes = [\"urgent\"]\n  changes = [\"deleted\"]\n  level = 1\n}\n",
			[]string{"3:14: Invalid changes", "2:14: Invalid classes"}, `unknown value "deleted"`},
		{"builtin rule name", "escalation \"authorized\" {\n  level = 1\n}\n",
			[]string{"1:12: Invalid name"}, `"authorized" is the name of a default rule`},
		{"bad approver", "approvers = [\"cio@acme.example\", \"Ops <ops@acme.example>\"]\n",
			[]string{"1:34: Invalid email address"}, `"Ops <ops@acme.example>" is not an email address`},
		{"syntax error", "grace = \n",
			[]string{"1:9: Invalid expression"}, "Expected the start of an expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "acme.hcl")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			d, ok := err.(*DiagnosticsError)
			if !ok {
				t.Fatalf("error %T %v, want *DiagnosticsError", err, err)
			}
			var got []string
			for _, dg := range d.Diags {
				if dg.Subject == nil || dg.Subject.Filename != "acme.hcl" {
					t.Errorf("diagnostic %q has no position in acme.hcl", dg.Summary)
					continue
				}
				got = append(got, fmt.Sprintf("%d:%d: %s", dg.Subject.Start.Line, dg.Subject.Start.Column, dg.Summary))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not say %q", err, tt.detail)
			}
			// The text form leads with file:line:col for editors.
			var buf bytes.Buffer
			if err := d.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			pos, sum, _ := strings.Cut(tt.want[0], " ")
			if line := "acme.hcl:" + pos + " error: " + sum; !strings.Contains(buf.String(), line) {
				t.Errorf("text form has no line %q:\n%s", line, buf.String())
			}
		})
	}
}

// TestZoneErrorOnce: a freeze that inherits a bad default_time_zone does
// not repeat its error.
func TestZoneErrorOnce(t *testing.T) {
	src := "default_time_zone = \"CET+1\"\nfreeze \"x\" {\n  start = \"2025-12-20T00:00\"\n  end = \"2025-12-21T00:00\"\n  reason = \"r\"\n}\n"
	_, err := Parse([]byte(src), "acme.hcl")
	d, ok := err.(*DiagnosticsError)
	if !ok || len(d.Diags) != 1 || d.Diags[0].Subject.Start.Line != 1 {
		t.Errorf("Parse = %v; want one error, on line 1", err)
	}
}

func TestDecode(t *testing.T) {
	t.Run("partial document keeps defaults", func(t *testing.T) {
		pol, err := Decode([]byte(`{"grace":"1h","customer_approval":false}`))
		if err != nil {
			t.Fatal(err)
		}
		want := Default()
		want.Grace = Duration(time.Hour)
		want.CustomerApproval = false
		if diff := cmp.Diff(want, pol); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name, doc string
		want      []Problem // nil: a decoding error
		wantText  string
	}{
		{"unknown field", `{"grase":"1h"}`, nil, `unknown field "grase"`},
		{"bad duration", `{"grace":"soon"}`, nil, `duration "soon"`},
		{"trailing data", `{} {}`, nil, "data after the JSON object"},
		{"field problems", `{"default_time_zone":"Mars/Olympus","freezes":[{"name":"f","start":"2025-01-02T00:00","end":"2025-01-01T00:00","time_zone":"UTC","reason":"r"}],"escalation":[{"name":"r","items":["pkg:x"],"level":0}]}`,
			[]Problem{
				{"default_time_zone", `unknown time zone "Mars/Olympus": want an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"`},
				{"freezes[0].end", "2025-01-01T00:00 is not after start 2025-01-02T00:00"},
				{"escalation[0].items[0]", `pattern "pkg:x": unknown kind "pkg" (known kinds: file, package, service, sysctl, user, group, port, command, inventory)`},
				{"escalation[0].level", "0 is not a level: want 1 (log), 2 (escalate internally) or 3 (full escalation)"},
			}, ""},
		{"freeze without zone or name", `{"freezes":[{"start":"2025-01-01T00:00","end":"2025-01-02T00:00","reason":"r"}]}`,
			[]Problem{
				{"freezes[0].name", "is required"},
				{"freezes[0].time_zone", `is required: an IANA time zone such as "Europe/Berlin" or "UTC"`},
			}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc))
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			if tt.want == nil {
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("error %q does not say %q", err, tt.wantText)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v, want a *ValidationError", err, err)
			}
			if diff := cmp.Diff(tt.want, ve.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 7 * 24 * time.Hour: "168h"} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(Duration(d).String())); err != nil || back != Duration(d) {
			t.Errorf("%q reads back as %v, %v", want, back, err)
		}
	}
}

func TestFreezeAt(t *testing.T) {
	pol := Default()
	pol.Freezes = []Freeze{{Name: "year-end", Window: Window{Start: "2025-12-20T00:00", End: "2026-01-02T00:00", TimeZone: "Europe/Berlin"}, Reason: "closing"}}
	for at, want := range map[string]bool{
		"2025-12-19T22:59:59Z": false, // 23:59:59 in Berlin
		"2025-12-19T23:00:00Z": true,  // midnight in Berlin: the freeze starts
		"2026-01-01T22:59:59Z": true,
		"2026-01-01T23:00:00Z": false, // the end is not part of it
	} {
		tm, _ := time.Parse(time.RFC3339, at)
		f, got := pol.FreezeAt(tm)
		if got != want || (got && f.Name != "year-end") {
			t.Errorf("FreezeAt(%s) = %q, %v; want %v", at, f.Name, got, want)
		}
	}
}
