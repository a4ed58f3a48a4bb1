package store

import (
	"context"
	"time"
)

// Where a connector was configured.
const (
	// ConnectorFromAPI: created through the API; it can be changed and
	// deleted there.
	ConnectorFromAPI = "api"
	// ConnectorFromConfig: written in a collector's configuration file and
	// registered by the collector at start; read-only through the API.
	ConnectorFromConfig = "config"
)

// Connector is a configured change-source connector. Connector names are
// unique across the collector (all tenants).
type Connector struct {
	Name     string
	TenantID string
	Kind     string
	// Source is ConnectorFromAPI or ConnectorFromConfig.
	Source string
	// Config is the connector's configuration as JSON, without
	// credentials; kept as given.
	Config []byte
	// Secret is the connector's credentials, sealed by the collector
	// (the store never sees them in the clear); nil when there are none.
	Secret []byte
	// CreatedAt is when it was first stored; UpdatedAt when it last
	// changed.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConnectorState is what a connector's syncer keeps between polls: the
// cursor, the hashes of the records imported and the status, as one JSON
// document, with the fields the web report reads kept beside it.
type ConnectorState struct {
	Name     string
	TenantID string
	// State is the syncer's state as JSON; kept as given.
	State []byte
	// LastSuccess is when a sync last succeeded; zero when never.
	LastSuccess time.Time
	// LastError is the last sync's error, empty after a success.
	LastError string
	// UpdatedAt is when the state was saved.
	UpdatedAt time.Time
}

// Connectors is the change-source connectors' configuration and state,
// shared by every collector on the store.
//
// Polling a connector is leased: ClaimConnector gives one owner (a
// collector process) the right to poll until the lease expires, so that
// several collectors on one database do not poll the same external system
// at once, and a collector that stops is replaced once its lease runs out.
type Connectors interface {
	// CreateConnector stores a new connector from the API; ErrExists when
	// a connector of either source has the name, ErrNotFound when the
	// tenant does not exist.
	CreateConnector(ctx context.Context, c Connector) error
	// UpdateConnector replaces an API connector's tenant, kind, config
	// and secret, keeping CreatedAt; ErrNotFound when no API connector has
	// the name (a configuration-file connector is not changed).
	UpdateConnector(ctx context.Context, c Connector) error
	// RegisterConnector stores or replaces a connector from a collector's
	// configuration file; ErrExists when an API connector has the name.
	RegisterConnector(ctx context.Context, c Connector) error
	// DeleteConnector removes a connector with its state and lease;
	// ErrNotFound when there is none.
	DeleteConnector(ctx context.Context, name string) error
	// Connector returns one connector; ErrNotFound when there is none.
	Connector(ctx context.Context, name string) (Connector, error)
	// ListConnectors lists the tenant's connectors by name; tenantID ""
	// lists every tenant's.
	ListConnectors(ctx context.Context, tenantID string) ([]Connector, error)

	// ConnectorState returns a connector's saved state; ErrNotFound when
	// none was saved.
	ConnectorState(ctx context.Context, name string) (ConnectorState, error)
	// SaveConnectorState replaces a connector's state whole. State must be
	// valid JSON.
	SaveConnectorState(ctx context.Context, st ConnectorState) error
	// ConnectorStates lists the saved states of the tenant's connectors
	// by name; tenantID "" lists every tenant's.
	ConnectorStates(ctx context.Context, tenantID string) ([]ConnectorState, error)

	// ClaimConnector takes, or renews, the lease on polling the connector
	// for owner until at+lease. It returns false when another owner holds
	// a lease that has not expired at at.
	ClaimConnector(ctx context.Context, name, owner string, at time.Time, lease time.Duration) (bool, error)
	// ReleaseConnector ends owner's lease on the connector; nothing
	// happens when owner does not hold it.
	ReleaseConnector(ctx context.Context, name, owner string) error
}
