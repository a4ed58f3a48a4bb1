// Command driftwatch-agent snapshots a host's configuration, keeps its
// approved baselines and reports drift from them.
//
// Exit status: 0 success (no drift), 1 drift found, 2 error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/driftwatch/driftwatch/agent"
	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/enrollment"
	"github.com/driftwatch/driftwatch/agent/internal/report"
	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/internal/profiling"
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

const (
	exitOK    = 0
	exitDrift = 1
	exitError = 2
)

const usage = `driftwatch-agent: configuration drift detection for this host

Usage:
  driftwatch-agent validate -config FILE
  driftwatch-agent snapshot -config FILE [-o FILE] [-full]
  driftwatch-agent baseline approve -config FILE -reason TEXT [-ticket ID]... [-by NAME] [-from SNAPSHOT_FILE]
  driftwatch-agent baseline list -config FILE [-format text|json]
  driftwatch-agent baseline show -config FILE [-version N] [-format text|json]
  driftwatch-agent check -config FILE [-format text|json] [-full] [-report]
  driftwatch-agent enroll -config FILE -collector URL -token TOKEN [-fingerprint SHA256] [-insecure]
  driftwatch-agent diff [-format text|json] OLD_SNAPSHOT NEW_SNAPSHOT
  driftwatch-agent run -config FILE [-log-level info]       the service, in the foreground
  driftwatch-agent install|uninstall|start|stop|restart -config FILE
  driftwatch-agent status -config FILE
  driftwatch-agent version

-config defaults to ` + config.DefaultPath + `.
enroll reads the token from ` + tokenEnv + ` when -token is not given.
Exit status: 0 success or no drift, 1 drift found, 2 error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer profiling.Start("driftwatch-agent", stderr)()
	c := &cli{stdout: stdout, stderr: stderr}
	// The agent runs on hosts it does not own: it trades a little CPU for a
	// small footprint. Most of what a scan allocates is short-lived (file
	// content on its way to a blob, attribute strings), so a low GC target
	// keeps the peak near the live data: the baseline index, the snapshot's
	// encoding and the scan cache. GOGC in the environment overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	switch args[0] {
	case "validate":
		return c.validate(args[1:])
	case "snapshot":
		return c.snapshot(ctx, args[1:])
	case "baseline":
		if len(args) < 2 {
			fmt.Fprint(stderr, "driftwatch-agent baseline: want approve, list or show\n\n"+usage)
			return exitError
		}
		switch args[1] {
		case "approve":
			return c.approve(ctx, args[2:])
		case "list":
			return c.baselineList(args[2:])
		case "show":
			return c.baselineShow(args[2:])
		}
		fmt.Fprintf(stderr, "driftwatch-agent baseline: unknown command %q; want approve, list or show\n", args[1])
		return exitError
	case "check":
		return c.check(ctx, args[1:])
	case "diff":
		return c.diff(args[1:])
	case "enroll":
		return c.enroll(ctx, args[1:])
	case "run":
		stop() // the service handles its own signals
		return c.runService(args[1:])
	case "install", "uninstall", "start", "stop", "restart":
		return c.control(args[0], args[1:])
	case "status":
		return c.status(args[1:])
	case "pkgtx": // hidden: run by the apt and dnf hooks
		return c.pkgtx(ctx, args[1:])
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "driftwatch-agent %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "driftwatch-agent: unknown command %q\n\n%s", args[0], usage)
	return exitError
}

type cli struct {
	stdout, stderr io.Writer
}

// common are the flags every command that reads a configuration has.
type common struct {
	config   string
	logLevel string
}

func (c *cli) flags(name string, cm *common) *flag.FlagSet {
	fs := flag.NewFlagSet("driftwatch-agent "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	if cm != nil {
		fs.StringVar(&cm.config, "config", config.DefaultPath, "agent configuration `file`")
		fs.StringVar(&cm.logLevel, "log-level", "warn", "log `level`: debug, info, warn or error")
	}
	return fs
}

func (c *cli) logger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(c.stderr), lvl)
	return zap.New(core), nil
}

// open loads the configuration and opens the agent; on failure it prints
// the problem and returns nil.
func (c *cli) open(cm *common) *agent.Agent {
	log, err := c.logger(cm.logLevel)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return nil
	}
	cfg, err := config.Load(cm.config)
	if err != nil {
		agent.WriteConfigError(c.stderr, err)
		return nil
	}
	a, err := agent.New(cfg, log, version)
	if err != nil {
		fmt.Fprintf(c.stderr, "driftwatch-agent: %v\n", err)
		return nil
	}
	return a
}

func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "driftwatch-agent: %v\n", err)
	return exitError
}

func (c *cli) validate(args []string) int {
	var cm common
	fs := c.flags("validate", &cm)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return exitError
	}
	cfg, err := config.Load(cm.config)
	if err != nil {
		agent.WriteConfigError(c.stderr, err)
		return exitError
	}
	n := len(cfg.Files) + len(cfg.Commands)
	for _, on := range []bool{cfg.Packages != nil, cfg.Services != nil, cfg.Users != nil, cfg.Sysctl != nil, cfg.ListeningPorts != nil, cfg.Inventory != nil} {
		if on {
			n++
		}
	}
	fmt.Fprintf(c.stdout, "%s: valid (host %s, %d source blocks, state in %s)\n", cm.config, cfg.Host.Name, n, cfg.StateDir)
	return exitOK
}

func (c *cli) snapshot(ctx context.Context, args []string) int {
	var cm common
	fs := c.flags("snapshot", &cm)
	out := fs.String("o", "-", "write the snapshot to `file` (- for standard output)")
	full := fs.Bool("full", false, "re-read every file, ignoring the scan cache")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return exitError
	}
	a := c.open(&cm)
	if a == nil {
		return exitError
	}
	snap, err := a.Snapshot(ctx, agent.SnapshotOptions{Full: *full})
	if err != nil {
		return c.fail(err)
	}
	if *out == "-" {
		if err := agent.WriteSnapshot(c.stdout, snap, a.Store()); err != nil {
			return c.fail(err)
		}
		return exitOK
	}
	if err := agent.WriteSnapshotFile(*out, snap, a.Store()); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stderr, "snapshot of %s: %d items, digest %s, written to %s\n", snap.Host.Name, len(snap.Items), snap.Digest().Short(), *out)
	return exitOK
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func (c *cli) approve(ctx context.Context, args []string) int {
	var cm common
	fs := c.flags("baseline approve", &cm)
	reason := fs.String("reason", "", "why this state is approved (required)")
	by := fs.String("by", "", "who approves (default: the current user)")
	from := fs.String("from", "", "approve this saved snapshot `file` instead of the current state")
	var tickets multi
	fs.Var(&tickets, "ticket", "change ticket `ID` the approval refers to (repeatable)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return exitError
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(c.stderr, "driftwatch-agent baseline approve: -reason is required: say why this state is approved")
		return exitError
	}
	a := c.open(&cm)
	if a == nil {
		return exitError
	}
	var snap *baseline.Snapshot
	if *from != "" {
		s, blobs, err := agent.ReadSnapshotFile(*from)
		if err != nil {
			return c.fail(err)
		}
		if err := a.ImportBlobs(s, blobs); err != nil {
			return c.fail(err)
		}
		snap = s
	}
	b, err := a.Approve(ctx, snap, agent.Approval{By: *by, Reason: *reason, Tickets: tickets})
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "baseline v%d approved for %s: %d items, snapshot %s, by %s\n", b.Version, b.Host, b.Items, b.SnapshotDigest.Short(), b.ApprovedBy)
	return exitOK
}

func (c *cli) baselineList(args []string) int {
	var cm common
	fs := c.flags("baseline list", &cm)
	format := fs.String("format", "text", "output `format`: text or json")
	if fs.Parse(args) != nil || fs.NArg() > 0 || !validFormat(c.stderr, *format) {
		return exitError
	}
	a := c.open(&cm)
	if a == nil {
		return exitError
	}
	vs, err := a.Store().Versions()
	if err != nil {
		return c.fail(err)
	}
	if *format == "json" {
		return c.writeJSON(vs)
	}
	if len(vs) == 0 {
		fmt.Fprintln(c.stdout, "no baseline approved yet; approve one with: driftwatch-agent baseline approve -config "+cm.config+" -reason TEXT")
		return exitOK
	}
	fmt.Fprintf(c.stdout, "%-8s %-20s %-16s %7s  %-14s %s\n", "VERSION", "APPROVED", "BY", "ITEMS", "TICKETS", "REASON")
	for _, m := range vs {
		tickets := strings.Join(m.Tickets, ",")
		if tickets == "" {
			tickets = "-"
		}
		fmt.Fprintf(c.stdout, "v%-7d %-20s %-16s %7d  %-14s %s\n", m.Version, m.ApprovedAt.Format("2006-01-02 15:04:05"), m.ApprovedBy, m.Items, tickets, m.Reason)
	}
	return exitOK
}

func (c *cli) baselineShow(args []string) int {
	var cm common
	fs := c.flags("baseline show", &cm)
	v := fs.Int("version", 0, "baseline `version` (default: the newest)")
	format := fs.String("format", "text", "output `format`: text or json")
	if fs.Parse(args) != nil || fs.NArg() > 0 || !validFormat(c.stderr, *format) {
		return exitError
	}
	a := c.open(&cm)
	if a == nil {
		return exitError
	}
	b, err := a.Store().Load(*v)
	if err != nil {
		if errors.Is(err, agent.ErrNoBaseline) {
			return c.fail(noBaseline(cm.config))
		}
		return c.fail(err)
	}
	if *format == "json" {
		return c.writeJSON(struct {
			baseline.Meta
			Snapshot *baseline.Snapshot `json:"snapshot"`
		}{b.Meta, b.Snapshot})
	}
	m := b.Meta
	fmt.Fprintf(c.stdout, "baseline v%d of %s\napproved %s by %s\nreason: %s\n", m.Version, m.Host, m.ApprovedAt.Format("2006-01-02 15:04:05 MST"), m.ApprovedBy, m.Reason)
	if len(m.Tickets) > 0 {
		fmt.Fprintf(c.stdout, "tickets: %s\n", strings.Join(m.Tickets, ", "))
	}
	fmt.Fprintf(c.stdout, "snapshot %s taken %s, %d items\n", m.SnapshotDigest.Short(), b.Snapshot.TakenAt.Format("2006-01-02 15:04:05 MST"), m.Items)
	for _, st := range b.Snapshot.Sources {
		fmt.Fprintf(c.stdout, "  source %-20s %-8s %6d items  %s\n", st.Name, st.Status, st.Items, st.Took.Round(1e6))
	}
	fmt.Fprintln(c.stdout)
	for i := range b.Snapshot.Items {
		it := &b.Snapshot.Items[i]
		var parts []string
		for _, at := range it.Attrs {
			if at.Name == baseline.AttrMtime {
				continue
			}
			parts = append(parts, at.Name+"="+baseline.EscapeBytes(at.Value))
		}
		if !it.Digest.IsZero() {
			parts = append(parts, "sha256="+it.Digest.Short())
		}
		if it.Error != "" {
			parts = append(parts, "error="+it.Error)
		}
		sort.Strings(parts)
		fmt.Fprintf(c.stdout, "%s  %s\n", baseline.EscapeBytes(it.Key), strings.Join(parts, " "))
	}
	return exitOK
}

func noBaseline(cfgPath string) error {
	return fmt.Errorf("no approved baseline yet: review the current state with `driftwatch-agent snapshot -config %s` and approve it with `driftwatch-agent baseline approve -config %s -reason \"initial baseline\"`", cfgPath, cfgPath)
}

func (c *cli) check(ctx context.Context, args []string) int {
	var cm common
	fs := c.flags("check", &cm)
	format := fs.String("format", "text", "output `format`: text or json")
	full := fs.Bool("full", false, "re-read every file, ignoring the scan cache")
	send := fs.Bool("report", false, "send the drift to the collector the host is enrolled at")
	if fs.Parse(args) != nil || fs.NArg() > 0 || !validFormat(c.stderr, *format) {
		return exitError
	}
	a := c.open(&cm)
	if a == nil {
		return exitError
	}
	if *send {
		// Before the scan: a host that cannot report need not be read.
		if _, err := a.Enrollment(); err != nil {
			return c.fail(notEnrolled(cm.config, err))
		}
	}
	drift, b, err := a.Check(ctx, agent.SnapshotOptions{Full: *full})
	if err != nil {
		if errors.Is(err, agent.ErrNoBaseline) {
			return c.fail(noBaseline(cm.config))
		}
		return c.fail(err)
	}
	if code := c.writeDrift(drift, *format, report.Header{Baseline: b}); code != exitOK {
		return code
	}
	if *send {
		if _, err := a.Report(ctx, drift, b); err != nil {
			var se *api.StatusError
			if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
				err = fmt.Errorf("%w; the collector does not accept this host's credential: enroll it again", err)
			}
			return c.fail(err)
		}
	}
	if drift.Empty() {
		return exitOK
	}
	return exitDrift
}

// tokenEnv is the environment variable enroll reads the token from, so that
// it stays out of shell history and process lists.
const tokenEnv = "DRIFTWATCH_ENROLL_TOKEN"

func (c *cli) enroll(ctx context.Context, args []string) int {
	var cm common
	fs := c.flags("enroll", &cm)
	collector := fs.String("collector", "", "the collector's base `URL` (https://collector.example.com:8443)")
	token := fs.String("token", "", "enrollment `token` from driftwatch-collector (default: $"+tokenEnv+")")
	fingerprint := fs.String("fingerprint", "", "the collector certificate's `SHA256` fingerprint; without it, the certificate presented now is trusted and pinned")
	insecure := fs.Bool("insecure", false, "allow an http:// collector URL: credential and reports travel in clear text")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return exitError
	}
	if *collector == "" {
		fmt.Fprintln(c.stderr, "driftwatch-agent enroll: -collector is required: the collector's URL")
		return exitError
	}
	if *token == "" {
		*token = os.Getenv(tokenEnv)
	}
	if *token == "" {
		fmt.Fprintf(c.stderr, "driftwatch-agent enroll: no enrollment token: set %s or give -token (create one with driftwatch-collector token create)\n", tokenEnv)
		return exitError
	}
	a := c.open(&cm)
	if a == nil {
		return exitError
	}
	e, seen, err := a.Enroll(ctx, *collector, *token, *fingerprint, *insecure)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "enrolled %s at %s\nhost ID:     %s\ntenant:      %s\n", a.Host().Name, e.CollectorURL, e.HostID, e.Tenant)
	if e.Fingerprint == "" {
		fmt.Fprintln(c.stdout, "fingerprint: none (http: nothing is encrypted or authenticated)")
		return exitOK
	}
	fmt.Fprintf(c.stdout, "fingerprint: %s (pinned)\n", e.Fingerprint)
	if seen != "" {
		fmt.Fprintf(c.stdout, "\nThe fingerprint was learned on first use. Compare it with the output of\n"+
			"`driftwatch-collector fingerprint` on the collector. If they differ, something\n"+
			"intercepted the enrollment: revoke the token, delete %s\n"+
			"and enroll again with -fingerprint.\n", enrollment.Path(a.Store().Dir()))
	}
	return exitOK
}

// notEnrolled explains an enrollment that could not be loaded.
func notEnrolled(cfgPath string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("not enrolled: run `driftwatch-agent enroll -config %s -collector URL -token TOKEN` first (or give the token in %s)", cfgPath, tokenEnv)
	}
	return err
}

func (c *cli) diff(args []string) int {
	fs := c.flags("diff", nil)
	format := fs.String("format", "text", "output `format`: text or json")
	if fs.Parse(args) != nil || !validFormat(c.stderr, *format) {
		return exitError
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(c.stderr, "driftwatch-agent diff: want two snapshot files: OLD NEW")
		return exitError
	}
	old, oldBlobs, err := agent.ReadSnapshotFile(fs.Arg(0))
	if err != nil {
		return c.fail(err)
	}
	cur, curBlobs, err := agent.ReadSnapshotFile(fs.Arg(1))
	if err != nil {
		return c.fail(err)
	}
	drift := baseline.Diff(old, cur, baseline.DiffOptions{Blobs: eitherBlobs{oldBlobs, curBlobs}})
	if code := c.writeDrift(drift, *format, report.Header{}); code != exitOK {
		return code
	}
	if drift.Empty() {
		return exitOK
	}
	return exitDrift
}

// eitherBlobs looks content up in two sources.
type eitherBlobs [2]baseline.BlobSource

func (e eitherBlobs) Blob(d baseline.Digest) ([]byte, error) {
	if b, err := e[0].Blob(d); err == nil {
		return b, nil
	}
	return e[1].Blob(d)
}

func (c *cli) writeDrift(d *baseline.Drift, format string, h report.Header) int {
	var err error
	if format == "json" {
		err = report.WriteJSON(c.stdout, d)
	} else {
		err = report.WriteText(c.stdout, d, h)
	}
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

func (c *cli) writeJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.fail(err)
	}
	return exitOK
}

func validFormat(w io.Writer, f string) bool {
	if f == "text" || f == "json" {
		return true
	}
	fmt.Fprintf(w, "driftwatch-agent: -format must be text or json, not %q\n", f)
	return false
}
