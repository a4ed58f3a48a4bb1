package pkgtx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
)

// maxLogTail is how much of the end of a package manager's log End reads.
const maxLogTail = 8 << 20

// HookOptions configures Begin and End, which the package manager's hooks
// run. The zero value of every field but StateDir and Tool reads the real
// host.
type HookOptions struct {
	// StateDir is the agent's state directory; records go to
	// StateDir/pkgtx.
	StateDir string
	// Tool is the package manager the hook is installed in: ToolApt,
	// ToolDpkg, ToolDnf or ToolRPM.
	Tool string
	// DpkgStatus, DpkgLog and DnfLog are dpkg's status file and the
	// dpkg and dnf logs; empty means DefaultDpkgStatus, DefaultDpkgLog and
	// DefaultDnfLog.
	DpkgStatus, DpkgLog, DnfLog string
	// ProcRoot is where the process table is mounted; empty means /proc.
	ProcRoot string
	// PID is the process the walk up to the package manager starts from;
	// 0 means the hook's parent.
	PID int
	// Getenv reads the hook's environment (SUDO_USER …); nil means
	// os.Getenv.
	Getenv func(string) string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxOpen and Retention default to DefaultMaxOpen and
	// DefaultRetention.
	MaxOpen, Retention time.Duration
}

func (o *HookOptions) defaults() error {
	switch o.Tool {
	case ToolApt, ToolDpkg, ToolDnf, ToolRPM:
	default:
		return fmt.Errorf("package transaction: unknown tool %q (want %s, %s, %s or %s)", o.Tool, ToolApt, ToolDpkg, ToolDnf, ToolRPM)
	}
	if o.StateDir == "" {
		return errors.New("package transaction: no state directory")
	}
	if o.DpkgStatus == "" {
		o.DpkgStatus = DefaultDpkgStatus
	}
	if o.DpkgLog == "" {
		o.DpkgLog = DefaultDpkgLog
	}
	if o.DnfLog == "" {
		o.DnfLog = DefaultDnfLog
	}
	if o.ProcRoot == "" {
		o.ProcRoot = procRoot
	}
	if o.PID == 0 {
		o.PID = os.Getppid()
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxOpen <= 0 {
		o.MaxOpen = DefaultMaxOpen
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	return nil
}

// dpkgBased reports whether the tool's database is dpkg's.
func (o *HookOptions) dpkgBased() bool { return o.Tool == ToolApt || o.Tool == ToolDpkg }

// hook is one run of Begin or End.
type hook struct {
	opt    HookOptions
	dir    string
	now    time.Time
	origin origin
	user   string
	log    *Log
	recs   []*record
}

// start prepares a hook run: the directory, the lock, the package
// manager's process, the user and the records. The returned function
// releases the lock.
func start(opt HookOptions) (*hook, func(), error) {
	if err := opt.defaults(); err != nil {
		return nil, nil, err
	}
	h := &hook{opt: opt, dir: filepath.Join(opt.StateDir, Dir), now: opt.Now().UTC()}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("package transaction: %w", err)
	}
	unlock, err := lock(h.dir)
	if err != nil {
		return nil, nil, err
	}
	h.log = &Log{dir: h.dir, MaxOpen: opt.MaxOpen, Now: func() time.Time { return h.now },
		alive: func(pid int, start uint64) bool { return processAlive(opt.ProcRoot, pid, start) }}
	if o, err := findOrigin(opt.ProcRoot, opt.PID); err == nil {
		h.origin = o
	}
	h.user = hookUser(opt.ProcRoot, opt.Getenv)
	// Unreadable records are left alone: the others are still closed and
	// matched.
	h.recs, _ = readRecords(h.dir)
	return h, unlock, nil
}

// mine reports whether r was begun by this hook's package manager run.
func (h *hook) mine(r *record) bool {
	return h.origin.pid > 0 && r.PID == h.origin.pid && r.PIDStart == h.origin.start && r.Tool == h.opt.Tool
}

// closeDead writes the open records whose package manager is gone, or
// which are older than MaxOpen, closed as incomplete; skip is left alone.
func (h *hook) closeDead(skip *record) error {
	var errs []error
	for _, r := range h.recs {
		if r == skip || h.mine(r) {
			continue
		}
		if h.log.settle(r, h.now) {
			errs = append(errs, writeRecord(h.dir, r))
		}
	}
	return errors.Join(errs...)
}

// prune removes closed records older than Retention.
func (h *hook) prune() error {
	var errs []error
	for _, r := range h.recs {
		if !r.Ended.IsZero() && h.now.Sub(r.Ended) > h.opt.Retention {
			if err := os.Remove(filepath.Join(h.dir, r.ID+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("prune package transaction: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Begin records the start of a package transaction: the package manager's
// command line, the user, the time and, for dpkg-based tools, the
// installed packages. Called again from the same package manager run, it
// returns the record already made. It also closes, as incomplete, the
// transactions whose package manager died.
func Begin(ctx context.Context, opt HookOptions) (*Transaction, error) {
	h, unlock, err := start(opt)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for _, r := range h.recs {
		if h.mine(r) && r.Ended.IsZero() {
			t := r.Transaction
			return &t, h.closeDead(nil)
		}
	}
	r := &record{
		Transaction: Transaction{
			ID:       newID(h.now, h.opt.Tool, h.origin.pid),
			Tool:     h.opt.Tool,
			Command:  h.origin.command,
			User:     h.user,
			Started:  h.now,
			Packages: []PackageChange{},
		},
		Format:   recordFormat,
		PID:      h.origin.pid,
		PIDStart: h.origin.start,
	}
	var errs []error
	if h.opt.dpkgBased() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		before, err := readDpkgInstalled(h.opt.DpkgStatus)
		if err != nil {
			// End falls back to the dpkg log.
			errs = append(errs, err)
		}
		r.Before = before
	}
	if err := writeRecord(h.dir, r); err != nil {
		return nil, err
	}
	errs = append(errs, h.closeDead(r))
	t := r.Transaction
	return &t, errors.Join(errs...)
}

// End records the end of a package transaction with the packages it
// changed: the difference of dpkg's database from the one Begin recorded,
// or else the entries of the dpkg or dnf log since the transaction began.
// Without a Begin of the same package manager run (dnf has no hook before
// a transaction), the transaction is taken to have begun with the package
// manager's first logged change, or else its process. Called again from
// the same run, it returns the record already made. It also closes the
// transactions whose package manager died, and removes records older than
// Retention.
func End(ctx context.Context, opt HookOptions) (*Transaction, error) {
	h, unlock, err := start(opt)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var r *record
	for i := len(h.recs) - 1; i >= 0; i-- {
		if h.mine(h.recs[i]) {
			r = h.recs[i]
			break
		}
	}
	if r == nil {
		// A Begin whose package manager could not be identified, or
		// is gone: the last open one of the tool.
		for i := len(h.recs) - 1; i >= 0; i-- {
			c := h.recs[i]
			if c.Tool == h.opt.Tool && c.Ended.IsZero() && (c.PID == 0 || !h.log.alive(c.PID, c.PIDStart)) && h.now.Sub(c.Started) < h.opt.MaxOpen {
				r = c
				break
			}
		}
	}
	if r != nil && !r.Ended.IsZero() {
		t := r.Transaction
		return &t, nil
	}
	var errs []error
	if r == nil {
		started := h.origin.started
		if started.IsZero() || started.After(h.now) || h.now.Sub(started) > h.opt.MaxOpen {
			started = h.now
		}
		r = &record{
			Transaction: Transaction{
				Tool:    h.opt.Tool,
				Command: h.origin.command,
				User:    h.user,
				Started: started.UTC(),
			},
			Format:   recordFormat,
			PID:      h.origin.pid,
			PIDStart: h.origin.start,
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pkgs, first, err := h.changes(r)
	if err != nil {
		errs = append(errs, err)
	}
	if r.ID == "" {
		// Only dnf's log tells when its transaction began.
		if !first.IsZero() && first.After(r.Started) && !first.After(h.now) {
			r.Started = first.UTC()
		}
		r.ID = newID(r.Started, h.opt.Tool, h.origin.pid)
	}
	if pkgs == nil {
		pkgs = []PackageChange{}
	}
	r.Packages = pkgs
	r.Ended = h.now
	r.Before = nil
	if err := writeRecord(h.dir, r); err != nil {
		return nil, err
	}
	errs = append(errs, h.closeDead(r), h.prune())
	t := r.Transaction
	return &t, errors.Join(errs...)
}

// changes returns the packages the transaction of r changed, and for the
// dnf log the time of its first entry.
func (h *hook) changes(r *record) ([]PackageChange, time.Time, error) {
	if !h.opt.dpkgBased() {
		f, err := openTail(h.opt.DnfLog)
		if err != nil {
			return nil, time.Time{}, err
		}
		defer f.Close()
		pkgs, first, err := parseDnfLog(f, r.Started, h.now)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%s: %w", h.opt.DnfLog, err)
		}
		return pkgs, first, nil
	}
	var errs []error
	if r.Before != nil {
		after, err := readDpkgInstalled(h.opt.DpkgStatus)
		if err == nil {
			if pkgs := diffInstalled(r.Before, after); len(pkgs) > 0 {
				return pkgs, time.Time{}, nil
			}
			// No version changed: a reinstallation shows in the log only.
		}
		errs = append(errs, err)
	}
	f, err := openTail(h.opt.DpkgLog)
	if err != nil {
		return nil, time.Time{}, errors.Join(append(errs, err)...)
	}
	defer f.Close()
	pkgs, err := parseDpkgLog(f, time.Local, r.Started, h.now)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", h.opt.DpkgLog, err))
	}
	return pkgs, time.Time{}, errors.Join(errs...)
}

// openTail opens a log positioned at most maxLogTail before its end.
func openTail(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read package manager log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read package manager log %s: %w", path, err)
	}
	if st.Size() <= maxLogTail {
		return f, nil
	}
	if _, err := f.Seek(st.Size()-maxLogTail, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("read package manager log %s: %w", path, err)
	}
	// The partial first line is dropped by the parsers, as malformed
	// or out of the window.
	return f, nil
}

// newID names a transaction: its start, sortable, the tool and the
// package manager's process.
func newID(started time.Time, tool string, pid int) string {
	return started.UTC().Format("20060102T150405.000000000Z") + "-" + tool + "-" + strconv.Itoa(pid)
}

// writeRecord writes r durably: a temporary file synced and renamed over
// DIR/ID.json, mode 0600, and the directory synced.
func writeRecord(dir string, r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write package transaction %s: %w", r.ID, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, r.ID+".json"), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write package transaction: %w", err)
	}
	return nil
}
