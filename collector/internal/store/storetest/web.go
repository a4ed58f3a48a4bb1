package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// webTests are the tests of the Web methods.
func webTests() []test {
	return []test{
		{"WebUsers", testWebUsers},
		{"Passwords", testPasswords},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"LoginFailures", testLoginFailures},
		{"LoginFailuresConcurrent", testLoginFailuresConcurrent},
		{"HeartbeatTimes", testHeartbeatTimes},
	}
}

// webUsers creates two tenants, Zeta (ID "a") and Acme (ID "z"), so that
// name order is not ID order, and the same email in each and MSP-wide.
func webUsers(t *testing.T, s store.Store) []store.User {
	t.Helper()
	ctx := t.Context()
	_, err := s.CreateTenant(ctx, "a", "Zeta", t0)
	must(t, "create tenant", err)
	_, err = s.CreateTenant(ctx, "z", "Acme", t0)
	must(t, "create tenant", err)
	users := []store.User{
		{ID: "u-zeta", TenantID: "a", Email: "Sam@Example.com", Role: store.RoleViewer, TokenHash: "th-1", CreatedAt: t0},
		{ID: "u-acme", TenantID: "z", Email: "sam@example.com", Role: store.RoleApprover, TokenHash: "th-2", CreatedAt: t0},
		{ID: "u-msp", Email: "sam@example.COM", Role: store.RoleAdmin, TokenHash: "th-3", CreatedAt: t0},
		{ID: "u-other", TenantID: "z", Email: "kim@example.com", Role: store.RoleEngineer, TokenHash: "th-4", CreatedAt: t0},
	}
	for _, u := range users {
		must(t, "create user "+u.ID, s.CreateUser(ctx, u))
	}
	for i := range users {
		users[i].CreatedAt = stored(users[i].CreatedAt)
	}
	return users
}

func testWebUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := webUsers(t, s)
	for _, u := range users {
		got, err := s.UserByID(ctx, u.ID)
		must(t, "user by ID", err)
		diff(t, "user "+u.ID, u, got)
		checkUTC(t, "user "+u.ID, got.CreatedAt)
	}
	_, err := s.UserByID(ctx, "nobody")
	wantErr(t, "unknown user", err, store.ErrNotFound)

	for _, tt := range []struct {
		tenant, email string
		want          string
	}{
		{"a", "sam@example.com", "u-zeta"},
		{"z", "SAM@EXAMPLE.COM", "u-acme"},
		{"", "sam@example.com", "u-msp"},
		{"z", "kim@example.com", "u-other"},
	} {
		got, err := s.UserByEmail(ctx, tt.tenant, tt.email)
		must(t, fmt.Sprintf("user %s in %q", tt.email, tt.tenant), err)
		if got.ID != tt.want {
			t.Errorf("user %s in tenant %q is %s, want %s", tt.email, tt.tenant, got.ID, tt.want)
		}
	}
	_, err = s.UserByEmail(ctx, "a", "kim@example.com")
	wantErr(t, "user of another tenant", err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, "", "kim@example.com")
	wantErr(t, "tenant user as MSP-wide", err, store.ErrNotFound)
}

func testPasswords(t *testing.T, s store.Store) {
	ctx := t.Context()
	webUsers(t, s)

	logins, err := s.PasswordLogins(ctx, "sam@example.com")
	must(t, "logins before any password", err)
	if len(logins) != 0 {
		t.Fatalf("logins before any password: %v", logins)
	}
	for _, tt := range []struct {
		name, user, hash string
		at               time.Time
		want             error
	}{
		{"unknown user", "nobody", "$h", t0, store.ErrNotFound},
		{"no user", "", "$h", t0, store.ErrInvalid},
		{"empty hash", "u-acme", "", t0, store.ErrInvalid},
		{"no time", "u-acme", "$h", time.Time{}, store.ErrInvalid},
	} {
		_, err := s.SetPassword(ctx, tt.user, tt.hash, tt.at)
		wantErr(t, "set password: "+tt.name, err, tt.want)
	}
	logins, err = s.PasswordLogins(ctx, "sam@example.com")
	must(t, "logins after refused passwords", err)
	if len(logins) != 0 {
		t.Fatalf("refused passwords were stored: %v", logins)
	}

	for _, u := range []string{"u-zeta", "u-msp", "u-acme"} {
		n, err := s.SetPassword(ctx, u, "$hash-of-"+u, t0)
		must(t, "set password of "+u, err)
		if n != 0 {
			t.Errorf("set password of %s ended %d sessions, want 0", u, n)
		}
	}
	// Every account with the email, the MSP-wide one first, then by
	// tenant name (Acme before Zeta, whatever their IDs).
	logins, err = s.PasswordLogins(ctx, "SAM@example.com")
	must(t, "logins", err)
	var got []string
	for _, l := range logins {
		got = append(got, l.User.ID+" "+l.PasswordHash)
		checkUTC(t, "password set", l.PasswordSetAt)
		if !l.PasswordSetAt.Equal(stored(t0)) {
			t.Errorf("password of %s set at %v, want %v", l.User.ID, l.PasswordSetAt, stored(t0))
		}
	}
	diff(t, "logins", []string{"u-msp $hash-of-u-msp", "u-acme $hash-of-u-acme", "u-zeta $hash-of-u-zeta"}, got)

	// A new password replaces the old one and signs the user out.
	for i := range 2 {
		must(t, "create session", s.CreateSession(ctx, store.Session{IDHash: fmt.Sprintf("sess-%d", i), UserID: "u-acme",
			CSRFToken: "csrf", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	must(t, "create session of another user", s.CreateSession(ctx, store.Session{IDHash: "sess-zeta", UserID: "u-zeta",
		CSRFToken: "csrf", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	n, err := s.SetPassword(ctx, "u-acme", "$new", t0.Add(time.Minute))
	must(t, "change password", err)
	if n != 2 {
		t.Errorf("changing the password ended %d sessions, want 2", n)
	}
	for i := range 2 {
		_, _, err := s.Session(ctx, fmt.Sprintf("sess-%d", i), t0)
		wantErr(t, "session after the password changed", err, store.ErrNotFound)
	}
	_, _, err = s.Session(ctx, "sess-zeta", t0)
	must(t, "another user's session stays", err)
	logins, err = s.PasswordLogins(ctx, "sam@example.com")
	must(t, "logins", err)
	if len(logins) != 3 || logins[1].PasswordHash != "$new" || !logins[1].PasswordSetAt.Equal(stored(t0.Add(time.Minute))) {
		t.Errorf("after the change: %+v", logins)
	}
	logins, err = s.PasswordLogins(ctx, "kim@example.com")
	must(t, "logins of a user without a password", err)
	if len(logins) != 0 {
		t.Errorf("a user without a password has logins: %v", logins)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := webUsers(t, s)
	sess := store.Session{IDHash: "h1", UserID: "u-acme", CSRFToken: "tok-1", CreatedAt: t0, LastSeenAt: t0,
		ExpiresAt: t0.Add(8 * time.Hour), RemoteAddr: "192.0.2.7", UserAgent: "Mozilla/5.0 (X11) \"quoted\""}
	for _, tt := range []struct {
		name string
		s    store.Session
		want error
	}{
		{"no hash", store.Session{UserID: "u-acme", CSRFToken: "x", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, store.ErrInvalid},
		{"no user", store.Session{IDHash: "x", CSRFToken: "x", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, store.ErrInvalid},
		{"no token", store.Session{IDHash: "x", UserID: "u-acme", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, store.ErrInvalid},
		{"no expiry", store.Session{IDHash: "x", UserID: "u-acme", CSRFToken: "x", CreatedAt: t0}, store.ErrInvalid},
		{"expired at birth", store.Session{IDHash: "x", UserID: "u-acme", CSRFToken: "x", CreatedAt: t0, ExpiresAt: t0}, store.ErrInvalid},
		{"unknown user", store.Session{IDHash: "x", UserID: "nobody", CSRFToken: "x", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, store.ErrNotFound},
	} {
		wantErr(t, "create session with "+tt.name, s.CreateSession(ctx, tt.s), tt.want)
	}
	_, _, err := s.Session(ctx, "x", t0)
	wantErr(t, "a refused session", err, store.ErrNotFound)

	must(t, "create session", s.CreateSession(ctx, sess))
	wantErr(t, "create session with a taken hash", s.CreateSession(ctx, store.Session{IDHash: "h1", UserID: "u-zeta",
		CSRFToken: "x", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}), store.ErrExists)

	got, u, err := s.Session(ctx, "h1", t0.Add(time.Minute))
	must(t, "session", err)
	want := sess
	want.CreatedAt, want.LastSeenAt, want.ExpiresAt = stored(t0), stored(t0), stored(sess.ExpiresAt)
	diff(t, "session", want, got)
	checkUTC(t, "session", got.CreatedAt, got.LastSeenAt, got.ExpiresAt)
	diff(t, "session's user", users[1], u)

	// A session without a last-seen time was last seen when created.
	must(t, "create session", s.CreateSession(ctx, store.Session{IDHash: "h2", UserID: "u-acme", CSRFToken: "tok-2",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	got, _, err = s.Session(ctx, "h2", t0)
	must(t, "session", err)
	if !got.LastSeenAt.Equal(stored(t0)) {
		t.Errorf("last seen %v, want the creation time %v", got.LastSeenAt, stored(t0))
	}

	// Touching moves the last use and the expiry.
	must(t, "touch", s.TouchSession(ctx, "h1", t0.Add(time.Hour), t0.Add(9*time.Hour)))
	got, _, err = s.Session(ctx, "h1", t0.Add(8*time.Hour+time.Minute))
	must(t, "session after the old expiry", err)
	if !got.LastSeenAt.Equal(stored(t0.Add(time.Hour))) || !got.ExpiresAt.Equal(stored(t0.Add(9*time.Hour))) {
		t.Errorf("touched session: last seen %v, expires %v", got.LastSeenAt, got.ExpiresAt)
	}
	wantErr(t, "touch an unknown session", s.TouchSession(ctx, "nope", t0, t0.Add(time.Hour)), store.ErrNotFound)

	// Ending one session leaves the others; ending it again is no error.
	must(t, "create session of another user", s.CreateSession(ctx, store.Session{IDHash: "h3", UserID: "u-zeta",
		CSRFToken: "tok-3", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, "delete", s.DeleteSession(ctx, "h2"))
	must(t, "delete again", s.DeleteSession(ctx, "h2"))
	_, _, err = s.Session(ctx, "h2", t0)
	wantErr(t, "deleted session", err, store.ErrNotFound)
	n, err := s.DeleteUserSessions(ctx, "u-acme")
	must(t, "delete user sessions", err)
	if n != 1 {
		t.Errorf("deleted %d sessions of the user, want 1", n)
	}
	_, _, err = s.Session(ctx, "h1", t0)
	wantErr(t, "session of a signed-out user", err, store.ErrNotFound)
	_, _, err = s.Session(ctx, "h3", t0)
	must(t, "another user's session", err)
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	webUsers(t, s)
	exp := t0.Add(time.Hour)
	must(t, "create", s.CreateSession(ctx, store.Session{IDHash: "h", UserID: "u-msp", CSRFToken: "c", CreatedAt: t0, ExpiresAt: exp}))
	must(t, "create", s.CreateSession(ctx, store.Session{IDHash: "later", UserID: "u-msp", CSRFToken: "c", CreatedAt: t0, ExpiresAt: exp.Add(time.Hour)}))

	_, _, err := s.Session(ctx, "h", exp.Add(-time.Microsecond))
	must(t, "session just before it expires", err)
	_, _, err = s.Session(ctx, "h", exp)
	wantErr(t, "session when it expires", err, store.ErrNotFound)
	// An expired session cannot be brought back by touching it.
	wantErr(t, "touch an expired session", s.TouchSession(ctx, "h", exp, exp.Add(time.Hour)), store.ErrNotFound)
	_, _, err = s.Session(ctx, "h", exp.Add(-time.Minute))
	must(t, "the expired session is still stored before pruning", err)

	n, err := s.PruneSessions(ctx, exp)
	must(t, "prune", err)
	if n != 1 {
		t.Errorf("pruned %d sessions, want 1", n)
	}
	_, _, err = s.Session(ctx, "h", t0)
	wantErr(t, "pruned session", err, store.ErrNotFound)
	_, _, err = s.Session(ctx, "later", exp)
	must(t, "a session expiring later survives pruning", err)
}

func testLoginFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "failure without a time", s.AddLoginFailure(ctx, []string{"acct:a"}, time.Time{}), store.ErrInvalid)
	wantErr(t, "failure with an empty key", s.AddLoginFailure(ctx, []string{"acct:a", " "}, t0), store.ErrInvalid)
	got, err := s.LoginFailures(ctx, "acct:a", time.Time{}, 0)
	must(t, "failures", err)
	if len(got) != 0 {
		t.Fatalf("refused failures were stored: %v", got)
	}
	for i := range 4 {
		must(t, "add", s.AddLoginFailure(ctx, []string{"acct:a", "ip:192.0.2.1"}, t0.Add(time.Duration(i)*time.Minute)))
	}
	must(t, "add", s.AddLoginFailure(ctx, []string{"acct:b"}, t0))

	times := func(mins ...int) []time.Time {
		var out []time.Time
		for _, m := range mins {
			out = append(out, stored(t0.Add(time.Duration(m)*time.Minute)))
		}
		return out
	}
	for _, tt := range []struct {
		key   string
		since time.Time
		limit int
		want  []time.Time
	}{
		{"acct:a", time.Time{}, 0, times(3, 2, 1, 0)},
		{"ip:192.0.2.1", t0.Add(time.Minute), 0, times(3, 2, 1)},
		{"acct:a", time.Time{}, 2, times(3, 2)},
		{"acct:b", t0, 0, times(0)},
		{"acct:c", time.Time{}, 0, nil},
	} {
		got, err := s.LoginFailures(ctx, tt.key, tt.since, tt.limit)
		must(t, "failures", err)
		checkUTC(t, "failures", got...)
		diff(t, fmt.Sprintf("failures of %s since %v, at most %d", tt.key, tt.since, tt.limit), tt.want, got)
	}

	must(t, "clear", s.ClearLoginFailures(ctx, "acct:a"))
	got, err = s.LoginFailures(ctx, "acct:a", time.Time{}, 0)
	must(t, "failures after clearing", err)
	if len(got) != 0 {
		t.Errorf("failures after clearing: %v", got)
	}
	got, err = s.LoginFailures(ctx, "ip:192.0.2.1", time.Time{}, 0)
	must(t, "failures of another key", err)
	if len(got) != 4 {
		t.Errorf("clearing one key removed another's failures: %v", got)
	}

	n, err := s.PruneLoginFailures(ctx, t0.Add(2*time.Minute))
	must(t, "prune", err)
	if n != 3 { // ip at 0 and 1 min, acct:b at 0
		t.Errorf("pruned %d failures, want 3", n)
	}
	got, err = s.LoginFailures(ctx, "ip:192.0.2.1", time.Time{}, 0)
	must(t, "failures after pruning", err)
	diff(t, "failures after pruning", times(3, 2), got)
}

// testLoginFailuresConcurrent records failures from several goroutines at
// once, as several collectors would: none is lost.
func testLoginFailuresConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				errs <- s.AddLoginFailure(ctx, []string{"acct:x"}, t0.Add(time.Duration(w*each+i)*time.Second))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "add concurrently", err)
	}
	got, err := s.LoginFailures(ctx, "acct:x", time.Time{}, 0)
	must(t, "failures", err)
	if len(got) != workers*each {
		t.Errorf("%d failures recorded, want %d", len(got), workers*each)
	}
}

func testHeartbeatTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "t1")
	createTenant(t, s, "t2")
	a := enroll(t, s, "t1", "web-01")
	b := enroll(t, s, "t1", "web-02")
	enroll(t, s, "t1", "quiet-01")
	other := enroll(t, s, "t2", "db-01")
	got, err := s.HeartbeatTimes(ctx, "t1")
	must(t, "heartbeat times before any", err)
	if len(got) != 0 {
		t.Fatalf("heartbeat times before any: %v", got)
	}
	for _, hb := range []struct {
		h  store.Host
		at time.Time
	}{{a, t0}, {a, t0.Add(time.Minute)}, {b, t0.Add(2 * time.Minute)}, {other, t0.Add(time.Hour)}} {
		must(t, "record heartbeat", s.RecordHeartbeat(ctx, hb.h.TenantID, hb.h.ID, store.Heartbeat{At: hb.at, Status: []byte(`{}`)}))
	}
	got, err = s.HeartbeatTimes(ctx, "t1")
	must(t, "heartbeat times", err)
	for _, tm := range got {
		checkUTC(t, "heartbeat time", tm)
	}
	diff(t, "heartbeat times of t1", map[string]time.Time{a.ID: stored(t0.Add(time.Minute)), b.ID: stored(t0.Add(2 * time.Minute))}, got)
	got, err = s.HeartbeatTimes(ctx, "nobody")
	must(t, "heartbeat times of an unknown tenant", err)
	if len(got) != 0 {
		t.Errorf("heartbeat times of an unknown tenant: %v", got)
	}
}
