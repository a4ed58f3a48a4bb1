package inventory

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

// item builds an expected item; attrs alternate names and values.
func item(name string, attrs ...string) baseline.Item {
	m := map[string]string{}
	for i := 0; i < len(attrs); i += 2 {
		m[attrs[i]] = attrs[i+1]
	}
	it := baseline.Item{Key: "inventory:" + name, Source: "inventory"}
	if len(m) > 0 {
		it.Attrs = baseline.AttrsFromMap(m)
	}
	return it
}

// p is a fixture path as the host's file system spells it.
func p(rel string) string { return filepath.FromSlash(rel) }

var serverItems = []baseline.Item{
	item("cpu", "count", "4", "model", "Intel(R) Xeon(R) E-2236 CPU @ 3.40GHz"),
	item("disk/dm-0", "rotational", "0", "size_bytes", "479567282176"),
	item("disk/nvme0n1", "model", "Samsung SSD 980 PRO 500GB", "rotational", "0", "size_bytes", "500107862016"),
	item("disk/sda", "model", "SAMSUNG MZ7LH480", "rotational", "0", "size_bytes", "480103981056"),
	item("disk/sdb", "model", "ST2000NM0055-1V4", "rotational", "1", "size_bytes", "2000398934016"),
	item("interface/docker0", "mac", "02:42:5e:1a:2b:3c", "mtu", "1500"),
	item("interface/eth0", "mac", "52:54:00:12:34:56", "mtu", "1500"),
	item("interface/ifb0", "mtu", "1500"),
	item("interface/wg0", "mtu", "1420"),
	item("kernel", "arch", "x86_64", "release", "5.15.0-105-generic", "version", "#115-Ubuntu SMP Mon Apr 15 09:52:04 UTC 2024"),
	item("machine", "hostname", "web01", "machine_id", "4f2a9c1e8b7d4e3fa0c5d6b7e8f90123"),
	item("memory", "total", "33376661504", "total_human", "31.1 GiB"),
	item("os", "id", "ubuntu", "name", "Ubuntu", "pretty_name", "Ubuntu 22.04.4 LTS", "version_id", "22.04"),
}

func TestCollect(t *testing.T) {
	cpuDir := p("testdata/odd/proc/cpuinfo")
	tests := []struct {
		name     string
		root     string
		want     []baseline.Item
		warnings []string // each warning in order
	}{
		{name: "server", root: "testdata/server", want: serverItems},
		{
			name: "container",
			root: "testdata/container",
			want: []baseline.Item{
				item("cpu", "count", "2"),
				item("kernel", "arch", runtime.GOARCH, "release", "6.1.0-18-arm64", "version", "#1 SMP Debian 6.1.76-1 (2024-02-01)"),
				item("machine", "hostname", "3f9c2a1b7d4e"),
				item("memory", "total", "4123168768", "total_human", "3.8 GiB"),
				item("os", "id", "alpine", "name", "Alpine Linux", "pretty_name", "Alpine Linux v3.19", "version_id", "3.19.1"),
			},
			warnings: []string{
				"inventory machine: open " + p("testdata/container/etc/machine-id") + ": no such file or directory",
				"inventory disks: open " + p("testdata/container/sys/block") + ": no such file or directory",
				"inventory interfaces: open " + p("testdata/container/sys/class/net") + ": no such file or directory",
			},
		},
		{
			name: "odd",
			root: "testdata/odd",
			want: []baseline.Item{
				{Key: "inventory:cpu", Source: "inventory", Error: "read " + cpuDir + ": is a directory"},
				item("disk/sr0", "model", "QEMU DVD-ROM", "size_bytes", "0"),
				item("machine", "machine_id", "0123456789abcdef0123456789abcdef"),
				item("os", "id", "example", "name", "Example OS", "pretty_name", "Example \"Edge\" $release \\ `x`"),
			},
			warnings: []string{
				"inventory kernel: open " + p("testdata/odd/proc/sys/kernel/version") + ": no such file or directory",
				"inventory cpu: read " + cpuDir + ": is a directory",
				"inventory memory: " + p("testdata/odd/proc/meminfo") + ": no MemTotal line in kB",
				"inventory machine: open " + p("testdata/odd/proc/sys/kernel/hostname") + ": no such file or directory",
				"inventory disk/sdy: " + p("testdata/odd/sys/block/sdy/size") + `: strconv.ParseUint: parsing "lots": invalid syntax`,
				"inventory disk/sdz: open " + p("testdata/odd/sys/block/sdz/size") + ": no such file or directory",
			},
		},
		{
			name: "empty root",
			root: "testdata/missing",
			warnings: []string{
				"inventory os: open " + p("testdata/missing/etc/os-release") + ": no such file or directory",
				"inventory kernel: open " + p("testdata/missing/proc/sys/kernel/osrelease") + ": no such file or directory",
				"inventory cpu: open " + p("testdata/missing/proc/cpuinfo") + ": no such file or directory",
				"inventory memory: open " + p("testdata/missing/proc/meminfo") + ": no such file or directory",
				"inventory machine: open " + p("testdata/missing/etc/machine-id") + ": no such file or directory",
				"inventory machine: open " + p("testdata/missing/proc/sys/kernel/hostname") + ": no such file or directory",
				"inventory disks: open " + p("testdata/missing/sys/block") + ": no such file or directory",
				"inventory interfaces: open " + p("testdata/missing/sys/class/net") + ": no such file or directory",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New("inventory", Options{Root: tt.root})
			if err != nil {
				t.Fatal(err)
			}
			res := sourcetest.Collect(t, s)
			if res.Err != nil {
				t.Fatalf("Collect: %v", res.Err)
			}
			if diff := cmp.Diff(tt.want, res.Items); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			var warnings []string
			for _, w := range res.Warnings {
				warnings = append(warnings, w.Error())
			}
			if diff := cmp.Diff(tt.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCollectAddresses pretends the server fixture is the running host, to
// see interface addresses observed: sorted, without duplicates and without
// the temporary address proc/net/if_inet6 flags.
func TestCollectAddresses(t *testing.T) {
	s, err := New("inventory", Options{Root: "testdata/server"})
	if err != nil {
		t.Fatal(err)
	}
	s.live = true
	s.interfaceAddrs = func(name string) ([]netip.Prefix, error) {
		switch name {
		case "eth0":
			return []netip.Prefix{
				netip.MustParsePrefix("fe80::5054:ff:fe12:3456/64"),
				netip.MustParsePrefix("2001:db8::a1b2:c3d4:e5f6:789/64"),
				netip.MustParsePrefix("2001:db8::5054:ff:fe12:3456/64"),
				netip.MustParsePrefix("10.0.2.15/24"),
				netip.MustParsePrefix("10.0.2.100/32"),
				netip.MustParsePrefix("10.0.2.15/24"),
			}, nil
		case "docker0":
			return []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}, nil
		case "wg0":
			return nil, errors.New("route ip+net: no such network interface")
		}
		return nil, nil
	}
	want := []baseline.Item{
		item("interface/docker0", "addresses", "172.17.0.1/16", "mac", "02:42:5e:1a:2b:3c", "mtu", "1500"),
		item("interface/eth0", "addresses", "10.0.2.15/24,10.0.2.100/32,2001:db8::5054:ff:fe12:3456/64,fe80::5054:ff:fe12:3456/64", "mac", "52:54:00:12:34:56", "mtu", "1500"),
		item("interface/ifb0", "mtu", "1500"),
		item("interface/wg0", "mtu", "1420"),
	}
	res := sourcetest.Collect(t, s)
	if res.Err != nil {
		t.Fatalf("Collect: %v", res.Err)
	}
	var got []baseline.Item
	for _, it := range res.Items {
		if strings.HasPrefix(it.Key, "inventory:interface/") {
			got = append(got, it)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("interfaces (-want +got):\n%s", diff)
	}
	wantWarn := []string{"inventory interface/wg0: addresses: route ip+net: no such network interface"}
	var warnings []string
	for _, w := range res.Warnings {
		warnings = append(warnings, w.Error())
	}
	if diff := cmp.Diff(wantWarn, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "plain", in: "ID=debian\nVERSION_ID=12\n", want: map[string]string{"ID": "debian", "VERSION_ID": "12"}},
		{name: "double quotes", in: `NAME="Debian GNU/Linux"`, want: map[string]string{"NAME": "Debian GNU/Linux"}},
		{name: "single quotes keep backslashes", in: `NAME='a\"b'`, want: map[string]string{"NAME": `a\"b`}},
		{name: "escapes", in: `X="a\"b\\c\$d\` + "`" + `e\nf"`, want: map[string]string{"X": "a\"b\\c$d`e\\nf"}},
		{name: "comments and junk", in: "# comment\n\n  ID=arch  \nnot a pair\n", want: map[string]string{"ID": "arch"}},
		{name: "lone quote", in: `ID="`, want: map[string]string{"ID": `"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseOSRelease(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   uint64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{4123168768, "3.8 GiB"},
		{25276510208, "23.5 GiB"},
		{1 << 40, "1.0 TiB"},
		{1<<64 - 1, "16.0 EiB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.in); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		wantRoot string
		wantLive bool
	}{
		{name: "zero", wantRoot: filepath.Clean("/"), wantLive: true},
		{name: "slash", opt: Options{Root: "/"}, wantRoot: filepath.Clean("/"), wantLive: true},
		{name: "fixture", opt: Options{Root: "testdata/server/"}, wantRoot: p("testdata/server")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New("inventory", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != "inventory" || s.Kind() != baseline.KindInventory || s.root != tt.wantRoot || s.live != tt.wantLive {
				t.Errorf("New = name %q kind %q root %q live %v", s.Name(), s.Kind(), s.root, s.live)
			}
		})
	}
	if _, err := New("", Options{}); err == nil {
		t.Error("New with an empty name succeeded")
	}
}

func TestCollectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := New("inventory", Options{Root: "testdata/server"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &sourcetest.Recorder{}
	if err := s.Collect(ctx, rec); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect = %v, want context.Canceled", err)
	}
	if n := len(rec.Result().Items); n != 0 {
		t.Errorf("%d items after cancel, want none", n)
	}
}

// TestRealHost documents this machine twice: the core items exist, and
// nothing changes in between.
func TestRealHost(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	s, err := New("inventory", Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := sourcetest.Collect(t, s)
	if first.Err != nil {
		t.Fatalf("Collect: %v", first.Err)
	}
	for _, key := range []string{"inventory:os", "inventory:kernel", "inventory:memory"} {
		it := first.Lookup(key)
		if it == nil {
			t.Errorf("no %s", key)
			continue
		}
		if it.Error != "" || len(it.Attrs) == 0 {
			t.Errorf("%s = %+v, want attributes and no error", key, it)
		}
	}
	second := sourcetest.Collect(t, s)
	if diff := cmp.Diff(first.Items, second.Items); diff != "" {
		t.Errorf("two runs differ (-first +second):\n%s", diff)
	}
	for _, it := range first.Items {
		t.Logf("%s %v", it.Key, it.Attrs.Map())
	}
	for _, w := range first.Warnings {
		t.Logf("warning: %v", w)
	}
}
