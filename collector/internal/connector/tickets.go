package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// ManagerTickets keeps imported tickets in the store of a
// changes.Manager, each write with its transition and audit entry in one
// transaction, and reconciles through the Manager.
type ManagerTickets struct {
	// Manager is the collector's change management; required.
	Manager *changes.Manager
}

// ByReference returns the tenant's ticket with the reference, or nil.
func (t ManagerTickets) ByReference(ctx context.Context, tenantID, ref string) (*ticket.Ticket, error) {
	st, err := t.Manager.Store.TicketByReference(ctx, tenantID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ticket %s of tenant %s: %w", ref, tenantID, err)
	}
	var tk ticket.Ticket
	if err := json.Unmarshal(st.Doc, &tk); err != nil {
		return nil, fmt.Errorf("ticket %s: stored document: %w", st.ID, err)
	}
	return &tk, nil
}

// Create stores a new imported ticket.
func (t ManagerTickets) Create(ctx context.Context, tk *ticket.Ticket, actor string) error {
	w, err := ticketWrite(tk, audit.ActionTicketCreate, actor)
	if err != nil {
		return err
	}
	_, err = t.Manager.Store.CreateTicket(ctx, w)
	return err
}

// Update stores an imported ticket's new version.
func (t ManagerTickets) Update(ctx context.Context, tk *ticket.Ticket, actor string) error {
	w, err := ticketWrite(tk, audit.ActionTicketUpdate, actor)
	if err != nil {
		return err
	}
	last := tk.History[len(tk.History)-1]
	if last.From == last.To {
		w.Transition = nil
	}
	w.Ticket.Version = tk.Version - 1
	_, err = t.Manager.Store.UpdateTicket(ctx, w)
	return err
}

// Reconcile judges the tenant's outstanding drift again.
func (t ManagerTickets) Reconcile(ctx context.Context, tenantID, reason string) error {
	_, err := t.Manager.Reconcile(ctx, tenantID, reason)
	return err
}

// Implemented promotes the authorized drift of a ticket that reached
// implemented or documented into its hosts' baselines.
func (t ManagerTickets) Implemented(ctx context.Context, tk *ticket.Ticket, actor string) error {
	_, err := t.Manager.Promote(ctx, tk, actor)
	return err
}

// ticketWrite is the store write of a ticket with its newest transition.
func ticketWrite(tk *ticket.Ticket, action, actor string) (store.TicketWrite, error) {
	doc, err := json.Marshal(tk)
	if err != nil {
		return store.TicketWrite{}, fmt.Errorf("encode ticket %s: %w", tk.ID, err)
	}
	row := store.Ticket{ID: tk.ID, TenantID: tk.TenantID, Reference: tk.Reference, Title: tk.Title, State: string(tk.State),
		Class: string(tk.Class), Origin: string(tk.Origin), CreatedAt: tk.CreatedAt, UpdatedAt: tk.UpdatedAt, Version: tk.Version, Doc: doc}
	if start, end, ok := tk.WindowBounds(); ok {
		row.WindowStart, row.WindowEnd = start, end
	}
	if tk.State.Final() {
		row.FinishedAt = tk.UpdatedAt
	}
	last := tk.History[len(tk.History)-1]
	detail, _ := json.Marshal(map[string]any{"ticket": tk.Name(), "action": last.Action, "from": last.From, "to": last.To,
		"comment": last.Comment, "changed": last.Changed})
	return store.TicketWrite{
		Ticket:     row,
		Transition: &store.TicketTransition{At: last.At, Actor: actor, Role: "connector", From: string(last.From), To: string(last.To), Comment: last.Comment},
		Audit:      store.AuditEntry{TenantID: tk.TenantID, At: tk.UpdatedAt, Actor: actor, Action: action, Subject: tk.ID, Detail: detail},
	}, nil
}
