package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// procSample is what /proc tells of a process at one moment.
type procSample struct {
	// cpuTicks is user plus system CPU time, in 1/userHZ seconds.
	cpuTicks int64
	// rss, hwm, anon and file are VmRSS, VmHWM (peak RSS), RssAnon and
	// RssFile, in KiB.
	rss, hwm, anon, file int64
	threads              int
	// switches is the voluntary and involuntary context switches of all
	// the process's threads: how often it woke up, give or take.
	switches int64
}

// readProc reads the sample of process pid under procRoot ("/proc").
func readProc(procRoot string, pid int) (procSample, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	var s procSample
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return s, fmt.Errorf("process %d: %w", pid, err)
	}
	if s.cpuTicks, err = statCPU(b); err != nil {
		return s, fmt.Errorf("process %d: %s: %w", pid, filepath.Join(dir, "stat"), err)
	}
	st, err := readStatus(filepath.Join(dir, "status"))
	if err != nil {
		return s, fmt.Errorf("process %d: %w", pid, err)
	}
	s.rss, s.hwm, s.anon, s.file = st["VmRSS"], st["VmHWM"], st["RssAnon"], st["RssFile"]
	s.threads = int(st["Threads"])
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return s, fmt.Errorf("process %d: %w", pid, err)
	}
	for _, t := range tasks {
		ts, err := readStatus(filepath.Join(dir, "task", t.Name(), "status"))
		if err != nil {
			// The thread ended between the listing and the read.
			continue
		}
		s.switches += ts["voluntary_ctxt_switches"] + ts["nonvoluntary_ctxt_switches"]
	}
	return s, nil
}

// statCPU returns utime + stime of a /proc/PID/stat line. The command
// name, in parentheses, may hold spaces and parentheses itself: the fields
// are counted from the last ')'.
func statCPU(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' after the command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var sum int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time %q: %w", v, err)
		}
		sum += n
	}
	return sum, nil
}

// readStatus reads the numeric fields of a /proc status file; sizes stay
// in the file's unit, KiB.
func readStatus(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[name] = n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// watched is one process idle measures.
type watched struct {
	name         string
	pid          int
	first, last  procSample
	maxRSS       int64
	window       time.Duration
	cpuSeconds   float64
	switchesRate float64
}

func cmdIdle(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("idle", stderr)
	settle := fs.Duration("settle", time.Minute, "quiet time before the window")
	window := fs.Duration("window", time.Minute, "the time CPU use is measured over")
	title := fs.String("title", "idle", "what is measured, for the table's first column")
	procRoot := fs.String("proc", "/proc", "the proc file system")
	if err := parse(fs, args, true); err != nil {
		return err
	}
	if fs.NArg() == 0 || *window <= 0 {
		return fmt.Errorf("%w: want NAME=PID for each process, and a positive -window", errUsage)
	}
	var ps []*watched
	for _, a := range fs.Args() {
		name, v, ok := strings.Cut(a, "=")
		pid, err := strconv.Atoi(v)
		if !ok || name == "" || err != nil || pid <= 0 {
			return fmt.Errorf("%w: %q: want NAME=PID", errUsage, a)
		}
		ps = append(ps, &watched{name: name, pid: pid})
	}
	sampleAll := func() error {
		for _, p := range ps {
			s, err := readProc(*procRoot, p.pid)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			p.last = s
			p.maxRSS = max(p.maxRSS, s.rss)
		}
		return nil
	}
	// Settle, checking once a second that every process still runs.
	for end := time.Now().Add(*settle); time.Now().Before(end); time.Sleep(min(time.Second, time.Until(end))) {
		if err := sampleAll(); err != nil {
			return err
		}
	}
	if err := sampleAll(); err != nil {
		return err
	}
	start := time.Now()
	for _, p := range ps {
		p.first, p.maxRSS = p.last, p.last.rss
	}
	for end := start.Add(*window); time.Now().Before(end); {
		time.Sleep(min(time.Second, time.Until(end)))
		if err := sampleAll(); err != nil {
			return err
		}
	}
	took := time.Since(start)
	for _, p := range ps {
		p.window = took
		p.cpuSeconds = float64(p.last.cpuTicks-p.first.cpuTicks) / userHZ
		p.switchesRate = float64(p.last.switches-p.first.switches) / took.Seconds()
	}
	printIdle(stdout, *title, ps)
	return nil
}

func printIdle(w io.Writer, title string, ps []*watched) {
	cols := []string{title}
	for _, p := range ps {
		cols = append(cols, p.name)
	}
	for _, p := range ps[1:] {
		cols = append(cols, ps[0].name+"/"+p.name)
	}
	row := func(cells []string) {
		fmt.Fprintf(w, "%-30s", cells[0])
		for i, c := range cells[1:] {
			width := 20
			if i >= len(ps) {
				width = 26
			}
			// "×" takes two bytes and one column.
			if strings.Contains(c, "×") {
				width++
			}
			fmt.Fprintf(w, " %*s", width, c)
		}
		fmt.Fprintln(w)
	}
	row(cols)
	type metric struct {
		name  string
		val   func(*watched) float64
		shown func(*watched) string
	}
	window := ps[0].window
	metrics := []metric{
		{fmt.Sprintf("CPU time over %.0f s", window.Seconds()), func(p *watched) float64 { return p.cpuSeconds },
			func(p *watched) string {
				return fmt.Sprintf("%.2f s (%.3f%%)", p.cpuSeconds, 100*p.cpuSeconds/p.window.Seconds())
			}},
		{"RSS at the end (VmRSS)", func(p *watched) float64 { return float64(p.last.rss) }, func(p *watched) string { return mib(p.last.rss) }},
		{"largest RSS in the window", func(p *watched) float64 { return float64(p.maxRSS) }, func(p *watched) string { return mib(p.maxRSS) }},
		{"anonymous / file RSS", func(p *watched) float64 { return float64(p.last.anon) },
			func(p *watched) string { return mib(p.last.anon) + " / " + mib(p.last.file) }},
		{"peak RSS since start (VmHWM)", func(p *watched) float64 { return float64(p.last.hwm) }, func(p *watched) string { return mib(p.last.hwm) }},
		{"threads", func(p *watched) float64 { return float64(p.last.threads) }, func(p *watched) string { return strconv.Itoa(p.last.threads) }},
		{"context switches per second", func(p *watched) float64 { return p.switchesRate }, func(p *watched) string { return fmt.Sprintf("%.2f", p.switchesRate) }},
	}
	for _, m := range metrics {
		cells := []string{m.name}
		for _, p := range ps {
			cells = append(cells, m.shown(p))
		}
		for _, p := range ps[1:] {
			cells = append(cells, ratio(m.val(ps[0]), m.val(p)))
		}
		row(cells)
	}
}
