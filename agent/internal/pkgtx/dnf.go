package pkgtx

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultDnfLog is where dnf (4, RHEL 8 and 9) logs each package it
// installs, upgrades or removes.
const DefaultDnfLog = "/var/log/dnf.rpm.log"

// dnfLogLayouts are the time stamps dnf writes: Python's
// "%Y-%m-%dT%H:%M:%S%z", with "Z" in some versions.
var dnfLogLayouts = []string{"2006-01-02T15:04:05-0700", "2006-01-02T15:04:05Z07:00"}

// parseDnfLog reads dnf.rpm.log lines ("TIME SUBDEBUG Upgrade: NEVRA") and
// returns the package changes logged at or after from and at or before to
// (to zero: no end), one per package and architecture, and the time of the
// first change it took (zero with none). Lines it does not know (the
// logging marker, scriptlet output …) are skipped.
func parseDnfLog(r io.Reader, from, to time.Time) ([]PackageChange, time.Time, error) {
	from = from.Truncate(time.Second)
	type entry struct {
		name, arch string
		old, cur   string
		hasOld     bool
		installed  bool // Installed, Upgrade, Downgrade, Reinstall, Obsolete
		removed    bool // Erase, Obsoleted
		downgrade  bool
		reinstall  bool
	}
	byKey := map[string]*entry{}
	var (
		order []string
		first time.Time
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		stamp, rest, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		_, msg, ok := strings.Cut(rest, " ") // the level, SUBDEBUG
		if !ok {
			continue
		}
		action, nevra, ok := strings.Cut(msg, ": ")
		if !ok {
			continue
		}
		switch action {
		case "Installed", "Upgrade", "Upgraded", "Downgrade", "Downgraded",
			"Reinstall", "Reinstalled", "Erase", "Obsolete", "Obsoleted":
		default:
			continue
		}
		at, err := parseDnfTime(stamp)
		if err != nil || at.Before(from) || (!to.IsZero() && at.After(to)) {
			continue
		}
		name, version, arch, ok := splitNEVRA(strings.TrimSpace(nevra))
		if !ok {
			continue
		}
		if first.IsZero() {
			first = at
		}
		key := name + "." + arch
		e := byKey[key]
		if e == nil {
			e = &entry{name: name, arch: arch}
			byKey[key] = e
			order = append(order, key)
		}
		switch action {
		case "Installed", "Upgrade", "Downgrade", "Reinstall", "Obsolete":
			e.cur = version
			e.installed = true
			e.downgrade = e.downgrade || action == "Downgrade"
			e.reinstall = e.reinstall || action == "Reinstall"
		case "Upgraded", "Downgraded", "Reinstalled":
			if !e.hasOld {
				e.old, e.hasOld = version, true
			}
		case "Erase", "Obsoleted":
			if !e.hasOld {
				e.old, e.hasOld = version, true
			}
			e.removed = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("read dnf log: %w", err)
	}
	out := make([]PackageChange, 0, len(order))
	for _, k := range order {
		e := byKey[k]
		c := PackageChange{Name: e.name, Arch: e.arch, From: e.old, To: e.cur}
		switch {
		case e.removed && !e.installed:
			c.To = ""
			c.Action = ActionRemove
		case e.reinstall:
			c.Action = ActionReinstall
		case e.downgrade:
			c.Action = ActionDowngrade
		case c.From == "":
			c.Action = ActionInstall
		default:
			c.Action = ActionUpgrade
		}
		out = append(out, c)
	}
	sortChanges(out)
	return out, first, nil
}

// parseDnfTime parses a dnf.rpm.log time stamp.
func parseDnfTime(s string) (time.Time, error) {
	var err error
	for _, l := range dnfLogLayouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// splitNEVRA splits name-[epoch:]version-release.arch into the name, the
// version as the packages source writes it ([epoch:]version-release) and
// the architecture.
func splitNEVRA(s string) (name, version, arch string, ok bool) {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 {
		return "", "", "", false
	}
	arch, s = s[dot+1:], s[:dot]
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 {
		return "", "", "", false
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 {
		return "", "", "", false
	}
	return s[:ver], s[ver+1:], arch, true
}
