package store

// Outbox is what the store keeps for email: the persistent outbox of
// digests and alerts, claimed by one collector at a time.
type Outbox interface {
}
