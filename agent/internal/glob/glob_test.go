package glob

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*.swp", "/etc/.x.swp", true},
		{"*.swp", "/etc/x.swpx", false},
		{"/etc/mtab", "/etc/mtab", true},
		{"/etc/mtab", "/etc/mtab/x", false},
		{"/etc/*", "/etc/passwd", true},
		{"/etc/*", "/etc/ssh/sshd_config", false},
		{"/etc/**", "/etc/ssh/sshd_config", true},
		{"/etc/**", "/etc", true},
		{"/etc/**/*.conf", "/etc/a.conf", true},
		{"/etc/**/*.conf", "/etc/nginx/conf.d/site.conf", true},
		{"/etc/**/*.conf", "/etc/nginx/conf.d/site.conf.bak", false},
		{"**/*.swp", "/home/u/.vimrc.swp", true},
		{"**/id_rsa", "/root/.ssh/id_rsa", true},
		{"/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_ed25519_key", true},
		{"/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_ed25519_key.pub", false},
		{"/etc/caf\xe9", "/etc/caf\xe9", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.name, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(tt.name); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []string{"", "etc/x", "/etc/a**b", "/etc/[", "[x"} {
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%q) succeeded, want an error", p)
		}
	}
}

func TestPrefix(t *testing.T) {
	tests := map[string]string{
		"/etc/**/*.conf":   "/etc",
		"/etc/nginx/*.d/x": "/etc/nginx",
		"/*":               "/",
		"/etc/passwd":      "/etc/passwd",
	}
	for p, want := range tests {
		if got := Prefix(p); got != want {
			t.Errorf("Prefix(%q) = %q, want %q", p, got, want)
		}
	}
}
