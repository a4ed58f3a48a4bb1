package server

import "net/http"

// deploymentRoutes adds this part's API routes to v1.
func (s *Server) deploymentRoutes(v1 *http.ServeMux) {}
