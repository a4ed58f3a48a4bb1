// Package config reads the collector's HCL configuration
// (/etc/driftwatch/collector.hcl by default).
//
// Loading goes Parse → validate: Parse decodes the HCL, validate checks
// every value, parses durations and sizes and fills in defaults, and both
// report problems as hcl.Diagnostics that point at file:line:col, wrapped
// in a *DiagnosticsError that prints them with the offending source line.
// Durations ("30s") and sizes ("64MiB") are written as strings and parsed
// here, in one place (ParseDuration, ParseSize).
//
// The result, Collector, holds parsed values only: a listen address, the
// public URL as a *url.URL, absolute paths, exactly one store and limits in
// bytes and time.Duration.
//
// Email is optional: an smtp block names the mail server (the password
// comes from password_file or password_env, never from the file itself),
// and a notify block per tenant, labelled with the tenant's name, says who
// gets the digest, level 3 alerts and level 2 summaries, and when:
//
//	smtp {
//	  host          = "mail.example.com"
//	  tls           = "starttls"          # or "tls" (465), "none" (local relay)
//	  username      = "driftwatch"
//	  password_file = "/etc/driftwatch/smtp.pass"
//	  from          = "driftwatch <drift@example.com>"
//	  timeout       = "30s"
//	}
//
//	notify "acme" {
//	  digest        = "0 16 * * FRI"      # cron, in time_zone
//	  time_zone     = "America/New_York"
//	  period        = "week"              # day, week or month
//	  recipients    = ["ops@acme.example"]
//	  alert_level3  = ["oncall@msp.example"]
//	  level3_window = "10m"
//	  alert_level2  = ["lead@msp.example"]
//	  level2_every  = "1h"
//	  quiet_hours   = "22:00-07:00"
//	}
//
// Each notify block is checked by notify.Settings.Compile; a bad cron
// expression, zone, address, duration or quiet-hours span is reported at
// its file:line:col, list elements included.
package config
