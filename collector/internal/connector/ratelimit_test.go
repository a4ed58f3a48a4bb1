package connector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// A 429 with Retry-After on the first ticket list is waited out, and the
// poll then imports the good records, for each polling connector whose
// recorded API answers so.
func TestRateLimitWaitedOut(t *testing.T) {
	for _, c := range []struct {
		name   string
		server func(t *testing.T) http.Handler
		config func(t *testing.T, url string) Config
	}{
		{"connectwise", func(t *testing.T) http.Handler { cs := newCWServer(t); cs.limited = true; return cs }, cwConfig},
		{"halopsa", func(t *testing.T) http.Handler { hs := newHaloServer(t); hs.limited = true; return hs }, haloConfig},
		{"jira", func(t *testing.T) http.Handler { js := newJiraServer(t); js.limited = true; return js },
			func(t *testing.T, url string) Config { return jiraConfig(t, url, jiraSecret) }},
		{"servicenow", func(t *testing.T) http.Handler {
			calls := 0
			return &recorded{t: t, dir: "servicenow", route: func(r *http.Request, b []byte) (string, int, http.Header) {
				calls++
				if calls == 1 {
					return "", http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}
				}
				return snRoute(r, b)
			}}
		}, snConfig},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			srv := httptest.NewServer(c.server(t))
			defer srv.Close()
			src, err := New(c.config(t, srv.URL), e.options(zaptest.NewLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.syncer(src).SyncOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]time.Duration{7 * time.Second}, e.slept); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if res.Created != 3 {
				t.Errorf("after the wait: %+v; want the 3 good records imported", res)
			}
		})
	}
}
