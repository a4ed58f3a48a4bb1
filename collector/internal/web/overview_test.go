package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// hostsCountingStore is the fixture's store, counting the calls of
// Hosts.
type hostsCountingStore struct {
	store.Store
	mu    sync.Mutex
	calls int
}

func (s *hostsCountingStore) Hosts(ctx context.Context, tenantID string) ([]store.Host, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.Store.Hosts(ctx, tenantID)
}

func (s *hostsCountingStore) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// TestOverviewReuse: the overview of a tenant opened again within
// overviewTTL is rendered from what the first one read; a change made in
// the web report, or the time passing, reads afresh.
func TestOverviewReuse(t *testing.T) {
	f := newFixture(t)
	cs := &hostsCountingStore{Store: f.st}
	h, err := New(Options{Store: cs, Changes: f.mgr, Now: f.clock.Now, PasswordParams: testParams})
	if err != nil {
		t.Fatal(err)
	}
	h.overviewTTL = time.Hour
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f2 := *f
	f2.srv = srv
	c := f2.client()
	c.signIn("lead@msp.test") // reads both tenants' overviews
	unauth := regexp.MustCompile(`<span class="n">(\d+)</span>unauthorized`)
	unauthorized := func() string { return unauth.FindStringSubmatch(c.get("/ui/?tenant=t-acme").body)[1] }
	n := cs.n()
	if got := unauthorized(); got != "3" || cs.n() != n {
		t.Fatalf("overview again: %s unauthorized, %d host reads; want 3 and no new read", got, cs.n()-n)
	}
	// Another user's page is rendered from the same reads, with their
	// own header.
	c2 := f2.client()
	c2.signIn("eng@msp.test")
	if r := c2.get("/ui/?tenant=t-acme"); !regexp.MustCompile(`eng@msp\.test`).MatchString(r.body) || cs.n() != n {
		t.Errorf("another user's overview: %d new host reads, or not their page", cs.n()-n)
	}
	// A change made here reads afresh at once.
	c.follow(c.post("/ui/drift/d-web01-sshd/revert", url.Values{reporter.FieldReason: {"undo"}}))
	if got := unauthorized(); got != "2" {
		t.Errorf("overview after a revert here: %s unauthorized, want 2", got)
	}
	n = cs.n()
	unauthorized()
	if cs.n() != n {
		t.Errorf("overview again after the change: %d new host reads, want none", cs.n()-n)
	}
	// So does the time passing.
	h.overviewTTL = 0
	unauthorized()
	if cs.n() != n+1 {
		t.Errorf("overview once the reads are old: %d new host reads, want 1", cs.n()-n)
	}
}
