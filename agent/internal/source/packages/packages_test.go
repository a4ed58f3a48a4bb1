package packages

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

// item builds an expected item of the source named "packages".
func item(key, errText string, attrs map[string]string) baseline.Item {
	return baseline.Item{Key: key, Source: "packages", Attrs: baseline.AttrsFromMap(attrs), Error: errText}
}

func dpkg(version, arch string) map[string]string {
	return map[string]string{"manager": "dpkg", "version": version, "architecture": arch}
}

func rpm(version, arch string) map[string]string {
	m := map[string]string{"manager": "rpm", "version": version}
	if arch != "" {
		m["architecture"] = arch
	}
	return m
}

func held(m map[string]string) map[string]string {
	m["hold"] = "true"
	return m
}

// fakeRPM is an RPMCommand that runs a script from testdata.
func fakeRPM(script string) []string { return []string{"sh", "testdata/" + script} }

func TestCollect(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		want     []baseline.Item
		warnings []string // each a substring of one warning, in order
	}{
		{
			name: "dpkg status",
			opt:  Options{Manager: ManagerDpkg, DpkgStatus: "testdata/status"},
			want: []baseline.Item{
				item("package:base-files", "", dpkg("12.4+deb12u5", "amd64")),
				item("package:bash", "", dpkg("5.2.15-2+b7", "amd64")),
				item("package:dpkg", "", dpkg("1.21.22", "amd64")),
				item("package:libc6", "", dpkg("2.36-9+deb12u14", "amd64")),
				item("package:libc6:i386", "", dpkg("2.36-9+deb12u14", "i386")),
				item("package:linux-image-6.1.0-18-amd64", "", held(dpkg("6.1.76-1", "amd64"))),
				item("package:openssh-server", "", dpkg("1:9.2p1-2+deb12u3", "amd64")),
				item("package:openssl", "", dpkg("3.0.15-1~deb12u1", "amd64")),
				item("package:tzdata", "", dpkg("2024a-0+deb12u1", "all")),
				item("package:zlib1g", "", dpkg("1:1.2.13.dfsg-1", "amd64")),
				item("package:zlib1g:arm64", "", dpkg("1:1.2.13.dfsg-1", "arm64")),
			},
		},
		{
			name: "auto picks dpkg when its status file exists",
			opt:  Options{DpkgStatus: "testdata/status", RPMCommand: fakeRPM("rpm-fail.sh")},
			want: []baseline.Item{
				item("package:base-files", "", dpkg("12.4+deb12u5", "amd64")),
				item("package:bash", "", dpkg("5.2.15-2+b7", "amd64")),
				item("package:dpkg", "", dpkg("1.21.22", "amd64")),
				item("package:libc6", "", dpkg("2.36-9+deb12u14", "amd64")),
				item("package:libc6:i386", "", dpkg("2.36-9+deb12u14", "i386")),
				item("package:linux-image-6.1.0-18-amd64", "", held(dpkg("6.1.76-1", "amd64"))),
				item("package:openssh-server", "", dpkg("1:9.2p1-2+deb12u3", "amd64")),
				item("package:openssl", "", dpkg("3.0.15-1~deb12u1", "amd64")),
				item("package:tzdata", "", dpkg("2024a-0+deb12u1", "all")),
				item("package:zlib1g", "", dpkg("1:1.2.13.dfsg-1", "amd64")),
				item("package:zlib1g:arm64", "", dpkg("1:1.2.13.dfsg-1", "arm64")),
			},
		},
		{
			name: "native arch option decides which instance keeps the plain key",
			opt:  Options{Manager: ManagerDpkg, DpkgStatus: "testdata/status", Arch: "arm64"},
			want: []baseline.Item{
				item("package:base-files", "", dpkg("12.4+deb12u5", "amd64")),
				item("package:bash", "", dpkg("5.2.15-2+b7", "amd64")),
				item("package:dpkg", "", dpkg("1.21.22", "amd64")),
				item("package:libc6", "", dpkg("2.36-9+deb12u14", "amd64")),
				item("package:libc6:i386", "", dpkg("2.36-9+deb12u14", "i386")),
				item("package:linux-image-6.1.0-18-amd64", "", held(dpkg("6.1.76-1", "amd64"))),
				item("package:openssh-server", "", dpkg("1:9.2p1-2+deb12u3", "amd64")),
				item("package:openssl", "", dpkg("3.0.15-1~deb12u1", "amd64")),
				item("package:tzdata", "", dpkg("2024a-0+deb12u1", "all")),
				item("package:zlib1g", "", dpkg("1:1.2.13.dfsg-1", "arm64")),
				item("package:zlib1g:amd64", "", dpkg("1:1.2.13.dfsg-1", "amd64")),
			},
		},
		{
			name: "malformed dpkg stanzas are warnings",
			opt:  Options{Manager: ManagerDpkg, DpkgStatus: "testdata/status-malformed", Arch: "amd64"},
			want: []baseline.Item{
				item("package:curl", "", dpkg("7.88.1-10+deb12u8", "amd64")),
				item("package:no-version", "testdata/status-malformed:38: package no-version has no Version field",
					map[string]string{"manager": "dpkg", "architecture": "amd64"}),
			},
			warnings: []string{
				"testdata/status-malformed:1: continuation line before any field; stanza skipped",
				`testdata/status-malformed:16: want "Field: value", have "this line has no colon"; stanza skipped`,
				"testdata/status-malformed:20: stanza without a Package field; stanza skipped",
				"testdata/status-malformed:29: package no-status has no Status field; stanza skipped",
				`testdata/status-malformed:33: package short-status: want Status "WANT FLAG STATE", have "installed"; stanza skipped`,
				"testdata/status-malformed:38: package no-version has no Version field",
				"testdata/status-malformed:43: duplicate field Package; stanza skipped",
				"testdata/status-malformed:48: package curl (amd64) already listed at line 7; ignored",
			},
		},
		{
			name: "rpm",
			opt:  Options{Manager: ManagerRPM, RPMCommand: fakeRPM("rpm-qa.sh")},
			want: []baseline.Item{
				item("package:bash", "", rpm("5.1.8-9.el9", "x86_64")),
				item("package:glibc", "", rpm("2.34-100.el9_4.2", "x86_64")),
				item("package:glibc:i686", "", rpm("2.34-100.el9_4.2", "i686")),
				item("package:gpg-pubkey", "", rpm("5a6340b3-6229229e,fd431d51-4ae0493b", "")),
				item("package:kernel", "", rpm("5.14.0-362.24.1.el9_3,5.14.0-427.13.1.el9_4", "x86_64")),
				item("package:openssh-server", "", rpm("8.7p1-38.el9_4.4", "x86_64")),
				item("package:openssl", "", rpm("1:3.0.7-27.el9", "x86_64")),
				item("package:rpm", "", rpm("4.16.1.3-29.el9", "x86_64")),
				item("package:tzdata", "", rpm("2024a-1.el9", "noarch")),
			},
			warnings: []string{
				`sh output:12: want NAME, EPOCH:VERSION-RELEASE and ARCH separated by tabs, have "this line is not tab separated"; skipped`,
				`sh output:13: want NAME, EPOCH:VERSION-RELEASE and ARCH separated by tabs, have "\t(none):1.0-1\tx86_64"; skipped`,
			},
		},
		{
			name: "auto picks rpm when there is no dpkg status file",
			opt:  Options{DpkgStatus: "testdata/no-such-status", RPMCommand: fakeRPM("rpm-qa.sh"), Arch: "i686"},
			want: []baseline.Item{
				item("package:bash", "", rpm("5.1.8-9.el9", "x86_64")),
				item("package:glibc", "", rpm("2.34-100.el9_4.2", "i686")),
				item("package:glibc:x86_64", "", rpm("2.34-100.el9_4.2", "x86_64")),
				item("package:gpg-pubkey", "", rpm("5a6340b3-6229229e,fd431d51-4ae0493b", "")),
				item("package:kernel", "", rpm("5.14.0-362.24.1.el9_3,5.14.0-427.13.1.el9_4", "x86_64")),
				item("package:openssh-server", "", rpm("8.7p1-38.el9_4.4", "x86_64")),
				item("package:openssl", "", rpm("1:3.0.7-27.el9", "x86_64")),
				item("package:rpm", "", rpm("4.16.1.3-29.el9", "x86_64")),
				item("package:tzdata", "", rpm("2024a-1.el9", "noarch")),
			},
			warnings: []string{"sh output:12:", "sh output:13:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New("packages", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			res := sourcetest.Collect(t, src)
			if res.Err != nil {
				t.Fatalf("Collect: %v", res.Err)
			}
			if diff := cmp.Diff(tt.want, res.Items); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			checkWarnings(t, res.Warnings, tt.warnings)
		})
	}
}

func checkWarnings(t *testing.T, got []error, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d warnings, want %d:", len(got), len(want))
		for _, w := range got {
			t.Errorf("  %v", w)
		}
		return
	}
	for i, w := range want {
		if !strings.Contains(got[i].Error(), w) {
			t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
		}
	}
}

func TestCollectErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string // substring of the error
	}{
		{
			name: "dpkg status missing",
			opt:  Options{Manager: ManagerDpkg, DpkgStatus: "testdata/no-such-status"},
			want: "read dpkg status testdata/no-such-status: ",
		},
		{
			name: "neither manager found",
			opt:  Options{DpkgStatus: "testdata/no-such-status", RPMCommand: []string{"driftwatch-no-such-rpm"}},
			want: "no package manager found: neither dpkg status testdata/no-such-status nor driftwatch-no-such-rpm in PATH",
		},
		{
			name: "rpm fails",
			opt:  Options{Manager: ManagerRPM, RPMCommand: fakeRPM("rpm-fail.sh")},
			want: "run sh testdata/rpm-fail.sh: exit status 1: error: rpmdb: BDB0113",
		},
		{
			name: "rpm missing",
			opt:  Options{Manager: ManagerRPM, RPMCommand: []string{"driftwatch-no-such-rpm", "-qa"}},
			want: "run driftwatch-no-such-rpm -qa: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New("packages", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			res := sourcetest.Collect(t, src)
			if res.Err == nil || !strings.Contains(res.Err.Error(), tt.want) {
				t.Fatalf("Collect error = %v, want it to contain %q", res.Err, tt.want)
			}
			if len(res.Items) != 0 {
				t.Errorf("failed Collect emitted %d items", len(res.Items))
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opt     Options
		wantErr string
	}{
		{name: "zero options", opt: Options{}},
		{name: "dpkg", opt: Options{Manager: "dpkg"}},
		{name: "unknown manager", opt: Options{Manager: "apk"}, wantErr: `packages source p: unknown manager "apk"`},
		{name: "empty rpm program", opt: Options{RPMCommand: []string{"", "-qa"}}, wantErr: "empty program name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New("p", tt.opt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if src.Name() != "p" || src.Kind() != baseline.KindPackage {
				t.Errorf("Name, Kind = %q, %q", src.Name(), src.Kind())
			}
		})
	}
}

// TestHostDpkg reads this machine's dpkg database with the default options.
func TestHostDpkg(t *testing.T) {
	if _, err := os.Stat(DefaultDpkgStatus); err != nil {
		t.Skipf("no dpkg database on this host: %v", err)
	}
	src, err := New("packages", Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := sourcetest.Collect(t, src)
	if res.Err != nil {
		t.Fatalf("Collect: %v", res.Err)
	}
	for _, w := range res.Warnings {
		t.Logf("warning: %v", w)
	}
	it := res.Lookup("package:dpkg")
	if it == nil {
		t.Fatalf("no package:dpkg among %d items", len(res.Items))
	}
	if v, _ := it.Attrs.Get(AttrVersion); v == "" {
		t.Errorf("package:dpkg has no version: %v", it.Attrs)
	}
	if m, _ := it.Attrs.Get(AttrManager); m != ManagerDpkg {
		t.Errorf("package:dpkg manager = %q, want dpkg", m)
	}
	t.Logf("%d packages, dpkg %v", len(res.Items), it.Attrs.Map())
}
