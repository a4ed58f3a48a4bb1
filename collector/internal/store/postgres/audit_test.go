package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/audit"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/storetest"
)

// TestAuditTamper alters the audit table with SQL, past the store: the
// triggers refuse it, and once they are disabled the verification names
// the first broken entry.
func TestAuditTamper(t *testing.T) {
	adminPool(t)
	storetest.RunAuditTamper(t, func(t *testing.T) (store.Store, func(string) error) {
		s := open(t, newSchema(t))
		return s, func(q string) error {
			_, err := s.pool.Exec(context.Background(), q)
			return err
		}
	}, `ALTER TABLE audit_log DISABLE TRIGGER USER`)
}

// TestAuditTwoCollectors appends to one tenant's chain from two stores on
// one schema, as two collectors sharing a database do, starting with no
// chain head: the chain neither forks nor skips a number.
func TestAuditTwoCollectors(t *testing.T) {
	dsn := newSchema(t)
	collectors := []*Store{open(t, dsn), open(t, dsn)}
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := collectors[0].CreateTenant(ctx, "a", "Acme", at); err != nil {
		t.Fatal(err)
	}
	ticket := store.Ticket{ID: "CHG-1", TenantID: "a", Title: "shared", State: "draft", CreatedAt: at, UpdatedAt: at, Doc: []byte(`{}`)}
	const goroutines, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each+1)
	start := make(chan struct{})
	for g := range goroutines {
		s := collectors[g%2]
		wg.Go(func() {
			<-start
			for i := range each {
				_, err := s.AppendAudit(ctx, store.AuditEntry{TenantID: "a", At: at, Actor: fmt.Sprintf("collector%d", g%2),
					Action: "test.append", Subject: fmt.Sprintf("%d/%d", g, i)})
				errs <- err
			}
		})
	}
	// A ticket created and updated through both collectors at once: each
	// update that wins appends its entry to the same chain.
	updates := 0
	wg.Go(func() {
		<-start
		_, err := collectors[1].CreateTicket(ctx, store.TicketWrite{Ticket: ticket, Audit: store.AuditEntry{At: at, Action: audit.ActionTicketCreate}})
		if err != nil {
			errs <- err
			return
		}
		for i := 0; updates < 10; i++ {
			s := collectors[i%2]
			tk, err := s.Ticket(ctx, "a", "CHG-1")
			if err != nil {
				errs <- err
				return
			}
			tk.Title = fmt.Sprintf("edit %d", i)
			_, err = s.UpdateTicket(ctx, store.TicketWrite{Ticket: tk, Audit: store.AuditEntry{At: at, Action: audit.ActionTicketUpdate}})
			switch {
			case err == nil:
				updates++
			case !errors.Is(err, store.ErrConflict):
				errs <- err
				return
			}
		}
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := goroutines*each + 1 + updates
	var got []store.AuditEntry
	for e, err := range store.AuditLog(ctx, collectors[1], "a", 0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != want {
		t.Fatalf("chain has %d entries, want %d", len(got), want)
	}
	seen := map[string]bool{}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i+1, e.Seq)
		}
		if seen[e.PrevHash] {
			t.Fatalf("entry %d shares its previous hash with another entry: the chain forked", e.Seq)
		}
		seen[e.PrevHash] = true
	}
	res, err := store.VerifyAudit(ctx, collectors[0], "a")
	if err != nil {
		t.Fatal(err)
	}
	if res.Break != nil || res.Checked != want {
		t.Errorf("verify: %d good, break %v; want %d and none", res.Checked, res.Break, want)
	}
}
