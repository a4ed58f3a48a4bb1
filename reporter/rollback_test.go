package reporter

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/google/go-cmp/cmp"
)

// TestShQuoteSurvivesTheShell quotes hostile names and has bash print
// them back: the bytes must come back exactly.
func TestShQuoteSurvivesTheShell(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bash is required in CI")
		}
		t.Skip("bash not installed")
	}
	for _, s := range []string{
		"/etc/ssh/sshd_config",
		"it's",
		"$(touch /tmp/pwned) `id` ; rm -rf / #",
		"new\nline",
		"tab\tand space",
		"bad\xff\xfebytes",
		"rtl\u202Eoverride",
		"back\\slash 'quote'",
		"",
	} {
		q := shQuote(s)
		out, err := exec.Command(bash, "-c", "printf %s "+q).Output()
		if err != nil {
			t.Errorf("bash -c 'printf %%s %s': %v", q, err)
			continue
		}
		if string(out) != s {
			t.Errorf("shQuote(%q) = %s; bash printed %q", s, q, out)
		}
	}
}

func steps(ss []RollbackStep) []string {
	var out []string
	for _, s := range ss {
		if s.Command != "" {
			out = append(out, s.Command)
		}
	}
	return out
}

func TestRollbackSteps(t *testing.T) {
	attrs := func(kv ...string) baseline.Attrs {
		var a baseline.Attrs
		for i := 0; i < len(kv); i += 2 {
			a = a.Set(kv[i], kv[i+1])
		}
		return a
	}
	modified := func(key string, old, new baseline.Attrs) baseline.Change {
		o := &baseline.Item{Key: key, Attrs: old}
		n := &baseline.Item{Key: key, Attrs: new}
		c := baseline.Change{Key: key, Kind: baseline.KindOf(key), Change: baseline.Modified, Old: o, New: n, Attrs: map[string]baseline.AttrChange{}}
		om, nm := old.Map(), new.Map()
		for k, v := range om {
			if nm[k] != v {
				c.Attrs[k] = baseline.AttrChange{Old: v, New: nm[k]}
			}
		}
		for k, v := range nm {
			if _, ok := om[k]; !ok {
				c.Attrs[k] = baseline.AttrChange{New: v}
			}
		}
		return c
	}
	tests := []struct {
		name string
		c    baseline.Change
		want []string
	}{
		{"file mode and owner", modified("file:/etc/sudoers", attrs("type", "file", "mode", "0440", "owner", "root", "group", "root"),
			attrs("type", "file", "mode", "0666", "owner", "deploy", "group", "root")),
			[]string{"chmod 0440 -- /etc/sudoers", "chown -h root:root -- /etc/sudoers"}},
		{"added file with a hostile name", baseline.Change{Key: "file:/etc/cron.d/x; rm -rf /", Kind: "file", Change: baseline.Added,
			New: &baseline.Item{Key: "file:/etc/cron.d/x; rm -rf /", Attrs: attrs("type", "file")}},
			[]string{"cp -a -- '/etc/cron.d/x; rm -rf /' '/etc/cron.d/x; rm -rf /.drift' && rm -- '/etc/cron.d/x; rm -rf /'"}},
		{"symlink retargeted", modified("file:/etc/alternatives/java", attrs("type", "symlink", "target", "/usr/lib/jvm/17/bin/java"),
			attrs("type", "symlink", "target", "/tmp/java")),
			[]string{"ln -sfn -- /usr/lib/jvm/17/bin/java /etc/alternatives/java"}},
		{"dpkg package upgraded", modified("package:openssl", attrs("version", "3.0.14-1~deb12u2", "manager", "dpkg"), attrs("version", "3.0.15-1~deb12u1", "manager", "dpkg")),
			[]string{"apt-get install --allow-downgrades 'openssl=3.0.14-1~deb12u2'"}},
		{"rpm package upgraded", modified("package:openssl", attrs("version", "1:3.0.7-27.el9", "manager", "rpm"), attrs("version", "1:3.0.7-28.el9", "manager", "rpm")),
			[]string{"dnf install --allowerasing openssl-1:3.0.7-27.el9"}},
		{"rpm package without epoch", modified("package:bash", attrs("version", "0:5.1.8-9.el9", "manager", "rpm"), attrs("version", "0:5.1.8-10.el9", "manager", "rpm")),
			[]string{"dnf install --allowerasing bash-5.1.8-9.el9"}},
		{"package added", baseline.Change{Key: "package:netcat", Kind: "package", Change: baseline.Added,
			New: &baseline.Item{Key: "package:netcat", Attrs: attrs("manager", "dpkg")}}, []string{"apt-get remove netcat"}},
		{"service disabled", modified("service:auditd.service", attrs("state", "enabled"), attrs("state", "disabled")),
			[]string{"systemctl unmask auditd.service && systemctl enable auditd.service"}},
		{"service unmasked", modified("service:telnet.socket", attrs("state", "masked"), attrs("state", "enabled")),
			[]string{"systemctl mask telnet.socket"}},
		{"sysctl", modified("sysctl:net.ipv4.ip_forward", attrs("value", "0"), attrs("value", "1")),
			[]string{"sysctl -w net.ipv4.ip_forward=0"}},
		{"user shell changed", modified("user:backup", attrs("shell", "/usr/sbin/nologin", "uid", "34"), attrs("shell", "/bin/bash", "uid", "34")),
			[]string{"usermod -s /usr/sbin/nologin backup"}},
		{"user added", baseline.Change{Key: "user:toor", Kind: "user", Change: baseline.Added, New: &baseline.Item{Key: "user:toor"}},
			[]string{"usermod -L toor && userdel toor"}},
		{"group members", modified("group:sudo", attrs("members", "deploy"), attrs("members", "deploy,mallory")),
			[]string{"gpasswd -M deploy sudo"}},
		{"port opened", baseline.Change{Key: "port:tcp/4444", Kind: "port", Change: baseline.Added,
			New: &baseline.Item{Key: "port:tcp/4444", Attrs: attrs("process", "nc")}}, []string{"ss -lntup 'sport = :4444'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, steps(RollbackSteps(tt.c, false))); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRollbackContentStep(t *testing.T) {
	c := fixChange("file:/etc/ssh/sshd_config")
	with := RollbackSteps(c, true)
	without := RollbackSteps(c, false)
	if !strings.Contains(with[0].Text, "content shown below") {
		t.Errorf("with content: %q", with[0].Text)
	}
	if !strings.Contains(without[0].Text, "from a backup") || !strings.Contains(without[0].Text, "sha256 6fcf5f57909a") {
		t.Errorf("without content: %q, want the backup hint with the old digest", without[0].Text)
	}
}
