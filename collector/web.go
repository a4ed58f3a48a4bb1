package collector

import "net/http"

// mountWeb adds the web report to the collector's handler.
func (c *Collector) mountWeb(mux *http.ServeMux) error {
	return nil
}
