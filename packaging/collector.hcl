# driftwatch collector configuration: /etc/driftwatch/collector.hcl
#
# Validate after editing:  driftwatch-collector validate -config /etc/driftwatch/collector.hcl
# Durations and sizes are strings: "30s", "64MiB". Paths are absolute.

# Address the API and web report listen on; ":8443" is every interface.
listen = ":8443"

# The URL agents and people reach the collector at. Set it when the host is
# known by another name or sits behind a proxy or load balancer.
# Default: https://<hostname>:<listen port>.
# public_url = "https://drift.example.com:8443"

# Holds the SQLite database and the self-signed certificate.
data_dir = "/var/lib/driftwatch-collector"

# Serve plain HTTP. Only behind a proxy that terminates TLS; the collector
# logs a warning. Cannot be combined with a tls block.
insecure = false

# The certificate and key to serve HTTPS with (PEM). Without this block the
# collector generates a self-signed pair in data_dir once, and agents pin its
# SHA-256 fingerprint when they enroll.
# tls {
#   cert_file = "/etc/driftwatch/tls.crt"
#   key_file  = "/etc/driftwatch/tls.key"
# }

# Where the collector keeps its data: exactly one store block. SQLite suits
# one machine; without a store block it is data_dir/driftwatch.db.
store "sqlite" {
  path = "/var/lib/driftwatch-collector/driftwatch.db"
}

# PostgreSQL lets several collectors share one database. The DSN may hold a
# password: keep this file readable by the collector only (mode 0640).
# store "postgres" {
#   dsn = "postgres://driftwatch@db.example.com/driftwatch?sslmode=verify-full"
# }

# What one request may cost.
limits {
  max_report_size = "64MiB"
  max_blob_size   = "16MiB"
  request_timeout = "30s"
}
