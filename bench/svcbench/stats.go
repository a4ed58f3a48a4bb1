package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of samples by the
// nearest-rank method: the smallest sample with at least p% of the samples
// at or below it. With 50 samples, p99 is the largest. Zero for none.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// secs formats a duration as seconds with millisecond precision.
func secs(d time.Duration) string {
	return fmt.Sprintf("%.3f s", d.Seconds())
}

// mib formats a size in KiB as MiB.
func mib(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

// ratio formats a/b as "4.2×", or "-" when b is zero.
func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	r := a / b
	if r < 1 {
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}
