package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

const hostCols = `id, tenant_id, name, labels, credential_hash, agent_version, enrolled_at, last_seen, baseline_version, open_drift`

func scanHost(row pgx.Row) (store.Host, error) {
	var h store.Host
	err := row.Scan(&h.ID, &h.TenantID, &h.Name, &h.Labels, &h.CredentialHash, &h.AgentVersion,
		timeCol{&h.EnrolledAt}, timeCol{&h.LastSeen}, &h.BaselineVersion, &h.OpenDrift)
	if err != nil {
		return store.Host{}, mapErr(err)
	}
	if len(h.Labels) == 0 {
		h.Labels = nil
	}
	return h, nil
}

// HostByCredentialHash finds the host an agent credential belongs to.
func (s *Store) HostByCredentialHash(ctx context.Context, hash string) (store.Host, error) {
	h, err := scanHost(s.pool.QueryRow(ctx, `SELECT `+hostCols+` FROM hosts WHERE credential_hash = $1`, hash))
	if err != nil {
		return store.Host{}, fmt.Errorf("host by credential: %w", err)
	}
	return h, nil
}

// Hosts lists a tenant's hosts by name.
func (s *Store) Hosts(ctx context.Context, tenantID string) ([]store.Host, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+hostCols+` FROM hosts WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list hosts of tenant %s: %w", tenantID, err)
	}
	hs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Host, error) { return scanHost(row) })
	if err != nil {
		return nil, fmt.Errorf("list hosts of tenant %s: %w", tenantID, err)
	}
	return hs, nil
}

// Host finds one host of a tenant.
func (s *Store) Host(ctx context.Context, tenantID, hostID string) (store.Host, error) {
	h, err := scanHost(s.pool.QueryRow(ctx, `SELECT `+hostCols+` FROM hosts WHERE tenant_id = $1 AND id = $2`, tenantID, hostID))
	if err != nil {
		return store.Host{}, fmt.Errorf("host %s of tenant %s: %w", hostID, tenantID, err)
	}
	return h, nil
}

// PutBlob stores content under its digest for a tenant; a digest stored
// already is left as it is.
func (s *Store) PutBlob(ctx context.Context, tenantID string, d baseline.Digest, content []byte) error {
	if content == nil {
		content = []byte{}
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO blobs (tenant_id, digest, size, content) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, digest) DO NOTHING`, tenantID, d.String(), len(content), content)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("put blob %s of tenant %s: %w", d.Short(), tenantID, err)
	}
	return nil
}

// MissingBlobs returns which of the digests the tenant does not have.
func (s *Store) MissingBlobs(ctx context.Context, tenantID string, ds []baseline.Digest) ([]baseline.Digest, error) {
	want := make([]baseline.Digest, 0, len(ds))
	hexes := make([]string, 0, len(ds))
	seen := make(map[baseline.Digest]bool, len(ds))
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			want = append(want, d)
			hexes = append(hexes, d.String())
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT digest FROM blobs WHERE tenant_id = $1 AND digest = ANY($2)`, tenantID, hexes)
	if err != nil {
		return nil, fmt.Errorf("missing blobs of tenant %s: %w", tenantID, err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("missing blobs of tenant %s: %w", tenantID, err)
	}
	have := make(map[string]bool, len(got))
	for _, h := range got {
		have[h] = true
	}
	var missing []baseline.Digest
	for i, d := range want {
		if !have[hexes[i]] {
			missing = append(missing, d)
		}
	}
	return missing, nil
}

// Blob returns stored content.
func (s *Store) Blob(ctx context.Context, tenantID string, d baseline.Digest) ([]byte, error) {
	var content []byte
	err := s.pool.QueryRow(ctx, `SELECT content FROM blobs WHERE tenant_id = $1 AND digest = $2`, tenantID, d.String()).Scan(&content)
	if err != nil {
		return nil, fmt.Errorf("blob %s of tenant %s: %w", d.Short(), tenantID, mapErr(err))
	}
	if content == nil {
		content = []byte{}
	}
	return content, nil
}
