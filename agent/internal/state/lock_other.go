//go:build !unix

package state

import (
	"fmt"
	"os"
	"path/filepath"
)

// Lock takes the state directory's write lock by creating a lock file
// exclusively, and returns the function that releases it.
func (s *Store) Lock() (func(), error) {
	p := filepath.Join(s.dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state %s (remove the file if no agent runs): %w", p, err)
	}
	f.Close()
	return func() { os.Remove(p) }, nil
}
