package collector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// defaultTestPostgres is the test database when DRIFTWATCH_TEST_POSTGRES is
// not set.
const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// notifyPostgresSchema creates a schema of its own for the test, dropped at
// cleanup, and returns a DSN whose search_path is it. Without PostgreSQL
// the test fails under CI=true and is skipped otherwise.
func notifyPostgresSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("DRIFTWATCH_TEST_POSTGRES")
	if dsn == "" {
		dsn = defaultTestPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		msg := "PostgreSQL test database (DRIFTWATCH_TEST_POSTGRES, default " + defaultTestPostgres + ") is unreachable: " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s\nCI=true, so this is a failure: start PostgreSQL or point DRIFTWATCH_TEST_POSTGRES at one", msg)
		}
		t.Skipf("%s; skipping (under CI=true this fails)", msg)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "dw_notify_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatal("DRIFTWATCH_TEST_POSTGRES must be a postgres:// URL for this test")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestTwoCollectorsOnePostgres serves two collectors on one PostgreSQL
// schema. A level 3 change falls due while both run: both plan its
// alert, at the same moment, and each of the two on-call addresses gets
// one message.
func TestTwoCollectorsOnePostgres(t *testing.T) {
	srv := startMail(t, "")
	const twoOnCall = `  time_zone    = "America/New_York"
  alert_level3 = ["oncall@msp.example", "second@msp.example"]
`
	dsn := notifyPostgresSchema(t)
	storeBlock := fmt.Sprintf("store \"postgres\" {\n  dsn = %q\n}", dsn)
	if _, err := Migrate(t.Context(), notifyConfig(t, storeBlock, srv.port(), twoOnCall)); err != nil {
		t.Fatal(err)
	}
	w := newNotifyWorld(t, notifyConfig(t, storeBlock, srv.port(), twoOnCall), time.Now())
	// Received a little less than the hold ago: due in a few seconds, when
	// both collectors run.
	w.report(time.Now().Add(-notify.Level3Hold+3*time.Second), testFileChange(sshdConfig, "PermitRootLogin no\n", "PermitRootLogin yes\n"))

	ctx, cancel := context.WithCancel(t.Context())
	logs := make([]*observer.ObservedLogs, 2)
	errc := make(chan error, 2)
	for i := range 2 {
		core, obs := observer.New(zapcore.DebugLevel)
		logs[i] = obs
		log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core)).Named(fmt.Sprintf("c%d", i+1))
		c, err := Open(t.Context(), notifyConfig(t, storeBlock, srv.port(), twoOnCall), log)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ready := make(chan struct{})
		go func() { errc <- c.Serve(ctx, func(string) { close(ready) }) }()
		<-ready
	}
	got := srv.waitFor(2)
	// Both collectors planned the alert: one queued each message, the
	// other found it queued.
	planned := func(i int) bool {
		return logs[i].FilterMessage("email queued").Len()+logs[i].FilterMessage("email queued already").Len() > 0
	}
	deadline := time.Now().Add(90 * time.Second)
	for !planned(0) || !planned(1) {
		if time.Now().After(deadline) {
			t.Fatal("one collector never planned the alert")
		}
		time.Sleep(20 * time.Millisecond)
	}
	queued := logs[0].FilterMessage("email queued").Len() + logs[1].FilterMessage("email queued").Len()
	for !outboxSent(t, w) {
		if time.Now().After(deadline) {
			t.Fatal("the alert was never marked sent")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	for range 2 {
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	if queued != 2 {
		t.Errorf("the alert's messages were queued %d times, want once per recipient (2)", queued)
	}
	if got = srv.messages(); len(got) != 2 {
		t.Fatalf("on-call got %d messages, want 2: one per address", len(got))
	}
	for rcpt, p := range byRecipient(t, got) {
		if s := p.Subject; !strings.HasPrefix(s, "[L3] Unauthorized change on web-01: file:/etc/ssh/sshd_config") {
			t.Errorf("alert to %s: %q", rcpt, s)
		}
	}
	es, err := w.st.Emails(t.Context(), w.tenant.ID, store.EmailFilter{})
	if err != nil || len(es) != 2 {
		t.Fatalf("outbox %+v (%v), want the alert's two messages", es, err)
	}
	for _, e := range es {
		if e.Status != store.EmailSent || e.Attempts != 1 {
			t.Errorf("outbox %+v, want sent at its first attempt", e)
		}
	}
}

// outboxSent reports whether the outbox holds the alert's two messages,
// sent.
func outboxSent(t *testing.T, w *notifyWorld) bool {
	t.Helper()
	es, err := w.st.Emails(t.Context(), w.tenant.ID, store.EmailFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(es) == 2 && es[0].Status == store.EmailSent && es[1].Status == store.EmailSent
}
