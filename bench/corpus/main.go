package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"time"
)

func main() {
	var (
		out     = flag.String("out", "", "directory to write the tree to, empty or absent; with -mutate, the tree to change")
		files   = flag.Int("files", 100000, "number of regular files")
		seed    = flag.Uint64("seed", 1, "seed: the same seed and flags give the same tree")
		sizeMB  = flag.Float64("size-mb", 0, "total size of the files' contents in MiB (default: 500 MiB per 100,000 files)")
		mutate  = flag.Int("mutate", 0, "change an existing tree instead: edit, chmod, add and delete this many files each")
		workers = flag.Int("workers", runtime.GOMAXPROCS(0), "number of concurrent file writers")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: corpus -out DIR [-files N] [-seed S] [-size-mb MiB]\n       corpus -out DIR -mutate N [-seed S]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() > 0 || *files < 1 || *mutate < 0 || *workers < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	start := time.Now()
	if *mutate > 0 {
		st, err := mutateTree(*out, *seed, *mutate)
		if err != nil {
			fmt.Fprintf(os.Stderr, "corpus: mutate %s: %v\n", *out, err)
			os.Exit(1)
		}
		fmt.Printf("corpus: %s: edited %d, chmodded %d, added %d, deleted %d files in %s\n",
			*out, st.edited, st.chmodded, st.added, st.deleted, time.Since(start).Round(time.Millisecond))
		return
	}
	st, err := generateTree(ctx, *out, *seed, *files, targetBytes(*files, *sizeMB), *workers)
	if err != nil {
		fmt.Fprintf(os.Stderr, "corpus: generate %s: %v\n", *out, err)
		os.Exit(1)
	}
	fmt.Printf("corpus: %s: %d files (%.1f MiB), %d directories, %d symlinks in %s\n",
		*out, st.files, float64(st.bytes)/(1<<20), st.dirs, st.links, time.Since(start).Round(time.Millisecond))
}

// generateTree writes the tree for seed under root, which must be empty or
// absent.
func generateTree(ctx context.Context, root string, seed uint64, files int, total int64, workers int) (stats, error) {
	if err := checkEmpty(root); err != nil {
		return stats{}, err
	}
	p := makePlan(seed, files, total)
	return p.write(ctx, root, seed, workers)
}
