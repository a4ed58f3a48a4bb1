package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/notify"
)

// policyCmp compares policies: schedules and quiet hours by what they
// say, zones by name.
var policyCmp = []cmp.Option{
	cmp.Comparer(func(a, b notify.Cron) bool {
		return a.String() == b.String() && a.Location().String() == b.Location().String()
	}),
	cmp.Comparer(func(a, b notify.QuietHours) bool { return a.String() == b.String() }),
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
}

// policy compiles settings for a tenant, as a notify block is.
func policy(t *testing.T, tenant string, s notify.Settings) notify.Policy {
	t.Helper()
	p, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	p.TenantName = tenant
	return p
}

const smtpOK = "smtp {\n  host = \"mail.example.com\"\n  from = \"drift@example.com\"\n}\n"

func TestSMTPDefaults(t *testing.T) {
	cfg, err := Parse([]byte(smtpOK), "c.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := &notify.SMTPConfig{Host: "mail.example.com", TLS: notify.StartTLS, From: "drift@example.com", Timeout: notify.DefaultSMTPTimeout}
	if d := cmp.Diff(want, cfg.SMTP); d != "" {
		t.Errorf("smtp (-want +got):\n%s", d)
	}
	// What the configuration gives, the mailer takes.
	m, err := notify.NewSMTP(*cfg.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config().Port != 587 {
		t.Errorf("port %d, want 587 for STARTTLS", m.Config().Port)
	}
	cfg, err = Parse([]byte("smtp {\n  host = \"127.0.0.1\"\n  port = 25\n  tls = \"none\"\n  username = \"dw\"\n  password_env = \"DW_SMTP_PASSWORD\"\n  from = \"drift@example.com\"\n}\n"), "c.hcl")
	if err != nil {
		t.Fatalf("a local relay with a login: %v", err)
	}
	if cfg.SMTP.PasswordEnv != "DW_SMTP_PASSWORD" || cfg.SMTP.TLS != notify.NoTLS {
		t.Errorf("smtp %+v", cfg.SMTP)
	}
	if cfg, err := Parse(nil, "c.hcl"); err != nil || cfg.SMTP != nil || cfg.Notify != nil {
		t.Errorf("no smtp or notify block: %+v, %v", cfg, err)
	}
}

// TestNotifyErrors checks that each mistake in the smtp and notify blocks
// is reported where it is.
func TestNotifyErrors(t *testing.T) {
	tests := []struct {
		name, src string
		pos       string // line:col of the first error
		want      string
	}{
		{"smtp without host", "smtp {\n  from = \"a@b.example\"\n}\n", "1:6", `The argument "host" is required`},
		{"smtp host with port", "smtp {\n  host = \"mail.example.com:587\"\n  from = \"a@b.example\"\n}\n", "2:10", "without a port (set port)"},
		{"smtp bad port", "smtp {\n  host = \"h\"\n  port = 70000\n  from = \"a@b.example\"\n}\n", "3:10", "port must be from 1 to 65535, not 70000"},
		{"smtp bad tls", "smtp {\n  host = \"h\"\n  tls = \"ssl\"\n  from = \"a@b.example\"\n}\n", "3:9", `tls must be "starttls" (port 587), "tls" (port 465) or "none" (a local relay), not "ssl"`},
		{"smtp password", "smtp {\n  host = \"h\"\n  username = \"u\"\n  password = \"hunter2\"\n  from = \"a@b.example\"\n}\n", "4:14", "set password_file"},
		{"smtp user without password", "smtp {\n  host = \"h\"\n  username = \"u\"\n  from = \"a@b.example\"\n}\n", "3:14", "set password_file to a file"},
		{"smtp two passwords", "smtp {\n  host = \"h\"\n  username = \"u\"\n  password_file = \"/p\"\n  password_env = \"P\"\n  from = \"a@b.example\"\n}\n", "5:18", "not both"},
		{"smtp password without user", "smtp {\n  host = \"h\"\n  password_file = \"/p\"\n  from = \"a@b.example\"\n}\n", "3:19", "username is not"},
		{"smtp relative password file", "smtp {\n  host = \"h\"\n  username = \"u\"\n  password_file = \"smtp.pass\"\n  from = \"a@b.example\"\n}\n", "4:19", "password_file must be an absolute path"},
		{"smtp password as env name", "smtp {\n  host = \"h\"\n  username = \"u\"\n  password_env = \"hunter2!\"\n  from = \"a@b.example\"\n}\n", "4:18", "must name an environment variable"},
		{"smtp login in clear", "smtp {\n  host = \"mail.example.com\"\n  tls = \"none\"\n  username = \"u\"\n  password_env = \"P\"\n  from = \"a@b.example\"\n}\n", "3:9", "in clear"},
		{"smtp bad auth", "smtp {\n  host = \"h\"\n  username = \"u\"\n  password_env = \"P\"\n  auth = \"cram-md5\"\n  from = \"a@b.example\"\n}\n", "5:10", `auth must be "plain" or "login"`},
		{"smtp auth without user", "smtp {\n  host = \"h\"\n  auth = \"login\"\n  from = \"a@b.example\"\n}\n", "3:10", "username is not"},
		{"smtp bad from", "smtp {\n  host = \"h\"\n  from = \"driftwatch\"\n}\n", "3:10", `"driftwatch" is not an email address`},
		{"smtp bad timeout", "smtp {\n  host = \"h\"\n  from = \"a@b.example\"\n  timeout = \"soon\"\n}\n", "4:13", `duration "soon"`},
		{"smtp zero timeout", "smtp {\n  host = \"h\"\n  from = \"a@b.example\"\n  timeout = \"0s\"\n}\n", "4:13", "timeout must be positive"},
		{"smtp relative ca", "smtp {\n  host = \"h\"\n  from = \"a@b.example\"\n  ca_file = \"ca.pem\"\n}\n", "4:13", "ca_file must be an absolute path"},
		{"two smtp blocks", smtpOK + smtpOK, "5:1", "Duplicate smtp block"},
		{"notify without smtp", "notify \"acme\" {\n  recipients = [\"ops@acme.example\"]\n}\n", "1:1", "add an smtp block"},
		{"notify without label", smtpOK + "notify {\n  recipients = [\"ops@acme.example\"]\n}\n", "5:8", "Missing tenant for notify"},
		{"notify twice for a tenant", smtpOK + "notify \"acme\" {\n  recipients = [\"a@acme.example\"]\n}\nnotify \"acme\" {\n  recipients = [\"b@acme.example\"]\n}\n", "8:8", `Tenant "acme" has a notify block at c.hcl:5:8 already`},
		{"notify without recipients", smtpOK + "notify \"acme\" {\n  digest = \"0 16 * * FRI\"\n}\n", "5:1", `notify "acme" sends nothing`},
		{"bad cron", smtpOK + "notify \"acme\" {\n  recipients = [\"ops@acme.example\"]\n  digest = \"0 16 * * FRY\"\n}\n", "7:12", `cron expression "0 16 * * FRY"`},
		{"cron that never runs", smtpOK + "notify \"acme\" {\n  recipients = [\"ops@acme.example\"]\n  digest = \"0 0 30 2 *\"\n}\n", "7:12", "never runs"},
		{"bad zone", smtpOK + "notify \"acme\" {\n  recipients = [\"ops@acme.example\"]\n  time_zone = \"America/Gotham\"\n}\n", "7:15", `unknown time zone "America/Gotham"`},
		{"bad period", smtpOK + "notify \"acme\" {\n  recipients = [\"ops@acme.example\"]\n  period = \"fortnight\"\n}\n", "7:12", `period "fortnight"`},
		{"bad address", smtpOK + "notify \"acme\" {\n  recipients = [\"ops@acme.example\", \"ops at acme\"]\n}\n", "6:37", `"ops at acme" is not an email address`},
		{"bad on-call address", smtpOK + "notify \"acme\" {\n  alert_level3 = [\"oncall\"]\n}\n", "6:19", `"oncall" is not an email address`},
		{"bad window", smtpOK + "notify \"acme\" {\n  alert_level3 = [\"oncall@msp.example\"]\n  level3_window = \"10 minutes\"\n}\n", "7:19", `duration "10 minutes"`},
		{"window too long", smtpOK + "notify \"acme\" {\n  alert_level3 = [\"oncall@msp.example\"]\n  level3_window = \"2d\"\n}\n", "7:19", "level3_window must be from 1m to 24h"},
		{"summary too often", smtpOK + "notify \"acme\" {\n  alert_level2 = [\"lead@msp.example\"]\n  level2_every = \"1m\"\n}\n", "7:18", "level2_every must be from 5m to 24h"},
		{"bad quiet hours", smtpOK + "notify \"acme\" {\n  recipients = [\"ops@acme.example\"]\n  quiet_hours = \"22-7\"\n}\n", "7:17", `quiet hours "22-7"`},
		{"bad mandatory list", smtpOK + "notify \"acme\" {\n  alert_level3 = [\"oncall@msp.example\"]\n  mandatory = [\"alert\", \"pager\"]\n}\n", "7:25", `"pager" is not a list`},
		{"unknown notify attribute", smtpOK + "notify \"acme\" {\n  recipients = [\"ops@acme.example\"]\n  cc = [\"x@acme.example\"]\n}\n", "7:3", `An argument named "cc" is not expected here`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "c.hcl")
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			d, ok := AsDiagnostics(err)
			if !ok {
				t.Fatalf("error %v is not diagnostics", err)
			}
			first := d.Diags[0]
			if first.Subject == nil {
				t.Fatalf("diagnostic %q has no position", first.Summary)
			}
			pos := first.Subject.Start
			if got := fmt.Sprintf("%d:%d", pos.Line, pos.Column); got != tt.pos {
				t.Errorf("position %s, want %s (%s)", got, tt.pos, first.Error())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err.Error(), tt.want)
			}
			var buf bytes.Buffer
			if err := d.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			if prefix := fmt.Sprintf("c.hcl:%d:%d: error: ", pos.Line, pos.Column); !strings.HasPrefix(buf.String(), prefix) {
				t.Errorf("diagnostic text does not start with %q:\n%s", prefix, buf.String())
			}
		})
	}
}

// TestNotifyAllProblems reports every problem of a block, not the first
// only.
func TestNotifyAllProblems(t *testing.T) {
	src := smtpOK + "notify \"acme\" {\n  recipients = [\"ops\"]\n  time_zone = \"Mars/Olympus\"\n  quiet_hours = \"late\"\n}\n"
	_, err := Parse([]byte(src), "c.hcl")
	d, ok := AsDiagnostics(err)
	if !ok {
		t.Fatalf("error %v", err)
	}
	var got []string
	for _, diag := range d.Diags {
		got = append(got, fmt.Sprintf("%d:%d %s", diag.Subject.Start.Line, diag.Subject.Start.Column, diag.Summary))
	}
	want := []string{"7:15 Invalid time_zone", "6:17 Invalid recipients", "8:17 Invalid quiet_hours"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diagnostics (-want +got):\n%s", d)
	}
}

// TestPasswordNotInMessage checks that an SMTP password written into the
// configuration by mistake stays out of the error message.
func TestPasswordNotInMessage(t *testing.T) {
	for _, src := range []string{
		"smtp {\n  host = \"h\"\n  username = \"u\"\n  password = \"hunter2\"\n  from = \"a@b.example\"\n}\n",
		"smtp {\n  host = \"h\"\n  username = \"u\"\n  password_env = \"hunter2!\"\n  from = \"a@b.example\"\n}\n",
	} {
		_, err := Parse([]byte(src), "c.hcl")
		if err == nil {
			t.Fatal("accepted")
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestNotifyMandatory: a notify block marks lists recipients may not
// leave.
func TestNotifyMandatory(t *testing.T) {
	src := smtpOK + "notify \"acme\" {\n  alert_level3 = [\"oncall@msp.example\"]\n  mandatory = [\"alert\", \"Digest\"]\n}\n"
	cfg, err := Parse([]byte(src), "c.hcl")
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Notify[0].Mandatory
	if !got[notify.KindAlert] || !got[notify.KindDigest] || got[notify.KindSummary] || len(got) != 2 {
		t.Errorf("mandatory %v, want alert and digest", got)
	}
}
