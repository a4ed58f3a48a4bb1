// Package policy is a tenant's change policy: whose approval counts as the
// customer's and whether it is required, the grace period around planned
// windows, whether authorized drift becomes the new baseline by itself,
// freeze periods in which nothing may change except emergency changes, and
// the escalation rules that give each drift item a level from 1 (log it)
// to 3 (full escalation).
//
// A policy is written as an HCL file (Load, Parse; testdata/example.hcl
// shows every setting) and kept and served as JSON (the Policy struct's
// JSON form; Decode reads it back with validation). Both start from
// Default, so a file or document sets only what differs. Problems in a file
// come back as one *hclconf.DiagnosticsError with each problem at its
// file:line:col; problems in a JSON document as a *ValidationError naming
// each field by its JSON path.
//
// Times of windows and freeze periods are wall-clock times in an IANA time
// zone (Window), so that "01:00 to 04:00 New York time" keeps its meaning
// across daylight saving changes.
package policy
