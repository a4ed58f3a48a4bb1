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
package config
