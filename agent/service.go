package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/enrollment"
	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/agent/internal/source/all"
	"github.com/driftwatch/driftwatch/agent/internal/source/file"
	"github.com/driftwatch/driftwatch/agent/internal/spool"
	"github.com/driftwatch/driftwatch/agent/internal/watch"
	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// Spool entry kinds besides the spool's own gap records.
const (
	entryReport = "report"
	entryEvent  = "event"
)

// StatusFile is the file in the state directory where a running service
// keeps its status for `driftwatch-agent status`.
const StatusFile = "status.json"

// ServiceStatus is what a running service writes to StatusFile.
type ServiceStatus struct {
	api.AgentStatus
	// PID is the service's process.
	PID int `json:"pid"`
	// Updated is when the file was written.
	Updated time.Time `json:"updated"`
	// Config is the configuration file in use.
	Config string `json:"config"`
	// Collector is the collector's URL; empty when the host is not
	// enrolled.
	Collector string `json:"collector,omitempty"`
	// Stopped is set when the service stopped cleanly.
	Stopped bool `json:"stopped,omitempty"`
}

// ReadServiceStatus reads the status a service wrote in stateDir.
func ReadServiceStatus(stateDir string) (*ServiceStatus, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, StatusFile))
	if err != nil {
		return nil, fmt.Errorf("read service status: %w", err)
	}
	var st ServiceStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read service status %s: %w", filepath.Join(stateDir, StatusFile), err)
	}
	return &st, nil
}

// ServiceOptions configures RunService.
type ServiceOptions struct {
	// ConfigPath is the agent configuration file.
	ConfigPath string
	// Log receives the service's log; nil logs nothing.
	Log *zap.Logger
	// Version is the agent's version.
	Version string
	// Reload receives a value when the configuration is to be read again
	// (SIGHUP). An invalid new configuration is logged and the old one
	// kept.
	Reload <-chan struct{}
	// Ready, when set, is closed once the first full scan is done and its
	// report queued.
	Ready chan<- struct{}
}

// errReload ends one configuration's run for the next one.
var errReload = errors.New("reload")

// RunService runs the agent as an always-on service until ctx ends: a full
// scan at start and on schedule, the realtime watch of the files sources
// with targeted rescans of what changed, the command sources on their own
// schedule, every report spooled durably and sent in order, heartbeats
// that keep the baseline in step with the collector's.
func RunService(ctx context.Context, opt ServiceOptions) error {
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	if abs, err := filepath.Abs(opt.ConfigPath); err == nil {
		opt.ConfigPath = abs
	}
	cfg, err := config.Load(opt.ConfigPath)
	if err != nil {
		return err
	}
	started := time.Now().UTC()
	for {
		svc := &service{opt: opt, cfg: cfg, log: opt.Log, started: started}
		next, err := svc.run(ctx)
		if errors.Is(err, errReload) {
			opt.Log.Info("configuration reloaded", zap.String("config", opt.ConfigPath))
			cfg = next
			opt.Ready = nil
			continue
		}
		return err
	}
}

// service is one run of the service with one configuration.
type service struct {
	opt     ServiceOptions
	cfg     *config.Agent
	log     *zap.Logger
	started time.Time

	a       *Agent
	limiter *rate.Limiter
	spool   *spool.Spool // nil when the host is not enrolled
	client  *api.Client
	en      *enrollment.Enrollment

	// Owned by the scan loop.
	cmp        *source.Comparison
	meta       baseline.Meta
	closeIndex func()
	// lastState and lastBase are the snapshot and baseline digests of
	// the last report queued: the same pair is not reported twice.
	lastState, lastBase baseline.Digest

	// syncCh asks the scan loop to fetch the collector's baseline.
	syncCh chan struct{}

	mu      sync.Mutex
	status  api.AgentStatus
	watcher *watch.Watcher
	// statusTimer is a pending status write.
	statusTimer *time.Timer
	// collectorBaseline is the collector's current baseline as last
	// heard; known says whether it has been heard at all.
	collectorVersion int
	collectorDigest  baseline.Digest
	collectorKnown   bool
	baselineQueued   bool

	// tx is the package transactions, owned by the scan loop.
	tx txState
}

// run runs until ctx ends (nil error) or a valid new configuration is to
// be used (errReload with it).
func (s *service) run(ctx context.Context) (*config.Agent, error) {
	a, err := New(s.cfg, s.log, s.opt.Version)
	if err != nil {
		return nil, err
	}
	s.a = a
	if s.cfg.HashRate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(s.cfg.HashRate), int(max(s.cfg.HashRate/4, 1<<20)))
	}
	s.syncCh = make(chan struct{}, 1)
	s.openTransactions()
	s.status = api.AgentStatus{Started: s.started, Watch: api.WatchStatus{Enabled: s.cfg.Watch.On()}}

	// On the way out: stop the goroutines, wait for them, then close the
	// spool they use.
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		if s.spool != nil {
			s.spool.Close()
		}
	}()

	if en, err := a.Enrollment(); err == nil {
		s.en = en
		s.client, err = api.NewClient(api.ClientOptions{BaseURL: en.CollectorURL, Fingerprint: en.Fingerprint,
			Credential: en.Credential, Insecure: en.Insecure, UserAgent: a.userAgent()})
		if err != nil {
			return nil, fmt.Errorf("collector client: %w", err)
		}
		sp, err := spool.Open(filepath.Join(s.cfg.StateDir, "spool"), spool.Options{MaxBytes: s.cfg.Spool.Size, RetryMin: min(time.Second, s.cfg.Spool.RetryMaxDuration), RetryMax: s.cfg.Spool.RetryMaxDuration, Log: s.log.Named("spool")})
		if err != nil {
			return nil, err
		}
		s.spool = sp
		s.status.Spool.MaxBytes = s.cfg.Spool.Size
		if en.BaselineVersion > 0 {
			s.collectorVersion, s.collectorDigest = en.BaselineVersion, en.BaselineDigest
		}
		wg.Go(func() { s.drain(ctx) })
		wg.Go(func() { s.heartbeats(ctx) })
	} else {
		s.log.Info("not enrolled: drift is logged and kept in the status, not reported", zap.Error(err))
	}
	defer s.writeStatus(true)

	if err := s.ensureBaseline(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if s.closeIndex != nil {
			s.closeIndex()
		}
	}()
	// The watch starts before the first scan: a change made while the
	// scan runs comes as a batch after it, never falls between the two.
	var w *watch.Watcher
	var batches <-chan watch.Batch
	var gaps <-chan watch.Gap
	if s.cfg.Watch.On() && len(s.cfg.Files) > 0 {
		roots, err := watch.ConfigRoots(s.cfg)
		if err != nil {
			return nil, err
		}
		w, err = watch.New(watch.Options{Roots: roots, Debounce: s.cfg.Watch.DebounceDuration, MaxDelay: s.cfg.Watch.MaxDelayDuration,
			MaxWatches: s.cfg.Watch.MaxWatches, Log: s.log.Named("watch")})
		if err != nil {
			s.log.Warn("realtime watch unavailable: scheduled scans only", zap.Error(err))
			s.queueEvent(api.EventCoverageGap, "realtime watch unavailable: "+err.Error(), map[string]any{"path": "", "reason": err.Error()})
		} else {
			s.mu.Lock()
			s.watcher = w
			s.mu.Unlock()
			wg.Go(func() {
				if err := w.Run(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("realtime watch stopped: scheduled scans only", zap.Error(err))
				}
			})
			batches, gaps = w.Batches(), w.Gaps()
			select {
			case <-w.Ready():
			case <-ctx.Done():
				return nil, nil
			}
		}
	}

	if err := s.fullScan(ctx, "start"); err != nil {
		return nil, err
	}
	if s.opt.Ready != nil {
		close(s.opt.Ready)
	}

	sch := s.cfg.Schedule
	full := time.NewTicker(sch.FullScanEvery)
	defer full.Stop()
	cmds := time.NewTicker(sch.CommandsEvery)
	defer cmds.Stop()
	uncovered := time.NewTicker(sch.UncoveredScanEvery)
	defer uncovered.Stop()
	statusTick := time.NewTicker(10 * time.Second)
	defer statusTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-s.opt.Reload:
			next, err := config.Load(s.opt.ConfigPath)
			if err != nil {
				var b []byte
				buf := &bytesWriter{b: &b}
				WriteConfigError(buf, err)
				s.log.Error("new configuration is invalid; the running one is kept", zap.String("config", s.opt.ConfigPath), zap.String("error", string(b)))
				continue
			}
			if next.StateDir != s.cfg.StateDir {
				s.log.Error("state_dir cannot change while the service runs; the running configuration is kept (restart the service)",
					zap.String("running", s.cfg.StateDir), zap.String("new", next.StateDir))
				continue
			}
			return next, errReload
		case b, ok := <-batches:
			if !ok {
				batches = nil
				continue
			}
			s.rescanPaths(ctx, b.Paths, b.Dirs, "change")
		case g, ok := <-gaps:
			if !ok {
				gaps = nil
				continue
			}
			s.coverageGap(ctx, g, w)
		case <-full.C:
			if err := s.fullScan(ctx, "schedule"); err != nil {
				s.log.Error("scheduled full scan failed", zap.Error(err))
			}
		case <-cmds.C:
			s.rescanCommands(ctx)
		case <-uncovered.C:
			if w != nil {
				if c := w.Coverage(); len(c.Uncovered) > 0 || len(c.Gaps) > 0 {
					// Watch what now fits, then scan what still does not.
					s.retryWatch(ctx, w)
					if c := w.Coverage(); len(c.Uncovered) > 0 {
						s.rescanPaths(ctx, nil, c.Uncovered, "uncovered")
					}
				}
			}
		case <-s.syncCh:
			s.syncBaseline(ctx)
		case <-s.tx.ended:
			if err := s.queueReport(ctx, "package transaction"); err != nil {
				s.log.Error("report after a package transaction failed", zap.Error(err))
			}
		case <-statusTick.C:
			if w != nil {
				s.setWatchStatus(w.Coverage())
			}
			s.writeStatus(false)
		}
	}
}

// bytesWriter appends to a byte slice.
type bytesWriter struct{ b *[]byte }

func (w *bytesWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// ensureBaseline makes sure there is a local baseline to compare with:
// the collector's, when the host is enrolled and the collector has one,
// or else the host's state now, approved as the initial baseline.
func (s *service) ensureBaseline(ctx context.Context) error {
	if vs, err := s.a.store.Versions(); err == nil && len(vs) > 0 {
		return nil
	}
	if s.client != nil {
		if err := s.fetchBaseline(ctx); err == nil {
			return nil
		} else {
			s.log.Info("no baseline from the collector", zap.Error(err))
		}
	}
	meta, err := s.a.Approve(ctx, nil, Approval{By: "driftwatch-agent", Reason: "initial baseline: the host's state when the service first started"})
	if err != nil {
		return fmt.Errorf("initial baseline: %w", err)
	}
	s.log.Warn("no approved baseline: the host's current state is the initial baseline; review it",
		zap.Int("baseline_version", meta.Version), zap.Int("items", meta.Items))
	return nil
}

// runner builds sources for a scan: every source for a full scan, some
// for a targeted one.
func (s *service) runner(opt all.Options) (*source.Runner, *file.Cache, error) {
	cache, err := file.LoadCache(s.a.store.CachePath(), s.cfg.Digest)
	if err != nil {
		s.log.Warn("scan cache not used; every file is read", zap.Error(err))
	}
	opt.Cache = cache
	if s.limiter != nil {
		opt.Limiter = s.limiter
	}
	srcs, err := all.Sources(s.cfg, opt)
	if err != nil {
		return nil, nil, err
	}
	return &source.Runner{Sources: srcs, Redactor: s.a.redactor, Blobs: s.a.store, Log: s.log.Named("source")}, cache, nil
}

// fullScan compares every source with the current baseline and queues a
// report when the drift changed.
func (s *service) fullScan(ctx context.Context, why string) error {
	meta, idx, done, err := s.a.store.LoadIndex(0)
	if err != nil {
		return err
	}
	r, cache, err := s.runner(all.Options{})
	if err != nil {
		done()
		return err
	}
	start := time.Now()
	cmp, err := r.Compare(ctx, s.a.Host(), idx)
	if err != nil {
		done()
		return err
	}
	s.a.saveCache(cache)
	if s.closeIndex != nil {
		s.closeIndex()
	}
	s.cmp, s.meta, s.closeIndex = cmp, meta, done
	now := time.Now().UTC()
	s.mu.Lock()
	s.status.LastScan = &now
	s.status.BaselineVersion, s.status.BaselineDigest = s.localBaselineVersion(meta), meta.SnapshotDigest
	s.mu.Unlock()
	s.log.Info("full scan done", zap.String("why", why), zap.Int("baseline_version", meta.Version), zap.Duration("took", time.Since(start)))
	return s.queueReport(ctx, why)
}

// localBaselineVersion is the version a baseline has at the collector when
// the agent knows it, its local version otherwise.
func (s *service) localBaselineVersion(meta baseline.Meta) int {
	if s.en != nil && s.en.BaselineDigest == meta.SnapshotDigest && s.en.BaselineVersion > 0 {
		return s.en.BaselineVersion
	}
	return meta.Version
}

// rescanPaths observes changed paths again: files, created or removed
// paths and their parent directories, and directories to walk whole.
func (s *service) rescanPaths(ctx context.Context, paths, dirs []string, why string) {
	if s.cmp == nil {
		return
	}
	var targets []file.Target
	var scope source.Scope
	seen := map[string]bool{}
	add := func(p string, recursive bool) {
		if seen[p] {
			return
		}
		seen[p] = true
		targets = append(targets, file.Target{Path: p, Recursive: recursive})
		scope.Keys = append(scope.Keys, baseline.Key(baseline.KindFile, p))
		if recursive {
			scope.Prefixes = append(scope.Prefixes, baseline.Key(baseline.KindFile, p+"/"))
		}
	}
	for _, d := range dirs {
		add(filepath.Clean(d), true)
	}
	for _, p := range paths {
		p = filepath.Clean(p)
		fi, err := os.Lstat(p)
		// A directory, or a path that is gone (it may have been one):
		// everything below it is observed again.
		add(p, err != nil || fi.IsDir())
		if parent := filepath.Dir(p); parent != p {
			if !seen[parent] {
				seen[parent] = true
				targets = append(targets, file.Target{Path: parent})
				scope.Keys = append(scope.Keys, baseline.Key(baseline.KindFile, parent))
			}
		}
	}
	if len(targets) == 0 {
		return
	}
	r, cache, err := s.runner(all.Options{Blocks: []string{"files"}, Targets: targets})
	if err != nil {
		s.log.Error("targeted rescan", zap.Error(err))
		return
	}
	start := time.Now()
	if _, err := s.cmp.Rescan(ctx, r, scope); err != nil {
		s.log.Warn("targeted rescan failed; the next full scan covers it", zap.Error(err))
		return
	}
	s.a.saveCache(cache)
	now := time.Now().UTC()
	s.mu.Lock()
	s.status.LastChange = &now
	s.mu.Unlock()
	s.log.Debug("targeted rescan", zap.String("why", why), zap.Int("paths", len(targets)), zap.Duration("took", time.Since(start)))
	if err := s.queueReport(ctx, why); err != nil {
		s.log.Error("report not queued", zap.Error(err))
	}
}

// rescanCommands runs the command sources again.
func (s *service) rescanCommands(ctx context.Context) {
	if s.cmp == nil || len(s.cfg.Commands) == 0 {
		return
	}
	r, _, err := s.runner(all.Options{Blocks: []string{"command"}})
	if err != nil {
		s.log.Error("command rescan", zap.Error(err))
		return
	}
	if _, err := s.cmp.Rescan(ctx, r, source.Scope{Prefixes: []string{baseline.KindCommand + ":"}}); err != nil {
		s.log.Warn("command rescan failed; the next full scan covers it", zap.Error(err))
		return
	}
	if err := s.queueReport(ctx, "commands"); err != nil {
		s.log.Error("report not queued", zap.Error(err))
	}
}

// coverageGap reports a part of the files the watch does not cover and
// scans it at once.
func (s *service) coverageGap(ctx context.Context, g watch.Gap, w *watch.Watcher) {
	closed := !g.IsOpen()
	kind, what := api.EventCoverageGap, "realtime watch does not cover "
	if closed {
		kind, what = api.EventCoverageRestored, "realtime watch covers again "
	}
	path := g.Path
	if path == "" {
		path = "every watched path"
	}
	if closed {
		s.log.Info(what+path, zap.String("reason", g.Reason))
	} else {
		s.log.Warn(what+path+"; scheduled scans cover it", zap.String("reason", g.Reason),
			zap.Duration("uncovered_scan", s.cfg.Schedule.UncoveredScanEvery))
	}
	s.queueEvent(kind, what+path+": "+g.Reason, map[string]any{"path": g.Path, "source": g.Source, "reason": g.Reason, "opened": g.Opened, "closed": g.Closed})
	if w != nil {
		s.setWatchStatus(w.Coverage())
	}
	if closed {
		return
	}
	// What happened while uncovered is found now, not at the next
	// schedule: a lost event queue needs a full scan, a directory over the
	// limit a scan of that directory.
	if g.Path == "" {
		// Watch again (the overflow lost track of new directories), then
		// scan everything.
		s.retryWatch(ctx, w)
		if err := s.fullScan(ctx, "watch overflow"); err != nil {
			s.log.Error("full scan after a watch overflow failed", zap.Error(err))
		}
		return
	}
	s.rescanPaths(ctx, nil, []string{g.Path}, "uncovered")
}

// retryWatch asks the watch to cover what it could not; the gaps it
// closes come as gap events of their own.
func (s *service) retryWatch(ctx context.Context, w *watch.Watcher) {
	if w == nil {
		return
	}
	if _, err := w.Retry(ctx); err != nil && ctx.Err() == nil {
		s.log.Debug("watch retry", zap.Error(err))
	}
	s.setWatchStatus(w.Coverage())
}

func (s *service) setWatchStatus(c watch.Coverage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Watch.Watched = c.Watched
	s.status.Watch.Uncovered = slices.Clone(c.Uncovered)
	s.status.Watch.Overflows = c.Overflows
}

// queueReport spools a report of the current drift, unless it describes
// the state the last one did.
func (s *service) queueReport(ctx context.Context, why string) error {
	d, err := s.cmp.Drift(s.meta, baseline.DiffOptions{Blobs: s.a.store})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.status.OpenChanges = len(d.Changes)
	s.mu.Unlock()
	if d.SnapshotDigest == s.lastState && s.meta.SnapshotDigest == s.lastBase {
		return nil
	}
	var rep api.Report
	if s.spool != nil && !s.attachTransactions(&rep, d) {
		return nil
	}
	s.lastState, s.lastBase = d.SnapshotDigest, s.meta.SnapshotDigest
	if len(d.Changes) > 0 {
		s.log.Info("drift", zap.String("why", why), zap.Int("changes", len(d.Changes)), zap.Int("added", d.Summary.Added),
			zap.Int("removed", d.Summary.Removed), zap.Int("modified", d.Summary.Modified), zap.String("snapshot", d.SnapshotDigest.Short()))
	} else {
		s.log.Info("no drift: the host matches its baseline", zap.String("why", why))
	}
	s.writeStatus(false)
	if s.spool == nil {
		return nil
	}
	rep.AgentVersion, rep.Drift, rep.SnapshotDigest, rep.TakenAt = s.a.version, d, d.SnapshotDigest, d.TakenAt
	rep.ItemCount, rep.Sources = s.meta.Items+d.Summary.Added-d.Summary.Removed, s.cmp.Sources
	if rep.Sources == nil {
		rep.Sources = []baseline.SourceStatus{}
	}
	s.mu.Lock()
	attach := !s.baselineQueued && s.collectorVersion == 0
	s.mu.Unlock()
	if attach {
		meta, enc, err := s.a.store.Encoding(s.meta.Version)
		if err != nil {
			return err
		}
		snap, err := baseline.Unmarshal(enc)
		if err != nil {
			return err
		}
		rep.Baseline = &api.Baseline{Meta: meta, Snapshot: enc}
		rep.Blobs = snap.ContentDigests()
	}
	rep.Blobs = reportBlobs(rep.Drift, rep.Blobs)
	unlock, err := s.a.store.Lock()
	if err != nil {
		return err
	}
	rep.Sequence, err = enrollment.NextSequence(s.a.store.Dir())
	unlock()
	if err != nil {
		return err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode report %d: %w", rep.Sequence, err)
	}
	if int64(len(body)) > s.cfg.Spool.Size/4 {
		// A report that would take a quarter of the spool keeps every
		// change but leaves the content diffs out: the collector has the
		// content blobs to show them.
		omitted := 0
		for i := range d.Changes {
			if d.Changes[i].ContentDiff != "" {
				d.Changes[i].ContentDiff = ""
				d.Changes[i].Note = "content diff left out: the report was too large for the agent's spool"
				omitted++
			}
		}
		if body, err = json.Marshal(rep); err != nil {
			return fmt.Errorf("encode report %d: %w", rep.Sequence, err)
		}
		s.log.Warn("report too large for the spool; content diffs left out", zap.Uint64("sequence", rep.Sequence),
			zap.Int("diffs", omitted), zap.Int("bytes", len(body)), zap.Int64("spool_max", s.cfg.Spool.Size))
	}
	keys := make([]string, 0, len(d.Changes))
	for _, c := range d.Changes {
		keys = append(keys, c.Key)
	}
	if _, err := s.spool.Append(entryReport, rep.Sequence, keys, body); err != nil {
		// Not queued: the next change or scan tries again, and the
		// collector hears of the loss.
		s.lastState, s.lastBase = baseline.Digest{}, baseline.Digest{}
		s.queueEvent(api.EventGap, fmt.Sprintf("report %d (%d changes) could not be spooled: %v", rep.Sequence, len(d.Changes), err),
			map[string]any{"sequence": rep.Sequence, "changes": len(d.Changes), "bytes": len(body), "error": err.Error()})
		return fmt.Errorf("spool report %d: %w", rep.Sequence, err)
	}
	s.reportedTransactions(d)
	if attach {
		s.mu.Lock()
		s.baselineQueued = true
		s.mu.Unlock()
		// The decoded baseline and its encoding are garbage now: return
		// them to the system at once, the service idles small.
		rep.Baseline, body = nil, nil
		time.AfterFunc(2*time.Second, debug.FreeOSMemory)
	}
	s.log.Debug("report queued", zap.Uint64("sequence", rep.Sequence), zap.Int("changes", len(d.Changes)), zap.Bool("baseline", attach))
	return nil
}

// queueEvent spools an event for the collector; without a collector it is
// only logged (by the caller).
func (s *service) queueEvent(kind, summary string, detail any) {
	if s.spool == nil {
		return
	}
	raw, err := json.Marshal(detail)
	if err != nil {
		s.log.Error("event not queued", zap.Error(err))
		return
	}
	ev := api.Event{Kind: kind, At: time.Now().UTC(), Summary: summary, Detail: raw}
	body, err := json.Marshal(ev)
	if err == nil {
		_, err = s.spool.Append(entryEvent, 0, nil, body)
	}
	if err != nil {
		s.log.Error("event not queued", zap.String("kind", kind), zap.Error(err))
	}
}

// drain sends the spool to the collector until ctx ends.
func (s *service) drain(ctx context.Context) {
	err := s.spool.Drain(ctx, s.send, permanent)
	if err != nil && ctx.Err() == nil {
		s.log.Error("sending to the collector stopped", zap.Error(err))
	}
}

// errBlobGone marks a report whose content is no longer in the state
// directory: sending it again cannot succeed.
var errBlobGone = errors.New("content no longer in the state directory")

// permanent reports whether sending an entry failed for good: the
// collector refused it as malformed or too large, or its content is gone.
// An authentication failure is not: enrolling again fixes it, and the
// spool keeps the reports meanwhile.
func permanent(err error) bool {
	if errors.Is(err, errBlobGone) || errors.Is(err, api.ErrTooLarge) {
		return true
	}
	var se *api.StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case 400, 413, 415, 422:
			return true
		}
	}
	return false
}

// send delivers one spool entry to the collector.
func (s *service) send(ctx context.Context, e spool.Entry) error {
	err := s.sendEntry(ctx, e)
	if err == nil {
		// After Drain has acknowledged it, so the status shows the spool
		// without it.
		s.statusSoon()
	}
	return err
}

// statusSoon writes the status file shortly, once for a burst of calls.
func (s *service) statusSoon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statusTimer != nil {
		return
	}
	s.statusTimer = time.AfterFunc(100*time.Millisecond, func() {
		s.mu.Lock()
		s.statusTimer = nil
		s.mu.Unlock()
		s.writeStatus(false)
	})
}

func (s *service) sendEntry(ctx context.Context, e spool.Entry) error {
	switch e.Kind {
	case entryReport:
		// Only what sending needs is decoded; the report goes out as it was
		// spooled (a first report with the baseline is tens of MB: decoding
		// and encoding it again would keep that much more memory).
		var rep struct {
			Sequence uint64            `json:"sequence"`
			Blobs    []baseline.Digest `json:"blobs"`
			Baseline *struct {
				SnapshotDigest baseline.Digest `json:"snapshot_digest"`
			} `json:"baseline"`
			Drift *struct {
				Changes []json.RawMessage `json:"changes"`
			} `json:"drift"`
		}
		if err := json.Unmarshal(e.Body, &rep); err != nil {
			return fmt.Errorf("spooled report %d: %w: %w", e.Ref, errBlobGone, err)
		}
		if err := s.a.uploadBlobs(ctx, s.client, rep.Blobs); err != nil {
			return err
		}
		resp, err := s.client.PostReportJSON(ctx, rep.Sequence, e.Body)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		s.mu.Lock()
		s.status.LastReportSequence, s.status.LastReportAt = resp.Sequence, &now
		s.mu.Unlock()
		if rep.Baseline != nil && resp.BaselineVersion > 0 && resp.BaselineDigest == rep.Baseline.SnapshotDigest {
			s.recordCollectorBaseline(resp.BaselineVersion, resp.BaselineDigest)
		}
		s.heard(resp.BaselineVersion, resp.BaselineDigest)
		changes := 0
		if rep.Drift != nil {
			changes = len(rep.Drift.Changes)
		}
		s.log.Info("report sent", zap.Uint64("sequence", resp.Sequence), zap.Bool("duplicate", resp.Duplicate),
			zap.Int("changes", changes), zap.Int("collector_baseline_version", resp.BaselineVersion))
		if rep.Baseline != nil {
			// The host's whole baseline went out once: give the memory it
			// took back to the system now rather than over minutes.
			rep.Baseline = nil
			time.AfterFunc(2*time.Second, debug.FreeOSMemory)
		}
		return nil
	case entryEvent:
		var ev api.Event
		if err := json.Unmarshal(e.Body, &ev); err != nil {
			return fmt.Errorf("spooled event %d: %w: %w", e.ID, errBlobGone, err)
		}
		ev.ID = fmt.Sprintf("event-%d", e.ID)
		_, err := s.client.PostEvents(ctx, []api.Event{ev})
		return err
	case spool.KindGap:
		g, err := e.Gap()
		if err != nil {
			return fmt.Errorf("spooled gap %d: %w: %w", e.ID, errBlobGone, err)
		}
		// A gap record can grow (merge further losses) under its spool ID
		// while unsent: the event ID is its content's, so a grown record
		// is a new event.
		ev := api.Event{ID: "gap-" + baseline.Sum(e.Body).String()[:24], Kind: api.EventGap, At: e.At, Summary: gapSummary(g), Detail: e.Body}
		_, err = s.client.PostEvents(ctx, []api.Event{ev})
		return err
	}
	return fmt.Errorf("spool entry %d: unknown kind %q: %w", e.ID, e.Kind, errBlobGone)
}

// gapSummary says in a sentence what a gap record lost.
func gapSummary(g spool.Gap) string {
	what := fmt.Sprintf("%d spooled entries", g.Entries)
	if k, ok := g.Kinds[entryReport]; ok && len(g.Kinds) == 1 {
		what = fmt.Sprintf("%d reports", k.Entries)
		if k.FirstRef > 0 {
			what += fmt.Sprintf(" (sequences %d to %d)", k.FirstRef, k.LastRef)
		}
	}
	return fmt.Sprintf("%s lost between %s and %s: %s", what, g.FirstAt.UTC().Format(time.RFC3339), g.LastAt.UTC().Format(time.RFC3339), g.Reason)
}

// heard records the collector's current baseline and asks for a sync when
// it is not the one the agent compares with.
func (s *service) heard(version int, digest baseline.Digest) {
	queued := 0
	if s.spool != nil {
		queued = s.spool.Stats().Entries // never under s.mu: Drain's send takes it
	}
	s.mu.Lock()
	s.collectorKnown = true
	s.collectorVersion, s.collectorDigest = version, digest
	if version == 0 && queued == 0 {
		// The collector has no baseline and nothing queued carries one:
		// the next report does.
		s.baselineQueued = false
	}
	local := s.status.BaselineDigest
	s.mu.Unlock()
	if version > 0 && !digest.IsZero() && digest != local {
		select {
		case s.syncCh <- struct{}{}:
		default:
		}
	}
}

// recordCollectorBaseline remembers, across restarts, which collector
// baseline the agent compares with.
func (s *service) recordCollectorBaseline(version int, digest baseline.Digest) {
	unlock, err := s.a.store.Lock()
	if err == nil {
		var en *enrollment.Enrollment
		en, err = enrollment.Update(s.a.store.Dir(), func(e *enrollment.Enrollment) error {
			e.BaselineVersion, e.BaselineDigest, e.SnapshotSent = version, digest, true
			return nil
		})
		unlock()
		if err == nil {
			s.mu.Lock()
			s.en.BaselineVersion, s.en.BaselineDigest, s.en.SnapshotSent = en.BaselineVersion, en.BaselineDigest, en.SnapshotSent
			if s.status.BaselineDigest == digest {
				s.status.BaselineVersion = version
			}
			s.mu.Unlock()
		}
	}
	if err != nil {
		s.log.Warn("collector baseline version not recorded", zap.Error(err))
	}
}

// heartbeats tells the collector the agent is alive, on schedule.
func (s *service) heartbeats(ctx context.Context) {
	t := time.NewTicker(s.cfg.Schedule.HeartbeatEvery)
	defer t.Stop()
	for {
		s.heartbeat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *service) heartbeat(ctx context.Context) {
	st := s.snapshotStatus()
	resp, err := s.client.Heartbeat(ctx, api.Heartbeat{SentAt: time.Now().UTC(), AgentVersion: s.a.version, Status: st.AgentStatus})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Debug("heartbeat failed", zap.Error(err))
		}
		return
	}
	s.heard(resp.BaselineVersion, resp.BaselineDigest)
}

// syncBaseline fetches the collector's current baseline when it is not
// the one the agent compares with, installs it and scans again.
func (s *service) syncBaseline(ctx context.Context) {
	if err := s.fetchBaseline(ctx); err != nil {
		s.log.Warn("baseline not synced from the collector; comparing with the local one", zap.Error(err))
		return
	}
	if err := s.fullScan(ctx, "baseline synced"); err != nil {
		s.log.Error("scan after a baseline sync failed", zap.Error(err))
	}
}

// fetchBaseline fetches, verifies and installs the collector's current
// baseline as the newest local one.
func (s *service) fetchBaseline(ctx context.Context) error {
	b, _, err := s.client.Baseline(ctx, s.en.HostID, 0)
	if err != nil {
		return err
	}
	snap, err := baseline.Unmarshal(b.Snapshot)
	if err != nil {
		return fmt.Errorf("baseline v%d from the collector: %w", b.Version, err)
	}
	if got := snap.Digest(); got != b.SnapshotDigest {
		return fmt.Errorf("baseline v%d from the collector: snapshot digest %s does not match the approval's %s", b.Version, got.Short(), b.SnapshotDigest.Short())
	}
	if snap.Host.Name != s.cfg.Host.Name {
		return fmt.Errorf("baseline v%d from the collector is of host %q, not %q", b.Version, snap.Host.Name, s.cfg.Host.Name)
	}
	if cur, err := s.a.store.Versions(); err == nil && len(cur) > 0 && cur[len(cur)-1].SnapshotDigest == b.SnapshotDigest {
		s.recordCollectorBaseline(b.Version, b.SnapshotDigest)
		return nil
	}
	// Content the baseline references that the host has not kept (an
	// item approved from another state) is fetched too: diffs need it.
	for _, d := range snap.ContentDigests() {
		if !s.a.store.HasBlob(d) {
			s.log.Debug("baseline content not on this host; diffs against it show digests only", zap.String("digest", d.Short()))
		}
	}
	meta := baseline.Meta{
		ApprovedBy: b.ApprovedBy, ApprovedAt: b.ApprovedAt, Tickets: b.Tickets, Reviewed: b.Reviewed,
		Reason: fmt.Sprintf("collector baseline v%d: %s", b.Version, b.Reason),
	}
	if _, err := s.a.store.Approve(meta, snap); err != nil {
		return fmt.Errorf("install baseline v%d from the collector: %w", b.Version, err)
	}
	s.recordCollectorBaseline(b.Version, b.SnapshotDigest)
	s.log.Info("baseline synced from the collector", zap.Int("collector_version", b.Version), zap.String("approved_by", b.ApprovedBy),
		zap.Strings("tickets", b.Tickets))
	return nil
}

func (s *service) snapshotStatus() ServiceStatus {
	s.mu.Lock()
	w := s.watcher
	s.mu.Unlock()
	if w != nil {
		s.setWatchStatus(w.Coverage())
	}
	s.mu.Lock()
	st := s.status
	st.Watch.Uncovered = slices.Clone(st.Watch.Uncovered)
	s.mu.Unlock()
	if s.spool != nil {
		ss := s.spool.Stats()
		st.Spool.Entries, st.Spool.Bytes, st.Spool.Coalesced, st.Spool.Dropped = ss.Entries, ss.Bytes, int(ss.Coalesced), int(ss.Dropped)
		st.Spool.LastError = ss.SendError
		if !ss.OldestAt.IsZero() {
			t := ss.OldestAt
			st.Spool.Oldest = &t
		}
	}
	out := ServiceStatus{AgentStatus: st, PID: os.Getpid(), Updated: time.Now().UTC(), Config: s.opt.ConfigPath}
	if s.en != nil {
		out.Collector = s.en.CollectorURL
	}
	return out
}

// writeStatus writes StatusFile; stopped marks a clean stop.
func (s *service) writeStatus(stopped bool) {
	st := s.snapshotStatus()
	st.Stopped = stopped
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(s.cfg.StateDir, StatusFile), append(b, '\n'), 0o600)
	}
	if err != nil {
		s.log.Debug("status not written", zap.Error(err))
	}
}
