// Command loadgen measures a collector's report ingest: it enrolls N
// simulated agents with an enrollment token, then has them post reports in
// rounds, as agents checking on a schedule do. A host's first report
// carries its snapshot (which becomes baseline v1); each later one a drift
// of -changes modified files with small text diffs. It prints reports/s,
// changes/s and the p50/p99 latency of a report. Every report is encoded
// as JSON before the clock starts; while it runs, loadgen compresses and
// sends, as an agent with a spool of encoded reports does.
//
//	go run ./bench/loadgen -collector https://127.0.0.1:8443 -fingerprint FP -token TOKEN \
//	    -hosts 1000 -reports 5 -changes 20 -concurrency 32
//
// -collector may list several collectors, comma-separated: host i enrolls
// with collector i mod n and sends its reports round-robin. The token must
// have at least -hosts uses. Exit status: 0 success, 1 some requests
// failed, 2 usage or enrollment error.
//
// -cpu NAME=COMMAND (repeatable, Linux) measures the CPU time of the
// processes COMMAND prints the IDs of (run with sh -c at the start and the
// end of the reports, so that processes started meanwhile count too), and
// prints it per report: -cpu "collector=pgrep -d' ' -f driftwatch-collector".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

func main() { os.Exit(run()) }

type host struct {
	name    string
	clients []*api.Client
	snap    *baseline.Snapshot
	base    baseline.Digest
}

func run() int {
	collectors := flag.String("collector", "", "collector base `URL`s, comma-separated (required)")
	fp := flag.String("fingerprint", "", "the collectors' certificate `fingerprint` (SHA-256)")
	token := flag.String("token", "", "enrollment `token` with at least -hosts uses (required)")
	nHosts := flag.Int("hosts", 1000, "simulated agents")
	nReports := flag.Int("reports", 5, "reports per agent; the first carries the snapshot")
	nChanges := flag.Int("changes", 20, "changes in each later report")
	items := flag.Int("items", 200, "items in each host's snapshot (at least -changes)")
	conc := flag.Int("concurrency", 32, "requests in flight")
	prefix := flag.String("prefix", "", "host name `prefix` (default: load-<time>)")
	insecure := flag.Bool("insecure", false, "allow http:// collectors")
	var cpus cpuFlags
	flag.Var(&cpus, "cpu", "`NAME=COMMAND`: measure the CPU time of the processes COMMAND lists (repeatable)")
	flag.Parse()
	if *collectors == "" || *token == "" || *nHosts < 1 || *nReports < 1 || *nChanges < 0 || *conc < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -collector and -token are required; -hosts, -reports and -concurrency must be positive")
		flag.Usage()
		return 2
	}
	*items = max(*items, *nChanges)
	if *prefix == "" {
		*prefix = "load-" + time.Now().UTC().Format("150405")
	}
	var anon []*api.Client
	for _, u := range strings.Split(*collectors, ",") {
		c, err := api.NewClient(api.ClientOptions{BaseURL: strings.TrimSpace(u), Fingerprint: *fp, Insecure: *insecure, Timeout: time.Minute})
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
			return 2
		}
		anon = append(anon, c)
	}
	ctx := context.Background()

	// Enroll.
	hosts := make([]*host, *nHosts)
	start := time.Now()
	var enrollErr atomic.Value
	pool(*nHosts, *conc, func(i int) {
		h := &host{name: fmt.Sprintf("%s-%05d", *prefix, i)}
		resp, err := anon[i%len(anon)].Enroll(ctx, api.EnrollRequest{Token: *token, Host: baseline.Host{Name: h.name}, AgentVersion: "loadgen"})
		if err != nil {
			enrollErr.CompareAndSwap(nil, fmt.Errorf("enroll %s: %w", h.name, err))
			return
		}
		for _, c := range anon {
			h.clients = append(h.clients, c.WithCredential(resp.Credential))
		}
		h.snap = snapshot(h.name, *items)
		h.base = h.snap.Digest()
		hosts[i] = h
	})
	if err, _ := enrollErr.Load().(error); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		return 2
	}
	enrollTook := time.Since(start)
	fmt.Printf("enrolled %d hosts with %d collector(s) in %v (%.0f/s)\n", *nHosts, len(anon), enrollTook.Round(time.Millisecond), float64(*nHosts)/enrollTook.Seconds())

	// Report in rounds: every host sends sequence 1, then 2, ...
	type result struct {
		took    time.Duration
		initial bool
		err     error
	}
	results := make([]result, *nHosts**nReports)
	// Every report is encoded before the clock starts, so that the load
	// generator's own work while it runs is sending (gzip and TLS), as an
	// agent's is, and leaves the cores to the collector.
	prepStart := time.Now()
	bodies := make([][]byte, *nHosts**nReports)
	var bytesSent atomic.Int64
	var encodeErr atomic.Value
	pool(len(bodies), *conc, func(k int) {
		seq, i := k / *nHosts + 1, k%*nHosts
		rep := report(hosts[i], uint64(seq), *nChanges)
		raw, err := json.Marshal(rep)
		if err != nil {
			encodeErr.CompareAndSwap(nil, fmt.Errorf("encode report %d of %s: %w", seq, hosts[i].name, err))
			return
		}
		bodies[k] = raw
		bytesSent.Add(int64(len(raw)))
	})
	if err, _ := encodeErr.Load().(error); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		return 2
	}
	fmt.Printf("encoded %d reports (%.1f MiB of JSON) in %v before the clock starts\n", len(bodies),
		float64(bytesSent.Load())/(1<<20), time.Since(prepStart).Round(time.Millisecond))
	for _, g := range cpus {
		if err := g.begin(); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: -cpu %s: %v\n", g.name, err)
			return 2
		}
	}
	urls := strings.Split(*collectors, ",")
	for i := range urls {
		urls[i] = strings.TrimSpace(urls[i])
	}
	writersStart, writersErr := scrapeWriters(urls, *fp, *insecure)
	selfStart := selfCPU()
	start = time.Now()
	for seq := 1; seq <= *nReports; seq++ {
		pool(*nHosts, *conc, func(i int) {
			h := hosts[i]
			k := (seq-1)**nHosts + i
			t0 := time.Now()
			_, err := h.clients[(i+seq)%len(h.clients)].PostReportJSON(ctx, uint64(seq), bodies[k])
			results[k] = result{took: time.Since(t0), initial: seq == 1, err: err}
			bodies[k] = nil
		})
	}
	took := time.Since(start)
	selfUsed := selfCPU() - selfStart
	writersEnd, err := scrapeWriters(urls, *fp, *insecure)
	if writersErr == nil {
		writersErr = err
	}
	for _, g := range cpus {
		if err := g.end(); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: -cpu %s: %v\n", g.name, err)
		}
	}

	var all, initial, later []time.Duration
	failed := 0
	for _, r := range results {
		if r.err != nil {
			if failed < 5 {
				fmt.Fprintf(os.Stderr, "loadgen: %v\n", r.err)
			}
			failed++
			continue
		}
		all = append(all, r.took)
		if r.initial {
			initial = append(initial, r.took)
		} else {
			later = append(later, r.took)
		}
	}
	ok := len(all)
	changes := len(later) * *nChanges
	fmt.Printf("reports: %d ok, %d failed in %v; concurrency %d, %d items per snapshot, %d changes per drift report\n",
		ok, failed, took.Round(time.Millisecond), *conc, *items, *nChanges)
	fmt.Printf("throughput: %.0f reports/s, %.0f changes/s\n", float64(ok)/took.Seconds(), float64(changes)/took.Seconds())
	fmt.Printf("latency all:     p50 %v  p99 %v  max %v\n", pct(all, 50), pct(all, 99), pct(all, 100))
	fmt.Printf("latency initial: p50 %v  p99 %v (snapshot of %d items)\n", pct(initial, 50), pct(initial, 99), *items)
	if len(later) > 0 {
		fmt.Printf("latency drift:   p50 %v  p99 %v (%d changes)\n", pct(later, 50), pct(later, 99), *nChanges)
	}
	if len(cpus) > 0 && ok > 0 {
		var total time.Duration
		for _, g := range cpus {
			total += g.used
			fmt.Printf("cpu %-12s %8.2f s  %6.2f ms/report  %3.0f%% of a core  (%d processes%s)\n", g.name+":", g.used.Seconds(),
				float64(g.used.Microseconds())/1000/float64(ok), 100*g.used.Seconds()/took.Seconds(), g.procs, g.lostNote())
		}
		fmt.Printf("cpu %-12s %8.2f s  %6.2f ms/report\n", "measured:", total.Seconds(), float64(total.Microseconds())/1000/float64(ok))
		fmt.Printf("cpu %-12s %8.2f s  %6.2f ms/report\n", "loadgen:", selfUsed.Seconds(), float64(selfUsed.Microseconds())/1000/float64(ok))
	}
	switch {
	case writersErr != nil:
		fmt.Fprintf(os.Stderr, "loadgen: store writer: %v\n", writersErr)
	case writersEnd.found && ok > 0:
		busy := writersEnd.busy - writersStart.busy
		txs, commits := writersEnd.txs-writersStart.txs, writersEnd.commits-writersStart.commits
		fmt.Printf("store writer:   %8.2f s  %6.2f ms/report  %3.0f%% busy  (%.0f transactions in %.0f commits, %.1f each)\n",
			busy, 1000*busy/float64(ok), 100*busy/took.Seconds()/float64(max(writersEnd.writers, 1)), txs, commits, txs/max(commits, 1))
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// pool runs fn(0..n-1) on conc goroutines.
func pool(n, conc int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// pct returns the p-th percentile of ds (sorted in place).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p+99)/100 - 1
	return ds[min(max(i, 0), len(ds)-1)].Round(10 * time.Microsecond)
}

// fileText is the content of a host's configuration file n at revision rev.
func fileText(n, rev int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# /etc/app/conf.d/%03d.conf\n", n)
	for l := range 12 {
		v := l * n
		if l == 6 {
			v += rev
		}
		fmt.Fprintf(&b, "option_%02d = %d\n", l, v)
	}
	return b.String()
}

func fileKey(n int) string { return fmt.Sprintf("file:/etc/app/conf.d/%03d.conf", n) }

func attrs() baseline.Attrs {
	return baseline.AttrsFromMap(map[string]string{"mode": "0644", "owner": "root", "group": "root", "type": "file"})
}

// snapshot is a host's snapshot of items configuration files.
func snapshot(name string, items int) *baseline.Snapshot {
	s := &baseline.Snapshot{
		Format:  baseline.FormatVersion,
		Host:    baseline.Host{Name: name},
		TakenAt: time.Now().UTC(),
		Sources: []baseline.SourceStatus{{Name: "files.app", Kind: "file", Status: baseline.StatusOK, Items: items, Took: 40 * time.Millisecond}},
	}
	for n := range items {
		s.Items = append(s.Items, baseline.Item{Key: fileKey(n), Source: "files.app", Attrs: attrs(), Digest: baseline.Sum([]byte(fileText(n, 0)))})
	}
	s.Sort()
	return s
}

// report is report seq of h: the snapshot first, then drift.
func report(h *host, seq uint64, changes int) api.Report {
	now := time.Now().UTC()
	if seq == 1 {
		raw, err := h.snap.Marshal()
		if err != nil {
			panic(err)
		}
		return api.Report{Sequence: 1, SnapshotDigest: h.base, ItemCount: len(h.snap.Items), TakenAt: now,
			AgentVersion: "loadgen", Sources: h.snap.Sources, Snapshot: raw}
	}
	digest := baseline.Sum(fmt.Appendf(nil, "%s/%d", h.name, seq))
	d := &baseline.Drift{Host: h.name, BaselineVersion: 1, BaselineDigest: h.base, SnapshotDigest: digest, TakenAt: now,
		Summary: baseline.Summary{Modified: changes}}
	for n := range changes {
		rev := int(seq)
		old, cur := fileText(n, 0), fileText(n, rev)
		oldIt := h.snap.Items[n]
		newIt := oldIt
		newIt.Digest = baseline.Sum([]byte(cur))
		name := strings.TrimPrefix(fileKey(n), "file:")
		d.Changes = append(d.Changes, baseline.Change{
			Key: fileKey(n), Kind: "file", Source: "files.app", Change: baseline.Modified,
			Attrs:       map[string]baseline.AttrChange{"sha256": {Old: oldIt.Digest.String(), New: newIt.Digest.String()}},
			ContentDiff: baseline.UnifiedDiff("a"+name, "b"+name, old, cur, 3),
			Old:         &oldIt, New: &newIt,
		})
	}
	return api.Report{Sequence: seq, SnapshotDigest: digest, ItemCount: len(h.snap.Items), TakenAt: now, AgentVersion: "loadgen",
		Sources: h.snap.Sources, Drift: d}
}

// cpuGroup is the processes one -cpu flag names and the CPU time they
// used over the reports.
type cpuGroup struct {
	name, cmd string
	start     map[int]time.Duration
	used      time.Duration
	procs     int // processes measured at the end
	lost      int // processes of the start gone at the end (their time is not counted)
}

// cpuFlags is the -cpu flags.
type cpuFlags []*cpuGroup

func (f *cpuFlags) String() string { return "" }

func (f *cpuFlags) Set(v string) error {
	name, cmd, ok := strings.Cut(v, "=")
	if !ok || name == "" || cmd == "" {
		return fmt.Errorf("want NAME=COMMAND, not %q", v)
	}
	*f = append(*f, &cpuGroup{name: name, cmd: cmd})
	return nil
}

func (g *cpuGroup) lostNote() string {
	if g.lost == 0 {
		return ""
	}
	return fmt.Sprintf(", %d gone before the end and not counted", g.lost)
}

// pids runs the group's command and returns the process IDs it prints.
func (g *cpuGroup) pids() ([]int, error) {
	out, err := exec.Command("sh", "-c", g.cmd).Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.cmd, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%s printed %q, not a process ID", g.cmd, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func (g *cpuGroup) begin() error {
	pids, err := g.pids()
	if err != nil {
		return err
	}
	g.start = make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if t, err := procCPU(pid); err == nil {
			g.start[pid] = t
		}
	}
	return nil
}

func (g *cpuGroup) end() error {
	pids, err := g.pids()
	if err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, pid := range pids {
		t, err := procCPU(pid)
		if err != nil {
			continue
		}
		seen[pid] = true
		g.procs++
		g.used += t - g.start[pid] // a process started meanwhile: all of its time
	}
	for pid := range g.start {
		if !seen[pid] {
			g.lost++
		}
	}
	return nil
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU returns a process's user and system CPU time so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14 and stime 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// selfCPU returns loadgen's own CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
