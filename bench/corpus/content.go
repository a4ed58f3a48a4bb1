package main

import (
	"math/rand/v2"
	"strconv"
)

// style is the shape of a file's text.
type style uint8

const (
	styleKV    style = iota // key = value, sshd-like "key value", or ENV=value
	styleINI                // [section] headers with key=value lines
	styleNginx              // nested blocks of directives ending in ';'
	styleShell              // a shell script
	styleList               // apt sources, hosts, crontab or audit rules
	styleYAML               // nested mappings and lists
	stylePEM                // a bundle of PEM blocks
	styleCount              // number of styles
)

// styleWeights is how often each style is drawn, in percent.
var styleWeights = [styleCount]int{
	styleKV:    34,
	styleINI:   15,
	styleNginx: 12,
	styleShell: 15,
	styleList:  10,
	styleYAML:  9,
	stylePEM:   5,
}

// extensions are the file name endings used for each style.
var extensions = [styleCount][]string{
	styleKV:    {".conf", ".conf", ".cfg", "", ".env", ".local", ".conf.dpkg-dist"},
	styleINI:   {".ini", ".cnf", ".conf", ".service", ".timer", ".network"},
	styleNginx: {".conf", ".vhost", "", ".conf.tmpl"},
	styleShell: {".sh", "", ".bash", ".sh"},
	styleList:  {".list", ".rules", ".allow", "", ".hosts"},
	styleYAML:  {".yaml", ".yml", ".yaml"},
	stylePEM:   {".pem", ".crt", ".key", ".pub"},
}

var words = []string{
	"access", "account", "agent", "alert", "api", "app", "archive", "audit",
	"auth", "backend", "backup", "balancer", "bind", "block", "bridge", "broker",
	"buffer", "bundle", "cache", "cert", "chain", "channel", "check", "client",
	"cluster", "collector", "compress", "config", "connect", "console", "control",
	"core", "cron", "daemon", "data", "debug", "default", "deploy", "device",
	"dhcp", "disk", "dns", "domain", "driver", "edge", "engine", "error", "event",
	"export", "filter", "firewall", "frontend", "gateway", "group", "guard",
	"handler", "health", "host", "http", "identity", "import", "index", "ingress",
	"input", "journal", "kernel", "key", "ldap", "limit", "link", "listen",
	"local", "lock", "log", "mail", "manager", "master", "metrics", "mirror",
	"module", "monitor", "mount", "net", "node", "notify", "ntp", "output",
	"package", "pam", "peer", "plugin", "policy", "pool", "port", "primary",
	"profile", "proxy", "public", "queue", "quota", "radius", "rate", "relay",
	"remote", "replica", "report", "resolver", "route", "rule", "runtime",
	"sample", "scheduler", "secret", "secure", "sensor", "server", "service",
	"session", "shadow", "share", "shell", "site", "socket", "spool", "ssh",
	"ssl", "stage", "storage", "stream", "sudo", "sync", "syslog", "system",
	"target", "task", "tcp", "template", "tenant", "timer", "tls", "token",
	"trace", "trust", "tunnel", "udp", "update", "upstream", "user", "vault",
	"volume", "vpn", "watch", "web", "worker", "zone",
}

var keys = []string{
	"Port", "ListenAddress", "PermitRootLogin", "PasswordAuthentication",
	"MaxAuthTries", "ClientAliveInterval", "UsePAM", "X11Forwarding",
	"max_connections", "shared_buffers", "work_mem", "listen_addresses",
	"log_level", "log_file", "pid_file", "user", "group", "timeout",
	"keepalive", "retries", "interval", "bind_address", "port", "data_dir",
	"cache_size", "max_clients", "worker_processes", "enabled", "verbose",
	"compression", "ssl_cert", "ssl_key", "ca_file", "server", "backend",
	"weight", "threads", "umask", "hostname", "domain", "search", "nameserver",
	"gateway", "mtu", "metric", "rotate", "maxsize", "include", "default_realm",
	"ticket_lifetime", "renew_lifetime", "dns_lookup_kdc", "mode", "policy",
	"path", "socket", "buffer_size", "queue_depth", "rate_limit", "burst",
	"allow", "deny", "order", "priority", "nice", "memory_limit", "cpu_quota",
	"restart", "restart_sec", "environment", "working_directory", "exec_start",
	"after", "wants", "description", "documentation", "notify_email",
	"smtp_host", "relayhost", "inet_interfaces", "mydestination", "myhostname",
}

var units = []string{"s", "m", "h", "ms", "d"}

var shellCommands = []string{
	"echo", "printf", "logger -t", "systemctl restart", "systemctl reload",
	"install -d -m 0755", "rm -f", "mkdir -p", "chown root:root", "chmod 0644",
	"test -x", "sed -i 's/^#//'", "grep -q", "cp -a", "ln -sf", "sleep",
}

var cronSchedules = []string{
	"*/5 * * * *", "0 * * * *", "15 3 * * *", "30 2 * * 0", "@reboot",
	"0 */6 * * *", "45 23 * * 1-5", "@daily", "10 4 1 * *",
}

var syscalls = []string{
	"openat", "execve", "chmod", "fchmod", "chown", "unlink", "rename",
	"setxattr", "mount", "init_module", "delete_module", "sethostname",
}

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// text appends generated lines to a buffer, drawing from r.
type text struct {
	r *rand.Rand
	b []byte
}

func (t *text) s(s string) { t.b = append(t.b, s...) }

func (t *text) c(c byte) { t.b = append(t.b, c) }

func (t *text) n(n int) { t.b = strconv.AppendInt(t.b, int64(n), 10) }

func (t *text) nl() { t.b = append(t.b, '\n') }

func (t *text) pick(list []string) string { return list[t.r.IntN(len(list))] }

func (t *text) word() { t.s(t.pick(words)) }

// indent appends four spaces per level.
func (t *text) indent(level int) {
	for range level {
		t.s("    ")
	}
}

// sentence appends between lo and hi words separated by spaces.
func (t *text) sentence(lo, hi int) {
	n := lo + t.r.IntN(hi-lo+1)
	for i := range n {
		if i > 0 {
			t.c(' ')
		}
		t.word()
	}
}

// comment appends a comment line starting with mark.
func (t *text) comment(mark string) {
	t.s(mark)
	t.c(' ')
	t.sentence(3, 11)
	if t.r.IntN(3) == 0 {
		t.c('.')
	}
	t.nl()
}

func (t *text) ip() {
	t.s("10.")
	t.n(t.r.IntN(256))
	t.c('.')
	t.n(t.r.IntN(256))
	t.c('.')
	t.n(1 + t.r.IntN(254))
}

func (t *text) host() {
	t.word()
	t.c('-')
	t.n(t.r.IntN(100))
	t.s(".example.internal")
}

func (t *text) path() {
	t.s(t.pick([]string{"/etc/", "/var/lib/", "/var/log/", "/usr/share/", "/run/", "/opt/", "/srv/"}))
	t.word()
	t.c('/')
	t.word()
	if t.r.IntN(2) == 0 {
		t.s(t.pick([]string{".conf", ".log", ".pid", ".sock", ".db", ".pem"}))
	}
}

// value appends a plausible setting value.
func (t *text) value() {
	switch t.r.IntN(10) {
	case 0, 1:
		t.n(t.r.IntN(65536))
	case 2:
		t.s(t.pick([]string{"yes", "no", "on", "off", "true", "false"}))
	case 3:
		t.path()
	case 4:
		t.host()
	case 5:
		t.ip()
	case 6:
		t.n(1 + t.r.IntN(600))
		t.s(t.pick(units))
	case 7:
		t.c('"')
		t.sentence(1, 4)
		t.c('"')
	case 8:
		t.word()
		for range 1 + t.r.IntN(3) {
			t.c(',')
			t.word()
		}
	default:
		t.word()
	}
}

func (t *text) key() {
	if t.r.IntN(3) == 0 {
		t.word()
		t.c('_')
		t.word()
		return
	}
	t.s(t.pick(keys))
}

// generate appends size bytes of text of style st to b and returns it. The
// last byte is a newline.
func generate(b []byte, r *rand.Rand, st style, size int) []byte {
	if size <= 0 {
		return b
	}
	t := text{r: r, b: b}
	start := len(b)
	end := start + size
	switch st {
	case styleKV:
		t.kv(end)
	case styleINI:
		t.ini(end)
	case styleNginx:
		t.nginx(end)
	case styleShell:
		t.shell(end)
	case styleList:
		t.list(end)
	case styleYAML:
		t.yaml(end)
	default:
		t.pem(end)
	}
	t.b = t.b[:end]
	t.b[end-1] = '\n'
	return t.b
}

func (t *text) kv(end int) {
	syntax := t.r.IntN(3) // 0: key = value, 1: key value, 2: KEY=value
	t.s("# ")
	t.word()
	t.s(" configuration file, managed by ")
	t.word()
	t.nl()
	t.comment("#")
	t.nl()
	for len(t.b) < end {
		p := t.r.IntN(100)
		switch {
		case p < 10:
			t.comment("#")
		case p < 14:
			t.nl()
		default:
			if p < 18 {
				t.c('#')
			}
			switch syntax {
			case 0:
				t.key()
				t.s(" = ")
				t.value()
			case 1:
				t.key()
				t.c(' ')
				t.value()
			default:
				k := len(t.b)
				t.key()
				upper(t.b[k:])
				t.c('=')
				t.value()
			}
			t.nl()
		}
	}
}

// upper turns ASCII letters of b to upper case in place.
func upper(b []byte) {
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
}

func (t *text) ini(end int) {
	t.comment(";")
	for len(t.b) < end {
		t.nl()
		t.c('[')
		switch t.r.IntN(4) {
		case 0:
			t.s(t.pick([]string{"Unit", "Service", "Install", "Network", "Match", "Timer"}))
		case 1:
			t.word()
			t.s(` "`)
			t.word()
			t.c('"')
		default:
			t.word()
		}
		t.s("]\n")
		for range 2 + t.r.IntN(10) {
			switch t.r.IntN(12) {
			case 0:
				t.comment(";")
			case 1:
				t.comment("#")
			default:
				t.key()
				t.c('=')
				t.value()
				t.nl()
			}
		}
	}
}

func (t *text) directive(level int) {
	t.indent(level)
	t.s(t.pick([]string{
		"proxy_pass http://", "server_name ", "listen ", "root ", "include ",
		"access_log ", "error_log ", "proxy_set_header Host ", "add_header X-",
		"client_max_body_size ", "keepalive_timeout ", "ssl_certificate ",
		"return 301 https://", "gzip ", "allow ", "deny ", "limit_req zone=",
	}))
	t.value()
	t.s(";\n")
}

func (t *text) nginx(end int) {
	t.comment("#")
	for len(t.b) < end {
		t.nl()
		if t.r.IntN(4) == 0 {
			t.s("upstream ")
			t.word()
			t.s("_backend {\n")
			for range 1 + t.r.IntN(4) {
				t.s("    server ")
				t.ip()
				t.c(':')
				t.n(1024 + t.r.IntN(8000))
				t.s(" weight=")
				t.n(1 + t.r.IntN(5))
				t.s(";\n")
			}
			t.s("}\n")
			continue
		}
		t.s("server {\n    listen ")
		t.n(t.pick2(80, 443))
		t.s(";\n    server_name ")
		t.host()
		t.s(";\n")
		for range 1 + t.r.IntN(5) {
			t.directive(1)
		}
		for range t.r.IntN(5) {
			t.nl()
			if t.r.IntN(4) == 0 {
				t.comment("    #")
			}
			t.s("    location /")
			t.word()
			t.s("/ {\n")
			for range 1 + t.r.IntN(5) {
				t.directive(2)
			}
			t.s("    }\n")
		}
		t.s("}\n")
	}
}

func (t *text) pick2(a, b int) int {
	if t.r.IntN(2) == 0 {
		return a
	}
	return b
}

func (t *text) command(level int) {
	t.indent(level)
	t.s(t.pick(shellCommands))
	t.c(' ')
	if t.r.IntN(2) == 0 {
		t.path()
	} else {
		t.c('"')
		t.sentence(1, 4)
		t.c('"')
	}
	t.nl()
}

func (t *text) shell(end int) {
	t.s(t.pick([]string{"#!/bin/sh\n", "#!/bin/bash\n", "#!/bin/sh -e\n"}))
	t.comment("#")
	t.s("set -eu\n\n")
	for len(t.b) < end {
		switch t.r.IntN(7) {
		case 0:
			t.comment("#")
		case 1:
			k := len(t.b)
			t.word()
			t.c('_')
			t.word()
			upper(t.b[k:])
			nameEnd := len(t.b)
			t.s(`="${`)
			t.b = append(t.b, t.b[k:nameEnd]...)
			t.s(`:-`)
			t.value()
			t.s("}\"\n")
		case 2:
			t.s("if [ -f ")
			t.path()
			t.s(" ]; then\n    . ")
			t.path()
			t.s("\nfi\n")
		case 3:
			t.word()
			t.c('_')
			t.word()
			t.s("() {\n    local ")
			t.word()
			t.s("=\"$1\"\n")
			for range 1 + t.r.IntN(5) {
				t.command(1)
			}
			t.s("    return 0\n}\n\n")
		case 4:
			t.s("case \"${1:-}\" in\n")
			for range 1 + t.r.IntN(4) {
				t.s("    ")
				t.word()
				t.s(")\n")
				t.command(2)
				t.s("        ;;\n")
			}
			t.s("    *)\n        echo \"usage: $0 {start|stop}\" >&2\n        exit 2\n        ;;\nesac\n\n")
		default:
			t.command(0)
		}
	}
}

func (t *text) list(end int) {
	kind := t.r.IntN(4)
	t.comment("#")
	for len(t.b) < end {
		if t.r.IntN(12) == 0 {
			t.comment("#")
			continue
		}
		switch kind {
		case 0:
			t.s(t.pick([]string{"deb ", "deb-src ", "deb [arch=amd64] ", "deb [signed-by=/usr/share/keyrings/"}))
			if t.b[len(t.b)-1] == '/' {
				t.word()
				t.s(".gpg] ")
			}
			t.s("http://")
			t.word()
			t.s(".example.org/debian ")
			t.s(t.pick([]string{"bookworm", "bookworm-updates", "bookworm-security", "trixie"}))
			t.s(" main")
			if t.r.IntN(2) == 0 {
				t.s(" contrib non-free-firmware")
			}
		case 1:
			t.ip()
			t.c('\t')
			k := len(t.b)
			t.host()
			name := t.b[k : len(t.b)-len(".example.internal")]
			t.c(' ')
			t.b = append(t.b, name...)
		case 2:
			t.s(t.pick(cronSchedules))
			t.s(" root ")
			t.path()
			t.s(" --")
			t.word()
			t.s(" >/dev/null 2>&1")
		default:
			t.s("-a always,exit -F arch=b64 -S ")
			t.s(t.pick(syscalls))
			t.s(" -F dir=")
			t.path()
			t.s(" -F perm=wa -k ")
			t.word()
		}
		t.nl()
	}
}

func (t *text) yaml(end int) {
	t.s("---\n")
	t.comment("#")
	for len(t.b) < end {
		t.word()
		t.s(":\n")
		for range 1 + t.r.IntN(6) {
			t.s("  ")
			t.key()
			switch t.r.IntN(5) {
			case 0:
				t.s(":\n")
				for range 1 + t.r.IntN(4) {
					t.s("    - ")
					t.value()
					t.nl()
				}
			case 1:
				t.s(":\n")
				for range 1 + t.r.IntN(4) {
					t.s("    ")
					t.key()
					t.s(": ")
					t.value()
					t.nl()
				}
			default:
				t.s(": ")
				t.value()
				t.nl()
			}
		}
	}
}

func (t *text) pem(end int) {
	for len(t.b) < end {
		t.s("# Issuer: CN=")
		t.word()
		t.s(" Root CA ")
		t.n(t.r.IntN(100))
		t.s(", O=")
		t.word()
		t.nl()
		t.s("-----BEGIN CERTIFICATE-----\n")
		for range 12 + t.r.IntN(20) {
			for range 6 {
				u := t.r.Uint64()
				for range 10 {
					t.c(b64[u&63])
					u >>= 6
				}
			}
			for range 4 {
				t.c(b64[t.r.IntN(64)])
			}
			t.nl()
		}
		t.s("-----END CERTIFICATE-----\n")
	}
}
