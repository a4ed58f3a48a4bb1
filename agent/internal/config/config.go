package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/driftwatch/driftwatch/agent/internal/glob"
	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/internal/hclconf"
)

// DefaultPath is where the agent looks for its configuration.
const DefaultPath = "/etc/driftwatch/agent.hcl"

// Defaults for values a configuration may leave out.
const (
	DefaultStateDir       = "/var/lib/driftwatch"
	DefaultMaxContentSize = 1 << 20
	DefaultCommandTimeout = 30 * time.Second
	DefaultMaxOutputSize  = 1 << 20

	DefaultFullScan      = 6 * time.Hour
	DefaultCommandsEvery = time.Hour
	DefaultHeartbeat     = time.Minute
	DefaultUncoveredScan = 5 * time.Minute
	DefaultDebounce      = 200 * time.Millisecond
	DefaultMaxDelay      = 2 * time.Second
	DefaultSpoolSize     = 256 << 20
	DefaultRetryMax      = time.Minute
)

// Agent is the agent's configuration: where it keeps its state, how it names
// the host and which sources observe it.
type Agent struct {
	// StateDir holds baselines, content blobs and caches.
	StateDir string `hcl:"state_dir,optional"`
	// Host names the host; the name defaults to the hostname.
	Host *Host `hcl:"host,block"`
	// Files are the file trees to watch, one block each.
	Files []*Files `hcl:"files,block"`
	// Commands are commands whose output is configuration.
	Commands []*Command `hcl:"command,block"`
	// Packages, when present, records installed packages.
	Packages *Packages `hcl:"packages,block"`
	// Services, when present, records systemd unit enablement.
	Services *Services `hcl:"services,block"`
	// Users, when present, records users and groups.
	Users *Users `hcl:"users,block"`
	// Sysctl, when present, records kernel parameters.
	Sysctl *Sysctl `hcl:"sysctl,block"`
	// ListeningPorts, when present, records listening sockets.
	ListeningPorts *ListeningPorts `hcl:"listening_ports,block"`
	// Inventory, when present, records the host inventory for documentation.
	Inventory *Inventory `hcl:"inventory,block"`
	// Redact sets how secrets are masked in content.
	Redact *Redact `hcl:"redact,block"`
	// Schedule sets how often the service scans, runs commands and tells
	// the collector it is alive.
	Schedule *Schedule `hcl:"schedule,block"`
	// Watch sets the realtime watch of the files sources.
	Watch *Watch `hcl:"watch,block"`
	// Spool sets the durable queue of reports for the collector.
	Spool *Spool `hcl:"spool,block"`
	// MaxHashRate bounds how fast file content is read and hashed
	// ("50MiB/s"); empty or "0" means no bound.
	MaxHashRate string `hcl:"max_hash_rate,optional"`

	// HashRate is MaxHashRate in bytes per second; 0 means no bound.
	HashRate int64

	// Path is the file the configuration was read from.
	Path string
	// Digest is the SHA-256 of the configuration file.
	Digest baseline.Digest
}

// Host names the host.
type Host struct {
	// Name is the host's name; empty means the hostname.
	Name string `hcl:"name,optional"`
	// Labels are free-form labels such as role = "web".
	Labels map[string]string `hcl:"labels,optional"`
}

// Files watches files, directories and glob patterns.
type Files struct {
	// Name is the block label: files "etc" { … }.
	Name string `hcl:"name,label"`
	// Paths are absolute directories, files or patterns with "**".
	Paths []string `hcl:"paths"`
	// Exclude are patterns of paths to leave out (see package glob).
	Exclude []string `hcl:"exclude,optional"`
	// Content keeps the text content of files, redacted, for diffs. Default
	// true.
	Content *bool `hcl:"content,optional"`
	// MaxContentSize caps the size of a file whose content is kept
	// ("1MiB"); larger files are recorded by digest.
	MaxContentSize string `hcl:"max_content_size,optional"`
	// DigestOnly are patterns of files whose content is never kept, in
	// addition to the built-in list (shadow files, private keys).
	DigestOnly []string `hcl:"digest_only,optional"`

	// Body is the block's body, for positions in messages.
	Body hcl.Body `hcl:",body"`

	// ContentSize is MaxContentSize parsed.
	ContentSize int64
}

// KeepContent reports whether text content is kept.
func (f *Files) KeepContent() bool { return f.Content == nil || *f.Content }

// Command records the output of a command.
type Command struct {
	// Name is the block label; the item key is command:NAME.
	Name string `hcl:"name,label"`
	// Argv is the program and its arguments; no shell is involved.
	Argv []string `hcl:"argv"`
	// Timeout bounds the run ("10s"); on expiry the whole process group is
	// killed. Default 30s.
	Timeout string `hcl:"timeout,optional"`
	// Content keeps the output, redacted, for diffs. Default true.
	Content *bool `hcl:"content,optional"`
	// MaxOutputSize caps the output kept ("1MiB").
	MaxOutputSize string `hcl:"max_output_size,optional"`
	// IgnoreLines are regular expressions of output lines to drop before
	// comparing, for lines that change on every run.
	IgnoreLines []string `hcl:"ignore_lines,optional"`

	Body hcl.Body `hcl:",body"`

	// TimeoutDuration is Timeout parsed.
	TimeoutDuration time.Duration
	// OutputSize is MaxOutputSize parsed.
	OutputSize int64
}

// KeepContent reports whether the output is kept.
func (c *Command) KeepContent() bool { return c.Content == nil || *c.Content }

// Packages records installed packages from the dpkg or rpm database.
type Packages struct {
	// Manager is "auto" (default), "dpkg" or "rpm".
	Manager string `hcl:"manager,optional"`
	// DpkgStatus is the dpkg status file; default /var/lib/dpkg/status.
	DpkgStatus string   `hcl:"dpkg_status,optional"`
	Body       hcl.Body `hcl:",body"`
}

// Services records systemd unit enablement from the unit directories.
type Services struct {
	// Root is the file system root the unit directories are under; default "/".
	Root string `hcl:"root,optional"`
	// UnitDirs overrides the systemd unit search path.
	UnitDirs []string `hcl:"unit_dirs,optional"`
	Body     hcl.Body `hcl:",body"`
}

// Users records users and groups from /etc/passwd and /etc/group; shadow
// content is never read.
type Users struct {
	// Passwd is the passwd file; default /etc/passwd.
	Passwd string `hcl:"passwd,optional"`
	// Group is the group file; default /etc/group.
	Group string   `hcl:"group,optional"`
	Body  hcl.Body `hcl:",body"`
}

// Sysctl records kernel parameters under /proc/sys.
type Sysctl struct {
	// ProcSys is the directory to read; default /proc/sys.
	ProcSys string `hcl:"proc_sys,optional"`
	// Include limits the parameters to these dotted-name patterns.
	Include []string `hcl:"include,optional"`
	// Exclude leaves out parameters, in addition to the built-in list of
	// values that change by themselves.
	Exclude []string `hcl:"exclude,optional"`
	Body    hcl.Body `hcl:",body"`
}

// ListeningPorts records listening TCP and bound UDP sockets.
type ListeningPorts struct {
	// ProcNet is the directory with tcp, tcp6, udp and udp6; default /proc/net.
	ProcNet string `hcl:"proc_net,optional"`
	// Processes names the processes that own each socket. Default true.
	Processes *bool    `hcl:"processes,optional"`
	Body      hcl.Body `hcl:",body"`
}

// Inventory records the host inventory: OS, kernel, CPU, memory, disks and
// interfaces.
type Inventory struct {
	// Root is the file system root to read; default "/".
	Root string   `hcl:"root,optional"`
	Body hcl.Body `hcl:",body"`
}

// Redact sets the patterns that mask secrets in content.
type Redact struct {
	// Patterns are regular expressions (RE2 syntax). A match is replaced by
	// [REDACTED]; when the pattern has a group named "secret", only that
	// group is.
	Patterns []string `hcl:"patterns,optional"`
	// Defaults keeps the built-in patterns (passwords, tokens, keys, PEM
	// private keys) in addition to Patterns. Default true.
	Defaults *bool    `hcl:"defaults,optional"`
	Body     hcl.Body `hcl:",body"`
}

// Schedule sets the service's periodic work.
type Schedule struct {
	// FullScan is the period of a full scan of every source ("6h"); one
	// runs at start too.
	FullScan string `hcl:"full_scan,optional"`
	// Commands is the period of the command sources ("1h").
	Commands string `hcl:"commands,optional"`
	// Heartbeat is the period of the heartbeat to the collector ("1m"),
	// whose answer carries the current baseline version.
	Heartbeat string `hcl:"heartbeat,optional"`
	// UncoveredScan is the period of the scan of the directories the
	// realtime watch cannot cover ("5m").
	UncoveredScan string   `hcl:"uncovered_scan,optional"`
	Body          hcl.Body `hcl:",body"`

	// The periods parsed, with defaults.
	FullScanEvery, CommandsEvery, HeartbeatEvery, UncoveredScanEvery time.Duration
}

// Watch sets the realtime watch.
type Watch struct {
	// Enabled turns the realtime watch on. Default true.
	Enabled *bool `hcl:"enabled,optional"`
	// Debounce is the quiet time that ends a burst of events ("200ms").
	Debounce string `hcl:"debounce,optional"`
	// MaxDelay bounds how long a continuous burst is held ("2s").
	MaxDelay string `hcl:"max_delay,optional"`
	// MaxWatches caps the directories watched, below the kernel's limit;
	// 0 means only the kernel's limit applies.
	MaxWatches int      `hcl:"max_watches,optional"`
	Body       hcl.Body `hcl:",body"`

	// The durations parsed, with defaults.
	DebounceDuration, MaxDelayDuration time.Duration
}

// On reports whether the realtime watch runs.
func (w *Watch) On() bool { return w == nil || w.Enabled == nil || *w.Enabled }

// Spool sets the durable report queue.
type Spool struct {
	// MaxSize bounds the spool on disk ("256MiB").
	MaxSize string `hcl:"max_size,optional"`
	// RetryMax bounds the wait between two attempts to reach the
	// collector while it is away ("1m").
	RetryMax string   `hcl:"retry_max,optional"`
	Body     hcl.Body `hcl:",body"`

	// Size is MaxSize parsed; RetryMaxDuration is RetryMax parsed.
	Size             int64
	RetryMaxDuration time.Duration
}

// UseDefaults reports whether the built-in patterns apply.
func (r *Redact) UseDefaults() bool { return r == nil || r.Defaults == nil || *r.Defaults }

// Load reads, parses and validates the configuration file at path. Problems
// come back as a *DiagnosticsError that prints with file:line:col and the
// offending line.
func Load(path string) (*Agent, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(src, path)
}

// Parse parses and validates a configuration held in memory; filename names
// it in messages.
func Parse(src []byte, filename string) (*Agent, error) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	cfg := &Agent{}
	diags = append(diags, gohcl.DecodeBody(f.Body, nil, cfg)...)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	cfg.Path = filename
	cfg.Digest = baseline.Sum(src)
	diags = append(diags, cfg.validate(f.Body)...)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	return cfg, nil
}

// DiagnosticsError carries HCL diagnostics and the files they point into;
// see hclconf.DiagnosticsError.
type DiagnosticsError = hclconf.DiagnosticsError

// AsDiagnostics returns err as a *DiagnosticsError when it is one.
func AsDiagnostics(err error) (*DiagnosticsError, bool) { return hclconf.AsDiagnostics(err) }

// validate checks every value, parses durations and sizes and fills in
// defaults. root is the file's top-level body.
func (c *Agent) validate(root hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	} else if !isAbs(c.StateDir) {
		diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "state_dir"), "Invalid state_dir", fmt.Sprintf("state_dir must be an absolute path, not %q.", c.StateDir)))
	}
	if c.Host == nil {
		c.Host = &Host{}
	}
	if c.Host.Name == "" {
		if h, err := os.Hostname(); err == nil {
			c.Host.Name = h
		} else {
			c.Host.Name = "localhost"
		}
	}
	diags = append(diags, duplicateBlocks(root)...)
	for _, f := range c.Files {
		diags = append(diags, f.validate()...)
	}
	for _, cmd := range c.Commands {
		diags = append(diags, cmd.validate()...)
	}
	if p := c.Packages; p != nil {
		switch p.Manager {
		case "":
			p.Manager = "auto"
		case "auto", "dpkg", "rpm":
		default:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(p.Body, "manager"), "Invalid package manager", fmt.Sprintf("manager must be \"auto\", \"dpkg\" or \"rpm\", not %q.", p.Manager)))
		}
		diags = append(diags, checkAbs(p.Body, "dpkg_status", p.DpkgStatus)...)
	}
	if s := c.Services; s != nil {
		diags = append(diags, checkAbs(s.Body, "root", s.Root)...)
		for i, d := range s.UnitDirs {
			if !isAbs(d) {
				diags = append(diags, hclconf.ErrAt(hclconf.ElemRange(s.Body, "unit_dirs", i), "Invalid unit directory", fmt.Sprintf("unit_dirs entries must be absolute paths, not %q.", d)))
			}
		}
	}
	if u := c.Users; u != nil {
		diags = append(diags, checkAbs(u.Body, "passwd", u.Passwd)...)
		diags = append(diags, checkAbs(u.Body, "group", u.Group)...)
	}
	if s := c.Sysctl; s != nil {
		diags = append(diags, checkAbs(s.Body, "proc_sys", s.ProcSys)...)
	}
	if l := c.ListeningPorts; l != nil {
		diags = append(diags, checkAbs(l.Body, "proc_net", l.ProcNet)...)
	}
	if inv := c.Inventory; inv != nil {
		diags = append(diags, checkAbs(inv.Body, "root", inv.Root)...)
	}
	if r := c.Redact; r != nil {
		for i, p := range r.Patterns {
			if _, err := regexp.Compile(p); err != nil {
				diags = append(diags, hclconf.ErrAt(hclconf.ElemRange(r.Body, "patterns", i), "Invalid redaction pattern", fmt.Sprintf("Pattern %q is not a valid regular expression: %v.", p, err)))
			}
		}
	}
	diags = append(diags, c.validateService(root)...)
	if len(c.Files) == 0 && len(c.Commands) == 0 && c.Packages == nil && c.Services == nil && c.Users == nil &&
		c.Sysctl == nil && c.ListeningPorts == nil && c.Inventory == nil {
		r := hclconf.BlockRange(root)
		diags = append(diags, hclconf.ErrAt(r, "No sources configured", "Add at least one source block: files, command, packages, services, users, sysctl, listening_ports or inventory."))
	}
	return diags
}

// duplicateBlocks reports a labelled block (files "etc") defined twice; gohcl
// already refuses a second unlabelled one.
func duplicateBlocks(root hcl.Body) hcl.Diagnostics {
	sb, ok := root.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	seen := map[string]hcl.Range{}
	for _, b := range sb.Blocks {
		if len(b.Labels) == 0 {
			continue
		}
		key := b.Type + " " + strings.Join(b.Labels, " ")
		if prev, ok := seen[key]; ok {
			r := b.DefRange()
			diags = append(diags, hclconf.ErrAt(&r, "Duplicate "+b.Type+" block", fmt.Sprintf("A %s block named %q was already defined at %s.", b.Type, b.Labels[0], prev.String())))
			continue
		}
		seen[key] = b.DefRange()
	}
	return diags
}

func (f *Files) validate() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(f.Paths) == 0 {
		diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(f.Body, "paths"), "No paths", fmt.Sprintf("files %q needs at least one path.", f.Name)))
	}
	for i, p := range f.Paths {
		if !isAbs(p) {
			diags = append(diags, hclconf.ErrAt(hclconf.ElemRange(f.Body, "paths", i), "Invalid path", fmt.Sprintf("Paths must be absolute, not %q.", p)))
			continue
		}
		if glob.HasMeta(p) {
			if _, err := glob.Compile(p); err != nil {
				diags = append(diags, hclconf.ErrAt(hclconf.ElemRange(f.Body, "paths", i), "Invalid path pattern", err.Error()+"."))
			}
		}
	}
	for i, p := range f.Exclude {
		if _, err := glob.Compile(p); err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.ElemRange(f.Body, "exclude", i), "Invalid exclude pattern", err.Error()+"."))
		}
	}
	for i, p := range f.DigestOnly {
		if _, err := glob.Compile(p); err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.ElemRange(f.Body, "digest_only", i), "Invalid digest_only pattern", err.Error()+"."))
		}
	}
	f.ContentSize = DefaultMaxContentSize
	if f.MaxContentSize != "" {
		n, err := hclconf.ParseSize(f.MaxContentSize)
		if err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(f.Body, "max_content_size"), "Invalid size", err.Error()+"."))
		} else {
			f.ContentSize = n
		}
	}
	return diags
}

func (c *Command) validate() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(c.Body, "argv"), "Empty argv", fmt.Sprintf("command %q needs a program to run: argv = [\"program\", \"arg\"].", c.Name)))
	}
	c.TimeoutDuration = DefaultCommandTimeout
	if c.Timeout != "" {
		d, err := hclconf.ParseDuration(c.Timeout)
		switch {
		case err != nil:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(c.Body, "timeout"), "Invalid duration", err.Error()+"."))
		case d <= 0:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(c.Body, "timeout"), "Invalid duration", fmt.Sprintf("timeout must be positive, not %q.", c.Timeout)))
		default:
			c.TimeoutDuration = d
		}
	}
	for i, p := range c.IgnoreLines {
		if _, err := regexp.Compile(p); err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.ElemRange(c.Body, "ignore_lines", i), "Invalid ignore_lines pattern", fmt.Sprintf("Pattern %q is not a valid regular expression: %v.", p, err)))
		}
	}
	c.OutputSize = DefaultMaxOutputSize
	if c.MaxOutputSize != "" {
		n, err := hclconf.ParseSize(c.MaxOutputSize)
		if err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(c.Body, "max_output_size"), "Invalid size", err.Error()+"."))
		} else {
			c.OutputSize = n
		}
	}
	return diags
}

func checkAbs(body hcl.Body, name, value string) hcl.Diagnostics {
	if value == "" || isAbs(value) {
		return nil
	}
	return hcl.Diagnostics{hclconf.ErrAt(hclconf.AttrRange(body, name), "Invalid path", fmt.Sprintf("%s must be an absolute path, not %q.", name, value))}
}

// isAbs accepts "/x" on every system and "C:\x" style paths for Windows
// hosts.
func isAbs(p string) bool {
	if strings.HasPrefix(p, "/") {
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}

// validateService checks the schedule, watch, spool and rate settings and
// fills in their defaults, so that a configuration without them has every
// block.
func (c *Agent) validateService(root hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	duration := func(body hcl.Body, name, v string, def time.Duration, min time.Duration) time.Duration {
		if v == "" {
			return def
		}
		d, err := hclconf.ParseDuration(v)
		switch {
		case err != nil:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(body, name), "Invalid duration", err.Error()+"."))
		case d < min:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(body, name), "Invalid duration", fmt.Sprintf("%s must be at least %v, not %q.", name, min, v)))
		default:
			return d
		}
		return def
	}
	if c.Schedule == nil {
		c.Schedule = &Schedule{}
	}
	s := c.Schedule
	s.FullScanEvery = duration(s.Body, "full_scan", s.FullScan, DefaultFullScan, time.Minute)
	s.CommandsEvery = duration(s.Body, "commands", s.Commands, DefaultCommandsEvery, time.Second)
	s.HeartbeatEvery = duration(s.Body, "heartbeat", s.Heartbeat, DefaultHeartbeat, time.Second)
	s.UncoveredScanEvery = duration(s.Body, "uncovered_scan", s.UncoveredScan, DefaultUncoveredScan, time.Second)

	if c.Watch == nil {
		c.Watch = &Watch{}
	}
	w := c.Watch
	w.DebounceDuration = duration(w.Body, "debounce", w.Debounce, DefaultDebounce, time.Millisecond)
	w.MaxDelayDuration = duration(w.Body, "max_delay", w.MaxDelay, DefaultMaxDelay, time.Millisecond)
	if w.MaxDelayDuration < w.DebounceDuration {
		diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(w.Body, "max_delay"), "Invalid duration", fmt.Sprintf("max_delay (%v) must not be shorter than debounce (%v).", w.MaxDelayDuration, w.DebounceDuration)))
	}
	if w.MaxWatches < 0 {
		diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(w.Body, "max_watches"), "Invalid number", fmt.Sprintf("max_watches must not be negative, not %d.", w.MaxWatches)))
	}

	if c.Spool == nil {
		c.Spool = &Spool{}
	}
	c.Spool.RetryMaxDuration = duration(c.Spool.Body, "retry_max", c.Spool.RetryMax, DefaultRetryMax, 100*time.Millisecond)
	c.Spool.Size = DefaultSpoolSize
	if c.Spool.MaxSize != "" {
		n, err := hclconf.ParseSize(c.Spool.MaxSize)
		switch {
		case err != nil:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(c.Spool.Body, "max_size"), "Invalid size", err.Error()+"."))
		case n < 64<<10:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(c.Spool.Body, "max_size"), "Invalid size", fmt.Sprintf("max_size must be at least 64KiB, not %q.", c.Spool.MaxSize)))
		default:
			c.Spool.Size = n
		}
	}

	if v := strings.TrimSpace(c.MaxHashRate); v != "" && v != "0" {
		n, err := hclconf.ParseSize(strings.TrimSuffix(v, "/s"))
		switch {
		case err != nil:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "max_hash_rate"), "Invalid rate", err.Error()+` (a size per second, e.g. "50MiB/s").`))
		case n < 64<<10:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "max_hash_rate"), "Invalid rate", fmt.Sprintf("max_hash_rate must be at least 64KiB/s, not %q.", v)))
		default:
			c.HashRate = n
		}
	}
	return diags
}
