package baseline

import (
	"bytes"
	"testing"
)

func TestBuilderMatchesEncode(t *testing.T) {
	s := sampleSnapshot()
	b := NewBuilder(0)
	// Add in reverse order, plus a duplicate from a later tag.
	for i := len(s.Items) - 1; i >= 0; i-- {
		b.Add(&s.Items[i], 0)
	}
	dup := s.Items[0]
	dup.Source = "other"
	b.Add(&dup, 1)
	var dropped []string
	b.Dedupe(func(key string, tag, kept int) {
		if tag != 1 || kept != 0 {
			t.Errorf("dropped tag %d kept %d", tag, kept)
		}
		dropped = append(dropped, key)
	})
	if len(dropped) != 1 || dropped[0] != s.Items[0].Key {
		t.Errorf("dropped %q", dropped)
	}
	e := b.Finish(s.Host, s.TakenAt)
	e.Sources = s.Sources
	var got, want bytes.Buffer
	if err := e.Encode(&got); err != nil {
		t.Fatal(err)
	}
	s.Encode(&want)
	if got.String() != want.String() {
		t.Errorf("builder encoding differs:\n%s\n%s", got.String(), want.String())
	}
	if e.Digest() != s.Digest() {
		t.Error("digest differs")
	}
	if len(e.ContentDigests()) != 1 {
		t.Errorf("content digests %v", e.ContentDigests())
	}
}

func TestBuilderManyChunks(t *testing.T) {
	s := benchSnapshot(20000)
	b := NewBuilder(10)
	for i := range s.Items {
		b.Add(&s.Items[i], 0)
	}
	e := b.Finish(s.Host, s.TakenAt)
	if e.Digest() != s.Digest() || e.Len() != len(s.Items) {
		t.Fatalf("digest or length differs")
	}
	back, err := e.Snapshot()
	if err != nil || len(back.Items) != len(s.Items) {
		t.Fatalf("decode: %v", err)
	}
}
