package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/connector"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// overview serves the start page: each tenant's hosts with their open
// drift, the hosts not seen recently and the connectors that fail. The
// reads of all tenants run at once.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	ctx := r.Context()
	page := &reporter.OverviewPage{HostStaleAfter: h.opt.HostStaleAfter, ConnectorStaleAfter: connectorQuietOK,
		Tenants: make([]reporter.TenantOverview, len(tenants))}
	var tasks []func() error
	for i, t := range tenants {
		if to, ok := h.overviews.get(t.ID, h.now(), h.overviewTTL); ok {
			page.Tenants[i] = to
			continue
		}
		tasks = append(tasks, func() (err error) { page.Tenants[i], err = h.tenantOverview(ctx, t); return err })
	}
	if len(tasks) > 0 {
		if err := parallel(tasks...); err != nil {
			return err
		}
	}
	page.Page = h.basePage(w, r, p, tenantID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Overview(out, page) })
}

// tenantOverview reads a tenant's part of the overview: its hosts with
// their open drift and last sign of life, and its stale connectors; and
// keeps it for the next requests (overviewCache).
func (h *Handler) tenantOverview(ctx context.Context, t store.Tenant) (reporter.TenantOverview, error) {
	var (
		hosts  []store.Host
		counts map[string]reporter.DriftCounts
		heard  map[string]time.Time
		conn   reporter.Connector
		bad    bool
		health []connector.Health
	)
	gen, at := h.overviews.generation(t.ID), h.now()
	err := parallel(
		func() (err error) { hosts, err = h.st.Hosts(ctx, t.ID); return err },
		func() (err error) { counts, err = h.openCounts(ctx, t.ID); return err },
		func() (err error) { heard, err = h.st.HeartbeatTimes(ctx, t.ID); return err },
		func() (err error) { conn, bad, err = h.mailConnector(ctx, t.ID); return err },
		func() (err error) { health, err = connector.Healths(ctx, h.st, t.ID, h.now()); return err },
	)
	if err != nil {
		return reporter.TenantOverview{}, err
	}
	to := reporter.TenantOverview{Tenant: reporter.TenantRef{ID: t.ID, Name: t.Name}, Hosts: make([]reporter.HostSummary, len(hosts))}
	for j, hs := range hosts {
		to.Hosts[j] = hostSummary(hs, t, counts[hs.ID], heard)
	}
	if bad {
		to.Connectors = append(to.Connectors, conn)
	}
	for _, c := range health {
		if c.Stale {
			to.Connectors = append(to.Connectors, reporter.Connector{Name: c.Name, Kind: c.Kind, LastSuccess: c.LastSuccess, LastError: c.LastError})
		}
	}
	h.overviews.put(t.ID, gen, at, to)
	return to, nil
}

// maxParallel bounds the reads a page runs at once.
const maxParallel = 8

// parallel runs fns at once, at most maxParallel at a time, and returns
// the first error.
func parallel(fns ...func() error) error {
	if len(fns) == 1 {
		return fns[0]()
	}
	errs := make([]error, len(fns))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fn()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// connectorQuietOK is how long a connector may go without a success
// before the overview lists it: mail goes out when there is something to
// say, so only a failure or a backlog makes it stale.
const connectorQuietOK = 366 * 24 * time.Hour

// mailBacklog is how long a queued email may wait before the mail
// connector counts as failing.
const mailBacklog = 15 * time.Minute

// mailConnector is the health of a tenant's email delivery, from its
// newest emails; ok is false when the tenant never had email, or its
// delivery is healthy.
func (h *Handler) mailConnector(ctx context.Context, tenantID string) (reporter.Connector, bool, error) {
	es, err := h.st.Emails(ctx, tenantID, store.EmailFilter{Limit: 50})
	if err != nil {
		return reporter.Connector{}, false, err
	}
	c := reporter.Connector{Name: "Email", Kind: "smtp"}
	now := h.now()
	problem := false
	for _, e := range es {
		if e.Status == store.EmailSent && e.SentAt.After(c.LastSuccess) {
			c.LastSuccess = e.SentAt
		}
	}
	for _, e := range es {
		switch {
		case e.Status == store.EmailFailed && !e.FailedAt.Before(c.LastSuccess):
			c.LastError, problem = e.LastError, true
		case e.Status == store.EmailQueued && e.LastError != "":
			c.LastError, problem = e.LastError, true
		case e.Status == store.EmailQueued && now.Sub(e.NextAttemptAt) > mailBacklog:
			c.LastError, problem = fmt.Sprintf("%s queued since %s, not sent", e.Kind, e.CreatedAt.Format(time.RFC3339)), true
		}
		if problem {
			break
		}
	}
	if problem && c.LastError == "" {
		c.LastError = "delivery failed"
	}
	return c, problem, nil
}

// hostsPageSize is the number of hosts the host list shows at once.
const hostsPageSize = 250

// hosts serves the host list, filtered by name or label.
func (h *Handler) hosts(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(r.URL.Query().Get(reporter.FieldQuery))
	offset, err := offsetCursor(r.URL.Query().Get(reporter.FieldCursor))
	if err != nil {
		return err
	}
	var all []reporter.HostSummary
	for _, t := range tenants {
		hs, err := h.st.Hosts(r.Context(), t.ID)
		if err != nil {
			return err
		}
		counts, err := h.openCounts(r.Context(), t.ID)
		if err != nil {
			return err
		}
		heard, err := h.st.HeartbeatTimes(r.Context(), t.ID)
		if err != nil {
			return err
		}
		for _, x := range hs {
			if hostMatches(x, q) {
				all = append(all, hostSummary(x, t, counts[x.ID], heard))
			}
		}
	}
	page := &reporter.HostsPage{Query: q}
	if offset < len(all) {
		page.Hosts = all[offset:min(len(all), offset+hostsPageSize)]
	}
	if offset+hostsPageSize < len(all) {
		page.NextCursor = strconv.Itoa(offset + hostsPageSize)
	}
	if offset > 0 {
		page.PrevCursor = strconv.Itoa(max(0, offset-hostsPageSize))
	}
	page.Page = h.basePage(w, r, p, tenantID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Hosts(out, page) })
}

// offsetCursor reads a list's page cursor: an offset.
func offsetCursor(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest("The page cursor is not valid; go back to the first page.")
	}
	return n, nil
}

// hostMatches reports whether a host matches the host list's filter: a
// part of its name (any case), or one of its labels as key=value.
func hostMatches(x store.Host, q string) bool {
	if q == "" {
		return true
	}
	if k, v, ok := strings.Cut(q, "="); ok {
		if x.Labels[strings.TrimSpace(k)] == strings.TrimSpace(v) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(x.Name), strings.ToLower(q))
}

// storeBlobs reads a tenant's content blobs for diffs.
type storeBlobs struct {
	ctx    context.Context
	st     store.Store
	tenant string
}

// maxDiffBlob is the largest content a diff reads.
const maxDiffBlob = 1 << 20

func (b storeBlobs) Blob(d baseline.Digest) ([]byte, error) {
	c, err := b.st.Blob(b.ctx, b.tenant, d)
	if err != nil {
		return nil, err
	}
	if len(c) > maxDiffBlob {
		return nil, fmt.Errorf("content %s is %d bytes, more than a diff reads", d.Short(), len(c))
	}
	return c, nil
}

// loadBaseline reads and decodes version v of a host's baseline (0: the
// newest).
func (h *Handler) loadBaseline(ctx context.Context, tenantID, hostID string, v int) (store.Baseline, *baseline.Snapshot, error) {
	b, err := h.st.Baseline(ctx, tenantID, hostID, v)
	if err != nil {
		return store.Baseline{}, nil, err
	}
	snap, err := baseline.Unmarshal(b.Snapshot)
	if err != nil {
		return store.Baseline{}, nil, fmt.Errorf("baseline v%d of host %s: %w", b.Meta.Version, hostID, err)
	}
	return b, snap, nil
}

// hostDriftLimit bounds the drift the host page lists.
const hostDriftLimit = 500

// host serves a host's page: inventory, current drift, baseline versions
// with the difference between any two, and its history.
func (h *Handler) host(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	hs, t, err := searchTenants(r, p, func(ctx context.Context, tenantID string) (store.Host, error) {
		return h.st.Host(ctx, tenantID, r.PathValue("host"))
	})
	if err != nil {
		return err
	}
	lk := h.lookup(ctx)
	counts, err := h.openCounts(ctx, t.ID)
	if err != nil {
		return err
	}
	heard := map[string]time.Time{}
	if hb, err := h.st.LastHeartbeat(ctx, t.ID, hs.ID); err == nil {
		heard[hs.ID] = hb.At
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	page := &reporter.HostPage{Host: hostSummary(hs, t, counts[hs.ID], heard), CanCreateTicket: p.atLeast(store.RoleEngineer)}

	if hs.BaselineVersion > 0 {
		if _, snap, err := h.loadBaseline(ctx, t.ID, hs.ID, 0); err == nil {
			page.Inventory = reporter.InventoryOf(snap)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if rep, err := h.st.LatestReport(ctx, t.ID, hs.ID); err == nil {
		if len(rep.Sources) > 0 {
			_ = json.Unmarshal(rep.Sources, &page.Sources) // shown when readable; the report was checked at ingest
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	items, _, err := h.st.DriftItems(ctx, t.ID, store.DriftFilter{HostIDs: []string{hs.ID},
		Statuses: []string{store.DriftOpen, store.DriftRevertRequested}, Limit: hostDriftLimit})
	if err != nil {
		return err
	}
	if page.Drift, err = lk.driftRows(items, t); err != nil {
		return err
	}
	metas, err := h.st.Baselines(ctx, t.ID, hs.ID)
	if err != nil {
		return err
	}
	for i := len(metas) - 1; i >= 0; i-- {
		page.Baselines = append(page.Baselines, metas[i])
	}
	if n := len(metas); n > 1 {
		page.DiffFrom, page.DiffTo = metas[n-2].Version, metas[n-1].Version
	}
	q := r.URL.Query()
	if q.Get(reporter.FieldFrom) != "" || q.Get(reporter.FieldTo) != "" {
		from, ferr := strconv.Atoi(q.Get(reporter.FieldFrom))
		to, terr := strconv.Atoi(q.Get(reporter.FieldTo))
		if ferr != nil || terr != nil || from < 1 || to < 1 || from > len(metas) || to > len(metas) {
			return badRequest(fmt.Sprintf("Compare two of the host's baseline versions, v1 to v%d.", len(metas)))
		}
		_, old, err := h.loadBaseline(ctx, t.ID, hs.ID, from)
		if err != nil {
			return err
		}
		_, cur, err := h.loadBaseline(ctx, t.ID, hs.ID, to)
		if err != nil {
			return err
		}
		page.DiffFrom, page.DiffTo = from, to
		page.BaselineDiff = baseline.Diff(old, cur, baseline.DiffOptions{Blobs: storeBlobs{ctx, h.st, t.ID}})
	}
	if page.Timeline, err = h.timeline(ctx, t, hs, metas); err != nil {
		return err
	}
	page.Page = h.basePage(w, r, p, t.ID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Host(out, page) })
}

// timelineLength bounds a host's timeline.
const timelineLength = 60

// timeline is a host's history, newest first: enrollment, baseline
// versions, drift first seen and decided, and its agent's events.
func (h *Handler) timeline(ctx context.Context, t store.Tenant, hs store.Host, metas []baseline.Meta) ([]reporter.TimelineEvent, error) {
	var ev []reporter.TimelineEvent
	ev = append(ev, reporter.TimelineEvent{At: hs.EnrolledAt, Kind: "enroll", Title: "Enrolled", Detail: "agent " + hs.AgentVersion})
	for _, m := range metas {
		title := fmt.Sprintf("Baseline v%d approved", m.Version)
		if !m.Reviewed {
			title = fmt.Sprintf("Baseline v%d taken as found", m.Version)
		}
		detail := m.Reason
		if len(m.Tickets) > 0 {
			detail += " (" + strings.Join(m.Tickets, ", ") + ")"
		}
		ev = append(ev, reporter.TimelineEvent{At: m.ApprovedAt, Kind: "baseline", Title: title, Detail: detail,
			Actor: m.ApprovedBy, BaselineVersion: m.Version})
	}
	items, _, err := h.st.DriftItems(ctx, t.ID, store.DriftFilter{HostIDs: []string{hs.ID}, Since: h.now().AddDate(0, 0, -30), Limit: 200})
	if err != nil {
		return nil, err
	}
	for _, di := range items {
		ev = append(ev, reporter.TimelineEvent{At: di.FirstSeen, Kind: "drift", Title: fmt.Sprintf("%s %s", di.Key, di.Change),
			Detail: reporter.Verdict(di.Verdict).Label(), DriftID: di.ID})
		if !di.ResolvedAt.IsZero() {
			title := driftStatus(di.Status).Label() + ": " + di.Key
			ev = append(ev, reporter.TimelineEvent{At: di.ResolvedAt, Kind: "action", Title: title, Actor: di.ResolvedBy,
				Detail: di.Reason, DriftID: di.ID})
		}
	}
	hev, err := h.st.HostEvents(ctx, t.ID, hs.ID, 30)
	if err != nil {
		return nil, err
	}
	for _, e := range hev {
		ev = append(ev, reporter.TimelineEvent{At: e.At, Kind: "alert", Title: e.Summary, Detail: e.Kind})
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.After(ev[j].At) })
	if len(ev) > timelineLength {
		ev = ev[:timelineLength]
	}
	return ev, nil
}
