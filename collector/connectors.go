package collector

import (
	"context"
	"net/http"
)

// startConnectors starts the change-source connectors until ctx ends and
// mounts their webhook routes on mux. wait stops them and waits.
func (c *Collector) startConnectors(ctx context.Context, mux *http.ServeMux) (wait func(), err error) {
	return func() {}, nil
}
