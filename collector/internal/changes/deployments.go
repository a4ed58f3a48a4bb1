package changes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// ActionDeploymentRecord is the audit action of a recorded deployment.
const ActionDeploymentRecord = "deployment.record"

// prefixDeploymentID starts the ID of a deployment.
const prefixDeploymentID = "dep_"

// deploymentHistory is how far back the deployments go that
// reconciliation judges drift by: as far as the tickets it matches.
const deploymentHistory = finishedWindow

// maxDeploymentAhead is how far in the future a deployment's time may be:
// a CI runner's clock may run a little ahead, never an hour.
const maxDeploymentAhead = 5 * time.Minute

// DeploymentSpec is a CI deployment to record.
type DeploymentSpec struct {
	// Ticket is the ticket deployed under, by reference or ID; required.
	Ticket string
	// Environment is where it was deployed to ("prod"); optional.
	Environment string
	// Commit is the deployed revision; required.
	Commit string
	// Repository and PipelineURL are http(s) URLs; optional.
	Repository  string
	PipelineURL string
	// Hosts are host names or IDs; Labels select hosts by their labels
	// (each must hold). At least one of the two; the deployment is to
	// the hosts of both.
	Hosts  []string
	Labels map[string]string
	// At is when it was deployed; the zero time is now.
	At time.Time
}

// FieldError is a problem with one field of a request.
type FieldError struct {
	// Field is the field's name as the API spells it.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error says the field and the problem: "commit: required: …".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Is makes a FieldError match store.ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == store.ErrInvalid }

// RecordedDeployment is what RecordDeployment did.
type RecordedDeployment struct {
	// Deployment is the deployment as stored.
	Deployment store.Deployment
	// Hosts are the names of its hosts, sorted; HostNames maps each of
	// its host IDs to its name.
	Hosts     []string
	HostNames map[string]string
	// Ticket is the ticket deployed under.
	Ticket *ticket.Ticket
	// Authorizes says whether the ticket's state lets the deployment
	// authorize drift; Note explains when it does not.
	Authorizes bool
	Note       string
	// Window is the deployment window drift is judged by.
	Window reconcile.DeploymentWindow
	// Reconciled is how many outstanding drift items of its hosts changed
	// verdict or level.
	Reconciled int
}

// checkURL checks an optional http(s) URL field.
func checkURL(field, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &FieldError{field, fmt.Sprintf("%q is not an http or https URL", s)}
	}
	return nil
}

// checkText checks a short text field: at most max bytes, no control
// characters and, when word, no spaces.
func checkText(field, s string, max int, word bool) error {
	if len(s) > max {
		return &FieldError{field, fmt.Sprintf("longer than %d bytes", max)}
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || (word && unicode.IsSpace(r)) }); i >= 0 {
		return &FieldError{field, fmt.Sprintf("%q has a space or control character at byte %d", s, i)}
	}
	return nil
}

// checkDeployment checks a deployment spec's own fields, with now the
// time of recording.
func checkDeployment(s *DeploymentSpec, now time.Time) error {
	s.Ticket, s.Commit, s.Environment = strings.TrimSpace(s.Ticket), strings.TrimSpace(s.Commit), strings.TrimSpace(s.Environment)
	switch {
	case s.Ticket == "":
		return &FieldError{"ticket", "required: the reference or ID of the approved change ticket"}
	case s.Commit == "":
		return &FieldError{"commit", "required: the deployed revision"}
	case len(s.Hosts) == 0 && len(s.Labels) == 0:
		return &FieldError{"hosts", "name the hosts deployed to, or select them with labels"}
	case !s.At.IsZero() && s.At.After(now.Add(maxDeploymentAhead)):
		return &FieldError{"at", fmt.Sprintf("%s is in the future (now is %s)", s.At.UTC().Format(time.RFC3339), now.Format(time.RFC3339))}
	}
	if err := checkText("commit", s.Commit, 256, true); err != nil {
		return err
	}
	if err := checkText("environment", s.Environment, 64, false); err != nil {
		return err
	}
	if err := checkText("ticket", s.Ticket, 256, false); err != nil {
		return err
	}
	if err := checkURL("repository", s.Repository); err != nil {
		return err
	}
	if err := checkURL("pipeline_url", s.PipelineURL); err != nil {
		return err
	}
	for i, h := range s.Hosts {
		if strings.TrimSpace(h) == "" {
			return &FieldError{"hosts", fmt.Sprintf("host %d is empty", i+1)}
		}
	}
	for k := range s.Labels {
		if k == "" {
			return &FieldError{"labels", "a label without a name"}
		}
	}
	return nil
}

// RecordDeployment records a CI deployment of a tenant, as by: it checks
// the spec, finds the ticket and the hosts, stores the deployment with an
// audit entry, and reconciles the outstanding drift of its hosts again,
// so that drift that arrived before the deployment was recorded is judged
// by it too. A deployment of a ticket that is not approved is recorded
// but authorizes nothing (RecordedDeployment.Note says so); it does once
// the ticket is approved. Errors: a *FieldError (store.ErrInvalid) naming
// the field; store.ErrNotFound, wrapped, naming the ticket when the
// tenant has no such ticket.
func (m *Manager) RecordDeployment(ctx context.Context, tenantID string, spec DeploymentSpec, by string) (RecordedDeployment, error) {
	now := m.now()
	if err := checkDeployment(&spec, now); err != nil {
		return RecordedDeployment{}, err
	}
	tk, err := m.Ticket(ctx, tenantID, spec.Ticket)
	if errors.Is(err, store.ErrNotFound) {
		return RecordedDeployment{}, fmt.Errorf("ticket %q: %w", spec.Ticket, store.ErrNotFound)
	}
	if err != nil {
		return RecordedDeployment{}, fmt.Errorf("record deployment: ticket %s: %w", spec.Ticket, err)
	}
	hosts, err := m.Store.Hosts(ctx, tenantID)
	if err != nil {
		return RecordedDeployment{}, fmt.Errorf("record deployment: hosts: %w", err)
	}
	chosen, err := chooseHosts(hosts, spec.Hosts, spec.Labels)
	if err != nil {
		return RecordedDeployment{}, err
	}
	id, err := auth.NewID(prefixDeploymentID)
	if err != nil {
		return RecordedDeployment{}, err
	}
	at := spec.At
	if at.IsZero() {
		at = now
	}
	d := store.Deployment{ID: id, TenantID: tenantID, TicketID: tk.ID, TicketRef: tk.Name(), Environment: spec.Environment,
		Commit: spec.Commit, Repository: spec.Repository, PipelineURL: spec.PipelineURL, Labels: maps.Clone(spec.Labels),
		At: at, RecordedAt: now, By: by}
	names := map[string]string{}
	for _, h := range chosen {
		d.HostIDs = append(d.HostIDs, h.ID)
		names[h.ID] = h.Name
	}
	detail, _ := json.Marshal(map[string]any{"ticket": tk.Name(), "ticket_state": tk.State, "commit": d.Commit,
		"environment": d.Environment, "repository": d.Repository, "pipeline_url": d.PipelineURL, "hosts": d.HostIDs,
		"labels": d.Labels, "at": d.At.UTC()})
	stored, err := m.Store.AddDeployment(ctx, d, store.AuditEntry{At: now, Actor: by, Action: ActionDeploymentRecord, Subject: id, Detail: detail})
	if err != nil {
		return RecordedDeployment{}, fmt.Errorf("record deployment of %s: %w", tk.Name(), err)
	}
	// The audit entry moves the tenant's change version too; this drops
	// this process's cached engine at once.
	m.invalidate(tenantID)
	out := RecordedDeployment{Deployment: stored, HostNames: names, Ticket: tk, Authorizes: tk.State.Authorizes()}
	for _, h := range stored.HostIDs {
		out.Hosts = append(out.Hosts, names[h])
	}
	slices.Sort(out.Hosts)
	if !out.Authorizes {
		out.Note = fmt.Sprintf("ticket %s is %s, not approved: the deployment is recorded but authorizes no drift until the ticket is approved", tk.Name(), tk.State)
	}
	reason := fmt.Sprintf("deployment %s of %s (commit %s) recorded", id, tk.Name(), d.Commit)
	eng, reconciled, err := m.reconcile(ctx, tenantID, hosts, stored.HostIDs, reason)
	out.Reconciled = reconciled
	if eng != nil {
		out.Window = eng.DeploymentWindow()
	}
	if err != nil {
		return out, fmt.Errorf("deployment %s recorded, but its hosts' drift was not reconciled again: %w", id, err)
	}
	m.log().Info("deployment recorded", zap.String("tenant", tenantID), zap.String("deployment", id), zap.String("ticket", tk.Name()),
		zap.String("commit", d.Commit), zap.Strings("hosts", out.Hosts), zap.Int("reconciled", out.Reconciled))
	return out, nil
}

// chooseHosts finds the hosts named (by name or ID) and those that carry
// every label, each once, by name.
func chooseHosts(all []store.Host, named []string, labels map[string]string) ([]store.Host, error) {
	byKey := make(map[string]int, 2*len(all))
	for i, h := range all {
		byKey[h.ID] = i
		byKey[h.Name] = i
	}
	pick := map[int]bool{}
	for _, n := range named {
		i, ok := byKey[strings.TrimSpace(n)]
		if !ok {
			return nil, &FieldError{"hosts", fmt.Sprintf("no host %q in this tenant", n)}
		}
		pick[i] = true
	}
	if len(labels) > 0 {
		found := false
		for i, h := range all {
			if hasLabels(h.Labels, labels) {
				pick[i], found = true, true
			}
		}
		if !found {
			return nil, &FieldError{"labels", fmt.Sprintf("%s selects no host in this tenant", labelText(labels))}
		}
	}
	out := make([]store.Host, 0, len(pick))
	for i := range pick {
		out = append(out, all[i])
	}
	slices.SortFunc(out, func(a, b store.Host) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// labelText is a label selector for people: "role=web,env=prod", sorted.
func labelText(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// withDeployments returns eng with the tenant's recent deployments, those
// it judges drift by.
func (m *Manager) withDeployments(ctx context.Context, tenantID string, eng *reconcile.Engine) (*reconcile.Engine, error) {
	hosts, err := m.Store.Hosts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(hosts))
	for _, h := range hosts {
		names[h.ID] = h.Name
	}
	var ds []reconcile.Deployment
	f := store.DeploymentFilter{Since: m.now().Add(-deploymentHistory), Limit: store.MaxPageSize}
	for {
		page, next, err := m.Store.Deployments(ctx, tenantID, f)
		if err != nil {
			return nil, fmt.Errorf("deployments of tenant %s: %w", tenantID, err)
		}
		for _, d := range page {
			rd := reconcile.Deployment{ID: d.ID, Ticket: d.TicketID, Environment: d.Environment, Commit: d.Commit,
				Repository: d.Repository, PipelineURL: d.PipelineURL, At: d.At, By: d.By}
			for _, h := range d.HostIDs {
				if n, ok := names[h]; ok {
					rd.Hosts = append(rd.Hosts, n)
				}
			}
			if len(rd.Hosts) > 0 {
				ds = append(ds, rd)
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return eng.WithDeployments(ds, reconcile.PolicyDeploymentWindow(eng.Policy()))
}

// Deployments lists a tenant's deployments, the latest first, one page at
// a time, with the names of their hosts by ID.
func (m *Manager) Deployments(ctx context.Context, tenantID string, f store.DeploymentFilter) ([]store.Deployment, string, map[string]string, error) {
	page, next, err := m.Store.Deployments(ctx, tenantID, f)
	if err != nil {
		return nil, "", nil, err
	}
	hosts, err := m.Store.Hosts(ctx, tenantID)
	if err != nil {
		return nil, "", nil, err
	}
	names := make(map[string]string, len(hosts))
	for _, h := range hosts {
		names[h.ID] = h.Name
	}
	return page, next, names, nil
}
