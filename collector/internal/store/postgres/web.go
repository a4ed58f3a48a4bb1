package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// userCols are the users columns scanUser reads, from a table aliased u.
const userCols = `u.id, u.tenant_id, u.email, u.role, u.token_hash, u.created_at`

func scanUser(row pgx.Row, extra ...any) (store.User, error) {
	var u store.User
	var tenantID *string
	dest := append([]any{&u.ID, &tenantID, &u.Email, &u.Role, &u.TokenHash, timeCol{&u.CreatedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.User{}, mapErr(err)
	}
	if tenantID != nil {
		u.TenantID = *tenantID
	}
	return u, nil
}

// UserByID finds a user in any tenant.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = $1`, id))
	if err != nil {
		return store.User{}, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

// UserByEmail finds a user of a tenant (or an MSP-wide one) by email.
func (s *Store) UserByEmail(ctx context.Context, tenantID, email string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users u
		WHERE coalesce(u.tenant_id, '') = $1 AND lower(u.email) = lower($2)`, tenantID, email))
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", email, err)
	}
	return u, nil
}

// SetPassword sets a user's password hash and ends the user's sessions.
func (s *Store) SetPassword(ctx context.Context, userID, hash string, at time.Time) (int, error) {
	if err := store.CheckPassword(userID, hash, at); err != nil {
		return 0, err
	}
	ended := 0
	err := s.write(ctx, func(tx pgx.Tx) error {
		// The user row is locked, so that a session created meanwhile
		// waits and is not left signed in under the old password.
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&id); err != nil {
			return mapErr(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO user_passwords (user_id, hash, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at`,
			userID, hash, utc(at)); err != nil {
			return mapErr(err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		ended = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("set password of user %s: %w", userID, err)
	}
	return ended, nil
}

// PasswordLogins returns the users with an email that have a password.
func (s *Store) PasswordLogins(ctx context.Context, email string) ([]store.PasswordLogin, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+`, p.hash, p.updated_at
		FROM users u JOIN user_passwords p ON p.user_id = u.id LEFT JOIN tenants t ON t.id = u.tenant_id
		WHERE lower(u.email) = lower($1)
		ORDER BY u.tenant_id IS NOT NULL, t.name, u.id`, email)
	if err != nil {
		return nil, fmt.Errorf("password logins of %q: %w", email, err)
	}
	defer rows.Close()
	out := []store.PasswordLogin{}
	for rows.Next() {
		var pl store.PasswordLogin
		u, err := scanUser(rows, &pl.PasswordHash, timeCol{&pl.PasswordSetAt})
		if err != nil {
			return nil, fmt.Errorf("password logins of %q: %w", email, err)
		}
		pl.User = u
		out = append(out, pl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("password logins of %q: %w", email, err)
	}
	return out, nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, ws store.Session) error {
	if err := store.CheckSession(ws); err != nil {
		return err
	}
	last := ws.LastSeenAt
	if last.IsZero() {
		last = ws.CreatedAt
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, remote_addr, user_agent)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			ws.IDHash, ws.UserID, ws.CSRFToken, utc(ws.CreatedAt), utc(last), utc(ws.ExpiresAt), ws.RemoteAddr, ws.UserAgent)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create session of user %s: %w", ws.UserID, err)
	}
	return nil
}

// Session returns an unexpired session and its user.
func (s *Store) Session(ctx context.Context, idHash string, at time.Time) (store.Session, store.User, error) {
	var ws store.Session
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+`,
			w.id_hash, w.user_id, w.csrf_token, w.created_at, w.last_seen_at, w.expires_at, w.remote_addr, w.user_agent
		FROM web_sessions w JOIN users u ON u.id = w.user_id
		WHERE w.id_hash = $1 AND w.expires_at > $2`, idHash, utc(at)),
		&ws.IDHash, &ws.UserID, &ws.CSRFToken, timeCol{&ws.CreatedAt}, timeCol{&ws.LastSeenAt}, timeCol{&ws.ExpiresAt},
		&ws.RemoteAddr, &ws.UserAgent)
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("session: %w", err)
	}
	return ws, u, nil
}

// TouchSession records a session's use and moves its expiry.
func (s *Store) TouchSession(ctx context.Context, idHash string, lastSeen, expiresAt time.Time) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE web_sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3 AND expires_at > $1`,
			utc(lastSeen), utc(expiresAt), idHash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.deleteCount(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	n, err := s.deleteCount(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %s: %w", userID, err)
	}
	return n, nil
}

// PruneSessions deletes the sessions expired at or before before.
func (s *Store) PruneSessions(ctx context.Context, before time.Time) (int, error) {
	n, err := s.deleteCount(ctx, `DELETE FROM web_sessions WHERE expires_at <= $1`, utc(before))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}

// deleteCount runs a DELETE in a transaction and returns the rows it
// deleted.
func (s *Store) deleteCount(ctx context.Context, q string, args ...any) (int, error) {
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// AddLoginFailure records a failed sign-in under each key.
func (s *Store) AddLoginFailure(ctx context.Context, keys []string, at time.Time) error {
	if err := store.CheckLoginFailure(keys, at); err != nil {
		return err
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO login_failures (key, at) SELECT k, $2 FROM unnest($1::text[]) AS k`, keys, utc(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return nil
}

// LoginFailures returns the times of a key's failures since since, newest
// first.
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	q := `SELECT at FROM login_failures WHERE key = $1 AND at >= $2 ORDER BY at DESC`
	args := []any{key, utc(since)}
	if limit > 0 {
		q += ` LIMIT $3`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("failed sign-ins of %s: %w", key, err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(timeCol{&at}); err != nil {
			return nil, fmt.Errorf("failed sign-ins of %s: %w", key, err)
		}
		out = append(out, at)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("failed sign-ins of %s: %w", key, err)
	}
	return out, nil
}

// ClearLoginFailures forgets a key's failures.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := s.deleteCount(ctx, `DELETE FROM login_failures WHERE key = $1`, key); err != nil {
		return fmt.Errorf("clear failed sign-ins of %s: %w", key, err)
	}
	return nil
}

// PruneLoginFailures deletes the failures recorded before before.
func (s *Store) PruneLoginFailures(ctx context.Context, before time.Time) (int, error) {
	n, err := s.deleteCount(ctx, `DELETE FROM login_failures WHERE at < $1`, utc(before))
	if err != nil {
		return 0, fmt.Errorf("prune failed sign-ins: %w", err)
	}
	return n, nil
}

// HeartbeatTimes returns when each of a tenant's hosts last sent a
// heartbeat.
func (s *Store) HeartbeatTimes(ctx context.Context, tenantID string) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT host_id, at FROM host_heartbeats WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("heartbeats of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, timeCol{&at}); err != nil {
			return nil, fmt.Errorf("heartbeats of tenant %s: %w", tenantID, err)
		}
		out[id] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("heartbeats of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// TimeZones returns a user's zone and a tenant's default zone.
func (s *Store) TimeZones(ctx context.Context, userID, tenantID string) (string, string, error) {
	var user, tenant string
	err := s.pool.QueryRow(ctx, `SELECT
			coalesce((SELECT time_zone FROM user_time_zones WHERE user_id = $1), ''),
			coalesce((SELECT time_zone FROM tenant_time_zones WHERE tenant_id = $2), '')`, userID, tenantID).Scan(&user, &tenant)
	if err != nil {
		return "", "", fmt.Errorf("time zones of user %s and tenant %s: %w", userID, tenantID, err)
	}
	return user, tenant, nil
}

// SetUserTimeZone sets or clears a user's zone.
func (s *Store) SetUserTimeZone(ctx context.Context, userID, zone string, at time.Time) error {
	if userID == "" || at.IsZero() {
		return fmt.Errorf("set time zone of user %q: no user or time: %w", userID, store.ErrInvalid)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1`, userID).Scan(&id); err != nil {
			return mapErr(err)
		}
		if zone == "" {
			_, err := tx.Exec(ctx, `DELETE FROM user_time_zones WHERE user_id = $1`, userID)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO user_time_zones (user_id, time_zone, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
			userID, zone, utc(at))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("set time zone of user %s: %w", userID, err)
	}
	return nil
}

// SetTenantTimeZone sets or clears a tenant's default zone.
func (s *Store) SetTenantTimeZone(ctx context.Context, tenantID, zone, by string, at time.Time) error {
	if tenantID == "" || at.IsZero() {
		return fmt.Errorf("set time zone of tenant %q: no tenant or time: %w", tenantID, store.ErrInvalid)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM tenants WHERE id = $1`, tenantID).Scan(&id); err != nil {
			return mapErr(err)
		}
		if zone == "" {
			_, err := tx.Exec(ctx, `DELETE FROM tenant_time_zones WHERE tenant_id = $1`, tenantID)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tenant_time_zones (tenant_id, time_zone, updated_at, updated_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at,
				updated_by = excluded.updated_by`, tenantID, zone, utc(at), by)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("set time zone of tenant %s: %w", tenantID, err)
	}
	return nil
}
