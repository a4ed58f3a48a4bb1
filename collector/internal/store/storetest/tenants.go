package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	acme, err := s.CreateTenant(ctx, "t-acme", "Acme", t0)
	must(t, "create tenant", err)
	diff(t, "created tenant", store.Tenant{ID: "t-acme", Name: "Acme", CreatedAt: stored(t0)}, acme)
	checkUTC(t, "created tenant", acme.CreatedAt)

	for _, tt := range []struct {
		name, id, tenant string
	}{
		{"same name", "t-other", "Acme"},
		{"same id", "t-acme", "Acme Two"},
	} {
		_, err := s.CreateTenant(ctx, tt.id, tt.tenant, t0)
		wantErr(t, "create tenant with the "+tt.name, err, store.ErrExists)
	}

	got, err := s.TenantByName(ctx, "Acme")
	must(t, "tenant by name", err)
	diff(t, "tenant by name", acme, got)
	checkUTC(t, "tenant by name", got.CreatedAt)
	got, err = s.TenantByID(ctx, "t-acme")
	must(t, "tenant by id", err)
	diff(t, "tenant by id", acme, got)
	_, err = s.TenantByName(ctx, "Nobody")
	wantErr(t, "unknown tenant name", err, store.ErrNotFound)
	_, err = s.TenantByID(ctx, "t-nobody")
	wantErr(t, "unknown tenant id", err, store.ErrNotFound)

	zeta, err := s.CreateTenant(ctx, "t-zeta", "Zeta", t0.Add(time.Minute))
	must(t, "create tenant", err)
	beta, err := s.CreateTenant(ctx, "t-beta", "Beta", t0.Add(2*time.Minute))
	must(t, "create tenant", err)
	all, err := s.Tenants(ctx)
	must(t, "list tenants", err)
	diff(t, "tenants by name", []store.Tenant{acme, beta, zeta}, all)
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	tok := store.Token{ID: "tok-1", TenantID: "a", Hash: "hash-1", ExpiresAt: t0.Add(time.Hour), UsesLeft: 3, CreatedAt: t0}
	must(t, "create token", s.CreateToken(ctx, tok))
	for _, tt := range []struct {
		name string
		tok  store.Token
		want error
	}{
		{"same id", store.Token{ID: "tok-1", TenantID: "a", Hash: "hash-2", UsesLeft: 1, CreatedAt: t0}, store.ErrExists},
		{"same hash", store.Token{ID: "tok-2", TenantID: "a", Hash: "hash-1", UsesLeft: 1, CreatedAt: t0}, store.ErrExists},
		{"unknown tenant", store.Token{ID: "tok-3", TenantID: "nobody", Hash: "hash-3", UsesLeft: 1, CreatedAt: t0}, store.ErrNotFound},
	} {
		wantErr(t, "create token with "+tt.name, s.CreateToken(ctx, tt.tok), tt.want)
	}
}

func testEnroll(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	tests := []struct {
		name      string
		expiresAt time.Time // zero: never
		usesLeft  int
		at        time.Time
		unknown   bool // enroll with a hash no token has
		want      error
	}{
		{name: "ok", expiresAt: t0.Add(time.Hour), usesLeft: 1, at: t0},
		{name: "never expires", usesLeft: 1, at: t0.Add(100 * 365 * 24 * time.Hour)},
		{name: "last microsecond", expiresAt: t0.Add(time.Hour), usesLeft: 1, at: t0.Add(time.Hour - time.Microsecond)},
		{name: "expires now", expiresAt: t0.Add(time.Hour), usesLeft: 1, at: t0.Add(time.Hour), want: store.ErrTokenExpired},
		{name: "expired", expiresAt: t0, usesLeft: 5, at: t0.Add(time.Hour), want: store.ErrTokenExpired},
		{name: "used up", expiresAt: t0.Add(time.Hour), usesLeft: 0, at: t0, want: store.ErrTokenUsedUp},
		{name: "expired and used up", expiresAt: t0, usesLeft: 0, at: t0.Add(time.Hour), want: store.ErrTokenExpired},
		{name: "unknown", expiresAt: t0.Add(time.Hour), usesLeft: 1, at: t0, unknown: true, want: store.ErrNotFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := store.Token{ID: fmt.Sprintf("tok-%d", i), TenantID: "a", Hash: fmt.Sprintf("hash-%d", i),
				ExpiresAt: tt.expiresAt, UsesLeft: tt.usesLeft, CreatedAt: t0}
			must(t, "create token", s.CreateToken(ctx, tok))
			e := store.Enrollment{
				TokenHash: tok.Hash, Name: fmt.Sprintf("web%d", i), Labels: map[string]string{"env": "prod", "role": "web"},
				AgentVersion: "1.2.3", CredentialHash: fmt.Sprintf("cred-%d", i), NewHostID: fmt.Sprintf("host-%d", i), At: tt.at,
			}
			if tt.unknown {
				e.TokenHash = "no-such-hash"
			}
			h, err := s.Enroll(ctx, e)
			wantErr(t, "enroll", err, tt.want)
			if tt.want != nil {
				if _, err := s.Host(ctx, "a", e.NewHostID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("failed enrollment left a host behind: Host: %v", err)
				}
				return
			}
			want := store.Host{ID: e.NewHostID, TenantID: "a", Name: e.Name, Labels: e.Labels,
				CredentialHash: e.CredentialHash, AgentVersion: "1.2.3", EnrolledAt: stored(tt.at)}
			diff(t, "enrolled host", want, h)
			checkUTC(t, "enrolled host", h.EnrolledAt)
			diff(t, "host read back", want, hostNow(t, s, h))
			// The one use is gone.
			e.Name, e.NewHostID, e.CredentialHash = e.Name+"-again", e.NewHostID+"-again", e.CredentialHash+"-again"
			_, err = s.Enroll(ctx, e)
			wantErr(t, "enroll with the used token", err, store.ErrTokenUsedUp)
		})
	}

	// A token with several uses enrolls that many hosts.
	must(t, "create token", s.CreateToken(ctx, store.Token{ID: "tok-multi", TenantID: "a", Hash: "hash-multi",
		ExpiresAt: t0.Add(time.Hour), UsesLeft: 3, CreatedAt: t0}))
	for i := range 4 {
		_, err := s.Enroll(ctx, store.Enrollment{TokenHash: "hash-multi", Name: fmt.Sprintf("db%d", i),
			CredentialHash: fmt.Sprintf("cred-db%d", i), NewHostID: fmt.Sprintf("host-db%d", i), At: t0})
		want := error(nil)
		if i == 3 {
			want = store.ErrTokenUsedUp
		}
		wantErr(t, fmt.Sprintf("enrollment %d with a 3-use token", i+1), err, want)
	}
}

func testEnrollRace(t *testing.T, s store.Store) {
	const racers = 12
	createTenant(t, s, "a")
	for _, uses := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d uses", uses), func(t *testing.T) {
			hash := fmt.Sprintf("hash-%d", uses)
			must(t, "create token", s.CreateToken(t.Context(), store.Token{ID: fmt.Sprintf("tok-%d", uses), TenantID: "a", Hash: hash,
				ExpiresAt: t0.Add(time.Hour), UsesLeft: uses, CreatedAt: t0}))
			var wg sync.WaitGroup
			errs := make([]error, racers)
			start := make(chan struct{})
			for i := range racers {
				wg.Go(func() {
					<-start
					_, errs[i] = s.Enroll(t.Context(), store.Enrollment{
						TokenHash: hash, Name: fmt.Sprintf("race%d-%d", uses, i), AgentVersion: "1.0.0",
						CredentialHash: fmt.Sprintf("cred-%d-%d", uses, i), NewHostID: fmt.Sprintf("host-%d-%d", uses, i), At: t0,
					})
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, store.ErrTokenUsedUp):
					t.Errorf("racer %d: error %v, want nil or ErrTokenUsedUp", i, err)
				}
			}
			if ok != uses {
				t.Errorf("%d of %d racers enrolled with a token of %d uses", ok, racers, uses)
			}
		})
	}
	hosts, err := s.Hosts(t.Context(), "a")
	must(t, "list hosts", err)
	if len(hosts) != 1+4 {
		t.Errorf("%d hosts enrolled, want 5", len(hosts))
	}
}

func testReenroll(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	h := enroll(t, s, "a", "web1")
	_, err := s.IngestReport(ctx, report(h, 1, t0.Add(time.Minute)), nil)
	must(t, "ingest", err)
	must(t, "add baseline", s.AddBaseline(ctx, newBaseline(h, 1)))
	before := hostNow(t, s, h)

	must(t, "create token", s.CreateToken(ctx, store.Token{ID: "tok-again", TenantID: "a", Hash: "hash-again",
		ExpiresAt: t0.Add(2 * time.Hour), UsesLeft: 1, CreatedAt: t0}))
	again, err := s.Enroll(ctx, store.Enrollment{
		TokenHash: "hash-again", Name: "web1", Labels: map[string]string{"env": "staging"}, AgentVersion: "2.0.0",
		CredentialHash: "cred-new", NewHostID: "host-unused", At: t0.Add(time.Hour),
	})
	must(t, "enroll again", err)
	want := before
	want.CredentialHash, want.Labels, want.AgentVersion = "cred-new", map[string]string{"env": "staging"}, "2.0.0"
	diff(t, "re-enrolled host keeps its ID, enrollment time, last-seen time and baseline", want, again)
	diff(t, "re-enrolled host read back", want, hostNow(t, s, h))
	if _, err := s.Host(ctx, "a", "host-unused"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("re-enrollment created a host with the new ID: Host: %v", err)
	}
	_, err = s.HostByCredentialHash(ctx, h.CredentialHash)
	wantErr(t, "host by the replaced credential", err, store.ErrNotFound)
	got, err := s.HostByCredentialHash(ctx, "cred-new")
	must(t, "host by the new credential", err)
	diff(t, "host by the new credential", want, got)
	hosts, err := s.Hosts(ctx, "a")
	must(t, "list hosts", err)
	if len(hosts) != 1 {
		t.Errorf("tenant a has %d hosts after re-enrollment, want 1", len(hosts))
	}

	// The same name in another tenant is another host.
	other := enroll(t, s, "b", "web1")
	if other.ID == h.ID {
		t.Errorf("host web1 of tenant b got the ID of web1 of tenant a")
	}
	// A new host may not take an ID or a credential that is in use.
	for _, tt := range []struct{ name, id, cred string }{
		{"ID", h.ID, "cred-x"},
		{"credential", "host-x", "cred-new"},
	} {
		hash := "hash-clash-" + tt.name
		must(t, "create token", s.CreateToken(ctx, store.Token{ID: "tok-" + hash, TenantID: "b", Hash: hash,
			ExpiresAt: t0.Add(2 * time.Hour), UsesLeft: 1, CreatedAt: t0}))
		_, err := s.Enroll(ctx, store.Enrollment{TokenHash: hash, Name: "clash-" + tt.name, CredentialHash: tt.cred, NewHostID: tt.id, At: t0})
		wantErr(t, "enroll a new host with an "+tt.name+" in use", err, store.ErrExists)
	}
	diff(t, "host after clashing enrollments", want, hostNow(t, s, h))
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	users := []store.User{
		{ID: "u1", TenantID: "a", Email: "alice@example.com", Role: store.RoleApprover, TokenHash: "th-1", CreatedAt: t0},
		{ID: "u2", TenantID: "b", Email: "alice@example.com", Role: store.RoleViewer, TokenHash: "th-2", CreatedAt: t0},
		{ID: "u3", TenantID: "", Email: "root@msp.example", Role: store.RoleAdmin, TokenHash: "th-3", CreatedAt: t0},
		{ID: "u4", TenantID: "", Email: "alice@example.com", Role: store.RoleEngineer, TokenHash: "th-4", CreatedAt: t0},
	}
	for _, u := range users {
		must(t, "create user "+u.ID, s.CreateUser(ctx, u))
	}
	for _, tt := range []struct {
		name string
		u    store.User
		want error
	}{
		{"same email in the tenant", store.User{ID: "x1", TenantID: "a", Email: "alice@example.com", Role: store.RoleViewer, TokenHash: "th-x1"}, store.ErrExists},
		{"same email in other case", store.User{ID: "x2", TenantID: "a", Email: "Alice@Example.com", Role: store.RoleViewer, TokenHash: "th-x2"}, store.ErrExists},
		{"same MSP-wide email", store.User{ID: "x3", Email: "root@msp.example", Role: store.RoleAdmin, TokenHash: "th-x3"}, store.ErrExists},
		{"same id", store.User{ID: "u1", TenantID: "a", Email: "bob@example.com", Role: store.RoleViewer, TokenHash: "th-x4"}, store.ErrExists},
		{"same token hash", store.User{ID: "x5", TenantID: "a", Email: "carol@example.com", Role: store.RoleViewer, TokenHash: "th-1"}, store.ErrExists},
		{"unknown tenant", store.User{ID: "x6", TenantID: "nobody", Email: "dave@example.com", Role: store.RoleViewer, TokenHash: "th-x6"}, store.ErrNotFound},
	} {
		wantErr(t, "create user with "+tt.name, s.CreateUser(ctx, tt.u), tt.want)
	}
	for _, u := range users {
		got, err := s.UserByTokenHash(ctx, u.TokenHash)
		must(t, "user by token hash", err)
		want := u
		want.CreatedAt = stored(u.CreatedAt)
		diff(t, "user "+u.ID, want, got)
		checkUTC(t, "user "+u.ID, got.CreatedAt)
	}
	_, err := s.UserByTokenHash(ctx, "th-x1")
	wantErr(t, "user by the token of a refused user", err, store.ErrNotFound)
}
