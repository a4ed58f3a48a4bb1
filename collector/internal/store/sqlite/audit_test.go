package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// openAuditStore opens a new store in a temporary directory.
func openAuditStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "driftwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestAuditTamper alters the audit table with SQL on the write
// connection, past the store: the triggers refuse it, and once they are
// dropped the verification names the first broken entry.
func TestAuditTamper(t *testing.T) {
	storetest.RunAuditTamper(t, func(t *testing.T) (store.Store, func(string) error) {
		s := openAuditStore(t)
		return s, func(q string) error {
			_, err := s.w.ExecContext(context.Background(), q)
			return err
		}
	}, `DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete`)
}
