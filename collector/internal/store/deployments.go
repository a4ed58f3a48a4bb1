package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Deployment is a CI deployment note: a pipeline deployed a commit under a
// change ticket to some of a tenant's hosts at a time. A deployment of an
// approved ticket authorizes the drift it causes on those hosts shortly
// around that time (see package reconcile).
type Deployment struct {
	ID       string
	TenantID string
	// TicketID is the ticket deployed under, which must be the tenant's;
	// TicketRef is how the caller named it (its reference, or its ID).
	TicketID  string
	TicketRef string
	// Environment is where it was deployed to ("prod", "staging").
	Environment string
	// Commit is the deployed revision; Repository and PipelineURL are
	// where it and the pipeline run can be found (may be empty).
	Commit      string
	Repository  string
	PipelineURL string
	// HostIDs are the hosts deployed to, each the tenant's, sorted and
	// each once; at least one.
	HostIDs []string
	// Labels is the label selector the hosts were chosen by, as the caller
	// gave it; nil when the hosts were named.
	Labels map[string]string
	// At is when the deployment happened; RecordedAt when it was
	// recorded.
	At         time.Time
	RecordedAt time.Time
	// By is who recorded it.
	By string
}

// DeploymentFilter selects deployments. Zero fields select everything.
type DeploymentFilter struct {
	// TicketID selects the deployments of one ticket.
	TicketID string
	// HostID selects the deployments to one host.
	HostID string
	// Since and Until select deployments whose At is in [Since, Until).
	Since time.Time
	Until time.Time
	// Limit is the page size (see PageSize); Cursor the Next of the
	// previous page, empty for the first.
	Limit  int
	Cursor string
}

// Deployments is the CI deployment notes that authorize drift of an
// approved ticket. ErrInvalid for bad arguments (nothing is written).
type Deployments interface {
	// AddDeployment stores a deployment and appends a, its audit entry,
	// in one transaction, and returns it as stored. ErrExists when the ID
	// is taken; ErrNotFound when the tenant, the ticket or a host is not
	// the tenant's (nothing is written).
	AddDeployment(ctx context.Context, d Deployment, a AuditEntry) (Deployment, error)
	// Deployments lists a tenant's deployments, the latest At first (then
	// by ID, descending), one page at a time; next is the cursor of the
	// following page, empty after the last.
	Deployments(ctx context.Context, tenantID string, f DeploymentFilter) (page []Deployment, next string, err error)
}

// CheckDeployment checks a deployment to store, sorts its hosts and
// removes repeated ones, and fills in its audit entry's tenant.
func CheckDeployment(d *Deployment, a *AuditEntry) error {
	switch {
	case d.ID == "":
		return fmt.Errorf("deployment without an ID: %w", ErrInvalid)
	case d.TenantID == "":
		return fmt.Errorf("deployment %s without a tenant: %w", d.ID, ErrInvalid)
	case d.TicketID == "":
		return fmt.Errorf("deployment %s without a ticket: %w", d.ID, ErrInvalid)
	case strings.TrimSpace(d.Commit) == "":
		return fmt.Errorf("deployment %s without a commit: %w", d.ID, ErrInvalid)
	case d.At.IsZero():
		return fmt.Errorf("deployment %s without a time: %w", d.ID, ErrInvalid)
	case d.RecordedAt.IsZero():
		return fmt.Errorf("deployment %s without a recording time: %w", d.ID, ErrInvalid)
	case len(d.HostIDs) == 0:
		return fmt.Errorf("deployment %s without hosts: %w", d.ID, ErrInvalid)
	}
	hosts := make([]string, 0, len(d.HostIDs))
	seen := make(map[string]bool, len(d.HostIDs))
	for _, h := range d.HostIDs {
		if h == "" {
			return fmt.Errorf("deployment %s: empty host ID: %w", d.ID, ErrInvalid)
		}
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	d.HostIDs = hosts
	if len(d.Labels) == 0 {
		d.Labels = nil
	}
	d.At = d.At.UTC().Truncate(time.Microsecond)
	d.RecordedAt = d.RecordedAt.UTC().Truncate(time.Microsecond)
	e, err := CheckAudit(d.TenantID, *a)
	if err != nil {
		return fmt.Errorf("deployment %s: %w", d.ID, err)
	}
	*a = e
	return nil
}

// DeploymentCursor is the position after a deployment in the listing.
type DeploymentCursor struct {
	At time.Time
	ID string
}

// String encodes the cursor for DeploymentFilter.Cursor.
func (c DeploymentCursor) String() string {
	b, _ := json.Marshal([]any{1, c.At.UnixMicro(), c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseDeploymentCursor decodes a DeploymentFilter.Cursor; ErrInvalid
// when it is not one.
func ParseDeploymentCursor(s string) (DeploymentCursor, error) {
	var version int
	var at int64
	var id string
	if err := parseCursor(s, &version, &at, &id); err != nil || version != 1 {
		return DeploymentCursor{}, fmt.Errorf("deployment cursor %q: malformed: %w", s, ErrInvalid)
	}
	return DeploymentCursor{At: time.UnixMicro(at).UTC(), ID: id}, nil
}
