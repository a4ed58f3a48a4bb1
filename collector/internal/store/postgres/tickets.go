package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// storedTicket is t as it reads back: times in UTC, truncated to the
// microsecond.
func storedTicket(t store.Ticket) store.Ticket {
	for _, tm := range []*time.Time{&t.WindowStart, &t.WindowEnd, &t.CreatedAt, &t.UpdatedAt, &t.FinishedAt} {
		if !tm.IsZero() {
			*tm = utc(*tm)
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
	t := storedTicket(w.Ticket)
	t.Version = 1
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tickets (tenant_id, id, reference, title, state, class, origin,
				window_start, window_end, created_at, updated_at, finished_at, version, doc)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			t.TenantID, t.ID, t.Reference, t.Title, t.State, t.Class, t.Origin,
			nullTime(t.WindowStart), nullTime(t.WindowEnd), t.CreatedAt, t.UpdatedAt, nullTime(t.FinishedAt), t.Version, t.Doc)
		if err != nil {
			return mapErr(err)
		}
		return writeTicketRecord(ctx, tx, t, w)
	})
	if err != nil {
		return store.Ticket{}, fmt.Errorf("create ticket %s of tenant %s: %w", t.ID, t.TenantID, err)
	}
	return t, nil
}

// UpdateTicket replaces a ticket at the version read. The ticket's row is
// locked first, so that of two updates of one version, from any
// collector, the second sees the first's version and fails.
func (s *Store) UpdateTicket(ctx context.Context, w store.TicketWrite) (store.Ticket, error) {
	if err := store.CheckTicketWrite(&w, false); err != nil {
		return store.Ticket{}, fmt.Errorf("update ticket: %w", err)
	}
	t := storedTicket(w.Ticket)
	err := s.write(ctx, func(tx pgx.Tx) error {
		var version int
		var state string
		err := tx.QueryRow(ctx, `SELECT version, state, created_at FROM tickets WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
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
		_, err = tx.Exec(ctx, `UPDATE tickets SET reference = $3, title = $4, state = $5, class = $6, origin = $7,
				window_start = $8, window_end = $9, updated_at = $10, finished_at = $11, version = $12, doc = $13
			WHERE tenant_id = $1 AND id = $2`,
			t.TenantID, t.ID, t.Reference, t.Title, t.State, t.Class, t.Origin,
			nullTime(t.WindowStart), nullTime(t.WindowEnd), t.UpdatedAt, nullTime(t.FinishedAt), t.Version, t.Doc)
		if err != nil {
			return mapErr(err)
		}
		return writeTicketRecord(ctx, tx, t, w)
	})
	if err != nil {
		return store.Ticket{}, fmt.Errorf("update ticket %s of tenant %s: %w", t.ID, t.TenantID, err)
	}
	return t, nil
}

// writeTicketRecord writes the transition, if any, and the audit entry
// of a ticket write that stored t.
func writeTicketRecord(ctx context.Context, tx pgx.Tx, t store.Ticket, w store.TicketWrite) error {
	if tr := w.Transition; tr != nil {
		_, err := tx.Exec(ctx, `INSERT INTO ticket_transitions (tenant_id, ticket_id, version, at, actor, role,
				from_state, to_state, comment)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.TenantID, t.ID, t.Version, utc(tr.At), tr.Actor, tr.Role, tr.From, tr.To, tr.Comment)
		if err != nil {
			return fmt.Errorf("insert transition: %w", mapErr(err))
		}
	}
	_, err := appendAudit(ctx, tx, w.Audit)
	return err
}

const ticketCols = `tenant_id, id, reference, title, state, class, origin, window_start, window_end,
	created_at, updated_at, finished_at, version, doc`

func scanTicket(row pgx.Row) (store.Ticket, error) {
	var t store.Ticket
	err := row.Scan(&t.TenantID, &t.ID, &t.Reference, &t.Title, &t.State, &t.Class, &t.Origin,
		timeCol{&t.WindowStart}, timeCol{&t.WindowEnd}, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt}, timeCol{&t.FinishedAt},
		&t.Version, &t.Doc)
	if err != nil {
		return store.Ticket{}, mapErr(err)
	}
	return t, nil
}

func collectTickets(rows pgx.Rows) ([]store.Ticket, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Ticket, error) { return scanTicket(row) })
}

// Ticket finds a ticket.
func (s *Store) Ticket(ctx context.Context, tenantID, id string) (store.Ticket, error) {
	t, err := scanTicket(s.pool.QueryRow(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = $1 AND id = $2`, tenantID, id))
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
	t, err := scanTicket(s.pool.QueryRow(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = $1 AND reference = $2`, tenantID, ref))
	if err != nil {
		return store.Ticket{}, fmt.Errorf("ticket %q of tenant %s: %w", ref, tenantID, err)
	}
	return t, nil
}

// args collects a query's arguments; add returns the placeholder of the
// one it adds.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// Tickets lists a tenant's tickets, the most recently updated first.
func (s *Store) Tickets(ctx context.Context, tenantID string, f store.TicketFilter) ([]store.Ticket, string, error) {
	var a args
	q := `SELECT ` + ticketCols + ` FROM tickets WHERE tenant_id = ` + a.add(tenantID)
	if len(f.States) > 0 {
		q += ` AND state = ANY(` + a.add(f.States) + `)`
	}
	if !f.UpdatedSince.IsZero() {
		q += ` AND updated_at >= ` + a.add(utc(f.UpdatedSince))
	}
	if !f.WindowFrom.IsZero() || !f.WindowTo.IsZero() {
		q += ` AND (window_start IS NOT NULL OR window_end IS NOT NULL)`
		if !f.WindowTo.IsZero() {
			q += ` AND (window_start IS NULL OR window_start <= ` + a.add(utc(f.WindowTo)) + `)`
		}
		if !f.WindowFrom.IsZero() {
			q += ` AND (window_end IS NULL OR window_end >= ` + a.add(utc(f.WindowFrom)) + `)`
		}
	}
	if f.Cursor != "" {
		c, err := store.ParseTicketCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list tickets of tenant %s: %w", tenantID, err)
		}
		q += ` AND (updated_at, id) < (` + a.add(c.UpdatedAt) + `, ` + a.add(c.ID) + `)`
	}
	n := store.PageSize(f.Limit)
	q += ` ORDER BY updated_at DESC, id DESC LIMIT ` + a.add(n+1)
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, "", fmt.Errorf("list tickets of tenant %s: %w", tenantID, err)
	}
	ts, err := collectTickets(rows)
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
	rows, err := s.pool.Query(ctx, `SELECT `+ticketCols+` FROM tickets
		WHERE tenant_id = $1 AND (finished_at IS NULL OR finished_at >= $2) ORDER BY id`, tenantID, utc(finishedSince))
	if err != nil {
		return nil, fmt.Errorf("open tickets of tenant %s: %w", tenantID, err)
	}
	ts, err := collectTickets(rows)
	if err != nil {
		return nil, fmt.Errorf("open tickets of tenant %s: %w", tenantID, err)
	}
	return ts, nil
}

// TicketTransitions lists a ticket's transitions, oldest first.
func (s *Store) TicketTransitions(ctx context.Context, tenantID, ticketID string) ([]store.TicketTransition, error) {
	var trs []store.TicketTransition
	// One read-only transaction, so that the ticket check and the list agree.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tickets WHERE tenant_id = $1 AND id = $2`, tenantID, ticketID).Scan(&one); err != nil {
			return mapErr(err)
		}
		rows, err := tx.Query(ctx, `SELECT ticket_id, version, at, actor, role, from_state, to_state, comment
			FROM ticket_transitions WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY version`, tenantID, ticketID)
		if err != nil {
			return err
		}
		trs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.TicketTransition, error) {
			var tr store.TicketTransition
			err := row.Scan(&tr.TicketID, &tr.Version, timeCol{&tr.At}, &tr.Actor, &tr.Role, &tr.From, &tr.To, &tr.Comment)
			return tr, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("transitions of ticket %s of tenant %s: %w", ticketID, tenantID, err)
	}
	return trs, nil
}

// PutPolicy stores a tenant's policy as the next version, with the
// policy's row locked (or, for the first, its insert racing on the
// primary key), so that of two writers of one version the second fails.
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
	p.UpdatedAt = utc(p.UpdatedAt)
	err = s.write(ctx, func(tx pgx.Tx) error {
		var cur int
		err := tx.QueryRow(ctx, `SELECT version FROM policies WHERE tenant_id = $1 FOR UPDATE`, p.TenantID).Scan(&cur)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if cur != read {
			return fmt.Errorf("version %d was read, the policy is at version %d: %w", read, cur, store.ErrConflict)
		}
		if cur == 0 {
			ct, err := tx.Exec(ctx, `INSERT INTO policies (tenant_id, version, doc, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (tenant_id) DO NOTHING`, p.TenantID, p.Version, p.Doc, p.UpdatedAt, p.UpdatedBy)
			if err != nil {
				return mapErr(err)
			}
			if ct.RowsAffected() == 0 {
				return fmt.Errorf("version 0 was read, another policy was stored meanwhile: %w", store.ErrConflict)
			}
		} else if _, err := tx.Exec(ctx, `UPDATE policies SET version = $2, doc = $3, updated_at = $4, updated_by = $5 WHERE tenant_id = $1`,
			p.TenantID, p.Version, p.Doc, p.UpdatedAt, p.UpdatedBy); err != nil {
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
	err := s.pool.QueryRow(ctx, `SELECT tenant_id, version, doc, updated_at, updated_by FROM policies WHERE tenant_id = $1`, tenantID).
		Scan(&p.TenantID, &p.Version, &p.Doc, timeCol{&p.UpdatedAt}, &p.UpdatedBy)
	if err != nil {
		return store.Policy{}, fmt.Errorf("policy of tenant %s: %w", tenantID, mapErr(err))
	}
	return p, nil
}
