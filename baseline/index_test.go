package baseline

import (
	"strings"
	"testing"
)

func TestIndex(t *testing.T) {
	s := sampleSnapshot()
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(s.Items) || x.Digest() != s.Digest() || x.Host().Name != "web-01" {
		t.Fatalf("index: %d items, digest %s; want %d, %s", x.Len(), x.Digest().Short(), len(s.Items), s.Digest().Short())
	}
	for i := range s.Items {
		it := &s.Items[i]
		j, ok := x.Find(it.Key)
		if !ok || j != i {
			t.Fatalf("Find(%q) = %d, %v", it.Key, j, ok)
		}
		if got := string(x.Line(j)); got != string(it.AppendCanonical(nil)) {
			t.Errorf("line %d = %s, want the canonical encoding", j, got)
		}
		back, err := x.Item(j)
		if err != nil || !back.Equal(it) {
			t.Errorf("Item(%d) = %+v, %v", j, back, err)
		}
	}
	if _, ok := x.Find("file:/nope"); ok {
		t.Error("Find found a missing key")
	}
	i := 0
	if d := DigestOf("web-01", func() []byte {
		if i == len(s.Items) {
			return nil
		}
		i++
		return s.Items[i-1].AppendCanonical(nil)
	}); d != s.Digest() {
		t.Error("DigestOf differs from Digest")
	}
	bad := strings.Replace(string(data), `"0600"`, `"0777"`, 1)
	if _, err := NewIndex([]byte(bad)); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("edited encoding: err = %v", err)
	}
}

func BenchmarkIndex100k(b *testing.B) {
	data, _ := benchSnapshot(100000).Marshal()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewIndex(data); err != nil {
			b.Fatal(err)
		}
	}
}
