package sqlite

import (
	"context"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// TestAuditTamper alters the audit table with SQL on the write
// connection, past the store: the triggers refuse it, and once they are
// dropped the verification names the first broken entry.
func TestAuditTamper(t *testing.T) {
	storetest.RunAuditTamper(t, func(t *testing.T) (store.Store, func(string) error) {
		s := openTest(t)
		return s, func(q string) error {
			_, err := s.w.ExecContext(context.Background(), q)
			return err
		}
	}, `DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete`)
}
