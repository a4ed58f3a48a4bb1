package users

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/agent/internal/source/sourcetest"
	"github.com/driftwatch/driftwatch/baseline"
)

// userItem builds an expected user item of the source named "users".
func userItem(name, uid, gid, group, home, shell, gecos, groups string) baseline.Item {
	m := map[string]string{"uid": uid, "gid": gid, "home": home, "shell": shell, "gecos": gecos}
	if group != "" {
		m["group"] = group
	}
	if groups != "" {
		m["groups"] = groups
	}
	return baseline.Item{Key: "user:" + name, Source: "users", Attrs: baseline.AttrsFromMap(m)}
}

// groupItem builds an expected group item of the source named "groups".
func groupItem(name, gid, members string) baseline.Item {
	m := map[string]string{"gid": gid}
	if members != "" {
		m["members"] = members
	}
	return baseline.Item{Key: "group:" + name, Source: "groups", Attrs: baseline.AttrsFromMap(m)}
}

const nologin = "/usr/sbin/nologin"

func TestUsers(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		want     []baseline.Item
		warnings []string // each a substring of one warning, in order
	}{
		{
			name: "passwd and group",
			opt:  Options{Passwd: "testdata/passwd", Group: "testdata/group"},
			want: []baseline.Item{
				userItem("alice", "1001", "1001", "alice", "/home/alice", "/bin/zsh", "Alice Example,Room 4,+1 555 0100,", "docker,sudo"),
				userItem("bin", "2", "2", "bin", "/bin", nologin, "bin", ""),
				userItem("daemon", "1", "1", "daemon", "/usr/sbin", nologin, "daemon", ""),
				userItem("deploy", "1000", "1000", "deploy", "/home/deploy", "/bin/bash", "Deploy User,,,", "adm,docker,sudo"),
				userItem("nobody", "65534", "65534", "nogroup", "/nonexistent", nologin, "nobody", ""),
				userItem("orphan", "1002", "4242", "", "/home/orphan", "/bin/sh", "gid without a group", ""),
				userItem("root", "0", "0", "root", "/root", "/bin/bash", "root", ""),
				userItem("sshd", "100", "65534", "nogroup", "/run/sshd", nologin, "", ""),
				userItem("sys", "3", "3", "sys", "/dev", nologin, "sys", ""),
				userItem("systemd-network", "998", "998", "systemd-network", "/", nologin, "systemd Network Management", ""),
				userItem("www-data", "33", "33", "www-data", "/var/www", nologin, "www-data", ""),
			},
		},
		{
			name: "malformed passwd lines are warnings",
			opt:  Options{Passwd: "testdata/passwd-malformed", Group: "testdata/group-malformed"},
			want: []baseline.Item{
				// deploy is in wheel only by a malformed line, and the first
				// group with gid 1000 is "deploy".
				userItem("deploy", "1000", "1000", "deploy", "/home/deploy", "/bin/bash", "Deploy User", ""),
				userItem("root", "0", "0", "root", "/root", "/bin/bash", "root", ""),
			},
			warnings: []string{
				"testdata/passwd-malformed:5: want 7 colon-separated fields, have 4; line skipped",
				`testdata/passwd-malformed:6: user badid: uid "12a" is not a number; line skipped`,
				`testdata/passwd-malformed:7: user badgid: gid "-1" is not a number; line skipped`,
				"testdata/passwd-malformed:8: empty user name; line skipped",
				"testdata/passwd-malformed:9: user root already defined at line 2; line skipped",
				"testdata/passwd-malformed:13: want 7 colon-separated fields, have 8; line skipped",
			},
		},
		{
			name: "missing group file",
			opt:  Options{Passwd: "testdata/passwd-malformed", Group: "testdata/no-such-group"},
			want: []baseline.Item{
				userItem("deploy", "1000", "1000", "", "/home/deploy", "/bin/bash", "Deploy User", ""),
				userItem("root", "0", "0", "", "/root", "/bin/bash", "root", ""),
			},
			warnings: []string{":5:", ":6:", ":7:", ":8:", ":9:", ":13:", "read group testdata/no-such-group: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New("users", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			run(t, src, tt.want, tt.warnings)
		})
	}
}

func TestGroups(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		want     []baseline.Item
		warnings []string
	}{
		{
			name: "group",
			opt:  Options{Passwd: "testdata/no-such-passwd", Group: "testdata/group"},
			want: []baseline.Item{
				groupItem("adm", "4", "deploy,syslog"),
				groupItem("alice", "1001", ""),
				groupItem("bin", "2", ""),
				groupItem("daemon", "1", ""),
				groupItem("deploy", "1000", ""),
				groupItem("docker", "999", "alice,deploy"),
				groupItem("nogroup", "65534", ""),
				groupItem("root", "0", ""),
				groupItem("sudo", "27", "alice,deploy"),
				groupItem("sys", "3", ""),
				groupItem("systemd-network", "998", ""),
				groupItem("users", "100", ""),
				groupItem("www-data", "33", ""),
			},
		},
		{
			name: "malformed group lines are warnings",
			opt:  Options{Group: "testdata/group-malformed"},
			want: []baseline.Item{
				groupItem("deploy", "1000", ""),
				groupItem("dup-gid", "1000", "alice"),
				groupItem("root", "0", ""),
			},
			warnings: []string{
				"testdata/group-malformed:4: want 4 colon-separated fields, have 3; line skipped",
				`testdata/group-malformed:5: group wheel: gid "ten" is not a number; line skipped`,
				"testdata/group-malformed:6: group root already defined at line 2; line skipped",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewGroups("groups", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			run(t, src, tt.want, tt.warnings)
		})
	}
}

func run(t *testing.T, src source.Source, want []baseline.Item, warnings []string) {
	t.Helper()
	res := sourcetest.Collect(t, src)
	if res.Err != nil {
		t.Fatalf("Collect: %v", res.Err)
	}
	if diff := cmp.Diff(want, res.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != len(warnings) {
		t.Errorf("got %d warnings, want %d:", len(res.Warnings), len(warnings))
		for _, w := range res.Warnings {
			t.Errorf("  %v", w)
		}
		return
	}
	for i, w := range warnings {
		if !strings.Contains(res.Warnings[i].Error(), w) {
			t.Errorf("warning %d = %q, want it to contain %q", i, res.Warnings[i], w)
		}
	}
}

func TestMissingFile(t *testing.T) {
	opt := Options{Passwd: "testdata/no-such-passwd", Group: "testdata/no-such-group"}
	users, _ := New("users", opt)
	groups, _ := NewGroups("groups", opt)
	tests := []struct {
		src  source.Source
		want string
	}{
		{users, "read passwd testdata/no-such-passwd: "},
		{groups, "read group testdata/no-such-group: "},
	}
	for _, tt := range tests {
		t.Run(tt.src.Kind(), func(t *testing.T) {
			res := sourcetest.Collect(t, tt.src)
			if res.Err == nil || !strings.Contains(res.Err.Error(), tt.want) {
				t.Fatalf("Collect error = %v, want it to contain %q", res.Err, tt.want)
			}
		})
	}
}

func TestHost(t *testing.T) {
	users, err := New("users", Options{})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := NewGroups("groups", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		src source.Source
		key string
	}{{users, "user:root"}, {groups, "group:root"}} {
		res := sourcetest.Collect(t, tt.src)
		if res.Err != nil {
			t.Skipf("no account files on this host: %v", res.Err)
		}
		it := res.Lookup(tt.key)
		if it == nil {
			t.Fatalf("%s: no %s among %d items", tt.src.Name(), tt.key, len(res.Items))
		}
		if gid, _ := it.Attrs.Get(baseline.AttrGID); gid != "0" {
			t.Errorf("%s: gid = %q, want 0", tt.key, gid)
		}
		if tt.key == "user:root" {
			if g, _ := it.Attrs.Get(baseline.AttrGroup); g != "root" {
				t.Errorf("user:root: group = %q, want root", g)
			}
		}
	}
}
