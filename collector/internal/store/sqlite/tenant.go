package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// CreateTenant creates a tenant; store.ErrExists when the name or ID is
// taken.
func (s *Store) CreateTenant(ctx context.Context, id, name string, at time.Time) (store.Tenant, error) {
	t := store.Tenant{ID: id, Name: name, CreatedAt: at.UTC().Truncate(time.Microsecond)}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
			id, name, fmtTime(at))
		return mapErr(err)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("create tenant %q: %w", name, err)
	}
	return t, nil
}

// TenantByName finds a tenant.
func (s *Store) TenantByName(ctx context.Context, name string) (store.Tenant, error) {
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants WHERE name = ?`, name))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("tenant %q: %w", name, err)
	}
	return t, nil
}

// TenantByID finds a tenant.
func (s *Store) TenantByID(ctx context.Context, id string) (store.Tenant, error) {
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants WHERE id = ?`, id))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	return t, nil
}

// Tenants lists every tenant by name.
func (s *Store) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, created_at FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var ts []store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface{ Scan(dest ...any) error }

func scanTenant(row scanner) (store.Tenant, error) {
	var t store.Tenant
	if err := row.Scan(&t.ID, &t.Name, timeCol{&t.CreatedAt}); err != nil {
		return store.Tenant{}, mapErr(err)
	}
	return t, nil
}

// CreateToken stores an enrollment token.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO enrollment_tokens (id, tenant_id, hash, expires_at, uses_left, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.TenantID, t.Hash, nullTime(t.ExpiresAt), t.UsesLeft, fmtTime(t.CreatedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create token %s of tenant %s: %w", t.ID, t.TenantID, err)
	}
	return nil
}

// Enroll uses one use of a token and creates or re-enrolls the host. The
// write connection serializes enrollments, and the token's use count is
// taken with one conditional UPDATE.
func (s *Store) Enroll(ctx context.Context, e store.Enrollment) (store.Host, error) {
	labels, err := labelsJSON(e.Labels)
	if err != nil {
		return store.Host{}, fmt.Errorf("enroll host %q: labels: %w", e.Name, err)
	}
	var h store.Host
	err = s.write(ctx, func(tx *sql.Tx) error {
		var tenantID string
		err := tx.QueryRowContext(ctx, `UPDATE enrollment_tokens SET uses_left = uses_left - 1
			WHERE hash = ? AND uses_left > 0 AND (expires_at IS NULL OR expires_at > ?)
			RETURNING tenant_id`, e.TokenHash, fmtTime(e.At)).Scan(&tenantID)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenUnusable(ctx, tx, e)
		}
		if err != nil {
			return fmt.Errorf("use token: %w", err)
		}
		var id string
		err = tx.QueryRowContext(ctx, `INSERT INTO hosts (id, tenant_id, name, labels, credential_hash, agent_version, enrolled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, name) DO UPDATE SET
				labels = excluded.labels,
				credential_hash = excluded.credential_hash,
				agent_version = excluded.agent_version
			RETURNING id`,
			e.NewHostID, tenantID, e.Name, labels, e.CredentialHash, e.AgentVersion, fmtTime(e.At)).Scan(&id)
		if err != nil {
			return mapErr(err)
		}
		h, err = scanHost(tx.QueryRowContext(ctx, `SELECT `+hostCols+` FROM hosts WHERE id = ?`, id))
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
	err := q.QueryRowContext(ctx, `SELECT expires_at, uses_left FROM enrollment_tokens WHERE hash = ?`, e.TokenHash).
		Scan(timeCol{&expires}, &usesLeft)
	switch {
	case errors.Is(err, sql.ErrNoRows):
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
	var tenantID any
	if u.TenantID != "" {
		tenantID = u.TenantID
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, tenant_id, email, role, token_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			u.ID, tenantID, u.Email, u.Role, u.TokenHash, fmtTime(u.CreatedAt))
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
	var tenantID sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT id, tenant_id, email, role, token_hash, created_at FROM users WHERE token_hash = ?`, hash).
		Scan(&u.ID, &tenantID, &u.Email, &u.Role, &u.TokenHash, timeCol{&u.CreatedAt})
	if err != nil {
		return store.User{}, fmt.Errorf("user by token: %w", mapErr(err))
	}
	u.TenantID = tenantID.String
	return u, nil
}
