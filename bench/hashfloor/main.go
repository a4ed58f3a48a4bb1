// Command hashfloor hashes every regular file under a directory with
// SHA-256 on N goroutines, the plainest way Go can: a walk that lists the
// directories, and workers that open, stat, read and close each file. It
// records nothing. bench/aide.sh runs it as a reference for what hashing
// every file costs on the machine at hand: most of its time is system
// calls, four or five per file, so it shows how costly they are there.
//
//	go run ./bench/hashfloor -workers 2 /tmp/tree
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	workers := flag.Int("workers", 2, "files hashed at once")
	flag.Parse()
	if flag.NArg() != 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "usage: hashfloor [-workers N] DIR")
		os.Exit(2)
	}
	start := time.Now()
	paths := make(chan string, 4096)
	var files, bytes, failed atomic.Int64
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			h := sha256.New()
			buf := make([]byte, 64<<10)
			for p := range paths {
				n, err := hashFile(p, h, buf)
				if err != nil {
					failed.Add(1)
					continue
				}
				files.Add(1)
				bytes.Add(n)
			}
		})
	}
	err := filepath.WalkDir(flag.Arg(0), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths <- p
		}
		return nil
	})
	close(paths)
	wg.Wait()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hashfloor: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("hashed %d files, %.1f MiB in %v with %d workers (%d unreadable)\n",
		files.Load(), float64(bytes.Load())/(1<<20), time.Since(start).Round(time.Millisecond), *workers, failed.Load())
}

// hashFile hashes one file: open, stat (as a scanner records attributes),
// read, close. It reads up to the size the stat gave and stops there, so
// that a file costs one read, not a second one to see the end.
func hashFile(p string, h hash.Hash, buf []byte) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	h.Reset()
	var n int64
	for n < st.Size() {
		k, err := f.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	h.Sum(buf[:0])
	return n, nil
}
