package ports

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// Attributes of a port item.
const (
	// AttrAddresses is the comma-separated, sorted list of local addresses
	// the port is bound to: "0.0.0.0", "::", "127.0.0.1", "::1" … IPv4
	// addresses in IPv6 form (::ffff:127.0.0.1) are shown as IPv4.
	AttrAddresses = "addresses"
	// AttrUID is the comma-separated, sorted list of the sockets' owner
	// user ids.
	AttrUID = baseline.AttrUID
	// AttrProcess is the comma-separated, sorted list of the names
	// (/proc/PID/comm) of the processes holding the sockets. It is set only
	// with Options.ResolveProcesses and when some owner was found.
	AttrProcess = "process"
)

// Defaults for Options.
const (
	// DefaultProcNet is where the kernel shows the socket tables of the
	// agent's network namespace.
	DefaultProcNet = "/proc/net"
	// DefaultProcRoot is the host's proc file system.
	DefaultProcRoot = "/proc"
)

// Options configures a ports source. The zero value reads the host's socket
// tables without resolving processes.
type Options struct {
	// ProcNet is the directory holding the socket tables tcp, tcp6, udp and
	// udp6; "" means DefaultProcNet. A table that does not exist (tcp6 when
	// IPv6 is disabled) is skipped.
	ProcNet string
	// ResolveProcesses adds the AttrProcess attribute. It reads the open
	// files of every process under ProcRoot, so it needs root to see other
	// users' processes; processes it may not look into are reported in one
	// warning.
	ResolveProcesses bool
	// ProcRoot is the proc file system searched for the processes holding
	// the sockets; "" means DefaultProcRoot. Used only with
	// ResolveProcesses.
	ProcRoot string
}

// Source observes listening ports. It implements source.Source.
type Source struct {
	name     string
	procNet  string
	procRoot string
	resolve  bool
	// order is the byte order of the words in the tables' hex addresses: the
	// host's own. Tests set it to the order of the fixtures.
	order binary.ByteOrder
}

var _ source.Source = (*Source)(nil)

// New returns a source named name that reads the tables opt points at.
func New(name string, opt Options) (*Source, error) {
	if name == "" {
		return nil, errors.New("ports source: empty name")
	}
	s := &Source{name: name, procNet: opt.ProcNet, procRoot: opt.ProcRoot, resolve: opt.ResolveProcesses, order: binary.NativeEndian}
	if s.procNet == "" {
		s.procNet = DefaultProcNet
	}
	if s.procRoot == "" {
		s.procRoot = DefaultProcRoot
	}
	return s, nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Kind returns baseline.KindPort.
func (s *Source) Kind() string { return baseline.KindPort }

// tables are the socket tables read, with the protocol each counts as.
var tables = []struct{ file, proto string }{
	{"tcp", "tcp"},
	{"tcp6", "tcp"},
	{"udp", "udp"},
	{"udp6", "udp"},
}

// Socket states, as the tables write them.
const (
	stateListen = "0A" // TCP_LISTEN
	stateClose  = "07" // TCP_CLOSE: an unconnected UDP socket
)

// socket is one served socket from a table.
type socket struct {
	proto string
	port  uint16
	addr  netip.Addr
	uid   uint64
	inode uint64
}

// port gathers the sockets of one protocol and port.
type port struct {
	addrs  []netip.Addr
	uids   []uint64
	inodes []uint64
}

// Collect emits one item per served protocol and port. It fails when
// ProcNet cannot be read or holds none of the tables; an unreadable table or
// a malformed line is a warning.
func (s *Source) Collect(ctx context.Context, emit source.Emitter) error {
	if _, err := os.Stat(s.procNet); err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	ports := map[string]*port{}
	found := 0
	for _, tb := range tables {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(s.procNet, tb.file)
		socks, err := s.readTable(p, tb.proto, emit)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found++
		if err != nil {
			emit.Warn(fmt.Errorf("ports: %w", err))
			continue
		}
		for _, sk := range socks {
			key := sk.proto + "/" + strconv.Itoa(int(sk.port))
			pt := ports[key]
			if pt == nil {
				pt = &port{}
				ports[key] = pt
			}
			pt.addrs = append(pt.addrs, sk.addr)
			pt.uids = append(pt.uids, sk.uid)
			if sk.inode != 0 {
				pt.inodes = append(pt.inodes, sk.inode)
			}
		}
	}
	if found == 0 {
		return fmt.Errorf("ports: no socket table (tcp, tcp6, udp, udp6) in %s", s.procNet)
	}
	var owners map[uint64][]string
	if s.resolve && len(ports) > 0 {
		var err error
		if owners, err = s.owners(ctx, ports, emit); err != nil {
			return err
		}
	}
	for key, pt := range ports {
		slices.SortFunc(pt.addrs, netip.Addr.Compare)
		addrs := make([]string, 0, len(pt.addrs))
		for _, a := range slices.Compact(pt.addrs) {
			addrs = append(addrs, a.String())
		}
		slices.Sort(pt.uids)
		uids := make([]string, 0, len(pt.uids))
		for _, u := range slices.Compact(pt.uids) {
			uids = append(uids, strconv.FormatUint(u, 10))
		}
		attrs := baseline.Attrs{}.
			Set(AttrAddresses, strings.Join(addrs, ",")).
			Set(AttrUID, strings.Join(uids, ","))
		if s.resolve {
			var names []string
			for _, ino := range pt.inodes {
				names = append(names, owners[ino]...)
			}
			slices.Sort(names)
			if names = slices.Compact(names); len(names) > 0 {
				attrs = attrs.Set(AttrProcess, strings.Join(names, ","))
			}
		}
		emit.Item(baseline.Item{Key: baseline.Key(baseline.KindPort, key), Source: s.name, Attrs: attrs}, nil)
	}
	return nil
}

// readTable returns the served sockets of one table. A malformed line is a
// warning naming the file and line.
func (s *Source) readTable(path, proto string, emit source.Emitter) ([]socket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var socks []socket
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if n == 1 {
			continue // the header
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		sk, ok, err := s.parseLine(line, proto)
		if err != nil {
			emit.Warn(fmt.Errorf("ports: %s:%d: %w", path, n, err))
			continue
		}
		if ok {
			socks = append(socks, sk)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return socks, nil
}

// parseLine parses one table line:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
//
// and reports whether it is a served socket: a listening TCP socket, or a
// UDP socket with no remote end.
func (s *Source) parseLine(line, proto string) (socket, bool, error) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return socket{}, false, fmt.Errorf("%d fields, want at least 10", len(f))
	}
	st := f[3]
	switch {
	case proto == "tcp" && st != stateListen:
		return socket{}, false, nil
	case proto == "udp" && (st != stateClose || strings.Trim(f[2], "0:") != ""):
		return socket{}, false, nil
	}
	addr, port, err := s.parseEndpoint(f[1])
	if err != nil {
		return socket{}, false, err
	}
	uid, err := strconv.ParseUint(f[7], 10, 32)
	if err != nil {
		return socket{}, false, fmt.Errorf("uid %q: %w", f[7], err)
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return socket{}, false, fmt.Errorf("inode %q: %w", f[9], err)
	}
	return socket{proto: proto, port: port, addr: addr, uid: uid, inode: inode}, true, nil
}

// parseEndpoint decodes "0100007F:0016": the address as 32-bit words, each
// written as a hex number in the host's byte order, and the port as a hex
// number.
func (s *Source) parseEndpoint(ep string) (netip.Addr, uint16, error) {
	ah, ph, ok := strings.Cut(ep, ":")
	if !ok {
		return netip.Addr{}, 0, fmt.Errorf("address %q: no port", ep)
	}
	port, err := strconv.ParseUint(ph, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("address %q: port: %w", ep, err)
	}
	b, err := hex.DecodeString(ah)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.Addr{}, 0, fmt.Errorf("address %q: want 8 or 32 hex digits", ep)
	}
	for i := 0; i < len(b); i += 4 {
		s.order.PutUint32(b[i:], binary.BigEndian.Uint32(b[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr.Unmap(), uint16(port), nil
}

// owners finds the names of the processes holding the ports' sockets, by
// socket inode. It fails only when ctx is done: an unreadable ProcRoot is a
// warning, processes that exit meanwhile are ignored, and processes whose
// open files may not be read are counted in one warning.
func (s *Source) owners(ctx context.Context, ports map[string]*port, emit source.Emitter) (map[uint64][]string, error) {
	want := map[uint64]bool{}
	for _, pt := range ports {
		for _, ino := range pt.inodes {
			want[ino] = true
		}
	}
	entries, err := os.ReadDir(s.procRoot)
	if err != nil {
		emit.Warn(fmt.Errorf("ports: resolve processes: %w", err))
		return nil, nil
	}
	owners := map[uint64][]string{}
	denied := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := strconv.ParseUint(e.Name(), 10, 64); err != nil {
			continue
		}
		dir := filepath.Join(s.procRoot, e.Name())
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		switch {
		case errors.Is(err, fs.ErrPermission):
			denied++
			continue
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			emit.Warn(fmt.Errorf("ports: resolve processes: %w", err))
			continue
		}
		var held []uint64
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil {
				continue // closed meanwhile
			}
			if ino, ok := socketInode(target); ok && want[ino] {
				held = append(held, ino)
			}
		}
		if len(held) == 0 {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil {
			continue // exited meanwhile
		}
		name := strings.TrimRight(string(comm), "\n")
		for _, ino := range held {
			owners[ino] = append(owners[ino], name)
		}
	}
	if denied > 0 {
		emit.Warn(fmt.Errorf("ports: resolve processes: may not read the open files of %d processes in %s; their ports show no process", denied, s.procRoot))
	}
	return owners, nil
}

// socketInode parses a socket's fd link target, "socket:[12345]".
func socketInode(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	return ino, err == nil
}
