package store

import (
	"context"
	"time"
)

// Heartbeat is the newest heartbeat of a host's agent.
type Heartbeat struct {
	// At is when it arrived.
	At time.Time
	// Status is the agent's status as it sent it (JSON, kept as sent).
	Status []byte
}

// HostEvent is something a host's agent reported besides drift: a
// coverage gap of the realtime watch, reports it had to drop, a coverage
// restored.
type HostEvent struct {
	// ID is the agent's own ID of the event, unique per host: an event
	// sent again is stored once.
	ID string
	// Kind says what happened: "gap", "coverage_gap", "coverage_restored" …
	Kind string
	// At is when it happened, by the agent's clock.
	At time.Time
	// ReceivedAt is when the collector stored it.
	ReceivedAt time.Time
	// Summary says what happened, for a person.
	Summary string
	// Detail is the event's JSON, kept as sent; empty for none.
	Detail []byte
}

// Agents is what the store keeps for agents running as a service:
// heartbeats and the events they report besides drift.
type Agents interface {
	// RecordHeartbeat keeps a host's newest heartbeat; an older one than
	// the one stored is ignored. ErrNotFound when the host is not the
	// tenant's.
	RecordHeartbeat(ctx context.Context, tenantID, hostID string, hb Heartbeat) error
	// LastHeartbeat returns a host's newest heartbeat; ErrNotFound when
	// it has none (or the host is not the tenant's).
	LastHeartbeat(ctx context.Context, tenantID, hostID string) (Heartbeat, error)
	// AddHostEvents stores events of a host in one transaction, each ID
	// once: an ID stored already is skipped. It returns how many were
	// new. ErrNotFound when the host is not the tenant's.
	AddHostEvents(ctx context.Context, tenantID, hostID string, events []HostEvent) (int, error)
	// HostEvents lists a host's newest events first, at most limit (all
	// when limit <= 0).
	HostEvents(ctx context.Context, tenantID, hostID string, limit int) ([]HostEvent, error)
}
