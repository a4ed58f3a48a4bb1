package baseline

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sampleSnapshot() *Snapshot {
	s := &Snapshot{
		Host:    Host{Name: "web-01", Labels: map[string]string{"role": "web", "env": "prod"}},
		TakenAt: time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC),
		Sources: []SourceStatus{{Name: "files.etc", Kind: "file", Status: StatusOK, Items: 3, Took: 12 * time.Millisecond}},
		Items: []Item{
			{Key: "package:openssl", Source: "packages", Attrs: Attrs{{"architecture", "amd64"}, {"version", "3.0.15-1"}}},
			{Key: "file:/etc/caf\xe9", Source: "files.etc", Attrs: Attrs{{"mode", "0644"}, {"target", "x\xffy"}, {"type", "symlink"}}},
			{Key: "file:/etc/ssh/sshd_config", Source: "files.etc", Attrs: Attrs{{"mode", "0600"}, {"type", "file"}}, Digest: Sum([]byte("a")), Content: Sum([]byte("b")), Redacted: true},
			{Key: "file:/etc/shadow", Source: "files.etc", Attrs: Attrs{{"mode", "0640"}}, Error: "open: permission denied <&>"},
		},
	}
	s.Sort()
	return s
}

func TestEncodeDeterministic(t *testing.T) {
	a, err := sampleSnapshot().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The same state built in another order gives the same bytes.
	s := sampleSnapshot()
	s.Items[0], s.Items[3] = s.Items[3], s.Items[0]
	s.Host.Labels = map[string]string{"env": "prod", "role": "web"}
	s.Sort()
	b, _ := s.Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("encodings differ:\n%s\n%s", a, b)
	}
	// Another moment of the same state has the same digest.
	s.TakenAt = s.TakenAt.Add(time.Hour)
	s.Sources[0].Took = time.Second
	if s.Digest() != sampleSnapshot().Digest() {
		t.Error("digest depends on when the snapshot was taken")
	}
	s.Items[1].Attrs = s.Items[1].Attrs.Set("mode", "0600")
	if s.Digest() == sampleSnapshot().Digest() {
		t.Error("digest ignores an attribute change")
	}
	if !json.Valid(a) {
		t.Errorf("encoding is not valid JSON:\n%s", a)
	}
	if bytes.Contains(a, []byte("\xe9")) || bytes.Contains(a, []byte("\xff")) {
		t.Error("raw invalid UTF-8 in the encoding")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	want := sampleSnapshot()
	b, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	want.Format = FormatVersion
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got.Lookup("file:/etc/caf\xe9") == nil {
		t.Error("non-UTF-8 key lost")
	}
	if v, _ := got.Lookup("file:/etc/caf\xe9").Attrs.Get("target"); v != "x\xffy" {
		t.Errorf("non-UTF-8 attribute = %q", v)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := sampleSnapshot().Marshal()
	tests := []struct {
		name string
		data string
		want string
	}{
		{"edited item", strings.Replace(string(good), `"0600"`, `"0777"`, 1), "does not match its digest"},
		{"truncated", string(good[:len(good)/2]), "decode snapshot"},
		{"future format", strings.Replace(string(good), `"format":1`, `"format":99`, 1), "format version 99 is not supported"},
		{"not json", "hello", "decode snapshot"},
		{"unsorted", `{"format":1,"host":{"name":"h"},"taken_at":"2026-01-01T00:00:00Z","digest":"","items":[{"key":"file:/b"},{"key":"file:/a"}]}`, "out of order"},
		{"duplicate", `{"format":1,"host":{"name":"h"},"taken_at":"2026-01-01T00:00:00Z","digest":"","items":[{"key":"file:/a"},{"key":"file:/a"}]}`, "duplicate key"},
		{"no kind", `{"format":1,"host":{"name":"h"},"taken_at":"2026-01-01T00:00:00Z","digest":"","items":[{"key":"nokind"}]}`, "no kind prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDigestText(t *testing.T) {
	d := Sum([]byte("x"))
	back, err := ParseDigest(d.String())
	if err != nil || back != d {
		t.Fatalf("ParseDigest(String()) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("z", 64)} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) succeeded", bad)
		}
	}
}

func TestAttrsSet(t *testing.T) {
	var a Attrs
	a = a.Set("mode", "0644").Set("a", "1").Set("z", "2").Set("mode", "0600")
	want := Attrs{{"a", "1"}, {"mode", "0600"}, {"z", "2"}}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if v, ok := a.Get("mode"); !ok || v != "0600" {
		t.Errorf("Get(mode) = %q, %v", v, ok)
	}
	if _, ok := a.Get("nope"); ok {
		t.Error("Get(nope) found something")
	}
}
