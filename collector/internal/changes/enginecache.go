package changes

import (
	"context"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
)

// engineMaxAge bounds how long a cached engine is used. The tickets an
// engine holds depend on the time as well as on the store (a finished
// ticket drops out finishedWindow after it finished), so a tenant's
// engine is built again at least this often, by the manager's clock.
const engineMaxAge = time.Minute

// engineCache keeps each tenant's reconciliation engine between reports,
// so that a report does not read and decode every open ticket again.
//
// An engine is valid for the tenant's change version it was built at:
// the sequence number of the newest entry of the tenant's audit log. Every
// write of what the engine is built from appends to that log in the same
// transaction — a ticket created or updated, a policy stored, a CI
// deployment recorded — so a write by any manager, in this collector or
// another one on the same database, changes the version, and the next
// report builds the engine again. Inputs added to the engine later must do
// the same (or, for a change this process alone makes, call invalidate).
type engineCache struct {
	mu sync.Mutex
	m  map[string]*engineBuild
}

// engineBuild is one tenant's engine, built or being built.
type engineBuild struct {
	version uint64    // the tenant's change version read before building
	built   time.Time // when the build started, by the manager's clock
	done    chan struct{}
	eng     *reconcile.Engine // set, with err, before done is closed
	err     error
}

// fresh says whether b may still be used at now for a tenant whose
// change version is v.
func (b *engineBuild) fresh(v uint64, now time.Time) bool {
	return b.version >= v && !now.Before(b.built) && now.Sub(b.built) < engineMaxAge
}

// changeVersion returns a tenant's change version: the sequence number of
// its audit log's newest entry (0 before the first).
func (m *Manager) changeVersion(ctx context.Context, tenantID string) (uint64, error) {
	h, err := m.Store.AuditHead(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	return h.Seq, nil
}

// cachedEngine returns the tenant's reconciliation engine: the cached one
// when the tenant's change version is the one it was built at and it is
// younger than engineMaxAge, a new one otherwise. Reports that arrive
// while it is being built wait for that build rather than start their
// own.
func (m *Manager) cachedEngine(ctx context.Context, tenantID string) (*reconcile.Engine, error) {
	v, err := m.changeVersion(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	c := &m.engines
	c.mu.Lock()
	b := c.m[tenantID]
	if b == nil || !b.fresh(v, now) {
		b = &engineBuild{version: v, built: now, done: make(chan struct{})}
		if c.m == nil {
			c.m = make(map[string]*engineBuild)
		}
		for id, old := range c.m {
			if !old.fresh(0, now) {
				delete(c.m, id)
			}
		}
		c.m[tenantID] = b
		c.mu.Unlock()
		b.eng, b.err = m.engine(ctx, tenantID)
		if b.err != nil {
			c.mu.Lock()
			if c.m[tenantID] == b {
				delete(c.m, tenantID)
			}
			c.mu.Unlock()
		}
		close(b.done)
		return b.eng, b.err
	}
	c.mu.Unlock()
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if b.err != nil {
		// The build failed for its own caller (a cancelled request, say);
		// this caller builds its own.
		return m.engine(ctx, tenantID)
	}
	return b.eng, nil
}

// invalidate drops a tenant's cached engine, so that the next report
// builds it again. The change version does this for every audited write;
// invalidate is for a change this process makes that is not audited.
func (m *Manager) invalidate(tenantID string) {
	m.engines.mu.Lock()
	delete(m.engines.m, tenantID)
	m.engines.mu.Unlock()
}
