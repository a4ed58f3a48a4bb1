# Change policy of the tenant "acme".

# Windows and freezes written without a time_zone are in this zone.
default_time_zone = "Europe/Berlin"

# Whose approval counts as the customer's. Leave out to accept any
# approver or admin of the tenant.
approvers = ["cio@acme.example", "ops-lead@acme.example"]

# Changes the customer asks for need the customer's approval as well as
# the MSP's.
customer_approval = true

# Drift observed this long before or after a ticket's window still counts
# as inside it.
grace = "45m"

# Drift an implemented ticket authorizes becomes the new baseline.
auto_promote = true

# Keep the default escalation rules after the ones below.
escalation_defaults = true

freeze "year-end" {
  start  = "2025-12-19T18:00"
  end    = "2026-01-05T08:00"
  reason = "Year-end freeze: finance closing"
}

freeze "black-friday" {
  start     = "2025-11-27T00:00"
  end       = "2025-12-02T00:00"
  time_zone = "America/New_York"
  reason    = "Peak season of the US web shop"
}

escalation "database-config" {
  description = "PostgreSQL configuration changed without authorization."
  items       = ["file:/etc/postgresql/**", "service:postgresql*"]
  verdicts    = ["unauthorized", "frozen", "out_of_window"]
  level       = 3
}

escalation "permissions" {
  description = "Owner or mode of a file under /etc changed outside a ticket."
  items       = ["file:/etc/**"]
  attrs       = ["mode", "owner", "group", "uid", "gid"]
  verdicts    = ["unauthorized", "unapproved_ticket", "out_of_window"]
  level       = 2
}

escalation "emergency-review" {
  description = "Emergency changes are reviewed afterwards."
  classes     = ["emergency"]
  verdicts    = ["authorized"]
  changes     = ["added", "removed", "modified"]
  level       = 2
}
