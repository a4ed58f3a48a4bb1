package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// latencyCase is the outcome of one kind of change, over its samples.
type latencyCase struct {
	name string
	// received is the collector's received_at minus the time of the
	// write; visible is the first poll that showed the change minus the
	// same time.
	received, visible []time.Duration
	// fromFirst is received_at minus the first write of a burst.
	fromFirst []time.Duration
	// reports counts the reports the collector received for the case.
	reports int
}

// prober edits files and waits for the collector to show the edits.
type prober struct {
	client  *api.Client
	host    string
	poll    time.Duration
	timeout time.Duration
	// seq is the sequence of the collector's newest report of the host.
	seq uint64
}

// seen is what the collector showed once an edit was visible.
type seen struct {
	at       time.Time // when the poll that showed it returned
	received time.Time // the report's received_at
	sequence uint64
}

// current returns the host's drift at the collector.
func (p *prober) current(ctx context.Context) (api.HostDrift, error) {
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return p.client.HostDrift(rctx, p.host)
}

// wait polls the collector until every key of want is a change whose new
// state has the wanted digest.
func (p *prober) wait(ctx context.Context, want map[string]baseline.Digest) (seen, error) {
	deadline := time.Now().Add(p.timeout)
	for {
		d, err := p.current(ctx)
		now := time.Now()
		if err != nil {
			return seen{}, err
		}
		if d.Drift != nil && d.Received != nil && d.Sequence > 0 && shows(d.Drift, want) {
			return seen{at: now, received: *d.Received, sequence: d.Sequence}, nil
		}
		if now.After(deadline) {
			return seen{}, fmt.Errorf("the collector did not show %d edited files within %v (newest report #%d)", len(want), p.timeout, d.Sequence)
		}
		time.Sleep(p.poll)
	}
}

// shows reports whether the drift has every wanted change.
func shows(d *baseline.Drift, want map[string]baseline.Digest) bool {
	n := 0
	for i := range d.Changes {
		c := &d.Changes[i]
		if dg, ok := want[c.Key]; ok && c.New != nil && c.New.Digest == dg {
			n++
		}
	}
	return n == len(want)
}

// edit writes content to path and returns when the write returned, with
// the key and digest the agent will report.
func edit(path string, content []byte) (time.Time, string, baseline.Digest, error) {
	if err := os.WriteFile(path, content, 0o644); err != nil {
		return time.Time{}, "", baseline.Digest{}, fmt.Errorf("edit %s: %w", path, err)
	}
	return time.Now(), baseline.Key(baseline.KindFile, path), baseline.Digest(sha256.Sum256(content)), nil
}

// edited returns the file's content with a line that makes it new.
func edited(orig []byte, tag string) []byte {
	return fmt.Appendf(orig[:len(orig):len(orig)], "svcbench_edit = %q\n", tag)
}

func cmdLatency(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("latency", stderr)
	var cf collectorFlags
	cf.register(fs)
	dir := fs.String("dir", "", "the watched `directory` whose files are edited (required)")
	singles := fs.Int("singles", 50, "single edits, one file each, one at a time")
	bursts := fs.Int("bursts", 5, "bursts of each kind")
	burstWrites := fs.Int("burst-writes", 100, "writes of one file in a one-file burst")
	burstSpan := fs.Duration("burst-span", 100*time.Millisecond, "the time the writes of a one-file burst are spread over")
	burstFiles := fs.Int("burst-files", 50, "files written at once in a many-file burst")
	poll := fs.Duration("poll", 15*time.Millisecond, "pause between two polls of the collector")
	gap := fs.Duration("gap", 300*time.Millisecond, "pause after an edit is visible before the next one")
	timeout := fs.Duration("timeout", time.Minute, "longest wait for one edit to show")
	if err := parse(fs, args, false); err != nil {
		return err
	}
	client, err := cf.client()
	if err != nil {
		return err
	}
	if *dir == "" || *singles < 1 || *bursts < 0 || *burstWrites < 1 || *burstFiles < 1 {
		return fmt.Errorf("%w: -dir is required; -singles, -burst-writes and -burst-files must be positive", errUsage)
	}
	all, err := listFiles(*dir)
	if err != nil {
		return err
	}
	files, err := spread(all, *singles+*bursts+*bursts**burstFiles)
	if err != nil {
		return fmt.Errorf("pick files to edit: %w", err)
	}
	ctx := context.Background()
	p := &prober{client: client, host: cf.host, poll: *poll, timeout: *timeout}
	d, err := p.current(ctx)
	if err != nil {
		return err
	}
	p.seq = d.Sequence
	// pause waits between two cases, a little longer or shorter each
	// time, so that edits do not fall in step with the agent's timers.
	pause := func(i int) { time.Sleep(*gap + time.Duration(i*37%100)*time.Millisecond) }
	read := func(path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		return b, nil
	}
	next := func() string { f := files[0]; files = files[1:]; return f }

	var cases []*latencyCase
	single := &latencyCase{name: "single edit"}
	cases = append(cases, single)
	for i := range *singles {
		path := next()
		orig, err := read(path)
		if err != nil {
			return err
		}
		t, key, dg, err := edit(path, edited(orig, fmt.Sprintf("single %d", i)))
		if err != nil {
			return err
		}
		s, err := p.wait(ctx, map[string]baseline.Digest{key: dg})
		if err != nil {
			return fmt.Errorf("single edit %d of %s: %w", i+1, path, err)
		}
		single.add(s, t, t, p)
		pause(i)
	}

	oneFile := &latencyCase{name: fmt.Sprintf("one file, %d writes in %v", *burstWrites, *burstSpan)}
	manyFiles := &latencyCase{name: fmt.Sprintf("%d files at once", *burstFiles)}
	if *bursts > 0 {
		cases = append(cases, oneFile, manyFiles)
	}
	for b := range *bursts {
		path := next()
		orig, err := read(path)
		if err != nil {
			return err
		}
		var first, last time.Time
		var key string
		var dg baseline.Digest
		start := time.Now()
		for k := range *burstWrites {
			last, key, dg, err = edit(path, edited(orig, fmt.Sprintf("burst %d write %d", b, k)))
			if err != nil {
				return err
			}
			if k == 0 {
				first = last
			}
			time.Sleep(time.Until(start.Add(*burstSpan * time.Duration(k+1) / time.Duration(*burstWrites))))
		}
		s, err := p.wait(ctx, map[string]baseline.Digest{key: dg})
		if err != nil {
			return fmt.Errorf("one-file burst %d of %s: %w", b+1, path, err)
		}
		oneFile.add(s, first, last, p)
		pause(b)

		want := map[string]baseline.Digest{}
		var paths []string
		var contents [][]byte
		for range *burstFiles {
			path := next()
			orig, err := read(path)
			if err != nil {
				return err
			}
			paths = append(paths, path)
			contents = append(contents, edited(orig, fmt.Sprintf("many %d", b)))
		}
		for i, path := range paths {
			last, key, dg, err = edit(path, contents[i])
			if err != nil {
				return err
			}
			if i == 0 {
				first = last
			}
			want[key] = dg
		}
		s, err = p.wait(ctx, want)
		if err != nil {
			return fmt.Errorf("many-file burst %d: %w", b+1, err)
		}
		manyFiles.add(s, first, last, p)
		pause(b + 1)
	}
	printLatency(stdout, cases, *poll)
	return nil
}

// add records one sample: the edit's first and last writes and what the
// collector showed.
func (c *latencyCase) add(s seen, first, last time.Time, p *prober) {
	c.received = append(c.received, s.received.Sub(last))
	c.visible = append(c.visible, s.at.Sub(last))
	c.fromFirst = append(c.fromFirst, s.received.Sub(first))
	c.reports += int(s.sequence - p.seq)
	p.seq = s.sequence
}

func printLatency(w io.Writer, cases []*latencyCase, poll time.Duration) {
	line := func(a ...any) {
		fmt.Fprintf(w, "%-34s %4s %9s %9s %9s %11s %11s %8s\n", a...)
	}
	line("change → collector", "n", "p50", "p99", "max", "visible p50", "visible p99", "reports")
	for _, c := range cases {
		n := len(c.received)
		line(c.name, fmt.Sprint(n), secs(percentile(c.received, 50)), secs(percentile(c.received, 99)), secs(percentile(c.received, 100)),
			secs(percentile(c.visible, 50)), secs(percentile(c.visible, 99)), fmt.Sprintf("%.2f", float64(c.reports)/float64(max(n, 1))))
	}
	for _, c := range cases[1:] {
		fmt.Fprintf(w, "  %s, from the first write: p50 %s, max %s\n", c.name, secs(percentile(c.fromFirst, 50)), secs(percentile(c.fromFirst, 100)))
	}
	fmt.Fprintf(w, "  p50/p99/max: the collector's received_at minus the time the (last) write returned; visible: the first\n"+
		"  GET /api/v1/hosts/{id}/drift (polled every %v) showing it; reports: reports received per case.\n", poll)
	fmt.Fprintf(w, "  %s\n", strings.TrimSpace(aim(cases[0])))
}

// aim compares the single edits with the aim: p50 below 1 s, p99 below
// 3 s.
func aim(c *latencyCase) string {
	p50, p99 := percentile(c.received, 50), percentile(c.received, 99)
	verdict := "met"
	if p50 >= time.Second || p99 >= 3*time.Second {
		verdict = "NOT met"
	}
	return fmt.Sprintf("aim for single edits (p50 < 1 s, p99 < 3 s): %s (p50 %s, p99 %s)", verdict, secs(p50), secs(p99))
}
