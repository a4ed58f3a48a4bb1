package config

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/internal/hclconf"
)

// smtpBlock is the smtp block as written.
type smtpBlock struct {
	Host         string   `hcl:"host"`
	Port         *int     `hcl:"port,optional"`
	TLS          string   `hcl:"tls,optional"`
	CAFile       string   `hcl:"ca_file,optional"`
	Username     string   `hcl:"username,optional"`
	Password     *string  `hcl:"password,optional"` // refused, with a pointer to the right way
	PasswordFile string   `hcl:"password_file,optional"`
	PasswordEnv  string   `hcl:"password_env,optional"`
	Auth         string   `hcl:"auth,optional"`
	From         string   `hcl:"from"`
	HELO         string   `hcl:"helo,optional"`
	Timeout      string   `hcl:"timeout,optional"`
	Body         hcl.Body `hcl:",body"`
}

// notifyBlock is a notify block as written; its label names the tenant.
type notifyBlock struct {
	Tenant       string   `hcl:"tenant,label"`
	Digest       string   `hcl:"digest,optional"`
	TimeZone     string   `hcl:"time_zone,optional"`
	Period       string   `hcl:"period,optional"`
	Recipients   []string `hcl:"recipients,optional"`
	AlertLevel3  []string `hcl:"alert_level3,optional"`
	Level3Window string   `hcl:"level3_window,optional"`
	AlertLevel2  []string `hcl:"alert_level2,optional"`
	Level2Every  string   `hcl:"level2_every,optional"`
	QuietHours   string   `hcl:"quiet_hours,optional"`
	Mandatory    []string `hcl:"mandatory,optional"`
	Body         hcl.Body `hcl:",body"`
}

// envName is what an environment variable's name may be.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fillSMTP checks the smtp block and sets c.SMTP from it. Messages never
// show a password.
func (c *Collector) fillSMTP(b *smtpBlock, root hcl.Body) hcl.Diagnostics {
	if b == nil {
		return nil
	}
	var diags hcl.Diagnostics
	at := func(name, summary, detail string) {
		diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(b.Body, name), summary, detail))
	}
	s := notify.SMTPConfig{
		Host: strings.TrimSpace(b.Host), TLS: notify.StartTLS, Username: b.Username, Auth: notify.AuthMethod(b.Auth),
		HELO: b.HELO, Timeout: notify.DefaultSMTPTimeout,
	}
	if s.Host == "" || strings.ContainsAny(s.Host, " /:") && net.ParseIP(s.Host) == nil {
		at("host", "Invalid SMTP host", fmt.Sprintf("host must be the SMTP server's name or address, such as \"mail.example.com\", without a port (set port), not %q.", b.Host))
	}
	switch tls := notify.TLSMode(b.TLS); tls {
	case "":
	case notify.StartTLS, notify.ImplicitTLS, notify.NoTLS:
		s.TLS = tls
	default:
		at("tls", "Invalid SMTP tls", fmt.Sprintf("tls must be %q (port 587), %q (port 465) or %q (a local relay), not %q.",
			notify.StartTLS, notify.ImplicitTLS, notify.NoTLS, b.TLS))
	}
	if b.Port != nil {
		if *b.Port < 1 || *b.Port > 65535 {
			at("port", "Invalid SMTP port", fmt.Sprintf("port must be from 1 to 65535, not %d.", *b.Port))
		}
		s.Port = *b.Port
	}
	if b.CAFile != "" {
		diags = append(diags, checkAbs(b.Body, "ca_file", b.CAFile)...)
		s.CAFile = path.Clean(b.CAFile)
	}
	if b.Password != nil {
		at("password", "Password in the configuration",
			"The SMTP password is not read from the configuration. Put it in a file readable by the collector only and set password_file, or set password_env to the name of an environment variable that holds it.")
	}
	switch {
	case b.Username == "" && (b.PasswordFile != "" || b.PasswordEnv != ""):
		name := "password_file"
		if b.PasswordFile == "" {
			name = "password_env"
		}
		at(name, "Password without username", fmt.Sprintf("%s is set but username is not; set username, or remove %s for a server that needs no login.", name, name))
	case b.Username != "" && b.PasswordFile == "" && b.PasswordEnv == "":
		at("username", "Missing SMTP password", "username is set; set password_file to a file that holds the password, or password_env to an environment variable that does.")
	case b.PasswordFile != "" && b.PasswordEnv != "":
		at("password_env", "Conflicting SMTP passwords", "Set one of password_file and password_env, not both.")
	}
	if b.PasswordFile != "" {
		diags = append(diags, checkAbs(b.Body, "password_file", b.PasswordFile)...)
		s.PasswordFile = path.Clean(b.PasswordFile)
	}
	if b.PasswordEnv != "" {
		if !envName.MatchString(b.PasswordEnv) {
			at("password_env", "Invalid environment variable name",
				fmt.Sprintf("password_env must name an environment variable, such as \"DRIFTWATCH_SMTP_PASSWORD\", not hold the password itself; %q is not a name.", redactEnv(b.PasswordEnv)))
		}
		s.PasswordEnv = b.PasswordEnv
	}
	switch notify.AuthMethod(b.Auth) {
	case "":
	case notify.AuthPlain, notify.AuthLogin:
		if b.Username == "" {
			at("auth", "SMTP auth without username", "auth is set but username is not; set username, or remove auth for a server that needs no login.")
		}
	default:
		at("auth", "Invalid SMTP auth", fmt.Sprintf("auth must be %q or %q, not %q.", notify.AuthPlain, notify.AuthLogin, b.Auth))
	}
	if b.Username != "" && s.TLS == notify.NoTLS && s.Host != "localhost" && !isLoopbackIP(s.Host) {
		at("tls", "SMTP login without TLS",
			fmt.Sprintf("tls = %q would send the password to %s in clear; use %q or %q, or a relay on this host.", notify.NoTLS, s.Host, notify.StartTLS, notify.ImplicitTLS))
	}
	if addr, err := notify.ParseAddress(b.From); err != nil {
		at("from", "Invalid SMTP from", err.Error()+".")
	} else {
		s.From = addr
	}
	if b.Timeout != "" {
		d, err := hclconf.ParseDuration(b.Timeout)
		switch {
		case err != nil:
			at("timeout", "Invalid duration", err.Error()+".")
		case d <= 0:
			at("timeout", "Invalid duration", fmt.Sprintf("timeout must be positive, not %q.", b.Timeout))
		default:
			s.Timeout = d
		}
	}
	if !diags.HasErrors() {
		c.SMTP = &s
	}
	return diags
}

// redactEnv shows a password_env value that is not a name only in part:
// it may be the password itself.
func redactEnv(v string) string {
	if len(v) <= 2 {
		return "…"
	}
	return v[:1] + "…"
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fillNotify checks the notify blocks and sets c.Notify from them: one
// per tenant, with at least one recipient, and an smtp block to send
// through.
func (c *Collector) fillNotify(blocks []*notifyBlock, root hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	syntax := syntaxBlocks(root, "notify")
	seen := map[string]*hcl.Range{}
	for i, b := range blocks {
		var def, label *hcl.Range
		if i < len(syntax) {
			def = rangePtr(syntax[i].DefRange())
			if len(syntax[i].LabelRanges) > 0 {
				label = rangePtr(syntax[i].LabelRanges[0])
			}
		}
		if strings.TrimSpace(b.Tenant) == "" {
			diags = append(diags, hclconf.ErrAt(label, "Missing tenant name", "A notify block's label names the tenant, as in notify \"acme\" { … }."))
			continue
		}
		if first, dup := seen[b.Tenant]; dup {
			diags = append(diags, hclconf.ErrAt(label, "Duplicate notify block",
				fmt.Sprintf("Tenant %q has a notify block at %s already; merge them.", b.Tenant, rangeString(first))))
			continue
		}
		seen[b.Tenant] = label
		if i == 0 && c.SMTP == nil && !hasBlock(root, "smtp") {
			diags = append(diags, hclconf.ErrAt(def, "Missing smtp block",
				"notify blocks send email: add an smtp block that names the mail server."))
		}
		if len(b.Recipients) == 0 && len(b.AlertLevel3) == 0 && len(b.AlertLevel2) == 0 {
			diags = append(diags, hclconf.ErrAt(def, "Notify block without recipients",
				fmt.Sprintf("notify %q sends nothing: set recipients (the digest), alert_level3 (on-call) or alert_level2 (tech lead).", b.Tenant)))
			continue
		}
		p, err := notify.Settings{
			Digest: b.Digest, TimeZone: b.TimeZone, Period: b.Period,
			Recipients: b.Recipients, AlertLevel3: b.AlertLevel3, Level3Window: b.Level3Window,
			AlertLevel2: b.AlertLevel2, Level2Every: b.Level2Every, QuietHours: b.QuietHours, Mandatory: b.Mandatory,
		}.Compile()
		if se, ok := err.(*notify.SettingsError); ok {
			for _, prob := range se.Problems {
				rng := hclconf.AttrRange(b.Body, prob.Field)
				if prob.Index >= 0 {
					rng = hclconf.ElemRange(b.Body, prob.Field, prob.Index)
				}
				diags = append(diags, hclconf.ErrAt(rng, "Invalid "+prob.Field, prob.Message))
			}
			continue
		} else if err != nil {
			diags = append(diags, hclconf.ErrAt(def, "Invalid notify block", err.Error()))
			continue
		}
		p.TenantName = b.Tenant
		c.Notify = append(c.Notify, p)
	}
	return diags
}

// hasBlock reports whether root has a block of type typ.
func hasBlock(root hcl.Body, typ string) bool { return len(syntaxBlocks(root, typ)) > 0 }
