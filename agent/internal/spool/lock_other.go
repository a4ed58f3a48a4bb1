//go:build !unix

package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// lockDir takes the spool directory's lock by creating the lock file
// exclusively. A crash leaves the file behind: the operator removes it
// when no agent runs.
func lockDir(dir string) (func(), error) {
	p := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("lock spool %s: %w (remove %s if no agent runs)", dir, ErrLocked, p)
	}
	if err != nil {
		return nil, fmt.Errorf("lock spool %s: %w", dir, err)
	}
	f.Close()
	return func() { os.Remove(p) }, nil
}
