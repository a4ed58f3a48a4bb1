package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// deploymentCols are the columns scanDeployment reads, from deployments d.
const deploymentCols = `d.id, d.tenant_id, d.ticket_id, d.ticket_ref, d.environment, d.commit_sha, d.repository, d.pipeline_url,
	d.labels, d.at, d.recorded_at, d.recorded_by,
	(SELECT json_group_array(host_id) FROM (SELECT h.host_id FROM deployment_hosts h
		WHERE h.tenant_id = d.tenant_id AND h.deployment_id = d.id ORDER BY h.host_id))`

func scanDeployment(row scanner) (store.Deployment, error) {
	var d store.Deployment
	var labels []byte
	err := row.Scan(&d.ID, &d.TenantID, &d.TicketID, &d.TicketRef, &d.Environment, &d.Commit, &d.Repository, &d.PipelineURL,
		rawJSONCol{&labels}, timeCol{&d.At}, timeCol{&d.RecordedAt}, &d.By, jsonCol{&d.HostIDs})
	if err != nil {
		return store.Deployment{}, mapErr(err)
	}
	if len(labels) > 0 {
		if err := json.Unmarshal(labels, &d.Labels); err != nil {
			return store.Deployment{}, fmt.Errorf("deployment %s: labels: %w", d.ID, err)
		}
		if len(d.Labels) == 0 {
			d.Labels = nil
		}
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
		b, err := json.Marshal(d.Labels)
		if err != nil {
			return store.Deployment{}, fmt.Errorf("add deployment %s: labels: %w", d.ID, err)
		}
		labels = string(b)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO deployments (tenant_id, id, ticket_id, ticket_ref, environment, commit_sha,
				repository, pipeline_url, labels, at, recorded_at, recorded_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.TenantID, d.ID, d.TicketID, d.TicketRef, d.Environment, d.Commit, d.Repository, d.PipelineURL, labels,
			fmtTime(d.At), fmtTime(d.RecordedAt), d.By)
		if err != nil {
			return fmt.Errorf("ticket %s: %w", d.TicketID, mapErr(err))
		}
		for _, h := range d.HostIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO deployment_hosts (tenant_id, deployment_id, host_id, at) VALUES (?, ?, ?, ?)`,
				d.TenantID, d.ID, h, fmtTime(d.At)); err != nil {
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
	q := `SELECT ` + deploymentCols + ` FROM deployments d WHERE d.tenant_id = ?`
	args := []any{tenantID}
	if f.TicketID != "" {
		q += ` AND d.ticket_id = ?`
		args = append(args, f.TicketID)
	}
	if f.HostID != "" {
		q += ` AND EXISTS (SELECT 1 FROM deployment_hosts h WHERE h.tenant_id = d.tenant_id AND h.deployment_id = d.id AND h.host_id = ?)`
		args = append(args, f.HostID)
	}
	if !f.Since.IsZero() {
		q += ` AND d.at >= ?`
		args = append(args, fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND d.at < ?`
		args = append(args, fmtTime(f.Until))
	}
	if f.Cursor != "" {
		c, err := store.ParseDeploymentCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list deployments of tenant %s: %w", tenantID, err)
		}
		q += ` AND (d.at < ? OR (d.at = ? AND d.id < ?))`
		args = append(args, fmtTime(c.At), fmtTime(c.At), c.ID)
	}
	n := store.PageSize(f.Limit)
	q += ` ORDER BY d.at DESC, d.id DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list deployments of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	var out []store.Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list deployments of tenant %s: %w", tenantID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list deployments of tenant %s: %w", tenantID, err)
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		last := out[n-1]
		next = store.DeploymentCursor{At: last.At, ID: last.ID}.String()
	}
	return out, next, nil
}
