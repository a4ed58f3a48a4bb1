listen     = "0.0.0.0:9443"
public_url = "https://drift.example.com:9443/driftwatch"
data_dir   = "/srv/driftwatch-collector"
insecure   = false

tls {
  cert_file = "/etc/driftwatch/tls.crt"
  key_file  = "/etc/driftwatch/tls.key"
}

store "postgres" {
  dsn = "postgres://driftwatch:secret@db.example.com:5432/driftwatch?sslmode=verify-full"
}

limits {
  max_report_size = "128MiB"
  max_blob_size   = "8MiB"
  request_timeout = "1m30s"
}

smtp {
  host          = "mail.example.com"
  port          = 587
  tls           = "starttls"
  ca_file       = "/etc/driftwatch/smtp-ca.pem"
  username      = "driftwatch"
  password_file = "/etc/driftwatch/smtp.pass"
  auth          = "login"
  from          = "driftwatch <drift@example.com>"
  helo          = "collector.example.com"
  timeout       = "45s"
}

notify "acme" {
  digest        = "0 16 * * FRI"
  time_zone     = "America/New_York"
  period        = "week"
  recipients    = ["ops@acme.example", "Acme IT <it@acme.example>"]
  alert_level3  = ["oncall@msp.example"]
  level3_window = "15m"
  alert_level2  = ["lead@msp.example"]
  level2_every  = "1h"
  quiet_hours   = "22:00-07:00"
}

notify "globex" {
  period       = "month"
  time_zone    = "Europe/Berlin"
  recipients   = ["it@globex.example"]
}
