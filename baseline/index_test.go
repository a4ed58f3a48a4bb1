package baseline

import (
	"bytes"
	"strings"
	"testing"
)

func TestIndex(t *testing.T) {
	s := sampleSnapshot()
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewIndex(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(s.Items) || x.Digest() != s.Digest() || x.Host().Name != "web-01" {
		t.Fatalf("index: %d items, digest %s; want %d, %s", x.Len(), x.Digest().Short(), len(s.Items), s.Digest().Short())
	}
	for i := range s.Items {
		it := &s.Items[i]
		line := it.AppendCanonical(nil)
		j, found, same := x.Match(it.Key, line)
		if !found || !same || j != i {
			t.Fatalf("Match(%q) = %d, %v, %v", it.Key, j, found, same)
		}
		changed := *it
		changed.Error = "now unreadable"
		if j, found, same := x.Match(it.Key, changed.AppendCanonical(nil)); !found || same || j != i {
			t.Errorf("Match of a changed item = %d, %v, %v", j, found, same)
		}
		back, err := x.Item(j)
		if err != nil || !back.Equal(it) {
			t.Errorf("Item(%d) = %+v, %v", j, back, err)
		}
	}
	if _, found, _ := x.Match("file:/nope", []byte("{}")); found {
		t.Error("Match found a missing key")
	}
	if _, ok := x.Find("file:/nope"); ok {
		t.Error("Find found a missing key")
	}
	for i := range s.Items {
		if j, ok := x.Find(s.Items[i].Key); !ok || j != i {
			t.Errorf("Find(%q) = %d, %v; want %d", s.Items[i].Key, j, ok, i)
		}
	}
	var keys []string
	if err := x.Each(func(i int, key string, line []byte) error {
		keys = append(keys, key)
		if string(line) != string(s.Items[i].AppendCanonical(nil)) {
			t.Errorf("Each line %d differs", i)
		}
		return nil
	}); err != nil || len(keys) != len(s.Items) || keys[1] != s.Items[1].Key {
		t.Errorf("Each: %v, keys %q", err, keys)
	}
	bad := strings.Replace(string(data), `"0600"`, `"0777"`, 1)
	if _, err := NewIndex(strings.NewReader(bad), int64(len(bad))); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("edited encoding: err = %v", err)
	}
	if _, err := NewIndex(bytes.NewReader(data[:len(data)/2]), int64(len(data)/2)); err == nil {
		t.Error("truncated encoding indexed")
	}
}

func BenchmarkIndex100k(b *testing.B) {
	data, _ := benchSnapshot(100000).Marshal()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewIndex(bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIndexPrefixed(t *testing.T) {
	s := &Snapshot{Host: Host{Name: "h"}}
	for _, k := range []string{"file:/etc", "file:/etc/a", "file:/etc/a-b", "file:/etc/a/x", "file:/etc/a/y", "file:/etc/b", "package:a"} {
		s.Items = append(s.Items, Item{Key: k})
	}
	s.Sort()
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewIndex(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		prefix string
		want   []string
	}{
		{"file:/etc/a/", []string{"file:/etc/a/x", "file:/etc/a/y"}},
		{"file:/etc/", []string{"file:/etc/a", "file:/etc/a-b", "file:/etc/a/x", "file:/etc/a/y", "file:/etc/b"}},
		{"file:/etc/c/", nil},
		{"package:", []string{"package:a"}},
		{"zzz", nil},
	} {
		pos, err := x.Prefixed(tt.prefix)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, i := range pos {
			k, _ := x.Key(i)
			got = append(got, k)
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("Prefixed(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}
