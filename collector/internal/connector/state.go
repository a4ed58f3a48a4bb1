package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// MemoryState is a StateStore in memory, for one collector process; the
// state is lost on restart (the next poll starts over, and unchanged
// records are still recognised against the stored tickets).
type MemoryState struct {
	mu sync.Mutex
	m  map[string]State
}

// Load returns the connector's state.
func (s *MemoryState) Load(_ context.Context, name string) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneState(s.m[name]), nil
}

// Save replaces the connector's state.
func (s *MemoryState) Save(_ context.Context, name string, st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]State{}
	}
	s.m[name] = cloneState(st)
	return nil
}

func cloneState(st State) State {
	st.Hashes = maps.Clone(st.Hashes)
	return st
}

// FileState is a StateStore that keeps each connector's state as
// DIR/<name>.json, replaced atomically (written to a temporary file,
// synced, renamed).
type FileState struct {
	// Dir is the directory of the state files; created when missing.
	Dir string
}

// nameRE is what a connector name may be; it is part of a file name.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (s FileState) path(name string) (string, error) {
	if !nameRE.MatchString(name) {
		return "", fmt.Errorf("connector name %q: want letters, digits and . _ - (up to 64)", name)
	}
	return filepath.Join(s.Dir, name+".json"), nil
}

// Load reads the connector's state file; the zero State when there is
// none.
func (s FileState) Load(_ context.Context, name string) (State, error) {
	p, err := s.path(name)
	if err != nil {
		return State{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read connector state %s: %w", p, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("read connector state %s: %w", p, err)
	}
	return st, nil
}

// Save writes the connector's state file atomically.
func (s FileState) Save(_ context.Context, name string, st State) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode connector state %s: %w", p, err)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("write connector state %s: %w", p, err)
	}
	f, err := os.CreateTemp(s.Dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("write connector state %s: %w", p, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write connector state %s: %w", p, werr)
	}
	return nil
}

// ValidName reports whether name may be a connector's name: letters,
// digits and . _ - (up to 64), as it names the connector's state file.
func ValidName(name string) bool { return nameRE.MatchString(name) }
