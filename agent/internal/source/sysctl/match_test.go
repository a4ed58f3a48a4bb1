package sysctl

import (
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		name    string
		want    bool
	}{
		{"net.ipv4.ip_forward", "net.ipv4.ip_forward", true},
		{"net.ipv4.ip_forward", "net.ipv4.ip_forward_use_pmtu", false},
		{"net.ipv4", "net.ipv4.ip_forward", false},
		{"net.ipv4.*", "net.ipv4.ip_forward", true},
		{"net.ipv4.*", "net.ipv4.conf.all.rp_filter", false},
		{"net.ipv4.**", "net.ipv4.conf.all.rp_filter", true},
		{"net.ipv4.**", "net.ipv6.conf.all.forwarding", false},
		{"**", "vm.swappiness", true},
		{"**.rp_filter", "net.ipv4.conf.all.rp_filter", true},
		{"net.**.rp_filter", "net.ipv4.conf.all.rp_filter", true},
		{"net.**.ipv4.**", "net.ipv4.ip_forward", true},
		{"net.*.conf.*.forwarding", "net.ipv6.conf.eth0.forwarding", true},
		{"net.*.conf.*.forwarding", "net.ipv6.conf.eth0/100.forwarding", true},
		{"net.*.conf.eth0/100.*", "net.ipv6.conf.eth0/100.forwarding", true},
		{"net.*.conf.eth0.*", "net.ipv6.conf.eth0/100.forwarding", false},
		{"kernel.random.*", "kernel.random.uuid", true},
		{"kernel.random.*", "kernel.randomize_va_space", false},
		{"kernel.sched_*", "kernel.sched_autogroup_enabled", true},
		{"kernel.[a-m]*", "kernel.hostname", true},
		{"kernel.[a-m]*", "kernel.tainted", false},
		{"fs.?io-nr", "fs.aio-nr", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.name, func(t *testing.T) {
			p, err := compilePattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.match(strings.Split(tt.name, ".")); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}
