// Package config reads the agent's HCL configuration
// (/etc/driftwatch/agent.hcl by default).
//
// Loading goes Default → Parse → Validate: Parse decodes the HCL into Agent,
// Validate checks every value and fills in defaults, and both report problems
// as hcl.Diagnostics that point at file:line:col. Durations ("10s") and sizes
// ("1MiB") are written as strings and parsed here, in one place.
package config
