package pkgtx

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The logs under testdata follow the format of Debian 12 (dpkg 1.21) and
// Rocky Linux 9 (dnf 4.14) runs: an upgrade, an installation, a removal
// with purge and a downgrade on each.

func TestPkgtxDpkgLog(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation(dpkgLogLayout, s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []PackageChange
	}{
		{"upgrade", at("2025-01-14 02:15:03"), at("2025-01-14 02:15:08"), []PackageChange{
			{Name: "libssl3", Arch: "amd64", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: ActionUpgrade},
			{Name: "openssl", Arch: "amd64", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: ActionUpgrade},
		}},
		{"install", at("2025-01-14 09:41:11"), at("2025-01-14 09:41:15"), []PackageChange{
			{Name: "nginx", Arch: "amd64", To: "1.22.1-9+deb12u1", Action: ActionInstall},
			{Name: "nginx-common", Arch: "all", To: "1.22.1-9+deb12u1", Action: ActionInstall},
		}},
		{"purge", at("2025-01-15 11:03:26"), at("2025-01-15 11:03:28"), []PackageChange{
			{Name: "nano", Arch: "amd64", From: "7.2-1+deb12u1", Action: ActionPurge},
		}},
		{"downgrade, open end", at("2025-01-15 11:20:40").Add(300 * time.Millisecond), time.Time{}, []PackageChange{
			{Name: "curl", Arch: "amd64", From: "7.88.1-10+deb12u8", To: "7.88.1-10+deb12u5", Action: ActionDowngrade},
		}},
		{"between runs", at("2025-01-14 03:00:00"), at("2025-01-14 09:00:00"), []PackageChange{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open("testdata/dpkg.log")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := parseDpkgLog(f, loc, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPkgtxDnfLog(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name      string
		from, to  time.Time
		want      []PackageChange
		wantFirst time.Time
	}{
		{"upgrade, install, erase", at("2025-01-14T02:30:14Z"), at("2025-01-14T02:31:00Z"), []PackageChange{
			{Name: "nano", Arch: "x86_64", From: "5.6.1-6.el9", Action: ActionRemove},
			{Name: "nginx", Arch: "x86_64", To: "1:1.20.1-20.el9.0.1", Action: ActionInstall},
			{Name: "nginx-core", Arch: "x86_64", To: "1:1.20.1-20.el9.0.1", Action: ActionInstall},
			{Name: "nginx-filesystem", Arch: "noarch", To: "1:1.20.1-20.el9.0.1", Action: ActionInstall},
			{Name: "openssl", Arch: "x86_64", From: "1:3.0.7-28.el9_4", To: "1:3.0.7-29.el9_5", Action: ActionUpgrade},
			{Name: "openssl-libs", Arch: "x86_64", From: "1:3.0.7-28.el9_4", To: "1:3.0.7-29.el9_5", Action: ActionUpgrade},
		}, at("2025-01-14T02:30:19Z")},
		{"downgrade and reinstall", at("2025-01-15T08:12:40Z"), time.Time{}, []PackageChange{
			{Name: "chrony", Arch: "x86_64", From: "4.5-3.el9", To: "4.5-3.el9", Action: ActionReinstall},
			{Name: "curl", Arch: "x86_64", From: "7.76.1-31.el9", To: "7.76.1-29.el9_4", Action: ActionDowngrade},
		}, at("2025-01-15T08:12:47Z")},
		{"nothing after", at("2025-01-16T00:00:00Z"), time.Time{}, []PackageChange{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open("testdata/dnf.rpm.log")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, first, err := parseDnfLog(f, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if !first.Equal(tt.wantFirst) {
				t.Errorf("first change at %v, want %v", first, tt.wantFirst)
			}
		})
	}
}

func TestPkgtxCompareDebianVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign
	}{
		{"1.0", "1.0", 0},
		{"1.0-1", "1.0-2", -1},
		{"3.0.16-1~deb12u1", "3.0.15-1~deb12u1", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+b1", -1},
		{"1:0.9", "2.0", 1},
		{"7.88.1-10+deb12u5", "7.88.1-10+deb12u8", -1},
		{"2.36-9+deb12u10", "2.36-9+deb12u9", 1},
		{"1.0a", "1.0-", 1},
		{"1.01", "1.1", 0},
	}
	for _, tt := range tests {
		got := compareDebianVersions(tt.a, tt.b)
		if sign(got) != tt.want {
			t.Errorf("compare(%q, %q) = %d, want sign %d", tt.a, tt.b, got, tt.want)
		}
		if back := compareDebianVersions(tt.b, tt.a); sign(back) != -tt.want {
			t.Errorf("compare(%q, %q) = %d, want sign %d", tt.b, tt.a, back, -tt.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestPkgtxSplitNEVRA(t *testing.T) {
	tests := []struct {
		in, name, version, arch string
		ok                      bool
	}{
		{"openssl-libs-1:3.0.7-29.el9_5.x86_64", "openssl-libs", "1:3.0.7-29.el9_5", "x86_64", true},
		{"python3-dnf-plugin-post-transaction-actions-4.3.0-16.el9.noarch", "python3-dnf-plugin-post-transaction-actions", "4.3.0-16.el9", "noarch", true},
		{"broken.x86_64", "", "", "", false},
	}
	for _, tt := range tests {
		name, version, arch, ok := splitNEVRA(tt.in)
		if name != tt.name || version != tt.version || arch != tt.arch || ok != tt.ok {
			t.Errorf("splitNEVRA(%q) = %q %q %q %v, want %q %q %q %v", tt.in, name, version, arch, ok, tt.name, tt.version, tt.arch, tt.ok)
		}
	}
}
