package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// deploymentCols are the columns scanDeployment reads, from deployments d.
const deploymentCols = `d.id, d.tenant_id, d.ticket_id, d.ticket_ref, d.environment, d.commit_sha, d.repository, d.pipeline_url,
	d.labels, d.at, d.recorded_at, d.recorded_by,
	ARRAY(SELECT h.host_id FROM deployment_hosts h
		WHERE h.tenant_id = d.tenant_id AND h.deployment_id = d.id ORDER BY h.host_id COLLATE "C")`

func scanDeployment(row pgx.Row) (store.Deployment, error) {
	var d store.Deployment
	err := row.Scan(&d.ID, &d.TenantID, &d.TicketID, &d.TicketRef, &d.Environment, &d.Commit, &d.Repository, &d.PipelineURL,
		&d.Labels, timeCol{&d.At}, timeCol{&d.RecordedAt}, &d.By, &d.HostIDs)
	if err != nil {
		return store.Deployment{}, mapErr(err)
	}
	if len(d.Labels) == 0 {
		d.Labels = nil
	}
	return d, nil
}

// AddDeployment stores a deployment with its hosts and audit entry.
func (s *Store) AddDeployment(ctx context.Context, d store.Deployment, a store.AuditEntry) (store.Deployment, error) {
	if err := store.CheckDeployment(&d, &a); err != nil {
		return store.Deployment{}, fmt.Errorf("add deployment: %w", err)
	}
	var labels any
	if d.Labels != nil {
		labels = d.Labels
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO deployments (tenant_id, id, ticket_id, ticket_ref, environment, commit_sha,
				repository, pipeline_url, labels, at, recorded_at, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			d.TenantID, d.ID, d.TicketID, d.TicketRef, d.Environment, d.Commit, d.Repository, d.PipelineURL, labels,
			d.At, d.RecordedAt, d.By)
		if err != nil {
			return fmt.Errorf("ticket %s: %w", d.TicketID, mapErr(err))
		}
		for _, h := range d.HostIDs {
			if _, err := tx.Exec(ctx, `INSERT INTO deployment_hosts (tenant_id, deployment_id, host_id, at) VALUES ($1, $2, $3, $4)`,
				d.TenantID, d.ID, h, d.At); err != nil {
				return fmt.Errorf("host %s: %w", h, mapErr(err))
			}
		}
		_, err = appendAudit(ctx, tx, a)
		return err
	})
	if err != nil {
		return store.Deployment{}, fmt.Errorf("add deployment %s of tenant %s: %w", d.ID, d.TenantID, err)
	}
	return d, nil
}

// Deployments lists a tenant's deployments, the latest first.
func (s *Store) Deployments(ctx context.Context, tenantID string, f store.DeploymentFilter) ([]store.Deployment, string, error) {
	var a args
	q := `SELECT ` + deploymentCols + ` FROM deployments d WHERE d.tenant_id = ` + a.add(tenantID)
	if f.TicketID != "" {
		q += ` AND d.ticket_id = ` + a.add(f.TicketID)
	}
	if f.HostID != "" {
		q += ` AND EXISTS (SELECT 1 FROM deployment_hosts h WHERE h.tenant_id = d.tenant_id AND h.deployment_id = d.id AND h.host_id = ` + a.add(f.HostID) + `)`
	}
	if !f.Since.IsZero() {
		q += ` AND d.at >= ` + a.add(utc(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND d.at < ` + a.add(utc(f.Until))
	}
	if f.Cursor != "" {
		c, err := store.ParseDeploymentCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list deployments of tenant %s: %w", tenantID, err)
		}
		q += ` AND (d.at, d.id) < (` + a.add(c.At) + `, ` + a.add(c.ID) + `)`
	}
	n := store.PageSize(f.Limit)
	q += ` ORDER BY d.at DESC, d.id DESC LIMIT ` + a.add(n+1)
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, "", fmt.Errorf("list deployments of tenant %s: %w", tenantID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Deployment, error) { return scanDeployment(row) })
	if err != nil {
		return nil, "", fmt.Errorf("list deployments of tenant %s: %w", tenantID, err)
	}
	var next string
	if len(out) > n {
		out = out[:n]
		last := out[n-1]
		next = store.DeploymentCursor{At: last.At, ID: last.ID}.String()
	}
	return out, next, nil
}
