package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// TestShared runs the outbox tests that need two collectors: two stores
// opened separately on one database file.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "driftwatch.db")
		var two [2]store.Store
		for i := range two {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			two[i] = s
		}
		return two[0], two[1]
	})
}
