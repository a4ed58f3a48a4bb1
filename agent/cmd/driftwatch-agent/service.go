package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/kardianos/service"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/driftwatch/driftwatch/agent"
	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/packaging"
)

// serviceName is the agent's name in the service manager.
const serviceName = "driftwatch-agent"

// stopTimeout bounds how long a stop waits for the service to finish what
// it is doing (a scan, a report being sent); it stays below the unit's
// TimeoutStopSec.
const stopTimeout = 20 * time.Second

// serviceConfig describes the agent to the service manager: `run` with the
// configuration, and on systemd the unit driftwatch ships.
func serviceConfig(cfgPath string) (*service.Config, error) {
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("config path %s: %w", cfgPath, err)
	}
	sc := &service.Config{
		Name:        serviceName,
		DisplayName: "driftwatch agent",
		Description: "driftwatch agent: configuration drift detection for this host",
		Arguments:   []string{"run", "-config", abs},
		Option:      service.KeyValue{},
	}
	if runtime.GOOS == "linux" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the agent binary: %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		stateDir := config.DefaultStateDir
		if cfg, err := config.Load(abs); err == nil {
			stateDir = cfg.StateDir
		}
		unit, err := packaging.AgentUnit{Exec: exe, Config: abs, StateDir: stateDir}.Render()
		if err != nil {
			return nil, err
		}
		sc.Option["SystemdScript"] = string(unit)
	}
	return sc, nil
}

// program is the agent under the service manager.
type program struct {
	opt    agent.ServiceOptions
	log    *zap.Logger
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	mu     sync.Mutex
}

// Start starts the service in the background and returns at once.
func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		err := agent.RunService(ctx, p.opt)
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			p.log.Error("service stopped", zap.Error(err))
			// The service cannot go on: let the service manager see it
			// fail (and restart it, as the unit says).
			os.Exit(exitError)
		}
	}()
	return nil
}

// Stop cancels the service and waits for it, at most stopTimeout.
func (p *program) Stop(service.Service) error {
	p.cancel()
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("the service did not stop within %v", stopTimeout)
	}
}

// runService is `run`: the service in the foreground, what the service
// manager starts.
func (c *cli) runService(args []string) int {
	var cm common
	fs := c.flags("run", &cm)
	fs.Lookup("log-level").DefValue = "info"
	_ = fs.Set("log-level", "info")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return exitError
	}
	if _, err := config.Load(cm.config); err != nil {
		agent.WriteConfigError(c.stderr, err)
		return exitError
	}
	log, err := c.serviceLogger(cm.logLevel)
	if err != nil {
		return c.fail(err)
	}
	defer log.Sync()
	if err := lowerPriority(); err != nil {
		log.Warn("priority not lowered", zap.Error(err))
	}
	reload := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info("SIGHUP: reading the configuration again", zap.String("config", cm.config))
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	p := &program{opt: agent.ServiceOptions{ConfigPath: cm.config, Log: log, Version: version, Reload: reload}, log: log}
	sc, err := serviceConfig(cm.config)
	if err != nil {
		return c.fail(err)
	}
	svc, err := service.New(p, sc)
	if err != nil {
		return c.fail(err)
	}
	log.Info("driftwatch agent starting", zap.String("version", version), zap.String("config", cm.config), zap.Int("pid", os.Getpid()))
	if err := svc.Run(); err != nil {
		log.Error("service", zap.Error(err))
		return exitError
	}
	p.mu.Lock()
	err = p.err
	p.mu.Unlock()
	if err != nil {
		log.Error("service stopped", zap.Error(err))
		return exitError
	}
	log.Info("driftwatch agent stopped")
	return exitOK
}

// serviceLogger logs JSON lines to stderr, which the service manager
// keeps (journald, the event log).
func (c *cli) serviceLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(c.stderr), lvl)), nil
}

// control is install, uninstall, start and stop.
func (c *cli) control(action string, args []string) int {
	var cm common
	fs := c.flags(action, &cm)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return exitError
	}
	if action == "install" {
		if _, err := config.Load(cm.config); err != nil {
			agent.WriteConfigError(c.stderr, err)
			return exitError
		}
	}
	sc, err := serviceConfig(cm.config)
	if err != nil {
		return c.fail(err)
	}
	svc, err := service.New(&program{}, sc)
	if err != nil {
		return c.fail(err)
	}
	if err := service.Control(svc, action); err != nil {
		return c.fail(fmt.Errorf("%s the %s service (%s): %w", action, serviceName, svc.Platform(), err))
	}
	switch action {
	case "install":
		fmt.Fprintf(c.stdout, "installed the %s service (%s) with %s; start it with: driftwatch-agent start\n", serviceName, svc.Platform(), cm.config)
	default:
		fmt.Fprintf(c.stdout, "%s: %s done\n", serviceName, action)
	}
	return exitOK
}

// installedFile returns the unit or init script of an installed agent
// service on this host, if there is one where Linux service managers keep
// them.
func installedFile() string {
	if runtime.GOOS != "linux" {
		return ""
	}
	for _, p := range []string{
		"/etc/systemd/system/" + serviceName + ".service",
		"/lib/systemd/system/" + serviceName + ".service",
		"/usr/lib/systemd/system/" + serviceName + ".service",
		"/etc/init.d/" + serviceName,
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// status prints the service manager's view and the running service's own
// status: collector, last report, spool, baseline, watch coverage.
func (c *cli) status(args []string) int {
	var cm common
	fs := c.flags("status", &cm)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return exitError
	}
	state := "unknown"
	if sc, err := serviceConfig(cm.config); err == nil {
		if svc, err := service.New(&program{}, sc); err == nil {
			st, err := svc.Status()
			switch {
			case errors.Is(err, service.ErrNotInstalled):
				state = "not installed"
			case err != nil && installedFile() != "":
				// The service manager did not answer (SysV's `service
				// … status` exits non-zero for a stopped service).
				state = "installed (" + installedFile() + ")"
			case err != nil:
				state = "not installed"
			case st == service.StatusRunning:
				state = "running"
			case st == service.StatusStopped:
				state = "stopped"
			}
		}
	}
	fmt.Fprintf(c.stdout, "service:      %s\n", state)
	cfg, err := config.Load(cm.config)
	if err != nil {
		agent.WriteConfigError(c.stderr, err)
		return exitError
	}
	st, err := agent.ReadServiceStatus(cfg.StateDir)
	if err != nil {
		fmt.Fprintf(c.stdout, "agent:        no status yet (%v)\n", err)
		return exitOK
	}
	alive := "running"
	switch {
	case st.Stopped:
		alive = "stopped"
	case !processAlive(st.PID):
		alive = "not running (it did not stop cleanly)"
	}
	when := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.Local().Format(time.RFC3339) + " (" + time.Since(*t).Round(time.Second).String() + " ago)"
	}
	collector := st.Collector
	if collector == "" {
		collector = "not enrolled"
	}
	fmt.Fprintf(c.stdout, "agent:        %s, pid %d, since %s, status of %s\n", alive, st.PID, st.Started.Local().Format(time.RFC3339), st.Updated.Local().Format(time.RFC3339))
	fmt.Fprintf(c.stdout, "config:       %s\n", st.Config)
	fmt.Fprintf(c.stdout, "collector:    %s\n", collector)
	fmt.Fprintf(c.stdout, "baseline:     v%d (%s)\n", st.BaselineVersion, st.BaselineDigest.Short())
	fmt.Fprintf(c.stdout, "drift:        %d open changes; last full scan %s; last change %s\n", st.OpenChanges, when(st.LastScan), when(st.LastChange))
	if st.LastReportSequence > 0 {
		fmt.Fprintf(c.stdout, "last report:  #%d at %s\n", st.LastReportSequence, when(st.LastReportAt))
	} else {
		fmt.Fprintf(c.stdout, "last report:  none acknowledged\n")
	}
	sp := st.Spool
	fmt.Fprintf(c.stdout, "spool:        %d entries, %d of %d bytes, oldest %s, %d coalesced, %d dropped\n", sp.Entries, sp.Bytes, sp.MaxBytes, when(sp.Oldest), sp.Coalesced, sp.Dropped)
	if sp.LastError != "" {
		fmt.Fprintf(c.stdout, "              last send error: %s\n", sp.LastError)
	}
	w := st.Watch
	switch {
	case !w.Enabled:
		fmt.Fprintf(c.stdout, "watch:        off (scheduled scans only)\n")
	case len(w.Uncovered) > 0:
		fmt.Fprintf(c.stdout, "watch:        %d directories; NOT covered (scheduled scans): %v; %d overflows\n", w.Watched, w.Uncovered, w.Overflows)
	default:
		fmt.Fprintf(c.stdout, "watch:        %d directories, full coverage, %d overflows\n", w.Watched, w.Overflows)
	}
	return exitOK
}
