package pkgtx

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Where dpkg keeps its database and its log.
const (
	DefaultDpkgStatus = "/var/lib/dpkg/status"
	DefaultDpkgLog    = "/var/log/dpkg.log"
)

// readDpkgInstalled reads the dpkg status file and returns the installed
// packages, "name:arch" → version. It counts a package as installed as the
// packages source does: Status "install ok installed" or "hold ok
// installed".
func readDpkgInstalled(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", path, err)
	}
	defer f.Close()
	out := map[string]string{}
	var name, status, version, arch string
	flush := func() {
		w := strings.Fields(status)
		if name != "" && len(w) == 3 && (w[0] == "install" || w[0] == "hold") && w[1] == "ok" && w[2] == "installed" {
			out[name+":"+arch] = version
		}
		name, status, version, arch = "", "", "", ""
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "package":
			name = v
		case "status":
			status = v
		case "version":
			version = v
		case "architecture":
			arch = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", path, err)
	}
	flush()
	return out, nil
}

// diffInstalled returns the changes from the installed packages before to
// after, both "name:arch" → version, sorted.
func diffInstalled(before, after map[string]string) []PackageChange {
	var out []PackageChange
	add := func(key, from, to string) {
		name, arch, _ := strings.Cut(key, ":")
		c := PackageChange{Name: name, Arch: arch, From: from, To: to}
		switch {
		case from == "":
			c.Action = ActionInstall
		case to == "":
			c.Action = ActionRemove
		case compareDebianVersions(to, from) < 0:
			c.Action = ActionDowngrade
		default:
			c.Action = ActionUpgrade
		}
		out = append(out, c)
	}
	for k, from := range before {
		if to, ok := after[k]; !ok {
			add(k, from, "")
		} else if to != from {
			add(k, from, to)
		}
	}
	for k, to := range after {
		if _, ok := before[k]; !ok {
			add(k, "", to)
		}
	}
	sortChanges(out)
	return out
}

// sortChanges sorts package changes by name and architecture.
func sortChanges(cs []PackageChange) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].Arch < cs[j].Arch
	})
}

// dpkgLogLayout is the time stamp of a dpkg.log line, in local time.
const dpkgLogLayout = "2006-01-02 15:04:05"

// parseDpkgLog reads dpkg.log lines and returns the package changes logged
// at or after from and at or before to (to zero: no end), one per package
// and architecture: the first old version and the last new one. Lines it
// does not know (status, conffile, startup, trigproc …) are skipped, as
// are malformed ones; loc is the log's time zone.
func parseDpkgLog(r io.Reader, loc *time.Location, from, to time.Time) ([]PackageChange, error) {
	from = from.Truncate(time.Second)
	byKey := map[string]*PackageChange{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// DATE TIME ACTION PKG:ARCH OLD NEW
		if len(f) != 6 {
			continue
		}
		switch f[2] {
		case "install", "upgrade", "remove", "purge":
		default:
			continue
		}
		at, err := time.ParseInLocation(dpkgLogLayout, f[0]+" "+f[1], loc)
		if err != nil || at.Before(from) || (!to.IsZero() && at.After(to)) {
			continue
		}
		key := f[3]
		old, cur := none(f[4]), none(f[5])
		c, seen := byKey[key]
		if !seen {
			name, arch, _ := strings.Cut(key, ":")
			c = &PackageChange{Name: name, Arch: arch, From: old}
			if f[2] == "install" {
				// dpkg names the version of the configuration files a
				// removed package left as the old one: nothing was
				// installed.
				c.From = ""
			}
			byKey[key] = c
			order = append(order, key)
		}
		switch f[2] {
		case "install", "upgrade":
			c.To = cur
		case "remove":
			c.To = ""
			c.Action = ActionRemove
		case "purge":
			c.To = ""
			c.Action = ActionPurge
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dpkg log: %w", err)
	}
	out := make([]PackageChange, 0, len(order))
	for _, k := range order {
		c := *byKey[k]
		switch {
		case c.To == "" && c.Action == ActionPurge:
		case c.To == "":
			if c.From == "" { // installed and removed again
				continue
			}
			c.Action = ActionRemove
		case c.From == "":
			c.Action = ActionInstall
		case c.From == c.To:
			c.Action = ActionReinstall
		case compareDebianVersions(c.To, c.From) < 0:
			c.Action = ActionDowngrade
		default:
			c.Action = ActionUpgrade
		}
		out = append(out, c)
	}
	sortChanges(out)
	return out, nil
}

// none maps dpkg's "<none>" to "".
func none(v string) string {
	if v == "<none>" {
		return ""
	}
	return v
}

// compareDebianVersions compares two Debian versions
// ([epoch:]upstream[-revision]) as dpkg does: negative when a < b.
func compareDebianVersions(a, b string) int {
	ea, ua, ra := splitDebianVersion(a)
	eb, ub, rb := splitDebianVersion(b)
	if ea != eb {
		if ea < eb {
			return -1
		}
		return 1
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

// splitDebianVersion splits a version into epoch, upstream version and
// revision.
func splitDebianVersion(v string) (epoch int, upstream, revision string) {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		for _, c := range e {
			if c < '0' || c > '9' {
				epoch = -1
				break
			}
			epoch = epoch*10 + int(c-'0')
		}
		if epoch >= 0 {
			v = rest
		} else {
			epoch = 0
		}
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// verrevcmp is dpkg's comparison of an upstream version or a revision:
// non-digit runs compare character by character, '~' before everything
// (even the end), letters before other characters; digit runs compare as
// numbers.
func verrevcmp(a, b string) int {
	order := func(s string, i int) int {
		if i >= len(s) {
			return 0
		}
		c := s[i]
		switch {
		case isDigit(c):
			return 0
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			return int(c)
		case c == '~':
			return -1
		}
		return int(c) + 256
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := order(a, i), order(b, j)
			if ac != bc {
				return ac - bc
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		first := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if first != 0 {
			return first
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
