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
