package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

const connectorCols = `name, tenant_id, kind, source, config, secret, created_at, updated_at`

func scanConnector(row scanner) (store.Connector, error) {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO connectors (`+connectorCols+`) VALUES (?, ?, ?, 'api', ?, ?, ?, ?)`,
			c.Name, c.TenantID, c.Kind, string(c.Config), secretArg(c.Secret), fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt))
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE connectors SET tenant_id = ?, kind = ?, config = ?, secret = ?, updated_at = ?
			WHERE name = ? AND source = 'api'`,
			c.TenantID, c.Kind, string(c.Config), secretArg(c.Secret), fmtTime(c.UpdatedAt), c.Name)
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO connectors (`+connectorCols+`) VALUES (?, ?, ?, 'config', ?, NULL, ?, ?)
			ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, kind = excluded.kind, config = excluded.config,
				secret = NULL, updated_at = excluded.updated_at
			WHERE connectors.source = 'config'`,
			c.Name, c.TenantID, c.Kind, string(c.Config), fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt))
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM connectors WHERE name = ?`, name)
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM connector_state WHERE name = ?`, name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM connector_leases WHERE name = ?`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete connector %s: %w", name, err)
	}
	return nil
}

// Connector returns one connector.
func (s *Store) Connector(ctx context.Context, name string) (store.Connector, error) {
	c, err := scanConnector(s.r.QueryRowContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE name = ?`, name))
	if err != nil {
		return store.Connector{}, fmt.Errorf("connector %s: %w", name, err)
	}
	return c, nil
}

// ListConnectors lists connectors by name.
func (s *Store) ListConnectors(ctx context.Context, tenantID string) ([]store.Connector, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+connectorCols+` FROM connectors WHERE ? = '' OR tenant_id = ? ORDER BY name`, tenantID, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	defer rows.Close()
	var out []store.Connector
	for rows.Next() {
		c, err := scanConnector(rows)
		if err != nil {
			return nil, fmt.Errorf("list connectors: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	return out, nil
}

const connectorStateCols = `name, tenant_id, state, last_success, last_error, updated_at`

func scanConnectorState(row scanner) (store.ConnectorState, error) {
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
	st, err := scanConnectorState(s.r.QueryRowContext(ctx, `SELECT `+connectorStateCols+` FROM connector_state WHERE name = ?`, name))
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO connector_state (`+connectorStateCols+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, state = excluded.state,
				last_success = excluded.last_success, last_error = excluded.last_error, updated_at = excluded.updated_at`,
			st.Name, st.TenantID, string(st.State), nullTime(st.LastSuccess), st.LastError, fmtTime(st.UpdatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("save state of connector %s: %w", st.Name, err)
	}
	return nil
}

// ConnectorStates lists saved states by name.
func (s *Store) ConnectorStates(ctx context.Context, tenantID string) ([]store.ConnectorState, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+connectorStateCols+` FROM connector_state WHERE ? = '' OR tenant_id = ? ORDER BY name`, tenantID, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list connector states: %w", err)
	}
	defer rows.Close()
	var out []store.ConnectorState
	for rows.Next() {
		st, err := scanConnectorState(rows)
		if err != nil {
			return nil, fmt.Errorf("list connector states: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list connector states: %w", err)
	}
	return out, nil
}

// ClaimConnector takes or renews the polling lease.
func (s *Store) ClaimConnector(ctx context.Context, name, owner string, at time.Time, lease time.Duration) (bool, error) {
	if name == "" || owner == "" || lease <= 0 {
		return false, fmt.Errorf("claim connector %q: want a name, an owner and a positive lease", name)
	}
	var won bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO connector_leases (name, owner, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
			WHERE connector_leases.owner = excluded.owner OR connector_leases.until <= ?`,
			name, owner, fmtTime(at.Add(lease)), fmtTime(at))
		if err != nil {
			return mapErr(err)
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim connector %s for %s: %w", name, owner, err)
	}
	return won, nil
}

// ReleaseConnector ends owner's lease.
func (s *Store) ReleaseConnector(ctx context.Context, name, owner string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM connector_leases WHERE name = ? AND owner = ?`, name, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release connector %s for %s: %w", name, owner, err)
	}
	return nil
}
