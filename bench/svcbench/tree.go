package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// dirsPerGroup is how many leaf directories share a parent: a tree of
// 10,000 directories has 100 groups, as /etc and /usr/lib spread their
// files over a few levels rather than one flat directory.
const dirsPerGroup = 100

// treeDir is the path of leaf directory d under root.
func treeDir(root string, d int) string {
	return filepath.Join(root, fmt.Sprintf("g%03d", d/dirsPerGroup), fmt.Sprintf("d%05d", d))
}

// treeFile is the path of file f of leaf directory d under root.
func treeFile(root string, d, f int) string {
	return filepath.Join(treeDir(root, d), fmt.Sprintf("f%02d.conf", f))
}

// fileContent is the content of file f of directory d: a small
// configuration file, the same for the same d and f.
func fileContent(d, f int) []byte {
	return fmt.Appendf(nil, "# svcbench test file d%05d/f%02d\nname    = \"d%05d-f%02d\"\nport    = %d\nenabled = %t\nlevel   = %q\n",
		d, f, d, f, 1024+(d*10+f)%60000, (d+f)%3 != 0, []string{"debug", "info", "warn"}[(d+f)%3])
}

// writeTree writes dirs leaf directories of files files each under root,
// which must be absent or empty.
func writeTree(root string, dirs, files int) error {
	if ents, err := os.ReadDir(root); err == nil && len(ents) > 0 {
		return fmt.Errorf("write tree %s: the directory is not empty", root)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write tree %s: %w", root, err)
	}
	work := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	// Creating files is mostly waiting on the file system: a few more
	// workers than cores keep it busy.
	for range 8 {
		wg.Go(func() {
			for d := range work {
				if err := writeDir(root, d, files); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for d := range dirs {
		select {
		case err := <-errs:
			close(work)
			wg.Wait()
			return err
		case work <- d:
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func writeDir(root string, d, files int) error {
	if err := os.MkdirAll(treeDir(root, d), 0o755); err != nil {
		return fmt.Errorf("write tree: %w", err)
	}
	for f := range files {
		p := treeFile(root, d, f)
		if err := os.WriteFile(p, fileContent(d, f), 0o644); err != nil {
			return fmt.Errorf("write tree: %w", err)
		}
	}
	return nil
}

// listFiles returns the regular files under root in lexical order.
func listFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list files under %s: %w", root, err)
	}
	return out, nil
}

// spread picks n of files, evenly spaced, so that edits fall in many
// directories.
func spread(files []string, n int) ([]string, error) {
	if n > len(files) {
		return nil, fmt.Errorf("want %d files, the tree has %d", n, len(files))
	}
	out := make([]string, n)
	for i := range n {
		out[i] = files[i*len(files)/n]
	}
	return out, nil
}

func cmdTree(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tree", stderr)
	out := fs.String("out", "", "the tree's root `directory`, absent or empty (required)")
	dirs := fs.Int("dirs", 10000, "leaf directories")
	files := fs.Int("files", 10, "files in each leaf directory")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *out == "" || *dirs < 1 || *files < 1 {
		return fmt.Errorf("%w: -out is required; -dirs and -files must be positive", errUsage)
	}
	start := time.Now()
	if err := writeTree(*out, *dirs, *files); err != nil {
		return err
	}
	groups := (*dirs + dirsPerGroup - 1) / dirsPerGroup
	fmt.Fprintf(stdout, "tree: %s: %d files in %d directories (%d groups of up to %d), written in %.1f s\n",
		strings.TrimSuffix(*out, "/"), *dirs**files, *dirs+groups+1, groups, dirsPerGroup, time.Since(start).Seconds())
	return nil
}
