package store

// Tickets is what the store keeps for change management: change tickets
// and their transitions, tenant policy, reconciled drift items and the
// hash-chained audit log.
type Tickets interface {
}
