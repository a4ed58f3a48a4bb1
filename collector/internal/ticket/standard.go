package ticket

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
)

// Package managers a PackageRule names.
const (
	// ManagerApt matches apt and dpkg transactions.
	ManagerApt = "apt"
	// ManagerDnf matches dnf and rpm transactions.
	ManagerDnf = "dnf"
	// ManagerAny matches every package manager.
	ManagerAny = "any"
)

// PackageRule is what a standard change authorizes besides its item
// patterns: the drift that happened inside a package-manager transaction
// the rule matches, on a host in the ticket's scope, while the ticket
// authorizes and within its window. A standing patch ticket ("monthly
// patching, approved standing change") is a standard change with one.
type PackageRule struct {
	// Manager is apt (apt and dpkg), dnf (dnf and rpm) or any.
	Manager string `json:"manager"`
	// Names are package name globs ("openssl*", "linux-image-*"): every
	// package the transaction changed must match one. None: any package.
	Names []string `json:"names,omitempty"`
	// Commands are command line globs ("apt-get upgrade*", "* install
	// *"): the transaction's command must match one. None: any command.
	Commands []string `json:"commands,omitempty"`
	// Days are the weekdays ("mon" … "sun") and Hours the time of day
	// ("01:00-05:00", may wrap past midnight) in the window's time zone
	// when the transaction may start; none: any time inside the window.
	Days  []string `json:"days,omitempty"`
	Hours string   `json:"hours,omitempty"`
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

var hoursRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$`)

// problems returns what is wrong with the rule, each field under "packages".
func (r *PackageRule) problems(class Class) policy.Problems {
	var ps policy.Problems
	if class != Standard {
		ps.Add("packages", fmt.Sprintf("only a standard change has a package rule; this ticket's class is %q", class))
	}
	switch r.Manager {
	case ManagerApt, ManagerDnf, ManagerAny:
	default:
		ps.Add("packages.manager", fmt.Sprintf("%q is not a package manager: want %q, %q or %q", r.Manager, ManagerApt, ManagerDnf, ManagerAny))
	}
	for i, n := range r.Names {
		if strings.TrimSpace(n) == "" || len(n) > 200 {
			ps.Add(fmt.Sprintf("packages.names[%d]", i), "want a package name or a glob such as \"openssl*\"")
		}
	}
	for i, c := range r.Commands {
		if strings.TrimSpace(c) == "" || len(c) > 1000 {
			ps.Add(fmt.Sprintf("packages.commands[%d]", i), "want a command line glob such as \"apt-get upgrade*\"")
		}
	}
	for i, d := range r.Days {
		if _, ok := weekdays[d]; !ok {
			ps.Add(fmt.Sprintf("packages.days[%d]", i), fmt.Sprintf("%q is not a weekday: want mon, tue, wed, thu, fri, sat or sun", d))
		}
	}
	if r.Hours != "" {
		if m := hoursRE.FindStringSubmatch(r.Hours); m == nil || m[3] == "24" && m[4] != "00" || m[1]+m[2] == m[3]+m[4] {
			ps.Add("packages.hours", fmt.Sprintf("%q is not a time of day range: want HH:MM-HH:MM such as \"01:00-05:00\"", r.Hours))
		}
	}
	return ps
}

// clone returns a deep copy of the rule.
func (r *PackageRule) clone() *PackageRule {
	if r == nil {
		return nil
	}
	c := *r
	c.Names, c.Commands, c.Days = slices.Clone(r.Names), slices.Clone(r.Commands), slices.Clone(r.Days)
	return &c
}

// equal reports whether two rules say the same.
func (r *PackageRule) equal(o *PackageRule) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.Manager == o.Manager && slices.Equal(r.Names, o.Names) && slices.Equal(r.Commands, o.Commands) &&
		slices.Equal(r.Days, o.Days) && r.Hours == o.Hours
}

// MatchManager reports whether the rule covers a transaction of the
// package manager (apt, dpkg, dnf or rpm).
func (r *PackageRule) MatchManager(manager string) bool {
	switch r.Manager {
	case ManagerAny:
		return true
	case ManagerApt:
		return manager == "apt" || manager == "dpkg"
	case ManagerDnf:
		return manager == "dnf" || manager == "rpm" || manager == "yum"
	}
	return false
}

// MatchName returns the first of Names that matches the package name, or
// "" when none does; "*" when the rule has no names.
func (r *PackageRule) MatchName(name string) string {
	if len(r.Names) == 0 {
		return "*"
	}
	for _, g := range r.Names {
		if Wildcard(g, name) {
			return g
		}
	}
	return ""
}

// MatchCommand reports whether the command matches one of Commands (any
// command when there are none).
func (r *PackageRule) MatchCommand(command string) bool {
	if len(r.Commands) == 0 {
		return true
	}
	for _, g := range r.Commands {
		if Wildcard(g, command) {
			return true
		}
	}
	return false
}

// MatchTime reports whether t, read in loc, falls on one of Days and
// inside Hours (always, when they are not given).
func (r *PackageRule) MatchTime(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	if len(r.Days) > 0 && !slices.ContainsFunc(r.Days, func(d string) bool { return weekdays[d] == lt.Weekday() }) {
		return false
	}
	if r.Hours == "" {
		return true
	}
	m := hoursRE.FindStringSubmatch(r.Hours)
	if m == nil {
		return false
	}
	minute := func(h, mm string) int {
		var a, b int
		fmt.Sscan(h, &a)
		fmt.Sscan(mm, &b)
		return a*60 + b
	}
	from, to, now := minute(m[1], m[2]), minute(m[3], m[4]), lt.Hour()*60+lt.Minute()
	if from < to {
		return now >= from && now < to
	}
	return now >= from || now < to // wraps past midnight
}

// Wildcard reports whether s matches the glob g, in which "*" matches any
// run of characters (slashes and spaces included), "?" any one character,
// and every other character itself.
func Wildcard(g, s string) bool {
	// Iterative matching with backtracking to the last star.
	gi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case gi < len(g) && (g[gi] == '?' || g[gi] == s[si]) && g[gi] != '*':
			gi++
			si++
		case gi < len(g) && g[gi] == '*':
			star, mark = gi, si
			gi++
		case star >= 0:
			gi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for gi < len(g) && g[gi] == '*' {
		gi++
	}
	return gi == len(g)
}
