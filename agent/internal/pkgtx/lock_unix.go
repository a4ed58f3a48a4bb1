//go:build unix

package pkgtx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockWait bounds how long a hook waits for another hook's lock before it
// goes on without it: a package manager is never held up for long.
const lockWait = 2 * time.Second

// lock takes the exclusive lock of the transaction directory, waiting at
// most lockWait, and returns the function that releases it.
func lock(dir string) (func(), error) {
	p := filepath.Join(dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("package transaction: lock: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			// Go on unlocked: each record is written atomically.
			return func() { f.Close() }, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}
