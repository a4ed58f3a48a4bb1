package inventory

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// DefaultRoot is the root of the host's own file system.
const DefaultRoot = "/"

// Options configures an inventory source. The zero value documents the host
// the agent runs on.
type Options struct {
	// Root is the directory under which etc/, proc/ and sys/ are read; ""
	// means DefaultRoot. Interface addresses are observed only when Root is
	// DefaultRoot, since they come from the running kernel, not from files.
	Root string
}

// Source documents a host's inventory. It implements source.Source.
type Source struct {
	name string
	root string
	// live says that Root is the running host's, so interface addresses
	// can be asked of its kernel.
	live bool
	// interfaceAddrs returns an interface's addresses; tests replace it.
	interfaceAddrs func(name string) ([]netip.Prefix, error)
}

var _ source.Source = (*Source)(nil)

// New returns a source named name that reads the host under opt.Root.
func New(name string, opt Options) (*Source, error) {
	if name == "" {
		return nil, errors.New("inventory source: empty name")
	}
	root := opt.Root
	if root == "" {
		root = DefaultRoot
	}
	root = filepath.Clean(root)
	return &Source{
		name:           name,
		root:           root,
		live:           root == filepath.Clean(DefaultRoot),
		interfaceAddrs: interfaceAddrs,
	}, nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Kind returns baseline.KindInventory.
func (s *Source) Kind() string { return baseline.KindInventory }

// Collect emits the host's inventory items. It fails only when ctx is done:
// a missing file skips the items that need it with a warning, and any other
// read error gives the item an Error and a warning.
func (s *Source) Collect(ctx context.Context, emit source.Emitter) error {
	steps := []func(context.Context, source.Emitter) error{
		s.collectOS,
		s.collectKernel,
		s.collectCPU,
		s.collectMemory,
		s.collectMachine,
		s.collectDisks,
		s.collectInterfaces,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(ctx, emit); err != nil {
			return err
		}
	}
	return nil
}

// path returns the host path of rel, a slash-separated path below the root.
func (s *Source) path(rel string) string { return filepath.Join(s.root, filepath.FromSlash(rel)) }

// read returns the content of the file rel, blanks trimmed.
func (s *Source) read(rel string) (string, error) {
	b, err := os.ReadFile(s.path(rel))
	return strings.TrimSpace(string(b)), err
}

// readOptional reads a file an attribute may do without: a missing file
// gives false quietly, another error a warning.
func (s *Source) readOptional(emit source.Emitter, name, rel string) (string, bool) {
	v, err := s.read(rel)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			emit.Warn(fmt.Errorf("inventory %s: %w", name, err))
		}
		return "", false
	}
	return v, true
}

// item returns an item of the source named "inventory:name".
func (s *Source) item(name string, attrs baseline.Attrs) baseline.Item {
	return baseline.Item{Key: baseline.Key(baseline.KindInventory, name), Source: s.name, Attrs: attrs}
}

// failed reports a file an item needs that could not be read: a missing
// file skips the item; another error emits it with the error. Both warn.
func (s *Source) failed(emit source.Emitter, name string, err error) {
	emit.Warn(fmt.Errorf("inventory %s: %w", name, err))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	it := s.item(name, nil)
	it.Error = err.Error()
	emit.Item(it, nil)
}

// osReleaseKeys maps the os-release fields observed to their attributes.
var osReleaseKeys = map[string]string{
	"ID":          "id",
	"NAME":        "name",
	"VERSION_ID":  "version_id",
	"PRETTY_NAME": "pretty_name",
}

// collectOS emits inventory:os from etc/os-release, or usr/lib/os-release
// when that is missing, as os-release(5) says.
func (s *Source) collectOS(_ context.Context, emit source.Emitter) error {
	const name = "os"
	content, err := s.read("etc/os-release")
	if errors.Is(err, fs.ErrNotExist) {
		var err2 error
		if content, err2 = s.read("usr/lib/os-release"); !errors.Is(err2, fs.ErrNotExist) {
			err = err2
		}
	}
	if err != nil {
		s.failed(emit, name, err)
		return nil
	}
	attrs := baseline.Attrs{}
	for k, v := range parseOSRelease(content) {
		if a, ok := osReleaseKeys[k]; ok && v != "" {
			attrs = attrs.Set(a, v)
		}
	}
	emit.Item(s.item(name, attrs), nil)
	return nil
}

// parseOSRelease parses the KEY=value lines of an os-release file, values
// unquoted as a shell would.
func parseOSRelease(content string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
	}
	return m
}

// unquote removes shell quotes: '…' literally, "…" with the backslash
// escapes \" \\ \$ \`.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var sb strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			sb.WriteByte(v[i])
		}
		return sb.String()
	}
	return v
}

// collectKernel emits inventory:kernel: release and version from
// proc/sys/kernel, and the architecture from proc/sys/kernel/arch, or, on
// kernels without that file, the Go name of the agent's architecture
// (amd64, arm64).
func (s *Source) collectKernel(_ context.Context, emit source.Emitter) error {
	const name = "kernel"
	release, err := s.read("proc/sys/kernel/osrelease")
	if err != nil {
		s.failed(emit, name, err)
		return nil
	}
	version, err := s.read("proc/sys/kernel/version")
	if err != nil {
		s.failed(emit, name, err)
		return nil
	}
	arch, ok := s.readOptional(emit, name, "proc/sys/kernel/arch")
	if !ok {
		arch = runtime.GOARCH
	}
	emit.Item(s.item(name, baseline.Attrs{}.Set("release", release).Set("version", version).Set("arch", arch)), nil)
	return nil
}

// cpuModelKeys are the proc/cpuinfo fields that name the processor model,
// by architecture: x86 and most, MIPS and LoongArch, POWER.
var cpuModelKeys = []string{"model name", "cpu model", "cpu"}

// collectCPU emits inventory:cpu from proc/cpuinfo: the model of the first
// processor ("model", when the architecture names it) and the number of
// processors ("count"). Clock speeds are left out: they change all the time.
func (s *Source) collectCPU(_ context.Context, emit source.Emitter) error {
	const name = "cpu"
	content, err := s.read("proc/cpuinfo")
	if err != nil {
		s.failed(emit, name, err)
		return nil
	}
	count := 0
	models := map[string]string{}
	for _, line := range strings.Split(content, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Join(strings.Fields(v), " ")
		if k == "processor" {
			count++
			continue
		}
		if _, seen := models[k]; !seen {
			models[k] = v
		}
	}
	attrs := baseline.Attrs{}
	for _, k := range cpuModelKeys {
		if m := models[k]; m != "" {
			attrs = attrs.Set("model", m)
			break
		}
	}
	if count > 0 {
		attrs = attrs.Set("count", strconv.Itoa(count))
	}
	emit.Item(s.item(name, attrs), nil)
	return nil
}

// collectMemory emits inventory:memory: MemTotal from proc/meminfo in bytes
// ("total") and for people ("total_human", "23.5 GiB"). Free and used
// memory are left out: they change all the time.
func (s *Source) collectMemory(_ context.Context, emit source.Emitter) error {
	const name = "memory"
	content, err := s.read("proc/meminfo")
	if err != nil {
		s.failed(emit, name, err)
		return nil
	}
	for _, line := range strings.Split(content, "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kib, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			break
		}
		total := kib * 1024
		attrs := baseline.Attrs{}.Set("total", strconv.FormatUint(total, 10)).Set("total_human", humanBytes(total))
		emit.Item(s.item(name, attrs), nil)
		return nil
	}
	emit.Warn(fmt.Errorf("inventory %s: %s: no MemTotal line in kB", name, s.path("proc/meminfo")))
	return nil
}

// humanBytes writes n in binary units with one decimal: "23.5 GiB".
func humanBytes(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}

// collectMachine emits inventory:machine: the machine ID from
// etc/machine-id and the host name from proc/sys/kernel/hostname. Each
// missing file is a warning; the item is left out only when both are.
func (s *Source) collectMachine(_ context.Context, emit source.Emitter) error {
	const name = "machine"
	it := s.item(name, nil)
	for _, f := range []struct{ attr, rel string }{
		{"machine_id", "etc/machine-id"},
		{"hostname", "proc/sys/kernel/hostname"},
	} {
		v, err := s.read(f.rel)
		if err != nil {
			emit.Warn(fmt.Errorf("inventory %s: %w", name, err))
			if !errors.Is(err, fs.ErrNotExist) && it.Error == "" {
				it.Error = err.Error()
			}
			continue
		}
		it.Attrs = it.Attrs.Set(f.attr, v)
	}
	if len(it.Attrs) > 0 || it.Error != "" {
		emit.Item(it, nil)
	}
	return nil
}

// skipDisk lists the prefixes of block devices that are not disks.
var skipDisk = []string{"loop", "ram", "zram"}

// collectDisks emits inventory:disk/NAME for each block device in sys/block
// but loop, RAM and compressed-RAM devices: its size in bytes
// ("size_bytes"), its model when the device names one ("model") and whether
// it spins ("rotational", "0" or "1").
func (s *Source) collectDisks(ctx context.Context, emit source.Emitter) error {
	names, ok := s.deviceDirs(emit, "disks", "sys/block")
	if !ok {
		return nil
	}
	for _, dev := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if slices.ContainsFunc(skipDisk, func(p string) bool { return strings.HasPrefix(dev, p) }) {
			continue
		}
		name := "disk/" + dev
		size, err := s.read("sys/block/" + dev + "/size")
		if err != nil {
			s.failed(emit, name, err)
			continue
		}
		sectors, err := strconv.ParseUint(size, 10, 64)
		if err != nil {
			emit.Warn(fmt.Errorf("inventory %s: %s: %w", name, s.path("sys/block/"+dev+"/size"), err))
			continue
		}
		attrs := baseline.Attrs{}.Set("size_bytes", strconv.FormatUint(sectors*512, 10))
		if v, ok := s.readOptional(emit, name, "sys/block/"+dev+"/device/model"); ok && v != "" {
			attrs = attrs.Set("model", v)
		}
		if v, ok := s.readOptional(emit, name, "sys/block/"+dev+"/queue/rotational"); ok {
			attrs = attrs.Set("rotational", v)
		}
		emit.Item(s.item(name, attrs), nil)
	}
	return nil
}

// addrAssignRandom is the value of sys/class/net/NAME/addr_assign_type for
// a MAC address the kernel made up at random.
const addrAssignRandom = "1"

// collectInterfaces emits inventory:interface/NAME for each network
// interface in sys/class/net but the loopback: its MAC address ("mac",
// unless the kernel made it up at random, so it changes at every boot), its
// MTU ("mtu"), and, when Root is the running host's, its addresses
// ("addresses", sorted CIDRs, without temporary IPv6 addresses, which
// change by design).
func (s *Source) collectInterfaces(ctx context.Context, emit source.Emitter) error {
	names, ok := s.deviceDirs(emit, "interfaces", "sys/class/net")
	if !ok {
		return nil
	}
	var temporary map[netip.Addr]bool
	if s.live {
		temporary = s.temporaryAddrs(emit)
	}
	for _, ifname := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ifname == "lo" {
			continue
		}
		name := "interface/" + ifname
		dir := "sys/class/net/" + ifname + "/"
		attrs := baseline.Attrs{}
		if mac, ok := s.readOptional(emit, name, dir+"address"); ok && mac != "" {
			if t, _ := s.readOptional(emit, name, dir+"addr_assign_type"); t != addrAssignRandom {
				attrs = attrs.Set("mac", mac)
			}
		}
		if mtu, ok := s.readOptional(emit, name, dir+"mtu"); ok {
			attrs = attrs.Set("mtu", mtu)
		}
		if s.live {
			prefixes, err := s.interfaceAddrs(ifname)
			if err != nil {
				emit.Warn(fmt.Errorf("inventory %s: addresses: %w", name, err))
			}
			prefixes = slices.DeleteFunc(prefixes, func(p netip.Prefix) bool { return temporary[p.Addr()] })
			slices.SortFunc(prefixes, func(a, b netip.Prefix) int {
				if c := a.Addr().Compare(b.Addr()); c != 0 {
					return c
				}
				return a.Bits() - b.Bits()
			})
			cidrs := make([]string, 0, len(prefixes))
			for _, p := range slices.Compact(prefixes) {
				cidrs = append(cidrs, p.String())
			}
			if len(cidrs) > 0 {
				attrs = attrs.Set("addresses", strings.Join(cidrs, ","))
			}
		}
		emit.Item(s.item(name, attrs), nil)
	}
	return nil
}

// deviceDirs returns the names of the directories (or links to them) in the
// directory rel, sorted, and whether it could be read. A missing or
// unreadable directory is a warning about what (disks, interfaces).
func (s *Source) deviceDirs(emit source.Emitter, what, rel string) ([]string, bool) {
	entries, err := os.ReadDir(s.path(rel))
	if err != nil {
		emit.Warn(fmt.Errorf("inventory %s: %w", what, err))
		return nil, false
	}
	var names []string
	for _, e := range entries {
		fi, err := os.Stat(s.path(rel + "/" + e.Name()))
		if err != nil || !fi.IsDir() {
			continue // bonding_masters, or a device gone meanwhile
		}
		names = append(names, e.Name())
	}
	return names, true
}

// ifaTemporary is the flag of a temporary IPv6 address (RFC 8981) in
// proc/net/if_inet6.
const ifaTemporary = 0x01

// temporaryAddrs returns the temporary IPv6 addresses listed in
// proc/net/if_inet6. A missing file (no IPv6) gives none.
func (s *Source) temporaryAddrs(emit source.Emitter) map[netip.Addr]bool {
	f, err := os.Open(s.path("proc/net/if_inet6"))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			emit.Warn(fmt.Errorf("inventory interfaces: %w", err))
		}
		return nil
	}
	defer f.Close()
	tmp := map[netip.Addr]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address ifindex prefixlen scope flags name
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || len(fields[0]) != 32 {
			continue
		}
		flags, err := strconv.ParseUint(fields[4], 16, 32)
		if err != nil || flags&ifaTemporary == 0 {
			continue
		}
		b, err := hex.DecodeString(fields[0])
		if err != nil {
			continue
		}
		tmp[netip.AddrFrom16([16]byte(b))] = true
	}
	if err := sc.Err(); err != nil {
		emit.Warn(fmt.Errorf("inventory interfaces: read %s: %w", s.path("proc/net/if_inet6"), err))
	}
	return tmp
}

// interfaceAddrs asks the running kernel for an interface's addresses.
func interfaceAddrs(name string) ([]netip.Prefix, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}
