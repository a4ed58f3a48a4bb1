package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// CreateTenant creates a tenant; store.ErrExists when the name or ID is
// taken.
func (s *Store) CreateTenant(ctx context.Context, id, name string, at time.Time) (store.Tenant, error) {
	t := store.Tenant{ID: id, Name: name, CreatedAt: utc(at)}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)`, id, name, t.CreatedAt)
		return mapErr(err)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("create tenant %q: %w", name, err)
	}
	return t, nil
}

// TenantByName finds a tenant.
func (s *Store) TenantByName(ctx context.Context, name string) (store.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM tenants WHERE name = $1`, name))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("tenant %q: %w", name, err)
	}
	return t, nil
}

// TenantByID finds a tenant.
func (s *Store) TenantByID(ctx context.Context, id string) (store.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM tenants WHERE id = $1`, id))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	return t, nil
}

// Tenants lists every tenant by name.
func (s *Store) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, created_at FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Tenant, error) { return scanTenant(row) })
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

func scanTenant(row pgx.Row) (store.Tenant, error) {
	var t store.Tenant
	if err := row.Scan(&t.ID, &t.Name, timeCol{&t.CreatedAt}); err != nil {
		return store.Tenant{}, mapErr(err)
	}
	return t, nil
}

// CreateToken stores an enrollment token.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO enrollment_tokens (id, tenant_id, hash, expires_at, uses_left, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			t.ID, t.TenantID, t.Hash, nullTime(t.ExpiresAt), t.UsesLeft, utc(t.CreatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create token %s of tenant %s: %w", t.ID, t.TenantID, err)
	}
	return nil
}

// Enroll uses one use of a token and creates or re-enrolls the host. The
// token's use is taken with one conditional UPDATE, which PostgreSQL
// serializes on the token's row; the host is created or updated with one
// upsert on (tenant, name).
func (s *Store) Enroll(ctx context.Context, e store.Enrollment) (store.Host, error) {
	labels := e.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	var h store.Host
	err := s.write(ctx, func(tx pgx.Tx) error {
		var tenantID string
		err := tx.QueryRow(ctx, `UPDATE enrollment_tokens SET uses_left = uses_left - 1
			WHERE hash = $1 AND uses_left > 0 AND (expires_at IS NULL OR expires_at > $2)
			RETURNING tenant_id`, e.TokenHash, utc(e.At)).Scan(&tenantID)
		if errors.Is(err, pgx.ErrNoRows) {
			return tokenUnusable(ctx, tx, e)
		}
		if err != nil {
			return fmt.Errorf("use token: %w", err)
		}
		var id string
		err = tx.QueryRow(ctx, `INSERT INTO hosts (id, tenant_id, name, labels, credential_hash, agent_version, enrolled_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (tenant_id, name) DO UPDATE SET
				labels = excluded.labels,
				credential_hash = excluded.credential_hash,
				agent_version = excluded.agent_version
			RETURNING id`,
			e.NewHostID, tenantID, e.Name, labels, e.CredentialHash, e.AgentVersion, utc(e.At)).Scan(&id)
		if err != nil {
			return mapErr(err)
		}
		h, err = scanHost(tx.QueryRow(ctx, `SELECT `+hostCols+` FROM hosts WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return store.Host{}, fmt.Errorf("enroll host %q: %w", e.Name, err)
	}
	return h, nil
}

// tokenUnusable says why the token with e's hash could not be used.
func tokenUnusable(ctx context.Context, q queryer, e store.Enrollment) error {
	var expires time.Time
	var usesLeft int
	err := q.QueryRow(ctx, `SELECT expires_at, uses_left FROM enrollment_tokens WHERE hash = $1`, e.TokenHash).
		Scan(timeCol{&expires}, &usesLeft)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("token: %w", store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("token: %w", err)
	case !expires.IsZero() && !e.At.Before(expires):
		return fmt.Errorf("token expired at %s: %w", expires.Format(time.RFC3339), store.ErrTokenExpired)
	default:
		return fmt.Errorf("token: %w", store.ErrTokenUsedUp)
	}
}

// CreateUser stores a user; an empty TenantID is an MSP-wide user.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	var tenantID *string
	if u.TenantID != "" {
		tenantID = &u.TenantID
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (id, tenant_id, email, role, token_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, tenantID, u.Email, u.Role, u.TokenHash, utc(u.CreatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Email, err)
	}
	return nil
}

// UserByTokenHash finds the user an API token belongs to.
func (s *Store) UserByTokenHash(ctx context.Context, hash string) (store.User, error) {
	var u store.User
	var tenantID *string
	err := s.pool.QueryRow(ctx, `SELECT id, tenant_id, email, role, token_hash, created_at FROM users WHERE token_hash = $1`, hash).
		Scan(&u.ID, &tenantID, &u.Email, &u.Role, &u.TokenHash, timeCol{&u.CreatedAt})
	if err != nil {
		return store.User{}, fmt.Errorf("user by token: %w", mapErr(err))
	}
	if tenantID != nil {
		u.TenantID = *tenantID
	}
	return u, nil
}
