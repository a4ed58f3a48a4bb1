package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

const connectorCols = `name, tenant_id, kind, source, config::text, secret, created_at, updated_at`

func scanConnector(row pgx.Row) (store.Connector, error) {
	var c store.Connector
	var config string
	err := row.Scan(&c.Name, &c.TenantID, &c.Kind, &c.Source, &config, &c.Secret, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	if err != nil {
		return store.Connector{}, mapErr(err)
	}
	c.Config = []byte(config)
	if len(c.Secret) == 0 {
		c.Secret = nil
	}
	return c, nil
}

// checkConnector refuses a connector the store cannot keep.
func checkConnector(c store.Connector) error {
	switch {
	case c.Name == "" || c.TenantID == "" || c.Kind == "":
		return fmt.Errorf("connector %q: name, tenant and kind are required", c.Name)
	case !json.Valid(c.Config):
		return fmt.Errorf("connector %s: config is not valid JSON", c.Name)
	}
	return nil
}

// secretArg is a sealed secret as stored: NULL when empty.
func secretArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateConnector stores a new API connector.
func (s *Store) CreateConnector(ctx context.Context, c store.Connector) error {
	if err := checkConnector(c); err != nil {
		return fmt.Errorf("create %w", err)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO connectors (name, tenant_id, kind, source, config, secret, created_at, updated_at)
			VALUES ($1, $2, $3, 'api', $4, $5, $6, $7)`,
			c.Name, c.TenantID, c.Kind, string(c.Config), secretArg(c.Secret), utc(c.CreatedAt), utc(c.UpdatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create connector %s of tenant %s: %w", c.Name, c.TenantID, err)
	}
	return nil
}

// UpdateConnector replaces an API connector.
func (s *Store) UpdateConnector(ctx context.Context, c store.Connector) error {
	if err := checkConnector(c); err != nil {
		return fmt.Errorf("update %w", err)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE connectors SET tenant_id = $1, kind = $2, config = $3, secret = $4, updated_at = $5
			WHERE name = $6 AND source = 'api'`,
			c.TenantID, c.Kind, string(c.Config), secretArg(c.Secret), utc(c.UpdatedAt), c.Name)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: no connector %s configured through the API", store.ErrNotFound, c.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update connector %s: %w", c.Name, err)
	}
	return nil
}

// RegisterConnector stores or replaces a configuration-file connector.
func (s *Store) RegisterConnector(ctx context.Context, c store.Connector) error {
	if err := checkConnector(c); err != nil {
		return fmt.Errorf("register %w", err)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO connectors (name, tenant_id, kind, source, config, secret, created_at, updated_at)
			VALUES ($1, $2, $3, 'config', $4, NULL, $5, $6)
			ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, kind = excluded.kind, config = excluded.config,
				secret = NULL, updated_at = excluded.updated_at
			WHERE connectors.source = 'config'`,
			c.Name, c.TenantID, c.Kind, string(c.Config), utc(c.CreatedAt), utc(c.UpdatedAt))
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: a connector configured through the API has the name", store.ErrExists)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("register connector %s of tenant %s: %w", c.Name, c.TenantID, err)
	}
	return nil
}

// DeleteConnector removes a connector, its state and its lease.
func (s *Store) DeleteConnector(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM connectors WHERE name = $1`, name)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM connector_state WHERE name = $1`, name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM connector_leases WHERE name = $1`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete connector %s: %w", name, err)
	}
	return nil
}

// Connector returns one connector.
func (s *Store) Connector(ctx context.Context, name string) (store.Connector, error) {
	c, err := scanConnector(s.pool.QueryRow(ctx, `SELECT `+connectorCols+` FROM connectors WHERE name = $1`, name))
	if err != nil {
		return store.Connector{}, fmt.Errorf("connector %s: %w", name, err)
	}
	return c, nil
}

// ListConnectors lists connectors by name.
func (s *Store) ListConnectors(ctx context.Context, tenantID string) ([]store.Connector, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+connectorCols+` FROM connectors WHERE $1 = '' OR tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Connector, error) { return scanConnector(row) })
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	return out, nil
}

const connectorStateCols = `name, tenant_id, state::text, last_success, last_error, updated_at`

func scanConnectorState(row pgx.Row) (store.ConnectorState, error) {
	var st store.ConnectorState
	var doc string
	if err := row.Scan(&st.Name, &st.TenantID, &doc, timeCol{&st.LastSuccess}, &st.LastError, timeCol{&st.UpdatedAt}); err != nil {
		return store.ConnectorState{}, mapErr(err)
	}
	st.State = []byte(doc)
	return st, nil
}

// ConnectorState returns a connector's saved state.
func (s *Store) ConnectorState(ctx context.Context, name string) (store.ConnectorState, error) {
	st, err := scanConnectorState(s.pool.QueryRow(ctx, `SELECT `+connectorStateCols+` FROM connector_state WHERE name = $1`, name))
	if err != nil {
		return store.ConnectorState{}, fmt.Errorf("state of connector %s: %w", name, err)
	}
	return st, nil
}

// SaveConnectorState replaces a connector's state.
func (s *Store) SaveConnectorState(ctx context.Context, st store.ConnectorState) error {
	if st.Name == "" || !json.Valid(st.State) {
		return fmt.Errorf("save state of connector %q: want a name and a JSON state", st.Name)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO connector_state (name, tenant_id, state, last_success, last_error, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, state = excluded.state,
				last_success = excluded.last_success, last_error = excluded.last_error, updated_at = excluded.updated_at`,
			st.Name, st.TenantID, string(st.State), nullTime(st.LastSuccess), st.LastError, utc(st.UpdatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("save state of connector %s: %w", st.Name, err)
	}
	return nil
}

// ConnectorStates lists saved states by name.
func (s *Store) ConnectorStates(ctx context.Context, tenantID string) ([]store.ConnectorState, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+connectorStateCols+` FROM connector_state WHERE $1 = '' OR tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list connector states: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ConnectorState, error) { return scanConnectorState(row) })
	if err != nil {
		return nil, fmt.Errorf("list connector states: %w", err)
	}
	return out, nil
}

// ClaimConnector takes or renews the polling lease. The conditional
// upsert runs on the lease row's lock: of two collectors claiming an
// expired lease at once, the second sees the first's new lease and loses.
func (s *Store) ClaimConnector(ctx context.Context, name, owner string, at time.Time, lease time.Duration) (bool, error) {
	if name == "" || owner == "" || lease <= 0 {
		return false, fmt.Errorf("claim connector %q: want a name, an owner and a positive lease", name)
	}
	var won bool
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO connector_leases (name, owner, until) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
			WHERE connector_leases.owner = excluded.owner OR connector_leases.until <= $4`,
			name, owner, utc(at.Add(lease)), utc(at))
		if err != nil {
			return mapErr(err)
		}
		won = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("claim connector %s for %s: %w", name, owner, err)
	}
	return won, nil
}

// ReleaseConnector ends owner's lease.
func (s *Store) ReleaseConnector(ctx context.Context, name, owner string) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM connector_leases WHERE name = $1 AND owner = $2`, name, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release connector %s for %s: %w", name, owner, err)
	}
	return nil
}
