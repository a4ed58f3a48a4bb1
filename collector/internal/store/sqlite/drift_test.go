package sqlite

import (
	"slices"
	"testing"
)

// TestInRuns checks that ApplyDrift's rows are split into runs that have
// a prepared statement, cover every row once, in order.
func TestInRuns(t *testing.T) {
	tests := []struct {
		rows int
		want []int
	}{
		{0, nil},
		{1, []int{1}},
		{20, []int{16, 4}},
		{64, []int{64}},
		{65, []int{64, 1}},
		{200, []int{64, 64, 64, 8}},
	}
	for _, tt := range tests {
		var got []int
		next := 0
		err := inRuns(tt.rows, func(lo, n int) error {
			if lo != next {
				t.Errorf("%d rows: run at %d, want %d", tt.rows, lo, next)
			}
			if runIndex(n) >= runSizes || 1<<runIndex(n) != n {
				t.Errorf("%d rows: run of %d rows has no statement", tt.rows, n)
			}
			next = lo + n
			got = append(got, n)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%d rows: runs %v, want %v", tt.rows, got, tt.want)
		}
	}
}
