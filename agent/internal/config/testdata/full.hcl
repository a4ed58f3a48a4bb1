state_dir = "/var/lib/driftwatch"
host {
  name   = "web-01"
  labels = { role = "web", env = "prod" }
}
files "etc" {
  paths            = ["/etc"]
  exclude          = ["/etc/mtab", "**/*.swp"]
  content          = true
  max_content_size = "1MiB"
}
command "firewall" {
  argv    = ["iptables-save"]
  timeout = "10s"
}
packages {}
services {}
users {}
sysctl {}
listening_ports {}
inventory {}
redact { patterns = ["(?i)(password|secret|token|api_key)\\s*[:=]\\s*\\S+"] }
