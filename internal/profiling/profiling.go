// Package profiling writes CPU and heap profiles and an execution trace of
// a driftwatch program when the environment asks for them:
// DRIFTWATCH_CPUPROFILE, DRIFTWATCH_MEMPROFILE and DRIFTWATCH_TRACE name
// the files. It is for diagnosing a slow or
// large run on a host, and costs nothing when neither is set.
package profiling

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// Start starts the profiles (and trace) the environment asks for and returns the
// function that finishes them (writing the heap profile). Problems are
// reported on stderr with prog's name; they never stop the program.
func Start(prog string, stderr io.Writer) func() {
	var stops []func()
	if p := os.Getenv("DRIFTWATCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			if err = pprof.StartCPUProfile(f); err != nil {
				f.Close()
			}
		}
		if err == nil {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		} else {
			fmt.Fprintf(stderr, "%s: cpu profile %s: %v\n", prog, p, err)
		}
	}
	if p := os.Getenv("DRIFTWATCH_TRACE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			if err = trace.Start(f); err != nil {
				f.Close()
			}
		}
		if err == nil {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		} else {
			fmt.Fprintf(stderr, "%s: execution trace %s: %v\n", prog, p, err)
		}
	}
	if p := os.Getenv("DRIFTWATCH_MEMPROFILE"); p != "" {
		stops = append(stops, func() {
			f, err := os.Create(p)
			if err != nil {
				fmt.Fprintf(stderr, "%s: heap profile %s: %v\n", prog, p, err)
				return
			}
			defer f.Close()
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(stderr, "%s: heap profile %s: %v\n", prog, p, err)
			}
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
