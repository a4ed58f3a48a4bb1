//go:build !unix

package reconcile

import "time"

// cpuTime is not measured here; benchmarks report the wall clock alone.
func cpuTime() time.Duration { return 0 }
