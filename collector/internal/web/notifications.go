package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// actionNotifyPref is the audit action of a recipient's change to their
// notification preferences.
const actionNotifyPref = "notify.preference"

// The ways a preference is changed, as stored and audited.
const (
	sourceOneClick = "one-click"
	sourcePage     = "page"
)

// msgBadLink answers a link token that does not verify.
const msgBadLink = "This link is not valid: it was changed or not sent by this collector. Open the link from the latest email again."

// linkToken returns the signed token of a request (query or form) and
// what it speaks for; ok is false without one. A token that does not
// verify is a 403 error.
func (h *Handler) linkToken(r *http.Request) (tok string, sub notify.Subscription, signer *notify.Signer, ok bool, err error) {
	tok = strings.TrimSpace(r.FormValue(reporter.FieldLinkToken))
	if tok == "" {
		return "", sub, nil, false, nil
	}
	signer, err = notify.SignerFromStore(r.Context(), h.st)
	if err != nil {
		return "", sub, nil, false, err
	}
	sub, err = signer.Verify(tok)
	if err != nil {
		return "", sub, nil, false, forbidden(msgBadLink)
	}
	return tok, sub, signer, true, nil
}

// recipientView is whose preferences a request is about: the recipient
// of a link token, or the signed-in user.
type recipientView struct {
	tenant    store.Tenant
	recipient string
	// token and signer are set for a link; p for a signed-in user.
	token  string
	signer *notify.Signer
	p      *principal
}

// prefsFrame returns the frame of a preference page.
func (h *Handler) prefsFrame(w http.ResponseWriter, r *http.Request, v recipientView) reporter.Page {
	if v.p != nil {
		return h.basePage(w, r, v.p, v.tenant.ID)
	}
	return reporter.Page{Now: h.now(), Location: h.opt.Location, RequestID: requestID(r), CSRFToken: v.signer.FormToken(v.token)}
}

// notifyPolicy returns the tenant's notification policy in force; ok is false
// when it has none or there is no policy source.
func (h *Handler) notifyPolicy(ctx context.Context, t store.Tenant) (notify.Policy, bool) {
	if h.opt.NotifyPolicies == nil {
		return notify.Policy{}, false
	}
	ps, err := h.opt.NotifyPolicies.Policies(ctx)
	if err != nil {
		h.log.Warn("notification policies", zap.Error(err))
	}
	for _, p := range ps {
		if p.TenantID == t.ID || (p.TenantID == "" && p.TenantName == t.Name) {
			return p, true
		}
	}
	return notify.Policy{}, false
}

// prefLists returns the lists of a recipient as the page shows them.
func (h *Handler) prefLists(ctx context.Context, v recipientView) ([]reporter.NotificationList, error) {
	prefs, err := h.st.NotifyPrefs(ctx, v.tenant.ID, v.recipient)
	if err != nil {
		return nil, err
	}
	pol, hasPolicy := h.notifyPolicy(ctx, v.tenant)
	addressed := func(list []string) bool {
		if !hasPolicy {
			return true
		}
		for _, a := range list {
			if notify.BareAddress(a) == v.recipient {
				return true
			}
		}
		return false
	}
	var out []reporter.NotificationList
	for _, id := range store.NotifyLists {
		name, desc := reporter.NotificationListInfo(id)
		l := reporter.NotificationList{ID: id, Name: name, Description: desc, Enabled: true, Mandatory: pol.Mandatory[notify.Kind(id)]}
		switch id {
		case store.ListDigest:
			l.Addressed = addressed(pol.Recipients)
		case store.ListSummary:
			l.Addressed = addressed(pol.Level2)
		case store.ListAlert:
			l.Addressed = addressed(pol.Level3)
		}
		for _, p := range prefs {
			if p.List == id {
				l.Enabled = p.Enabled
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// viewFor resolves whose preferences a request is about: a valid link
// token's recipient, else the signed-in user in the tenant the request
// names (their own by default). A request with neither goes to sign-in
// (done false: answered).
func (h *Handler) viewFor(w http.ResponseWriter, r *http.Request) (recipientView, bool, error) {
	tok, sub, signer, ok, err := h.linkToken(r)
	if err != nil {
		return recipientView{}, false, err
	}
	if ok {
		t, err := h.st.TenantByID(r.Context(), sub.TenantID)
		if err != nil {
			return recipientView{}, false, err
		}
		return recipientView{tenant: t, recipient: sub.Recipient, token: tok, signer: signer}, true, nil
	}
	p, signed, err := h.authenticate(r)
	if err != nil {
		return recipientView{}, false, fmt.Errorf("authenticate: %w", err)
	}
	if !signed {
		next := h.base + r.URL.RequestURI()
		if r.Method != http.MethodGet {
			next = sameOriginReferer(r, h.base)
		}
		http.Redirect(w, r, h.links.SignIn(next), http.StatusSeeOther)
		return recipientView{}, false, nil
	}
	id := strings.TrimSpace(r.FormValue(reporter.FieldTenant))
	if id == "" {
		id = p.user.TenantID
	}
	var t store.Tenant
	if id == "" {
		if len(p.tenants) == 0 {
			return recipientView{}, false, notFound()
		}
		t = p.tenants[0]
	} else if t, ok = p.tenant(id); !ok {
		return recipientView{}, false, notFound()
	}
	return recipientView{tenant: t, recipient: store.NormalizeRecipient(p.user.Email), p: p}, true, nil
}

// handleNotifications serves the preference page.
func (h *Handler) handleNotifications(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	v, ok, err := h.viewFor(w, r)
	if err != nil || !ok {
		if err != nil {
			h.fail(w, r, nil, err)
		}
		return
	}
	h.renderPrefs(w, r, v, r.URL.Query().Get("saved") == "1")
}

func (h *Handler) renderPrefs(w http.ResponseWriter, r *http.Request, v recipientView, saved bool) {
	lists, err := h.prefLists(r.Context(), v)
	if err != nil {
		h.fail(w, r, v.p, err)
		return
	}
	page := &reporter.NotificationsPage{Page: h.prefsFrame(w, r, v), Token: v.token, Recipient: v.recipient,
		Tenant: reporter.TenantRef{ID: v.tenant.ID, Name: v.tenant.Name}, Lists: lists, Saved: saved}
	if v.p != nil {
		for _, t := range v.p.tenants {
			page.Tenants = append(page.Tenants, reporter.TenantRef{ID: t.ID, Name: t.Name})
		}
	}
	if err := h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Notifications(out, page) }); err != nil {
		h.fail(w, r, v.p, err)
	}
}

// handleNotificationsSave saves the preference form: with a link token,
// the form must carry the anti-forgery value bound to that token; for a
// signed-in user, the session's CSRF token. A list the tenant's policy
// makes mandatory is left as it is.
func (h *Handler) handleNotificationsSave(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, nil, badRequest("The form could not be read."))
		return
	}
	v, ok, err := h.viewFor(w, r)
	if err != nil || !ok {
		if err != nil {
			h.fail(w, r, nil, err)
		}
		return
	}
	form := r.PostForm.Get(reporter.FieldCSRF)
	if v.p != nil && !tokensEqual(form, v.p.sess.CSRFToken) || v.p == nil && !v.signer.CheckFormToken(v.token, form) {
		h.fail(w, r, v.p, forbidden("The form has expired or did not come from this page. Reload the page and send it again."))
		return
	}
	lists, err := h.prefLists(r.Context(), v)
	if err != nil {
		h.fail(w, r, v.p, err)
		return
	}
	chosen := r.PostForm["list"]
	source := sourcePage
	if v.p != nil {
		source = v.p.user.Email
	}
	for _, l := range lists {
		want := slices.Contains(chosen, l.ID)
		if l.Mandatory || want == l.Enabled {
			continue
		}
		if err := h.setPref(r.Context(), v.tenant.ID, v.recipient, l.ID, want, source); err != nil {
			h.fail(w, r, v.p, err)
			return
		}
	}
	next := h.links.Notifications(v.token, "")
	if v.p != nil {
		next = h.links.Notifications("", v.tenant.ID)
	}
	sep := "?"
	if strings.Contains(next, "?") {
		sep = "&"
	}
	_ = h.see(w, r, next+sep+"saved=1")
}

// setPref stores one choice and records it in the tenant's audit log.
func (h *Handler) setPref(ctx context.Context, tenantID, recipient, list string, enabled bool, source string) error {
	now := h.now()
	if err := h.st.SetNotifyPref(ctx, store.NotifyPref{TenantID: tenantID, Recipient: recipient, List: list, Enabled: enabled,
		UpdatedAt: now, Source: source}); err != nil {
		return err
	}
	detail, _ := json.Marshal(map[string]any{"list": list, "enabled": enabled, "via": source})
	if _, err := h.st.AppendAudit(ctx, store.AuditEntry{TenantID: tenantID, At: now, Actor: recipient, Action: actionNotifyPref,
		Subject: recipient, Detail: detail}); err != nil {
		h.log.Warn("audit of a notification preference", zap.String("tenant_id", tenantID), zap.Error(err))
	}
	h.log.Info("notification preference changed", zap.String("tenant_id", tenantID), zap.String("recipient", recipient),
		zap.String("list", list), zap.Bool("enabled", enabled), zap.String("source", source))
	return nil
}

// unsubscribeView resolves the link token of an unsubscription request;
// without a valid one it is a 403 error.
func (h *Handler) unsubscribeView(r *http.Request) (recipientView, notify.Subscription, error) {
	tok, sub, signer, ok, err := h.linkToken(r)
	if err != nil {
		return recipientView{}, sub, err
	}
	if !ok {
		return recipientView{}, sub, forbidden("This page needs the unsubscribe link of an email.")
	}
	t, err := h.st.TenantByID(r.Context(), sub.TenantID)
	if err != nil {
		return recipientView{}, sub, err
	}
	return recipientView{tenant: t, recipient: sub.Recipient, token: tok, signer: signer}, sub, nil
}

// handleUnsubscribePage asks to confirm an unsubscription, with a button:
// opening a link must not unsubscribe, since mail scanners open links.
// Without a link token it is the preference page of the signed-in user.
func (h *Handler) handleUnsubscribePage(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	if strings.TrimSpace(r.URL.Query().Get(reporter.FieldLinkToken)) == "" {
		h.handleNotifications(w, r)
		return
	}
	v, sub, err := h.unsubscribeView(r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.renderUnsubscribe(w, r, v, sub, false)
}

// handleUnsubscribe unsubscribes the link token's recipient from its list:
// the one-click POST of RFC 8058 that mail clients send, and the
// confirmation page's button. The signed token is the authority; there is
// no session and no form token. It answers 200.
func (h *Handler) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, nil, badRequest("The request could not be read."))
		return
	}
	v, sub, err := h.unsubscribeView(r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if err := h.setPref(r.Context(), v.tenant.ID, v.recipient, sub.List, false, sourceOneClick); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.renderUnsubscribe(w, r, v, sub, true)
}

func (h *Handler) renderUnsubscribe(w http.ResponseWriter, r *http.Request, v recipientView, sub notify.Subscription, done bool) {
	lists, err := h.prefLists(r.Context(), v)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	page := &reporter.UnsubscribePage{Page: h.prefsFrame(w, r, v), Token: v.token, Recipient: v.recipient,
		Tenant: reporter.TenantRef{ID: v.tenant.ID, Name: v.tenant.Name}, Done: done}
	for _, l := range lists {
		if l.ID == sub.List {
			page.List = l
		}
	}
	if err := h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Unsubscribe(out, page) }); err != nil {
		h.fail(w, r, nil, err)
	}
}
