package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// SetNotifyPref stores a recipient's choice about a list.
func (s *Store) SetNotifyPref(ctx context.Context, p store.NotifyPref) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set notification preference: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO notify_prefs (tenant_id, recipient, list, enabled, updated_at, source)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, recipient, list) DO UPDATE
			SET enabled = excluded.enabled, updated_at = excluded.updated_at, source = excluded.source`,
			p.TenantID, p.Recipient, p.List, p.Enabled, fmtTime(p.UpdatedAt), p.Source)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("set notification preference %s of %s in tenant %s: %w", p.List, p.Recipient, p.TenantID, err)
	}
	return nil
}

// NotifyPrefs lists the stored choices of a tenant's recipients.
func (s *Store) NotifyPrefs(ctx context.Context, tenantID, recipient string) ([]store.NotifyPref, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT tenant_id, recipient, list, enabled, updated_at, source FROM notify_prefs
		WHERE tenant_id = ? AND (? = '' OR recipient = ?) ORDER BY recipient, list`, tenantID, recipient, recipient)
	if err != nil {
		return nil, fmt.Errorf("notification preferences of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	var out []store.NotifyPref
	for rows.Next() {
		var p store.NotifyPref
		if err := rows.Scan(&p.TenantID, &p.Recipient, &p.List, &p.Enabled, timeCol{&p.UpdatedAt}, &p.Source); err != nil {
			return nil, fmt.Errorf("notification preferences of tenant %s: %w", tenantID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notification preferences of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// jsonObject reports whether b is a JSON object.
func jsonObject(b []byte) bool {
	return json.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
}

// PutNotifySettings stores a tenant's settings as the next version.
func (s *Store) PutNotifySettings(ctx context.Context, tenantID string, settings []byte, by string, at time.Time) (int, error) {
	if !jsonObject(settings) {
		return 0, fmt.Errorf("put notification settings of tenant %s: %w: not a JSON object", tenantID, store.ErrInvalid)
	}
	var v int
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO notify_settings (tenant_id, settings, version, updated_at, updated_by)
			VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, version = notify_settings.version + 1,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by
			RETURNING version`, tenantID, string(settings), fmtTime(at), by).Scan(&v)
		return mapErr(err)
	})
	if err != nil {
		return 0, fmt.Errorf("put notification settings of tenant %s: %w", tenantID, err)
	}
	return v, nil
}

const notifySettingsCols = `tenant_id, settings, version, updated_at, updated_by`

func scanNotifySettings(row interface{ Scan(...any) error }) (store.TenantNotifySettings, error) {
	var ns store.TenantNotifySettings
	if err := row.Scan(&ns.TenantID, rawJSONCol{&ns.Settings}, &ns.Version, timeCol{&ns.UpdatedAt}, &ns.UpdatedBy); err != nil {
		return store.TenantNotifySettings{}, mapErr(err)
	}
	return ns, nil
}

// NotifySettings returns a tenant's settings.
func (s *Store) NotifySettings(ctx context.Context, tenantID string) (store.TenantNotifySettings, error) {
	ns, err := scanNotifySettings(s.r.QueryRowContext(ctx, `SELECT `+notifySettingsCols+` FROM notify_settings WHERE tenant_id = ?`, tenantID))
	if err != nil {
		return ns, fmt.Errorf("notification settings of tenant %s: %w", tenantID, err)
	}
	return ns, nil
}

// AllNotifySettings lists every tenant's settings.
func (s *Store) AllNotifySettings(ctx context.Context) ([]store.TenantNotifySettings, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+notifySettingsCols+` FROM notify_settings ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("notification settings: %w", err)
	}
	defer rows.Close()
	var out []store.TenantNotifySettings
	for rows.Next() {
		ns, err := scanNotifySettings(rows)
		if err != nil {
			return nil, fmt.Errorf("notification settings: %w", err)
		}
		out = append(out, ns)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notification settings: %w", err)
	}
	return out, nil
}

// DeleteNotifySettings removes a tenant's settings.
func (s *Store) DeleteNotifySettings(ctx context.Context, tenantID string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM notify_settings WHERE tenant_id = ?`, tenantID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete notification settings of tenant %s: %w", tenantID, err)
	}
	return nil
}

// NotifySigningKey returns the signing key, storing key when there is none.
func (s *Store) NotifySigningKey(ctx context.Context, key []byte) ([]byte, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("notification signing key: %w: %d bytes, want at least 32", store.ErrInvalid, len(key))
	}
	var out []byte
	err := s.r.QueryRowContext(ctx, `SELECT key FROM notify_key WHERE id = 1`).Scan(&out)
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notification signing key: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_key (id, key) VALUES (1, ?) ON CONFLICT DO NOTHING`, key); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT key FROM notify_key WHERE id = 1`).Scan(&out)
	})
	if err != nil {
		return nil, fmt.Errorf("notification signing key: %w", err)
	}
	return out, nil
}
