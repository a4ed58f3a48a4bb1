package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// Store is what the notifier keeps in the collector's store: the outbox
// and the schedule runs, the recipients' preferences and the key that
// signs their links, and tenants to resolve policies. store.Store is one.
type Store interface {
	store.Outbox
	KeyStore
	NotifyPrefs(ctx context.Context, tenantID, recipient string) ([]store.NotifyPref, error)
	TenantByID(ctx context.Context, id string) (store.Tenant, error)
	TenantByName(ctx context.Context, name string) (store.Tenant, error)
}

// ChangeSource gives the reconciled changes of a tenant.
type ChangeSource interface {
	// Changes returns the tenant's changes whose At falls in w, in any
	// order; none for an unknown tenant.
	Changes(ctx context.Context, tenantID string, w Window) ([]Change, error)
}

// PolicySource gives the notification policies in force. It is asked on
// every tick, so a changed policy applies at the next one.
type PolicySource interface {
	Policies(ctx context.Context) ([]Policy, error)
}

// Policies is a fixed PolicySource, such as the notify blocks of the
// configuration.
type Policies []Policy

// Policies returns ps.
func (ps Policies) Policies(context.Context) ([]Policy, error) { return ps, nil }

// Retry is how a failed email is retried: after First, then twice as long
// each time up to Max, until Attempts attempts have failed.
type Retry struct {
	First    time.Duration
	Max      time.Duration
	Attempts int
}

// DefaultRetry retries for about three hours: after 30s, 1m, 2m … 1h, ten
// attempts in all.
var DefaultRetry = Retry{First: 30 * time.Second, Max: time.Hour, Attempts: 10}

// Delay returns how long to wait after failed attempt n (from 1).
func (r Retry) Delay(n int) time.Duration {
	d := r.First
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// Defaults of Options.
const (
	DefaultInterval  = 15 * time.Second
	DefaultLease     = 10 * time.Minute
	DefaultBatch     = 10
	DefaultCatchUp   = 6 * time.Hour
	DefaultRetention = 30 * 24 * time.Hour
	pruneEvery       = time.Hour
	maxBatches       = 50 // per drain, so that a tick ends
)

// Options configure a Notifier. Store, Changes, Policies, Renderer and
// Mailer are required.
type Options struct {
	Store    Store
	Changes  ChangeSource
	Policies PolicySource
	Renderer Renderer
	Mailer   Mailer
	// Metrics gives the figures digests show; nil: digests have none.
	Metrics MetricsSource
	// Log gets what the notifier does; nil logs nothing.
	Log *zap.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Interval is how often Run ticks; 0 is DefaultInterval.
	Interval time.Duration
	// Owner names this collector in claims; empty: host name, process ID
	// and a random suffix.
	Owner string
	// Lease is how long a claim on an email or a scheduled run holds; it
	// must cover sending one batch. 0 is DefaultLease.
	Lease time.Duration
	// Batch is the most emails claimed and sent over one connection; 0
	// is DefaultBatch.
	Batch int
	// Retry is the retry policy; zero is DefaultRetry.
	Retry Retry
	// CatchUp is how late a digest may still go out after its time, when
	// no collector ran then; 0 is DefaultCatchUp.
	CatchUp time.Duration
	// Retention is how long sent and failed emails stay listed; 0 is
	// DefaultRetention.
	Retention time.Duration
	// UnsubscribeURL, an https URL, is put in the List-Unsubscribe header
	// of digests and summaries, with the recipient's signed token added as
	// the query parameter t, and allows one-click unsubscription (RFC
	// 8058). Empty: no such header. Alerts never have one.
	UnsubscribeURL string
	// Signer signs the recipients' links; nil: one with the store's key
	// (SignerFromStore), made at the first email.
	Signer *Signer
}

// Notifier fires the digest schedules, plans alerts and summaries, writes
// them to the outbox and drains it, on every collector at once: the store
// makes each scheduled run and each email happen once.
type Notifier struct {
	o     Options
	log   *zap.Logger
	poke  chan struct{}
	seq   atomic.Uint64
	mu    sync.Mutex // guards prune, wake and signer
	prune time.Time  // when the outbox was last pruned
	// signer signs the recipients' links; nil until the first email when
	// Options.Signer is nil.
	signer *Signer
	// wake is the earliest instant a tick foresaw an email falling due:
	// the end of a level 3 hold, a digest's time. Zero: none.
	wake time.Time
}

// New checks opts and returns a Notifier.
func New(opts Options) (*Notifier, error) {
	if opts.Store == nil || opts.Changes == nil || opts.Policies == nil || opts.Renderer == nil || opts.Mailer == nil {
		return nil, errors.New("notify: Store, Changes, Policies, Renderer and Mailer are required")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Retry == (Retry{}) {
		opts.Retry = DefaultRetry
	}
	if opts.Retry.First <= 0 || opts.Retry.Max < opts.Retry.First || opts.Retry.Attempts < 1 {
		return nil, fmt.Errorf("notify: retry %+v: want a positive first delay, a max at least as long, and at least one attempt", opts.Retry)
	}
	if opts.CatchUp <= 0 {
		opts.CatchUp = DefaultCatchUp
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.UnsubscribeURL != "" {
		u, err := url.Parse(opts.UnsubscribeURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("notify: unsubscribe URL %q is not an https URL", opts.UnsubscribeURL)
		}
	}
	if opts.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:]) // never fails
		opts.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	return &Notifier{o: opts, log: opts.Log, poke: make(chan struct{}, 1), signer: opts.Signer}, nil
}

// Signer returns the signer of the recipients' links, with the store's
// key unless Options gave one.
func (n *Notifier) Signer(ctx context.Context) (*Signer, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.signer != nil {
		return n.signer, nil
	}
	s, err := SignerFromStore(ctx, n.o.Store)
	if err != nil {
		return nil, fmt.Errorf("notification signing key: %w", err)
	}
	n.signer = s
	return s, nil
}

// Owner returns the name this notifier claims under.
func (n *Notifier) Owner() string { return n.o.Owner }

// Run ticks until ctx ends: at once, then Interval after each tick,
// sooner when a tick foresaw an email falling due before that (a level 3
// alert whose hold ends, a digest's time), and whenever Poke is called. A
// tick's errors are logged, and the next tick tries again. It returns nil
// when ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTimer(n.o.Interval)
	defer t.Stop()
	for {
		if err := n.Tick(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("notification tick", zap.Error(err))
		}
		t.Reset(n.untilNext())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.poke:
		}
	}
}

// untilNext returns how long Run waits for its next tick: Interval, or
// less when the last tick foresaw an email falling due sooner.
func (n *Notifier) untilNext() time.Duration {
	n.mu.Lock()
	wake := n.wake
	n.mu.Unlock()
	d := n.o.Interval
	if !wake.IsZero() {
		d = max(min(d, wake.Sub(n.o.Now())), 0)
	}
	return d
}

// foresee records that an email falls due at t, so that Run ticks then.
func (n *Notifier) foresee(t time.Time) {
	if t.IsZero() {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.wake.IsZero() || t.Before(n.wake) {
		n.wake = t
	}
}

// Poke makes Run tick now, as when a level 3 change was stored. It never
// blocks.
func (n *Notifier) Poke() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// Tick does one round: for every policy, fires the digest schedule when it
// is due and enqueues the alerts and summaries due, then drains the outbox
// and, once an hour, prunes it. A tenant's failure does not stop the
// others; the errors are joined.
func (n *Notifier) Tick(ctx context.Context) error {
	n.mu.Lock()
	n.wake = time.Time{}
	n.mu.Unlock()
	var errs []error
	policies, err := n.o.Policies.Policies(ctx)
	if err != nil {
		// What is queued still goes out.
		errs = append(errs, fmt.Errorf("notification policies: %w", err))
	}
	for _, p := range policies {
		if err := n.planTenant(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := n.Drain(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := n.maybePrune(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// tenant resolves the tenant a policy applies to.
func (n *Notifier) tenant(ctx context.Context, p Policy) (store.Tenant, error) {
	if p.TenantID != "" {
		return n.o.Store.TenantByID(ctx, p.TenantID)
	}
	return n.o.Store.TenantByName(ctx, p.TenantName)
}

func (n *Notifier) planTenant(ctx context.Context, p Policy) error {
	t, err := n.tenant(ctx, p)
	if err != nil {
		return fmt.Errorf("notification policy of tenant %q: %w", cmp.Or(p.TenantID, p.TenantName), err)
	}
	log := n.log.With(zap.String("tenant", t.Name))
	now := n.o.Now()
	var errs []error
	if err := n.fireDigest(ctx, t, p, now, log); err != nil {
		errs = append(errs, err)
	}
	if len(p.Recipients) > 0 {
		n.foresee(p.Digest.Next(now))
	}
	if len(p.Level3) > 0 || len(p.Level2) > 0 {
		w := PlanRange(p, now)
		changes, err := n.o.Changes.Changes(ctx, t.ID, w)
		if err != nil {
			errs = append(errs, fmt.Errorf("changes of tenant %s: %w", t.Name, err))
		} else {
			n.foresee(NextDue(p, changes, now))
			for _, pl := range Plan(p, changes, now) {
				if err := n.enqueue(ctx, t, p, pl, now, log); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// digestSchedule names the digest in schedule runs.
const digestSchedule = "digest"

// fireDigest claims the digest run due at now, if any, enqueues the digest
// and completes the run. A collector that dies in between leaves the claim
// to expire; the next claimer renders the digest again, and the dedupe key
// keeps it to one email.
func (n *Notifier) fireDigest(ctx context.Context, t store.Tenant, p Policy, now time.Time, log *zap.Logger) error {
	run, ok := DigestDue(p, now, n.o.CatchUp)
	if !ok {
		return nil
	}
	claimed, err := n.o.Store.ClaimScheduleRun(ctx, store.ScheduleClaim{
		TenantID: t.ID, Schedule: digestSchedule, Due: run.Due, Owner: n.o.Owner, At: now, Lease: n.o.Lease,
	})
	if err != nil || !claimed {
		return err
	}
	changes, err := n.o.Changes.Changes(ctx, t.ID, run.Window)
	if err != nil {
		return fmt.Errorf("digest %s of tenant %s: changes: %w", run.Label, t.Name, err)
	}
	if err := n.enqueue(ctx, t, p, PlanDigest(p, run, changes), now, log); err != nil {
		return err
	}
	if err := n.o.Store.CompleteScheduleRun(ctx, t.ID, digestSchedule, run.Due, n.o.Owner, n.o.Now()); err != nil {
		return fmt.Errorf("digest %s of tenant %s: %w", run.Label, t.Name, err)
	}
	if late := now.Sub(run.Due); late > n.o.Interval+time.Minute {
		log.Info("digest sent late: no collector ran at its time", zap.String("period", run.Label), zap.Duration("late", late))
	}
	return nil
}

// enqueue writes a planned email to the outbox as one message per
// recipient, each with its own dedupe key (so each recipient gets it once,
// however many collectors plan it) and its own signed links. A recipient
// who left the email's list is skipped, unless the policy makes the list
// mandatory. A recipient whose message is queued already is left alone.
func (n *Notifier) enqueue(ctx context.Context, t store.Tenant, p Policy, pl Planned, now time.Time, log *zap.Logger) error {
	list := pl.Kind.List()
	// Plans come back every tick while in range: what is queued already
	// costs one lookup, and the list's preferences are read only for a
	// recipient not queued yet.
	var left map[string]bool
	var signer *Signer
	var metrics *Metrics
	var fetched bool
	var errs []error
	for _, to := range pl.To {
		addr := BareAddress(to)
		key := RecipientKey(pl.Key, addr)
		if _, err := n.o.Store.EmailByKey(ctx, t.ID, key); err == nil {
			log.Debug("email queued already", zap.String("kind", string(pl.Kind)), zap.String("dedupe_key", key))
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		if left == nil {
			var err error
			if left, err = n.optedOut(ctx, t.ID, list); err != nil {
				return err
			}
		}
		if left[addr] {
			if p.Mandatory[pl.Kind] {
				log.Debug("recipient left a mandatory list; sending anyway", zap.String("kind", string(pl.Kind)), zap.String("to", addr))
			} else {
				log.Debug("recipient left the list; not sent", zap.String("kind", string(pl.Kind)), zap.String("dedupe_key", pl.Key),
					zap.String("to", addr))
				continue
			}
		}
		if signer == nil {
			var err error
			if signer, err = n.Signer(ctx); err != nil {
				return err
			}
		}
		if !fetched {
			metrics, fetched = n.metrics(ctx, t, pl, pl.Window, log), true
		}
		rc := Recipient{Address: to, Token: signer.Sign(Subscription{TenantID: t.ID, Recipient: addr, List: list})}
		c, err := render(n.o.Renderer, t, p, pl, metrics, rc)
		if err != nil {
			errs = append(errs, fmt.Errorf("render %s of tenant %s: %w", key, t.Name, err))
			continue
		}
		e := store.Email{
			ID:            EmailID(t.ID, key),
			TenantID:      t.ID,
			DedupeKey:     key,
			Kind:          string(pl.Kind),
			Priority:      pl.Kind.priority(),
			To:            []string{to},
			Subject:       c.Subject,
			HTML:          c.HTML,
			Text:          c.Text,
			Headers:       n.headers(t, pl, rc),
			CreatedAt:     now,
			NextAttemptAt: pl.NotBefore,
		}
		created, err := n.o.Store.EnqueueEmail(ctx, e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if created {
			log.Info("email queued", zap.String("kind", e.Kind), zap.String("dedupe_key", e.DedupeKey),
				zap.String("email_id", e.ID), zap.Int("changes", len(pl.Changes)), zap.Strings("to", e.To))
		} else {
			log.Debug("email queued already", zap.String("kind", e.Kind), zap.String("dedupe_key", e.DedupeKey))
		}
	}
	return errors.Join(errs...)
}

// optedOut returns the recipients of a tenant who left a list.
func (n *Notifier) optedOut(ctx context.Context, tenantID, list string) (map[string]bool, error) {
	prefs, err := n.o.Store.NotifyPrefs(ctx, tenantID, "")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range prefs {
		if p.List == list && !p.Enabled {
			out[p.Recipient] = true
		}
	}
	return out, nil
}

// RecipientKey is the dedupe key of one recipient's message of a planned
// email with dedupe key key: the recipient's address is kept whole when
// the key stays short enough, and hashed otherwise.
func RecipientKey(key, addr string) string {
	k := key + "/to/" + addr
	if len(k) <= store.MaxDedupeKey {
		return k
	}
	sum := sha256.Sum256([]byte(addr))
	return clip(key, store.MaxDedupeKey-70) + "/to/~" + hex.EncodeToString(sum[:])
}

// metrics returns the figures of a planned digest over w; nil for other
// emails, without a MetricsSource, or when it fails (which is logged).
func (n *Notifier) metrics(ctx context.Context, t store.Tenant, pl Planned, w Window, log *zap.Logger) *Metrics {
	if pl.Kind != KindDigest || n.o.Metrics == nil {
		return nil
	}
	m, err := n.o.Metrics.DigestMetrics(ctx, t.ID, w)
	if err != nil {
		log.Warn("digest without figures", zap.String("dedupe_key", pl.Key), zap.Error(err))
		return nil
	}
	return &m
}

// Render renders a planned email with r, for rc.
func Render(r Renderer, t store.Tenant, p Policy, pl Planned, rc Recipient) (Content, error) {
	return render(r, t, p, pl, nil, rc)
}

// render renders a planned email with r for one recipient; m are a
// digest's figures.
func render(r Renderer, t store.Tenant, p Policy, pl Planned, m *Metrics, rc Recipient) (Content, error) {
	var c Content
	var err error
	switch pl.Kind {
	case KindDigest:
		c, err = r.Digest(DigestData{Tenant: t, Period: p.Period, Label: pl.Label, Window: pl.Window, Location: p.Location, Changes: pl.Changes,
			Metrics: m, Recipient: rc})
	case KindAlert:
		c, err = r.Alert(AlertData{Tenant: t, Host: pl.Host, HostID: pl.HostID, Item: pl.Item, Window: pl.Window, Update: pl.Update,
			Location: p.Location, Changes: pl.Changes, Recipient: rc})
	case KindSummary:
		c, err = r.Summary(SummaryData{Tenant: t, Window: pl.Window, Location: p.Location, Changes: pl.Changes, Recipient: rc})
	default:
		return Content{}, fmt.Errorf("no renderer for %q", pl.Kind)
	}
	if err != nil {
		return Content{}, err
	}
	if strings.TrimSpace(c.Subject) == "" || strings.TrimSpace(c.Text) == "" {
		return Content{}, errors.New("the renderer gave no subject or no text body")
	}
	return c, nil
}

// headers are the extra header fields of a planned email's message to
// one recipient.
func (n *Notifier) headers(t store.Tenant, pl Planned, rc Recipient) map[string]string {
	h := map[string]string{
		"Auto-Submitted":      "auto-generated", // RFC 3834: no auto-replies
		"X-Driftwatch-Tenant": t.Name,
		"X-Driftwatch-Kind":   string(pl.Kind),
	}
	switch pl.Kind {
	case KindAlert:
		h["Importance"] = "high"
		h["X-Priority"] = "1 (Highest)"
		h["X-Driftwatch-Host"] = clip(pl.Host, 200)
		h["X-Driftwatch-Item"] = clip(pl.Item, 200)
	case KindDigest, KindSummary:
		h["Precedence"] = "bulk"
		if n.o.UnsubscribeURL != "" && rc.Token != "" {
			u, _ := url.Parse(n.o.UnsubscribeURL) // checked in New
			q := u.Query()
			q.Set("t", rc.Token)
			u.RawQuery = q.Encode()
			h["List-Unsubscribe"] = "<" + u.String() + ">"
			h["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
		}
	}
	return h
}

// DrainResult counts what a drain did.
type DrainResult struct {
	// Sent were accepted by the server.
	Sent int
	// Retried failed and are due again later.
	Retried int
	// Failed were given up.
	Failed int
}

// Drain claims the due emails, batch by batch, and sends each batch over
// one connection; when ctx ends, the batch in flight still has SendGrace
// to finish, and no other starts. An email the server accepts is marked
// sent; one it refuses for good (5xx), or that has failed Retry.Attempts
// times, is given up; any other failure is retried with exponential
// backoff. The server's answer is recorded either way.
func (n *Notifier) Drain(ctx context.Context) (DrainResult, error) {
	var res DrainResult
	var errs []error
	for range maxBatches {
		now := n.o.Now()
		token := fmt.Sprintf("%s/%d", n.o.Owner, n.seq.Add(1))
		es, err := n.o.Store.ClaimEmails(ctx, store.EmailClaim{Token: token, At: now, Lease: n.o.Lease, Limit: n.o.Batch})
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(es) == 0 {
			break
		}
		var send []store.Email
		for _, e := range es {
			if e.Attempts > n.o.Retry.Attempts {
				// Claimed that often without an outcome: its senders died.
				msg := fmt.Sprintf("gave up after %d attempts without an answer; last error: %s", e.Attempts-1, cmp.Or(e.LastError, "none"))
				errs = append(errs, n.fail(ctx, e, token, now, msg, &res))
				continue
			}
			send = append(send, e)
		}
		if len(send) == 0 {
			continue
		}
		msgs := make([]Message, len(send))
		for i, e := range send {
			msgs[i] = Message{ID: e.ID, Date: e.CreatedAt, To: e.To, Subject: e.Subject, HTML: e.HTML, Text: e.Text, Headers: e.Headers}
		}
		sendCtx, stop := withGrace(ctx, SendGrace)
		results := n.o.Mailer.Send(sendCtx, msgs)
		stop()
		done := n.o.Now()
		for i, e := range send {
			r := Result{Err: errors.New("the mailer gave no result")}
			if i < len(results) {
				r = results[i]
			}
			errs = append(errs, n.record(ctx, e, token, done, r, &res))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return res, errors.Join(errs...)
}

// SendGrace is how long a batch being sent may go on after the
// notifier is told to stop: the server's answer to a message in flight
// is worth waiting for, since without it the message is sent again.
const SendGrace = 10 * time.Second

// withGrace returns a context that ends grace after ctx ends, and a
// function that releases it.
func withGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-c.Done():
		}
	})
	return c, func() {
		stop()
		cancel()
	}
}

// record marks a sent email with its outcome.
func (n *Notifier) record(ctx context.Context, e store.Email, token string, at time.Time, r Result, res *DrainResult) error {
	log := n.log.With(zap.String("email_id", e.ID), zap.String("tenant_id", e.TenantID), zap.String("kind", e.Kind),
		zap.String("dedupe_key", e.DedupeKey), zap.Int("attempts", e.Attempts))
	// The outcome is recorded even when ctx ended meanwhile.
	ctx = context.WithoutCancel(ctx)
	switch {
	case r.Err == nil:
		if err := n.o.Store.MarkEmailSent(ctx, e.TenantID, e.ID, token, at, r.Response); err != nil {
			return err
		}
		res.Sent++
		log.Info("email sent", zap.Strings("to", e.To), zap.String("response", r.Response))
		return nil
	case r.Permanent || e.Attempts >= n.o.Retry.Attempts:
		return n.fail(ctx, e, token, at, r.Err.Error(), res)
	default:
		retry := at.Add(n.o.Retry.Delay(e.Attempts))
		if err := n.o.Store.MarkEmailRetry(ctx, e.TenantID, e.ID, token, r.Err.Error(), retry); err != nil {
			return err
		}
		res.Retried++
		log.Warn("email not sent; will retry", zap.Error(r.Err), zap.Time("retry_at", retry))
		return nil
	}
}

func (n *Notifier) fail(ctx context.Context, e store.Email, token string, at time.Time, msg string, res *DrainResult) error {
	if err := n.o.Store.MarkEmailFailed(context.WithoutCancel(ctx), e.TenantID, e.ID, token, at, msg); err != nil {
		return err
	}
	res.Failed++
	n.log.Error("email given up", zap.String("email_id", e.ID), zap.String("tenant_id", e.TenantID), zap.String("kind", e.Kind),
		zap.String("dedupe_key", e.DedupeKey), zap.Int("attempts", e.Attempts), zap.String("error", msg))
	return nil
}

// maybePrune prunes the outbox once an hour.
func (n *Notifier) maybePrune(ctx context.Context) error {
	now := n.o.Now()
	n.mu.Lock()
	due := now.Sub(n.prune) >= pruneEvery
	if due {
		n.prune = now
	}
	n.mu.Unlock()
	if !due {
		return nil
	}
	k, err := n.o.Store.PruneOutbox(ctx, now.Add(-n.o.Retention))
	if err != nil {
		return err
	}
	if k > 0 {
		n.log.Info("outbox pruned", zap.Int("emails", k), zap.Duration("retention", n.o.Retention))
	}
	return nil
}
