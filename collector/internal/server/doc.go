// Package server is the collector's HTTP API v1 over a store.Store: agents
// enroll, upload content blobs and send reports; people and scripts list
// hosts, read drift and baselines, and approve a reported snapshot as a
// host's next baseline. Agents running as a service send heartbeats and
// events (coverage gaps, dropped reports) (1.1). People and scripts manage
// change tickets, the tenant policy, reconciled drift items, the audit log
// and change metrics through package changes (1.2). It also serves
// /healthz, /readyz and /metrics.
//
// The contract is collector/api/openapi.yaml; the wire types are those of
// package api. The server keeps no state of its own: every request is
// answered from the store, so several collectors can share one database.
//
// Every lookup of tenant data goes through the caller's tenant: an agent's
// host's tenant, or a user's. A host of another tenant answers 404, exactly
// like one that does not exist.
package server
