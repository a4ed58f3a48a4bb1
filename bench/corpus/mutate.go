package main

import (
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Kinds of content edit made by mutateTree.
const (
	editAppend  = iota // append lines: size and mtime change
	editInPlace        // change one byte: same size, new mtime
	editStealth        // change one byte and restore the mtime: only a hash sees it
	editKinds
)

// mutateTree changes the tree under root deterministically for its current
// content and seed: it edits n files, changes the mode of n others, deletes n
// more and adds n new ones.
func mutateTree(root string, seed uint64, n int) (stats, error) {
	var st stats
	var files, dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		switch {
		case d.Type().IsRegular():
			files = append(files, rel)
		case d.IsDir() && rel != ".":
			dirs = append(dirs, rel)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if len(files) < 3*n {
		return st, fmt.Errorf("%s has %d files, -mutate %d needs at least %d", root, len(files), n, 3*n)
	}
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	r := rand.New(rand.NewPCG(seed^streamMutate, uint64(n)))
	for i := range 3 * n { // the first 3n of a shuffle, in order
		j := i + r.IntN(len(files)-i)
		files[i], files[j] = files[j], files[i]
	}
	mutated := epoch.AddDate(3, 0, 0)
	when := func() time.Time { return mutated.Add(time.Duration(r.Int64N(int64(24 * time.Hour)))) }

	for _, rel := range files[:n] {
		if err := editFile(filepath.Join(root, rel), r.IntN(editKinds), r, when()); err != nil {
			return st, err
		}
		st.edited++
	}
	for _, rel := range files[n : 2*n] {
		name := filepath.Join(root, rel)
		info, err := os.Lstat(name)
		if err != nil {
			return st, err
		}
		if err := os.Chmod(name, otherMode(info.Mode().Perm())); err != nil {
			return st, err
		}
		st.chmodded++
	}
	touched := make(map[string]bool) // directories that gain or lose entries
	for _, rel := range files[2*n : 3*n] {
		if err := os.Remove(filepath.Join(root, rel)); err != nil {
			return st, err
		}
		touched[filepath.Dir(rel)] = true
		st.deleted++
	}
	var buf []byte
	for i := range n {
		rel := dirs[r.IntN(len(dirs))]
		touched[rel] = true
		dir := filepath.Join(root, rel)
		name := filepath.Join(dir, fmt.Sprintf("added-%d.conf", i))
		for k := 2; ; k++ {
			if _, err := os.Lstat(name); err != nil {
				break
			}
			name = filepath.Join(dir, fmt.Sprintf("added-%d-%d.conf", i, k))
		}
		size := min(max(int(sizeWeight(r)), minFileSize), maxFileSize)
		buf = generate(buf[:0], r, pickStyle(r), size)
		if err := writeFile(name, buf, 0o644, when()); err != nil {
			return st, err
		}
		st.added++
		st.bytes += int64(len(buf))
	}
	// Give the changed directories mtimes that do not depend on the clock.
	for _, rel := range slices.Sorted(maps.Keys(touched)) {
		t := when()
		if err := os.Chtimes(filepath.Join(root, rel), t, t); err != nil {
			return st, err
		}
	}
	return st, nil
}

// editFile changes the content of the file name in the way kind says.
func editFile(name string, kind int, r *rand.Rand, mtime time.Time) error {
	info, err := os.Lstat(name)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	pos := -1
	if kind != editAppend && len(data) > 0 {
		start := r.IntN(len(data))
		for k := range len(data) { // the first byte from start that is not a newline
			if i := (start + k) % len(data); data[i] != '\n' {
				pos = i
				break
			}
		}
	}
	if pos < 0 {
		kind = editAppend
	}
	switch kind {
	case editAppend:
		data = fmt.Appendf(data, "# changed by corpus -mutate\nmutated_%d = %d\n", r.IntN(1000), r.IntN(1<<20))
	default:
		if data[pos] == 'x' {
			data[pos] = 'y'
		} else {
			data[pos] = 'x'
		}
	}
	if kind == editStealth {
		mtime = info.ModTime()
	}
	// O_TRUNC on an existing file keeps its mode.
	if err := os.WriteFile(name, data, info.Mode().Perm()); err != nil {
		return err
	}
	return os.Chtimes(name, mtime, mtime)
}

// otherMode returns a different, plausible mode for a file of mode m.
func otherMode(m fs.FileMode) fs.FileMode {
	switch m {
	case 0o644:
		return 0o600
	case 0o600:
		return 0o640
	case 0o755:
		return 0o700
	default:
		return 0o644
	}
}
