package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the tree's shape.
const (
	maxDirDepth  = 5       // directories at depth 1..5, so files at depth 2..6
	filesPerDir  = 20      // average
	linkEvery    = 500     // one symlink per this many files
	minFileSize  = 16      // bytes
	maxFileSize  = 1 << 20 // bytes
	defaultBytes = 500 << 20 / 100000.0
)

// Seed stream selectors: each use of the seed draws from its own stream.
const (
	streamPlan    = 0x706c616e // "plan"
	streamContent = 0x636f6e74 // "cont"
	streamMutate  = 0x6d757461 // "muta"
)

// epoch is the earliest modification time given to generated entries.
var epoch = time.Date(2023, time.January, 1, 0, 0, 0, 0, time.UTC)

var topNames = []string{
	"ssh", "nginx", "apache2", "systemd", "apt", "security", "default",
	"cron.d", "logrotate.d", "profile.d", "ssl", "udev", "network", "sysctl.d",
	"modprobe.d", "pam.d", "sudoers.d", "postfix", "mysql", "postgresql",
	"redis", "docker", "containerd", "kubernetes", "prometheus", "grafana",
	"haproxy", "bind", "dhcp", "NetworkManager", "X11", "fonts",
	"ca-certificates", "audit", "rsyslog.d", "sssd", "krb5.conf.d", "ldap",
	"openvpn", "wireguard", "chrony", "nftables.d", "fail2ban", "dbus-1",
	"polkit-1", "selinux", "apparmor.d", "tmpfiles.d", "environment.d",
	"update-motd.d", "init.d", "rc.d", "opt", "vault.d", "consul.d", "nomad.d",
	"salt", "ansible", "puppetlabs", "zabbix", "snmp", "samba", "nfs.conf.d",
}

var subNames = []string{
	"conf.d", "sites-available", "sites-enabled", "snippets", "mods-available",
	"mods-enabled", "system", "user", "network", "rules.d", "keys", "certs",
	"private", "templates", "scripts", "hooks", "plugins", "include",
	"available", "enabled", "local.d", "policy.d", "sources.list.d",
	"apt.conf.d", "preferences.d", "trusted.gpg.d", "xorg.conf.d",
	"sshd_config.d", "ssh_config.d", "multi-user.target.wants", "default.d",
	"jail.d", "filter.d", "action.d", "zones", "peers", "tls", "modules",
	"overrides", "drop-in.d",
}

// dirSpec is one directory to create; rel uses forward slashes.
type dirSpec struct {
	rel   string
	depth int
	mode  fs.FileMode
	mtime time.Time
}

// fileSpec is one regular file to write.
type fileSpec struct {
	rel   string
	style style
	size  int
	mode  fs.FileMode
	mtime time.Time
}

// linkSpec is one symlink to create.
type linkSpec struct {
	rel    string
	target string
}

// plan is a whole tree, before anything is written.
type plan struct {
	dirs  []dirSpec
	files []fileSpec
	links []linkSpec
}

// stats counts what was written or changed.
type stats struct {
	dirs, files, links int
	bytes              int64
	edited, chmodded   int
	added, deleted     int
}

// targetBytes is the total size of file contents for the options.
func targetBytes(files int, sizeMB float64) int64 {
	if sizeMB <= 0 {
		return int64(math.Round(float64(files) * defaultBytes))
	}
	return int64(math.Round(sizeMB * (1 << 20)))
}

// makePlan draws the tree for seed: its directories, files and symlinks. It
// is a pure function of its arguments.
func makePlan(seed uint64, files int, total int64) plan {
	r := rand.New(rand.NewPCG(seed, streamPlan))
	var p plan
	used := make(map[string]bool)
	unique := func(dir, name string) string {
		rel := path.Join(dir, name)
		for i := 2; used[rel]; i++ {
			rel = path.Join(dir, name+"-"+strconv.Itoa(i))
		}
		used[rel] = true
		return rel
	}
	when := func() time.Time {
		return epoch.Add(time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour))))
	}

	nDirs := max(1, files/filesPerDir)
	nTop := min(max(1, nDirs/8), len(topNames)*2)
	var byDepth [maxDirDepth + 1][]int // indexes into p.dirs
	for i := range nTop {
		name := topNames[i%len(topNames)]
		byDepth[1] = append(byDepth[1], len(p.dirs))
		p.dirs = append(p.dirs, dirSpec{rel: unique("", name), depth: 1})
	}
	for len(p.dirs) < nDirs {
		// Shallow directories are the most common, as in /etc.
		depth := 2
		switch q := r.IntN(100); {
		case q < 45:
		case q < 75:
			depth = 3
		case q < 90:
			depth = 4
		default:
			depth = 5
		}
		for len(byDepth[depth-1]) == 0 {
			depth--
		}
		parents := byDepth[depth-1]
		parent := p.dirs[parents[r.IntN(len(parents))]]
		byDepth[depth] = append(byDepth[depth], len(p.dirs))
		var name string
		switch q := r.IntN(100); {
		case q < 60:
			name = subNames[r.IntN(len(subNames))]
		case q < 85:
			name = words[r.IntN(len(words))] + ".d"
		default:
			name = words[r.IntN(len(words))] + "." + words[r.IntN(len(words))]
		}
		p.dirs = append(p.dirs, dirSpec{rel: unique(parent.rel, name), depth: parent.depth + 1})
	}
	for i := range p.dirs {
		d := &p.dirs[i]
		d.mode = 0o755
		if base := path.Base(d.rel); base == "private" || base == "keys" || r.IntN(50) == 0 {
			d.mode = 0o700
		}
		d.mtime = when()
	}

	// A few directories hold many files, as conf.d directories do.
	hot := make([]int, max(1, len(p.dirs)/50))
	for i := range hot {
		hot[i] = r.IntN(len(p.dirs))
	}
	weights := make([]float64, files)
	p.files = make([]fileSpec, files)
	for i := range p.files {
		di := r.IntN(len(p.dirs))
		if r.IntN(10) < 3 {
			di = hot[r.IntN(len(hot))]
		}
		st := pickStyle(r)
		f := &p.files[i]
		f.style = st
		f.rel = unique(p.dirs[di].rel, fileName(r, st))
		f.mode = 0o644
		switch {
		case st == styleShell && r.IntN(10) != 0:
			f.mode = 0o755
		case path.Ext(f.rel) == ".key" || r.IntN(12) == 0:
			f.mode = 0o600
		case r.IntN(30) == 0:
			f.mode = 0o640
		}
		f.mtime = when()
		weights[i] = sizeWeight(r)
	}
	for i, n := range planSizes(weights, total) {
		p.files[i].size = n
	}

	nLinks := files / linkEvery
	if nLinks == 0 && files >= 2 {
		nLinks = 1
	}
	for i := range nLinks {
		dir := p.dirs[r.IntN(len(p.dirs))].rel
		var to, name string
		switch {
		case i%25 == 24:
			to, name = path.Join(dir, "missing.conf"), "dangling.conf"
		case i%10 == 9:
			to = p.dirs[r.IntN(len(p.dirs))].rel
			name = "current"
		default:
			to = p.files[r.IntN(len(p.files))].rel
			name = path.Base(to)
		}
		target, err := filepath.Rel(filepath.FromSlash(dir), filepath.FromSlash(to))
		if err != nil {
			target = to // cannot happen for two relative paths
		}
		if target == "." {
			target = ".." // no link to its own directory
		}
		p.links = append(p.links, linkSpec{rel: unique(dir, name), target: filepath.ToSlash(target)})
	}
	return p
}

func pickStyle(r *rand.Rand) style {
	n := r.IntN(100)
	for st, w := range styleWeights {
		if n < w {
			return style(st)
		}
		n -= w
	}
	return styleKV
}

var prefixes = []string{"00-", "10-", "20-", "50-", "60-", "90-", "99-"}

// fileName draws a file name for a file of style st.
func fileName(r *rand.Rand, st style) string {
	w := words[r.IntN(len(words))]
	if r.IntN(50) == 0 {
		return "." + w + "rc"
	}
	name := w
	if r.IntN(3) == 0 {
		name = prefixes[r.IntN(len(prefixes))] + name
	}
	if r.IntN(3) == 0 {
		name += "-" + words[r.IntN(len(words))]
	}
	if r.IntN(4) == 0 {
		name += "_" + strconv.Itoa(r.IntN(100))
	}
	ext := extensions[st]
	return name + ext[r.IntN(len(ext))]
}

// sizeWeight draws a relative size: mostly 1 to 8 KiB, some small files,
// some tens of KiB and a few up to 1 MiB (before scaling to the total).
func sizeWeight(r *rand.Rand) float64 {
	logUniform := func(lo, hi float64) float64 {
		return lo * math.Exp(r.Float64()*math.Log(hi/lo))
	}
	switch n := r.IntN(1000); {
	case n < 40:
		return logUniform(64, 1024)
	case n < 970:
		return logUniform(1024, 8192)
	case n < 997:
		return logUniform(8192, 128<<10)
	default:
		return logUniform(128<<10, maxFileSize)
	}
}

// planSizes scales weights to whole sizes in [minFileSize, maxFileSize] that
// add up to total, or as near as those bounds allow.
func planSizes(weights []float64, total int64) []int {
	n := len(weights)
	sizes := make([]int, n)
	if n == 0 {
		return sizes
	}
	fixed := make([]bool, n)
	scaled := make([]float64, n)
	copy(scaled, weights)
	// Scale the free sizes to what the clamped ones leave; a few rounds
	// settle it, since each round clamps only the extremes.
	for range 10 {
		var freeSum, fixedSum float64
		for i, s := range scaled {
			if fixed[i] {
				fixedSum += s
			} else {
				freeSum += s
			}
		}
		if freeSum == 0 {
			break
		}
		f := (float64(total) - fixedSum) / freeSum
		changed := false
		for i := range scaled {
			if fixed[i] {
				continue
			}
			s := scaled[i] * f
			switch {
			case s > maxFileSize:
				s, fixed[i], changed = maxFileSize, true, true
			case s < minFileSize:
				s, fixed[i], changed = minFileSize, true, true
			}
			scaled[i] = s
		}
		if !changed {
			break
		}
	}
	var sum int64
	for i, s := range scaled {
		sizes[i] = int(math.Round(s))
		sum += int64(sizes[i])
	}
	// Put the rounding remainder where there is room.
	for i := 0; sum != total && i < n; i++ {
		d := total - sum
		room := int64(maxFileSize - sizes[i])
		if d < 0 {
			room = -int64(sizes[i] - minFileSize)
		}
		if d > 0 && d > room || d < 0 && d < room {
			d = room
		}
		sizes[i] += int(d)
		sum += d
	}
	return sizes
}

// write creates the planned tree under root with the given number of
// concurrent writers.
func (p *plan) write(ctx context.Context, root string, seed uint64, workers int) (stats, error) {
	var st stats
	if err := os.MkdirAll(root, 0o755); err != nil {
		return st, err
	}
	for _, d := range p.dirs {
		dir := filepath.Join(root, filepath.FromSlash(d.rel))
		if err := os.Mkdir(dir, d.mode); err != nil {
			return st, err
		}
		if err := os.Chmod(dir, d.mode); err != nil { // whatever the umask
			return st, err
		}
	}
	st.dirs = len(p.dirs)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		written  atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := rand.NewPCG(0, 0)
			r := rand.New(src)
			var buf []byte
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(p.files) {
					return
				}
				f := &p.files[i]
				src.Seed(seed^streamContent, uint64(i))
				buf = generate(buf[:0], r, f.style, f.size)
				if err := writeFile(filepath.Join(root, filepath.FromSlash(f.rel)), buf, f.mode, f.mtime); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				written.Add(int64(len(buf)))
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return st, firstErr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	st.files = len(p.files)
	st.bytes = written.Load()

	for _, l := range p.links {
		if err := os.Symlink(filepath.FromSlash(l.target), filepath.Join(root, filepath.FromSlash(l.rel))); err != nil {
			return st, err
		}
	}
	st.links = len(p.links)
	// Last, as every entry made in a directory changes its mtime.
	for _, d := range p.dirs {
		if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(d.rel)), d.mtime, d.mtime); err != nil {
			return st, err
		}
	}
	return st, nil
}

// writeFile creates name, which must not exist, with the given content, mode
// (whatever the umask) and modification time.
func writeFile(name string, data []byte, mode fs.FileMode, mtime time.Time) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Chtimes(name, mtime, mtime)
}

// checkEmpty returns an error unless dir is absent or an empty directory.
func checkEmpty(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
