package migration

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
)

// File is one migration: a file named like 0001_init.sql.
type File struct {
	// Version is the number the name starts with, counting from 1.
	Version int
	// Name is the file name without ".sql", e.g. "0001_init".
	Name string
	// SQL is the file's content, run as one batch of statements.
	SQL string
}

var fileName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// Load reads every *.sql file in dir of fsys, sorted by version. The
// versions must run 1, 2, 3 … without a gap or a repeat.
func Load(fsys fs.FS, dir string) ([]File, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		files = append(files, File{Version: v, Name: e.Name()[:len(e.Name())-len(".sql")], SQL: string(b)})
	}
	slices.SortFunc(files, func(a, b File) int { return a.Version - b.Version })
	for i, f := range files {
		if f.Version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %04d", f.Name, i+1)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("read migrations: no *.sql files in %s", dir)
	}
	return files, nil
}

// Pending returns the files whose versions are not in applied, in order.
// It fails when applied holds a version this binary does not know: the
// database was migrated by a newer release.
func Pending(files []File, applied []int) ([]File, error) {
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		if v < 1 || v > len(files) {
			return nil, fmt.Errorf("database schema has migration %04d, this release knows up to %04d: use a newer release", v, len(files))
		}
		done[v] = true
	}
	var pending []File
	for _, f := range files {
		if !done[f.Version] {
			pending = append(pending, f)
		}
	}
	return pending, nil
}
