package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/postgres"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
)

// The page benchmarks seed one tenant with DRIFTWATCH_BENCH_HOSTS hosts
// (1,000) and DRIFTWATCH_BENCH_ITEMS drift items (1,000,000), of which
// the share DRIFTWATCH_BENCH_OPEN (1: all) is still open, the rest
// returned to their baseline state; then they time each page through the
// handler, signed in, and report the 50th and 95th percentile. Run them
// with bench/web.sh.

func benchEnv(b *testing.B, name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// benchSeed fills an empty store: the tenant "bench", its hosts, and their
// drift items, a quarter each unauthorized, authorized, out of window and
// under an unapproved ticket, at levels 1 to 3.
func benchSeed(b *testing.B, st store.Store) {
	ctx := b.Context()
	hosts := int(benchEnv(b, "DRIFTWATCH_BENCH_HOSTS", 1000))
	items := int(benchEnv(b, "DRIFTWATCH_BENCH_ITEMS", 1e6))
	open := benchEnv(b, "DRIFTWATCH_BENCH_OPEN", 1)
	perHost := max(1, items/hosts)
	start := time.Now()
	// The hosts reported within the hour, as live hosts do: the overview
	// lists none as not seen recently.
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	if _, err := st.CreateTenant(ctx, "bench", "Bench", at); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateToken(ctx, store.Token{ID: "tok", TenantID: "bench", Hash: "tokhash", UsesLeft: hosts, CreatedAt: at}); err != nil {
		b.Fatal(err)
	}
	verdicts := []string{store.VerdictUnauthorized, store.VerdictAuthorized, store.VerdictOutOfWindow, store.VerdictUnapprovedTicket}
	for h := range hosts {
		name := fmt.Sprintf("host-%04d", h)
		host, err := st.Enroll(ctx, store.Enrollment{TokenHash: "tokhash", Name: name, Labels: map[string]string{"rack": strconv.Itoa(h % 20)},
			AgentVersion: "1.4.0", CredentialHash: "cred-" + name, NewHostID: "h-" + name, At: at})
		if err != nil {
			b.Fatal(err)
		}
		when := at.Add(time.Duration(h) * time.Second / 2)
		_, err = st.IngestReport(ctx, store.Report{TenantID: "bench", HostID: host.ID, Sequence: 1, ReceivedAt: when, TakenAt: when,
			SnapshotDigest: baseline.Sum([]byte(name)), AgentVersion: "1.4.0", Changes: perHost}, nil)
		if err != nil {
			b.Fatal(err)
		}
		obs := make([]store.DriftObservation, perHost)
		us := make([]store.VerdictUpdate, perHost)
		for i := range obs {
			key := fmt.Sprintf("file:/etc/app/%s/%06d.conf", name, i)
			id := fmt.Sprintf("d-%s-%06d", name, i)
			obs[i] = store.DriftObservation{Key: key, Kind: "file", Change: baseline.Modified, StateDigest: "s" + id, NewID: id,
				ChangeDoc: fmt.Appendf(nil, `{"key":%q,"kind":"file","change":"modified","attrs":{"mode":{"old":"0644","new":"0600"}},"redacted":false}`, key)}
			us[i] = store.VerdictUpdate{ItemID: id, Verdict: verdicts[i%4], Level: i%3 + 1, Rule: "bench"}
		}
		if _, err := st.ApplyDrift(ctx, "bench", host.ID, 1, when, obs); err != nil {
			b.Fatal(err)
		}
		if _, err := st.SetVerdicts(ctx, "bench", when, us); err != nil {
			b.Fatal(err)
		}
		if keep := int(float64(perHost) * open); keep < perHost {
			if _, err := st.ApplyDrift(ctx, "bench", host.ID, 2, when.Add(time.Minute), obs[:keep]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("seeded %d hosts with %d drift items each (%.0f%% open) in %v", hosts, perHost, open*100, time.Since(start).Round(time.Second))
}

// benchPages times the pages of the seeded tenant.
func benchPages(b *testing.B, st store.Store) {
	ctx := b.Context()
	h, err := New(Options{Store: st, PasswordParams: testParams})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u-bench", Email: "bench@msp.test", Role: store.RoleAdmin, TokenHash: "bench", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	secret := "bench-session-secret"
	if err := st.CreateSession(ctx, store.Session{IDHash: auth.Hash(secret), UserID: "u-bench", CSRFToken: "csrf",
		CreatedAt: time.Now(), LastSeenAt: time.Now(), ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
		b.Fatal(err)
	}
	get := func(path string) time.Duration {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: secret})
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		took := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d\n%s", path, rec.Code, rec.Body.String())
		}
		return took
	}
	// The inbox's second page, by the cursor the first one links.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/ui/inbox?tenant=bench", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: secret})
	h.ServeHTTP(rec, req)
	next := ""
	if i := strings.Index(rec.Body.String(), `cursor=`); i >= 0 {
		c := rec.Body.String()[i+len("cursor="):]
		c = c[:strings.IndexAny(c, `"&#`)]
		if u, err := url.QueryUnescape(c); err == nil {
			next = url.QueryEscape(u)
		}
	}
	if next == "" {
		b.Fatal("the inbox has no second page")
	}
	// The first overview counts the open drift; the next ones may reuse
	// the counts (see openCounts).
	h.changed("bench")
	cold := get("/ui/?tenant=bench")
	b.Logf("overview with counting: %v", cold.Round(time.Microsecond))
	for _, p := range []struct{ name, path string }{
		{"Overview", "/ui/?tenant=bench"},
		{"Inbox", "/ui/inbox?tenant=bench"},
		{"InboxPage2", "/ui/inbox?tenant=bench&cursor=" + next},
		{"InboxLevel3Unauthorized", "/ui/inbox?tenant=bench&level=3&verdict=unauthorized"},
		{"InboxHost", "/ui/inbox?tenant=bench&host=host-0500"},
		{"InboxAllTenants", "/ui/inbox"},
		{"Hosts", "/ui/hosts?tenant=bench"},
	} {
		b.Run(p.name, func(b *testing.B) {
			var ds []time.Duration
			cpu0 := cpuTime()
			for b.Loop() {
				ds = append(ds, get(p.path))
			}
			// The process's CPU time per request: what the page costs,
			// whatever else the machine runs.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(ds)), "cpu-ms/op")
			slices.Sort(ds)
			pct := func(q float64) float64 {
				return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
			b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, "max-ms")
		})
	}
}

func BenchmarkPagesSQLite(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchSeed(b, st)
	benchPages(b, st)
}

func BenchmarkPagesPostgres(b *testing.B) {
	dsn := os.Getenv("DRIFTWATCH_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL at %s (DRIFTWATCH_TEST_POSTGRES) is unreachable: %v", dsn, err)
		if os.Getenv("CI") == "true" {
			b.Fatal(msg)
		}
		b.Skip(msg + "; skipping (under CI=true this fails)")
	}
	defer pool.Close()
	// DRIFTWATCH_BENCH_SCHEMA names a schema to seed once and keep, so
	// that the pages can be timed again without seeding again.
	schema, keep := os.Getenv("DRIFTWATCH_BENCH_SCHEMA"), true
	if schema == "" {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		schema, keep = "dw_bench_"+hex.EncodeToString(rnd[:]), false
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	if !keep {
		defer pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.TenantByID(ctx, "bench"); err == nil && keep {
		b.Logf("timing the store seeded before in schema %s", schema)
		if _, err := pool.Exec(ctx, "DELETE FROM "+schema+".web_sessions; DELETE FROM "+schema+".users WHERE id = 'u-bench'"); err != nil {
			b.Fatal(err)
		}
	} else {
		benchSeed(b, st)
	}
	// What autovacuum does to a table this size soon after: statistics,
	// and the visibility map that index-only scans need.
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+schema+".drift_items"); err != nil {
		b.Fatal(err)
	}
	benchPages(b, st)
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
