package sysctl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// AttrValue is the attribute holding a parameter's value.
const AttrValue = "value"

// DefaultProcSys is where the kernel shows its parameters.
const DefaultProcSys = "/proc/sys"

// defaultExclude lists the parameters that change without anyone changing
// them, or hold secrets; see DefaultExclude.
var defaultExclude = []string{
	// Counters and state the kernel updates all the time.
	"fs.aio-nr",
	"fs.dentry-state",
	"fs.file-nr",
	"fs.inode-nr",
	"fs.inode-state",
	"fs.quota.**",
	"kernel.ns_last_pid",
	"kernel.pty.nr",
	"net.netfilter.nf_conntrack_count",
	// Random values, new on every read or every boot.
	"kernel.random.*",
	"net.core.netdev_rss_key",
	// Tuned by the kernel itself.
	"kernel.perf_event_max_sample_rate",
	"kernel.sched_domain.**",
	// Triggers: reading them does something or shows nothing useful.
	"net.ipv4.route.flush",
	"net.ipv6.route.flush",
	"vm.stat_refresh",
	// Secrets: random per boot unless set, and never to leave the host.
	"net.ipv4.tcp_fastopen_key",
	"net.ipv6.conf.*.stable_secret",
}

// DefaultExclude returns the patterns of the parameters left out unless
// Options.NoDefaultExclude is set: counters the kernel updates by itself
// (fs.file-nr, fs.dentry-state, kernel.ns_last_pid …), random values
// (kernel.random.*), values the kernel tunes itself
// (kernel.perf_event_max_sample_rate), triggers (vm.stat_refresh) and
// secrets (net.ipv4.tcp_fastopen_key). kernel.tainted is kept: it changes
// only when something happened that matters. The caller owns the returned
// slice.
func DefaultExclude() []string { return append([]string(nil), defaultExclude...) }

// Options configures a sysctl source. The zero value observes every
// parameter of the host except DefaultExclude.
//
// Include and Exclude hold patterns over dotted names as sysctl(8) writes
// them, without the "sysctl:" prefix: "net.ipv4.ip_forward". A dot inside a
// directory name is written "/" (net.ipv4.conf.eth0/100.rp_filter, for the
// interface eth0.100). A pattern is matched segment by segment: within a
// segment, "*" matches any run of characters, "?" one character and
// "[a-z]" a class, as in path.Match, and never across a dot; a segment that
// is exactly "**" matches any number of whole segments, none included. So
// "net.ipv4.conf.*.rp_filter" matches every interface's rp_filter,
// "kernel.random.*" the parameters directly in kernel.random, and
// "net.ipv6.**" everything under net.ipv6. A pattern matches whole names
// only: "net.ipv6" alone matches no parameter.
type Options struct {
	// ProcSys is the directory to read; "" means DefaultProcSys. Tests point
	// it at a fixture tree.
	ProcSys string
	// Include lists the patterns of the parameters to observe; empty means
	// every parameter.
	Include []string
	// Exclude lists the patterns of parameters to leave out, even when
	// Include matches them. They add to DefaultExclude.
	Exclude []string
	// NoDefaultExclude drops DefaultExclude, leaving only Exclude. Volatile
	// parameters then show up as drift on every run.
	NoDefaultExclude bool
}

// Source observes kernel parameters. It implements source.Source.
type Source struct {
	name    string
	root    string
	include []pattern
	exclude []pattern
	// readFile reads one parameter; tests replace it to simulate errors
	// that a fixture tree cannot hold (a write-only file, when the tests
	// run as root).
	readFile func(string) ([]byte, error)
}

var _ source.Source = (*Source)(nil)

// New returns a source named name that reads the parameters opt selects. It
// fails when a pattern is malformed.
func New(name string, opt Options) (*Source, error) {
	if name == "" {
		return nil, errors.New("sysctl source: empty name")
	}
	s := &Source{name: name, root: opt.ProcSys, readFile: os.ReadFile}
	if s.root == "" {
		s.root = DefaultProcSys
	}
	var err error
	if s.include, err = compileAll(opt.Include); err != nil {
		return nil, fmt.Errorf("sysctl source %s: include: %w", name, err)
	}
	exclude := opt.Exclude
	if !opt.NoDefaultExclude {
		exclude = append(DefaultExclude(), opt.Exclude...)
	}
	if s.exclude, err = compileAll(exclude); err != nil {
		return nil, fmt.Errorf("sysctl source %s: exclude: %w", name, err)
	}
	return s, nil
}

func compileAll(ps []string) ([]pattern, error) {
	out := make([]pattern, 0, len(ps))
	for _, p := range ps {
		c, err := compilePattern(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Kind returns baseline.KindSysctl.
func (s *Source) Kind() string { return baseline.KindSysctl }

// Collect emits one item per selected, readable parameter. It fails only
// when the ProcSys directory itself cannot be read. A parameter that cannot
// be read because it is write-only (permission denied, invalid argument or
// an I/O error on read, as for net.ipv6.conf.*.stable_secret when unset) is
// skipped without a word, and so is one that vanished since its directory
// was read; any other read error gives the item an Error and a warning. An
// unreadable subdirectory is a warning.
func (s *Source) Collect(ctx context.Context, emit source.Emitter) error {
	if _, err := os.ReadDir(s.root); err != nil {
		return fmt.Errorf("sysctl: %w", err)
	}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				emit.Warn(fmt.Errorf("sysctl: %w", err))
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		segs := strings.Split(filepath.ToSlash(rel), "/")
		for i, seg := range segs {
			segs[i] = strings.ReplaceAll(seg, ".", "/")
		}
		if len(s.include) > 0 && !matchAny(s.include, segs) || matchAny(s.exclude, segs) {
			return nil
		}
		name := strings.Join(segs, ".")
		it := baseline.Item{Key: baseline.Key(baseline.KindSysctl, name), Source: s.name}
		b, err := s.readFile(p)
		switch {
		case err == nil:
			it.Attrs = it.Attrs.Set(AttrValue, normalise(b))
		case writeOnly(err), errors.Is(err, fs.ErrNotExist):
			// No value, or gone since the directory was read (the
			// parameters of an interface that was just removed).
			return nil
		default:
			it.Error = err.Error()
			emit.Warn(fmt.Errorf("sysctl %s: %w", name, err))
		}
		emit.Item(it, nil)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sysctl: walk %s: %w", s.root, err)
	}
	return nil
}

// writeOnly reports whether a read error means the parameter has no value
// to read: it is write-only, or a trigger, or unset.
func writeOnly(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EIO)
}

// normalise turns a parameter file's content into its value: trailing
// newlines dropped, and in each line the leading and trailing blanks dropped
// and every run of blanks (the kernel separates fields with tabs) made one
// space. Lines stay separate.
func normalise(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
