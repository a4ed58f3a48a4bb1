package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

func testHosts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	hosts, err := s.Hosts(ctx, "a")
	must(t, "list hosts of a tenant without any", err)
	if len(hosts) != 0 {
		t.Errorf("new tenant has %d hosts", len(hosts))
	}
	charlie := enroll(t, s, "a", "charlie")
	alpha := enroll(t, s, "a", "alpha")
	bravo := enroll(t, s, "a", "bravo")
	enroll(t, s, "b", "beta")

	// alpha reports and gets a baseline; bravo reports; charlie is silent.
	ra := report(alpha, 1, t0.Add(time.Minute))
	ra.Changes = 4
	_, err = s.IngestReport(ctx, ra, nil)
	must(t, "ingest", err)
	must(t, "add baseline", s.AddBaseline(ctx, newBaseline(alpha, 1)))
	must(t, "add baseline", s.AddBaseline(ctx, newBaseline(alpha, 2)))
	rb := report(bravo, 7, t0.Add(2*time.Minute))
	rb.Changes = 0
	_, err = s.IngestReport(ctx, rb, nil)
	must(t, "ingest", err)

	alpha.LastSeen, alpha.BaselineVersion, alpha.OpenDrift = stored(ra.ReceivedAt), 2, 4
	bravo.LastSeen = stored(rb.ReceivedAt)
	hosts, err = s.Hosts(ctx, "a")
	must(t, "list hosts", err)
	diff(t, "hosts of tenant a, by name", []store.Host{alpha, bravo, charlie}, hosts)
	for _, h := range hosts {
		checkUTC(t, "listed host "+h.Name, h.EnrolledAt, h.LastSeen)
		diff(t, "host "+h.Name, h, hostNow(t, s, h))
	}
	got, err := s.HostByCredentialHash(ctx, alpha.CredentialHash)
	must(t, "host by credential", err)
	diff(t, "host by credential", alpha, got)
	_, err = s.HostByCredentialHash(ctx, "no-such-credential")
	wantErr(t, "host by unknown credential", err, store.ErrNotFound)
	_, err = s.Host(ctx, "a", "no-such-host")
	wantErr(t, "unknown host", err, store.ErrNotFound)

	// Labels: none reads back as nil.
	must(t, "create token", s.CreateToken(ctx, store.Token{ID: "tok-bare", TenantID: "a", Hash: "hash-bare", UsesLeft: 1, CreatedAt: t0}))
	bare, err := s.Enroll(ctx, store.Enrollment{TokenHash: "hash-bare", Name: "bare", CredentialHash: "cred-bare", NewHostID: "host-bare", At: t0})
	must(t, "enroll without labels", err)
	if bare.Labels != nil || hostNow(t, s, bare).Labels != nil {
		t.Errorf("host enrolled without labels has labels %v", bare.Labels)
	}
}

// testTenantIsolation checks that nothing of tenant a is visible, or
// changeable, through tenant b's ID.
func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	h := enroll(t, s, "a", "web1")
	enroll(t, s, "b", "web2")
	r := report(h, 1, t0.Add(time.Minute))
	_, err := s.IngestReport(ctx, r, nil)
	must(t, "ingest", err)
	must(t, "add baseline", s.AddBaseline(ctx, newBaseline(h, 1)))
	content := []byte("secret of tenant a")
	d := baseline.Sum(content)
	must(t, "put blob", s.PutBlob(ctx, "a", d, content))
	before := hostNow(t, s, h)

	lookups := []struct {
		name string
		fn   func() error
	}{
		{"Host", func() error { _, err := s.Host(ctx, "b", h.ID); return err }},
		{"LatestReport", func() error { _, err := s.LatestReport(ctx, "b", h.ID); return err }},
		{"ReportBySnapshot", func() error { _, err := s.ReportBySnapshot(ctx, "b", h.ID, r.SnapshotDigest); return err }},
		{"ReportCount", func() error { _, err := s.ReportCount(ctx, "b", h.ID); return err }},
		{"Baseline newest", func() error { _, err := s.Baseline(ctx, "b", h.ID, 0); return err }},
		{"Baseline v1", func() error { _, err := s.Baseline(ctx, "b", h.ID, 1); return err }},
		{"Baselines", func() error { _, err := s.Baselines(ctx, "b", h.ID); return err }},
		{"Blob", func() error { _, err := s.Blob(ctx, "b", d); return err }},
		{"IngestReport", func() error {
			rb := report(h, 2, t0.Add(time.Hour))
			rb.TenantID = "b"
			_, err := s.IngestReport(ctx, rb, nil)
			return err
		}},
		{"AddBaseline", func() error {
			b := newBaseline(h, 2)
			b.TenantID = "b"
			return s.AddBaseline(ctx, b)
		}},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name+" of tenant a's host through tenant b", tt.fn(), store.ErrNotFound)
		})
	}
	hosts, err := s.Hosts(ctx, "b")
	must(t, "list hosts", err)
	if len(hosts) != 1 || hosts[0].Name != "web2" {
		t.Errorf("hosts of tenant b = %v, want web2 only", hosts)
	}
	missing, err := s.MissingBlobs(ctx, "b", []baseline.Digest{d})
	must(t, "missing blobs", err)
	diff(t, "tenant b's missing blobs", []baseline.Digest{d}, missing)

	// Tenant a is untouched by the attempts.
	diff(t, "tenant a's host", before, hostNow(t, s, h))
	n, err := s.ReportCount(ctx, "a", h.ID)
	must(t, "report count", err)
	if n != 1 {
		t.Errorf("tenant a's host has %d reports, want 1", n)
	}
	ms, err := s.Baselines(ctx, "a", h.ID)
	must(t, "baselines", err)
	if len(ms) != 1 {
		t.Errorf("tenant a's host has %d baselines, want 1", len(ms))
	}
}

func testBlobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	createTenant(t, s, "a")
	createTenant(t, s, "b")
	c1, c2 := []byte("PermitRootLogin no\n"), []byte("net.ipv4.ip_forward = 0\n")
	d1, d2, d3 := baseline.Sum(c1), baseline.Sum(c2), baseline.Sum([]byte("never stored"))
	empty := baseline.Sum(nil)

	must(t, "put blob", s.PutBlob(ctx, "a", d1, c1))
	must(t, "put blob again", s.PutBlob(ctx, "a", d1, c1))
	must(t, "put blob again, other bytes", s.PutBlob(ctx, "a", d1, []byte("ignored")))
	must(t, "put empty blob", s.PutBlob(ctx, "a", empty, nil))
	wantErr(t, "put blob of unknown tenant", s.PutBlob(ctx, "nobody", d2, c2), store.ErrNotFound)

	got, err := s.Blob(ctx, "a", d1)
	must(t, "blob", err)
	if !bytes.Equal(got, c1) {
		t.Errorf("blob = %q, want the first content %q", got, c1)
	}
	got, err = s.Blob(ctx, "a", empty)
	must(t, "empty blob", err)
	if len(got) != 0 {
		t.Errorf("empty blob = %q", got)
	}
	_, err = s.Blob(ctx, "a", d2)
	wantErr(t, "blob never stored", err, store.ErrNotFound)

	missing, err := s.MissingBlobs(ctx, "a", []baseline.Digest{d3, d1, d2, d3, empty, d2})
	must(t, "missing blobs", err)
	diff(t, "missing blobs, once each, in order", []baseline.Digest{d3, d2}, missing)
	missing, err = s.MissingBlobs(ctx, "a", nil)
	must(t, "missing blobs of none", err)
	diff(t, "missing blobs of none", []baseline.Digest(nil), missing, cmpopts.EquateEmpty())

	// Per tenant: b does not see a's blob, and stores its own.
	_, err = s.Blob(ctx, "b", d1)
	wantErr(t, "tenant b's blob", err, store.ErrNotFound)
	must(t, "put blob of tenant b", s.PutBlob(ctx, "b", d2, c2))
	missing, err = s.MissingBlobs(ctx, "b", []baseline.Digest{d1, d2})
	must(t, "missing blobs", err)
	diff(t, "tenant b's missing blobs", []baseline.Digest{d1}, missing)
	missing, err = s.MissingBlobs(ctx, "a", []baseline.Digest{d2})
	must(t, "missing blobs", err)
	diff(t, "tenant a's missing blobs", []baseline.Digest{d2}, missing)

	// Many digests at once, more than one query's worth for some stores.
	var many, wantMissing []baseline.Digest
	for i := range 1200 {
		c := fmt.Appendf(nil, "content %d", i)
		d := baseline.Sum(c)
		many = append(many, d)
		if i%20 == 0 {
			must(t, "put blob", s.PutBlob(ctx, "a", d, c))
		} else {
			wantMissing = append(wantMissing, d)
		}
	}
	missing, err = s.MissingBlobs(ctx, "a", many)
	must(t, "missing blobs", err)
	diff(t, "missing of 1200 blobs", wantMissing, missing)
}
