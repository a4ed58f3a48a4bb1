package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Priorities of a running service: below the host's own work.
const (
	serviceNice = 10
	// ioprioIdle is the idle I/O scheduling class: disk time only when no
	// one else wants it.
	ioprioIdle       = 3 << 13
	ioprioWhoProcess = 1
)

// lowerPriority gives every thread of the process a nice value of 10 and
// the idle I/O class. Linux keeps both per thread; threads started later
// inherit them from the thread that starts them.
func lowerPriority() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("lower priority: %w", err)
	}
	var first error
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if cur, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && 20-cur >= serviceNice {
			// Already as nice or nicer (the unit's Nice=).
		} else if err := unix.Setpriority(unix.PRIO_PROCESS, tid, serviceNice); err != nil && first == nil {
			first = fmt.Errorf("lower CPU priority: %w", err)
		}
		if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprioIdle); errno != 0 && first == nil {
			first = fmt.Errorf("lower I/O priority: %w", errno)
		}
	}
	return first
}

// processAlive reports whether a process with that ID exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
