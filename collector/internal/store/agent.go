package store

// Agents is what the store keeps for agents running as a service:
// heartbeats and the events they report besides drift.
type Agents interface {
}
