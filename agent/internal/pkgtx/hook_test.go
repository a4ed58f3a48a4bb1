package pkgtx

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// bootTimeFake is the boot time of the fake process tables.
const bootTimeFake = 1736800000 // 2025-01-13T20:26:40Z

// fakeProcess is one process of a fake /proc.
type fakeProcess struct {
	pid, ppid int
	start     uint64 // clock ticks after boot
	argv      []string
}

// fakeProc writes a /proc tree with the processes and the hook's
// loginuid ("" for none) and returns its root.
func fakeProc(t *testing.T, loginuid string, procs ...fakeProcess) string {
	t.Helper()
	root := t.TempDir()
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "stat"), fmt.Sprintf("cpu  1 2 3 4\nintr 0\nbtime %d\nprocesses 100\n", bootTimeFake))
	if loginuid != "" {
		write(filepath.Join(root, "self", "loginuid"), loginuid)
	}
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		comm := filepath.Base(p.argv[0])
		write(filepath.Join(dir, "stat"), fmt.Sprintf("%d (%s) S %d%s %d 0 0\n", p.pid, comm, p.ppid, strings.Repeat(" 0", 17), p.start))
		write(filepath.Join(dir, "cmdline"), strings.Join(p.argv, "\x00")+"\x00")
	}
	return root
}

// aptTree is `sudo apt-get install -y nginx` running its Pre-Invoke hook
// through sh -c; the hook's parent is 4103.
func aptTree(t *testing.T) string {
	return fakeProc(t, "1000",
		fakeProcess{pid: 1, ppid: 0, start: 1, argv: []string{"/sbin/init"}},
		fakeProcess{pid: 4000, ppid: 1, start: 500, argv: []string{"-bash"}},
		fakeProcess{pid: 4100, ppid: 4000, start: 90000, argv: []string{"sudo", "apt-get", "install", "-y", "nginx"}},
		fakeProcess{pid: 4101, ppid: 4100, start: 90001, argv: []string{"apt-get", "install", "-y", "nginx"}},
		fakeProcess{pid: 4103, ppid: 4101, start: 90150, argv: []string{"sh", "-c", "/usr/bin/driftwatch-agent pkgtx begin"}},
	)
}

// clock is a settable time source.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

const statusBefore = `Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.15-1~deb12u1
Description: Secure Sockets Layer toolkit
 This package contains the openssl binary.

Package: nano
Status: install ok installed
Architecture: amd64
Version: 7.2-1+deb12u1

Package: vim-tiny
Status: deinstall ok config-files
Architecture: amd64
Version: 2:9.0.1378-2
`

const statusAfter = `Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.16-1~deb12u1

Package: nginx
Status: install ok installed
Architecture: amd64
Version: 1.22.1-9+deb12u1

Package: nano
Status: install ok installed
Architecture: amd64
Version: 7.2-1+deb12u1
`

func TestPkgtxBeginEndApt(t *testing.T) {
	state := t.TempDir()
	status := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(status, []byte(statusBefore), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := &clock{time.Date(2025, 1, 14, 9, 41, 11, 0, time.UTC)}
	opt := HookOptions{
		StateDir: state, Tool: ToolApt, DpkgStatus: status, DpkgLog: filepath.Join(t.TempDir(), "none.log"),
		ProcRoot: aptTree(t), PID: 4103, Now: clk.Now,
		Getenv: env(map[string]string{"SUDO_USER": "alice", "SUDO_UID": "1000"}),
	}
	began, err := Begin(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if began.Command != "apt-get install -y nginx" || began.User != "alice" || !began.Started.Equal(clk.now) || !began.InProgress() {
		t.Fatalf("begin recorded %+v", began)
	}

	// Durable: the record is on disk, root's only, with the packages
	// installed before.
	path := filepath.Join(state, Dir, began.ID+".json")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", st.Mode().Perm())
	}
	var onDisk record
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"openssl:amd64": "3.0.15-1~deb12u1", "nano:amd64": "7.2-1+deb12u1"}, onDisk.Before); diff != "" {
		t.Errorf("packages before (-want +got):\n%s", diff)
	}
	left, _ := filepath.Glob(filepath.Join(state, Dir, ".tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// A second Pre-Invoke of the same apt run opens nothing new.
	again, err := Begin(context.Background(), opt)
	if err != nil || again.ID != began.ID {
		t.Fatalf("second begin: %v, %+v; want transaction %s again", err, again, began.ID)
	}

	log, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	log.alive = func(int, uint64) bool { return true }
	log.Now = func() time.Time { return clk.now.Add(time.Second) }
	if cur, err := log.InProgress(); err != nil || cur == nil || cur.ID != began.ID {
		t.Fatalf("in progress: %+v, %v; want %s", cur, err, began.ID)
	}

	if err := os.WriteFile(status, []byte(statusAfter), 0o644); err != nil {
		t.Fatal(err)
	}
	clk.now = clk.now.Add(4 * time.Second)
	opt.PID = 4104 // the Post-Invoke's shell
	opt.ProcRoot = fakeProc(t, "1000",
		fakeProcess{pid: 4100, ppid: 4000, start: 90000, argv: []string{"sudo", "apt-get", "install", "-y", "nginx"}},
		fakeProcess{pid: 4101, ppid: 4100, start: 90001, argv: []string{"apt-get", "install", "-y", "nginx"}},
		fakeProcess{pid: 4104, ppid: 4101, start: 90400, argv: []string{"sh", "-c", "/usr/bin/driftwatch-agent pkgtx end"}},
	)
	ended, err := End(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	want := Transaction{
		ID: began.ID, Tool: ToolApt, Command: "apt-get install -y nginx", User: "alice",
		Started: began.Started, Ended: clk.now,
		Packages: []PackageChange{
			{Name: "nginx", Arch: "amd64", To: "1.22.1-9+deb12u1", Action: ActionInstall},
			{Name: "openssl", Arch: "amd64", From: "3.0.15-1~deb12u1", To: "3.0.16-1~deb12u1", Action: ActionUpgrade},
		},
	}
	if diff := cmp.Diff(want, *ended); diff != "" {
		t.Errorf("end (-want +got):\n%s", diff)
	}

	// What the service reads back, through a new Log.
	log.Now = func() time.Time { return clk.now.Add(time.Minute) }
	txs, err := log.Transactions(began.Started.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Transaction{want}, txs); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), `"before"`) {
		t.Errorf("closed record still holds the packages before:\n%s", b)
	}
	if cur, _ := log.InProgress(); cur != nil {
		t.Errorf("in progress after the end: %+v", cur)
	}
}

func TestPkgtxEndDnfWithoutBegin(t *testing.T) {
	state := t.TempDir()
	// dnf started 16 s before its first logged change (metadata, the
	// prompt); the transaction starts with the change.
	startTicks := uint64((time.Date(2025, 1, 14, 2, 30, 3, 0, time.UTC).Unix() - bootTimeFake) * clockTicks)
	proc := fakeProc(t, unsetLoginUID,
		fakeProcess{pid: 1, ppid: 0, start: 1, argv: []string{"/usr/lib/systemd/systemd"}},
		fakeProcess{pid: 2200, ppid: 1, start: 200, argv: []string{"sudo", "dnf", "upgrade", "-y"}},
		fakeProcess{pid: 2201, ppid: 2200, start: startTicks, argv: []string{"/usr/bin/python3", "/usr/bin/dnf", "upgrade", "-y"}},
		fakeProcess{pid: 2260, ppid: 2201, start: startTicks + 2000, argv: []string{"/bin/sh", "-c", "/usr/bin/driftwatch-agent pkgtx end -tool dnf"}},
	)
	now := time.Date(2025, 1, 14, 2, 30, 25, 0, time.UTC)
	opt := HookOptions{StateDir: state, Tool: ToolDnf, DnfLog: "testdata/dnf.rpm.log", ProcRoot: proc, PID: 2260,
		Now: func() time.Time { return now }, Getenv: env(map[string]string{"SUDO_USER": "bob"})}
	got, err := End(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if got.Command != "/usr/bin/dnf upgrade -y" || got.User != "bob" || got.Tool != ToolDnf {
		t.Errorf("command %q, user %q, tool %q; want the dnf command line, bob, dnf", got.Command, got.User, got.Tool)
	}
	if want := time.Date(2025, 1, 14, 2, 30, 19, 0, time.UTC); !got.Started.Equal(want) || !got.Ended.Equal(now) {
		t.Errorf("window %v – %v, want %v – %v", got.Started, got.Ended, want, now)
	}
	var names []string
	for _, p := range got.Packages {
		names = append(names, p.Action+" "+p.Name)
	}
	if diff := cmp.Diff([]string{"remove nano", "install nginx", "install nginx-core", "install nginx-filesystem", "upgrade openssl", "upgrade openssl-libs"}, names); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	// The plugin runs the action once per transaction; run twice, End
	// keeps the one record.
	again, err := End(context.Background(), opt)
	if err != nil || again.ID != got.ID {
		t.Errorf("second end: %v, %+v; want %s again", err, again, got.ID)
	}
	if recs, _ := filepath.Glob(filepath.Join(state, Dir, "*.json")); len(recs) != 1 {
		t.Errorf("records %v, want one", recs)
	}
}

func TestPkgtxIncomplete(t *testing.T) {
	state := t.TempDir()
	status := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(status, []byte(statusBefore), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 14, 9, 41, 11, 0, time.UTC)
	proc := aptTree(t)
	opt := HookOptions{StateDir: state, Tool: ToolApt, DpkgStatus: status, ProcRoot: proc, PID: 4103,
		Now: func() time.Time { return start }, Getenv: env(nil)}
	began, err := Begin(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	log, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	log.alive = func(pid int, st uint64) bool { return processAlive(proc, pid, st) }

	t.Run("still running", func(t *testing.T) {
		log.Now = func() time.Time { return start.Add(30 * time.Minute) }
		txs, err := log.Transactions(start)
		if err != nil || len(txs) != 1 || !txs[0].InProgress() || txs[0].Incomplete {
			t.Fatalf("got %+v, %v; want one transaction in progress", txs, err)
		}
	})
	t.Run("older than MaxOpen", func(t *testing.T) {
		log.Now = func() time.Time { return start.Add(2 * time.Hour) }
		txs, err := log.Transactions(start)
		if err != nil || len(txs) != 1 || !txs[0].Incomplete || !txs[0].Ended.Equal(start.Add(DefaultMaxOpen)) {
			t.Fatalf("got %+v, %v; want it closed incomplete at start+%s", txs, err, DefaultMaxOpen)
		}
	})
	t.Run("apt killed", func(t *testing.T) {
		if err := os.RemoveAll(filepath.Join(proc, "4101")); err != nil {
			t.Fatal(err)
		}
		killedSeen := start.Add(5 * time.Minute)
		log.Now = func() time.Time { return killedSeen }
		txs, err := log.Transactions(start)
		if err != nil || len(txs) != 1 || !txs[0].Incomplete || !txs[0].Ended.Equal(killedSeen) {
			t.Fatalf("got %+v, %v; want it closed incomplete when found dead", txs, err)
		}
		// The next apt run writes it closed.
		next := fakeProc(t, "",
			fakeProcess{pid: 5101, ppid: 1, start: 99001, argv: []string{"/usr/bin/apt", "upgrade"}},
			fakeProcess{pid: 5103, ppid: 5101, start: 99002, argv: []string{"sh", "-c", "hook"}},
		)
		opt2 := opt
		opt2.ProcRoot, opt2.PID = next, 5103
		opt2.Now = func() time.Time { return killedSeen }
		if _, err := Begin(context.Background(), opt2); err != nil {
			t.Fatal(err)
		}
		r, err := readRecord(filepath.Join(state, Dir, began.ID+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Incomplete || !r.Ended.Equal(killedSeen) || r.Before != nil {
			t.Errorf("killed transaction on disk: incomplete %v, ended %v, before kept %v", r.Incomplete, r.Ended, r.Before != nil)
		}
	})
}

func TestPkgtxHookUser(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		loginuid string
		want     string
	}{
		{"sudo", map[string]string{"SUDO_USER": "alice"}, "0", "alice"},
		{"doas", map[string]string{"DOAS_USER": "carol"}, "", "carol"},
		{"login session", nil, "0", "root"},
		{"unknown login uid", nil, "4000000", "uid 4000000"},
		{"no login session", nil, unsetLoginUID, userName(strconv.Itoa(os.Geteuid()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeProc(t, tt.loginuid)
			if got := hookUser(root, env(tt.env)); got != tt.want {
				t.Errorf("user %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPkgtxFindOrigin(t *testing.T) {
	tests := []struct {
		name  string
		procs []fakeProcess
		from  int
		want  string
	}{
		{"apt through sh -c", nil, 4103, "apt-get install -y nginx"},
		{"dpkg under apt", []fakeProcess{
			{pid: 10, ppid: 1, start: 1, argv: []string{"apt", "full-upgrade"}},
			{pid: 11, ppid: 10, start: 2, argv: []string{"/usr/bin/dpkg", "--status-fd", "44", "--configure", "--pending"}},
			{pid: 12, ppid: 11, start: 3, argv: []string{"sh", "-c", "hook"}},
		}, 12, "apt full-upgrade"},
		{"unattended-upgrades", []fakeProcess{
			{pid: 20, ppid: 1, start: 1, argv: []string{"/usr/bin/python3", "/usr/bin/unattended-upgrade"}},
			{pid: 21, ppid: 20, start: 2, argv: []string{"/bin/sh", "-c", "hook"}},
		}, 21, "/usr/bin/unattended-upgrade"},
		{"no package manager", []fakeProcess{
			{pid: 30, ppid: 1, start: 1, argv: []string{"/usr/local/bin/patch-all", "--night"}},
			{pid: 31, ppid: 30, start: 2, argv: []string{"sh", "-c", "hook"}},
		}, 31, "/usr/local/bin/patch-all --night"},
		{"argument with spaces", []fakeProcess{
			{pid: 40, ppid: 1, start: 1, argv: []string{"apt-get", "-o", "Dpkg::Options::=--force-confdef", "install", "my pkg"}},
			{pid: 41, ppid: 40, start: 2, argv: []string{"sh", "-c", "hook"}},
		}, 41, "apt-get -o Dpkg::Options::=--force-confdef install 'my pkg'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := aptTree(t)
			if tt.procs != nil {
				root = fakeProc(t, "", tt.procs...)
			}
			o, err := findOrigin(root, tt.from)
			if err != nil {
				t.Fatal(err)
			}
			if o.command != tt.want {
				t.Errorf("command %q, want %q", o.command, tt.want)
			}
		})
	}
}

func TestPkgtxBadInput(t *testing.T) {
	if _, err := Begin(context.Background(), HookOptions{StateDir: t.TempDir(), Tool: "pacman"}); err == nil || !strings.Contains(err.Error(), `unknown tool "pacman"`) {
		t.Errorf("unknown tool: %v", err)
	}
	// A corrupt record is named; the others are still read.
	state := t.TempDir()
	log, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	good := &record{Transaction: Transaction{ID: "20250114T000000.000000000Z-apt-1", Tool: ToolApt, Started: time.Date(2025, 1, 14, 0, 0, 0, 0, time.UTC), Ended: time.Date(2025, 1, 14, 0, 1, 0, 0, time.UTC)}, Format: recordFormat}
	if err := writeRecord(log.Dir(), good); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(log.Dir(), "20250114T010000.000000000Z-apt-2.json")
	if err := os.WriteFile(bad, []byte(`{"id": "20250114T01`), 0o600); err != nil {
		t.Fatal(err)
	}
	txs, err := log.Transactions(time.Time{})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v, want one naming %s", err, bad)
	}
	if len(txs) != 1 || txs[0].ID != good.ID {
		t.Errorf("transactions %+v, want the readable one", txs)
	}
}
