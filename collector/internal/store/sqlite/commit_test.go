package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	s, _ := openTestFile(t)
	return s
}

// openTestFile opens a new store in a file of the test's temp dir, closed
// at the test's end, and returns it with the file's path.
func openTestFile(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "driftwatch.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, path
}

// insertTenant is a write that stores tenant name, then fails with err
// (or panics with it, when panics).
func insertTenant(ctx context.Context, name string, err error, panics bool) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		if _, e := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
			"id-"+name, name, fmtTime(time.Now())); e != nil {
			return e
		}
		if panics {
			panic(err)
		}
		return err
	}
}

// TestCommitGroup runs write transactions in one group, as the writer
// does when they queue up: each one that fails or panics leaves nothing,
// and the others are committed.
func TestCommitGroup(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	bad := errors.New("bad input")
	tests := []struct {
		name   string
		ctx    context.Context
		err    error
		panics bool
		stored bool
	}{
		{name: "a", ctx: ctx, stored: true},
		{name: "b", ctx: ctx, err: bad},
		{name: "c", ctx: ctx, stored: true},
		{name: "d", ctx: ctx, err: bad, panics: true},
		{name: "e", ctx: cancelled},
		{name: "f", ctx: ctx, stored: true},
	}
	var group []*writeReq
	for _, tt := range tests {
		group = append(group, &writeReq{ctx: tt.ctx, fn: insertTenant(tt.ctx, tt.name, tt.err, tt.panics), done: make(chan struct{})})
	}
	s.commitGroup(group)
	for i, tt := range tests {
		r := group[i]
		select {
		case <-r.done:
		default:
			t.Fatalf("write %s not finished", tt.name)
		}
		switch {
		case tt.panics:
			if r.pnc != bad {
				t.Errorf("write %s: panic %v, want %v", tt.name, r.pnc, bad)
			}
		case tt.ctx.Err() != nil:
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("write %s with a cancelled context: error %v", tt.name, r.err)
			}
		case r.err != tt.err:
			t.Errorf("write %s: error %v, want %v", tt.name, r.err, tt.err)
		}
		_, err := s.TenantByName(ctx, tt.name)
		if stored := err == nil; stored != tt.stored {
			t.Errorf("tenant %s stored = %v (%v), want %v", tt.name, stored, err, tt.stored)
		}
	}
}

// TestConcurrentWrites writes from many goroutines at once, some of them
// failing: every write that succeeded is stored, none that failed.
func TestConcurrentWrites(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	const n = 200
	bad := errors.New("bad input")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var err error
			if i%7 == 3 {
				err = bad
			}
			errs[i] = s.write(ctx, insertTenant(ctx, fmt.Sprintf("t%03d", i), err, false))
		})
	}
	wg.Wait()
	tenants, err := s.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, tn := range tenants {
		stored[tn.Name] = true
	}
	for i := range n {
		name := fmt.Sprintf("t%03d", i)
		switch {
		case i%7 == 3 && errs[i] != bad:
			t.Errorf("write %s: error %v, want %v", name, errs[i], bad)
		case i%7 != 3 && errs[i] != nil:
			t.Errorf("write %s: %v", name, errs[i])
		case stored[name] != (errs[i] == nil):
			t.Errorf("tenant %s stored = %v, write error %v", name, stored[name], errs[i])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, "late", "late", time.Now()); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: %v, want %v", err, errClosed)
	}
}
