package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/agent"
	"github.com/driftwatch/driftwatch/collector/api"
)

// spoolEntries counts the entry files of the agent's spool in stateDir:
// the queued reports, events and gap records, as they are on disk.
func spoolEntries(stateDir string) (int, error) {
	ents, err := os.ReadDir(filepath.Join(stateDir, "spool"))
	if err != nil {
		return 0, fmt.Errorf("spool of %s: %w", stateDir, err)
	}
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".entry") {
			n++
		}
	}
	return n, nil
}

// statusAfter waits until the agent's status file was written after t
// and returns it. The service writes it after each report it sends and
// every 10 seconds.
func statusAfter(ctx context.Context, stateDir string, t time.Time, timeout time.Duration) (*agent.ServiceStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := agent.ReadServiceStatus(stateDir)
		if err == nil && st.Updated.After(t) {
			return st, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("last written %s", st.Updated.Format(time.RFC3339Nano))
			}
			return nil, fmt.Errorf("no status of the agent written after %s within %v: %w", t.Format(time.RFC3339Nano), timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func cmdEdit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("edit", stderr)
	dir := fs.String("dir", "", "the watched `directory` whose files are edited (required)")
	n := fs.Int("files", 10000, "files to edit, each once")
	burst := fs.Int("burst", 100, "files edited at once")
	gap := fs.Duration("gap", 400*time.Millisecond, "pause between two bursts: longer than the agent's debounce makes each burst one report")
	state := fs.String("state", "", "the agent's state `directory`: when set, wait until the agent has queued every edit")
	timeout := fs.Duration("timeout", 5*time.Minute, "longest wait for the agent to queue the edits")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	if *dir == "" || *n < 1 || *burst < 1 {
		return fmt.Errorf("%w: -dir is required; -files and -burst must be positive", errUsage)
	}
	all, err := listFiles(*dir)
	if err != nil {
		return err
	}
	files, err := spread(all, *n)
	if err != nil {
		return fmt.Errorf("pick files to edit: %w", err)
	}
	var before *agent.ServiceStatus
	if *state != "" {
		if before, err = agent.ReadServiceStatus(*state); err != nil {
			return err
		}
	}
	start := time.Now()
	bursts := 0
	for i := 0; i < len(files); i += *burst {
		if i > 0 {
			time.Sleep(*gap)
		}
		for _, path := range files[i:min(i+*burst, len(files))] {
			orig, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			if err := os.WriteFile(path, edited(orig, "spool"), 0o644); err != nil {
				return fmt.Errorf("edit %s: %w", path, err)
			}
		}
		bursts++
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "%-44s %d files in %d bursts of %d, %v apart, in %.1f s\n", "changes made", *n, bursts, *burst, *gap, took.Seconds())
	if *state == "" {
		return nil
	}
	end := time.Now()
	st, entries, reached, err := waitQueued(context.Background(), *state, before.OpenChanges+*n, *timeout)
	if err != nil {
		return err
	}
	sp := st.Spool
	fmt.Fprintf(stdout, "%-44s %d entries, %.1f MiB, %d coalesced, %d dropped (the agent's drift showed every edit %.1f s after the last)\n",
		"spool before the collector is back", entries, float64(sp.Bytes)/(1<<20), sp.Coalesced, sp.Dropped, reached.Sub(end).Seconds())
	return nil
}

// waitQueued waits until the agent's drift has want open changes and the
// report of that drift is in the spool, then for a status written after
// that. It returns that status, the entries on disk and when the drift
// first had want open changes.
//
// The agent writes its status with the new drift before it appends the
// report, so the report is taken to be in once the spool changed after
// the drift was seen and then stayed as it is for a second; or, should
// the report not change the number of entries (a full spool makes room),
// once it stayed as it is for ten seconds.
func waitQueued(ctx context.Context, stateDir string, want int, timeout time.Duration) (*agent.ServiceStatus, int, time.Time, error) {
	deadline := time.Now().Add(timeout)
	last, stableSince := -1, time.Now()
	var reached time.Time
	for {
		st, err := agent.ReadServiceStatus(stateDir)
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		n, err := spoolEntries(stateDir)
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		now := time.Now()
		if n != last {
			last, stableSince = n, now
		}
		if st.OpenChanges == want && reached.IsZero() {
			reached = now
		}
		if !reached.IsZero() {
			quiet := now.Sub(stableSince)
			if stableSince.After(reached) && quiet >= time.Second || min(quiet, now.Sub(reached)) >= 10*time.Second {
				break
			}
		}
		if now.After(deadline) {
			return nil, 0, time.Time{}, fmt.Errorf("the agent did not queue the edits within %v: %d open changes (want %d), %d spool entries", timeout, st.OpenChanges, want, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, err := statusAfter(ctx, stateDir, time.Now(), 30*time.Second)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	return st, last, reached, nil
}

// sent is one "report sent" line of the agent's log.
type sent struct {
	at       time.Time
	sequence uint64
	changes  int
}

// reportsSent reads the reports the agent's JSON log says it sent at or
// after since.
func reportsSent(path string, since time.Time) ([]sent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agent log: %w", err)
	}
	defer f.Close()
	var out []sent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		if !strings.Contains(sc.Text(), `"report sent"`) {
			continue
		}
		var rec struct {
			Msg      string `json:"msg"`
			TS       string `json:"ts"`
			Sequence uint64 `json:"sequence"`
			Changes  int    `json:"changes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Msg != "report sent" {
			continue
		}
		at, err := parseLogTime(rec.TS)
		if err != nil {
			return nil, fmt.Errorf("agent log %s:%d: time %q: %w", path, line, rec.TS, err)
		}
		// The log's times are to the millisecond.
		if !at.Before(since.Truncate(time.Millisecond)) {
			out = append(out, sent{at: at, sequence: rec.Sequence, changes: rec.Changes})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("agent log %s: %w", path, err)
	}
	return out, nil
}

// ingestMetrics reads the collector's report ingest histogram from
// /metrics: the seconds spent in handling reports, and how many.
func ingestMetrics(ctx context.Context, baseURL, fingerprint string) (float64, int, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if fingerprint != "" {
		fp, err := api.NormalizeFingerprint(fingerprint)
		if err != nil {
			return 0, 0, err
		}
		tr.TLSClientConfig = &tls.Config{
			InsecureSkipVerify: true, // the pin below is the verification
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || api.CertFingerprint(raw[0]) != fp {
					return fmt.Errorf("collector certificate is not the pinned %s", fp)
				}
				return nil
			},
		}
	}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+api.PathMetrics, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("collector metrics: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("collector metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("collector metrics: %s", resp.Status)
	}
	return parseIngestMetrics(resp.Body)
}

// parseIngestMetrics reads driftwatch_report_ingest_seconds_sum and
// _count from the Prometheus text format.
func parseIngestMetrics(r io.Reader) (float64, int, error) {
	var sum float64
	count := -1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var err error
		switch name {
		case "driftwatch_report_ingest_seconds_sum":
			sum, err = strconv.ParseFloat(strings.TrimSpace(val), 64)
		case "driftwatch_report_ingest_seconds_count":
			var n float64
			n, err = strconv.ParseFloat(strings.TrimSpace(val), 64)
			count = int(n)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("collector metrics: %s: %w", name, err)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("collector metrics: %w", err)
	}
	if count < 0 {
		return 0, 0, fmt.Errorf("collector metrics: no driftwatch_report_ingest_seconds")
	}
	return sum, count, nil
}

// parseLogTime parses a time of the agent's log: zap's ISO 8601 form
// ("2026-12-01T19:05:12.171Z", "…171+0200"), or RFC 3339.
func parseLogTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04:05.000Z0700", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseEpoch parses seconds since 1970 with a fraction, as bash's
// $EPOCHREALTIME prints them.
func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || a <= 0 {
		return time.Time{}, fmt.Errorf("%q: want seconds since 1970, as $EPOCHREALTIME", s)
	}
	return time.Unix(a, b), nil
}

func cmdDrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("drain", stderr)
	var cf collectorFlags
	cf.register(fs)
	state := fs.String("state", "", "the agent's state `directory` (required)")
	logPath := fs.String("log", "", "the agent's JSON `log` (required)")
	changes := fs.Int("changes", 0, "the open changes the collector must show at the end (required)")
	sinceFlag := fs.String("since", "", "when the collector was started, in `seconds` since 1970 ($EPOCHREALTIME; default: now)")
	timeout := fs.Duration("timeout", 5*time.Minute, "longest wait for the spool to empty")
	poll := fs.Duration("poll", 20*time.Millisecond, "pause between two looks at the spool")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	client, err := cf.client()
	if err != nil {
		return err
	}
	if *state == "" || *logPath == "" || *changes < 1 {
		return fmt.Errorf("%w: -state, -log and a positive -changes are required", errUsage)
	}
	since := time.Now()
	if *sinceFlag != "" {
		if since, err = parseEpoch(*sinceFlag); err != nil {
			return fmt.Errorf("%w: -since %v", errUsage, err)
		}
	}
	ctx := context.Background()
	deadline := time.Now().Add(*timeout)
	var empty time.Time
	for {
		n, err := spoolEntries(*state)
		if err != nil {
			return err
		}
		if n == 0 {
			empty = time.Now()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the spool still holds %d entries %v after the collector started", n, time.Since(since).Round(time.Second))
		}
		time.Sleep(*poll)
	}
	st, err := statusAfter(ctx, *state, empty, 30*time.Second)
	if err != nil {
		return err
	}
	p := &prober{client: client, host: cf.host, timeout: time.Minute}
	d, err := p.current(ctx)
	if err != nil {
		return err
	}
	if d.Drift == nil || d.Received == nil || len(d.Drift.Changes) != *changes || d.Sequence != st.LastReportSequence {
		got := 0
		if d.Drift != nil {
			got = len(d.Drift.Changes)
		}
		return fmt.Errorf("the collector's newest report of the host is #%d with %d changes; want #%d (the agent's last sent) with %d", d.Sequence, got, st.LastReportSequence, *changes)
	}
	reps, err := reportsSent(*logPath, since)
	if err != nil {
		return err
	}
	if len(reps) == 0 {
		return fmt.Errorf("the agent's log %s has no report sent since %s", *logPath, since.Format(time.RFC3339Nano))
	}
	first, last := reps[0], reps[len(reps)-1]
	total := 0
	for _, r := range reps {
		total += r.changes
	}
	span := last.at.Sub(first.at)
	rate := func(n int) string {
		if span <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(n)/span.Seconds())
	}
	sp := st.Spool
	row := func(name, format string, a ...any) {
		fmt.Fprintf(stdout, "%-44s "+format+"\n", append([]any{name}, a...)...)
	}
	row("first report acknowledged", "%.2f s after the collector was started (#%d, %d changes)", first.at.Sub(since).Seconds(), first.sequence, first.changes)
	row("spool empty", "%.2f s after the collector was started", empty.Sub(since).Seconds())
	row("reports sent", "%d (sequences %d to %d) carrying %d changes in all", len(reps), first.sequence, last.sequence, total)
	row("send rate, first to last acknowledgement", "%s reports/s, %s changes/s over %.2f s", rate(len(reps)-1), rate(total-first.changes), span.Seconds())
	row("final state at the collector", "report #%d, %d changes, received %.2f s after the collector was started", d.Sequence, len(d.Drift.Changes), d.Received.Sub(since).Seconds())
	row("spool totals since the agent started", "%d coalesced, %d dropped", sp.Coalesced, sp.Dropped)
	if sum, n, err := ingestMetrics(ctx, cf.url, cf.fingerprint); err != nil {
		fmt.Fprintf(stderr, "svcbench drain: %v\n", err)
	} else {
		row("collector time handling reports", "%.2f s for %d reports since it started (driftwatch_report_ingest_seconds)", sum, n)
	}
	return nil
}
