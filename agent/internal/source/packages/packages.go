package packages

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// Package managers, the values of Options.Manager and of the "manager"
// attribute.
const (
	ManagerAuto = "auto"
	ManagerDpkg = "dpkg"
	ManagerRPM  = "rpm"
)

// Attribute names of a package item.
const (
	AttrVersion      = "version"      // version as the manager prints it, e.g. "1:9.2p1-2+deb12u3"
	AttrArchitecture = "architecture" // e.g. "amd64", "all", "x86_64", "noarch"
	AttrManager      = "manager"      // ManagerDpkg or ManagerRPM
	AttrHold         = "hold"         // "true" when the package is held (dpkg); absent otherwise
)

// DefaultDpkgStatus is where dpkg records the installed packages.
const DefaultDpkgStatus = "/var/lib/dpkg/status"

// DefaultRPMCommand lists the installed rpm packages one per line:
// name, epoch:version-release and architecture, tab-separated.
var DefaultRPMCommand = []string{"rpm", "-qa", "--queryformat", "%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\n"}

// Options configures a packages source. The zero value reads the real
// host's package database.
type Options struct {
	// Manager is the package manager to read: ManagerDpkg, ManagerRPM or
	// ManagerAuto. Empty means ManagerAuto, which picks dpkg when DpkgStatus
	// exists, else rpm when RPMCommand's program is found in PATH, and
	// otherwise fails.
	Manager string
	// DpkgStatus is the path of dpkg's status file. Empty means
	// DefaultDpkgStatus.
	DpkgStatus string
	// RPMCommand is the command that lists the installed rpm packages, as
	// an argv; its output must be in the form DefaultRPMCommand prints.
	// Empty means DefaultRPMCommand.
	RPMCommand []string
	// Arch is the host's native architecture as the package manager names
	// it ("amd64" for dpkg, "x86_64" for rpm). It decides which instance of
	// a package installed for several architectures keeps the plain key.
	// Empty means the architecture of the manager's own package (dpkg or
	// rpm), or when that is not installed, the one Go was built for.
	Arch string
}

// Source lists the installed packages. It implements source.Source.
type Source struct {
	name string
	opt  Options
}

var _ source.Source = (*Source)(nil)

// New returns a packages source named name. It checks opt but does not touch
// the host; the manager is chosen when Collect runs.
func New(name string, opt Options) (*Source, error) {
	switch opt.Manager {
	case "":
		opt.Manager = ManagerAuto
	case ManagerAuto, ManagerDpkg, ManagerRPM:
	default:
		return nil, fmt.Errorf("packages source %s: unknown manager %q (want %q, %q or %q)",
			name, opt.Manager, ManagerAuto, ManagerDpkg, ManagerRPM)
	}
	if opt.DpkgStatus == "" {
		opt.DpkgStatus = DefaultDpkgStatus
	}
	if len(opt.RPMCommand) == 0 {
		opt.RPMCommand = DefaultRPMCommand
	} else if opt.RPMCommand[0] == "" {
		return nil, fmt.Errorf("packages source %s: rpm command has an empty program name", name)
	}
	opt.RPMCommand = append([]string(nil), opt.RPMCommand...)
	return &Source{name: name, opt: opt}, nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Kind returns baseline.KindPackage.
func (s *Source) Kind() string { return baseline.KindPackage }

// Collect reads the package database and emits one item per installed
// package. It fails when the database cannot be read at all (no status
// file, rpm not found or failing); a malformed entry is a warning.
func (s *Source) Collect(ctx context.Context, emit source.Emitter) error {
	manager, err := s.manager()
	if err != nil {
		return err
	}
	var pkgs []pkg
	switch manager {
	case ManagerDpkg:
		pkgs, err = readDpkgStatus(ctx, s.opt.DpkgStatus, emit)
	case ManagerRPM:
		pkgs, err = runRPM(ctx, s.opt.RPMCommand, emit)
	}
	if err != nil {
		return err
	}
	arch := s.opt.Arch
	if arch == "" {
		arch = nativeArch(manager, pkgs)
	}
	for _, it := range s.items(manager, arch, pkgs) {
		emit.Item(it, nil)
	}
	return nil
}

// manager resolves ManagerAuto.
func (s *Source) manager() (string, error) {
	if s.opt.Manager != ManagerAuto {
		return s.opt.Manager, nil
	}
	_, err := os.Stat(s.opt.DpkgStatus)
	if err == nil {
		return ManagerDpkg, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("stat dpkg status %s: %w", s.opt.DpkgStatus, err)
	}
	if _, err := exec.LookPath(s.opt.RPMCommand[0]); err == nil {
		return ManagerRPM, nil
	}
	return "", fmt.Errorf("no package manager found: neither dpkg status %s nor %s in PATH",
		s.opt.DpkgStatus, s.opt.RPMCommand[0])
}

// pkg is one installed package (one architecture of it) as read from the
// database.
type pkg struct {
	name    string
	version string
	arch    string
	hold    bool
	err     string // why the entry is incomplete, set on the item
}

// items turns the packages into items with unique keys; see the package
// comment for how keys are chosen. pkgs holds at most one entry per name
// and architecture.
func (s *Source) items(manager, native string, pkgs []pkg) []baseline.Item {
	byName := map[string][]pkg{}
	for _, p := range pkgs {
		byName[p.name] = append(byName[p.name], p)
	}
	items := make([]baseline.Item, 0, len(pkgs))
	for name, group := range byName {
		sort.Slice(group, func(i, j int) bool {
			ri, rj := archRank(group[i].arch, native), archRank(group[j].arch, native)
			if ri != rj {
				return ri < rj
			}
			return group[i].arch < group[j].arch
		})
		for i, p := range group {
			key := baseline.Key(baseline.KindPackage, name)
			if i > 0 {
				key += ":" + p.arch
			}
			attrs := baseline.Attrs{}.Set(AttrManager, manager)
			if p.version != "" {
				attrs = attrs.Set(AttrVersion, p.version)
			}
			if p.arch != "" {
				attrs = attrs.Set(AttrArchitecture, p.arch)
			}
			if p.hold {
				attrs = attrs.Set(AttrHold, "true")
			}
			items = append(items, baseline.Item{Key: key, Source: s.name, Attrs: attrs, Error: p.err})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Key < items[j].Key })
	return items
}

// archRank orders the instances of one package: the native architecture
// first, then architecture-independent, then unknown, then the rest.
func archRank(arch, native string) int {
	switch {
	case arch == native:
		return 0
	case arch == "all" || arch == "noarch":
		return 1
	case arch == "":
		return 2
	}
	return 3
}

// nativeArch guesses the host's architecture: that of the manager's own
// package, which is always native, else the one Go was built for.
func nativeArch(manager string, pkgs []pkg) string {
	for _, p := range pkgs {
		if p.name == manager && p.arch != "" {
			return p.arch
		}
	}
	if manager == ManagerRPM {
		if a, ok := rpmArch[runtime.GOARCH]; ok {
			return a
		}
	} else if a, ok := dpkgArch[runtime.GOARCH]; ok {
		return a
	}
	return runtime.GOARCH
}

// dpkgArch and rpmArch map GOARCH to the managers' names where they differ.
var (
	dpkgArch = map[string]string{"386": "i386", "arm": "armhf", "ppc64le": "ppc64el", "mips64le": "mips64el", "mipsle": "mipsel"}
	rpmArch  = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7hl", "loong64": "loongarch64"}
)

// lineError is a problem at one line of a file or of command output.
func lineError(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
}

// joinVersions merges the versions of one package and architecture.
func joinVersions(a, b string) string {
	vs := strings.Split(a, ",")
	for _, v := range vs {
		if v == b {
			return a
		}
	}
	vs = append(vs, b)
	sort.Strings(vs)
	return strings.Join(vs, ",")
}
