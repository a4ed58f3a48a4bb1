package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// outboxTests are the tests of the Outbox methods.
func outboxTests() []test {
	return []test{
		{"OutboxEnqueue", testOutboxEnqueue},
		{"OutboxEnqueueInvalid", testOutboxEnqueueInvalid},
		{"OutboxEnqueueRace", testOutboxEnqueueRace},
		{"OutboxList", testOutboxList},
		{"OutboxClaim", testOutboxClaim},
		{"OutboxLeaseExpiry", testOutboxLeaseExpiry},
		{"OutboxRetry", testOutboxRetry},
		{"OutboxClaimConcurrent", testOutboxClaimConcurrent},
		{"OutboxTenantIsolation", testOutboxTenantIsolation},
		{"OutboxPrune", testOutboxPrune},
		{"ScheduleRuns", testScheduleRuns},
	}
}

// RunShared runs the tests that need two stores on one database, as two
// collectors have: open returns two stores, opened separately, on the same
// new, empty database (one SQLite file, one PostgreSQL schema), and
// arranges their cleanup.
func RunShared(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"ClaimExclusive", testSharedClaimExclusive},
		{"LeaseExpiry", testSharedLeaseExpiry},
		{"EnqueueOnce", testSharedEnqueueOnce},
		{"ScheduleRunOnce", testSharedScheduleRunOnce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tt.fn(t, a, b)
		})
	}
}

// newEmail makes a due email of a tenant, created at t0.
func newEmail(tenantID, id, key string) store.Email {
	return store.Email{
		ID:        id,
		TenantID:  tenantID,
		DedupeKey: key,
		Kind:      "digest",
		To:        []string{"ops@" + tenantID + ".example", "Lead <lead@msp.example>"},
		Subject:   "This week in changes: " + id,
		HTML:      "<p>3 changes on <b>web01</b> — ünïcode</p>",
		Text:      "3 changes on web01 — ünïcode\n",
		Headers:   map[string]string{"List-Unsubscribe": "<https://drift.example.com/unsubscribe?t=" + tenantID + ">"},
		CreatedAt: t0,
	}
}

// storedEmail is e as a store gives it back after EnqueueEmail.
func storedEmail(e store.Email) store.Email {
	e.CreatedAt = stored(e.CreatedAt)
	if e.NextAttemptAt.IsZero() {
		e.NextAttemptAt = e.CreatedAt
	}
	e.NextAttemptAt = stored(e.NextAttemptAt)
	e.Status = store.EmailQueued
	if len(e.Headers) == 0 {
		e.Headers = nil
	}
	return e
}

// listed is e as Emails gives it: without bodies.
func listed(e store.Email) store.Email {
	e.HTML, e.Text = "", ""
	return e
}

func emailNow(t *testing.T, s store.Store, tenantID, id string) store.Email {
	t.Helper()
	e, err := s.Email(t.Context(), tenantID, id)
	must(t, "email "+id, err)
	checkUTC(t, "email "+id, e.CreatedAt, e.NextAttemptAt, e.ClaimedUntil, e.LastAttemptAt, e.SentAt, e.FailedAt)
	return e
}

func enqueue(t *testing.T, s store.Store, e store.Email) {
	t.Helper()
	ok, err := s.EnqueueEmail(t.Context(), e)
	must(t, "enqueue "+e.ID, err)
	if !ok {
		t.Fatalf("enqueue %s: not stored", e.ID)
	}
}

func claim(t *testing.T, s store.Store, token string, at time.Time, lease time.Duration, limit int) []store.Email {
	t.Helper()
	es, err := s.ClaimEmails(t.Context(), store.EmailClaim{Token: token, At: at, Lease: lease, Limit: limit})
	must(t, "claim "+token, err)
	for _, e := range es {
		checkUTC(t, "claimed "+e.ID, e.CreatedAt, e.NextAttemptAt, e.ClaimedUntil, e.LastAttemptAt)
	}
	return es
}

func ids(es []store.Email) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testOutboxEnqueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")

	e := newEmail("a", "e1", "digest/a/2026-W09")
	e.Priority = 2
	ok, err := s.EnqueueEmail(ctx, e)
	must(t, "enqueue", err)
	if !ok {
		t.Fatal("first enqueue: not stored")
	}
	want := storedEmail(e)
	diff(t, "enqueued email", want, emailNow(t, s, "a", "e1"))
	got, err := s.EmailByKey(ctx, "a", "digest/a/2026-W09")
	must(t, "email by key", err)
	diff(t, "email by key", want, got)

	// The same email again (a second collector firing the same schedule),
	// and another email with the same key: nothing changes.
	ok, err = s.EnqueueEmail(ctx, e)
	must(t, "enqueue again", err)
	if ok {
		t.Error("the same email enqueued twice was stored twice")
	}
	other := newEmail("a", "e2", "digest/a/2026-W09")
	other.Subject = "another subject"
	ok, err = s.EnqueueEmail(ctx, other)
	must(t, "enqueue with the same key", err)
	if ok {
		t.Error("an email with a dedupe key in use was stored")
	}
	diff(t, "email after duplicates", want, emailNow(t, s, "a", "e1"))
	_, err = s.Email(ctx, "a", "e2")
	wantErr(t, "email not stored for its key", err, store.ErrNotFound)

	// Keys are per tenant.
	enqueue(t, s, newEmail("b", "e3", "digest/a/2026-W09"))

	// An ID in use with another key is a conflict, not a duplicate.
	_, err = s.EnqueueEmail(ctx, newEmail("a", "e1", "digest/a/2026-W10"))
	wantErr(t, "enqueue with an ID in use", err, store.ErrExists)
	_, err = s.EnqueueEmail(ctx, newEmail("nobody", "e4", "digest/x"))
	wantErr(t, "enqueue for an unknown tenant", err, store.ErrNotFound)

	// No headers read back nil; a later first attempt is kept.
	plain := newEmail("a", "e5", "alert/a/web01/file:/etc/hosts/20260301T1100Z")
	plain.Headers = nil
	plain.NextAttemptAt = t0.Add(time.Hour)
	enqueue(t, s, plain)
	diff(t, "email without headers", storedEmail(plain), emailNow(t, s, "a", "e5"))

	_, err = s.EmailByKey(ctx, "a", "no/such/key")
	wantErr(t, "unknown key", err, store.ErrNotFound)
	_, err = s.Email(ctx, "a", "no-such-id")
	wantErr(t, "unknown id", err, store.ErrNotFound)
}

func testOutboxEnqueueInvalid(t *testing.T, s store.Store) {
	createTenant(t, s, "a")
	tests := []struct {
		name   string
		change func(e *store.Email)
		want   string
	}{
		{"no id", func(e *store.Email) { e.ID = "" }, "no ID"},
		{"no key", func(e *store.Email) { e.DedupeKey = "" }, "no dedupe key"},
		{"no recipients", func(e *store.Email) { e.To = nil }, "no recipient"},
		{"empty recipient", func(e *store.Email) { e.To = []string{"a@example.com", " "} }, "recipient 2 is empty"},
		{"no subject", func(e *store.Email) { e.Subject = "" }, "no subject"},
		{"no time", func(e *store.Email) { e.CreatedAt = time.Time{} }, "no creation time"},
		{"long key", func(e *store.Email) { e.DedupeKey = strings.Repeat("k", store.MaxDedupeKey+1) }, "dedupe key is 513 bytes"},
	}
	for _, tt := range tests {
		e := newEmail("a", "bad", "digest/a/bad")
		tt.change(&e)
		ok, err := s.EnqueueEmail(t.Context(), e)
		if err == nil || ok {
			t.Errorf("%s: enqueued (%v, %v), want an error", tt.name, ok, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.want)
		}
		if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: error %v is a store condition, want a plain error", tt.name, err)
		}
	}
	es, err := s.Emails(t.Context(), "a", store.EmailFilter{})
	must(t, "list", err)
	if len(es) != 0 {
		t.Errorf("invalid emails left %d emails in the outbox", len(es))
	}
	// The longest key is accepted.
	enqueue(t, s, newEmail("a", "long", strings.Repeat("k", store.MaxDedupeKey)))
}

// testOutboxEnqueueRace enqueues one scheduled email from many goroutines
// at once, as collectors firing the same schedule do: exactly one stores
// it.
func testOutboxEnqueueRace(t *testing.T, s store.Store) {
	createTenant(t, s, "a")
	const n = 8
	var wg sync.WaitGroup
	results := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Half use the same ID, as the notifier derives it from the key;
			// half use IDs of their own.
			id := "digest-a-w09"
			if i%2 == 1 {
				id = fmt.Sprintf("digest-a-w09-%d", i)
			}
			results[i], errs[i] = s.EnqueueEmail(t.Context(), newEmail("a", id, "digest/a/2026-W09"))
		})
	}
	wg.Wait()
	stored := 0
	for i := range n {
		must(t, fmt.Sprintf("enqueue %d", i), errs[i])
		if results[i] {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d of %d racing enqueues stored the email, want 1", stored, n)
	}
	es, err := s.Emails(t.Context(), "a", store.EmailFilter{})
	must(t, "list", err)
	if len(es) != 1 {
		t.Errorf("outbox holds %d emails, want 1", len(es))
	}
}

func testOutboxList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	var all []store.Email
	for i := range 4 {
		e := newEmail("a", fmt.Sprintf("e%d", i), fmt.Sprintf("digest/a/%d", i))
		e.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		enqueue(t, s, e)
		all = append(all, e)
	}
	es := claim(t, s, "c", t0.Add(time.Hour), time.Minute, 2) // e0, e1: the longest due
	diff(t, "claimed", []string{"e0", "e1"}, ids(es))
	must(t, "sent", s.MarkEmailSent(ctx, "a", "e0", "c", t0.Add(time.Hour), "250 ok"))
	must(t, "failed", s.MarkEmailFailed(ctx, "a", "e1", "c", t0.Add(time.Hour), "550 5.1.1 no such user"))

	list := func(f store.EmailFilter) []string {
		t.Helper()
		es, err := s.Emails(ctx, "a", f)
		must(t, "list", err)
		for _, e := range es {
			if e.HTML != "" || e.Text != "" {
				t.Errorf("listed email %s has its bodies", e.ID)
			}
			checkUTC(t, "listed "+e.ID, e.CreatedAt, e.NextAttemptAt, e.SentAt, e.FailedAt)
		}
		return ids(es)
	}
	diff(t, "all, newest first", []string{"e3", "e2", "e1", "e0"}, list(store.EmailFilter{}))
	diff(t, "queued", []string{"e3", "e2"}, list(store.EmailFilter{Status: store.EmailQueued}))
	diff(t, "sent", []string{"e0"}, list(store.EmailFilter{Status: store.EmailSent}))
	diff(t, "failed", []string{"e1"}, list(store.EmailFilter{Status: store.EmailFailed}))
	diff(t, "limit", []string{"e3", "e2"}, list(store.EmailFilter{Limit: 2}))

	es, err := s.Emails(ctx, "a", store.EmailFilter{Status: store.EmailQueued, Limit: 1})
	must(t, "list", err)
	diff(t, "listed email", []store.Email{listed(storedEmail(all[3]))}, es)
	es, err = s.Emails(ctx, "nobody", store.EmailFilter{})
	must(t, "list of an unknown tenant", err)
	if len(es) != 0 {
		t.Errorf("unknown tenant lists %d emails", len(es))
	}
}

func testOutboxClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	for _, p := range []struct {
		id       string
		priority int
		due      time.Duration
	}{
		{"digest", 0, 0},
		{"alert", 2, time.Second},
		{"summary", 1, 0},
		{"later", 2, time.Hour},
	} {
		e := newEmail("a", p.id, "key/"+p.id)
		e.Priority = p.priority
		e.NextAttemptAt = t0.Add(p.due)
		enqueue(t, s, e)
	}

	at := t0.Add(time.Minute)
	es := claim(t, s, "c1", at, 5*time.Minute, 2)
	diff(t, "first claim: highest priority first", []string{"alert", "summary"}, ids(es))
	for _, e := range es {
		if e.Attempts != 1 || !e.ClaimedUntil.Equal(stored(at.Add(5*time.Minute))) || !e.LastAttemptAt.Equal(stored(at)) {
			t.Errorf("claimed %s: attempts %d, claimed until %v, last attempt %v; want 1, %v, %v",
				e.ID, e.Attempts, e.ClaimedUntil, e.LastAttemptAt, stored(at.Add(5*time.Minute)), stored(at))
		}
		if e.HTML == "" || e.Text == "" {
			t.Errorf("claimed %s without its bodies", e.ID)
		}
	}
	diff(t, "second claim: the rest that is due", []string{"digest"}, ids(claim(t, s, "c2", at, 5*time.Minute, 10)))
	diff(t, "third claim: all held or not due", []string{}, ids(claim(t, s, "c3", at.Add(time.Minute), 5*time.Minute, 10)))

	must(t, "mark sent", s.MarkEmailSent(ctx, "a", "alert", "c1", at.Add(2*time.Second), "250 2.0.0 Ok: queued as 4F2A"))
	got := emailNow(t, s, "a", "alert")
	if got.Status != store.EmailSent || !got.SentAt.Equal(stored(at.Add(2*time.Second))) || got.Response != "250 2.0.0 Ok: queued as 4F2A" ||
		!got.ClaimedUntil.IsZero() || got.Attempts != 1 {
		t.Errorf("sent email: %+v", got)
	}
	wantErr(t, "mark sent twice", s.MarkEmailSent(ctx, "a", "alert", "c1", at, "250"), store.ErrConflict)
	wantErr(t, "mark with another claim's token", s.MarkEmailSent(ctx, "a", "summary", "c2", at, "250"), store.ErrConflict)
	wantErr(t, "mark an unknown email", s.MarkEmailSent(ctx, "a", "nope", "c1", at, "250"), store.ErrNotFound)
	wantErr(t, "mark an email not claimed", s.MarkEmailSent(ctx, "a", "later", "c1", at, "250"), store.ErrConflict)

	// A sent email is never claimed again; one due later is, once due, and
	// so are those whose claims expired unmarked.
	diff(t, "claim an hour later", []string{"later", "summary", "digest"}, ids(claim(t, s, "c4", t0.Add(time.Hour), time.Minute, 10)))

	for _, bad := range []store.EmailClaim{
		{Token: "", At: at, Lease: time.Minute, Limit: 1},
		{Token: "x", At: at, Lease: 0, Limit: 1},
		{Token: "x", At: at, Lease: time.Minute, Limit: 0},
	} {
		if _, err := s.ClaimEmails(ctx, bad); err == nil {
			t.Errorf("claim %+v: no error", bad)
		}
	}
}

// testOutboxLeaseExpiry: a claim whose sender died expires, and the email
// goes to the next claim; the first sender can no longer mark it.
func testOutboxLeaseExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	enqueue(t, s, newEmail("a", "e1", "k1"))
	lease := 2 * time.Minute
	diff(t, "first claim", []string{"e1"}, ids(claim(t, s, "dead", t0, lease, 1)))
	diff(t, "claim before the lease ends", []string{}, ids(claim(t, s, "early", t0.Add(lease-time.Microsecond), lease, 1)))
	es := claim(t, s, "next", t0.Add(lease), lease, 1)
	diff(t, "claim when the lease ends", []string{"e1"}, ids(es))
	if es[0].Attempts != 2 {
		t.Errorf("attempts after a second claim = %d, want 2", es[0].Attempts)
	}
	wantErr(t, "the dead claim marks", s.MarkEmailSent(ctx, "a", "e1", "dead", t0.Add(lease), "250"), store.ErrConflict)
	must(t, "the live claim marks", s.MarkEmailSent(ctx, "a", "e1", "next", t0.Add(lease), "250"))
}

func testOutboxRetry(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	enqueue(t, s, newEmail("a", "e1", "k1"))
	claim(t, s, "c1", t0, time.Minute, 1)
	answer := "451 4.3.0 Mail server temporarily rejected message"
	must(t, "retry", s.MarkEmailRetry(ctx, "a", "e1", "c1", answer, t0.Add(2*time.Minute)))
	got := emailNow(t, s, "a", "e1")
	if got.Status != store.EmailQueued || got.LastError != answer || !got.NextAttemptAt.Equal(stored(t0.Add(2*time.Minute))) ||
		!got.ClaimedUntil.IsZero() || got.Attempts != 1 {
		t.Errorf("email after a retry: %+v", got)
	}
	wantErr(t, "retry with a released claim", s.MarkEmailRetry(ctx, "a", "e1", "c1", answer, t0), store.ErrConflict)

	diff(t, "claim before the retry is due", []string{}, ids(claim(t, s, "c2", t0.Add(2*time.Minute-time.Microsecond), time.Minute, 1)))
	es := claim(t, s, "c3", t0.Add(2*time.Minute), time.Minute, 1)
	diff(t, "claim when the retry is due", []string{"e1"}, ids(es))
	if es[0].Attempts != 2 || es[0].LastError != answer {
		t.Errorf("retried claim: attempts %d, last error %q", es[0].Attempts, es[0].LastError)
	}

	final := "550 5.1.1 <ops@a.example>: Recipient address rejected"
	failedAt := t0.Add(2*time.Minute + time.Second)
	must(t, "fail", s.MarkEmailFailed(ctx, "a", "e1", "c3", failedAt, final))
	got = emailNow(t, s, "a", "e1")
	if got.Status != store.EmailFailed || got.LastError != final || !got.FailedAt.Equal(stored(failedAt)) || !got.SentAt.IsZero() {
		t.Errorf("failed email: %+v", got)
	}
	diff(t, "claim after failure", []string{}, ids(claim(t, s, "c4", t0.Add(24*time.Hour), time.Minute, 10)))
	wantErr(t, "retry a failed email", s.MarkEmailRetry(ctx, "a", "e1", "c3", final, t0), store.ErrConflict)

	failed, err := s.Emails(ctx, "a", store.EmailFilter{Status: store.EmailFailed})
	must(t, "list failed", err)
	if len(failed) != 1 || failed[0].LastError != final {
		t.Errorf("failed listing: %+v", failed)
	}
}

// claimAll claims from the stores in turn, from several goroutines each,
// until nothing is due, and returns how often each email was claimed.
func claimAll(t *testing.T, stores []store.Store, at time.Time) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	var firstErr error
	for i := range 8 {
		s := stores[i%len(stores)]
		wg.Go(func() {
			for n := 0; ; n++ {
				es, err := s.ClaimEmails(t.Context(), store.EmailClaim{Token: fmt.Sprintf("w%d-%d", i, n), At: at, Lease: time.Hour, Limit: 3})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for _, e := range es {
					counts[e.ID]++
				}
				mu.Unlock()
				if err != nil || len(es) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	must(t, "claim", firstErr)
	return counts
}

func checkClaimedOnce(t *testing.T, counts map[string]int, n int) {
	t.Helper()
	if len(counts) != n {
		t.Errorf("%d of %d emails claimed", len(counts), n)
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("email %s claimed %d times", id, c)
		}
	}
}

func testOutboxClaimConcurrent(t *testing.T, s store.Store) {
	createTenant(t, s, "a")
	const n = 40
	for i := range n {
		enqueue(t, s, newEmail("a", fmt.Sprintf("e%02d", i), fmt.Sprintf("k%02d", i)))
	}
	checkClaimedOnce(t, claimAll(t, []store.Store{s}, t0), n)
}

func testOutboxTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	enqueue(t, s, newEmail("a", "a1", "digest/w09"))
	enqueue(t, s, newEmail("b", "b1", "digest/w09"))

	_, err := s.Email(ctx, "b", "a1")
	wantErr(t, "a's email read as b's", err, store.ErrNotFound)
	got, err := s.EmailByKey(ctx, "b", "digest/w09")
	must(t, "b's email by key", err)
	if got.ID != "b1" {
		t.Errorf("b's email by key is %s, want b1", got.ID)
	}
	es, err := s.Emails(ctx, "a", store.EmailFilter{})
	must(t, "list a", err)
	diff(t, "a's emails", []string{"a1"}, ids(es))

	// The sender claims for every tenant; marks name the tenant.
	claimed := claim(t, s, "c", t0, time.Minute, 10)
	diff(t, "claimed across tenants", []string{"a1", "b1"}, ids(claimed))
	wantErr(t, "a's email marked as b's", s.MarkEmailSent(ctx, "b", "a1", "c", t0, "250"), store.ErrNotFound)
	wantErr(t, "a's email retried as b's", s.MarkEmailRetry(ctx, "b", "a1", "c", "451", t0), store.ErrNotFound)
	wantErr(t, "a's email failed as b's", s.MarkEmailFailed(ctx, "b", "a1", "c", t0, "550"), store.ErrNotFound)
	if e := emailNow(t, s, "a", "a1"); e.Status != store.EmailQueued {
		t.Errorf("a's email is %s after marks as b's", e.Status)
	}

	ok, err := s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "a", Schedule: "digest", Due: t0, Owner: "c1", At: t0, Lease: time.Minute})
	must(t, "claim a's run", err)
	if !ok {
		t.Fatal("a's run not claimed")
	}
	ok, err = s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "b", Schedule: "digest", Due: t0, Owner: "c2", At: t0, Lease: time.Minute})
	must(t, "claim b's run", err)
	if !ok {
		t.Error("b's run with a's due time not claimed")
	}
	must(t, "complete a's run", s.CompleteScheduleRun(ctx, "a", "digest", t0, "c1", t0))
	_, err = s.LastScheduleRun(ctx, "b", "digest")
	wantErr(t, "b's last run after a's completed", err, store.ErrNotFound)
	wantErr(t, "complete a's run as b's", s.CompleteScheduleRun(ctx, "b", "digest", t0, "c1", t0), store.ErrConflict)
}

func testOutboxPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	for i := range 4 {
		enqueue(t, s, newEmail("a", fmt.Sprintf("e%d", i), fmt.Sprintf("k%d", i)))
	}
	claim(t, s, "c", t0, time.Minute, 3)
	must(t, "sent", s.MarkEmailSent(ctx, "a", "e0", "c", t0.Add(time.Minute), "250"))
	must(t, "failed", s.MarkEmailFailed(ctx, "a", "e1", "c", t0.Add(time.Minute), "550"))
	must(t, "sent", s.MarkEmailSent(ctx, "a", "e2", "c", t0.Add(3*time.Hour), "250"))

	for i := range 3 {
		due := t0.Add(time.Duration(i) * time.Hour)
		ok, err := s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "a", Schedule: "digest", Due: due, Owner: "o", At: due, Lease: time.Minute})
		must(t, "claim run", err)
		if !ok {
			t.Fatal("run not claimed")
		}
		must(t, "complete run", s.CompleteScheduleRun(ctx, "a", "digest", due, "o", due))
	}

	n, err := s.PruneOutbox(ctx, t0.Add(4*time.Hour))
	must(t, "prune", err)
	if n != 3 {
		t.Errorf("pruned %d emails, want 3", n)
	}
	es, err := s.Emails(ctx, "a", store.EmailFilter{})
	must(t, "list", err)
	diff(t, "emails after pruning", []string{"e3"}, ids(es)) // e3 is queued: kept

	// The last done run is kept, so a schedule is never fired again.
	last, err := s.LastScheduleRun(ctx, "a", "digest")
	must(t, "last run", err)
	if !last.Due.Equal(stored(t0.Add(2 * time.Hour))) {
		t.Errorf("last run after pruning is due %v, want %v", last.Due, stored(t0.Add(2*time.Hour)))
	}
	for i := range 2 {
		due := t0.Add(time.Duration(i) * time.Hour)
		ok, err := s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "a", Schedule: "digest", Due: due, Owner: "x", At: t0.Add(5 * time.Hour), Lease: time.Minute})
		must(t, "claim pruned run", err)
		if !ok {
			t.Errorf("pruned run due %v not claimable", due)
		}
	}
}

func testScheduleRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	due := time.Date(2026, 11, 6, 16, 0, 0, 0, time.FixedZone("EST", -5*3600))
	lease := 5 * time.Minute
	claimRun := func(owner string, at time.Time) bool {
		t.Helper()
		ok, err := s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "a", Schedule: "digest", Due: due, Owner: owner, At: at, Lease: lease})
		must(t, "claim run by "+owner, err)
		return ok
	}
	_, err := s.LastScheduleRun(ctx, "a", "digest")
	wantErr(t, "last run before any", err, store.ErrNotFound)

	if !claimRun("c1", due) {
		t.Fatal("first claim failed")
	}
	if claimRun("c2", due.Add(time.Second)) {
		t.Error("second owner claimed a held run")
	}
	// The owner may claim again, as when its first try failed; the lease
	// starts anew.
	if !claimRun("c1", due.Add(time.Minute)) {
		t.Error("the owner could not claim its run again")
	}
	if claimRun("c2", due.Add(lease)) {
		t.Error("second owner claimed a run whose renewed lease holds")
	}
	// c1 died: its lease ends and c2 takes the run over.
	takeover := due.Add(time.Minute + lease)
	if !claimRun("c2", takeover) {
		t.Fatal("claim after the lease ended failed")
	}
	wantErr(t, "complete by the dead owner", s.CompleteScheduleRun(ctx, "a", "digest", due, "c1", takeover), store.ErrConflict)
	done := takeover.Add(time.Second)
	must(t, "complete", s.CompleteScheduleRun(ctx, "a", "digest", due, "c2", done))
	wantErr(t, "complete twice", s.CompleteScheduleRun(ctx, "a", "digest", due, "c2", done), store.ErrConflict)
	for _, owner := range []string{"c3", "c2"} {
		if claimRun(owner, due.Add(24*time.Hour)) {
			t.Errorf("a done run was claimed again by %s", owner)
		}
	}
	last, err := s.LastScheduleRun(ctx, "a", "digest")
	must(t, "last run", err)
	diff(t, "last run", store.ScheduleRun{
		TenantID: "a", Schedule: "digest", Due: stored(due), Owner: "c2",
		ClaimedAt: stored(takeover), ClaimedUntil: stored(takeover.Add(lease)), DoneAt: stored(done),
	}, last)
	checkUTC(t, "last run", last.Due, last.ClaimedAt, last.ClaimedUntil, last.DoneAt)

	// A later run that is claimed but not done is not the last run.
	next := due.Add(7 * 24 * time.Hour)
	ok, err := s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "a", Schedule: "digest", Due: next, Owner: "c1", At: next, Lease: lease})
	must(t, "claim next run", err)
	if !ok {
		t.Fatal("next run not claimed")
	}
	last, err = s.LastScheduleRun(ctx, "a", "digest")
	must(t, "last run", err)
	if !last.Due.Equal(stored(due)) {
		t.Errorf("last run is due %v, want the done one %v", last.Due, stored(due))
	}
	_, err = s.LastScheduleRun(ctx, "a", "summary")
	wantErr(t, "last run of another schedule", err, store.ErrNotFound)
	wantErr(t, "complete an unclaimed run", s.CompleteScheduleRun(ctx, "a", "digest", due.Add(time.Hour), "c1", due), store.ErrNotFound)

	_, err = s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "nobody", Schedule: "digest", Due: due, Owner: "c1", At: due, Lease: lease})
	wantErr(t, "claim for an unknown tenant", err, store.ErrNotFound)
	if _, err := s.ClaimScheduleRun(ctx, store.ScheduleClaim{TenantID: "a", Schedule: "digest", Due: due, At: due, Lease: lease}); err == nil {
		t.Error("claim without an owner: no error")
	}
}

func testSharedClaimExclusive(t *testing.T, a, b store.Store) {
	createTenant(t, a, "a")
	createTenant(t, b, "b")
	const n = 60
	for i := range n {
		s, tenant := a, "a"
		if i%2 == 1 {
			s, tenant = b, "b"
		}
		enqueue(t, s, newEmail(tenant, fmt.Sprintf("e%02d", i), fmt.Sprintf("k%02d", i)))
	}
	checkClaimedOnce(t, claimAll(t, []store.Store{a, b}, t0), n)
}

func testSharedLeaseExpiry(t *testing.T, a, b store.Store) {
	createTenant(t, a, "a")
	enqueue(t, a, newEmail("a", "e1", "k1"))
	diff(t, "a claims", []string{"e1"}, ids(claim(t, a, "a-1", t0, time.Minute, 1)))
	diff(t, "b claims while a's lease holds", []string{}, ids(claim(t, b, "b-1", t0.Add(30*time.Second), time.Minute, 1)))
	diff(t, "b claims after a's lease", []string{"e1"}, ids(claim(t, b, "b-2", t0.Add(time.Minute), time.Minute, 1)))
	wantErr(t, "a marks after losing the claim", a.MarkEmailSent(t.Context(), "a", "e1", "a-1", t0.Add(time.Minute), "250"), store.ErrConflict)
	must(t, "b marks", b.MarkEmailSent(t.Context(), "a", "e1", "b-2", t0.Add(time.Minute), "250"))
	if e := emailNow(t, a, "a", "e1"); e.Status != store.EmailSent || e.Attempts != 2 {
		t.Errorf("email seen by a: status %s, attempts %d; want sent, 2", e.Status, e.Attempts)
	}
}

func testSharedEnqueueOnce(t *testing.T, a, b store.Store) {
	createTenant(t, a, "a")
	var wg sync.WaitGroup
	const n = 10
	results := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			results[i], errs[i] = s.EnqueueEmail(t.Context(), newEmail("a", "digest-w45", "digest/a/2026-W45"))
		})
	}
	wg.Wait()
	stored := 0
	for i := range n {
		must(t, fmt.Sprintf("enqueue %d", i), errs[i])
		if results[i] {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d of %d enqueues through two stores stored the digest, want 1", stored, n)
	}
}

func testSharedScheduleRunOnce(t *testing.T, a, b store.Store) {
	createTenant(t, a, "a")
	var wg sync.WaitGroup
	const n = 10
	results := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			results[i], errs[i] = s.ClaimScheduleRun(t.Context(), store.ScheduleClaim{
				TenantID: "a", Schedule: "digest", Due: t0, Owner: fmt.Sprintf("collector-%d", i), At: t0, Lease: time.Minute,
			})
		})
	}
	wg.Wait()
	claimed := 0
	for i := range n {
		must(t, fmt.Sprintf("claim %d", i), errs[i])
		if results[i] {
			claimed++
		}
	}
	if claimed != 1 {
		t.Errorf("%d of %d collectors claimed the run, want 1", claimed, n)
	}
}
