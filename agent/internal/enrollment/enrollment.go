// Package enrollment keeps the agent's identity at its collector in
// state_dir/collector.json: the collector's URL and pinned certificate
// fingerprint, the host ID, tenant and credential the collector gave at
// enrollment, and the sequence number of the last report.
//
// The file holds a credential, so it is written with mode 0600 (atomically,
// see atomicfile) and refused on load when group or others may read or
// write it. The sequence number is incremented and saved durably before a
// report is sent (NextSequence), so a crash between the two never makes
// the agent send different content under a sequence the collector has
// already stored.
//
// The functions here do not lock: callers in different processes must hold
// the state directory's lock around Update and NextSequence.
package enrollment

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/driftwatch/driftwatch/baseline"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
	"github.com/driftwatch/driftwatch/collector/api"
)

// FileName is the enrollment file's name in the state directory.
const FileName = "collector.json"

// maxFileSize bounds what Load reads; a real file is a few hundred bytes.
const maxFileSize = 1 << 20

// Enrollment is the agent's identity at a collector, as stored in
// collector.json.
type Enrollment struct {
	// CollectorURL is the collector's base URL.
	CollectorURL string `json:"collector_url"`
	// Fingerprint pins the collector's TLS certificate: the SHA-256 of its
	// DER as 64 lowercase hex characters. Empty only for an http:// URL.
	Fingerprint string `json:"fingerprint,omitempty"`
	// HostID is the host's identity at the collector.
	HostID string `json:"host_id"`
	// Tenant is the tenant the host belongs to.
	Tenant string `json:"tenant"`
	// Credential authenticates the agent (Authorization: Bearer).
	Credential string `json:"credential"`
	// EnrolledAt is when the host enrolled.
	EnrolledAt time.Time `json:"enrolled_at"`
	// Insecure allows an http:// CollectorURL.
	Insecure bool `json:"insecure"`
	// LastSequence is the sequence number of the last report sent or about
	// to be sent; 0 before the first.
	LastSequence uint64 `json:"last_sequence"`
	// SnapshotSent is true once the collector acknowledged a report that
	// carried the host's full snapshot. Until then every report carries
	// one, so a first report lost on the way does not leave the collector
	// without the host's state.
	SnapshotSent bool `json:"snapshot_sent"`
	// BaselineVersion and BaselineDigest name the collector's baseline
	// the agent compares with, once it has fetched one (or sent its own,
	// which became the collector's version 1).
	BaselineVersion int             `json:"baseline_version,omitempty"`
	BaselineDigest  baseline.Digest `json:"baseline_digest,omitzero"`
}

// Path returns where the enrollment of the state directory stateDir lives.
func Path(stateDir string) string { return filepath.Join(stateDir, FileName) }

// Validate checks that e has what a report needs: a collector URL, a host
// ID, a credential, and a fingerprint, when there is one, in canonical
// form.
func (e *Enrollment) Validate() error {
	switch {
	case e.CollectorURL == "":
		return errors.New("no collector_url")
	case e.HostID == "":
		return errors.New("no host_id")
	case e.Credential == "":
		return errors.New("no credential")
	}
	if e.Fingerprint != "" {
		fp, err := api.NormalizeFingerprint(e.Fingerprint)
		if err != nil {
			return err
		}
		if fp != e.Fingerprint {
			return fmt.Errorf("fingerprint %q is not 64 lowercase hex characters", e.Fingerprint)
		}
	}
	return nil
}

// Load reads the enrollment of stateDir. When the host is not enrolled,
// the error wraps os.ErrNotExist. A file that group or others may access is
// refused, with an error that names it and its mode.
func Load(stateDir string) (*Enrollment, error) {
	p := Path(stateDir)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("load enrollment: %w", err) // a *PathError names the file
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load enrollment: %w", err)
	}
	if err := checkMode(p, fi.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load enrollment %s: %w", p, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("load enrollment %s: larger than %d bytes", p, maxFileSize)
	}
	var e Enrollment
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("load enrollment %s: %w", p, err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("load enrollment %s: %w", p, err)
	}
	return &e, nil
}

// checkMode refuses a file that group or others may read or write. Windows
// reports no such permissions (access is by ACL), so it is not checked
// there.
func checkMode(path string, mode os.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return fmt.Errorf("load enrollment %s: mode %04o lets group or others access the collector credential; run chmod 600 %s", path, perm, path)
	}
	return nil
}

// Save writes e to stateDir atomically with mode 0600.
func Save(stateDir string, e *Enrollment) error {
	p := Path(stateDir)
	if err := e.Validate(); err != nil {
		return fmt.Errorf("save enrollment %s: %w", p, err)
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("save enrollment %s: %w", p, err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("save enrollment %s: %w", p, err)
	}
	if err := atomicfile.WriteFile(p, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save enrollment: %w", err)
	}
	return nil
}

// Update loads the enrollment of stateDir, applies fn and saves the result
// durably; nothing is saved when fn fails. It returns the saved enrollment.
func Update(stateDir string, fn func(*Enrollment) error) (*Enrollment, error) {
	e, err := Load(stateDir)
	if err != nil {
		return nil, err
	}
	if err := fn(e); err != nil {
		return nil, err
	}
	if err := Save(stateDir, e); err != nil {
		return nil, err
	}
	return e, nil
}

// NextSequence increments the last report sequence number of stateDir,
// saves it durably and returns it: the sequence number of the report about
// to be sent. Each call gives a new number, even if the report it was
// meant for is never sent.
func NextSequence(stateDir string) (uint64, error) {
	e, err := Update(stateDir, func(e *Enrollment) error {
		e.LastSequence++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("next report sequence: %w", err)
	}
	return e.LastSequence, nil
}
