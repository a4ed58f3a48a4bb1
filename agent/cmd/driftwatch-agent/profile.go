package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes CPU and heap profiles when DRIFTWATCH_CPUPROFILE or
// DRIFTWATCH_MEMPROFILE name files, for diagnosing a slow or large run on a
// customer host. The returned function finishes them.
func startProfiles(stderr io.Writer) func() {
	var stops []func()
	if p := os.Getenv("DRIFTWATCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		} else {
			fmt.Fprintf(stderr, "driftwatch-agent: cpu profile %s: %v\n", p, err)
		}
	}
	if p := os.Getenv("DRIFTWATCH_MEMPROFILE"); p != "" {
		stops = append(stops, func() {
			f, err := os.Create(p)
			if err != nil {
				fmt.Fprintf(stderr, "driftwatch-agent: heap profile %s: %v\n", p, err)
				return
			}
			runtime.GC()
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
