//go:build linux

package watch

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/agent/internal/config"
)

func TestFileRoots(t *testing.T) {
	type probe struct {
		path            string
		match, excluded bool
	}
	tests := []struct {
		name    string
		paths   []string
		exclude []string
		want    []Root // Match and Exclude are probed, not compared
		probes  [][]probe
	}{
		{
			name:  "directory and file",
			paths: []string{"/etc/ssh/", "/etc/hosts"},
			want:  []Root{{Source: "files.etc", Path: "/etc/ssh"}, {Source: "files.etc", Path: "/etc/hosts"}},
			probes: [][]probe{
				{{"/etc/ssh/sshd_config", true, false}},
				{{"/etc/hosts", true, false}},
			},
		},
		{
			name:    "patterns",
			paths:   []string{"/etc/*.conf", "/etc/nginx/**/*.conf", "/etc/*/ssl/*.pem", "/*.cfg"},
			exclude: []string{"*.swp", "/etc/nginx/old"},
			want: []Root{
				{Source: "files.etc", Path: "/etc", Levels: 1},
				{Source: "files.etc", Path: "/etc/nginx"},
				{Source: "files.etc", Path: "/etc", Levels: 3},
				{Source: "files.etc", Path: "/", Levels: 1},
			},
			probes: [][]probe{
				{{"/etc/a.conf", true, false}, {"/etc/a.txt", false, false}, {"/etc/.a.conf.swp", false, true}},
				{{"/etc/nginx/sites/x.conf", true, false}, {"/etc/nginx/old/x.conf", true, true}, {"/etc/nginx/old", false, true}},
				{{"/etc/app/ssl/key.pem", true, false}, {"/etc/app/key.pem", false, false}},
				{{"/boot.cfg", true, false}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FileRoots("files.etc", tt.paths, tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Transformer("root", func(r Root) Root { r.Match, r.Exclude = nil, nil; return r })); diff != "" {
				t.Fatalf("roots (-want +got):\n%s", diff)
			}
			for i, ps := range tt.probes {
				r := &root{Root: got[i]}
				for _, p := range ps {
					if m := r.match(p.path); m != p.match {
						t.Errorf("root %s: match(%s) = %v, want %v", r.Path, p.path, m, p.match)
					}
					if e := r.excluded(p.path); e != p.excluded {
						t.Errorf("root %s: excluded(%s) = %v, want %v", r.Path, p.path, e, p.excluded)
					}
				}
			}
		})
	}
}

func TestConfigRoots(t *testing.T) {
	cfg, err := config.Parse([]byte(`
files "etc" {
  paths   = ["/etc/ssh", "/etc/*.conf"]
  exclude = ["*.swp"]
}
files "app" {
  paths = ["/opt/app/config.yml"]
}
`), "agent.hcl")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ConfigRoots(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Root{
		{Source: "files.etc", Path: "/etc/ssh"},
		{Source: "files.etc", Path: "/etc", Levels: 1},
		{Source: "files.app", Path: "/opt/app/config.yml"},
	}
	if diff := cmp.Diff(want, got, cmp.Transformer("root", func(r Root) Root { r.Match, r.Exclude = nil, nil; return r })); diff != "" {
		t.Errorf("roots (-want +got):\n%s", diff)
	}
	if got[0].Exclude == nil || !got[0].Exclude("/etc/ssh/.sshd_config.swp") || got[2].Exclude != nil {
		t.Error("the exclude patterns do not follow their files block")
	}
}

func TestFileRootsErrors(t *testing.T) {
	tests := []struct {
		name           string
		paths, exclude []string
		want           string
	}{
		{"relative", []string{"etc"}, nil, `path "etc" is not absolute`},
		{"bad pattern", []string{"/etc/[a"}, nil, "files.etc"},
		{"bad exclude", []string{"/etc"}, []string{"a/b"}, "exclude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FileRoots("files.etc", tt.paths, tt.exclude)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FileRoots = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestDepthIn(t *testing.T) {
	tests := []struct {
		root, path string
		depth      int
		in         bool
	}{
		{"/etc", "/etc", 0, true},
		{"/etc", "/etc/ssh", 1, true},
		{"/etc", "/etc/ssh/sshd_config", 2, true},
		{"/etc", "/etcetera", 0, false},
		{"/etc", "/", 0, false},
		{"/", "/", 0, true},
		{"/", "/etc", 1, true},
		{"/", "/etc/ssh", 2, true},
	}
	for _, tt := range tests {
		d, in := depthIn(tt.root, tt.path)
		if d != tt.depth || in != tt.in {
			t.Errorf("depthIn(%s, %s) = %d, %v, want %d, %v", tt.root, tt.path, d, in, tt.depth, tt.in)
		}
	}
}

func TestCommonDir(t *testing.T) {
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"/srv/z/1"}, "/srv/z/1"},
		{[]string{"/srv/z/1", "/srv/z/2", "/srv/z/3/x"}, "/srv/z"},
		{[]string{"/srv/z", "/srv/z/1"}, "/srv/z"},
		{[]string{"/srv/ab", "/srv/a"}, "/srv"},
		{[]string{"/srv/a", "/opt/a"}, "/"},
	}
	for _, tt := range tests {
		if got := commonDir(tt.paths); got != tt.want {
			t.Errorf("commonDir(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}
