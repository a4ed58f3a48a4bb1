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
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/store"
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

// StoreState is a StateStore in the collector's store, shared by every
// collector on it: the state is saved as JSON, with the last success and
// the last error beside it for the web report.
type StoreState struct {
	// Store keeps the state; required.
	Store store.Connectors
	// Now is the clock of the saved time; time.Now when nil.
	Now func() time.Time
}

// Load reads the connector's state; the zero State when none was saved.
func (s StoreState) Load(ctx context.Context, name string) (State, error) {
	row, err := s.Store.ConnectorState(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(row.State, &st); err != nil {
		return State{}, fmt.Errorf("connector %s: stored state: %w", name, err)
	}
	return st, nil
}

// Save replaces the connector's state.
func (s StoreState) Save(ctx context.Context, name string, st State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state of connector %s: %w", name, err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return s.Store.SaveConnectorState(ctx, store.ConnectorState{Name: name, TenantID: st.Status.TenantID, State: b,
		LastSuccess: st.Status.LastSuccess, LastError: st.Status.LastError, UpdatedAt: now()})
}

// StatusOf decodes the status of a stored state.
func StatusOf(row store.ConnectorState) (Status, error) {
	var st State
	if err := json.Unmarshal(row.State, &st); err != nil {
		return Status{}, fmt.Errorf("connector %s: stored state: %w", row.Name, err)
	}
	return st.Status, nil
}

// Leaser grants one collector at a time the right to poll a connector.
// Claim takes or renews the lease for d and reports whether this
// collector holds it; Release gives it up.
type Leaser interface {
	Claim(ctx context.Context, connector string, d time.Duration) (bool, error)
	Release(ctx context.Context, connector string) error
}

// StoreLease is a Leaser over the collector's store: a lease row per
// connector with an owner and an expiry.
type StoreLease struct {
	// Store keeps the leases; required.
	Store store.Connectors
	// Owner names this collector process; required and unique.
	Owner string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Claim takes or renews the lease.
func (l StoreLease) Claim(ctx context.Context, connector string, d time.Duration) (bool, error) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	return l.Store.ClaimConnector(ctx, connector, l.Owner, now(), d)
}

// Release gives the lease up.
func (l StoreLease) Release(ctx context.Context, connector string) error {
	return l.Store.ReleaseConnector(ctx, connector, l.Owner)
}

// Health is a connector's health as the web report's overview shows it.
type Health struct {
	Name, Kind  string
	LastSuccess time.Time
	// LastError is the last sync's error; for a connector that went
	// quiet without one, why it counts as stale.
	LastError string
	// Stale: the last sync failed, or a polled connector has not
	// succeeded for three poll intervals (or ever).
	Stale bool
}

// Healths returns the health of the tenant's connectors (every tenant's
// for ""), by name, judged at now.
func Healths(ctx context.Context, st store.Connectors, tenantID string, now time.Time) ([]Health, error) {
	rows, err := st.ListConnectors(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	states, err := st.ConnectorStates(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	byName := map[string]store.ConnectorState{}
	for _, s := range states {
		byName[s.Name] = s
	}
	out := make([]Health, 0, len(rows))
	for _, c := range rows {
		var a api.Connector
		_ = json.Unmarshal(c.Config, &a) // a damaged document: the default interval
		poll := PollOf(a)
		var status Status
		if row, ok := byName[c.Name]; ok {
			if status, err = StatusOf(row); err != nil {
				return nil, err
			}
		}
		status.Kind = c.Kind
		h := Health{Name: c.Name, Kind: c.Kind, LastSuccess: status.LastSuccess, LastError: status.LastError,
			Stale: StatusToAPI(status, poll, now).Stale}
		if h.Stale && h.LastError == "" {
			if h.LastSuccess.IsZero() {
				h.LastError = "no successful sync yet"
			} else {
				h.LastError = fmt.Sprintf("no successful sync for %s (polls every %s)", formatDuration(now.Sub(h.LastSuccess).Round(time.Minute)), formatDuration(poll))
			}
		}
		out = append(out, h)
	}
	return out, nil
}
