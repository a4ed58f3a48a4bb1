package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name, value string
		want        []netip.Prefix
		err         string // part of the error; "" for none
	}{
		{"none", "", nil, ""},
		{"cidrs and an address", `["10.0.0.0/8", "192.0.2.10", "2001:db8::/32"]`,
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8::/32")}, ""},
		{"IPv4 written as IPv6", `["::ffff:10.1.0.0/112"]`, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, ""},
		{"not an address", `["proxy.internal"]`, nil, `Entry 1, "proxy.internal", must be a CIDR`},
		{"host bits set", `["10.0.0.1/8"]`, nil, `host bits are set; the network is 10.0.0.0/8`},
		{"bad prefix length", `["10.0.0.0/33"]`, nil, `Entry 1, "10.0.0.0/33"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := ""
			if tt.value != "" {
				src = "trusted_proxies = " + tt.value + "\n"
			}
			c, err := Parse([]byte(src), "c.hcl")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse: %v, want an error with %q", err, tt.err)
				}
				if !strings.Contains(err.Error(), "c.hcl:1,") {
					t.Errorf("error %q does not name the line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, c.TrustedProxies, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("TrustedProxies (-want +got):\n%s", diff)
			}
		})
	}
}
