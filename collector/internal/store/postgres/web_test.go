package postgres

import (
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

func TestTimeZones(t *testing.T) {
	storetest.TimeZones(t, open(t, newSchema(t)))
}
