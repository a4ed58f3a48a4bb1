package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// storedTicket is t as it reads back: times in UTC, truncated to the
// microsecond.
func storedTicket(t store.Ticket) store.Ticket {
	for _, tm := range []*time.Time{&t.WindowStart, &t.WindowEnd, &t.CreatedAt, &t.UpdatedAt, &t.FinishedAt} {
		if !tm.IsZero() {
			*tm = tm.UTC().Truncate(time.Microsecond)
		}
	}
	return t
}

// CreateTicket stores a new ticket as version 1, with its first
// transition, if any, and its audit entry.
func (s *Store) CreateTicket(ctx context.Context, w store.TicketWrite) (store.Ticket, error) {
	if err := store.CheckTicketWrite(&w, true); err != nil {
		return store.Ticket{}, fmt.Errorf("create ticket: %w", err)
	}
	if err := store.CheckTransition(&w, ""); err != nil {
		return store.Ticket{}, fmt.Errorf("create ticket: %w", err)
	}
	t := w.Ticket
	t.Version = 1
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tickets (tenant_id, id, reference, title, state, class, origin,
				window_start, window_end, created_at, updated_at, finished_at, version, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.TenantID, t.ID, t.Reference, t.Title, t.State, t.Class, t.Origin,
			nullTime(t.WindowStart), nullTime(t.WindowEnd), fmtTime(t.CreatedAt), fmtTime(t.UpdatedAt), nullTime(t.FinishedAt),
			t.Version, string(t.Doc))
		if err != nil {
			return mapErr(err)
		}
		return writeTicketRecord(ctx, tx, t, w)
	})
	if err != nil {
		return store.Ticket{}, fmt.Errorf("create ticket %s of tenant %s: %w", t.ID, t.TenantID, err)
	}
	return storedTicket(t), nil
}

// UpdateTicket replaces a ticket at the version read.
func (s *Store) UpdateTicket(ctx context.Context, w store.TicketWrite) (store.Ticket, error) {
	if err := store.CheckTicketWrite(&w, false); err != nil {
		return store.Ticket{}, fmt.Errorf("update ticket: %w", err)
	}
	t := w.Ticket
	err := s.write(ctx, func(tx *sql.Tx) error {
		var version int
		var state string
		err := tx.QueryRowContext(ctx, `SELECT version, state, created_at FROM tickets WHERE tenant_id = ? AND id = ?`,
			t.TenantID, t.ID).Scan(&version, &state, timeCol{&t.CreatedAt})
		if err != nil {
			return mapErr(err)
		}
		if version != w.Ticket.Version {
			return fmt.Errorf("version %d was read, the ticket is at version %d: %w", w.Ticket.Version, version, store.ErrConflict)
		}
		if err := store.CheckTransition(&w, state); err != nil {
			return err
		}
		t.Version = version + 1
		_, err = tx.ExecContext(ctx, `UPDATE tickets SET reference = ?, title = ?, state = ?, class = ?, origin = ?,
				window_start = ?, window_end = ?, updated_at = ?, finished_at = ?, version = ?, doc = ?
			WHERE tenant_id = ? AND id = ?`,
			t.Reference, t.Title, t.State, t.Class, t.Origin,
			nullTime(t.WindowStart), nullTime(t.WindowEnd), fmtTime(t.UpdatedAt), nullTime(t.FinishedAt), t.Version, string(t.Doc),
			t.TenantID, t.ID)
		if err != nil {
			return mapErr(err)
		}
		return writeTicketRecord(ctx, tx, t, w)
	})
	if err != nil {
		return store.Ticket{}, fmt.Errorf("update ticket %s of tenant %s: %w", t.ID, t.TenantID, err)
	}
	return storedTicket(t), nil
}

// writeTicketRecord writes the transition, if any, and the audit entry
// of a ticket write that stored t.
func writeTicketRecord(ctx context.Context, tx *sql.Tx, t store.Ticket, w store.TicketWrite) error {
	if tr := w.Transition; tr != nil {
		_, err := tx.ExecContext(ctx, `INSERT INTO ticket_transitions (tenant_id, ticket_id, version, at, actor, role,
				from_state, to_state, comment)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.TenantID, t.ID, t.Version, fmtTime(tr.At), tr.Actor, tr.Role, tr.From, tr.To, tr.Comment)
		if err != nil {
			return fmt.Errorf("insert transition: %w", mapErr(err))
		}
	}
	_, err := appendAudit(ctx, tx, w.Audit)
	return err
}

const ticketCols = `tenant_id, id, reference, title, state, class, origin, window_start, window_end,
	created_at, updated_at, finished_at, version, doc`

func scanTicket(row scanner) (store.Ticket, error) {
	var t store.Ticket
	err := row.Scan(&t.TenantID, &t.ID, &t.Reference, &t.Title, &t.State, &t.Class, &t.Origin,
		timeCol{&t.WindowStart}, timeCol{&t.WindowEnd}, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt}, timeCol{&t.FinishedAt},
		&t.Version, rawJSONCol{&t.Doc})
	if err != nil {
		return store.Ticket{}, mapErr(err)
	}
	return t, nil
}

// Ticket finds a ticket.
func (s *Store) Ticket(ctx context.Context, tenantID, id string) (store.Ticket, error) {
	t, err := scanTicket(s.r.QueryRowContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return store.Ticket{}, fmt.Errorf("ticket %s of tenant %s: %w", id, tenantID, err)
	}
	return t, nil
}

// TicketByReference finds a ticket by its outside reference.
func (s *Store) TicketByReference(ctx context.Context, tenantID, ref string) (store.Ticket, error) {
	if ref == "" {
		return store.Ticket{}, fmt.Errorf("ticket of tenant %s by reference: empty reference: %w", tenantID, store.ErrNotFound)
	}
	t, err := scanTicket(s.r.QueryRowContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = ? AND reference = ?`, tenantID, ref))
	if err != nil {
		return store.Ticket{}, fmt.Errorf("ticket %q of tenant %s: %w", ref, tenantID, err)
	}
	return t, nil
}

// Tickets lists a tenant's tickets, the most recently updated first.
func (s *Store) Tickets(ctx context.Context, tenantID string, f store.TicketFilter) ([]store.Ticket, string, error) {
	q := `SELECT ` + ticketCols + ` FROM tickets WHERE tenant_id = ?`
	args := []any{tenantID}
	if len(f.States) > 0 {
		q += ` AND state IN (` + placeholders(len(f.States)) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if !f.UpdatedSince.IsZero() {
		q += ` AND updated_at >= ?`
		args = append(args, fmtTime(f.UpdatedSince))
	}
	if !f.WindowFrom.IsZero() || !f.WindowTo.IsZero() {
		q += ` AND (window_start IS NOT NULL OR window_end IS NOT NULL)`
		if !f.WindowTo.IsZero() {
			q += ` AND (window_start IS NULL OR window_start <= ?)`
			args = append(args, fmtTime(f.WindowTo))
		}
		if !f.WindowFrom.IsZero() {
			q += ` AND (window_end IS NULL OR window_end >= ?)`
			args = append(args, fmtTime(f.WindowFrom))
		}
	}
	if f.Cursor != "" {
		c, err := store.ParseTicketCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list tickets of tenant %s: %w", tenantID, err)
		}
		q += ` AND (updated_at, id) < (?, ?)`
		args = append(args, fmtTime(c.UpdatedAt), c.ID)
	}
	n := store.PageSize(f.Limit)
	q += ` ORDER BY updated_at DESC, id DESC LIMIT ?`
	args = append(args, n+1)
	ts, err := s.queryTickets(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list tickets of tenant %s: %w", tenantID, err)
	}
	var next string
	if len(ts) > n {
		ts = ts[:n]
		last := ts[n-1]
		next = store.TicketCursor{UpdatedAt: last.UpdatedAt, ID: last.ID}.String()
	}
	return ts, next, nil
}

// OpenTickets returns the tickets not in a final state and those that
// reached one at or after finishedSince.
func (s *Store) OpenTickets(ctx context.Context, tenantID string, finishedSince time.Time) ([]store.Ticket, error) {
	ts, err := s.queryTickets(ctx, `SELECT `+ticketCols+` FROM tickets
		WHERE tenant_id = ? AND (finished_at IS NULL OR finished_at >= ?) ORDER BY id`, tenantID, fmtTime(finishedSince))
	if err != nil {
		return nil, fmt.Errorf("open tickets of tenant %s: %w", tenantID, err)
	}
	return ts, nil
}

func (s *Store) queryTickets(ctx context.Context, q string, args ...any) ([]store.Ticket, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []store.Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// TicketTransitions lists a ticket's transitions, oldest first.
func (s *Store) TicketTransitions(ctx context.Context, tenantID, ticketID string) ([]store.TicketTransition, error) {
	trs, err := s.ticketTransitions(ctx, tenantID, ticketID)
	if err != nil {
		return nil, fmt.Errorf("transitions of ticket %s of tenant %s: %w", ticketID, tenantID, err)
	}
	return trs, nil
}

func (s *Store) ticketTransitions(ctx context.Context, tenantID, ticketID string) ([]store.TicketTransition, error) {
	// One read transaction, so that the ticket check and the list agree.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM tickets WHERE tenant_id = ? AND id = ?`, tenantID, ticketID).Scan(&one); err != nil {
		return nil, mapErr(err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT ticket_id, version, at, actor, role, from_state, to_state, comment
		FROM ticket_transitions WHERE tenant_id = ? AND ticket_id = ? ORDER BY version`, tenantID, ticketID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var trs []store.TicketTransition
	for rows.Next() {
		var tr store.TicketTransition
		if err := rows.Scan(&tr.TicketID, &tr.Version, timeCol{&tr.At}, &tr.Actor, &tr.Role, &tr.From, &tr.To, &tr.Comment); err != nil {
			return nil, err
		}
		trs = append(trs, tr)
	}
	return trs, rows.Err()
}

// PutPolicy stores a tenant's policy as the next version.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy, a store.AuditEntry) (store.Policy, error) {
	if err := store.CheckPolicy(p); err != nil {
		return store.Policy{}, fmt.Errorf("put policy: %w", err)
	}
	a, err := store.CheckAudit(p.TenantID, a)
	if err != nil {
		return store.Policy{}, fmt.Errorf("put policy of tenant %s: %w", p.TenantID, err)
	}
	read := p.Version
	p.Version++
	p.UpdatedAt = p.UpdatedAt.UTC().Truncate(time.Microsecond)
	err = s.write(ctx, func(tx *sql.Tx) error {
		var cur int
		err := tx.QueryRowContext(ctx, `SELECT version FROM policies WHERE tenant_id = ?`, p.TenantID).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if cur != read {
			return fmt.Errorf("version %d was read, the policy is at version %d: %w", read, cur, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policies (tenant_id, version, doc, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version, doc = excluded.doc,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			p.TenantID, p.Version, string(p.Doc), fmtTime(p.UpdatedAt), p.UpdatedBy)
		if err != nil {
			return mapErr(err)
		}
		_, err = appendAudit(ctx, tx, a)
		return err
	})
	if err != nil {
		return store.Policy{}, fmt.Errorf("put policy of tenant %s: %w", p.TenantID, err)
	}
	return p, nil
}

// Policy returns a tenant's policy.
func (s *Store) Policy(ctx context.Context, tenantID string) (store.Policy, error) {
	var p store.Policy
	err := s.r.QueryRowContext(ctx, `SELECT tenant_id, version, doc, updated_at, updated_by FROM policies WHERE tenant_id = ?`, tenantID).
		Scan(&p.TenantID, &p.Version, rawJSONCol{&p.Doc}, timeCol{&p.UpdatedAt}, &p.UpdatedBy)
	if err != nil {
		return store.Policy{}, fmt.Errorf("policy of tenant %s: %w", tenantID, mapErr(err))
	}
	return p, nil
}

// placeholders returns n comma-separated question marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
