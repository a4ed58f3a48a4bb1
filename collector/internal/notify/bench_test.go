package notify

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
)

// BenchmarkPlan plans a busy tenant's tick: 10,000 changes of levels 1 to
// 3 on 100 hosts in the planner's range.
func BenchmarkPlan(b *testing.B) {
	p, err := Settings{TimeZone: "America/New_York", AlertLevel3: []string{"oncall@msp.example"}, AlertLevel2: []string{"lead@msp.example"},
		QuietHours: "22:00-07:00"}.Compile()
	if err != nil {
		b.Fatal(err)
	}
	now := T.Add(2 * time.Hour)
	r := PlanRange(p, now)
	var cs []Change
	for i := range 10000 {
		at := r.Start.Add(time.Duration(i) * r.End.Sub(r.Start) / 10000)
		cs = append(cs, chg(fmt.Sprintf("host%03d", i%100), fmt.Sprintf("file:/etc/app/%d.conf", i%37), 1+i%3, at))
	}
	b.ReportAllocs()
	for b.Loop() {
		Plan(p, cs, now)
	}
}

// BenchmarkCronNext finds the next run of a weekly schedule in a zone.
func BenchmarkCronNext(b *testing.B) {
	c, err := ParseCron("0 16 * * FRI", mustZone(b, "America/New_York"))
	if err != nil {
		b.Fatal(err)
	}
	at := T
	for b.Loop() {
		c.Next(at)
	}
}

// BenchmarkDrain sends queued emails from a SQLite outbox to an SMTP
// server in the process, in batches of 10 per connection.
func BenchmarkDrain(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "dw.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tn, err := st.CreateTenant(b.Context(), "t", "acme", T)
	if err != nil {
		b.Fatal(err)
	}
	srv := startSMTP(b, serverOptions{tls: NoTLS})
	n, err := New(Options{Store: st, Changes: &changeLog{}, Policies: Policies{}, Renderer: &textRenderer{},
		Mailer: relayMailer(b, srv.addr), Now: func() time.Time { return T }, Batch: 10})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		for range 10 {
			key := fmt.Sprintf("bench/%d", i)
			i++
			if _, err := st.EnqueueEmail(b.Context(), store.Email{ID: EmailID(tn.ID, key), TenantID: tn.ID, DedupeKey: key, Kind: "test",
				To: []string{"ops@acme.example"}, Subject: key, Text: "text", HTML: "<p>html</p>", CreatedAt: T}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if r, err := n.Drain(b.Context()); err != nil || r.Sent != 10 {
			b.Fatalf("drain: %+v, %v", r, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/email")
}
