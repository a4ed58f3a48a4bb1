package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
)

// SendTest sends a test message to one address straight through m, not
// through the outbox, and returns the server's answer: what
// `driftwatch-collector smtp test -to ADDR` shows.
func SendTest(ctx context.Context, m Mailer, to string, now time.Time) (string, error) {
	addr, err := ParseAddress(to)
	if err != nil {
		return "", fmt.Errorf("smtp test: %w", err)
	}
	host, _ := os.Hostname()
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	when := now.UTC().Format(time.RFC1123)
	text := fmt.Sprintf("This is a test message from driftwatch-collector on %s, sent at %s.\n\n"+
		"It reached you, so the collector can send drift digests and escalation alerts.\n", host, when)
	html := fmt.Sprintf("<p>This is a test message from <b>driftwatch-collector</b> on %s, sent at %s.</p>"+
		"<p>It reached you, so the collector can send drift digests and escalation alerts.</p>", host, when)
	msg := Message{
		ID:      "test-" + hex.EncodeToString(b[:]),
		Date:    now,
		To:      []string{addr},
		Subject: "driftwatch SMTP test",
		Text:    text,
		HTML:    html,
		Headers: map[string]string{"Auto-Submitted": "auto-generated", "X-Driftwatch-Kind": string(KindTest)},
	}
	rs := m.Send(ctx, []Message{msg})
	if len(rs) != 1 {
		return "", errors.New("smtp test: the mailer gave no result")
	}
	if rs[0].Err != nil {
		return "", fmt.Errorf("smtp test to %s: %w", addr, rs[0].Err)
	}
	return rs[0].Response, nil
}

// PreviewDigest renders the next digest of the tenant named tenant as it
// stands at at: the period that its next run closes, with the changes so
// far, as its first recipient gets it, with links signed by a throwaway
// key (they do not work).
// Nothing is stored or sent; write it out with WriteMessage. This is
// `driftwatch-collector digest preview`.
func (n *Notifier) PreviewDigest(ctx context.Context, tenant string, at time.Time) (Message, error) {
	policies, err := n.o.Policies.Policies(ctx)
	if err != nil {
		return Message{}, fmt.Errorf("digest preview: %w", err)
	}
	for _, p := range policies {
		t, err := n.tenant(ctx, p)
		if err != nil || (t.Name != tenant && t.ID != tenant) {
			continue
		}
		if p.Digest.IsZero() {
			return Message{}, fmt.Errorf("digest preview: tenant %s has no digest schedule", t.Name)
		}
		next := p.Digest.Next(at)
		if next.IsZero() {
			return Message{}, fmt.Errorf("digest preview: the digest schedule of tenant %s does not run again", t.Name)
		}
		run := DigestRunAt(p, next)
		soFar := Window{Start: run.Window.Start, End: minTime(at, run.Window.End)}
		changes, err := n.o.Changes.Changes(ctx, t.ID, soFar)
		if err != nil {
			return Message{}, fmt.Errorf("digest preview of tenant %s: %w", t.Name, err)
		}
		pl := PlanDigest(p, run, changes)
		to := pl.To
		if len(to) == 0 {
			to = []string{"no-recipients@invalid"}
		}
		// A preview stores nothing, not even a key: its links are signed
		// with a throwaway key, so they show the recipient's message as it
		// will be but do not work.
		key := make([]byte, minKey)
		_, _ = rand.Read(key) // never fails
		signer, err := NewSigner(key)
		if err != nil {
			return Message{}, fmt.Errorf("digest preview of tenant %s: %w", t.Name, err)
		}
		rc := Recipient{Address: to[0], Token: signer.Sign(Subscription{TenantID: t.ID, Recipient: BareAddress(to[0]), List: pl.Kind.List()})}
		c, err := render(n.o.Renderer, t, p, pl, n.metrics(ctx, t, pl, soFar, n.log.With(zap.String("tenant", t.Name))), rc)
		if err != nil {
			return Message{}, fmt.Errorf("digest preview of tenant %s: render: %w", t.Name, err)
		}
		return Message{ID: "preview-" + EmailID(t.ID, pl.Key), Date: at, To: to[:1], Subject: c.Subject, HTML: c.HTML, Text: c.Text,
			Headers: n.headers(t, pl, rc)}, nil
	}
	return Message{}, fmt.Errorf("digest preview: no notification policy for tenant %q", tenant)
}
