package notify

import (
	"context"
	"time"
)

// Metrics are a tenant's change figures for the period of a digest.
type Metrics struct {
	// Observed is the number of changes first seen in the period, and
	// Authorized how many of them an approved ticket covered.
	Observed   int
	Authorized int
	// MTTR is the mean time from first seen to resolved of the changes
	// resolved in the period; 0 when none was.
	MTTR time.Duration
	// OpenLevel3 is the number of level 3 changes still awaiting a
	// decision when the digest is made.
	OpenLevel3 int
	// TicketsImplemented is the number of change tickets implemented in
	// the period.
	TicketsImplemented int
}

// MetricsSource gives the figures a digest shows. A digest whose figures
// cannot be had goes out without them: the changes matter more.
type MetricsSource interface {
	// DigestMetrics returns the tenant's figures for the window w.
	DigestMetrics(ctx context.Context, tenantID string, w Window) (Metrics, error)
}
