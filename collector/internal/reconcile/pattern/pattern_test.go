package pattern

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"file:/etc/nginx/**",
			[]string{"file:/etc/nginx", "file:/etc/nginx/nginx.conf", "file:/etc/nginx/sites-enabled/default", "file:/etc/nginx/a/b/c/d"},
			[]string{"file:/etc/nginx2/nginx.conf", "file:/etc/nginxx", "file:/etc", "package:/etc/nginx/nginx.conf", "file:/usr/etc/nginx/x"}},
		{"file:/etc/sudoers",
			[]string{"file:/etc/sudoers"},
			[]string{"file:/etc/sudoers.d/ops", "file:/etc/sudoers ", "file:/etc/sudoers/x", "file:/etc"}},
		{"file:/etc/*.conf",
			[]string{"file:/etc/host.conf", "file:/etc/.conf", "file:/etc/resolv.conf"},
			[]string{"file:/etc/a/b.conf", "file:/etc/host.conf.bak", "file:/etc/hosts"}},
		{"file:/etc/**/*.conf",
			[]string{"file:/etc/host.conf", "file:/etc/a/b.conf", "file:/etc/a/b/c.conf"},
			[]string{"file:/etc/a/b.confx", "file:/var/a.conf"}},
		{"file:/etc/ssh/ssh?_config",
			[]string{"file:/etc/ssh/sshd_config"},
			[]string{"file:/etc/ssh/ssh_config", "file:/etc/ssh/sshdd_config"}},
		{"file:/etc/rc[0-6].d/**",
			[]string{"file:/etc/rc3.d/S01ssh", "file:/etc/rc0.d"},
			[]string{"file:/etc/rc7.d/S01ssh", "file:/etc/rcS.d/x"}},
		{"file:/etc/[^a-m]*",
			[]string{"file:/etc/passwd", "file:/etc/shadow"},
			[]string{"file:/etc/group", "file:/etc/passwd/x"}},
		{`file:/srv/a\*b`,
			[]string{"file:/srv/a*b"},
			[]string{"file:/srv/axb"}},
		{"file:/**",
			[]string{"file:/", "file:/etc", "file:/etc/passwd"},
			[]string{"package:openssl"}},
		{"file:**/authorized_keys",
			[]string{"file:/root/.ssh/authorized_keys", "file:/home/deploy/.ssh/authorized_keys"},
			[]string{"file:/root/.ssh/authorized_keys2"}},
		{"package:openssl",
			[]string{"package:openssl"},
			[]string{"package:openssl-dev", "package:libssl3", "file:openssl"}},
		{"package:libssl*",
			[]string{"package:libssl3", "package:libssl-dev"},
			[]string{"package:openssl"}},
		{"service:*",
			[]string{"service:sshd", "service:nginx.service"},
			[]string{"package:sshd"}},
		{"sysctl:net.ipv4.*",
			[]string{"sysctl:net.ipv4.ip_forward", "sysctl:net.ipv4.conf.all.rp_filter", "sysctl:net.ipv4.conf.eth0/100.rp_filter"},
			[]string{"sysctl:net.ipv6.conf.all.forwarding", "sysctl:net.ipv4", "sysctl:net.ipv4x.y"}},
		{"sysctl:net.ipv4.conf.eth0/100.*",
			[]string{"sysctl:net.ipv4.conf.eth0/100.rp_filter"},
			[]string{"sysctl:net.ipv4.conf.eth0.rp_filter"}},
		{"port:tcp/*",
			[]string{"port:tcp/22", "port:tcp/443"},
			[]string{"port:udp/53", "port:tcp/22/x"}},
		{"port:*/22",
			[]string{"port:tcp/22", "port:udp/22"},
			[]string{"port:tcp/222"}},
		{"user:*",
			[]string{"user:root", "user:deploy"},
			[]string{"group:root"}},
		{"command:nft*",
			[]string{"command:nft", "command:nft list ruleset"},
			[]string{"command:iptables-save"}},
		{"sysctl:**",
			[]string{"sysctl:kernel.sysrq", "sysctl:net.ipv4.conf.eth0/100.rp_filter"},
			[]string{"package:x"}},
		{"user:[!r]*",
			[]string{"user:deploy"},
			[]string{"user:root"}},
		{"user:d?ploy",
			[]string{"user:déploy", "user:deploy"},
			[]string{"user:dploy"}},
		{"user:[é]*",
			[]string{"user:élodie"},
			[]string{"user:elodie"}},
		{"command:a*b*c",
			[]string{"command:abc", "command:aXbYc", "command:abbbc"},
			[]string{"command:acb", "command:abcd"}},
		{"package:**",
			[]string{"package:openssl", "package:a/b"},
			[]string{"service:a"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := Compile(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.match {
				if !p.Match(k) {
					t.Errorf("%s does not match %q", tt.pattern, k)
				}
			}
			for _, k := range tt.miss {
				if p.Match(k) {
					t.Errorf("%s matches %q", tt.pattern, k)
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		pattern string
		want    string // a part of the message
	}{
		{"", "empty pattern"},
		{"/etc/nginx/**", `has no kind: want kind:glob such as "file:/etc/nginx/**"`},
		{"pakage:openssl", `unknown kind "pakage" (known kinds: file, package`},
		{"package:", `use "package:**" for every package item`},
		{"file:", `use "file:/**"`},
		{"file:etc/nginx", `file patterns must be absolute paths such as "file:/etc/nginx"`},
		{"file:/etc/nginx/", `ends with "/": use "file:/etc/nginx/**"`},
		{"file:/etc//nginx", "empty path segment"},
		{"port:/tcp/22", "empty path segment"},
		{"sysctl:net.ipv4.**", `"**" must be a whole path segment`},
		{"file:/etc/[a-", `character class "[a-" has no closing "]"`},
		{"file:/etc/[]", `character class "[]" has no closing "]"`},
		{"file:/etc/[z-a]", "character range z-a runs backwards"},
		{`file:/etc/a\`, `ends with "\", which escapes nothing`},
		{"package: openssl", "leading or trailing spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, err := Compile(tt.pattern)
			if err == nil {
				t.Fatalf("Compile(%q) succeeded", tt.pattern)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile(%q) = %q, want it to say %q", tt.pattern, err, tt.want)
			}
		})
	}
}

func TestLiteral(t *testing.T) {
	for pat, want := range map[string]bool{"package:openssl": true, "file:/etc/sudoers": true, "file:/etc/*": false, `file:/a\b`: false} {
		p, err := Compile(pat)
		if err != nil {
			t.Fatal(err)
		}
		if _, got := p.Literal(); got != want {
			t.Errorf("%s: Literal = %v, want %v", pat, got, want)
		}
	}
}

func TestSet(t *testing.T) {
	s, err := CompileSet([]string{"file:/etc/ssh/**", "package:openssh-*"})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Match("package:openssh-server"); p == nil || p.String() != "package:openssh-*" {
		t.Errorf("Match(package:openssh-server) = %v", p)
	}
	if p := s.Match("package:openssl"); p != nil {
		t.Errorf("Match(package:openssl) = %v, want none", p)
	}
	if _, err := CompileSet([]string{"file:/ok", "bad"}); err == nil || !strings.HasPrefix(err.Error(), "[1]: ") {
		t.Errorf("CompileSet error = %v, want it to name element [1]", err)
	}
}

func TestMatchAllocs(t *testing.T) {
	p, err := Compile("file:/etc/**/conf.d/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if !p.Match("file:/etc/nginx/conf.d/default.conf") {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times, want 0", allocs)
	}
}

// TestBuckets checks that every key a pattern matches lists the pattern's
// bucket among its own, so an index by bucket finds every match.
func TestBuckets(t *testing.T) {
	tests := []struct {
		pattern, bucket string
		keys            []string
	}{
		{"file:/etc/nginx/**", "file:/etc/nginx", []string{"file:/etc/nginx", "file:/etc/nginx/a/b"}},
		{"file:/etc/nginx/**/*.conf", "file:/etc/nginx", []string{"file:/etc/nginx/a.conf", "file:/etc/nginx/a/b.conf"}},
		{"file:/**", "file:", []string{"file:/", "file:/etc"}},
		{"package:**", "package:", []string{"package:curl"}},
		{"file:/etc/nginx/conf.d/*", "file:/etc/nginx/conf.d", []string{"file:/etc/nginx/conf.d/x.conf"}},
		{"file:/etc/*.conf", "file:/etc", []string{"file:/etc/host.conf"}},
		{"file:/et*", "file:", []string{"file:/etc"}},
		{"file:**/authorized_keys", "file:", []string{"file:/root/.ssh/authorized_keys"}},
		{"file:/etc/sudoers", "file:/etc/sudoers", []string{"file:/etc/sudoers"}},
		{"package:ope*", "package:", []string{"package:openssl"}},
		{"service:*", "service:", []string{"service:nginx"}},
		{"sysctl:net.ipv4.conf.eth0/100.*", "sysctl:net.ipv4.conf.eth0", []string{"sysctl:net.ipv4.conf.eth0/100.rp_filter"}},
		{"port:tcp/*", "port:tcp", []string{"port:tcp/22"}},
	}
	for _, tt := range tests {
		p, err := Compile(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Bucket(); got != tt.bucket {
			t.Errorf("%s: Bucket() = %q, want %q", tt.pattern, got, tt.bucket)
		}
		for _, k := range tt.keys {
			if !p.Match(k) {
				t.Fatalf("%s does not match %s", tt.pattern, k)
			}
			var got []string
			Buckets(k, func(b string) { got = append(got, b) })
			found := false
			for _, b := range got {
				found = found || b == p.Bucket()
			}
			if !found {
				t.Errorf("%s: buckets of %s are %q, without %q", tt.pattern, k, got, p.Bucket())
			}
		}
	}
	var got []string
	Buckets("file:/etc/nginx/nginx.conf", func(b string) { got = append(got, b) })
	want := []string{"file:", "file:/etc", "file:/etc/nginx", "file:/etc/nginx/nginx.conf"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Buckets = %q, want %q", got, want)
	}
}

// FuzzMatch compiles arbitrary patterns and matches arbitrary keys: no
// panic, a literal pattern matches exactly its own text, and every match
// starts with the pattern's prefix and lists its bucket.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"file:/etc/nginx/**", "file:/etc/nginx/nginx.conf"},
		{"file:/etc/[a-c]*/x?", "file:/etc/b1/xy"},
		{"sysctl:net.*", "sysctl:net.ipv4.conf.eth0/100.rp_filter"},
		{`user:\*`, "user:*"},
		{"package:openssl", "package:openssl"},
		{"port:*/2[!0]", "port:tcp/22"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, key string) {
		p, err := Compile(pat)
		if err != nil {
			return
		}
		ok := p.Match(key)
		if lit, isLit := p.Literal(); isLit && ok != (key == lit) {
			t.Fatalf("literal %q matches %q: %v", pat, key, ok)
		}
		if !ok {
			return
		}
		if !strings.HasPrefix(key, p.Prefix()) {
			t.Fatalf("%q matches %q, which does not start with %q", pat, key, p.Prefix())
		}
		found := false
		Buckets(key, func(b string) { found = found || b == p.Bucket() })
		if !found {
			t.Fatalf("%q matches %q, whose buckets do not include %q", pat, key, p.Bucket())
		}
	})
}
