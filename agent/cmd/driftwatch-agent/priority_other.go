//go:build !linux

package main

import "os"

// lowerPriority is left to the service manager on this system.
func lowerPriority() error { return nil }

// processAlive reports whether a process with that ID exists, as far as
// this system tells.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.FindProcess(pid)
	return err == nil
}
