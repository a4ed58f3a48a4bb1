package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// emailCols are the columns scanEmail reads; emailListCols leaves the
// bodies out.
const (
	emailCols = `id, tenant_id, dedupe_key, kind, priority, recipients, subject, html, text, headers, created_at,
		status, attempts, next_attempt_at, claimed_until, last_attempt_at, last_error, sent_at, response, failed_at`
	emailListCols = `id, tenant_id, dedupe_key, kind, priority, recipients, subject, '', '', headers, created_at,
		status, attempts, next_attempt_at, claimed_until, last_attempt_at, last_error, sent_at, response, failed_at`
)

func scanEmail(row pgx.Row) (store.Email, error) {
	var e store.Email
	err := row.Scan(&e.ID, &e.TenantID, &e.DedupeKey, &e.Kind, &e.Priority, &e.To, &e.Subject, &e.HTML, &e.Text,
		&e.Headers, timeCol{&e.CreatedAt}, &e.Status, &e.Attempts, timeCol{&e.NextAttemptAt},
		timeCol{&e.ClaimedUntil}, timeCol{&e.LastAttemptAt}, &e.LastError, timeCol{&e.SentAt}, &e.Response, timeCol{&e.FailedAt})
	if err != nil {
		return store.Email{}, mapErr(err)
	}
	if len(e.Headers) == 0 {
		e.Headers = nil
	}
	return e, nil
}

func collectEmails(rows pgx.Rows) ([]store.Email, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Email, error) { return scanEmail(row) })
}

// EnqueueEmail stores a queued email unless the tenant has one with its
// dedupe key. Two collectors enqueueing the same key at once queue on the
// unique index: the second finds the first's row.
func (s *Store) EnqueueEmail(ctx context.Context, e store.Email) (bool, error) {
	if err := e.Validate(); err != nil {
		return false, fmt.Errorf("enqueue email: %w", err)
	}
	headers := e.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	next := e.NextAttemptAt
	if next.IsZero() {
		next = e.CreatedAt
	}
	var created bool
	err := s.write(ctx, func(tx pgx.Tx) error {
		// DO NOTHING on any unique key: the ID check follows, because an
		// email enqueued twice has the same ID and dedupe key both.
		tag, err := tx.Exec(ctx, `INSERT INTO outbox (id, tenant_id, dedupe_key, kind, priority, recipients, subject,
				html, text, headers, created_at, next_attempt_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT DO NOTHING`,
			e.ID, e.TenantID, e.DedupeKey, e.Kind, e.Priority, e.To, e.Subject, e.HTML, e.Text, headers,
			utc(e.CreatedAt), utc(next))
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 1 {
			created = true
			return nil
		}
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM outbox WHERE tenant_id = $1 AND dedupe_key = $2`, e.TenantID, e.DedupeKey).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: another email has ID %s", store.ErrExists, e.ID)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("enqueue email %s (%s) of tenant %s: %w", e.ID, e.DedupeKey, e.TenantID, err)
	}
	return created, nil
}

// Email returns one email of a tenant, bodies included.
func (s *Store) Email(ctx context.Context, tenantID, id string) (store.Email, error) {
	e, err := scanEmail(s.pool.QueryRow(ctx, `SELECT `+emailCols+` FROM outbox WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if err != nil {
		return store.Email{}, fmt.Errorf("email %s of tenant %s: %w", id, tenantID, err)
	}
	return e, nil
}

// EmailByKey returns a tenant's email with the given dedupe key.
func (s *Store) EmailByKey(ctx context.Context, tenantID, key string) (store.Email, error) {
	e, err := scanEmail(s.pool.QueryRow(ctx, `SELECT `+emailCols+` FROM outbox WHERE tenant_id = $1 AND dedupe_key = $2`, tenantID, key))
	if err != nil {
		return store.Email{}, fmt.Errorf("email %q of tenant %s: %w", key, tenantID, err)
	}
	return e, nil
}

// Emails lists a tenant's emails, newest first, without their bodies.
func (s *Store) Emails(ctx context.Context, tenantID string, f store.EmailFilter) ([]store.Email, error) {
	q := `SELECT ` + emailListCols + ` FROM outbox WHERE tenant_id = $1 AND ($2 = '' OR status = $2)
		ORDER BY created_at DESC, id DESC`
	args := []any{tenantID, f.Status}
	if f.Limit > 0 {
		q += ` LIMIT $3`
		args = append(args, f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list emails of tenant %s: %w", tenantID, err)
	}
	es, err := collectEmails(rows)
	if err != nil {
		return nil, fmt.Errorf("list emails of tenant %s: %w", tenantID, err)
	}
	return es, nil
}

// ClaimEmails claims due emails: the rows are locked with FOR UPDATE SKIP
// LOCKED, so collectors claiming at once take different emails instead of
// waiting for each other.
func (s *Store) ClaimEmails(ctx context.Context, c store.EmailClaim) ([]store.Email, error) {
	if c.Token == "" || c.Limit < 1 || c.Lease <= 0 {
		return nil, fmt.Errorf("claim emails: want a token, a positive lease and a limit of at least 1, not %q, %v, %d", c.Token, c.Lease, c.Limit)
	}
	at := utc(c.At)
	var es []store.Email
	err := s.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE outbox SET attempts = attempts + 1, claim_token = $1, claimed_until = $2, last_attempt_at = $3
			WHERE id IN (
				SELECT id FROM outbox
				WHERE status = 'queued' AND next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)
				ORDER BY priority DESC, next_attempt_at, id
				LIMIT $4
				FOR UPDATE SKIP LOCKED)
			RETURNING `+emailCols,
			c.Token, utc(c.At.Add(c.Lease)), at, c.Limit)
		if err != nil {
			return err
		}
		es, err = collectEmails(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim emails: %w", err)
	}
	store.SortClaimed(es)
	return es, nil
}

// MarkEmailSent records that a claimed email was sent.
func (s *Store) MarkEmailSent(ctx context.Context, tenantID, id, token string, at time.Time, response string) error {
	err := s.mark(ctx, tenantID, id, token, `status = 'sent', sent_at = $4, response = $5`, utc(at), response)
	if err != nil {
		return fmt.Errorf("mark email %s of tenant %s sent: %w", id, tenantID, err)
	}
	return nil
}

// MarkEmailRetry records a failed attempt and makes the email due again
// at retryAt.
func (s *Store) MarkEmailRetry(ctx context.Context, tenantID, id, token, lastError string, retryAt time.Time) error {
	err := s.mark(ctx, tenantID, id, token, `last_error = $4, next_attempt_at = $5`, lastError, utc(retryAt))
	if err != nil {
		return fmt.Errorf("mark email %s of tenant %s for retry: %w", id, tenantID, err)
	}
	return nil
}

// MarkEmailFailed records a failed attempt and gives the email up.
func (s *Store) MarkEmailFailed(ctx context.Context, tenantID, id, token string, at time.Time, lastError string) error {
	err := s.mark(ctx, tenantID, id, token, `status = 'failed', last_error = $5, failed_at = $4`, utc(at), lastError)
	if err != nil {
		return fmt.Errorf("mark email %s of tenant %s failed: %w", id, tenantID, err)
	}
	return nil
}

// mark applies set (whose parameters start at $4) to a queued email the
// token holds and releases its claim; otherwise it says why not.
func (s *Store) mark(ctx context.Context, tenantID, id, token, set string, args ...any) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE outbox SET `+set+`, claim_token = NULL, claimed_until = NULL
			WHERE tenant_id = $1 AND id = $2 AND status = 'queued' AND claim_token = $3`,
			append([]any{tenantID, id, token}, args...)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var status string
		var holder *string
		err = tx.QueryRow(ctx, `SELECT status, claim_token FROM outbox WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&status, &holder)
		if err != nil {
			return mapErr(err)
		}
		return store.MarkConflict(status, holder != nil)
	})
}

// ClaimScheduleRun claims one run of a schedule; the upsert takes over an
// expired, unfinished claim in the same statement.
func (s *Store) ClaimScheduleRun(ctx context.Context, c store.ScheduleClaim) (bool, error) {
	if c.Owner == "" || c.Schedule == "" || c.Lease <= 0 {
		return false, fmt.Errorf("claim schedule run: want an owner, a schedule and a positive lease, not %q, %q, %v", c.Owner, c.Schedule, c.Lease)
	}
	var claimed bool
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO schedule_runs (tenant_id, schedule, due_at, owner, claimed_at, claimed_until)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, schedule, due_at) DO UPDATE SET
				owner = excluded.owner, claimed_at = excluded.claimed_at, claimed_until = excluded.claimed_until
			WHERE schedule_runs.done_at IS NULL
				AND (schedule_runs.claimed_until <= excluded.claimed_at OR schedule_runs.owner = excluded.owner)`,
			c.TenantID, c.Schedule, utc(c.Due), c.Owner, utc(c.At), utc(c.At.Add(c.Lease)))
		if err != nil {
			return mapErr(err)
		}
		claimed = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("claim %s run due %s of tenant %s: %w", c.Schedule, utc(c.Due).Format(time.RFC3339), c.TenantID, err)
	}
	return claimed, nil
}

// CompleteScheduleRun records that a claimed run is done.
func (s *Store) CompleteScheduleRun(ctx context.Context, tenantID, schedule string, due time.Time, owner string, at time.Time) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE schedule_runs SET done_at = $5
			WHERE tenant_id = $1 AND schedule = $2 AND due_at = $3 AND owner = $4 AND done_at IS NULL`,
			tenantID, schedule, utc(due), owner, utc(at))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var holder string
		var done *time.Time
		err = tx.QueryRow(ctx, `SELECT owner, done_at FROM schedule_runs WHERE tenant_id = $1 AND schedule = $2 AND due_at = $3`,
			tenantID, schedule, utc(due)).Scan(&holder, &done)
		if err != nil {
			return mapErr(err)
		}
		if done != nil {
			return fmt.Errorf("%w: the run is done already", store.ErrConflict)
		}
		return fmt.Errorf("%w: the run's claim passed to %s", store.ErrConflict, holder)
	})
	if err != nil {
		return fmt.Errorf("complete %s run due %s of tenant %s: %w", schedule, utc(due).Format(time.RFC3339), tenantID, err)
	}
	return nil
}

// LastScheduleRun returns the done run of a schedule that was due last.
func (s *Store) LastScheduleRun(ctx context.Context, tenantID, schedule string) (store.ScheduleRun, error) {
	r := store.ScheduleRun{TenantID: tenantID, Schedule: schedule}
	err := s.pool.QueryRow(ctx, `SELECT due_at, owner, claimed_at, claimed_until, done_at FROM schedule_runs
		WHERE tenant_id = $1 AND schedule = $2 AND done_at IS NOT NULL ORDER BY due_at DESC LIMIT 1`, tenantID, schedule).
		Scan(timeCol{&r.Due}, &r.Owner, timeCol{&r.ClaimedAt}, timeCol{&r.ClaimedUntil}, timeCol{&r.DoneAt})
	if err != nil {
		return store.ScheduleRun{}, fmt.Errorf("last %s run of tenant %s: %w", schedule, tenantID, mapErr(err))
	}
	return r, nil
}

// PruneOutbox deletes finished emails and done schedule runs from before
// before.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int, error) {
	b := utc(before)
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM outbox WHERE (status = 'sent' AND sent_at < $1) OR (status = 'failed' AND failed_at < $1)`, b)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM schedule_runs AS r WHERE done_at < $1 AND due_at < (
			SELECT max(due_at) FROM schedule_runs AS l
			WHERE l.tenant_id = r.tenant_id AND l.schedule = r.schedule AND l.done_at IS NOT NULL)`, b)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune outbox before %s: %w", b.Format(time.RFC3339), err)
	}
	return int(n), nil
}
