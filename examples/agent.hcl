# Example agent configuration for the demo: watches the example tree only.
# scripts/demo.sh copies the tree and fills in the paths.
state_dir = "@STATE@"
host {
  name   = "demo-host"
  labels = { role = "web", env = "demo" }
}
files "etc" {
  paths   = ["@ROOT@"]
  exclude = ["**/*.swp"]
}
