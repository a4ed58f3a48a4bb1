package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// Defaults of Options.
const (
	// DefaultSessionIdle ends a session unused for a working day.
	DefaultSessionIdle = 8 * time.Hour
	// DefaultSessionLifetime ends every session a day after sign-in.
	DefaultSessionLifetime = 24 * time.Hour
	// DefaultLoginWindow is how far back failed sign-ins count.
	DefaultLoginWindow = 15 * time.Minute
	// DefaultAccountLimit is how many failed sign-ins of one account the
	// window may hold.
	DefaultAccountLimit = 5
	// DefaultAddressLimit is how many failed sign-ins from one client
	// address the window may hold.
	DefaultAddressLimit = 30
)

// maxFormBytes bounds a posted form.
const maxFormBytes = 1 << 20

// Options configures New.
type Options struct {
	// Store is where everything is kept; required.
	Store store.Store
	// Changes makes every change; nil makes one over Store with Log and
	// Now.
	Changes *changes.Manager
	// BasePath is the URL path the pages are served under;
	// reporter.DefaultBasePath when empty.
	BasePath string
	// PublicURL is the collector's URL for people ("https://drift.example
	// .net"), for the links in standalone documentation; none when empty.
	PublicURL string
	// SecureCookies marks the cookies Secure even on a plain HTTP request:
	// set it when a TLS proxy stands in front of the collector. Cookies of
	// requests that arrive over TLS are always Secure.
	SecureCookies bool
	// SessionIdle ends a session unused this long; DefaultSessionIdle
	// when zero.
	SessionIdle time.Duration
	// SessionLifetime ends a session this long after sign-in, used or
	// not; DefaultSessionLifetime when zero.
	SessionLifetime time.Duration
	// LoginWindow is how far back failed sign-ins count; AccountLimit and
	// AddressLimit are how many failures of one account or from one
	// client address that window may hold before sign-in is refused.
	// Defaults when zero.
	LoginWindow  time.Duration
	AccountLimit int
	AddressLimit int
	// PasswordParams are the argon2id parameters of the hash that evens
	// out the time of a sign-in with an unknown email;
	// DefaultPasswordParams when zero.
	PasswordParams PasswordParams
	// TrustedProxies are the addresses of the proxies in front of the
	// collector whose X-Forwarded-For header names the client, for the
	// sign-in rate limit, the sign-in log and the sessions' addresses;
	// with none, the client is the connection's peer.
	TrustedProxies []netip.Prefix
	// Location is the time zone pages show times in; UTC when nil.
	Location *time.Location
	// HostStaleAfter is how long a host may stay silent before the
	// overview lists it; reporter.DefaultHostStaleAfter when zero.
	HostStaleAfter time.Duration
	// NotifyPolicies are the tenants' notification policies in force, for
	// the preference page to show which lists a recipient is sent and
	// which the tenant makes mandatory; nil: every list as sent, none
	// mandatory.
	NotifyPolicies notify.PolicySource
	// Log receives sign-ins and server errors; nil logs nothing.
	Log *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Handler serves the web report. Create it with New; it is safe for
// concurrent use.
type Handler struct {
	opt     Options
	st      store.Store
	changes *changes.Manager
	r       *reporter.Renderer
	links   reporter.Links
	base    string
	log     *zap.Logger
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	// dummyHash is checked when no account has the email, so that the
	// answer takes as long as a wrong password does.
	dummyHash string

	lastPrune atomic.Int64
	counts    countsCache
	overviews overviewCache
	// slowCount, countsTTL and overviewTTL are the consts of the same
	// names; tests change them.
	slowCount, countsTTL, overviewTTL time.Duration

	auditMu sync.Mutex
	audits  map[string]auditCheck
}

// New returns a Handler with opt's defaults filled in.
func New(opt Options) (*Handler, error) {
	if opt.Store == nil {
		return nil, errors.New("web: Options.Store is nil")
	}
	if opt.BasePath == "" {
		opt.BasePath = reporter.DefaultBasePath
	}
	opt.BasePath = strings.TrimRight(opt.BasePath, "/")
	if opt.BasePath == "" || opt.BasePath[0] != '/' {
		return nil, fmt.Errorf("web: base path %q must start with / and not be the root", opt.BasePath)
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	setDefault(&opt.SessionIdle, DefaultSessionIdle)
	setDefault(&opt.SessionLifetime, DefaultSessionLifetime)
	setDefault(&opt.LoginWindow, DefaultLoginWindow)
	setDefault(&opt.AccountLimit, DefaultAccountLimit)
	setDefault(&opt.AddressLimit, DefaultAddressLimit)
	setDefault(&opt.HostStaleAfter, reporter.DefaultHostStaleAfter)
	if opt.PasswordParams == (PasswordParams{}) {
		opt.PasswordParams = DefaultPasswordParams
	}
	if opt.Changes == nil {
		opt.Changes = &changes.Manager{Store: opt.Store, Log: opt.Log.Named("changes"), Now: opt.Now}
	}
	rd, err := reporter.New(reporter.Options{BasePath: opt.BasePath})
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	dummy := make([]byte, 16)
	if _, err := rand.Read(dummy); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	dummyHash, err := HashPassword(hex.EncodeToString(dummy), opt.PasswordParams)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	h := &Handler{opt: opt, st: opt.Store, changes: opt.Changes, r: rd, links: rd.Links(), base: opt.BasePath,
		log: opt.Log, cop: http.NewCrossOriginProtection(), dummyHash: dummyHash, audits: map[string]auditCheck{},
		slowCount: slowCount, countsTTL: countsTTL, overviewTTL: overviewTTL}
	h.routes()
	return h, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// BasePath returns the path the pages are served under, e.g. "/ui".
func (h *Handler) BasePath() string { return h.base }

func (h *Handler) now() time.Time { return h.opt.Now().UTC() }

// routes registers every page on the handler's mux, relative to the
// base path.
func (h *Handler) routes() {
	m := http.NewServeMux()
	m.Handle(reporter.RouteStatic, h.r.Static())
	m.HandleFunc(reporter.RouteSignIn, h.handleSignInPage)
	m.HandleFunc(reporter.RouteSignInPost, h.handleSignIn)
	m.HandleFunc(reporter.RouteSignOut, h.handleSignOut)
	m.HandleFunc(reporter.RouteNotifications, h.handleNotifications)
	m.HandleFunc(reporter.RouteNotificationsSave, h.handleNotificationsSave)
	m.HandleFunc(reporter.RouteUnsubscribe, h.handleUnsubscribePage)
	m.HandleFunc(reporter.RouteUnsubscribePost, h.handleUnsubscribe)
	for route, fn := range map[string]pageFunc{
		reporter.RouteOverview:        h.overview,
		reporter.RouteInbox:           h.inbox,
		reporter.RouteHosts:           h.hosts,
		reporter.RouteHost:            h.host,
		reporter.RouteHostDoc:         h.hostDoc,
		reporter.RouteHostDocMarkdown: h.hostDocMarkdown,
		reporter.RouteHostDocHTML:     h.hostDocHTML,
		reporter.RouteTenantDoc:       h.tenantDoc,
		reporter.RouteTenantDocMD:     h.tenantDocMarkdown,
		reporter.RouteTenantDocHTML:   h.tenantDocHTML,
		reporter.RouteDrift:           h.drift,
		reporter.RouteDriftAccept:     h.driftAccept,
		reporter.RouteDriftLink:       h.driftLink,
		reporter.RouteDriftRevert:     h.driftRevert,
		reporter.RouteTickets:         h.tickets,
		reporter.RouteTicketNew:       h.ticketNew,
		reporter.RouteTicketCreate:    h.ticketCreate,
		reporter.RouteTicket:          h.ticketPage,
		reporter.RouteTicketAction:    h.ticketAction,
		reporter.RouteChangeLog:       h.changeLog,
		reporter.RouteChangeLogCSV:    h.changeLogCSV,
		reporter.RouteSearch:          h.search,
		reporter.RouteMetrics:         h.metrics,
		reporter.RouteAudit:           h.audit,
		reporter.RouteOutbox:          h.outbox,
		reporter.RouteSettings:        h.settings,
		reporter.RouteSettingsSave:    h.settingsSave,
	} {
		m.Handle(route, h.signedIn(fn))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, nil, &httpError{status: http.StatusNotFound})
	})
	h.mux = m
}

// Routes returns the mux patterns the handler serves under its base path,
// for tests that walk every page.
func Routes() []string {
	return []string{reporter.RouteOverview, reporter.RouteSignIn, reporter.RouteSignInPost, reporter.RouteSignOut,
		reporter.RouteInbox, reporter.RouteHosts, reporter.RouteHost, reporter.RouteHostDoc, reporter.RouteHostDocMarkdown,
		reporter.RouteHostDocHTML, reporter.RouteTenantDoc, reporter.RouteTenantDocMD, reporter.RouteTenantDocHTML,
		reporter.RouteDrift, reporter.RouteDriftAccept, reporter.RouteDriftLink, reporter.RouteDriftRevert,
		reporter.RouteTickets, reporter.RouteTicketNew, reporter.RouteTicketCreate, reporter.RouteTicket,
		reporter.RouteTicketAction, reporter.RouteChangeLog, reporter.RouteChangeLogCSV, reporter.RouteSearch,
		reporter.RouteMetrics, reporter.RouteAudit, reporter.RouteOutbox, reporter.RouteStatic,
		reporter.RouteNotifications, reporter.RouteNotificationsSave, reporter.RouteUnsubscribe, reporter.RouteUnsubscribePost,
		reporter.RouteSettings, reporter.RouteSettingsSave}
}

// ServeHTTP serves the pages under the base path; it answers 404 for any
// other path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w, r)
	rest, ok := strings.CutPrefix(r.URL.Path, h.base)
	if !ok || (rest != "" && rest[0] != '/') {
		h.fail(w, r, nil, &httpError{status: http.StatusNotFound})
		return
	}
	if rest == "" {
		http.Redirect(w, r, h.base+"/", http.StatusSeeOther)
		return
	}
	if !strings.HasPrefix(rest, "/static/") {
		w.Header().Set("Cache-Control", "no-store")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := h.cop.Check(r); err != nil {
			h.fail(w, r, nil, &httpError{status: http.StatusForbidden,
				msg: "The form was sent from another site. Open the page here and send it again."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = rest
	r2.URL.RawPath = ""
	if r.URL.RawPath != "" {
		if raw, ok := strings.CutPrefix(r.URL.RawPath, h.base); ok {
			r2.URL.RawPath = raw
		}
	}
	h.mux.ServeHTTP(w, r2)
}

// setSecurityHeaders sets the headers every response carries.
func setSecurityHeaders(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", reporter.ContentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// pageFunc serves one page for a signed-in user; an error is answered
// with the error page.
type pageFunc func(w http.ResponseWriter, r *http.Request, p *principal) error

// httpError is an error with the status it is answered with and a
// message for the user.
type httpError struct {
	status int
	msg    string
	err    error
}

func (e *httpError) Error() string {
	s := http.StatusText(e.status)
	if e.msg != "" {
		s += ": " + e.msg
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *httpError) Unwrap() error { return e.err }

// notFound is the answer for anything the user may not see, whether or
// not it exists in another tenant.
func notFound() error { return &httpError{status: http.StatusNotFound} }

// forbidden refuses an action the user's role does not allow.
func forbidden(msg string) error { return &httpError{status: http.StatusForbidden, msg: msg} }

// badRequest refuses a malformed request.
func badRequest(msg string) error { return &httpError{status: http.StatusBadRequest, msg: msg} }

// requestIDKey carries a request's ID in its context.
type requestIDKey struct{}

// requestID returns the request's ID, making one when it has none.
func requestID(r *http.Request) string {
	if id, ok := r.Context().Value(requestIDKey{}).(string); ok {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withRequestID gives the request an ID for its log lines and error page.
func withRequestID(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(requestIDKey{}).(string); ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, requestID(r)))
}

// fail answers an error: the error page with the error's status; 404 for
// store.ErrNotFound; 500, logged with the request's ID, for anything
// unexpected.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	status, msg := http.StatusInternalServerError, ""
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, context.Canceled):
		return // the client went away
	}
	id := requestID(r)
	if status >= 500 {
		h.log.Error("web request failed", zap.String("request_id", id), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.Error(err))
	}
	page := &reporter.ErrorPage{Status: status, Message: msg}
	page.Page = reporter.Page{Now: h.now(), Location: h.opt.Location, RequestID: id}
	if p != nil {
		page.Page = h.basePage(w, r, p, "")
		page.RequestID = id
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	if werr := h.write(w, status, func(out io.Writer) error { return h.r.Error(out, page) }); werr != nil {
		h.log.Error("render error page", zap.String("request_id", id), zap.Error(werr))
		http.Error(w, http.StatusText(status), status)
	}
}

// write renders a page into a buffer and sends it with its status; on a
// rendering error it sends nothing and returns the error.
func (h *Handler) write(w http.ResponseWriter, status int, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// see redirects to a page after a form was handled (post, redirect, get).
func (h *Handler) see(w http.ResponseWriter, r *http.Request, url string) error {
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}
