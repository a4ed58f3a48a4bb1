package users

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// Default paths of the account files.
const (
	DefaultPasswd = "/etc/passwd"
	DefaultGroup  = "/etc/group"
)

// Attribute names of user and group items, besides baseline.AttrUID,
// baseline.AttrGID and baseline.AttrGroup.
const (
	AttrHome    = "home"    // home directory
	AttrShell   = "shell"   // login shell
	AttrGecos   = "gecos"   // comment field: full name, room …
	AttrGroups  = "groups"  // user: supplementary group names, sorted, comma-joined
	AttrMembers = "members" // group: member names, sorted, comma-joined
)

// Options configures the users and groups sources. The zero value reads
// the real host's account files.
type Options struct {
	// Passwd is the path of the passwd file. Empty means DefaultPasswd.
	Passwd string
	// Group is the path of the group file. Empty means DefaultGroup.
	Group string
}

func (o Options) withDefaults() Options {
	if o.Passwd == "" {
		o.Passwd = DefaultPasswd
	}
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	return o
}

// Source lists the users of the passwd file. It implements source.Source.
type Source struct {
	name string
	opt  Options
}

var _ source.Source = (*Source)(nil)

// New returns a source named name that lists users, reading the group file
// too for group names. It does not touch the host.
func New(name string, opt Options) (*Source, error) {
	return &Source{name: name, opt: opt.withDefaults()}, nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Kind returns baseline.KindUser.
func (s *Source) Kind() string { return baseline.KindUser }

// Collect emits one item per user. It fails when the passwd file cannot be
// read; without a readable group file, the users are emitted without group
// and groups, after a warning. Malformed lines of the group file are left
// for the groups source to report.
func (s *Source) Collect(ctx context.Context, emit source.Emitter) error {
	users, err := readPasswd(ctx, s.opt.Passwd, emit.Warn)
	if err != nil {
		return err
	}
	groups, err := readGroup(ctx, s.opt.Group, func(error) {})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		emit.Warn(err)
	}
	groupName := map[string]string{} // gid → first group with it
	memberOf := map[string][]string{}
	for _, g := range groups {
		if _, ok := groupName[g.gid]; !ok {
			groupName[g.gid] = g.name
		}
		for _, m := range g.members {
			memberOf[m] = append(memberOf[m], g.name)
		}
	}
	for _, u := range users {
		attrs := baseline.Attrs{}.
			Set(baseline.AttrUID, u.uid).
			Set(baseline.AttrGID, u.gid).
			Set(AttrHome, u.home).
			Set(AttrShell, u.shell).
			Set(AttrGecos, u.gecos)
		if g, ok := groupName[u.gid]; ok {
			attrs = attrs.Set(baseline.AttrGroup, g)
		}
		if gs := sortedSet(memberOf[u.name]); len(gs) > 0 {
			attrs = attrs.Set(AttrGroups, strings.Join(gs, ","))
		}
		emit.Item(baseline.Item{Key: baseline.Key(baseline.KindUser, u.name), Source: s.name, Attrs: attrs}, nil)
	}
	return nil
}

// GroupSource lists the groups of the group file. It implements
// source.Source.
type GroupSource struct {
	name string
	opt  Options
}

var _ source.Source = (*GroupSource)(nil)

// NewGroups returns a source named name that lists groups. Only
// Options.Group is used. It does not touch the host.
func NewGroups(name string, opt Options) (*GroupSource, error) {
	return &GroupSource{name: name, opt: opt.withDefaults()}, nil
}

// Name returns the source's name.
func (s *GroupSource) Name() string { return s.name }

// Kind returns baseline.KindGroup.
func (s *GroupSource) Kind() string { return baseline.KindGroup }

// Collect emits one item per group. It fails when the group file cannot be
// read.
func (s *GroupSource) Collect(ctx context.Context, emit source.Emitter) error {
	groups, err := readGroup(ctx, s.opt.Group, emit.Warn)
	if err != nil {
		return err
	}
	for _, g := range groups {
		attrs := baseline.Attrs{}.Set(baseline.AttrGID, g.gid)
		if len(g.members) > 0 {
			attrs = attrs.Set(AttrMembers, strings.Join(g.members, ","))
		}
		emit.Item(baseline.Item{Key: baseline.Key(baseline.KindGroup, g.name), Source: s.name, Attrs: attrs}, nil)
	}
	return nil
}

// user is one passwd entry, without its password field.
type user struct {
	name, uid, gid, gecos, home, shell string
}

// group is one group entry, without its password field.
type group struct {
	name, gid string
	members   []string // sorted, without duplicates
}

// readPasswd reads a passwd file: name:password:uid:gid:gecos:home:shell.
func readPasswd(ctx context.Context, path string, warn func(error)) ([]user, error) {
	var users []user
	err := readEntries(ctx, "passwd", path, 7, warn, func(f []string) (string, error) {
		uid, err := parseID("uid", f[2])
		if err != nil {
			return "", err
		}
		gid, err := parseID("gid", f[3])
		if err != nil {
			return "", err
		}
		users = append(users, user{name: f[0], uid: uid, gid: gid, gecos: f[4], home: f[5], shell: f[6]})
		return f[0], nil
	})
	return users, err
}

// readGroup reads a group file: name:password:gid:member,member….
func readGroup(ctx context.Context, path string, warn func(error)) ([]group, error) {
	var groups []group
	err := readEntries(ctx, "group", path, 4, warn, func(f []string) (string, error) {
		gid, err := parseID("gid", f[2])
		if err != nil {
			return "", err
		}
		groups = append(groups, group{name: f[0], gid: gid, members: sortedSet(strings.Split(f[3], ","))})
		return f[0], nil
	})
	return groups, err
}

// readEntries reads a colon-separated account file, calling add with the
// fields of each entry that has nfields fields and a name. add returns the
// entry's name, or an error for a malformed entry. Malformed lines and
// repeated names go to warn, as file:line, and are skipped (add is not
// called for a repeated name). kind names the file in errors.
func readEntries(ctx context.Context, kind, path string, nfields int, warn func(error), add func([]string) (string, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s %s: %w", kind, path, err)
	}
	defer f.Close()
	seen := map[string]int{} // name → line
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		text, rerr := r.ReadString('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("read %s %s: %w", kind, path, rerr)
		}
		if text == "" && rerr != nil {
			return nil
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		text = strings.TrimRight(text, "\r\n")
		switch trimmed := strings.TrimSpace(text); {
		case trimmed == "", trimmed[0] == '#', trimmed[0] == '+', trimmed[0] == '-':
			// blank, comment, or NIS compat entry
		default:
			fields := strings.Split(text, ":")
			switch {
			case len(fields) != nfields:
				warn(fmt.Errorf("%s:%d: want %d colon-separated fields, have %d; line skipped", path, n, nfields, len(fields)))
			case fields[0] == "":
				warn(fmt.Errorf("%s:%d: empty %s name; line skipped", path, n, entryNoun(kind)))
			case seen[fields[0]] > 0:
				warn(fmt.Errorf("%s:%d: %s %s already defined at line %d; line skipped", path, n, entryNoun(kind), fields[0], seen[fields[0]]))
			default:
				name, err := add(fields)
				if err != nil {
					warn(fmt.Errorf("%s:%d: %s %s: %w; line skipped", path, n, entryNoun(kind), fields[0], err))
				} else {
					seen[name] = n
				}
			}
		}
		if rerr != nil {
			return nil
		}
	}
}

// entryNoun names an entry of the file kind in messages.
func entryNoun(kind string) string {
	if kind == "passwd" {
		return "user"
	}
	return "group"
}

// parseID checks a numeric user or group id and returns it in canonical
// form.
func parseID(what, s string) (string, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return "", fmt.Errorf("%s %q is not a number", what, s)
	}
	return strconv.FormatUint(v, 10), nil
}

// sortedSet returns the non-empty strings of list, trimmed, sorted and
// without duplicates.
func sortedSet(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	uniq := out[:0]
	for i, s := range out {
		if i == 0 || s != out[i-1] {
			uniq = append(uniq, s)
		}
	}
	return uniq
}
