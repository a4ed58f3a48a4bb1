//go:build unix && !linux

package state

import "syscall"

// syncFS flushes every file system: blobs written without a sync of their
// own become durable.
func syncFS(dir string) error {
	syscall.Sync()
	return nil
}
