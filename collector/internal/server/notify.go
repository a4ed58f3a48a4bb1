package server

import "net/http"

// notifyRoutes adds this part's API routes to v1.
func (s *Server) notifyRoutes(v1 *http.ServeMux) {}
