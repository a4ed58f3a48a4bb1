package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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

func scanEmail(row scanner) (store.Email, error) {
	var e store.Email
	err := row.Scan(&e.ID, &e.TenantID, &e.DedupeKey, &e.Kind, &e.Priority, jsonCol{&e.To}, &e.Subject, &e.HTML, &e.Text,
		jsonCol{&e.Headers}, timeCol{&e.CreatedAt}, &e.Status, &e.Attempts, timeCol{&e.NextAttemptAt},
		timeCol{&e.ClaimedUntil}, timeCol{&e.LastAttemptAt}, &e.LastError, timeCol{&e.SentAt}, &e.Response, timeCol{&e.FailedAt})
	if err != nil {
		return store.Email{}, mapErr(err)
	}
	if len(e.Headers) == 0 {
		e.Headers = nil
	}
	return e, nil
}

// EnqueueEmail stores a queued email unless the tenant has one with its
// dedupe key.
func (s *Store) EnqueueEmail(ctx context.Context, e store.Email) (bool, error) {
	if err := e.Validate(); err != nil {
		return false, fmt.Errorf("enqueue email: %w", err)
	}
	to, err := json.Marshal(e.To)
	if err != nil {
		return false, fmt.Errorf("enqueue email %s: recipients: %w", e.ID, err)
	}
	headers, err := labelsJSON(e.Headers)
	if err != nil {
		return false, fmt.Errorf("enqueue email %s: headers: %w", e.ID, err)
	}
	next := e.NextAttemptAt
	if next.IsZero() {
		next = e.CreatedAt
	}
	var created bool
	err = s.write(ctx, func(tx *sql.Tx) error {
		// DO NOTHING on any unique key: the ID check follows, because an
		// email enqueued twice has the same ID and dedupe key both.
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, tenant_id, dedupe_key, kind, priority, recipients, subject,
				html, text, headers, created_at, next_attempt_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`,
			e.ID, e.TenantID, e.DedupeKey, e.Kind, e.Priority, string(to), e.Subject, e.HTML, e.Text, headers,
			fmtTime(e.CreatedAt), fmtTime(next))
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			created = true
			return nil
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE tenant_id = ? AND dedupe_key = ?`, e.TenantID, e.DedupeKey).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
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
	e, err := scanEmail(s.r.QueryRowContext(ctx, `SELECT `+emailCols+` FROM outbox WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return store.Email{}, fmt.Errorf("email %s of tenant %s: %w", id, tenantID, err)
	}
	return e, nil
}

// EmailByKey returns a tenant's email with the given dedupe key.
func (s *Store) EmailByKey(ctx context.Context, tenantID, key string) (store.Email, error) {
	e, err := scanEmail(s.r.QueryRowContext(ctx, `SELECT `+emailCols+` FROM outbox WHERE tenant_id = ? AND dedupe_key = ?`, tenantID, key))
	if err != nil {
		return store.Email{}, fmt.Errorf("email %q of tenant %s: %w", key, tenantID, err)
	}
	return e, nil
}

// Emails lists a tenant's emails, newest first, without their bodies.
func (s *Store) Emails(ctx context.Context, tenantID string, f store.EmailFilter) ([]store.Email, error) {
	q := `SELECT ` + emailListCols + ` FROM outbox WHERE tenant_id = ?`
	args := []any{tenantID}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	es, err := queryEmails(ctx, s.r, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list emails of tenant %s: %w", tenantID, err)
	}
	return es, nil
}

func queryEmails(ctx context.Context, q queryer, query string, args ...any) ([]store.Email, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []store.Email
	for rows.Next() {
		e, err := scanEmail(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// ClaimEmails claims due emails. The single write connection, with BEGIN
// IMMEDIATE across processes, makes each claim exclusive.
func (s *Store) ClaimEmails(ctx context.Context, c store.EmailClaim) ([]store.Email, error) {
	if c.Token == "" || c.Limit < 1 || c.Lease <= 0 {
		return nil, fmt.Errorf("claim emails: want a token, a positive lease and a limit of at least 1, not %q, %v, %d", c.Token, c.Lease, c.Limit)
	}
	at := fmtTime(c.At)
	var es []store.Email
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		es, err = queryEmails(ctx, tx, `UPDATE outbox SET attempts = attempts + 1, claim_token = ?, claimed_until = ?, last_attempt_at = ?
			WHERE id IN (
				SELECT id FROM outbox
				WHERE status = 'queued' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
				ORDER BY priority DESC, next_attempt_at, id
				LIMIT ?)
			RETURNING `+emailCols,
			c.Token, fmtTime(c.At.Add(c.Lease)), at, at, at, c.Limit)
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
	err := s.mark(ctx, tenantID, id, token, `status = 'sent', sent_at = ?, response = ?`, fmtTime(at), response)
	if err != nil {
		return fmt.Errorf("mark email %s of tenant %s sent: %w", id, tenantID, err)
	}
	return nil
}

// MarkEmailRetry records a failed attempt and makes the email due again
// at retryAt.
func (s *Store) MarkEmailRetry(ctx context.Context, tenantID, id, token, lastError string, retryAt time.Time) error {
	err := s.mark(ctx, tenantID, id, token, `last_error = ?, next_attempt_at = ?`, lastError, fmtTime(retryAt))
	if err != nil {
		return fmt.Errorf("mark email %s of tenant %s for retry: %w", id, tenantID, err)
	}
	return nil
}

// MarkEmailFailed records a failed attempt and gives the email up.
func (s *Store) MarkEmailFailed(ctx context.Context, tenantID, id, token string, at time.Time, lastError string) error {
	err := s.mark(ctx, tenantID, id, token, `status = 'failed', last_error = ?, failed_at = ?`, lastError, fmtTime(at))
	if err != nil {
		return fmt.Errorf("mark email %s of tenant %s failed: %w", id, tenantID, err)
	}
	return nil
}

// mark applies set to a queued email the token holds and releases its
// claim; otherwise it says why not.
func (s *Store) mark(ctx context.Context, tenantID, id, token, set string, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		args = append(args, tenantID, id, token)
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET `+set+`, claim_token = NULL, claimed_until = NULL
			WHERE tenant_id = ? AND id = ? AND status = 'queued' AND claim_token = ?`, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var status string
		var holder sql.NullString
		err = tx.QueryRowContext(ctx, `SELECT status, claim_token FROM outbox WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&status, &holder)
		if err != nil {
			return mapErr(err)
		}
		return store.MarkConflict(status, holder.Valid)
	})
}

// ClaimScheduleRun claims one run of a schedule.
func (s *Store) ClaimScheduleRun(ctx context.Context, c store.ScheduleClaim) (bool, error) {
	if c.Owner == "" || c.Schedule == "" || c.Lease <= 0 {
		return false, fmt.Errorf("claim schedule run: want an owner, a schedule and a positive lease, not %q, %q, %v", c.Owner, c.Schedule, c.Lease)
	}
	var claimed bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO schedule_runs (tenant_id, schedule, due_at, owner, claimed_at, claimed_until)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, schedule, due_at) DO UPDATE SET
				owner = excluded.owner, claimed_at = excluded.claimed_at, claimed_until = excluded.claimed_until
			WHERE schedule_runs.done_at IS NULL
				AND (schedule_runs.claimed_until <= excluded.claimed_at OR schedule_runs.owner = excluded.owner)`,
			c.TenantID, c.Schedule, fmtTime(c.Due), c.Owner, fmtTime(c.At), fmtTime(c.At.Add(c.Lease)))
		if err != nil {
			return mapErr(err)
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim %s run due %s of tenant %s: %w", c.Schedule, fmtTime(c.Due), c.TenantID, err)
	}
	return claimed, nil
}

// CompleteScheduleRun records that a claimed run is done.
func (s *Store) CompleteScheduleRun(ctx context.Context, tenantID, schedule string, due time.Time, owner string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE schedule_runs SET done_at = ?
			WHERE tenant_id = ? AND schedule = ? AND due_at = ? AND owner = ? AND done_at IS NULL`,
			fmtTime(at), tenantID, schedule, fmtTime(due), owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var holder string
		var done sql.NullString
		err = tx.QueryRowContext(ctx, `SELECT owner, done_at FROM schedule_runs WHERE tenant_id = ? AND schedule = ? AND due_at = ?`,
			tenantID, schedule, fmtTime(due)).Scan(&holder, &done)
		if err != nil {
			return mapErr(err)
		}
		if done.Valid {
			return fmt.Errorf("%w: the run is done already", store.ErrConflict)
		}
		return fmt.Errorf("%w: the run's claim passed to %s", store.ErrConflict, holder)
	})
	if err != nil {
		return fmt.Errorf("complete %s run due %s of tenant %s: %w", schedule, fmtTime(due), tenantID, err)
	}
	return nil
}

// LastScheduleRun returns the done run of a schedule that was due last.
func (s *Store) LastScheduleRun(ctx context.Context, tenantID, schedule string) (store.ScheduleRun, error) {
	r := store.ScheduleRun{TenantID: tenantID, Schedule: schedule}
	err := s.r.QueryRowContext(ctx, `SELECT due_at, owner, claimed_at, claimed_until, done_at FROM schedule_runs
		WHERE tenant_id = ? AND schedule = ? AND done_at IS NOT NULL ORDER BY due_at DESC LIMIT 1`, tenantID, schedule).
		Scan(timeCol{&r.Due}, &r.Owner, timeCol{&r.ClaimedAt}, timeCol{&r.ClaimedUntil}, timeCol{&r.DoneAt})
	if err != nil {
		return store.ScheduleRun{}, fmt.Errorf("last %s run of tenant %s: %w", schedule, tenantID, mapErr(err))
	}
	return r, nil
}

// PruneOutbox deletes finished emails and done schedule runs from before
// before.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int, error) {
	b := fmtTime(before)
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE (status = 'sent' AND sent_at < ?) OR (status = 'failed' AND failed_at < ?)`, b, b)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM schedule_runs AS r WHERE done_at < ? AND due_at < (
			SELECT max(due_at) FROM schedule_runs AS l
			WHERE l.tenant_id = r.tenant_id AND l.schedule = r.schedule AND l.done_at IS NOT NULL)`, b)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune outbox before %s: %w", fmtTime(before), err)
	}
	return int(n), nil
}
