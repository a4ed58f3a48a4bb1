package ports

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

// newFixture returns a source over fixture tables, which were written on a
// little-endian host.
func newFixture(t *testing.T, opt Options) *Source {
	t.Helper()
	s, err := New("ports", opt)
	if err != nil {
		t.Fatal(err)
	}
	s.order = binary.LittleEndian
	return s
}

// item builds an expected item; attrs alternate names and values.
func item(key string, attrs ...string) baseline.Item {
	m := map[string]string{}
	for i := 0; i < len(attrs); i += 2 {
		m[attrs[i]] = attrs[i+1]
	}
	return baseline.Item{Key: "port:" + key, Source: "ports", Attrs: baseline.AttrsFromMap(m)}
}

func TestCollect(t *testing.T) {
	web01 := Options{ProcNet: "testdata/web01/proc/net", ProcRoot: "testdata/web01/proc"}
	resolve := web01
	resolve.ResolveProcesses = true
	noProcRoot := resolve
	noProcRoot.ProcRoot = "testdata/missing"

	tables := []baseline.Item{
		item("tcp/22", AttrAddresses, "0.0.0.0,::", AttrUID, "0"),
		item("tcp/443", AttrAddresses, "0.0.0.0", AttrUID, "0"),
		item("tcp/5432", AttrAddresses, "127.0.0.1,::1", AttrUID, "112"),
		item("tcp/80", AttrAddresses, "0.0.0.0,::", AttrUID, "0"),
		item("tcp/8080", AttrAddresses, "127.0.0.1", AttrUID, "1000"),
		item("tcp/9100", AttrAddresses, "127.0.0.1", AttrUID, "65534"),
		item("udp/323", AttrAddresses, "127.0.0.1,::1", AttrUID, "0"),
		item("udp/53", AttrAddresses, "10.0.2.15,127.0.0.53", AttrUID, "0,101"),
		item("udp/546", AttrAddresses, "fe80::5054:ff:fe12:3456", AttrUID, "0"),
		item("udp/68", AttrAddresses, "0.0.0.0", AttrUID, "0"),
	}

	tests := []struct {
		name     string
		opt      Options
		want     []baseline.Item
		warnings []string // a substring of each warning, in order
	}{
		{name: "tables only", opt: web01, want: tables},
		{
			name: "with processes",
			opt:  resolve,
			want: []baseline.Item{
				item("tcp/22", AttrAddresses, "0.0.0.0,::", AttrUID, "0", AttrProcess, "sshd"),
				item("tcp/443", AttrAddresses, "0.0.0.0", AttrUID, "0", AttrProcess, "nginx"),
				item("tcp/5432", AttrAddresses, "127.0.0.1,::1", AttrUID, "112", AttrProcess, "postgres"),
				item("tcp/80", AttrAddresses, "0.0.0.0,::", AttrUID, "0", AttrProcess, "nginx"),
				item("tcp/8080", AttrAddresses, "127.0.0.1", AttrUID, "1000"),
				item("tcp/9100", AttrAddresses, "127.0.0.1", AttrUID, "65534", AttrProcess, "node_exporter"),
				item("udp/323", AttrAddresses, "127.0.0.1,::1", AttrUID, "0", AttrProcess, "chronyd"),
				item("udp/53", AttrAddresses, "10.0.2.15,127.0.0.53", AttrUID, "0,101", AttrProcess, "dnsmasq,systemd-resolve"),
				item("udp/546", AttrAddresses, "fe80::5054:ff:fe12:3456", AttrUID, "0", AttrProcess, "dhclient"),
				item("udp/68", AttrAddresses, "0.0.0.0", AttrUID, "0", AttrProcess, "dhclient"),
			},
		},
		{
			name:     "proc root missing",
			opt:      noProcRoot,
			want:     tables,
			warnings: []string{"resolve processes: open testdata/missing: "},
		},
		{
			name: "no IPv6 tables",
			opt:  Options{ProcNet: "testdata/noipv6/net"},
			want: []baseline.Item{
				item("tcp/22", AttrAddresses, "0.0.0.0", AttrUID, "0"),
				item("udp/161", AttrAddresses, "192.168.1.10", AttrUID, "0"),
			},
		},
		{
			name: "malformed lines",
			opt:  Options{ProcNet: "testdata/malformed/net"},
			want: []baseline.Item{
				item("tcp/22", AttrAddresses, "0.0.0.0", AttrUID, "0"),
				item("tcp/8080", AttrAddresses, "0.0.0.0", AttrUID, "1000"),
			},
			warnings: []string{
				filepath.FromSlash("testdata/malformed/net/tcp") + ":3: 4 fields",
				filepath.FromSlash("testdata/malformed/net/tcp") + `:4: address "0000000G:0050"`,
				filepath.FromSlash("testdata/malformed/net/tcp") + `:5: uid "abc"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sourcetest.Collect(t, newFixture(t, tt.opt))
			if res.Err != nil {
				t.Fatalf("Collect: %v", res.Err)
			}
			if diff := cmp.Diff(tt.want, res.Items); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if len(res.Warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %v, want %d", res.Warnings, len(tt.warnings))
			}
			for i, w := range res.Warnings {
				if !strings.Contains(w.Error(), tt.warnings[i]) {
					t.Errorf("warning %d = %q, want it to contain %q", i, w, tt.warnings[i])
				}
			}
		})
	}
}

func TestCollectFails(t *testing.T) {
	tests := []struct {
		name    string
		procNet string
		want    string
	}{
		{name: "missing directory", procNet: "testdata/missing", want: "ports: stat testdata/missing: "},
		{name: "no tables", procNet: "testdata/web01/proc/1", want: "ports: no socket table (tcp, tcp6, udp, udp6) in testdata/web01/proc/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sourcetest.Collect(t, newFixture(t, Options{ProcNet: tt.procNet}))
			if res.Err == nil || !strings.HasPrefix(res.Err.Error(), filepath.FromSlash(tt.want)) {
				t.Errorf("Collect = %v, want an error starting %q", res.Err, tt.want)
			}
			if len(res.Items) != 0 {
				t.Errorf("items = %v, want none", res.Items)
			}
		})
	}
}

func TestCollectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &sourcetest.Recorder{}
	s := newFixture(t, Options{ProcNet: "testdata/web01/proc/net", ProcRoot: "testdata/web01/proc", ResolveProcesses: true})
	if err := s.Collect(ctx, rec); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect = %v, want context.Canceled", err)
	}
	if n := len(rec.Result().Items); n != 0 {
		t.Errorf("%d items after cancel, want none", n)
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in       string
		order    binary.ByteOrder
		wantAddr string
		wantPort uint16
		wantErr  bool
	}{
		{in: "00000000:0016", order: binary.LittleEndian, wantAddr: "0.0.0.0", wantPort: 22},
		{in: "0100007F:1538", order: binary.LittleEndian, wantAddr: "127.0.0.1", wantPort: 5432},
		{in: "3500007F:0035", order: binary.LittleEndian, wantAddr: "127.0.0.53", wantPort: 53},
		{in: "7F000001:0050", order: binary.BigEndian, wantAddr: "127.0.0.1", wantPort: 80},
		{in: "00000000000000000000000000000000:0050", order: binary.LittleEndian, wantAddr: "::", wantPort: 80},
		{in: "00000000000000000000000001000000:1538", order: binary.LittleEndian, wantAddr: "::1", wantPort: 5432},
		{in: "00000000000000000000000000000001:1538", order: binary.BigEndian, wantAddr: "::1", wantPort: 5432},
		{in: "0000000000000000FFFF00000100007F:238C", order: binary.LittleEndian, wantAddr: "127.0.0.1", wantPort: 9100},
		{in: "000080FE00000000FF005450563412FE:0222", order: binary.LittleEndian, wantAddr: "fe80::5054:ff:fe12:3456", wantPort: 546},
		{in: "B80D0120000000000000000015000000:FFFF", order: binary.LittleEndian, wantAddr: "2001:db8::15", wantPort: 65535},
		{in: "0100007F", order: binary.LittleEndian, wantErr: true},
		{in: "0100007F:10000", order: binary.LittleEndian, wantErr: true},
		{in: "0100007:0016", order: binary.LittleEndian, wantErr: true},
		{in: "0100007X:0016", order: binary.LittleEndian, wantErr: true},
		{in: "0000000001000000:0016", order: binary.LittleEndian, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s := &Source{order: tt.order}
			addr, port, err := s.parseEndpoint(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if addr.String() != tt.wantAddr || port != tt.wantPort {
				t.Errorf("got %s port %d, want %s port %d", addr, port, tt.wantAddr, tt.wantPort)
			}
		})
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[]", 0, false},
		{"socket:[12x]", 0, false},
		{"socket:[12345", 0, false},
		{"pipe:[12345]", 0, false},
		{"/dev/null", 0, false},
	}
	for _, tt := range tests {
		got, ok := socketInode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("socketInode(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNew(t *testing.T) {
	s, err := New("ports", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "ports" || s.Kind() != baseline.KindPort || s.procNet != DefaultProcNet || s.procRoot != DefaultProcRoot || s.resolve {
		t.Errorf("New with zero Options = %+v", s)
	}
	if _, err := New("", Options{}); err == nil {
		t.Error("New with an empty name succeeded")
	}
}

// TestRealHost listens on loopback ports and looks for them in this
// machine's tables.
func TestRealHost(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc/net/tcp here: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := strings.TrimSpace(string(comm))

	s, err := New("ports", Options{ResolveProcesses: true})
	if err != nil {
		t.Fatal(err)
	}
	res := sourcetest.Collect(t, s)
	if res.Err != nil {
		t.Fatalf("Collect: %v", res.Err)
	}
	for _, tt := range []struct {
		key  string
		addr net.Addr
	}{
		{"port:tcp/", ln.Addr()},
		{"port:udp/", pc.LocalAddr()},
	} {
		ap := netip.MustParseAddrPort(tt.addr.String())
		key := tt.key + strconv.Itoa(int(ap.Port()))
		it := res.Lookup(key)
		if it == nil {
			t.Errorf("no %s among %d items", key, len(res.Items))
			continue
		}
		addrs, _ := it.Attrs.Get(AttrAddresses)
		if !contains(addrs, "127.0.0.1") {
			t.Errorf("%s: addresses = %q, want 127.0.0.1 among them", key, addrs)
		}
		uid, _ := it.Attrs.Get(AttrUID)
		if !contains(uid, strconv.Itoa(os.Getuid())) {
			t.Errorf("%s: uid = %q, want %d among them", key, uid, os.Getuid())
		}
		procs, _ := it.Attrs.Get(AttrProcess)
		if !contains(procs, self) {
			t.Errorf("%s: process = %q, want %q among them", key, procs, self)
		}
	}
	for _, w := range res.Warnings {
		t.Logf("warning: %v", w)
	}
}

// contains reports whether the comma-separated list holds v.
func contains(list, v string) bool {
	for _, e := range strings.Split(list, ",") {
		if e == v {
			return true
		}
	}
	return false
}
