package watch

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPendingBatch(t *testing.T) {
	type change struct {
		path string
		dir  bool
	}
	tests := []struct {
		name    string
		changes []change
		want    Batch
	}{
		{
			name:    "sorted and unique",
			changes: []change{{"/etc/b", false}, {"/etc/a", false}, {"/etc/b", false}},
			want:    Batch{Source: "s", Paths: []string{"/etc/a", "/etc/b"}},
		},
		{
			name: "a rescan covers what is below it",
			changes: []change{
				{"/etc/app/x.conf", false}, {"/etc/app", true}, {"/etc/app/sub", true},
				{"/etc/app-old", false}, {"/etc/apps/y", true}, {"/etc/app", false},
			},
			want: Batch{Source: "s", Paths: []string{"/etc/app-old"}, Dirs: []string{"/etc/app", "/etc/apps/y"}},
		},
		{
			name:    "a path that vanished and came back as a directory",
			changes: []change{{"/etc/x", false}, {"/etc/x", true}},
			want:    Batch{Source: "s", Dirs: []string{"/etc/x"}},
		},
		{
			name:    "root",
			changes: []change{{"/etc", false}, {"/", true}},
			want:    Batch{Source: "s", Dirs: []string{"/"}},
		},
	}
	t0 := time.Unix(1700000000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPending(t0)
			for _, c := range tt.changes {
				p.add(c.path, c.dir)
			}
			tt.want.First = t0
			if diff := cmp.Diff(tt.want, p.batch("s")); diff != "" {
				t.Errorf("batch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPendingMerge(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	a, b := newPending(t0.Add(time.Second)), newPending(t0)
	a.add("/etc/a", false)
	a.add("/etc/d", false)
	b.add("/etc/d", true)
	b.add("/etc/b", false)
	a.merge(b)
	want := Batch{Source: "s", Paths: []string{"/etc/a", "/etc/b"}, Dirs: []string{"/etc/d"}, First: t0}
	if diff := cmp.Diff(want, a.batch("s")); diff != "" {
		t.Errorf("merged batch (-want +got):\n%s", diff)
	}
}

func TestFlushAt(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	ms := time.Millisecond
	tests := []struct {
		name        string
		first, last time.Duration // after t0
		want        time.Duration // after t0
	}{
		{"one change waits for the quiet period", 0, 0, 200 * ms},
		{"each change extends it", 0, 150 * ms, 350 * ms},
		{"up to the maximum delay", 0, 1900 * ms, 2000 * ms},
		{"a continuous writer is cut off", 0, 5000 * ms, 2000 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := flushAt(t0.Add(tt.first), t0.Add(tt.last), 200*ms, 2*time.Second)
			if want := t0.Add(tt.want); !got.Equal(want) {
				t.Errorf("flushAt = %s after the first change, want %s", got.Sub(t0), tt.want)
			}
		})
	}
}
