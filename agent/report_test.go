package agent

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/agent/internal/config"
	"github.com/driftwatch/driftwatch/agent/internal/enrollment"
	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

const (
	testToken      = "dwe_token"
	testCredential = "dwh_credential"
)

// fakeCollector implements the part of API v1 an agent uses: enroll, blobs
// and reports. It refuses a report that references a blob it does not have.
type fakeCollector struct {
	mu sync.Mutex
	// enrolls are the enrollment requests received.
	enrolls []api.EnrollRequest
	// blobs is the content received, by hex digest.
	blobs map[string][]byte
	// reports are the reports accepted.
	reports []api.Report
	// failReport, when not 0, is the status every report is answered with.
	failReport int
}

func (f *fakeCollector) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		var req api.EnrollRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		f.mu.Lock()
		f.enrolls = append(f.enrolls, req)
		f.mu.Unlock()
		if req.Token != testToken {
			writeError(w, http.StatusUnauthorized, "enrollment token not known", "token")
			return
		}
		writeJSON(w, http.StatusOK, api.EnrollResponse{HostID: "h-0001", Tenant: "acme", Credential: testCredential})
	})
	mux.HandleFunc("HEAD "+api.PathBlobs+"{digest}", f.authorized(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		_, ok := f.blobs[r.PathValue("digest")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	mux.HandleFunc("PUT "+api.PathBlobs+"{digest}", f.authorized(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		if d := r.PathValue("digest"); baseline.Sum(b).String() != d {
			writeError(w, http.StatusBadRequest, "content does not match its digest", "")
			return
		}
		f.mu.Lock()
		f.blobs[r.PathValue("digest")] = b
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	mux.HandleFunc("POST "+api.PathReports, f.authorized(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "gzip" {
			writeError(w, http.StatusUnsupportedMediaType, "want gzip", "")
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		var rep api.Report
		if err := json.NewDecoder(zr).Decode(&rep); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failReport != 0 {
			writeError(w, f.failReport, "report refused by the test", "report.drift")
			return
		}
		for _, d := range rep.Blobs {
			if _, ok := f.blobs[d.String()]; !ok {
				writeError(w, http.StatusBadRequest, "blob "+d.String()+" was not uploaded", "report.blobs")
				return
			}
		}
		f.reports = append(f.reports, rep)
		writeJSON(w, http.StatusOK, api.ReportResponse{Sequence: rep.Sequence, BaselineVersion: 1})
	}))
	return mux
}

func (f *fakeCollector) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testCredential {
			writeError(w, http.StatusUnauthorized, "credential not known", "")
			return
		}
		h(w, r)
	}
}

func (f *fakeCollector) received() ([]api.EnrollRequest, []api.Report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.EnrollRequest(nil), f.enrolls...), append([]api.Report(nil), f.reports...)
}

func (f *fakeCollector) setFailReport(status int) {
	f.mu.Lock()
	f.failReport = status
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, api.Error{Error: msg, Field: field})
}

// startCollector starts a fake collector over TLS and returns it with its
// URL and certificate fingerprint.
func startCollector(t *testing.T) (*fakeCollector, string, string) {
	t.Helper()
	f := &fakeCollector{blobs: map[string][]byte{}}
	srv := httptest.NewUnstartedServer(f.handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return f, srv.URL, api.CertFingerprint(srv.Certificate().Raw)
}

// newTestAgent makes a tree of text files and an agent whose files source
// watches it.
func newTestAgent(t *testing.T) (*Agent, string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "etc")
	for rel, content := range map[string]string{
		"app.conf":         "listen = 8080\n",
		"ssh/sshd_config":  "PermitRootLogin no\n",
		"motd":             "welcome\n",
		"cron.d/backup":    "0 3 * * * root /usr/local/bin/backup\n",
		"identical-1.conf": "same\n",
		"identical-2.conf": "same\n",
	} {
		writeFile(t, filepath.Join(root, rel), content)
	}
	src := fmt.Sprintf("state_dir = %q\nhost { name = \"report-host\" }\nfiles \"etc\" { paths = [%q] }\n", filepath.Join(dir, "state"), root)
	cfg, err := config.Parse([]byte(src), "agent.hcl")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, zaptest.NewLogger(t), "test-1.0")
	if err != nil {
		t.Fatal(err)
	}
	return a, root
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEnroll(t *testing.T) {
	ctx := context.Background()
	f, url, fp := startCollector(t)

	t.Run("pinned fingerprint", func(t *testing.T) {
		a, _ := newTestAgent(t)
		// The form openssl prints: upper case, colons.
		var colons []string
		for i := 0; i < len(fp); i += 2 {
			colons = append(colons, strings.ToUpper(fp[i:i+2]))
		}
		e, seen, err := a.Enroll(ctx, url, testToken, "sha256:"+strings.Join(colons, ":"), false)
		if err != nil {
			t.Fatal(err)
		}
		if seen != "" {
			t.Errorf("seen = %q for a given fingerprint, want empty", seen)
		}
		if e.Fingerprint != fp || e.HostID != "h-0001" || e.Tenant != "acme" || e.Credential != testCredential || e.CollectorURL != url {
			t.Errorf("enrollment = %+v", e)
		}
		fi, err := os.Stat(enrollment.Path(a.Store().Dir()))
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("collector.json mode %04o, want 0600", fi.Mode().Perm())
		}
		saved, err := a.Enrollment()
		if err != nil {
			t.Fatal(err)
		}
		if saved.Fingerprint != fp || saved.Credential != testCredential || saved.LastSequence != 0 {
			t.Errorf("saved enrollment = %+v", saved)
		}
		enrolls, _ := f.received()
		last := enrolls[len(enrolls)-1]
		if last.Host.Name != "report-host" || last.AgentVersion != "test-1.0" {
			t.Errorf("enroll request = %+v", last)
		}
	})

	t.Run("trust on first use", func(t *testing.T) {
		a, _ := newTestAgent(t)
		e, seen, err := a.Enroll(ctx, url, testToken, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if seen != fp || e.Fingerprint != fp {
			t.Errorf("seen %q, pinned %q; want the server's %s", seen, e.Fingerprint, fp)
		}
	})

	refused := []struct {
		name, token, fingerprint string
		check                    func(t *testing.T, err error)
	}{
		{"wrong fingerprint", testToken, strings.Repeat("ab", 32), func(t *testing.T, err error) {
			if !errors.Is(err, api.ErrFingerprintMismatch) {
				t.Errorf("err = %v, want ErrFingerprintMismatch", err)
			}
		}},
		{"unknown token", "wrong", fp, func(t *testing.T, err error) {
			var se *api.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !api.IsPermanent(err) {
				t.Errorf("err = %v, want a permanent 401", err)
			}
		}},
		{"no token", "", fp, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "no enrollment token") {
				t.Errorf("err = %v", err)
			}
		}},
		{"malformed fingerprint", testToken, "abc", func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "fingerprint") {
				t.Errorf("err = %v", err)
			}
		}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestAgent(t)
			before, _ := f.received()
			_, _, err := a.Enroll(ctx, url, tt.token, tt.fingerprint, false)
			if err == nil {
				t.Fatal("enrolled")
			}
			tt.check(t, err)
			if _, err := a.Enrollment(); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after a refused enrollment: %v, want nothing saved", err)
			}
			if tt.name == "wrong fingerprint" {
				if after, _ := f.received(); len(after) != len(before) {
					t.Error("the token was sent to a collector whose certificate does not match the pin")
				}
			}
		})
	}

	t.Run("fingerprint with http", func(t *testing.T) {
		a, _ := newTestAgent(t)
		_, _, err := a.Enroll(ctx, "http://127.0.0.1:1", testToken, fp, true)
		if err == nil || !strings.Contains(err.Error(), "not an https URL") {
			t.Errorf("err = %v", err)
		}
	})
}

// enrolledAgent returns an agent enrolled at a fresh fake collector, with
// an approved baseline of its tree.
func enrolledAgent(t *testing.T) (*Agent, string, *fakeCollector) {
	t.Helper()
	ctx := context.Background()
	f, url, fp := startCollector(t)
	a, root := newTestAgent(t)
	if _, _, err := a.Enroll(ctx, url, testToken, fp, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Approve(ctx, nil, Approval{Reason: "initial", By: "test"}); err != nil {
		t.Fatal(err)
	}
	return a, root, f
}

func check(t *testing.T, a *Agent) (*baseline.Drift, *baseline.Meta) {
	t.Helper()
	d, m, err := a.Check(context.Background(), SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

func TestReport(t *testing.T) {
	ctx := context.Background()
	a, root, f := enrolledAgent(t)

	// First report: the drift and the full snapshot with all its content.
	writeFile(t, filepath.Join(root, "ssh/sshd_config"), "PermitRootLogin yes\n")
	d, m := check(t, a)
	if len(d.Changes) != 1 {
		t.Fatalf("drift has %d changes, want 1", len(d.Changes))
	}
	resp, err := a.Report(ctx, d, m)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Sequence != 1 {
		t.Errorf("first report acknowledged as sequence %d, want 1", resp.Sequence)
	}
	_, reps := f.received()
	if len(reps) != 1 {
		t.Fatalf("collector has %d reports, want 1", len(reps))
	}
	first := reps[0]
	if first.Snapshot == nil {
		t.Fatal("first report has no snapshot")
	}
	snap, err := baseline.Unmarshal(first.Snapshot)
	if err != nil {
		t.Fatalf("first report's snapshot: %v", err)
	}
	if snap.Digest() != first.SnapshotDigest || first.SnapshotDigest != d.SnapshotDigest {
		t.Errorf("snapshot digest %s, report's %s, drift's %s: want one", snap.Digest().Short(), first.SnapshotDigest.Short(), d.SnapshotDigest.Short())
	}
	if first.Sequence != 1 || first.ItemCount != len(snap.Items) || first.AgentVersion != "test-1.0" || len(first.Sources) != 1 || first.Sources[0].Name != "files.etc" {
		t.Errorf("first report: sequence %d, item_count %d (snapshot has %d), agent %q, sources %+v",
			first.Sequence, first.ItemCount, len(snap.Items), first.AgentVersion, first.Sources)
	}
	if first.Drift == nil || len(first.Drift.Changes) != 1 {
		t.Errorf("first report's drift = %+v", first.Drift)
	}
	// Five distinct contents (two files share one); the fake collector
	// refuses a report whose blobs were not uploaded before it.
	want := snap.ContentDigests()
	if len(want) != 5 {
		t.Errorf("snapshot references %d blobs, want 5", len(want))
	}
	for _, dg := range append(want, d.Changes[0].Old.Content, d.Changes[0].New.Content) {
		if !contains(first.Blobs, dg) {
			t.Errorf("first report's blobs lack %s", dg.Short())
		}
	}
	if en, err := a.Enrollment(); err != nil || en.LastSequence != 1 || !en.SnapshotSent {
		t.Errorf("after the first report: %+v, %v; want last_sequence 1, snapshot sent", en, err)
	}

	// Second report: only the drift, with the content of the new change.
	writeFile(t, filepath.Join(root, "new.conf"), "added = true\n")
	d, m = check(t, a)
	if resp, err = a.Report(ctx, d, m); err != nil {
		t.Fatal(err)
	}
	_, reps = f.received()
	if len(reps) != 2 || resp.Sequence != 2 {
		t.Fatalf("collector has %d reports, acknowledged %d; want 2 and 2", len(reps), resp.Sequence)
	}
	second := reps[1]
	if second.Sequence != 2 || second.Snapshot != nil || second.Drift == nil || len(second.Drift.Changes) != 2 {
		t.Errorf("second report: sequence %d, snapshot %d bytes, drift %+v; want 2, none, two changes", second.Sequence, len(second.Snapshot), second.Drift)
	}
	full, err := a.Snapshot(ctx, SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.SnapshotDigest != full.Digest() || second.ItemCount != len(full.Items) || len(second.Sources) != 1 {
		t.Errorf("second report: digest %s, %d items, sources %+v; the host has %s, %d items",
			second.SnapshotDigest.Short(), second.ItemCount, second.Sources, full.Digest().Short(), len(full.Items))
	}
	added := full.Lookup("file:" + filepath.Join(root, "new.conf"))
	if added == nil || !contains(second.Blobs, added.Content) {
		t.Errorf("second report's blobs %v lack the added file's content", second.Blobs)
	}

	// A report the collector refuses is an error that says why.
	f.setFailReport(http.StatusBadRequest)
	_, err = a.Report(ctx, d, m)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !api.IsPermanent(err) || !strings.Contains(err.Error(), "report refused by the test") {
		t.Errorf("refused report: %v; want a permanent 400 with the collector's message", err)
	}
	// Its sequence is used up: a later report never reuses it.
	if en, err := a.Enrollment(); err != nil || en.LastSequence != 3 {
		t.Errorf("after a refused report: %+v, %v; want last_sequence 3", en, err)
	}
}

func TestReportResendsSnapshotUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	a, _, f := enrolledAgent(t)
	d, m := check(t, a)
	f.setFailReport(http.StatusServiceUnavailable)
	_, err := a.Report(ctx, d, m)
	if err == nil || api.IsPermanent(err) {
		t.Fatalf("report to an unavailable collector: %v, want a temporary error", err)
	}
	f.setFailReport(0)
	if _, err := a.Report(ctx, d, m); err != nil {
		t.Fatal(err)
	}
	_, reps := f.received()
	if len(reps) != 1 || reps[0].Sequence != 2 || reps[0].Snapshot == nil {
		t.Fatalf("reports %d; want one, sequence 2, with the snapshot the lost first report carried", len(reps))
	}
}

func TestReportHostChangedAfterCheck(t *testing.T) {
	ctx := context.Background()
	a, root, f := enrolledAgent(t)
	d, m := check(t, a)
	if !d.Empty() {
		t.Fatalf("drift right after approval: %+v", d.Changes)
	}
	writeFile(t, filepath.Join(root, "motd"), "changed in between\n")
	if _, err := a.Report(ctx, d, m); err != nil {
		t.Fatal(err)
	}
	_, reps := f.received()
	rep := reps[0]
	snap, err := baseline.Unmarshal(rep.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SnapshotDigest != snap.Digest() || rep.Drift.SnapshotDigest != snap.Digest() || len(rep.Drift.Changes) != 1 {
		t.Errorf("report of a host that changed after the check: digest %s, drift's %s with %d changes, snapshot %s; want one state",
			rep.SnapshotDigest.Short(), rep.Drift.SnapshotDigest.Short(), len(rep.Drift.Changes), snap.Digest().Short())
	}
}

func TestReportNotEnrolled(t *testing.T) {
	a, _ := newTestAgent(t)
	if _, err := a.Approve(context.Background(), nil, Approval{Reason: "initial", By: "test"}); err != nil {
		t.Fatal(err)
	}
	d, m := check(t, a)
	if _, err := a.Report(context.Background(), d, m); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("report before enrollment: %v, want os.ErrNotExist", err)
	}
}

func contains(ds []baseline.Digest, d baseline.Digest) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}
