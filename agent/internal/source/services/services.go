package services

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// Attribute names of a service item.
const (
	AttrState    = "state"     // one of the State values
	AttrUnitFile = "unit_file" // path of the effective unit file, as seen on the host
	AttrWantedBy = "wanted_by" // with StateEnabled: the .wants/.requires directories linking it, comma-joined
	AttrAliasOf  = "alias_of"  // with StateAlias: the unit it is another name for
)

// Unit file states, the values of the state attribute.
const (
	StateEnabled  = "enabled"
	StateDisabled = "disabled"
	StateStatic   = "static"
	StateMasked   = "masked"
	StateIndirect = "indirect"
	StateAlias    = "alias"
)

// ConfigDir is the directory whose *.wants and *.requires links make a unit
// enabled, relative to Options.Root.
const ConfigDir = "/etc/systemd/system"

// DefaultUnitDirs are the directories searched for unit files, most
// important first.
var DefaultUnitDirs = []string{
	"/etc/systemd/system",
	"/run/systemd/system",
	"/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system",
	"/lib/systemd/system",
}

// unitSuffixes are the unit types listed.
var unitSuffixes = []string{
	".service", ".socket", ".timer", ".path", ".mount", ".automount", ".swap", ".target", ".slice",
}

// maxLinks bounds how many symlinks are followed to reach a unit file.
const maxLinks = 40

// maxUnitFile bounds how much of a unit file is read for its [Install]
// section.
const maxUnitFile = 1 << 20

// Options configures a services source. The zero value reads the real
// host's systemd configuration.
type Options struct {
	// Root is the directory the host's filesystem is read under, for a
	// container image or a mounted disk. Empty means "/". Symlinks are
	// followed inside Root, and attribute paths are shown relative to it.
	Root string
	// UnitDirs are the directories searched for unit files, relative to
	// Root, most important first. Empty means DefaultUnitDirs.
	UnitDirs []string
}

// Source lists systemd unit files and their enablement. It implements
// source.Source.
type Source struct {
	name string
	root string
	dirs []string // absolute host paths, cleaned
}

var _ source.Source = (*Source)(nil)

// New returns a services source named name. It checks opt but does not
// touch the host.
func New(name string, opt Options) (*Source, error) {
	root := opt.Root
	if root == "" {
		root = "/"
	}
	dirs := opt.UnitDirs
	if len(dirs) == 0 {
		dirs = DefaultUnitDirs
	}
	s := &Source{name: name, root: filepath.Clean(root)}
	for _, d := range dirs {
		if d == "" {
			return nil, fmt.Errorf("services source %s: empty unit directory", name)
		}
		s.dirs = append(s.dirs, path.Join("/", d))
	}
	return s, nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Kind returns baseline.KindService.
func (s *Source) Kind() string { return baseline.KindService }

// unit is what is known of one unit name.
type unit struct {
	name    string
	path    string // host path of the entry in a unit directory
	file    string // host path of the unit file it resolves to
	masked  bool
	aliasOf string
	install install
	err     error
}

// Collect lists the unit files and emits one item per unit, plus one per
// enabled template instance. A unit file that cannot be read is emitted
// with its Error set. Collect fails only when ctx is cancelled.
func (s *Source) Collect(ctx context.Context, emit source.Emitter) error {
	units := map[string]*unit{}
	for _, dir := range s.dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(s.full(dir))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				emit.Warn(fmt.Errorf("read unit directory %s: %w", dir, err))
			}
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if !isUnitName(name) || units[name] != nil || e.IsDir() {
				continue
			}
			units[name] = s.inspect(dir, name)
		}
	}
	links, err := s.enablement(ctx, emit)
	if err != nil {
		return err
	}

	for name, u := range units {
		if u.err != nil {
			emit.Warn(u.err)
		}
		emit.Item(s.item(u, links[name]), nil)
	}
	// Enabled names that have no unit file of their own: template instances,
	// or links left behind by a unit that is gone.
	for name, dirs := range links {
		if units[name] != nil {
			continue
		}
		if tmpl := templateOf(name); tmpl != "" && units[tmpl] != nil {
			u := *units[tmpl]
			u.name, u.aliasOf = name, ""
			emit.Item(s.item(&u, dirs), nil)
			continue
		}
		err := fmt.Errorf("unit %s is linked from %s but has no unit file", name, strings.Join(dirs, ", "))
		emit.Warn(err)
		emit.Item(baseline.Item{
			Key:    baseline.Key(baseline.KindService, name),
			Source: s.name,
			Attrs:  baseline.Attrs{}.Set(AttrState, StateEnabled).Set(AttrWantedBy, strings.Join(dirs, ",")),
			Error:  err.Error(),
		}, nil)
	}
	return nil
}

// item builds the item of a unit; wantedBy are the directories enabling it.
func (s *Source) item(u *unit, wantedBy []string) baseline.Item {
	it := baseline.Item{Key: baseline.Key(baseline.KindService, u.name), Source: s.name}
	switch {
	case u.err != nil:
		it.Attrs = it.Attrs.Set(AttrUnitFile, u.path)
		it.Error = u.err.Error()
	case u.masked:
		it.Attrs = it.Attrs.Set(AttrState, StateMasked).Set(AttrUnitFile, u.path)
	case u.aliasOf != "":
		it.Attrs = it.Attrs.Set(AttrState, StateAlias).Set(AttrUnitFile, u.file).Set(AttrAliasOf, u.aliasOf)
	case len(wantedBy) > 0:
		it.Attrs = it.Attrs.Set(AttrState, StateEnabled).Set(AttrUnitFile, u.file).Set(AttrWantedBy, strings.Join(wantedBy, ","))
	default:
		it.Attrs = it.Attrs.Set(AttrState, u.install.state()).Set(AttrUnitFile, u.file)
	}
	return it
}

// inspect reads the unit file dir/name: it follows symlinks, and reads the
// [Install] section of what it finds. A problem is recorded in the unit's
// err, to be emitted with its item.
func (s *Source) inspect(dir, name string) *unit {
	u := &unit{name: name, path: path.Join(dir, name)}
	file, masked, err := s.resolve(u.path)
	if err != nil {
		u.err = err
		return u
	}
	if masked {
		u.masked = true
		return u
	}
	u.file = file
	if base := path.Base(file); base != name && isUnitName(base) && templateOf(name) != base {
		u.aliasOf = base
	}
	f, err := os.Open(s.full(file))
	if err != nil {
		u.err = fmt.Errorf("read unit file %s: %w", file, err)
		return u
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		u.err = fmt.Errorf("read unit file %s: %w", file, err)
		return u
	}
	if fi.Size() == 0 {
		u.masked = true
		return u
	}
	u.install, err = readInstall(io.LimitReader(f, maxUnitFile))
	if err != nil {
		u.err = fmt.Errorf("read unit file %s: %w", file, err)
	}
	return u
}

// resolve follows the symlinks from host path p to a regular file inside
// Root and returns that file's host path, or masked when a link points to
// /dev/null.
func (s *Source) resolve(start string) (file string, masked bool, err error) {
	p := start
	for range maxLinks {
		fi, err := os.Lstat(s.full(p))
		if err != nil {
			return "", false, fmt.Errorf("resolve unit file %s: %w", start, err)
		}
		switch {
		case fi.Mode().IsRegular():
			return p, false, nil
		case fi.Mode()&fs.ModeSymlink == 0:
			return "", false, fmt.Errorf("resolve unit file %s: %s is not a regular file (%v)", start, p, fi.Mode().Type())
		}
		target, err := os.Readlink(s.full(p))
		if err != nil {
			return "", false, fmt.Errorf("resolve unit file %s: %w", start, err)
		}
		if target == "/dev/null" {
			return "", true, nil
		}
		if path.IsAbs(target) {
			p = path.Clean(target)
		} else {
			p = path.Join(path.Dir(p), target)
		}
	}
	return "", false, fmt.Errorf("resolve unit file %s: more than %d symlinks", start, maxLinks)
}

// enablement returns, for each unit name linked in a *.wants or *.requires
// directory of ConfigDir, the sorted names of those directories.
func (s *Source) enablement(ctx context.Context, emit source.Emitter) (map[string][]string, error) {
	links := map[string][]string{}
	entries, err := os.ReadDir(s.full(ConfigDir))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			emit.Warn(fmt.Errorf("read %s: %w", ConfigDir, err))
		}
		return links, nil
	}
	for _, e := range entries {
		dir := e.Name()
		if !strings.HasSuffix(dir, ".wants") && !strings.HasSuffix(dir, ".requires") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := path.Join(ConfigDir, dir)
		if fi, err := os.Stat(s.full(p)); err != nil || !fi.IsDir() {
			continue
		}
		names, err := os.ReadDir(s.full(p))
		if err != nil {
			emit.Warn(fmt.Errorf("read %s: %w", p, err))
			continue
		}
		for _, n := range names {
			if isUnitName(n.Name()) {
				links[n.Name()] = append(links[n.Name()], dir)
			}
		}
	}
	for _, dirs := range links {
		sort.Strings(dirs)
	}
	return links, nil
}

// full returns the path under Root of host path p.
func (s *Source) full(p string) string { return filepath.Join(s.root, filepath.FromSlash(p)) }

// isUnitName reports whether name is a unit file name of a listed type.
func isUnitName(name string) bool {
	for _, suf := range unitSuffixes {
		if len(name) > len(suf) && strings.HasSuffix(name, suf) {
			return !strings.HasPrefix(name, ".")
		}
	}
	return false
}

// templateOf returns the template an instance name belongs to
// ("getty@tty1.service" → "getty@.service"), or "" for other names.
func templateOf(name string) string {
	at := strings.IndexByte(name, '@')
	dot := strings.LastIndexByte(name, '.')
	if at <= 0 || dot < at+2 {
		return ""
	}
	return name[:at+1] + name[dot:]
}

// install is what a unit file's [Install] section provides.
type install struct {
	enable bool // WantedBy=, RequiredBy=, UpheldBy= or Alias= is set
	also   bool // Also= is set
}

// state returns the state of a unit that is not enabled, masked or an
// alias.
func (in install) state() string {
	switch {
	case in.enable:
		return StateDisabled
	case in.also:
		return StateIndirect
	}
	return StateStatic
}

// readInstall reads a unit file's [Install] section. Lines ending in a
// backslash continue on the next line; an empty assignment ("WantedBy=")
// clears the list before it, as systemd does.
func readInstall(r io.Reader) (install, error) {
	set := map[string]bool{}
	section := ""
	var logical strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxUnitFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && (line[0] == '#' || line[0] == ';') {
			continue // comments are skipped, inside a continuation too
		}
		if line == "" && logical.Len() == 0 {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			logical.WriteString(strings.TrimSuffix(line, `\`))
			logical.WriteByte(' ')
			continue
		}
		logical.WriteString(line)
		line = strings.TrimSpace(logical.String())
		logical.Reset()
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		if section != "Install" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key = strings.TrimSpace(key); key {
		case "WantedBy", "RequiredBy", "UpheldBy", "Alias", "Also":
			set[key] = strings.TrimSpace(value) != ""
		}
	}
	if err := sc.Err(); err != nil {
		return install{}, err
	}
	return install{
		enable: set["WantedBy"] || set["RequiredBy"] || set["UpheldBy"] || set["Alias"],
		also:   set["Also"],
	}, nil
}
