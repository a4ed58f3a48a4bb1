// Package hclconf holds what the agent's and the collector's HCL
// configurations share: sizes ("1MiB") and durations ("30s") written as
// strings and parsed in one place, positions of attributes, list elements
// and blocks for diagnostics, and DiagnosticsError, which prints each
// problem as file:line:col followed by the offending source line.
package hclconf
