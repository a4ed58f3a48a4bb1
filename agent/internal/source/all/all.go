// Package all lists every kind of source the agent has and builds the
// sources a configuration asks for. The list is explicit: a source kind
// exists when it is written here, and two sources with one name panic.
package all

import (
	"fmt"
	"slices"

	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/redact"
	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/agent/internal/source/command"
	"github.com/driftwatch/driftwatch/agent/internal/source/file"
	"github.com/driftwatch/driftwatch/agent/internal/source/inventory"
	"github.com/driftwatch/driftwatch/agent/internal/source/packages"
	"github.com/driftwatch/driftwatch/agent/internal/source/ports"
	"github.com/driftwatch/driftwatch/agent/internal/source/services"
	"github.com/driftwatch/driftwatch/agent/internal/source/sysctl"
	"github.com/driftwatch/driftwatch/agent/internal/source/users"
)

// Options are run-time choices that are not part of the configuration.
type Options struct {
	// Cache lets file sources skip unchanged files.
	Cache *file.Cache
	// Full makes file sources read every file.
	Full bool
	// Blocks, when set, limits the sources to these configuration blocks
	// ("files", "command" …).
	Blocks []string
	// Targets, when set, makes the file sources observe these paths only:
	// a targeted rescan.
	Targets []file.Target
	// Limiter, when set, paces the file sources' reads.
	Limiter file.Limiter
}

// Kind describes one kind of source: the configuration block that enables
// it and how to build its sources.
type Kind struct {
	// Block is the configuration block's type.
	Block string
	// Build returns the sources the configuration asks for (none when the
	// block is absent).
	Build func(cfg *config.Agent, opt Options) ([]source.Source, error)
}

// Kinds returns every source kind, in the order their sources run.
func Kinds() []Kind {
	return []Kind{
		{"files", buildFiles},
		{"command", buildCommands},
		{"packages", buildPackages},
		{"services", buildServices},
		{"users", buildUsers},
		{"sysctl", buildSysctl},
		{"listening_ports", buildPorts},
		{"inventory", buildInventory},
	}
}

// Sources builds every source cfg configures. It panics when two sources
// share a name, which the configuration's validation rules out.
func Sources(cfg *config.Agent, opt Options) ([]source.Source, error) {
	var out []source.Source
	names := map[string]bool{}
	for _, k := range Kinds() {
		if opt.Blocks != nil && !slices.Contains(opt.Blocks, k.Block) {
			continue
		}
		srcs, err := k.Build(cfg, opt)
		if err != nil {
			return nil, err
		}
		for _, s := range srcs {
			if names[s.Name()] {
				panic(fmt.Sprintf("source: duplicate source name %q", s.Name()))
			}
			names[s.Name()] = true
			out = append(out, s)
		}
	}
	return out, nil
}

func buildFiles(cfg *config.Agent, opt Options) ([]source.Source, error) {
	var out []source.Source
	for _, f := range cfg.Files {
		s, err := file.New("files."+f.Name, file.Options{
			Paths: f.Paths, Exclude: f.Exclude, Content: f.KeepContent(), MaxContentSize: f.ContentSize,
			DigestOnly: append(append([]string{}, redact.DigestOnly...), f.DigestOnly...),
			Cache:      opt.Cache, Full: opt.Full, Targets: opt.Targets, Limiter: opt.Limiter,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func buildCommands(cfg *config.Agent, _ Options) ([]source.Source, error) {
	var out []source.Source
	for _, c := range cfg.Commands {
		s, err := command.New("command."+c.Name, c.Name, command.Options{
			Argv: c.Argv, Timeout: c.TimeoutDuration, Content: c.KeepContent(), MaxOutput: c.OutputSize, IgnoreLines: c.IgnoreLines,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func buildPackages(cfg *config.Agent, _ Options) ([]source.Source, error) {
	p := cfg.Packages
	if p == nil {
		return nil, nil
	}
	mgr := p.Manager
	if mgr == "auto" {
		mgr = ""
	}
	s, err := packages.New("packages", packages.Options{Manager: mgr, DpkgStatus: p.DpkgStatus})
	if err != nil {
		return nil, err
	}
	return []source.Source{s}, nil
}

func buildServices(cfg *config.Agent, _ Options) ([]source.Source, error) {
	if cfg.Services == nil {
		return nil, nil
	}
	s, err := services.New("services", services.Options{Root: cfg.Services.Root, UnitDirs: cfg.Services.UnitDirs})
	if err != nil {
		return nil, err
	}
	return []source.Source{s}, nil
}

func buildUsers(cfg *config.Agent, _ Options) ([]source.Source, error) {
	if cfg.Users == nil {
		return nil, nil
	}
	opt := users.Options{Passwd: cfg.Users.Passwd, Group: cfg.Users.Group}
	u, err := users.New("users", opt)
	if err != nil {
		return nil, err
	}
	g, err := users.NewGroups("groups", opt)
	if err != nil {
		return nil, err
	}
	return []source.Source{u, g}, nil
}

func buildSysctl(cfg *config.Agent, _ Options) ([]source.Source, error) {
	if cfg.Sysctl == nil {
		return nil, nil
	}
	s, err := sysctl.New("sysctl", sysctl.Options{ProcSys: cfg.Sysctl.ProcSys, Include: cfg.Sysctl.Include, Exclude: cfg.Sysctl.Exclude})
	if err != nil {
		return nil, err
	}
	return []source.Source{s}, nil
}

func buildPorts(cfg *config.Agent, _ Options) ([]source.Source, error) {
	l := cfg.ListeningPorts
	if l == nil {
		return nil, nil
	}
	s, err := ports.New("listening_ports", ports.Options{ProcNet: l.ProcNet, ResolveProcesses: l.Processes == nil || *l.Processes})
	if err != nil {
		return nil, err
	}
	return []source.Source{s}, nil
}

func buildInventory(cfg *config.Agent, _ Options) ([]source.Source, error) {
	if cfg.Inventory == nil {
		return nil, nil
	}
	s, err := inventory.New("inventory", inventory.Options{Root: cfg.Inventory.Root})
	if err != nil {
		return nil, err
	}
	return []source.Source{s}, nil
}
