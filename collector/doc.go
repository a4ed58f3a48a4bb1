// Package collector is the driftwatch server: it enrolls agents, ingests
// their drift reports into a store (SQLite on one machine, PostgreSQL for
// several), reconciles each change with change tickets, keeps every host's
// approved baselines, and serves the web report and scheduled emails.
//
// Its wire types and the Go client the agent uses live in collector/api; all
// else is under collector/internal, out of the agent's reach.
package collector
