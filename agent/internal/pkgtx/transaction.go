package pkgtx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// Tools, the values of Transaction.Tool.
const (
	ToolApt  = "apt"
	ToolDpkg = "dpkg"
	ToolDnf  = "dnf"
	ToolRPM  = "rpm"
)

// Actions, the values of PackageChange.Action.
const (
	ActionInstall   = "install"
	ActionUpgrade   = "upgrade"
	ActionDowngrade = "downgrade"
	ActionReinstall = "reinstall"
	ActionRemove    = "remove"
	ActionPurge     = "purge"
)

// Defaults of the Log's windows and of the hooks.
const (
	// DefaultSettle is how long after a transaction's end drift is still
	// attributed to it: postinst scripts and triggers write files the
	// watcher reports a little later.
	DefaultSettle = 10 * time.Second
	// DefaultMaxOpen is how long a transaction may stay open before it is
	// taken as killed and closed as incomplete.
	DefaultMaxOpen = time.Hour
	// DefaultPackageLookback is how long after a transaction a package
	// item it changed is still attributed to it, for package sources read
	// on a schedule rather than watched.
	DefaultPackageLookback = 24 * time.Hour
	// DefaultRetention is how long closed transaction records are kept.
	DefaultRetention = 30 * 24 * time.Hour
)

// Dir is the directory under the agent's state directory that holds the
// transaction records.
const Dir = "pkgtx"

// recordFormat is the version of the record file format.
const recordFormat = 1

// Transaction is one package-manager run: what it changed, who ran it and
// when. It is both the record kept on the host and what a report carries
// for each drift item that happened inside it.
type Transaction struct {
	// ID names the transaction uniquely on the host; IDs sort by start.
	ID string `json:"id"`
	// Tool is the package manager: ToolApt, ToolDpkg, ToolDnf or ToolRPM.
	Tool string `json:"tool"`
	// Command is the package manager's command line, such as
	// "apt-get install -y nginx"; empty when it could not be read.
	Command string `json:"command,omitempty"`
	// User is who ran it: the user behind sudo, else the login user,
	// else the user the package manager ran as.
	User string `json:"user,omitempty"`
	// Started is when the transaction began.
	Started time.Time `json:"started"`
	// Ended is when it ended; zero while it is in progress.
	Ended time.Time `json:"ended,omitzero"`
	// Packages are the packages it changed, sorted by name and
	// architecture; empty while it is in progress.
	Packages []PackageChange `json:"packages"`
	// Incomplete is set when the package manager did not report the end
	// (it was killed, or the host went down): Ended is then when the
	// transaction was found dead or DefaultMaxOpen after its start, and
	// Packages may be empty.
	Incomplete bool `json:"incomplete,omitempty"`
}

// InProgress reports whether the transaction has not ended yet.
func (t *Transaction) InProgress() bool { return t.Ended.IsZero() }

// Changed returns the change the transaction made to the package name on
// architecture arch ("" for any), or nil.
func (t *Transaction) Changed(name, arch string) *PackageChange {
	for i := range t.Packages {
		p := &t.Packages[i]
		if p.Name == name && (arch == "" || p.Arch == arch) {
			return p
		}
	}
	return nil
}

// PackageChange is one package a transaction changed.
type PackageChange struct {
	// Name is the package name.
	Name string `json:"name"`
	// Arch is its architecture ("amd64", "all", "x86_64", "noarch"), when
	// known.
	Arch string `json:"arch,omitempty"`
	// From is the version before; empty for an installation.
	From string `json:"from,omitempty"`
	// To is the version after; empty for a removal.
	To string `json:"to,omitempty"`
	// Action is one of the Action constants.
	Action string `json:"action"`
}

// record is the file kept for each transaction: the Transaction and what
// the hooks need to close it.
type record struct {
	Transaction
	// Format is recordFormat.
	Format int `json:"format"`
	// PID and PIDStart name the package manager's process: its ID and its
	// start time in clock ticks since boot, so a reused PID is told apart.
	PID      int    `json:"pid,omitempty"`
	PIDStart uint64 `json:"pid_start,omitempty"`
	// Before are the installed packages when the transaction began,
	// "name:arch" → version; dropped once it ends.
	Before map[string]string `json:"before,omitempty"`
}

// ItemChange is one drift item to attribute.
type ItemChange struct {
	// Key is the item's key ("file:/etc/nginx/nginx.conf",
	// "package:nginx").
	Key string
	// ObservedAt is when the change was first seen: the watch event's
	// time for a watched file, the scan's time otherwise.
	ObservedAt time.Time
}

// Log reads the transaction records of one state directory. Its methods
// may be called from several goroutines.
type Log struct {
	dir string
	// Settle, MaxOpen and PackageLookback are the windows described at
	// DefaultSettle, DefaultMaxOpen and DefaultPackageLookback; Open sets
	// the defaults, and they may be changed before the Log is used.
	Settle          time.Duration
	MaxOpen         time.Duration
	PackageLookback time.Duration
	// Now returns the current time; Open sets time.Now.
	Now func() time.Time
	// alive reports whether the process of an open record still runs.
	alive func(pid int, start uint64) bool
}

// Open returns the Log of the agent state directory stateDir, creating its
// transaction directory (stateDir/pkgtx, mode 0700) when missing.
func Open(stateDir string) (*Log, error) {
	dir := filepath.Join(stateDir, Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open package transactions %s: %w", dir, err)
	}
	return &Log{
		dir:             dir,
		Settle:          DefaultSettle,
		MaxOpen:         DefaultMaxOpen,
		PackageLookback: DefaultPackageLookback,
		Now:             time.Now,
		alive:           func(pid int, start uint64) bool { return processAlive(procRoot, pid, start) },
	}, nil
}

// Dir returns the directory the records are kept in, for a watch that
// learns of new transactions as they begin and end.
func (l *Log) Dir() string { return l.dir }

// Transactions returns the transactions that were in progress at or after
// since, sorted by start. An open transaction older than MaxOpen, or whose
// package manager no longer runs, is returned closed and Incomplete. A
// record that cannot be read is left out and named in the error, which
// comes with the others.
func (l *Log) Transactions(since time.Time) ([]Transaction, error) {
	recs, err := l.load()
	var out []Transaction
	for _, r := range recs {
		if r.Ended.IsZero() || !r.Ended.Before(since) {
			out = append(out, r.Transaction)
		}
	}
	return out, err
}

// InProgress returns the transaction in progress now, or nil. A service
// that is about to report drift while a transaction is in progress should
// wait for its end (a change in Dir, or MaxOpen) and then Attribute, so
// the report names the packages.
func (l *Log) InProgress() (*Transaction, error) {
	recs, err := l.load()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].InProgress() {
			t := recs[i].Transaction
			return &t, err
		}
	}
	return nil, err
}

// Attribute returns, for each item that changed inside a package
// transaction, that transaction, by item key; items outside every
// transaction are not in the map. An item belongs to a transaction when:
//
//   - its key is package:NAME or package:NAME:ARCH of a package the
//     transaction changed, the transaction started before ObservedAt and
//     ended at most PackageLookback before it (the most recent such
//     transaction wins); or else
//   - it was observed between the transaction's start and its end plus
//     Settle, or after its start while it is in progress (the most recent
//     such transaction wins).
//
// Items of one transaction share one *Transaction. A record that cannot be
// read is left out and named in the error, which comes with the map.
func (l *Log) Attribute(items []ItemChange) (map[string]*Transaction, error) {
	recs, err := l.load()
	out := map[string]*Transaction{}
	if len(recs) == 0 {
		return out, err
	}
	txs := make([]*Transaction, len(recs))
	for i := range recs {
		t := recs[i].Transaction
		txs[i] = &t
	}
	for _, it := range items {
		if t := l.attribute(txs, it); t != nil {
			out[it.Key] = t
		}
	}
	return out, err
}

// attribute picks the transaction of one item; txs are sorted by start.
func (l *Log) attribute(txs []*Transaction, it ItemChange) *Transaction {
	if name, arch, ok := packageKey(it.Key); ok {
		for i := len(txs) - 1; i >= 0; i-- {
			t := txs[i]
			if t.Started.After(it.ObservedAt) || t.InProgress() {
				continue
			}
			if it.ObservedAt.Sub(t.Ended) > l.PackageLookback {
				continue
			}
			if t.Changed(name, arch) != nil {
				return t
			}
		}
	}
	for i := len(txs) - 1; i >= 0; i-- {
		t := txs[i]
		if t.Started.After(it.ObservedAt) {
			continue
		}
		if t.InProgress() || !it.ObservedAt.After(t.Ended.Add(l.Settle)) {
			return t
		}
	}
	return nil
}

// packageKey splits an item key package:NAME[:ARCH].
func packageKey(key string) (name, arch string, ok bool) {
	rest, ok := strings.CutPrefix(key, baseline.KindPackage+":")
	if !ok || rest == "" {
		return "", "", false
	}
	name, arch, _ = strings.Cut(rest, ":")
	return name, arch, true
}

// load reads every record, closes the dead ones in memory and sorts them
// by start.
func (l *Log) load() ([]*record, error) {
	recs, err := readRecords(l.dir)
	now := l.Now()
	for _, r := range recs {
		l.settle(r, now)
	}
	return recs, err
}

// settle closes an open record whose process is gone or which is older
// than MaxOpen, as incomplete. It reports whether it changed r.
func (l *Log) settle(r *record, now time.Time) bool {
	if !r.Ended.IsZero() {
		return false
	}
	limit := r.Started.Add(l.MaxOpen)
	switch {
	case !now.Before(limit):
		r.Ended = limit
	case r.PID > 0 && l.alive != nil && !l.alive(r.PID, r.PIDStart):
		r.Ended = now
	default:
		return false
	}
	r.Incomplete = true
	r.Before = nil
	if r.Packages == nil {
		r.Packages = []PackageChange{}
	}
	return true
}

// readRecords reads the records in dir, sorted by start and ID. A missing
// dir has none.
func readRecords(dir string) ([]*record, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read package transactions %s: %w", dir, err)
	}
	var (
		recs []*record
		errs []error
	)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		r, err := readRecord(filepath.Join(dir, name))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // removed since the listing
				errs = append(errs, err)
			}
			continue
		}
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].Started.Equal(recs[j].Started) {
			return recs[i].Started.Before(recs[j].Started)
		}
		return recs[i].ID < recs[j].ID
	})
	return recs, errors.Join(errs...)
}

// readRecord reads one record file.
func readRecord(path string) (*record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read package transaction %s: %w", path, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read package transaction %s: %w", path, err)
	}
	if r.Format != recordFormat {
		return nil, fmt.Errorf("read package transaction %s: unknown format %d (want %d)", path, r.Format, recordFormat)
	}
	if want := r.ID + ".json"; filepath.Base(path) != want {
		return nil, fmt.Errorf("read package transaction %s: holds transaction %q", path, r.ID)
	}
	if r.Started.IsZero() {
		return nil, fmt.Errorf("read package transaction %s: no start time", path)
	}
	return &r, nil
}
