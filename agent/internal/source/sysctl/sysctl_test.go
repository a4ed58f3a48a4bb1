package sysctl

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

const fixture = "testdata/proc/sys"

// fixtureErrors are the read errors of the fixture host, by path below
// fixture: what a real /proc/sys gives for write-only parameters, an unset
// secret, a parameter that vanished (its interface was removed) and one
// failing read.
var fixtureErrors = map[string]syscall.Errno{
	"net/ipv4/route/flush":               syscall.EACCES,
	"net/ipv6/route/flush":               syscall.EACCES,
	"net/ipv6/conf/all/stable_secret":    syscall.EIO,
	"vm/drop_caches":                     syscall.EACCES,
	"vm/compact_memory":                  syscall.EINVAL,
	"vm/stat_refresh":                    syscall.EPERM,
	"kernel/sysrq":                       syscall.EBUSY,
	"net/ipv4/conf/veth1a2b3c/rp_filter": syscall.ENOENT,
}

// newFixture returns a source over the fixture tree whose reads fail as
// fixtureErrors says.
func newFixture(t *testing.T, opt Options) *Source {
	t.Helper()
	opt.ProcSys = fixture
	s, err := New("sysctl", opt)
	if err != nil {
		t.Fatal(err)
	}
	s.readFile = func(p string) ([]byte, error) {
		rel, err := filepath.Rel(fixture, p)
		if err != nil {
			return nil, err
		}
		if errno, ok := fixtureErrors[filepath.ToSlash(rel)]; ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: errno}
		}
		return os.ReadFile(p)
	}
	return s
}

func item(name, value string) baseline.Item {
	return baseline.Item{
		Key:    "sysctl:" + name,
		Source: "sysctl",
		Attrs:  baseline.AttrsFromMap(map[string]string{AttrValue: value}),
	}
}

var sysrqFailed = baseline.Item{
	Key:    "sysctl:kernel.sysrq",
	Source: "sysctl",
	Error:  "open " + filepath.Join(fixture, "kernel", "sysrq") + ": " + syscall.EBUSY.Error(),
}

func TestCollect(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		want     []baseline.Item
		warnings int
	}{
		{
			name: "defaults",
			want: []baseline.Item{
				item("dev.cdrom.info", "CD-ROM information, Id: cdrom.c 3.20 2003/12/17\n\ndrive name: sr0\ndrive speed: 1"),
				item("fs.binfmt_misc.status", "enabled"),
				item("fs.file-max", "9223372036854775807"),
				item("kernel.core_pattern", "|/usr/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h"),
				item("kernel.domainname", "(none)"),
				item("kernel.hostname", "web01"),
				item("kernel.modprobe", "/sbin/modprobe"),
				item("kernel.printk", "4 4 1 7"),
				item("kernel.pty.max", "4096"),
				sysrqFailed,
				item("kernel.tainted", "0"),
				item("net.core.somaxconn", "4096"),
				item("net.ipv4.conf.all.rp_filter", "2"),
				item("net.ipv4.conf.eth0.rp_filter", "1"),
				item("net.ipv4.conf.eth0/100.rp_filter", "0"),
				item("net.ipv4.ip_forward", "1"),
				item("net.ipv4.ip_local_port_range", "32768 60999"),
				item("net.ipv4.tcp_congestion_control", "cubic"),
				item("net.ipv4.tcp_rmem", "4096 131072 6291456"),
				item("net.ipv6.conf.all.disable_ipv6", "0"),
				item("net.netfilter.nf_conntrack_max", "262144"),
				item("vm.overcommit_memory", "0"),
				item("vm.swappiness", "60"),
			},
			warnings: 1,
		},
		{
			name: "include a subtree, exclude within it",
			opt:  Options{Include: []string{"net.ipv4.**"}, Exclude: []string{"net.ipv4.conf.*.rp_filter", "net.ipv4.tcp_*"}},
			want: []baseline.Item{
				item("net.ipv4.ip_forward", "1"),
				item("net.ipv4.ip_local_port_range", "32768 60999"),
			},
		},
		{
			name: "star stays within a segment and matches a dot in a name",
			opt:  Options{Include: []string{"net.ipv4.conf.*.rp_filter", "net.*.ip_forward"}},
			want: []baseline.Item{
				item("net.ipv4.conf.all.rp_filter", "2"),
				item("net.ipv4.conf.eth0.rp_filter", "1"),
				item("net.ipv4.conf.eth0/100.rp_filter", "0"),
				item("net.ipv4.ip_forward", "1"),
			},
		},
		{
			name: "escaped dot in a pattern",
			opt:  Options{Include: []string{"net.ipv4.conf.eth0/100.*"}},
			want: []baseline.Item{item("net.ipv4.conf.eth0/100.rp_filter", "0")},
		},
		{
			name: "default excludes win over include",
			opt:  Options{Include: []string{"kernel.random.*", "fs.file-nr", "kernel.pty.*"}},
			want: []baseline.Item{item("kernel.pty.max", "4096")},
		},
		{
			name: "no default excludes",
			opt:  Options{Include: []string{"kernel.random.*", "fs.file-nr", "fs.quota.**", "net.*.route.flush", "vm.*"}, NoDefaultExclude: true},
			want: []baseline.Item{
				item("fs.file-nr", "1344 0 9223372036854775807"),
				item("fs.quota.lookups", "0"),
				item("kernel.random.boot_id", "7c1b3e0a-52f4-4d7e-9a0f-0d6f3b9c2e11"),
				item("kernel.random.entropy_avail", "256"),
				item("kernel.random.uuid", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
				item("vm.overcommit_memory", "0"),
				item("vm.swappiness", "60"),
			},
		},
		{
			name: "double star in the middle",
			opt:  Options{Include: []string{"kernel.**.flags", "kernel.**.max"}, NoDefaultExclude: true},
			want: []baseline.Item{
				item("kernel.pty.max", "4096"),
				item("kernel.sched_domain.cpu0.domain0.flags", "SD_BALANCE_NEWIDLE SD_BALANCE_EXEC"),
			},
		},
		{
			name: "exclude everything",
			opt:  Options{Exclude: []string{"**"}},
		},
		{
			name: "include matches nothing",
			opt:  Options{Include: []string{"net.ipv4"}},
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
			if len(res.Warnings) != tt.warnings {
				t.Errorf("warnings = %v, want %d", res.Warnings, tt.warnings)
			}
			for _, w := range res.Warnings {
				if !errors.Is(w, syscall.EBUSY) {
					t.Errorf("warning %v does not wrap EBUSY", w)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		opt     Options
		wantErr bool
	}{
		{name: "zero options", src: "sysctl"},
		{name: "good patterns", src: "sysctl", opt: Options{Include: []string{"net.**", "kernel.[a-m]*"}, Exclude: []string{"net.ipv4.conf.*.rp_filter"}}},
		{name: "empty name", src: "", wantErr: true},
		{name: "bad class", src: "sysctl", opt: Options{Include: []string{"net.[ipv4"}}, wantErr: true},
		{name: "empty pattern", src: "sysctl", opt: Options{Exclude: []string{""}}, wantErr: true},
		{name: "empty segment", src: "sysctl", opt: Options{Exclude: []string{"net..ipv4"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.src, tt.opt)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if s.Name() != tt.src || s.Kind() != baseline.KindSysctl {
				t.Errorf("Name, Kind = %q, %q", s.Name(), s.Kind())
			}
			if s.root != DefaultProcSys {
				t.Errorf("root = %q, want %q", s.root, DefaultProcSys)
			}
		})
	}
}

func TestNormalise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"\n", ""},
		{"1\n", "1"},
		{"4096\t131072\t6291456\n", "4096 131072 6291456"},
		{"  a \t  b  \n\n", "a b"},
		{"a\n\nb\t\tc\n", "a\n\nb c"},
	}
	for _, tt := range tests {
		if got := normalise([]byte(tt.in)); got != tt.want {
			t.Errorf("normalise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCollectMissingProcSys(t *testing.T) {
	s, err := New("sysctl", Options{ProcSys: filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	res := sourcetest.Collect(t, s)
	if !errors.Is(res.Err, fs.ErrNotExist) {
		t.Errorf("Collect = %v, want a not-exist error", res.Err)
	}
	if len(res.Items) != 0 {
		t.Errorf("items = %v, want none", res.Items)
	}
}

func TestCollectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &sourcetest.Recorder{}
	err := newFixture(t, Options{}).Collect(ctx, rec)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Collect = %v, want context.Canceled", err)
	}
	if n := len(rec.Result().Items); n != 0 {
		t.Errorf("%d items after cancel, want none", n)
	}
}

// TestRealHost reads this machine's /proc/sys twice: with the default
// excludes, nothing may change in between.
func TestRealHost(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv4/ip_forward"); err != nil {
		t.Skipf("no /proc/sys here: %v", err)
	}
	s, err := New("sysctl", Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := sourcetest.Collect(t, s)
	if first.Err != nil {
		t.Fatalf("Collect: %v", first.Err)
	}
	second := sourcetest.Collect(t, s)
	if second.Err != nil {
		t.Fatalf("Collect: %v", second.Err)
	}
	if diff := cmp.Diff(first.Items, second.Items); diff != "" {
		t.Errorf("two runs differ (-first +second):\n%s", diff)
	}
	it := first.Lookup("sysctl:net.ipv4.ip_forward")
	if it == nil {
		t.Fatalf("no sysctl:net.ipv4.ip_forward among %d items", len(first.Items))
	}
	if v, _ := it.Attrs.Get(AttrValue); v != "0" && v != "1" {
		t.Errorf("net.ipv4.ip_forward = %q, want 0 or 1", v)
	}
	for _, w := range first.Warnings {
		t.Logf("warning: %v", w)
	}
}
