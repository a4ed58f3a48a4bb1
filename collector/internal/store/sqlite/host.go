package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

const hostCols = `id, tenant_id, name, labels, credential_hash, agent_version, enrolled_at, last_seen, baseline_version, open_drift`

func scanHost(row scanner) (store.Host, error) {
	var h store.Host
	err := row.Scan(&h.ID, &h.TenantID, &h.Name, jsonCol{&h.Labels}, &h.CredentialHash, &h.AgentVersion,
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
	h, err := scanHost(s.r.QueryRowContext(ctx, `SELECT `+hostCols+` FROM hosts WHERE credential_hash = ?`, hash))
	if err != nil {
		return store.Host{}, fmt.Errorf("host by credential: %w", err)
	}
	return h, nil
}

// Hosts lists a tenant's hosts by name.
func (s *Store) Hosts(ctx context.Context, tenantID string) ([]store.Host, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+hostCols+` FROM hosts WHERE tenant_id = ? ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list hosts of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	var hs []store.Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, fmt.Errorf("list hosts of tenant %s: %w", tenantID, err)
		}
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list hosts of tenant %s: %w", tenantID, err)
	}
	return hs, nil
}

// Host finds one host of a tenant.
func (s *Store) Host(ctx context.Context, tenantID, hostID string) (store.Host, error) {
	h, err := scanHost(s.r.QueryRowContext(ctx, `SELECT `+hostCols+` FROM hosts WHERE tenant_id = ? AND id = ?`, tenantID, hostID))
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO blobs (tenant_id, digest, size, content) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, digest) DO NOTHING`, tenantID, d.String(), len(content), content)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("put blob %s of tenant %s: %w", d.Short(), tenantID, err)
	}
	return nil
}

// missingChunk is how many digests one MissingBlobs query asks about.
const missingChunk = 500

// MissingBlobs returns which of the digests the tenant does not have.
func (s *Store) MissingBlobs(ctx context.Context, tenantID string, ds []baseline.Digest) ([]baseline.Digest, error) {
	want := make([]baseline.Digest, 0, len(ds))
	seen := make(map[baseline.Digest]bool, len(ds))
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			want = append(want, d)
		}
	}
	have := make(map[string]bool, len(want))
	for start := 0; start < len(want); start += missingChunk {
		chunk := want[start:min(start+missingChunk, len(want))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, tenantID)
		for _, d := range chunk {
			args = append(args, d.String())
		}
		q := `SELECT digest FROM blobs WHERE tenant_id = ? AND digest IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		if err := collectDigests(ctx, s.r, q, args, have); err != nil {
			return nil, fmt.Errorf("missing blobs of tenant %s: %w", tenantID, err)
		}
	}
	var missing []baseline.Digest
	for _, d := range want {
		if !have[d.String()] {
			missing = append(missing, d)
		}
	}
	return missing, nil
}

func collectDigests(ctx context.Context, q queryer, query string, args []any, have map[string]bool) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return err
		}
		have[d] = true
	}
	return rows.Err()
}

// Blob returns stored content.
func (s *Store) Blob(ctx context.Context, tenantID string, d baseline.Digest) ([]byte, error) {
	var content []byte
	err := s.r.QueryRowContext(ctx, `SELECT content FROM blobs WHERE tenant_id = ? AND digest = ?`, tenantID, d.String()).Scan(&content)
	if err != nil {
		return nil, fmt.Errorf("blob %s of tenant %s: %w", d.Short(), tenantID, mapErr(err))
	}
	if content == nil {
		content = []byte{}
	}
	return content, nil
}
