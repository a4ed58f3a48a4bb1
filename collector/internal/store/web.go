package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PasswordLogin is a user who can sign in to the web report with a
// password: the user and the password's hash (a PHC string such as
// "$argon2id$v=19$m=19456,t=2,p=1$…"; the store does not read it).
type PasswordLogin struct {
	User         User
	PasswordHash string
	// PasswordSetAt is when the password was last set.
	PasswordSetAt time.Time
}

// Session is a signed-in person's web session. The browser holds a
// random secret in a cookie; the store keeps only the secret's hash, so
// that a copy of the database does not sign anyone in.
type Session struct {
	// IDHash is the SHA-256 of the session secret, 64 lowercase hex
	// characters.
	IDHash string
	UserID string
	// CSRFToken is the synchronizer token every form of the session
	// posts back.
	CSRFToken string
	CreatedAt time.Time
	// LastSeenAt is when the session was last used, to the precision the
	// web report touches it with.
	LastSeenAt time.Time
	// ExpiresAt is the first moment the session is no longer valid.
	ExpiresAt time.Time
	// RemoteAddr and UserAgent are where the session was signed in from,
	// for people who review their sessions; either may be empty.
	RemoteAddr string
	UserAgent  string
}

// Web is what the store keeps for the web report: the users' password
// hashes, the server-side sessions and the record of failed sign-ins
// that the sign-in rate limit counts, shared by every collector on the
// database; and the one bulk read of heartbeats its overview needs.
//
// Session and login-failure times are kept like every other time: UTC,
// microseconds.
type Web interface {
	// UserByID finds a user in any tenant.
	UserByID(ctx context.Context, id string) (User, error)
	// UserByEmail finds the user with an email address (compared
	// case-insensitively) in a tenant, or among the MSP-wide users for an
	// empty tenantID.
	UserByEmail(ctx context.Context, tenantID, email string) (User, error)
	// SetPassword sets or replaces a user's password hash, and ends every
	// session of the user in the same transaction: a changed password
	// signs the user out everywhere. It returns how many sessions ended.
	// ErrNotFound when there is no such user; ErrInvalid (and nothing
	// written) for an empty hash or a zero time.
	SetPassword(ctx context.Context, userID, hash string, at time.Time) (int, error)
	// PasswordLogins returns the users with an email address (compared
	// case-insensitively) that have a password, in every tenant: the
	// MSP-wide user first, then by tenant name. An empty list when there
	// are none.
	PasswordLogins(ctx context.Context, email string) ([]PasswordLogin, error)

	// CreateSession stores a new session. ErrNotFound when the user does
	// not exist; ErrExists when the hash is taken; ErrInvalid (and
	// nothing written) when a field is missing or it expires before it
	// is created.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with the hash and its user, when it has
	// not expired at at. ErrNotFound when there is none, or it expired.
	Session(ctx context.Context, idHash string, at time.Time) (Session, User, error)
	// TouchSession records the session's use at lastSeen and moves its
	// expiry to expiresAt, when it has not expired at lastSeen.
	// ErrNotFound when there is no such session, or it expired.
	TouchSession(ctx context.Context, idHash string, lastSeen, expiresAt time.Time) error
	// DeleteSession ends a session; ending one that does not exist is not
	// an error.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions ends every session of a user and returns how
	// many it ended.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// PruneSessions deletes the sessions that expired at or before
	// before, and returns how many.
	PruneSessions(ctx context.Context, before time.Time) (int, error)

	// AddLoginFailure records one failed sign-in at at under each key (an
	// account's and a client address's, say), in one transaction.
	// ErrInvalid (and nothing written) for an empty key or a zero time.
	AddLoginFailure(ctx context.Context, keys []string, at time.Time) error
	// LoginFailures returns the times of the failures recorded under key
	// at or after since, the newest first, at most limit of them (all
	// when limit <= 0).
	LoginFailures(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error)
	// ClearLoginFailures forgets the failures recorded under key.
	ClearLoginFailures(ctx context.Context, key string) error
	// PruneLoginFailures deletes the failures recorded before before, and
	// returns how many.
	PruneLoginFailures(ctx context.Context, before time.Time) (int, error)

	// HeartbeatTimes returns when each of a tenant's hosts last sent a
	// heartbeat, by host ID, in one read; a host that never sent one is
	// not in the map. An agent reports only when the drift changes, so the
	// report says a host is alive when its heartbeat does.
	HeartbeatTimes(ctx context.Context, tenantID string) (map[string]time.Time, error)

	// TimeZones returns, in one read, the time zone a user chose to read
	// the web report in and the default zone of a tenant (IANA names),
	// each "" when none is set; either ID may be empty.
	TimeZones(ctx context.Context, userID, tenantID string) (user, tenant string, err error)
	// SetUserTimeZone sets the zone a user reads the web report in; ""
	// clears it. ErrNotFound when there is no such user; ErrInvalid (and
	// nothing written) for a missing ID or time. The caller checks that
	// the name is a zone.
	SetUserTimeZone(ctx context.Context, userID, zone string, at time.Time) error
	// SetTenantTimeZone sets a tenant's default zone, by a person; ""
	// clears it. ErrNotFound when there is no such tenant; ErrInvalid
	// (and nothing written) for a missing ID or time.
	SetTenantTimeZone(ctx context.Context, tenantID, zone, by string, at time.Time) error
}

// CheckSession checks a session to store.
func CheckSession(s Session) error {
	var missing string
	switch {
	case s.IDHash == "":
		missing = "ID hash"
	case s.UserID == "":
		missing = "user"
	case s.CSRFToken == "":
		missing = "CSRF token"
	case s.CreatedAt.IsZero():
		missing = "creation time"
	case s.ExpiresAt.IsZero():
		missing = "expiry"
	}
	if missing != "" {
		return fmt.Errorf("session without a %s: %w", missing, ErrInvalid)
	}
	if !s.ExpiresAt.After(s.CreatedAt) {
		return fmt.Errorf("session of user %s expires before it is created: %w", s.UserID, ErrInvalid)
	}
	return nil
}

// CheckLoginFailure checks the keys and time of AddLoginFailure.
func CheckLoginFailure(keys []string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("login failure without a time: %w", ErrInvalid)
	}
	for i, k := range keys {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("login failure key %d is empty: %w", i+1, ErrInvalid)
		}
	}
	return nil
}

// CheckPassword checks the arguments of SetPassword.
func CheckPassword(userID, hash string, at time.Time) error {
	switch {
	case userID == "":
		return fmt.Errorf("set password: no user: %w", ErrInvalid)
	case hash == "":
		return fmt.Errorf("set password of user %s: empty hash: %w", userID, ErrInvalid)
	case at.IsZero():
		return fmt.Errorf("set password of user %s: no time: %w", userID, ErrInvalid)
	}
	return nil
}
