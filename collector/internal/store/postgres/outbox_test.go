package postgres

import (
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// TestShared runs the outbox tests that need two collectors: two stores,
// each with its own pool, on one schema.
func TestShared(t *testing.T) {
	adminPool(t) // skip or fail once, not in every subtest
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := newSchema(t)
		return open(t, dsn), open(t, dsn)
	})
}
