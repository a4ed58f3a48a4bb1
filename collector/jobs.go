package collector

import "context"

// startJobs starts the collector's background work (scheduled digests,
// alerts, the outbox) until ctx ends; wait waits for it to finish.
func (c *Collector) startJobs(ctx context.Context) (wait func(), err error) {
	return func() {}, nil
}
