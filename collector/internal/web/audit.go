package web

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// auditPageSize is the number of audit entries shown at once.
const auditPageSize = 50

// auditRecheck is how long a verification of an unchanged chain is shown
// before the chain is verified again.
const auditRecheck = time.Minute

// auditCheck is a tenant's last chain verification.
type auditCheck struct {
	head audit.Head
	at   time.Time
	// wall is when it was made, by the wall clock, for its age.
	wall   time.Time
	result audit.Result
}

// chainStatus verifies a tenant's audit chain, reusing a verification of
// the same head made less than auditRecheck ago.
func (h *Handler) chainStatus(ctx context.Context, tenantID string, head audit.Head) (reporter.ChainStatus, error) {
	h.auditMu.Lock()
	c, ok := h.audits[tenantID]
	h.auditMu.Unlock()
	if !ok || c.head != head || time.Since(c.wall) > auditRecheck {
		res, err := store.VerifyAudit(ctx, h.st, tenantID)
		if err != nil {
			return reporter.ChainStatus{}, err
		}
		c = auditCheck{head: head, at: h.now(), wall: time.Now(), result: res}
		h.auditMu.Lock()
		h.audits[tenantID] = c
		h.auditMu.Unlock()
	}
	cs := reporter.ChainStatus{Checked: true, Intact: c.result.Break == nil, Entries: int64(c.result.Checked), CheckedAt: c.at}
	if b := c.result.Break; b != nil {
		cs.BrokenAt, cs.Reason = int64(b.Seq), string(b.Problem)+": "+b.Detail
	}
	return cs, nil
}

// audit serves a tenant's audit log, the newest entries first, with the
// status of its hash chain.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	t, ok, err := h.oneTenant(r, p)
	if err != nil {
		return err
	}
	page := &reporter.AuditPage{}
	if !ok {
		page.Page = h.basePage(w, r, p, "")
		page.Flashes = append(page.Flashes, reporter.Flash{Kind: reporter.FlashInfo,
			Message: "Each tenant has its own audit log: choose a tenant with the switcher."})
		return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Audit(out, page) })
	}
	head, err := h.st.AuditHead(ctx, t.ID)
	if err != nil {
		return err
	}
	before := head.Seq + 1
	if c := r.URL.Query().Get(reporter.FieldCursor); c != "" {
		n, err := strconv.ParseUint(c, 10, 64)
		if err != nil || n == 0 {
			return badRequest("The page cursor is not valid; go back to the first page.")
		}
		before = min(n, before)
	}
	after := uint64(0)
	if before > auditPageSize+1 {
		after = before - 1 - auditPageSize
	}
	if before > 1 {
		es, err := h.st.AuditEntries(ctx, t.ID, after, int(before-1-after))
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.Seq >= before {
				continue
			}
			page.Entries = append(page.Entries, reporter.AuditEntry{Seq: int64(e.Seq), At: e.At, Actor: e.Actor, Action: e.Action,
				Target: e.Subject, Detail: string(e.Detail), Hash: e.Hash})
		}
		sort.Slice(page.Entries, func(i, j int) bool { return page.Entries[i].Seq > page.Entries[j].Seq })
	}
	if after > 0 {
		page.NextCursor = strconv.FormatUint(after+1, 10)
	}
	if page.Chain, err = h.chainStatus(ctx, t.ID, head); err != nil {
		return err
	}
	page.Page = h.basePage(w, r, p, t.ID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Audit(out, page) })
}

// outboxSize is the number of emails the outbox lists per tenant.
const outboxSize = 200

// outbox serves the email outbox: what was sent, what waits, what
// failed and the mail server's answers. Admins only.
func (h *Handler) outbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.atLeast(store.RoleAdmin) {
		return forbidden("The outbox is for admins.")
	}
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	now := h.now()
	var all []store.Email
	for _, t := range tenants {
		es, err := h.st.Emails(r.Context(), t.ID, store.EmailFilter{Limit: outboxSize})
		if err != nil {
			return err
		}
		all = append(all, es...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].CreatedAt.After(all[j].CreatedAt) })
	page := &reporter.OutboxPage{}
	for _, e := range all {
		m := reporter.OutboxMessage{ID: e.ID, Kind: e.Kind, To: e.To, Subject: e.Subject, Attempts: e.Attempts, QueuedAt: e.CreatedAt,
			SentAt: e.SentAt, Answer: e.Response}
		switch e.Status {
		case store.EmailSent:
			m.State = reporter.MailSent
		case store.EmailFailed:
			m.State, m.Answer = reporter.MailFailed, e.LastError
		default:
			m.State, m.NextAttempt, m.Answer = reporter.MailQueued, e.NextAttemptAt, e.LastError
			if e.ClaimedUntil.After(now) {
				m.State = reporter.MailSending
			}
		}
		page.Messages = append(page.Messages, m)
	}
	page.Page = h.basePage(w, r, p, tenantID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Outbox(out, page) })
}
