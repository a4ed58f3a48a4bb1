package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
	"github.com/driftwatch/driftwatch/reporter"
)

// Cookie names. Over TLS the session cookie takes the __Host- prefix, so
// that no other site, not even a sibling domain, can set it.
const (
	sessionCookie       = "dw_session"
	secureSessionCookie = "__Host-dw_session"
	signinCookie        = "dw_signin"
	secureSigninCookie  = "__Host-dw_signin"
	flashCookie         = "dw_flash"
	secureFlashCookie   = "__Host-dw_flash"
)

// touchEvery is how stale a session's last-seen time may get before a
// request records it again: not every page view writes to the store.
const touchEvery = time.Minute

// principal is the signed-in user of a request, with the tenants they may
// see.
type principal struct {
	user store.User
	sess store.Session
	// tenants are the tenants the user may see, by name: every tenant for
	// the MSP's staff, their own for a customer's user.
	tenants []store.Tenant
	// zone is the time zone the user chose, tenantZone the default of
	// the tenant the request is about; "" when none is set.
	zone, tenantZone string
}

// msp reports whether the user is the MSP's staff, who see every tenant.
func (p *principal) msp() bool { return p.user.TenantID == "" }

// tenant returns a tenant the user may see.
func (p *principal) tenant(id string) (store.Tenant, bool) {
	for _, t := range p.tenants {
		if t.ID == id {
			return t, true
		}
	}
	return store.Tenant{}, false
}

// actor is the user as the ticket workflow sees them.
func (p *principal) actor() ticket.Actor {
	return ticket.Actor{ID: p.user.ID, Email: p.user.Email, Role: ticket.Role(p.user.Role), TenantID: p.user.TenantID}
}

// atLeast reports whether the user's role allows what role allows.
func (p *principal) atLeast(role string) bool {
	return ticket.Role(p.user.Role).AtLeast(ticket.Role(role))
}

// secure reports whether cookies of the request are to be Secure.
func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.opt.SecureCookies }

// cookieName picks the name of a cookie for the request.
func (h *Handler) cookieName(r *http.Request, plain, hostOnly string) string {
	if h.secure(r) {
		return hostOnly
	}
	return plain
}

// setCookie sets a cookie of the web report: HttpOnly, SameSite=Lax,
// path /, Secure when the request is.
func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
}

// randomToken returns n random bytes in unpadded base64url.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokensEqual compares two tokens in constant time; empty never matches.
func tokensEqual(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// authenticate finds the request's session and user; ok is false when
// there is no valid session.
func (h *Handler) authenticate(r *http.Request) (*principal, bool, error) {
	c, err := r.Cookie(h.cookieName(r, sessionCookie, secureSessionCookie))
	if err != nil || c.Value == "" {
		return nil, false, nil
	}
	now := h.now()
	idHash := auth.Hash(c.Value)
	sess, u, err := h.st.Session(r.Context(), idHash, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		exp := h.expiry(sess.CreatedAt, now)
		if err := h.st.TouchSession(r.Context(), idHash, now, exp); errors.Is(err, store.ErrNotFound) {
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
		sess.LastSeenAt, sess.ExpiresAt = now, exp
	}
	p := &principal{user: u, sess: sess}
	if u.TenantID == "" {
		if p.tenants, err = h.st.Tenants(r.Context()); err != nil {
			return nil, false, err
		}
	} else {
		t, err := h.st.TenantByID(r.Context(), u.TenantID)
		if err != nil {
			return nil, false, err
		}
		p.tenants = []store.Tenant{t}
	}
	return p, true, nil
}

// expiry is when a session created at created and used at now expires:
// after SessionIdle without use, or SessionLifetime after sign-in.
func (h *Handler) expiry(created, now time.Time) time.Time {
	idle := now.Add(h.opt.SessionIdle)
	if hard := created.Add(h.opt.SessionLifetime); hard.Before(idle) {
		return hard
	}
	return idle
}

// signedIn wraps a page: it answers a request without a session with the
// sign-in page (a redirect for GET), and a form without the session's
// CSRF token with 403.
func (h *Handler) signedIn(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withRequestID(r)
		p, ok, err := h.authenticate(r)
		if err != nil {
			h.fail(w, r, nil, fmt.Errorf("authenticate: %w", err))
			return
		}
		if !ok {
			next := h.base + r.URL.RequestURI()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				next = sameOriginReferer(r, h.base)
			}
			if c, err := r.Cookie(h.cookieName(r, sessionCookie, secureSessionCookie)); err == nil && c.Value != "" {
				h.setCookie(w, r, c.Name, "", -1)
				h.flash(w, r, reporter.FlashInfo, "Your session has ended. Sign in again.")
			}
			http.Redirect(w, r, h.links.SignIn(next), http.StatusSeeOther)
			return
		}
		if r, err = h.withLocation(r, p); err != nil {
			h.fail(w, r, nil, fmt.Errorf("time zone: %w", err))
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				h.fail(w, r, p, badRequest("The form could not be read."))
				return
			}
			if !tokensEqual(r.PostForm.Get(reporter.FieldCSRF), p.sess.CSRFToken) {
				h.fail(w, r, p, forbidden("The form has expired or did not come from this page. Reload the page and send it again."))
				return
			}
		}
		if err := fn(w, r, p); err != nil {
			h.fail(w, r, p, err)
		}
	})
}

// sameOriginReferer returns the path of the page a form was posted from
// when it is a page of the report, for the sign-in to return to.
func sameOriginReferer(r *http.Request, base string) string {
	u, err := url.Parse(r.Referer())
	if err != nil || u.Host != r.Host || !strings.HasPrefix(u.Path, base+"/") {
		return ""
	}
	return u.RequestURI()
}

// signinToken returns the sign-in form's CSRF token, setting its cookie
// when the browser has none.
func (h *Handler) signinToken(w http.ResponseWriter, r *http.Request) (string, error) {
	name := h.cookieName(r, signinCookie, secureSigninCookie)
	if c, err := r.Cookie(name); err == nil && len(c.Value) >= 32 {
		return c.Value, nil
	}
	tok, err := randomToken(32)
	if err != nil {
		return "", err
	}
	h.setCookie(w, r, name, tok, 0)
	return tok, nil
}

func (h *Handler) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	next := reporter.SafeNext(r.URL.Query().Get(reporter.FieldNext), "")
	if _, ok, err := h.authenticate(r); err == nil && ok {
		http.Redirect(w, r, reporter.SafeNext(next, h.links.Overview("")), http.StatusSeeOther)
		return
	}
	tok, err := h.signinToken(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.renderSignIn(w, r, http.StatusOK, &reporter.SignInPage{Next: next}, tok)
}

func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, page *reporter.SignInPage, token string) {
	page.Page = reporter.Page{Now: h.now(), Location: h.opt.Location, CSRFToken: token, RequestID: requestID(r),
		Flashes: h.takeFlashes(w, r)}
	if page.RateLimited {
		w.Header().Set("Retry-After", fmt.Sprint(int(page.RetryAfter.Round(time.Second)/time.Second)+1))
	}
	if err := h.write(w, status, func(out io.Writer) error { return h.r.SignIn(out, page) }); err != nil {
		h.fail(w, r, nil, err)
	}
}

// The messages of a refused sign-in. The same for an unknown email and a
// wrong password, so that the page does not tell which accounts exist.
const (
	msgBadCredentials = "The email address or the password is not right."
	msgFormExpired    = "The sign-in form expired. Sign in again."
)

func (h *Handler) handleSignIn(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, nil, badRequest("The form could not be read."))
		return
	}
	email := strings.TrimSpace(r.PostForm.Get(reporter.FieldEmail))
	pw := r.PostForm.Get(reporter.FieldPassword)
	next := reporter.SafeNext(r.PostForm.Get(reporter.FieldNext), "")
	page := &reporter.SignInPage{Email: email, Next: next}

	tok, err := h.signinToken(w, r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	c, cerr := r.Cookie(h.cookieName(r, signinCookie, secureSigninCookie))
	if cerr != nil || !tokensEqual(c.Value, r.PostForm.Get(reporter.FieldCSRF)) {
		page.Error = msgFormExpired
		h.renderSignIn(w, r, http.StatusForbidden, page, tok)
		return
	}
	if email == "" || pw == "" || !utf8.ValidString(email) || len(email) > 320 || len(pw) > MaxPasswordBytes {
		page.Error = msgBadCredentials
		h.renderSignIn(w, r, http.StatusUnauthorized, page, tok)
		return
	}

	ctx := r.Context()
	now := h.now()
	acctKey, addrKey := "account:"+strings.ToLower(email), "address:"+h.clientAddr(r)
	if wait, err := h.limited(ctx, now, acctKey, addrKey); err != nil {
		h.fail(w, r, nil, err)
		return
	} else if wait > 0 {
		h.log.Warn("sign-in refused: too many failures", zap.String("request_id", requestID(r)),
			zap.String("email", email), zap.String("client", h.clientAddr(r)), zap.Duration("retry_after", wait))
		page.RateLimited, page.RetryAfter = true, wait
		h.renderSignIn(w, r, http.StatusTooManyRequests, page, tok)
		return
	}

	u, ok, err := h.checkPassword(ctx, email, pw)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if !ok {
		if err := h.st.AddLoginFailure(ctx, []string{acctKey, addrKey}, now); err != nil {
			h.fail(w, r, nil, err)
			return
		}
		h.log.Info("sign-in failed", zap.String("request_id", requestID(r)), zap.String("email", email),
			zap.String("client", h.clientAddr(r)))
		page.Error = msgBadCredentials
		h.renderSignIn(w, r, http.StatusUnauthorized, page, tok)
		return
	}
	if err := h.st.ClearLoginFailures(ctx, acctKey); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	// A session the browser had before ends: a sign-in always starts a
	// new one.
	if old, err := r.Cookie(h.cookieName(r, sessionCookie, secureSessionCookie)); err == nil && old.Value != "" {
		if err := h.st.DeleteSession(ctx, auth.Hash(old.Value)); err != nil {
			h.fail(w, r, nil, err)
			return
		}
	}
	if err := h.startSession(w, r, u, now); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.log.Info("signed in", zap.String("request_id", requestID(r)), zap.String("email", u.Email),
		zap.String("user", u.ID), zap.String("tenant", u.TenantID), zap.String("client", h.clientAddr(r)))
	h.prune(ctx, now)
	http.Redirect(w, r, reporter.SafeNext(next, h.links.Overview("")), http.StatusSeeOther)
}

// limited returns how long sign-in must wait for the account or the
// address: 0 when neither has reached its limit of failures in the
// window.
func (h *Handler) limited(ctx context.Context, now time.Time, acctKey, addrKey string) (time.Duration, error) {
	var wait time.Duration
	for _, l := range []struct {
		key   string
		limit int
	}{{acctKey, h.opt.AccountLimit}, {addrKey, h.opt.AddressLimit}} {
		fs, err := h.st.LoginFailures(ctx, l.key, now.Add(-h.opt.LoginWindow), l.limit)
		if err != nil {
			return 0, err
		}
		if len(fs) >= l.limit {
			// The limit-th newest failure must leave the window.
			if d := fs[l.limit-1].Add(h.opt.LoginWindow).Sub(now); d > wait {
				wait = d
			}
		}
	}
	if wait > 0 && wait < time.Second {
		wait = time.Second
	}
	return wait, nil
}

// checkPassword finds the account the email and password sign in to: the
// first of the email's accounts (the MSP-wide one first) whose password
// matches.
func (h *Handler) checkPassword(ctx context.Context, email, pw string) (store.User, bool, error) {
	logins, err := h.st.PasswordLogins(ctx, email)
	if err != nil {
		return store.User{}, false, err
	}
	if len(logins) == 0 {
		_, _ = VerifyPassword(h.dummyHash, pw)
		return store.User{}, false, nil
	}
	for _, l := range logins {
		ok, err := VerifyPassword(l.PasswordHash, pw)
		if err != nil {
			h.log.Error("stored password hash cannot be checked", zap.String("user", l.User.ID), zap.Error(err))
			continue
		}
		if ok {
			return l.User, true, nil
		}
	}
	return store.User{}, false, nil
}

// startSession creates a session for u and sets its cookie, replacing the
// sign-in form's.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, u store.User, now time.Time) error {
	secret, err := randomToken(32)
	if err != nil {
		return err
	}
	csrf, err := randomToken(32)
	if err != nil {
		return err
	}
	ua := r.UserAgent()
	if len(ua) > 512 || !utf8.ValidString(ua) {
		ua = strings.ToValidUTF8(ua[:min(len(ua), 512)], "?")
	}
	sess := store.Session{IDHash: auth.Hash(secret), UserID: u.ID, CSRFToken: csrf, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: h.expiry(now, now), RemoteAddr: h.clientAddr(r), UserAgent: ua}
	if err := h.st.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	h.setCookie(w, r, h.cookieName(r, sessionCookie, secureSessionCookie), secret, int(h.opt.SessionLifetime/time.Second))
	h.setCookie(w, r, h.cookieName(r, signinCookie, secureSigninCookie), "", -1)
	return nil
}

// pruneEvery is how often a collector deletes expired sessions and old
// failed sign-ins, at a sign-in.
const pruneEvery = 10 * time.Minute

// prune deletes expired sessions and failures older than the window, at
// most every pruneEvery.
func (h *Handler) prune(ctx context.Context, now time.Time) {
	last := h.lastPrune.Load()
	if now.UnixNano()-last < int64(pruneEvery) || !h.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := h.st.PruneSessions(ctx, now); err != nil {
		h.log.Warn("prune sessions", zap.Error(err))
	}
	if _, err := h.st.PruneLoginFailures(ctx, now.Add(-h.opt.LoginWindow)); err != nil {
		h.log.Warn("prune failed sign-ins", zap.Error(err))
	}
}

func (h *Handler) handleSignOut(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	p, ok, err := h.authenticate(r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if ok {
		if err := r.ParseForm(); err != nil || !tokensEqual(r.PostForm.Get(reporter.FieldCSRF), p.sess.CSRFToken) {
			h.fail(w, r, p, forbidden("The form has expired or did not come from this page. Reload the page and send it again."))
			return
		}
		if err := h.st.DeleteSession(r.Context(), p.sess.IDHash); err != nil {
			h.fail(w, r, p, err)
			return
		}
		h.log.Info("signed out", zap.String("request_id", requestID(r)), zap.String("email", p.user.Email))
	}
	h.setCookie(w, r, h.cookieName(r, sessionCookie, secureSessionCookie), "", -1)
	h.flash(w, r, reporter.FlashInfo, "You are signed out.")
	http.Redirect(w, r, h.links.SignIn(""), http.StatusSeeOther)
}

// flash sets a message for the next page the browser shows.
func (h *Handler) flash(w http.ResponseWriter, r *http.Request, kind, msg string) {
	b, _ := json.Marshal(reporter.Flash{Kind: kind, Message: msg})
	h.setCookie(w, r, h.cookieName(r, flashCookie, secureFlashCookie), base64.RawURLEncoding.EncodeToString(b), 60)
}

// takeFlashes reads the message left for this page and clears it.
func (h *Handler) takeFlashes(w http.ResponseWriter, r *http.Request) []reporter.Flash {
	name := h.cookieName(r, flashCookie, secureFlashCookie)
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return nil
	}
	h.setCookie(w, r, name, "", -1)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	var f reporter.Flash
	if json.Unmarshal(b, &f) != nil || f.Message == "" {
		return nil
	}
	switch f.Kind {
	case reporter.FlashSuccess, reporter.FlashInfo, reporter.FlashWarning, reporter.FlashError:
	default:
		f.Kind = reporter.FlashInfo
	}
	return []reporter.Flash{f}
}

// basePage is what every page of a signed-in user shows around its
// content.
func (h *Handler) basePage(w http.ResponseWriter, r *http.Request, p *principal, tenantID string) reporter.Page {
	pg := reporter.Page{Now: h.now(), Location: h.loc(r.Context()), CSRFToken: p.sess.CSRFToken, TenantID: tenantID,
		RequestID: requestID(r), Flashes: h.takeFlashes(w, r),
		User: &reporter.User{Email: p.user.Email, Role: p.user.Role}}
	for _, t := range p.tenants {
		pg.TenantOptions = append(pg.TenantOptions, reporter.TenantRef{ID: t.ID, Name: t.Name})
	}
	return pg
}

// scope returns the tenants a list page shows: the one ?tenant= names
// (404 when the user may not see it), the user's own, or, for the MSP's
// staff, every tenant (tenantID empty).
func (h *Handler) scope(r *http.Request, p *principal) (string, []store.Tenant, error) {
	id := strings.TrimSpace(r.URL.Query().Get(reporter.FieldTenant))
	if id == "" && !p.msp() {
		id = p.user.TenantID
	}
	if id == "" {
		return "", p.tenants, nil
	}
	t, ok := p.tenant(id)
	if !ok {
		return "", nil, notFound()
	}
	return id, []store.Tenant{t}, nil
}

// oneTenant returns the tenant a page about one tenant is for: the one
// ?tenant= names, the user's own, or the only one the user sees; ok is
// false when an MSP user has several and named none.
func (h *Handler) oneTenant(r *http.Request, p *principal) (store.Tenant, bool, error) {
	id, ts, err := h.scope(r, p)
	if err != nil {
		return store.Tenant{}, false, err
	}
	if id != "" || len(ts) == 1 {
		return ts[0], true, nil
	}
	return store.Tenant{}, false, nil
}

// searchTenants tries find in each tenant the user may see (the one a
// ?tenant= hint names first) and returns the first it finds something in:
// objects are named by ID alone in links, and an object of a tenant the
// user may not see is not found.
func searchTenants[T any](r *http.Request, p *principal, find func(ctx context.Context, tenantID string) (T, error)) (T, store.Tenant, error) {
	var zero T
	ts := p.tenants
	if hint := r.URL.Query().Get(reporter.FieldTenant); hint != "" {
		if i := slices.IndexFunc(ts, func(t store.Tenant) bool { return t.ID == hint }); i > 0 {
			ts = append([]store.Tenant{ts[i]}, slices.Delete(slices.Clone(ts), i, i+1)...)
		}
	}
	for _, t := range ts {
		v, err := find(r.Context(), t.ID)
		if err == nil {
			return v, t, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return zero, store.Tenant{}, err
		}
	}
	return zero, store.Tenant{}, notFound()
}
