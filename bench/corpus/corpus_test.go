package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entry is what a test compares of one path in a tree.
type entry struct {
	Type   fs.FileMode
	Mode   fs.FileMode
	Size   int64
	Mtime  int64 // ns; zero for symlinks, whose mtime is not generated
	SHA256 string
	Target string
}

// readTree returns every entry under root by slash-separated relative path.
func readTree(t *testing.T, root string) map[string]entry {
	t.Helper()
	tree := make(map[string]entry)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{Type: info.Mode().Type(), Mode: info.Mode().Perm()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			e.SHA256, e.Size = hex.EncodeToString(sum[:]), info.Size()
			fallthrough
		default:
			e.Mtime = info.ModTime().UnixNano()
		}
		rel, err := filepath.Rel(root, p)
		tree[filepath.ToSlash(rel)] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func generateForTest(t *testing.T, dir string, seed uint64, files int) map[string]entry {
	t.Helper()
	if _, err := generateTree(context.Background(), dir, seed, files, targetBytes(files, 0), 2); err != nil {
		t.Fatalf("generate seed %d: %v", seed, err)
	}
	return readTree(t, dir)
}

func TestGenerateIsDeterministic(t *testing.T) {
	const files = 200
	tmp := t.TempDir()
	a := generateForTest(t, filepath.Join(tmp, "a"), 1, files)
	b := generateForTest(t, filepath.Join(tmp, "b"), 1, files)
	c := generateForTest(t, filepath.Join(tmp, "c"), 2, files)

	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different trees (-a +b):\n%s", diff)
	}
	if cmp.Equal(a, c) {
		t.Errorf("seeds 1 and 2 gave the same tree")
	}

	var n, links int
	var total int64
	modes := make(map[fs.FileMode]int)
	for rel, e := range a {
		switch {
		case e.Type == 0:
			n++
			total += e.Size
			modes[e.Mode]++
			if d := strings.Count(rel, "/") + 1; d < 2 || d > 6 {
				t.Errorf("%s: depth %d, want 2 to 6", rel, d)
			}
		case e.Type == fs.ModeSymlink:
			links++
		}
	}
	if n != files {
		t.Errorf("%d files, want %d", n, files)
	}
	if want := targetBytes(files, 0); total != want {
		t.Errorf("total size %d, want %d", total, want)
	}
	if links == 0 {
		t.Errorf("no symlinks")
	}
	for _, m := range []fs.FileMode{0o644, 0o600, 0o755} {
		if modes[m] == 0 {
			t.Errorf("no file of mode %o in %v", m, modes)
		}
	}
}

func TestGenerateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generateTree(context.Background(), dir, 1, 10, 10000, 1); err == nil {
		t.Fatal("generate into a non-empty directory: no error")
	}
}

func TestMutateIsDeterministic(t *testing.T) {
	const files, n = 200, 6
	tmp := t.TempDir()
	orig := generateForTest(t, filepath.Join(tmp, "a"), 1, files)
	generateForTest(t, filepath.Join(tmp, "b"), 1, files)
	for _, dir := range []string{"a", "b"} {
		st, err := mutateTree(filepath.Join(tmp, dir), 7, n)
		if err != nil {
			t.Fatalf("mutate %s: %v", dir, err)
		}
		if st.edited != n || st.chmodded != n || st.added != n || st.deleted != n {
			t.Errorf("mutate %s: %+v, want %d of each", dir, st, n)
		}
	}
	a, b := readTree(t, filepath.Join(tmp, "a")), readTree(t, filepath.Join(tmp, "b"))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same tree and seed, different mutations (-a +b):\n%s", diff)
	}

	var added, deleted, content, mode int
	for rel, e := range a {
		o, ok := orig[rel]
		switch {
		case !ok:
			added++
		case e.SHA256 != o.SHA256:
			content++
		case e.Mode != o.Mode:
			mode++
		}
	}
	for rel := range orig {
		if _, ok := a[rel]; !ok {
			deleted++
		}
	}
	got := [4]int{added, deleted, content, mode}
	if want := [4]int{n, n, n, n}; got != want {
		t.Errorf("added, deleted, content, mode changes = %v, want %v", got, want)
	}
}

func TestPlanSizes(t *testing.T) {
	tests := []struct {
		name    string
		weights []float64
		total   int64
		want    int64 // the sum, when the bounds do not allow total
	}{
		{"exact", []float64{1, 2, 3, 4}, 10000, 10000},
		{"clamped large", []float64{1, 1, 1000}, 1 << 20, 1 << 20},
		{"clamped small", []float64{1, 1, 1000000}, 3000, 3000},
		{"too large", []float64{1, 1}, 3 << 20, 2 << 20},
		{"too small", []float64{1, 1}, 10, 2 * minFileSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum int64
			for _, s := range planSizes(tt.weights, tt.total) {
				if s < minFileSize || s > maxFileSize {
					t.Errorf("size %d out of [%d, %d]", s, minFileSize, maxFileSize)
				}
				sum += int64(s)
			}
			if sum != tt.want {
				t.Errorf("sum %d, want %d", sum, tt.want)
			}
		})
	}
}
