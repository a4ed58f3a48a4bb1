// Package agent is the driftwatch agent as a library: it takes snapshots of
// a host with the configured sources, keeps the approved baselines in its
// state directory, and computes the drift between the two.
//
// The command in cmd/driftwatch-agent parses flags, loads the configuration
// and a logger, and calls into this package; nothing else.
package agent
