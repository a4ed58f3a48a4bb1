package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

func TestTimeZones(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "driftwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.TimeZones(t, s)
}
