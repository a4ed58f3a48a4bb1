package connector

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Headers of the generic webhook. The signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), the
// timestamp Unix seconds.
const (
	HeaderSignature = "X-Driftwatch-Signature"
	HeaderTimestamp = "X-Driftwatch-Timestamp"
	// HeaderJiraSignature is the header Jira's webhooks with a secret
	// sign with: "sha256=" + hex(HMAC-SHA256(secret, body)).
	HeaderJiraSignature = "X-Hub-Signature"
)

// Limits of the webhook.
const (
	// DefaultReplayWindow is how far a delivery's timestamp may be from
	// the collector's clock.
	DefaultReplayWindow = 5 * time.Minute
	// maxWebhookBody is the largest delivery accepted.
	maxWebhookBody = 1 << 20
)

// Webhook receives change records pushed by an external system and
// imports them through a Syncer. A "webhook" connector takes the generic
// form: a JSON object (one record), a list of them, or {"records": […]},
// fields found with the connector's mapping (dotted paths), signed with
// HeaderSignature over HeaderTimestamp and the body. A "jira" connector
// takes Jira's issue events, signed with HeaderJiraSignature, their
// "timestamp" (milliseconds) checked against the replay window.
//
// The secret is the "secret" of the connector's credentials, read at
// every delivery. Signatures are compared in constant time. Responses:
// 202 with the import's counts, 401 for a missing or wrong signature or a
// timestamp outside the window, 400 for a body that is not JSON, 413 for
// one too large, 503 when the secret cannot be read or the import failed.
type Webhook struct {
	// Config is the connector's configuration; required.
	Config Config
	// Syncer imports the records; required.
	Syncer *Syncer
	// ReplayWindow bounds a delivery's age; DefaultReplayWindow when zero.
	ReplayWindow time.Duration
	// Options give the clock, the log and, for Jira, the HTTP client that
	// reads an issue's approvals (when Config.URL is set).
	Options Options
}

// WebhookResponse is the body of a 202 answer.
type WebhookResponse struct {
	Created   int      `json:"created"`
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	Rejects   []Reject `json:"rejects,omitempty"`
}

func (w *Webhook) window() time.Duration {
	if w.ReplayWindow > 0 {
		return w.ReplayWindow
	}
	return DefaultReplayWindow
}

// ServeHTTP checks and imports one delivery.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	log := w.Options.log().With(zap.String("connector", w.Config.Name), zap.String("remote", r.RemoteAddr))
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "use POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil {
		http.Error(rw, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxWebhookBody {
		http.Error(rw, fmt.Sprintf("body larger than %d bytes", maxWebhookBody), http.StatusRequestEntityTooLarge)
		return
	}
	creds, err := w.Config.Credentials.Load()
	if err != nil || creds.Secret == "" {
		log.Error("webhook secret unavailable", zap.Bool("empty", err == nil))
		http.Error(rw, "webhook not configured", http.StatusServiceUnavailable)
		return
	}
	var doc any
	if w.Config.Kind == KindJira {
		err = w.verifyJira(creds.Secret, r.Header, body, &doc)
	} else {
		err = w.verify(creds.Secret, r.Header, body, &doc)
	}
	if errors.Is(err, errBadBody) {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		log.Warn("webhook delivery refused", zap.String("reason", err.Error()))
		http.Error(rw, err.Error(), http.StatusUnauthorized)
		return
	}
	recs, err := w.records(r.Context(), doc)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := w.Syncer.Import(r.Context(), recs)
	if err != nil {
		log.Error("webhook import failed", zap.Error(err))
		http.Error(rw, "import failed; see the collector's log", http.StatusServiceUnavailable)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(rw).Encode(WebhookResponse{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged, Rejects: res.Rejects})
}

// errBadBody marks a body that is not JSON.
var errBadBody = errors.New("body is not JSON")

// Sign returns the generic webhook's signature header value of a body
// sent at ts, for senders and tests.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// SignJira returns the signature Jira sends for a body.
func SignJira(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// checkSig compares a "sha256=<hex>" header with the expected MAC in
// constant time.
func checkSig(header, want string) error {
	if header == "" {
		return errors.New("missing signature")
	}
	got, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return errors.New("signature is not sha256=<hex>")
	}
	gb, err := hex.DecodeString(got)
	if err != nil {
		return errors.New("signature is not sha256=<hex>")
	}
	wb, _ := hex.DecodeString(strings.TrimPrefix(want, "sha256="))
	if !hmac.Equal(gb, wb) {
		return errors.New("signature does not match")
	}
	return nil
}

// fresh checks a delivery time against the replay window.
func (w *Webhook) fresh(ts time.Time) error {
	now := w.Options.now()
	if d := now.Sub(ts); d > w.window() || d < -w.window() {
		return fmt.Errorf("timestamp %s is %s from the collector's clock, outside the %s replay window",
			ts.UTC().Format(time.RFC3339), d.Round(time.Second), w.window())
	}
	return nil
}

// verify checks the generic webhook's signature and timestamp and
// decodes the body.
func (w *Webhook) verify(secret string, h http.Header, body []byte, doc *any) error {
	tsv := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(strings.TrimSpace(tsv), 10, 64)
	if err != nil {
		return fmt.Errorf("%s must be Unix seconds", HeaderTimestamp)
	}
	ts := time.Unix(sec, 0)
	if err := checkSig(h.Get(HeaderSignature), Sign(secret, ts, body)); err != nil {
		return err
	}
	if err := w.fresh(ts); err != nil {
		return err
	}
	if err := json.Unmarshal(body, doc); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	return nil
}

// verifyJira checks Jira's signature and the event's timestamp.
func (w *Webhook) verifyJira(secret string, h http.Header, body []byte, doc *any) error {
	if err := checkSig(h.Get(HeaderJiraSignature), SignJira(secret, body)); err != nil {
		return err
	}
	if err := json.Unmarshal(body, doc); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	ev, _ := (*doc).(object)
	ms, ok := ev["timestamp"].(float64)
	if !ok {
		return errors.New("the event has no timestamp")
	}
	return w.fresh(time.UnixMilli(int64(ms)))
}

// records maps a verified body to records.
func (w *Webhook) records(ctx context.Context, doc any) ([]Record, error) {
	if w.Config.Kind == KindJira {
		ev, _ := doc.(object)
		issue, ok := ev["issue"].(object)
		if !ok {
			return nil, fmt.Errorf("jira event %q has no issue", text(ev["webhookEvent"]))
		}
		j := newJira(w.Config, w.Options)
		r := j.record(issue)
		if r.Err == nil && w.Config.URL != "" {
			c, err := j.client(j.auth)
			if err == nil {
				err = j.approvals(ctx, c, &r)
			}
			if err != nil {
				r = Record{Reference: r.Reference, Err: fmt.Errorf("record %s: approvals: %w", r.Reference, err)}
			}
		}
		return []Record{r}, nil
	}
	var items []any
	switch x := doc.(type) {
	case []any:
		items = x
	case object:
		if rs, ok := x["records"].([]any); ok {
			items = rs
		} else {
			items = []any{x}
		}
	default:
		return nil, errors.New("body must be a JSON object, a list of objects, or {\"records\": [...]}")
	}
	out := make([]Record, 0, len(items))
	for i, it := range items {
		o, ok := it.(object)
		if !ok {
			out = append(out, Record{Err: rejectf(fmt.Sprintf("at position %d", i+1), "not a JSON object")})
			continue
		}
		out = append(out, genericRecord(o, &w.Config.Mapping, i))
	}
	return out, nil
}

// genericStates are the generic webhook's state names: driftwatch's own.
var genericStates = func() map[string]ticket.State {
	m := map[string]ticket.State{}
	for _, s := range ticket.States {
		m[string(s)] = s
	}
	m["canceled"] = ticket.Cancelled
	return m
}()

// genericApprovals are the generic webhook's approval values.
var genericApprovals = map[string]Approval{
	"": ApprovalNone, "none": ApprovalNone, "not requested": ApprovalNone,
	"requested": ApprovalRequested, "pending": ApprovalRequested,
	"approved": ApprovalApproved, "rejected": ApprovalRejected, "declined": ApprovalRejected,
}

// genericRecord maps a generic webhook's JSON object.
func genericRecord(o object, m *Mapping, pos int) Record {
	get := func(name string) any { return lookup(o, m.field(name, name)) }
	r := Record{
		Reference:    strings.TrimSpace(text(get("reference"))),
		Title:        strings.TrimSpace(text(get("title"))),
		Description:  text(get("description")),
		Impact:       text(get("impact")),
		RollbackPlan: text(get("rollback_plan")),
		Requester:    text(get("requester")),
		Link:         text(get("link")),
	}
	if r.Reference == "" {
		return Record{Err: rejectf(fmt.Sprintf("at position %d", pos+1), "no %s", m.field("reference", "reference"))}
	}
	r.ExternalState = text(get("state"))
	st, ok := m.state(r.ExternalState, genericStates)
	if !ok {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown state %q", r.ExternalState)}
	}
	r.State = st
	if r.Approval, ok = m.approval(text(get("approval")), genericApprovals); !ok {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown approval %q", text(get("approval")))}
	}
	if r.Class = classOf(text(get("class"))); r.Class == "" {
		return Record{Reference: r.Reference, Err: rejectf(r.Reference, "unknown class %q", text(get("class")))}
	}
	loc := time.UTC
	if m.TimeZone != "" {
		if l, err := time.LoadLocation(m.TimeZone); err == nil {
			loc = l
		}
	}
	var err error
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"start", &r.Start}, {"end", &r.End}, {"updated", &r.UpdatedAt}} {
		if *f.dst, err = parseTime(text(get(f.name)), loc); err != nil {
			return Record{Reference: r.Reference, Err: rejectf(r.Reference, "%s: %v", m.field(f.name, f.name), err)}
		}
	}
	m.scope(&r, list(get("hosts")), list(get("items")), list(get("labels")))
	return r
}
