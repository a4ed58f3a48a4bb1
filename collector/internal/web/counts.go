package web

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/reporter"
)

// Counting a tenant's open drift reads every outstanding item. When that
// takes longer than slowCount (hundreds of thousands of open items), the
// counts are kept and shown for up to countsTTL; after that, the next
// request still gets them at once and starts a count in the background,
// so that no page waits for a count but the first. A change made through
// the web report counts afresh at once.
const (
	slowCount    = 50 * time.Millisecond
	countsTTL    = 30 * time.Second
	countTimeout = 5 * time.Minute
)

type cachedCounts struct {
	// at is when the count started, by the wall clock.
	at         time.Time
	counts     map[string]reporter.DriftCounts
	refreshing bool
}

// countsCache holds the counts of tenants whose counting is slow.
type countsCache struct {
	mu sync.Mutex
	m  map[string]cachedCounts
}

// openCounts returns each host's open drift counts in a tenant.
func (h *Handler) openCounts(ctx context.Context, tenantID string) (map[string]reporter.DriftCounts, error) {
	h.counts.mu.Lock()
	c, ok := h.counts.m[tenantID]
	if ok && time.Since(c.at) >= h.countsTTL && !c.refreshing {
		c.refreshing = true
		h.counts.m[tenantID] = c
		go h.recount(tenantID)
	}
	h.counts.mu.Unlock()
	if ok {
		return c.counts, nil
	}
	return h.count(ctx, tenantID)
}

// count counts a tenant's open drift, keeping the counts when counting
// was slow.
func (h *Handler) count(ctx context.Context, tenantID string) (map[string]reporter.DriftCounts, error) {
	start := time.Now()
	cs, err := h.st.DriftCounts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	counts := countsByHost(cs)
	h.counts.mu.Lock()
	defer h.counts.mu.Unlock()
	if h.counts.m == nil {
		h.counts.m = map[string]cachedCounts{}
	}
	if time.Since(start) >= h.slowCount {
		h.counts.m[tenantID] = cachedCounts{at: start, counts: counts}
	} else {
		delete(h.counts.m, tenantID)
	}
	return counts, nil
}

// recount counts a tenant's open drift in the background.
func (h *Handler) recount(tenantID string) {
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	if _, err := h.count(ctx, tenantID); err != nil {
		h.log.Warn("count open drift", zap.String("tenant", tenantID), zap.Error(err))
		h.counts.mu.Lock()
		if c, ok := h.counts.m[tenantID]; ok {
			c.refreshing = false
			h.counts.m[tenantID] = c
		}
		h.counts.mu.Unlock()
	}
}

// changed forgets what is cached of a tenant after a change made here.
func (h *Handler) changed(tenantID string) {
	h.counts.mu.Lock()
	delete(h.counts.m, tenantID)
	h.counts.mu.Unlock()
	h.overviews.forget(tenantID)
	h.auditMu.Lock()
	delete(h.audits, tenantID)
	h.auditMu.Unlock()
}

// overviewTTL is how long a tenant's part of the overview is reused: a
// page that many people open at once (the morning's first look) reads
// the store once, and every reload within the moment is rendering only.
// A change made through the web report drops it at once; reports and
// heartbeats show after at most this long.
const overviewTTL = 5 * time.Second

// overviewCache holds each tenant's part of the overview, read at most
// overviewTTL ago. The parts are shared by the requests that render
// them, which only read them.
type overviewCache struct {
	mu sync.Mutex
	m  map[string]cachedOverview
	// gens counts each tenant's changes, so that a read that started
	// before a change is not kept after it.
	gens map[string]uint64
}

type cachedOverview struct {
	// at is when the reads started, by the handler's clock.
	at time.Time
	to reporter.TenantOverview
}

// get returns a tenant's part read less than ttl before now.
func (c *overviewCache) get(tenantID string, now time.Time, ttl time.Duration) (reporter.TenantOverview, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[tenantID]
	if !ok || now.Sub(e.at) >= ttl || now.Before(e.at) {
		return reporter.TenantOverview{}, false
	}
	return e.to, true
}

// generation returns the tenant's change count, to give put.
func (c *overviewCache) generation(tenantID string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[tenantID]
}

// put keeps a tenant's part read at at, from generation gen on, unless
// the tenant changed since.
func (c *overviewCache) put(tenantID string, gen uint64, at time.Time, to reporter.TenantOverview) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[tenantID] != gen {
		return
	}
	if c.m == nil {
		c.m = map[string]cachedOverview{}
	}
	c.m[tenantID] = cachedOverview{at: at, to: to}
}

// forget drops a tenant's part after a change.
func (c *overviewCache) forget(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, tenantID)
	if c.gens == nil {
		c.gens = map[string]uint64{}
	}
	c.gens[tenantID]++
}
