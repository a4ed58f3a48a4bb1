package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/connector"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// maxRequestBody bounds the JSON body of the small requests (enroll,
// approve).
const maxRequestBody = 1 << 20

// readyTimeout bounds the store check of /readyz.
const readyTimeout = 5 * time.Second

// Options configures New.
type Options struct {
	// Store is where everything is kept; required.
	Store store.Store
	// Log receives a debug line per request and the details of server
	// errors; nil logs nothing.
	Log *zap.Logger
	// MaxReportSize bounds a report body, uncompressed; api.MaxReportSize
	// when zero.
	MaxReportSize int64
	// MaxBlobSize bounds one content blob; api.MaxBlobSize when zero.
	MaxBlobSize int64
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registry receives the server's metrics and is served on /metrics. A
	// new registry with the Go and process collectors when nil.
	Registry *prometheus.Registry
	// ConnectorSealer encrypts the credentials given to connectors
	// through the API. Without one, such credentials are refused with 503:
	// the collector has no key to keep them with.
	ConnectorSealer *connector.Sealer
	// ConnectorsChanged, when not nil, is called after a connector was
	// created, changed or deleted through the API, so that this collector
	// picks the change up at once.
	ConnectorsChanged func()
}

// Server answers API v1 requests from a store. Create it with New; it is
// safe for concurrent use.
type Server struct {
	store         store.Store
	log           *zap.Logger
	maxReportSize int64
	maxBlobSize   int64
	now           func() time.Time
	registry      *prometheus.Registry
	metrics       *metrics
	changes       *changes.Manager
	handler       http.Handler
	sealer        *connector.Sealer
	connChanged   func()
}

// New returns a Server with opt's defaults filled in. It panics when
// opt.Store is nil or the metrics are already registered in opt.Registry,
// both programming errors.
func New(opt Options) *Server {
	if opt.Store == nil {
		panic("server: Options.Store is nil")
	}
	s := &Server{
		store:         opt.Store,
		log:           opt.Log,
		maxReportSize: opt.MaxReportSize,
		maxBlobSize:   opt.MaxBlobSize,
		now:           opt.Now,
		registry:      opt.Registry,
		sealer:        opt.ConnectorSealer,
		connChanged:   opt.ConnectorsChanged,
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.maxReportSize <= 0 {
		s.maxReportSize = api.MaxReportSize
	}
	if s.maxBlobSize <= 0 {
		s.maxBlobSize = api.MaxBlobSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.metrics = newMetrics(s.registry)
	if w, ok := s.store.(store.WriterStatser); ok {
		registerWriterStats(s.registry, w)
	}
	s.changes = &changes.Manager{Store: s.store, Log: s.log.Named("changes"), Now: s.now}
	s.handler = s.routes()
	return s
}

// Handler returns the HTTP handler of every route: /api/v1/…, /healthz,
// /readyz and /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	v1 := http.NewServeMux()
	v1.HandleFunc("POST "+api.PathEnroll, s.handleEnroll)
	v1.HandleFunc("PUT "+api.PathBlobs+"{sha256}", s.handlePutBlob)
	v1.HandleFunc("HEAD "+api.PathBlobs+"{sha256}", s.handleHeadBlob)
	v1.HandleFunc("POST "+api.PathReports, s.handleReport)
	v1.HandleFunc("GET "+api.PathHosts, s.handleHosts)
	v1.HandleFunc("GET "+api.PathHosts+"/{id}/drift", s.handleDrift)
	v1.HandleFunc("GET "+api.PathHosts+"/{id}/baseline", s.handleBaseline)
	v1.HandleFunc("POST "+api.PathHosts+"/{id}/baseline", s.handleApprove)
	v1.HandleFunc("GET "+api.PathHosts+"/{id}/baselines", s.handleBaselines)
	v1.HandleFunc("GET "+api.PathHosts+"/{id}/events", s.handleHostEvents)
	v1.HandleFunc("GET "+api.PathHosts+"/{id}/status", s.handleHostStatus)
	v1.HandleFunc("POST "+api.PathHeartbeat, s.handleHeartbeat)
	v1.HandleFunc("POST "+api.PathEvents, s.handleEvents)
	s.changeRoutes(v1)
	s.connectorRoutes(v1)
	s.deploymentRoutes(v1)
	s.notifyRoutes(v1)

	root := http.NewServeMux()
	root.Handle("/api/v1/", checkProtocol(jsonNotFound(v1)))
	root.HandleFunc("GET "+api.PathHealth, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	root.HandleFunc("GET "+api.PathReady, s.handleReady)
	root.Handle("GET "+api.PathMetrics, promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return s.logRequests(root)
}

// handleReady answers 200 when the store answers, 503 otherwise.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("not ready", zap.Error(err))
		writeError(w, r, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("store: %v", err)})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// checkProtocol refuses a request without a Driftwatch-Protocol header or
// with a major version this collector does not speak.
func checkProtocol(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := strings.TrimSpace(r.Header.Get(api.ProtocolHeader))
		if v == "" {
			writeError(w, r, http.StatusBadRequest, api.Error{
				Error:     fmt.Sprintf("the %s header is missing; send the protocol version, e.g. %q", api.ProtocolHeader, api.ProtocolVersion),
				Supported: api.SupportedMajors,
			})
			return
		}
		major, _, _ := strings.Cut(v, ".")
		for _, m := range api.SupportedMajors {
			if major == m {
				next.ServeHTTP(w, r)
				return
			}
		}
		writeError(w, r, http.StatusBadRequest, api.Error{
			Error: fmt.Sprintf("protocol version %s is not supported; this collector speaks major version %s",
				v, strings.Join(api.SupportedMajors, ", ")),
			Supported: api.SupportedMajors,
		})
	})
}

// jsonNotFound answers with an api.Error body where mux would answer 404
// or 405 in plain text.
func jsonNotFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := mux.Handler(r); pattern == "" {
			rec := &statusRecorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			if allow := rec.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			msg := "no such API path"
			if rec.status == http.StatusMethodNotAllowed {
				msg = fmt.Sprintf("method %s is not allowed here", r.Method)
			}
			writeError(w, r, rec.status, api.Error{Error: msg})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// statusRecorder keeps the status and headers of an answer and drops its
// body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

// statusWriter remembers the status of an answer for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs every request at debug level.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.Debug("request",
			zap.String("method", r.Method),
			zap.String("path", r.URL.Path),
			zap.Int("status", sw.status),
			zap.Duration("took", time.Since(start)))
	})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // the client went away; nothing to do
}

// writeError answers with an api.Error body, or only the status for HEAD.
func writeError(w http.ResponseWriter, r *http.Request, status int, e api.Error) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, e)
}

// serverError logs err and answers 500 without internals.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	writeError(w, r, http.StatusInternalServerError, api.Error{
		Error: "the collector could not complete the request; nothing was stored, retry later",
	})
}

// decodeJSON decodes a JSON body of at most limit bytes into v. It answers
// the request itself and returns false when the body is too large or not
// JSON of v's shape.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, fieldPrefix string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr == nil {
			err = errors.New("trailing data after the JSON value")
		} else if !errors.Is(terr, io.EOF) {
			err = terr
		}
	}
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, r, http.StatusRequestEntityTooLarge, api.Error{Error: fmt.Sprintf("request body exceeds %d bytes", limit)})
		return false
	}
	writeError(w, r, http.StatusBadRequest, jsonError(err, fieldPrefix))
	return false
}

// jsonError describes a JSON decoding error, naming the field when the
// decoder knows it.
func jsonError(err error, fieldPrefix string) api.Error {
	e := api.Error{Error: "malformed JSON: " + err.Error()}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		// A report is decoded through reportBody, which embeds api.Report.
		e.Field = strings.TrimPrefix(te.Field, "Report.")
		if fieldPrefix != "" {
			e.Field = fieldPrefix + "." + e.Field
		}
	}
	return e
}
