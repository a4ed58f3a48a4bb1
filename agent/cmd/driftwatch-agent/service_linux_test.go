package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// `run` lowers the CPU and I/O priority of every thread.
func TestRunLowersPriority(t *testing.T) {
	if os.Getenv("DRIFTWATCH_PRIORITY_CHILD") == "1" {
		if err := lowerPriority(); err != nil {
			t.Fatal(err)
		}
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			stat, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
			if err != nil {
				continue // the thread ended
			}
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
			if nice := f[16]; nice != "10" { // field 19 of stat
				t.Errorf("thread %d: nice %s, want 10", tid, nice)
			}
			class, _, errno := syscall.Syscall(syscall.SYS_IOPRIO_GET, 1, uintptr(tid), 0)
			if errno != 0 || class>>13 != 3 {
				t.Errorf("thread %d: I/O class %d (%v), want 3 (idle)", tid, class>>13, errno)
			}
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRunLowersPriority$", "-test.v")
	cmd.Env = append(os.Environ(), "DRIFTWATCH_PRIORITY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
