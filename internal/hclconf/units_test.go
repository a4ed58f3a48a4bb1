package hclconf

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := map[string]int64{"1MiB": 1 << 20, "512KiB": 512 << 10, "10MB": 10e6, "4096": 4096, "4096B": 4096, "1.5GiB": 3 << 29, "2k": 2048, "64MiB": 64 << 20}
	for in, want := range tests {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1 parsec", "1..2MiB", "9999999TiB", "99999999999TiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := map[string]time.Duration{"10s": 10 * time.Second, "1m30s": 90 * time.Second, "6h": 6 * time.Hour, "7d": 7 * 24 * time.Hour}
	for in, want := range tests {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "", "999999999999d", "9999999999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
}
