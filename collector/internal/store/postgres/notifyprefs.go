package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// SetNotifyPref stores a recipient's choice about a list.
func (s *Store) SetNotifyPref(ctx context.Context, p store.NotifyPref) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set notification preference: %w", err)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO notify_prefs (tenant_id, recipient, list, enabled, updated_at, source)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, recipient, list) DO UPDATE
			SET enabled = excluded.enabled, updated_at = excluded.updated_at, source = excluded.source`,
			p.TenantID, p.Recipient, p.List, p.Enabled, utc(p.UpdatedAt), p.Source)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("set notification preference %s of %s in tenant %s: %w", p.List, p.Recipient, p.TenantID, err)
	}
	return nil
}

// NotifyPrefs lists the stored choices of a tenant's recipients.
func (s *Store) NotifyPrefs(ctx context.Context, tenantID, recipient string) ([]store.NotifyPref, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, recipient, list, enabled, updated_at, source FROM notify_prefs
		WHERE tenant_id = $1 AND ($2 = '' OR recipient = $2) ORDER BY recipient, list`, tenantID, recipient)
	if err != nil {
		return nil, fmt.Errorf("notification preferences of tenant %s: %w", tenantID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.NotifyPref, error) {
		var p store.NotifyPref
		err := row.Scan(&p.TenantID, &p.Recipient, &p.List, &p.Enabled, timeCol{&p.UpdatedAt}, &p.Source)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("notification preferences of tenant %s: %w", tenantID, err)
	}
	if len(out) == 0 {
		return nil, nil
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO notify_settings (tenant_id, settings, version, updated_at, updated_by)
			VALUES ($1, $2::jsonb, 1, $3, $4)
			ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, version = notify_settings.version + 1,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by
			RETURNING version`, tenantID, string(settings), utc(at), by).Scan(&v)
		return mapErr(err)
	})
	if err != nil {
		return 0, fmt.Errorf("put notification settings of tenant %s: %w", tenantID, err)
	}
	return v, nil
}

const notifySettingsCols = `tenant_id, settings::text, version, updated_at, updated_by`

func scanNotifySettings(row pgx.Row) (store.TenantNotifySettings, error) {
	var ns store.TenantNotifySettings
	var settings string
	if err := row.Scan(&ns.TenantID, &settings, &ns.Version, timeCol{&ns.UpdatedAt}, &ns.UpdatedBy); err != nil {
		return store.TenantNotifySettings{}, mapErr(err)
	}
	ns.Settings = []byte(settings)
	return ns, nil
}

// NotifySettings returns a tenant's settings.
func (s *Store) NotifySettings(ctx context.Context, tenantID string) (store.TenantNotifySettings, error) {
	ns, err := scanNotifySettings(s.pool.QueryRow(ctx, `SELECT `+notifySettingsCols+` FROM notify_settings WHERE tenant_id = $1`, tenantID))
	if err != nil {
		return ns, fmt.Errorf("notification settings of tenant %s: %w", tenantID, err)
	}
	return ns, nil
}

// AllNotifySettings lists every tenant's settings.
func (s *Store) AllNotifySettings(ctx context.Context) ([]store.TenantNotifySettings, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+notifySettingsCols+` FROM notify_settings ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("notification settings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.TenantNotifySettings, error) { return scanNotifySettings(row) })
	if err != nil {
		return nil, fmt.Errorf("notification settings: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// DeleteNotifySettings removes a tenant's settings.
func (s *Store) DeleteNotifySettings(ctx context.Context, tenantID string) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM notify_settings WHERE tenant_id = $1`, tenantID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete notification settings of tenant %s: %w", tenantID, err)
	}
	return nil
}

// NotifySigningKey returns the signing key, storing key when there is
// none; two collectors storing one at once get the same one back.
func (s *Store) NotifySigningKey(ctx context.Context, key []byte) ([]byte, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("notification signing key: %w: %d bytes, want at least 32", store.ErrInvalid, len(key))
	}
	var out []byte
	err := s.pool.QueryRow(ctx, `SELECT key FROM notify_key WHERE id = 1`).Scan(&out)
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("notification signing key: %w", err)
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO notify_key (id, key) VALUES (1, $1) ON CONFLICT DO NOTHING`, key); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT key FROM notify_key WHERE id = 1`).Scan(&out)
	})
	if err != nil {
		return nil, fmt.Errorf("notification signing key: %w", err)
	}
	return out, nil
}
