package agent

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/redact"
	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/agent/internal/source/all"
	"github.com/driftwatch/driftwatch/agent/internal/source/file"
	"github.com/driftwatch/driftwatch/agent/internal/state"
	"github.com/driftwatch/driftwatch/baseline"
)

// ErrNoBaseline is returned by Check when no baseline has been approved.
var ErrNoBaseline = state.ErrNoBaseline

// Agent observes one host.
type Agent struct {
	cfg      *config.Agent
	log      *zap.Logger
	store    *state.Store
	redactor *redact.Redactor
	version  string

	// lastCheck is what Report needs of the newest Check beyond its drift.
	lastMu    sync.Mutex
	lastCheck checkRecord
}

// checkRecord is how a Check's run went, for the report of its drift.
type checkRecord struct {
	digest  baseline.Digest
	sources []baseline.SourceStatus
}

// New opens the state directory the configuration names and returns an
// agent. version is the agent's version, recorded in snapshots.
func New(cfg *config.Agent, log *zap.Logger, version string) (*Agent, error) {
	st, err := state.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	var patterns []string
	if cfg.Redact != nil {
		patterns = cfg.Redact.Patterns
	}
	red, err := redact.New(patterns, cfg.Redact.UseDefaults())
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, log: log, store: st, redactor: red, version: version}, nil
}

// Store returns the agent's state store.
func (a *Agent) Store() *state.Store { return a.store }

// Config returns the agent's configuration.
func (a *Agent) Config() *config.Agent { return a.cfg }

// Host returns the host's identity as configured.
func (a *Agent) Host() baseline.Host {
	return baseline.Host{Name: a.cfg.Host.Name, Labels: a.cfg.Host.Labels}
}

// SnapshotOptions tunes a snapshot.
type SnapshotOptions struct {
	// Full re-reads every file instead of trusting the scan cache for files
	// whose size, times, inode and device are unchanged.
	Full bool
}

// Snapshot observes the host with every configured source. The content it
// captures is redacted and stored in the state directory.
func (a *Agent) Snapshot(ctx context.Context, opt SnapshotOptions) (*baseline.Snapshot, error) {
	e, wait, err := a.encoded(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer wait()
	return e.Snapshot()
}

// encoded takes a snapshot held in its canonical encoding. The scan cache is
// saved in the background: call wait before returning to the user.
func (a *Agent) encoded(ctx context.Context, opt SnapshotOptions) (*baseline.Encoded, func(), error) {
	r, cache, err := a.runner(opt)
	if err != nil {
		return nil, nil, err
	}
	if vs, err := a.store.Versions(); err == nil && len(vs) > 0 {
		r.SizeHint = vs[len(vs)-1].Items + vs[len(vs)-1].Items/8
	}
	start := time.Now()
	e, err := r.Encoded(ctx, a.Host())
	if err != nil {
		return nil, nil, err
	}
	e.AgentVersion = a.version
	e.ConfigDigest = a.cfg.Digest
	a.log.Debug("snapshot taken", zap.Int("items", e.Len()), zap.Duration("took", time.Since(start)))
	// The cache is saved while the caller writes the snapshot; wait waits
	// for it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.saveCache(cache)
	}()
	return e, func() { <-done }, nil
}

// runner builds the configured sources with the scan cache.
func (a *Agent) runner(opt SnapshotOptions) (*source.Runner, *file.Cache, error) {
	cache, err := file.LoadCache(a.store.CachePath(), a.cfg.Digest)
	if err != nil {
		a.log.Warn("scan cache not used; every file is read", zap.Error(err))
	}
	srcs, err := all.Sources(a.cfg, all.Options{Cache: cache, Full: opt.Full})
	if err != nil {
		return nil, nil, err
	}
	return &source.Runner{Sources: srcs, Redactor: a.redactor, Blobs: a.store, Log: a.log.Named("source")}, cache, nil
}

func (a *Agent) saveCache(cache *file.Cache) {
	if cache.Dirty() {
		start := time.Now()
		if err := cache.Save(a.store.CachePath()); err != nil {
			a.log.Warn("scan cache not saved; the next check reads every file", zap.Error(err))
			return
		}
		a.log.Debug("scan cache saved", zap.Duration("took", time.Since(start)))
	}
}

// Approval says who approves a baseline and why.
type Approval struct {
	// By is who approves; empty means the user running the agent.
	By string
	// Reason is why; required.
	Reason string
	// Tickets are change tickets the approval refers to.
	Tickets []string
}

// Approve stores snap (a new snapshot when nil) as the next baseline
// version.
func (a *Agent) Approve(ctx context.Context, snap *baseline.Snapshot, ap Approval) (*baseline.Meta, error) {
	if ap.Reason == "" {
		return nil, errors.New("approve: a reason is required (-reason)")
	}
	by := ap.By
	if by == "" {
		by = currentUser()
	}
	meta := baseline.Meta{ApprovedBy: by, ApprovedAt: time.Now().UTC(), Reason: ap.Reason, Tickets: ap.Tickets, Reviewed: true}
	var err error
	if snap != nil {
		var b *baseline.Baseline
		if b, err = a.store.Approve(meta, snap); err == nil {
			meta = b.Meta
		}
	} else {
		var e *baseline.Encoded
		var wait func()
		if e, wait, err = a.encoded(ctx, SnapshotOptions{}); err != nil {
			return nil, err
		}
		start := time.Now()
		meta, err = a.store.ApproveEncoded(meta, e)
		wait()
		a.log.Debug("baseline written", zap.Duration("took", time.Since(start)))
	}
	if err != nil {
		return nil, err
	}
	a.log.Info("baseline approved", zap.Int("baseline_version", meta.Version), zap.Int("items", meta.Items),
		zap.String("approved_by", by), zap.Strings("tickets", ap.Tickets))
	return &meta, nil
}

// Check observes the host and compares every item with the approved
// baseline as it is observed, keeping only what differs: it never holds a
// second full copy of the host's items.
func (a *Agent) Check(ctx context.Context, opt SnapshotOptions) (*baseline.Drift, *baseline.Meta, error) {
	meta, idx, done, err := a.store.LoadIndex(0)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	r, cache, err := a.runner(opt)
	if err != nil {
		return nil, nil, err
	}
	cmp, err := r.Compare(ctx, a.Host(), idx)
	if err != nil {
		return nil, nil, err
	}
	a.saveCache(cache)
	d, err := cmp.Drift(meta, baseline.DiffOptions{Blobs: a.store})
	if err != nil {
		return nil, nil, err
	}
	a.lastMu.Lock()
	a.lastCheck = checkRecord{digest: d.SnapshotDigest, sources: cmp.Sources}
	a.lastMu.Unlock()
	return d, &meta, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// WriteConfigError writes a configuration error with file:line:col and the
// offending line, or its plain text for other errors.
func WriteConfigError(w interface{ Write([]byte) (int, error) }, err error) {
	if d, ok := config.AsDiagnostics(err); ok {
		d.WriteText(w)
		return
	}
	fmt.Fprintln(w, err)
}
