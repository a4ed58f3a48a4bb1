package server

import "net/http"

// connectorRoutes adds this part's API routes to v1.
func (s *Server) connectorRoutes(v1 *http.ServeMux) {}
