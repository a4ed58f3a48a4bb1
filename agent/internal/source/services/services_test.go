package services

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

const root = "testdata/root"

// unitItem builds an expected item of the source named "services".
func unitItem(name, state, unitFile string, extra ...string) baseline.Item {
	attrs := baseline.Attrs{}.Set(AttrUnitFile, unitFile)
	if state != "" {
		attrs = attrs.Set(AttrState, state)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs = attrs.Set(extra[i], extra[i+1])
	}
	return baseline.Item{Key: "service:" + name, Source: "services", Attrs: attrs}
}

func withError(it baseline.Item, msg string) baseline.Item {
	it.Error = msg
	return it
}

func TestCollect(t *testing.T) {
	const (
		lib = "/lib/systemd/system/"
		etc = "/etc/systemd/system/"
	)
	brokenErr := "resolve unit file /lib/systemd/system/broken.service: lstat " +
		filepath.Join(root, "lib/systemd/system/nowhere.service") + ": no such file or directory"
	loopErr := "resolve unit file /lib/systemd/system/loop.service: more than 40 symlinks"
	tests := []struct {
		name     string
		opt      Options
		want     []baseline.Item
		warnings []string // each a substring of one warning, in any order
	}{
		{
			name: "default unit dirs",
			opt:  Options{Root: root},
			want: []baseline.Item{
				unitItem("apt-daily.service", StateStatic, lib+"apt-daily.service"),
				unitItem("apt-daily.timer", StateEnabled, lib+"apt-daily.timer", AttrWantedBy, "timers.target.wants"),
				unitItem("autovt@.service", StateAlias, lib+"getty@.service", AttrAliasOf, "getty@.service"),
				withError(unitItem("broken.service", "", lib+"broken.service"), brokenErr),
				unitItem("chrony.service", StateDisabled, lib+"chrony.service"),
				unitItem("cron.service", StateEnabled, lib+"cron.service", AttrWantedBy, "multi-user.target.wants"),
				unitItem("custom.service", StateEnabled, "/opt/custom/custom.service", AttrWantedBy, "multi-user.target.wants"),
				unitItem("exim4.service", StateMasked, etc+"exim4.service"),
				unitItem("getty@.service", StateDisabled, lib+"getty@.service"),
				unitItem("getty@tty1.service", StateEnabled, lib+"getty@.service", AttrWantedBy, "getty.target.wants"),
				unitItem("getty@tty2.service", StateEnabled, lib+"getty@.service", AttrWantedBy, "getty.target.wants"),
				{
					Key:    "service:ghost.service",
					Source: "services",
					Attrs:  baseline.AttrsFromMap(map[string]string{AttrState: StateEnabled, AttrWantedBy: "multi-user.target.wants"}),
					Error:  "unit ghost.service is linked from multi-user.target.wants but has no unit file",
				},
				unitItem("local.service", StateDisabled, etc+"local.service"),
				withError(unitItem("loop.service", "", lib+"loop.service"), loopErr),
				unitItem("lvm2-lvmpolld.service", StateIndirect, lib+"lvm2-lvmpolld.service"),
				unitItem("multi-user.target", StateStatic, lib+"multi-user.target"),
				unitItem("remote-fs.target", StateEnabled, lib+"remote-fs.target", AttrWantedBy, "multi-user.target.wants"),
				unitItem("reset.service", StateStatic, lib+"reset.service"),
				unitItem("rsync.service", StateMasked, etc+"rsync.service"),
				unitItem("ssh.service", StateEnabled, lib+"ssh.service", AttrWantedBy, "multi-user.target.wants,rescue.target.requires"),
				unitItem("ssh.socket", StateDisabled, lib+"ssh.socket"),
				unitItem("ssh@.service", StateStatic, lib+"ssh@.service"),
				unitItem("sshd.service", StateAlias, lib+"ssh.service", AttrAliasOf, "ssh.service"),
				unitItem("systemd-ask-password-wall.path", StateStatic, lib+"systemd-ask-password-wall.path"),
				unitItem("systemd-journald.service", StateStatic, lib+"systemd-journald.service"),
				unitItem("tmp.mount", StateDisabled, lib+"tmp.mount"),
			},
			warnings: []string{brokenErr, loopErr, "unit ghost.service is linked from multi-user.target.wants but has no unit file"},
		},
		{
			name: "vendor directory only: no masks, aliases or overrides from /etc",
			opt:  Options{Root: root, UnitDirs: []string{"lib/systemd/system"}},
			want: []baseline.Item{
				unitItem("apt-daily.service", StateStatic, lib+"apt-daily.service"),
				unitItem("apt-daily.timer", StateEnabled, lib+"apt-daily.timer", AttrWantedBy, "timers.target.wants"),
				unitItem("autovt@.service", StateAlias, lib+"getty@.service", AttrAliasOf, "getty@.service"),
				withError(unitItem("broken.service", "", lib+"broken.service"), brokenErr),
				unitItem("chrony.service", StateDisabled, lib+"chrony.service"),
				unitItem("cron.service", StateEnabled, lib+"cron.service", AttrWantedBy, "multi-user.target.wants"),
				{
					Key:    "service:custom.service",
					Source: "services",
					Attrs:  baseline.AttrsFromMap(map[string]string{AttrState: StateEnabled, AttrWantedBy: "multi-user.target.wants"}),
					Error:  "unit custom.service is linked from multi-user.target.wants but has no unit file",
				},
				unitItem("getty@.service", StateDisabled, lib+"getty@.service"),
				unitItem("getty@tty1.service", StateEnabled, lib+"getty@.service", AttrWantedBy, "getty.target.wants"),
				unitItem("getty@tty2.service", StateEnabled, lib+"getty@.service", AttrWantedBy, "getty.target.wants"),
				{
					Key:    "service:ghost.service",
					Source: "services",
					Attrs:  baseline.AttrsFromMap(map[string]string{AttrState: StateEnabled, AttrWantedBy: "multi-user.target.wants"}),
					Error:  "unit ghost.service is linked from multi-user.target.wants but has no unit file",
				},
				unitItem("local.service", StateStatic, lib+"local.service"),
				withError(unitItem("loop.service", "", lib+"loop.service"), loopErr),
				unitItem("lvm2-lvmpolld.service", StateIndirect, lib+"lvm2-lvmpolld.service"),
				unitItem("multi-user.target", StateStatic, lib+"multi-user.target"),
				unitItem("remote-fs.target", StateEnabled, lib+"remote-fs.target", AttrWantedBy, "multi-user.target.wants"),
				unitItem("reset.service", StateStatic, lib+"reset.service"),
				unitItem("rsync.service", StateEnabled, lib+"rsync.service", AttrWantedBy, "multi-user.target.wants"),
				unitItem("ssh.service", StateEnabled, lib+"ssh.service", AttrWantedBy, "multi-user.target.wants,rescue.target.requires"),
				unitItem("ssh.socket", StateDisabled, lib+"ssh.socket"),
				unitItem("ssh@.service", StateStatic, lib+"ssh@.service"),
				unitItem("systemd-ask-password-wall.path", StateStatic, lib+"systemd-ask-password-wall.path"),
				unitItem("systemd-journald.service", StateStatic, lib+"systemd-journald.service"),
				unitItem("tmp.mount", StateDisabled, lib+"tmp.mount"),
			},
			warnings: []string{brokenErr, loopErr, "unit custom.service is linked", "unit ghost.service is linked"},
		},
		{
			name: "no systemd at all",
			opt:  Options{Root: "testdata/no-such-root"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New("services", tt.opt)
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

// checkWarnings checks that each warning contains one of want, and each of
// want is in one warning. Warnings come in map order.
func checkWarnings(t *testing.T, got []error, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d warnings, want %d:", len(got), len(want))
		for _, w := range got {
			t.Errorf("  %v", w)
		}
		return
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g.Error(), w)
		}
		if !found {
			t.Errorf("no warning contains %q; got %v", w, got)
		}
	}
}

func TestReadInstall(t *testing.T) {
	tests := []struct {
		name string
		text string
		want install
	}{
		{name: "no install section", text: "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n", want: install{}},
		{name: "empty install section", text: "[Install]\n", want: install{}},
		{name: "wanted by", text: "[Install]\nWantedBy=multi-user.target\n", want: install{enable: true}},
		{name: "required by", text: "[Install]\nRequiredBy=foo.target\n", want: install{enable: true}},
		{name: "alias only", text: "[Install]\nAlias=bar.service\n", want: install{enable: true}},
		{name: "also only", text: "[Install]\nAlso=foo.socket\n", want: install{also: true}},
		{name: "key spaced", text: "[Install]\n WantedBy = multi-user.target \n", want: install{enable: true}},
		{name: "reset", text: "[Install]\nWantedBy=a.target\nWantedBy=\n", want: install{}},
		{name: "reset then set", text: "[Install]\nWantedBy=\nWantedBy=b.target\n", want: install{enable: true}},
		{name: "continuation", text: "[Install]\nWantedBy=\\\n  a.target\n", want: install{enable: true}},
		{name: "comment in continuation", text: "[Install]\nWantedBy=\\\n# note\n  a.target\n", want: install{enable: true}},
		{name: "commented out", text: "[Install]\n#WantedBy=a.target\n;Alias=b.service\n", want: install{}},
		{name: "other section keys", text: "[Service]\nWantedBy=a.target\n[Install]\nDefaultInstance=tty1\n", want: install{}},
		{name: "crlf", text: "[Install]\r\nWantedBy=a.target\r\n", want: install{enable: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readInstall(strings.NewReader(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("readInstall = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTemplateOf(t *testing.T) {
	tests := map[string]string{
		"getty@tty1.service":       "getty@.service",
		"getty@.service":           "",
		"ssh.service":              "",
		"@x.service":               "",
		"systemd-fsck@dev-x.slice": "systemd-fsck@.slice",
	}
	for name, want := range tests {
		if got := templateOf(name); got != want {
			t.Errorf("templateOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestNew(t *testing.T) {
	src, err := New("svc", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if src.Name() != "svc" || src.Kind() != baseline.KindService {
		t.Errorf("Name, Kind = %q, %q", src.Name(), src.Kind())
	}
	if _, err := New("svc", Options{UnitDirs: []string{"/etc/systemd/system", ""}}); err == nil {
		t.Error("New accepted an empty unit directory")
	}
}

// TestHost reads this machine's systemd configuration with the default
// options, and checks that what /etc/systemd/system/multi-user.target.wants
// links is reported enabled.
func TestHost(t *testing.T) {
	wants := "/etc/systemd/system/multi-user.target.wants"
	links, err := os.ReadDir(wants)
	if err != nil {
		t.Skipf("no systemd configuration on this host: %v", err)
	}
	src, err := New("services", Options{})
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
	for _, l := range links {
		it := res.Lookup("service:" + l.Name())
		if it == nil {
			t.Errorf("%s/%s: no item", wants, l.Name())
			continue
		}
		state, _ := it.Attrs.Get(AttrState)
		if it.Error == "" && state != StateEnabled && state != StateMasked && state != StateAlias {
			t.Errorf("%s: state %q, want enabled", it.Key, state)
		}
	}
	t.Logf("%d units", len(res.Items))
}
