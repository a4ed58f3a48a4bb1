package baseline

import (
	"fmt"
	"testing"
	"time"
)

// benchSnapshot is a snapshot shaped like a scan of 100,000 config files.
func benchSnapshot(n int) *Snapshot {
	s := &Snapshot{Host: Host{Name: "bench"}, TakenAt: time.Unix(1700000000, 0).UTC()}
	for i := range n {
		d := Sum([]byte(fmt.Sprint(i)))
		s.Items = append(s.Items, Item{
			Key: fmt.Sprintf("file:/srv/corpus/d%03d/sub%02d/file%06d.conf", i%1000, i%37, i), Source: "files.corpus",
			Attrs: Attrs{{"gid", "0"}, {"group", "root"}, {"mode", "0644"}, {"mtime", "2026-11-23T13:02:38.164316424Z"},
				{"owner", "root"}, {"size", fmt.Sprint(1000 + i%7000)}, {"type", "file"}, {"uid", "0"}},
			Digest: d,
		})
	}
	s.Sort()
	return s
}

func BenchmarkSnapshotEncode100k(b *testing.B) {
	s := benchSnapshot(100000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshotDecode100k(b *testing.B) {
	data, _ := benchSnapshot(100000).Marshal()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiffUnchanged100k(b *testing.B) {
	a, c := benchSnapshot(100000), benchSnapshot(100000)
	b.ReportAllocs()
	for b.Loop() {
		if d := Diff(a, c, DiffOptions{}); !d.Empty() {
			b.Fatal("drift")
		}
	}
}

// BenchmarkBuilderFinish100k measures what a first snapshot does after the
// scan: sort 100,000 item lines that arrived in walk order (each directory
// in hash order), drop duplicates and compute the state digest.
func BenchmarkBuilderFinish100k(b *testing.B) {
	s := benchSnapshot(100000)
	lines := make([][]byte, len(s.Items))
	for i := range s.Items {
		lines[i] = s.Items[i].AppendCanonical(nil)
	}
	// A fixed shuffle: the order in which parallel workers deliver items.
	perm := make([]int, len(lines))
	for i := range perm {
		perm[i] = i
	}
	x := uint64(1)
	for i := len(perm) - 1; i > 0; i-- {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		j := int(x % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	want := s.Digest()
	b.ReportAllocs()
	for b.Loop() {
		bl := NewBuilder(len(lines))
		for _, i := range perm {
			bl.AddEncoded(&s.Items[i], lines[i], 0)
		}
		if e := bl.Finish(s.Host, s.TakenAt); e.Digest() != want {
			b.Fatal("digest differs from the sorted snapshot's")
		}
	}
}
