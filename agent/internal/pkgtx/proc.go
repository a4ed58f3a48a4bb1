package pkgtx

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procRoot is where the process table is mounted.
const procRoot = "/proc"

// clockTicks is the kernel's USER_HZ, the unit of a process's start time
// in /proc/PID/stat; 100 on every Linux architecture in use.
const clockTicks = 100

// unsetLoginUID is the value of /proc/PID/loginuid for a process outside
// any login session (started by systemd, cron without pam_loginuid …).
const unsetLoginUID = "4294967295"

// process is what the hooks read of one process.
type process struct {
	pid, ppid int
	start     uint64 // clock ticks after boot
	argv      []string
}

// readProcess reads /proc/PID/stat and /proc/PID/cmdline under root.
func readProcess(root string, pid int) (process, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return process{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	// The command name in parentheses may hold spaces and parentheses:
	// the fields start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return process{}, fmt.Errorf("read process %d: malformed %s", pid, filepath.Join(dir, "stat"))
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is the state (field 3 of stat), fields[1] the parent
	// (field 4) and fields[19] the start time (field 22).
	if len(fields) < 20 {
		return process{}, fmt.Errorf("read process %d: %s has %d fields after the name, want at least 20", pid, filepath.Join(dir, "stat"), len(fields))
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return process{}, fmt.Errorf("read process %d: parent: %w", pid, err)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return process{}, fmt.Errorf("read process %d: start time: %w", pid, err)
	}
	p := process{pid: pid, ppid: ppid, start: start}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return process{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	cmdline = bytes.TrimRight(cmdline, "\x00")
	if len(cmdline) > 0 {
		p.argv = strings.Split(string(cmdline), "\x00")
	}
	return p, nil
}

// processAlive reports whether process pid still runs and is the one that
// started at start (0: any).
func processAlive(root string, pid int, start uint64) bool {
	p, err := readProcess(root, pid)
	if err != nil {
		return false
	}
	return start == 0 || p.start == start
}

// interpreters run a script named by their first argument.
var interpreters = map[string]bool{
	"sh": true, "bash": true, "dash": true, "perl": true,
	"python": true, "python3": true,
}

// packageManagers are the programs whose runs are transactions. The
// python ones (dnf, yum, unattended-upgrade) are recognised through the
// script their interpreter runs.
var packageManagers = map[string]bool{
	"apt": true, "apt-get": true, "aptitude": true, "synaptic": true,
	"unattended-upgrade": true, "unattended-upgrades": true, "packagekitd": true,
	"dpkg": true,
	"dnf":  true, "dnf-3": true, "dnf5": true, "yum": true, "yum-3": true,
	"microdnf": true, "dnf-automatic": true, "rpm": true,
}

// program returns the program a command line runs, looking through an
// interpreter to its script, and the command line from that program on.
func program(argv []string) (string, []string) {
	if len(argv) == 0 {
		return "", nil
	}
	base := filepath.Base(argv[0])
	if interpreters[base] || strings.HasPrefix(base, "python3.") {
		if len(argv) > 1 && !strings.HasPrefix(argv[1], "-") {
			return filepath.Base(argv[1]), argv[1:]
		}
	}
	return base, argv
}

// origin is the package manager's process as found from the hook.
type origin struct {
	pid     int
	start   uint64
	command string
	// started is when the process started; zero when unknown.
	started time.Time
}

// findOrigin walks up the process tree from pid to the package manager
// that runs the hook: the outermost of the nearest run of package manager
// processes (apt above the dpkg it runs). With none, it is the nearest
// ancestor that is not a shell.
func findOrigin(root string, pid int) (origin, error) {
	var chain []process
	for n := 0; pid > 1 && n < 64; n++ {
		p, err := readProcess(root, pid)
		if err != nil {
			if len(chain) == 0 {
				return origin{}, err
			}
			break
		}
		chain = append(chain, p)
		pid = p.ppid
	}
	pick := -1
	for i, p := range chain {
		if name, _ := program(p.argv); packageManagers[name] {
			pick = i
			for pick+1 < len(chain) {
				if name, _ := program(chain[pick+1].argv); !packageManagers[name] {
					break
				}
				pick++
			}
			break
		}
	}
	if pick < 0 {
		for i, p := range chain {
			if name, argv := program(p.argv); name != "" && !(interpreters[name] && len(argv) > 1) {
				pick = i
				break
			}
		}
	}
	if pick < 0 {
		pick = 0
	}
	p := chain[pick]
	_, argv := program(p.argv)
	o := origin{pid: p.pid, start: p.start, command: quoteCommand(argv)}
	if boot, err := bootTime(root); err == nil {
		o.started = boot.Add(time.Duration(p.start) * time.Second / clockTicks)
	}
	return o, nil
}

// quoteCommand joins a command line for display, quoting the arguments a
// shell would split.
func quoteCommand(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// bootTime reads the boot time from /proc/stat under root.
func bootTime(root string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(root, "stat"))
	if err != nil {
		return time.Time{}, fmt.Errorf("boot time: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("boot time: %w", err)
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("boot time: no btime in %s", filepath.Join(root, "stat"))
}

// hookUser names who ran the package manager: the user behind sudo, doas
// or pkexec, else the owner of the login session, else the user the hook
// runs as.
func hookUser(root string, getenv func(string) string) string {
	for _, v := range []string{"SUDO_USER", "DOAS_USER"} {
		if u := getenv(v); u != "" {
			return u
		}
	}
	if uid := getenv("PKEXEC_UID"); uid != "" {
		return userName(uid)
	}
	if b, err := os.ReadFile(filepath.Join(root, "self", "loginuid")); err == nil {
		if uid := strings.TrimSpace(string(b)); uid != "" && uid != unsetLoginUID {
			return userName(uid)
		}
	}
	return userName(strconv.Itoa(os.Geteuid()))
}

// userName returns the name of the user with uid, or "uid N".
func userName(uid string) string {
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "uid " + uid
}
