package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Email statuses.
const (
	// EmailQueued: waiting for its first attempt or for a retry, or being
	// sent under a claim.
	EmailQueued = "queued"
	// EmailSent: the SMTP server accepted it.
	EmailSent = "sent"
	// EmailFailed: given up; it stays listed with its last error.
	EmailFailed = "failed"
)

// Email is one message in the outbox: written before it is sent, claimed
// by one sender at a time, and kept after it is sent or given up.
type Email struct {
	// ID is chosen by the caller and unique across tenants.
	ID       string
	TenantID string
	// DedupeKey names what the email is about, such as
	// "digest/acme/2026-W47"; a tenant has at most one email per key.
	DedupeKey string
	// Kind is what sort of email it is ("digest", "alert", "summary" …),
	// for listings.
	Kind string
	// Priority orders claims: higher first.
	Priority int
	// To holds the recipients, in order, at least one.
	To      []string
	Subject string
	// HTML and Text are the two alternative bodies. Emails leaves them
	// out.
	HTML string
	Text string
	// Headers are extra header fields, such as List-Unsubscribe; nil when
	// there are none.
	Headers map[string]string
	// CreatedAt is when it was enqueued.
	CreatedAt time.Time

	// Status is EmailQueued, EmailSent or EmailFailed.
	Status string
	// Attempts counts the claims so far, including one in progress.
	Attempts int
	// NextAttemptAt is when it is next due. On enqueue, zero means
	// CreatedAt.
	NextAttemptAt time.Time
	// ClaimedUntil is when the current or last claim's lease ends; zero
	// when it is not claimed.
	ClaimedUntil time.Time
	// LastAttemptAt is when it was last claimed; zero before the first.
	LastAttemptAt time.Time
	// LastError is the last failure: the SMTP server's answer or why the
	// server could not be reached. Empty when there was none.
	LastError string
	// SentAt is when it was sent; zero unless Status is EmailSent.
	SentAt time.Time
	// Response is the server's answer to the message when it was sent.
	Response string
	// FailedAt is when it was given up; zero unless Status is EmailFailed.
	FailedAt time.Time
}

// EmailClaim asks for due emails.
type EmailClaim struct {
	// Token identifies this claim; MarkEmail* must give it back. Use a
	// new token for each claim.
	Token string
	// At is the claim's time: emails whose NextAttemptAt is at or before
	// it and that no unexpired lease holds are due.
	At time.Time
	// Lease is how long the claim holds: once At+Lease has passed, another
	// claim may take the email, as when the sender crashed.
	Lease time.Duration
	// Limit is the most emails to claim; at least 1.
	Limit int
}

// EmailFilter selects emails for a listing.
type EmailFilter struct {
	// Status is EmailQueued, EmailSent or EmailFailed; empty for all.
	Status string
	// Limit is the most emails to list; 0 for all.
	Limit int
}

// ScheduleClaim asks to run one scheduled run of a tenant's schedule.
type ScheduleClaim struct {
	TenantID string
	// Schedule names the schedule within the tenant, such as "digest".
	Schedule string
	// Due is when the run was due; it names the run.
	Due time.Time
	// Owner identifies the claimer; CompleteScheduleRun must give it back.
	Owner string
	// At is the claim's time.
	At time.Time
	// Lease is how long the claim holds without completion before another
	// claimer may take the run over.
	Lease time.Duration
}

// ScheduleRun is the record of one scheduled run.
type ScheduleRun struct {
	TenantID     string
	Schedule     string
	Due          time.Time
	Owner        string
	ClaimedAt    time.Time
	ClaimedUntil time.Time
	// DoneAt is when the run completed; zero while it has not.
	DoneAt time.Time
}

// Outbox is what the store keeps for email: the persistent outbox of
// digests and alerts, claimed by one sender at a time, and the record of
// scheduled runs, so that each run happens once across collectors.
//
// Delivery is at least once: an email is marked sent after the SMTP
// server accepted it, so a sender that dies in between leaves it to be
// sent again when its lease ends.
type Outbox interface {
	// EnqueueEmail stores a queued email and returns true, or returns false
	// and changes nothing when the tenant has an email with its DedupeKey
	// already. ErrNotFound when the tenant does not exist; ErrExists when
	// another email has its ID; an error and nothing stored when it has no
	// ID, dedupe key, recipient, subject or creation time.
	EnqueueEmail(ctx context.Context, e Email) (bool, error)
	// Email returns one email of a tenant, bodies included.
	Email(ctx context.Context, tenantID, id string) (Email, error)
	// EmailByKey returns a tenant's email with the given dedupe key.
	EmailByKey(ctx context.Context, tenantID, key string) (Email, error)
	// Emails lists a tenant's emails, newest first, without their bodies.
	Emails(ctx context.Context, tenantID string, f EmailFilter) ([]Email, error)
	// ClaimEmails claims up to c.Limit due emails of any tenant, highest
	// priority first, then longest due, and returns them with Attempts
	// counted and the lease set. Two claims never get the same email while
	// its lease holds, in one process or several.
	ClaimEmails(ctx context.Context, c EmailClaim) ([]Email, error)
	// MarkEmailSent records that a claimed email was sent, with the
	// server's answer, and releases the claim. ErrNotFound when the tenant
	// has no such email; ErrConflict when token does not hold its claim
	// (another claim took it over, or it is no longer queued).
	MarkEmailSent(ctx context.Context, tenantID, id, token string, at time.Time, response string) error
	// MarkEmailRetry records a failed attempt with its error, releases the
	// claim and makes the email due again at retryAt. Errors as
	// MarkEmailSent.
	MarkEmailRetry(ctx context.Context, tenantID, id, token, lastError string, retryAt time.Time) error
	// MarkEmailFailed records a failed attempt with its error and gives the
	// email up: it stays listed as failed and is never claimed again.
	// Errors as MarkEmailSent.
	MarkEmailFailed(ctx context.Context, tenantID, id, token string, at time.Time, lastError string) error

	// ClaimScheduleRun claims the run of c.Schedule due at c.Due and
	// returns true, or returns false when the run is done or another
	// owner's unexpired claim holds it. A claim whose lease has passed
	// without completion is taken over; the owner of a claim may claim
	// again, renewing the lease (to retry a run that failed). ErrNotFound
	// when the tenant does not exist.
	ClaimScheduleRun(ctx context.Context, c ScheduleClaim) (bool, error)
	// CompleteScheduleRun records that the claimed run is done.
	// ErrNotFound when it was never claimed; ErrConflict when owner no
	// longer holds the claim or the run is done already.
	CompleteScheduleRun(ctx context.Context, tenantID, schedule string, due time.Time, owner string, at time.Time) error
	// LastScheduleRun returns the done run of a schedule that was due
	// last; ErrNotFound when none is done.
	LastScheduleRun(ctx context.Context, tenantID, schedule string) (ScheduleRun, error)

	// PruneOutbox deletes the emails sent or given up before before and
	// the schedule runs done before before, keeping each schedule's last
	// done run, and returns how many emails it deleted.
	PruneOutbox(ctx context.Context, before time.Time) (int, error)
}

// MaxDedupeKey is the longest dedupe key, in bytes.
const MaxDedupeKey = 512

// Validate checks what EnqueueEmail requires of an email: an ID, a tenant,
// a dedupe key of at most MaxDedupeKey bytes, at least one recipient and
// no empty one, a subject and a creation time.
func (e *Email) Validate() error {
	var missing string
	switch {
	case e.ID == "":
		missing = "ID"
	case e.TenantID == "":
		missing = "tenant"
	case e.DedupeKey == "":
		missing = "dedupe key"
	case len(e.To) == 0:
		missing = "recipient"
	case e.Subject == "":
		missing = "subject"
	case e.CreatedAt.IsZero():
		missing = "creation time"
	}
	if missing != "" {
		return fmt.Errorf("email %q has no %s", e.ID, missing)
	}
	if len(e.DedupeKey) > MaxDedupeKey {
		return fmt.Errorf("email %s: dedupe key is %d bytes, more than %d", e.ID, len(e.DedupeKey), MaxDedupeKey)
	}
	for i, to := range e.To {
		if strings.TrimSpace(to) == "" {
			return fmt.Errorf("email %s: recipient %d is empty", e.ID, i+1)
		}
	}
	return nil
}

// SortClaimed puts claimed emails in claim order: highest priority first,
// then longest due, then by ID.
func SortClaimed(es []Email) {
	slices.SortFunc(es, func(a, b Email) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// MarkConflict is the ErrConflict for marking an email that exists but
// that the token does not hold: status is the email's, claimed whether
// some claim holds it.
func MarkConflict(status string, claimed bool) error {
	switch {
	case status != EmailQueued:
		return fmt.Errorf("%w: the email is %s already", ErrConflict, status)
	case claimed:
		return fmt.Errorf("%w: another claim took the email over", ErrConflict)
	default:
		return fmt.Errorf("%w: the email is not claimed", ErrConflict)
	}
}
