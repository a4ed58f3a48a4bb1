// Package e2e runs driftwatch's real binaries against each other on
// loopback: a collector on SQLite and agents running as a service.
package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/driftwatch/driftwatch/collector/api"
)

// reports reads what the collector stored of the host's reports: how many,
// and how many distinct sequence numbers.
func (e *env) reports() (n, distinct int, maxSeq uint64) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "cdata", "driftwatch.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	var max sql.NullInt64
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT sequence), max(sequence) FROM reports WHERE host_id = ?`, e.hostID).Scan(&n, &distinct, &max); err != nil {
		e.t.Fatal(err)
	}
	return n, distinct, uint64(max.Int64)
}

// queued returns the sequence numbers of the reports the agent logged as
// queued durably (across restarts), and those a kill -9 may have cut off
// between queueing and logging: the numbers between the last one logged
// before a restart and the first one after it.
func (e *env) queued() (logged, uncertain map[uint64]bool) {
	e.t.Helper()
	logged, uncertain = map[uint64]bool{}, map[uint64]bool{}
	var last uint64
	restarted := false
	for _, line := range strings.Split(e.agent.log.String(), "\n") {
		if strings.HasPrefix(line, "--- restarted ---") {
			restarted = true
			continue
		}
		if !strings.Contains(line, `"report queued"`) {
			continue
		}
		var l struct {
			Sequence uint64 `json:"sequence"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Sequence == 0 {
			continue
		}
		if restarted {
			for s := last + 1; s < l.Sequence; s++ {
				uncertain[s] = true
			}
			restarted = false
		}
		logged[l.Sequence] = true
		last = l.Sequence
	}
	return logged, uncertain
}

// sequences lists the sequence numbers of the host's stored reports.
func (e *env) sequences() []uint64 {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "cdata", "driftwatch.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT sequence FROM reports WHERE host_id = ? ORDER BY sequence`, e.hostID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// checkEachOnce checks that every report the agent queued reached the
// collector, once, and nothing else did. (A sequence number taken just
// before a crash, whose report was never queued, is skipped: the state it
// would have carried is in the next report.)
func (e *env) checkEachOnce() {
	e.t.Helper()
	want, uncertain := e.queued()
	if len(want) == 0 {
		e.t.Fatal("no report queued")
	}
	var got []uint64
	waitFor(e.t, "every queued report to arrive", func() bool {
		got = e.sequences()
		stored := map[uint64]bool{}
		for _, s := range got {
			stored[s] = true
		}
		for s := range want {
			if !stored[s] {
				return false
			}
		}
		return true
	})
	seen := map[uint64]bool{}
	for _, s := range got {
		if seen[s] {
			e.t.Errorf("report %d stored twice", s)
		}
		seen[s] = true
		if !want[s] && !uncertain[s] {
			e.t.Errorf("report %d stored but never queued", s)
		}
	}
}

// An edit of a watched file reaches the collector as drift, within the
// debounce and a send; editing it back closes it.
func TestServiceEditReachesCollector(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})

	motd := filepath.Join(e.tree, "motd")
	writeFile(t, motd, "maintenance tonight\n")
	e.waitDrift("the edit at the collector", map[string]string{"file:" + motd: "modified"})

	// An editor's save: a new file renamed over the old one.
	cfg := filepath.Join(e.tree, "ssh", "sshd_config")
	writeFile(t, cfg+".tmp", "PermitRootLogin yes\n")
	if err := os.Rename(cfg+".tmp", cfg); err != nil {
		t.Fatal(err)
	}
	e.waitDrift("the rename-over save", map[string]string{"file:" + motd: "modified", "file:" + cfg: "modified"})

	// A new directory with a file in it, and a file removed.
	writeFile(t, filepath.Join(e.tree, "new.d", "x.conf"), "x = 1\n")
	if err := os.Remove(motd); err != nil {
		t.Fatal(err)
	}
	e.waitDrift("the new directory and the removal", map[string]string{
		"file:" + motd: "removed", "file:" + cfg: "modified",
		"file:" + filepath.Join(e.tree, "new.d"): "added", "file:" + filepath.Join(e.tree, "new.d", "x.conf"): "added",
	})

	// Back to the baseline: the drift closes.
	writeFile(t, motd, "welcome\n")
	writeFile(t, cfg, "PermitRootLogin no\n")
	if err := os.RemoveAll(filepath.Join(e.tree, "new.d")); err != nil {
		t.Fatal(err)
	}
	e.waitDrift("the drift to close", map[string]string{})
	e.checkEachOnce()

	st := e.statusField("spool")
	if !strings.HasPrefix(st, "0 entries") {
		t.Errorf("status spool line: %q, want an empty spool", st)
	}
	if w := e.statusField("watch"); !strings.Contains(w, "full coverage") {
		t.Errorf("status watch line: %q", w)
	}
	e.agent.stop(t)
	if !strings.Contains(e.agent.log.String(), "driftwatch agent stopped") {
		t.Error("the agent did not log a clean stop")
	}
}

// While the collector is away, changes queue in the spool; when it comes
// back every report arrives, each once, in order.
func TestServiceCollectorAway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	e.collector.stop(t)

	want := map[string]string{}
	for i := range 100 {
		p := filepath.Join(e.tree, fmt.Sprintf("conf-%03d", i))
		writeFile(t, p, fmt.Sprintf("value = %d\n", i))
		want["file:"+p] = "added"
		if i%10 == 9 {
			// Let the watcher see bursts, not one event storm.
			time.Sleep(300 * time.Millisecond)
		}
	}
	waitFor(t, "the changes to be queued", func() bool {
		return strings.Contains(e.agent.log.String(), "conf-099") || e.lastSequence() >= 5
	})
	e.startCollector()
	e.waitDrift("all 100 changes at the collector", want)
	e.checkEachOnce()
}

// kill -9 of the agent while it sends loses nothing and duplicates nothing:
// what was spooled is sent after the restart, under the same sequence
// numbers.
func TestServiceKilledWhileSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	e.collector.stop(t)
	want := map[string]string{}
	for i := range 30 {
		p := filepath.Join(e.tree, fmt.Sprintf("f-%02d", i))
		writeFile(t, p, strings.Repeat("line\n", 100*i+1))
		want["file:"+p] = "added"
		time.Sleep(250 * time.Millisecond) // one report each
	}
	queued := e.lastSequence()
	if queued < 10 {
		t.Fatalf("only %d reports queued", queued)
	}
	e.startCollector()
	// Kill the agent as soon as the collector has some of the queue but
	// not all of it.
	waitFor(t, "the first resent reports", func() bool {
		n, _, _ := e.reports()
		return n > 1
	})
	e.agent.kill()
	if n, _, _ := e.reports(); uint64(n) == queued {
		t.Log("the whole queue was sent before the kill; the restart has nothing left to send")
	}
	e.startAgent()
	e.waitDrift("every change after the restart", want)
	e.checkEachOnce()
}

// Changes made while the agent is stopped show up at its next start: the
// drift is computed against the approved baseline, not the last scan.
func TestServiceChangesWhileStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	e.agent.stop(t)
	motd := filepath.Join(e.tree, "motd")
	writeFile(t, motd, "changed while the agent was stopped\n")
	e.startAgent()
	e.waitDrift("the change after the restart", map[string]string{"file:" + motd: "modified"})
	e.checkEachOnce()
}

// A tiny spool that fills while the collector is away drops what it must,
// and the collector receives a gap event saying what was lost.
func TestServiceSpoolFullGap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.writeAgentConfig(`spool {
  max_size  = "64KiB"
  retry_max = "500ms"
}`)
	// Replace the spool block the default config has.
	b, _ := os.ReadFile(e.acfg)
	fixed := strings.Replace(string(b), "spool {\n  retry_max = \"500ms\"\n}\n", "", 1)
	writeFile(t, e.acfg, fixed)
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	e.collector.stop(t)
	big := strings.Repeat("a long line of configuration that makes the report large\n", 40)
	want := map[string]string{}
	for i := range 25 {
		p := filepath.Join(e.tree, fmt.Sprintf("big-%02d.conf", i))
		writeFile(t, p, fmt.Sprintf("%d\n%s", i, big))
		want["file:"+p] = "added"
		time.Sleep(250 * time.Millisecond)
	}
	waitFor(t, "the spool to drop reports", func() bool {
		return strings.Contains(e.agent.log.String(), "dropped") || strings.Contains(e.statusField("spool"), "dropped") && !strings.Contains(e.statusField("spool"), " 0 dropped")
	})
	e.startCollector()
	// The newest state still arrives whole.
	e.waitDrift("the newest state", want)
	var gap *api.Event
	waitFor(t, "a gap event at the collector", func() bool {
		evs, err := e.client.HostEvents(t.Context(), e.hostID)
		if err != nil {
			return false
		}
		for i := range evs {
			if evs[i].Kind == api.EventGap {
				gap = &evs[i]
				return true
			}
		}
		return false
	})
	if !strings.Contains(gap.Summary, "reports") || !strings.Contains(gap.Summary, "lost") || len(gap.Detail) == 0 {
		t.Errorf("gap event: %+v", gap)
	}
	if !strings.Contains(string(gap.Detail), "big-") {
		t.Errorf("gap detail does not name the items it lost: %s", gap.Detail)
	}
}

// SIGHUP with a broken config keeps the running one and logs the error
// with its place; a good config is then taken.
func TestServiceReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	good, err := os.ReadFile(e.acfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, e.acfg, string(good)+"\nwatch {\n  debounce = \"soon\"\n}\n")
	e.agent.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload error", func() bool {
		return strings.Contains(e.agent.log.String(), "the running one is kept")
	})
	log := e.agent.log.String()
	if !strings.Contains(log, "agent.hcl:") || !strings.Contains(log, "soon") {
		t.Errorf("the reload error does not name the place:\n%s", log)
	}
	// Still watching with the old config.
	motd := filepath.Join(e.tree, "motd")
	writeFile(t, motd, "after a bad reload\n")
	e.waitDrift("a change after the bad reload", map[string]string{"file:" + motd: "modified"})

	// A good config that excludes motd is taken: the change leaves the
	// drift.
	fixed := strings.Replace(string(good), `exclude = ["**/*.swp"]`, fmt.Sprintf(`exclude = ["**/*.swp", %q]`, motd), 1)
	writeFile(t, e.acfg, fixed)
	e.agent.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(e.agent.log.String(), "configuration reloaded") })
	e.waitDrift("the drift under the new config", map[string]string{"file:" + motd: "removed"})
}

// With a watch limit below what the tree needs, the agent reports the
// coverage gap to the collector, and its scheduled scan of the uncovered
// part still finds a change there.
func TestServiceWatchLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `watch {
  max_watches = 2
}`)
	for _, d := range []string{"a", "b", "c", "d"} {
		writeFile(t, filepath.Join(e.tree, "deep", d, "file"), "v1\n")
	}
	// The new files are not in the baseline yet: approve them.
	must(t, agentBin, "baseline", "approve", "-config", e.acfg, "-reason", "tree for the limit test")
	b, _ := os.ReadFile(e.acfg)
	writeFile(t, e.acfg, strings.Replace(string(b), "schedule {\n", "schedule {\n  uncovered_scan = \"1s\"\n", 1))
	e.startAgent()
	var gap *api.Event
	waitFor(t, "a coverage gap event", func() bool {
		evs, err := e.client.HostEvents(t.Context(), e.hostID)
		if err != nil {
			return false
		}
		for i := range evs {
			if evs[i].Kind == api.EventCoverageGap {
				gap = &evs[i]
				return true
			}
		}
		return false
	})
	if !strings.Contains(gap.Summary, "does not cover") {
		t.Errorf("coverage gap event: %+v", gap)
	}
	if w := e.statusField("watch"); !strings.Contains(w, "NOT covered") {
		t.Errorf("status watch line: %q", w)
	}
	// Every file under deep/ is changed: the ones the watch covers are
	// seen at once, the others by the scheduled scan of the uncovered part.
	want := map[string]string{}
	for _, d := range []string{"a", "b", "c", "d"} {
		p := filepath.Join(e.tree, "deep", d, "file")
		writeFile(t, p, "v2\n")
		want["file:"+p] = "modified"
	}
	e.waitDrift("every change, watched or not", want)
}

// An approval at the collector reaches the agent: the heartbeat names the
// new baseline, the agent fetches it and compares with it.
func TestServiceBaselineSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startAgent()
	e.waitDrift("the first report", map[string]string{})
	motd := filepath.Join(e.tree, "motd")
	writeFile(t, motd, "approved change\n")
	e.waitDrift("the change", map[string]string{"file:" + motd: "modified"})
	d, err := e.client.HostDrift(t.Context(), e.hostID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Approve(t.Context(), e.hostID, api.ApproveRequest{SnapshotDigest: d.Drift.SnapshotDigest, Reason: "motd change approved", Tickets: []string{"CHG-2"}}); err != nil {
		t.Fatal(err)
	}
	e.waitDrift("no drift once the agent compares with the new baseline", map[string]string{})
	waitFor(t, "the sync in the agent's log", func() bool {
		return strings.Contains(e.agent.log.String(), "baseline synced from the collector")
	})
	out := must(t, agentBin, "baseline", "list", "-config", e.acfg)
	if !strings.Contains(out, "CHG-2") {
		t.Errorf("the local baseline list does not show the synced approval:\n%s", out)
	}
	if b := e.statusField("baseline"); !strings.HasPrefix(b, "v2 ") {
		t.Errorf("status baseline line: %q, want the collector's v2", b)
	}
}

// execSQL changes the collector's SQLite database directly, as someone
// with access to its file could.
func (e *env) execSQL(query string) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "cdata", "driftwatch.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query)
	if err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	if n, _ := res.RowsAffected(); n == 0 && strings.HasPrefix(query, "UPDATE") {
		e.t.Fatalf("%s: no row changed", query)
	}
}
