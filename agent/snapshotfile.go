package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/driftwatch/driftwatch/agent/internal/atomicfile"
	"github.com/driftwatch/driftwatch/agent/internal/source"
	"github.com/driftwatch/driftwatch/baseline"
)

// snapshotFile is the form of a snapshot written to a file: the canonical
// snapshot encoding and the content it references, so that the file can be
// diffed or approved on its own, anywhere.
type snapshotFile struct {
	Snapshot json.RawMessage   `json:"snapshot"`
	Blobs    map[string][]byte `json:"blobs,omitempty"`
}

// WriteSnapshot writes snap with the content it references (read from
// blobs) to w.
func WriteSnapshot(w io.Writer, snap *baseline.Snapshot, blobs baseline.BlobSource) error {
	enc, err := snap.Marshal()
	if err != nil {
		return err
	}
	f := snapshotFile{Snapshot: enc, Blobs: map[string][]byte{}}
	for _, d := range snap.ContentDigests() {
		b, err := blobs.Blob(d)
		if err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		f.Blobs[d.String()] = b
	}
	bw := bufio.NewWriter(w)
	e := json.NewEncoder(bw)
	e.SetEscapeHTML(false)
	if err := e.Encode(f); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return bw.Flush()
}

// WriteSnapshotFile writes a snapshot file atomically; "-" is standard
// output.
func WriteSnapshotFile(path string, snap *baseline.Snapshot, blobs baseline.BlobSource) error {
	if path == "-" || path == "" {
		return WriteSnapshot(os.Stdout, snap, blobs)
	}
	if err := atomicfile.Write(path, 0o600, func(w io.Writer) error { return WriteSnapshot(w, snap, blobs) }); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	return nil
}

// ReadSnapshotFile reads a snapshot file written by WriteSnapshotFile (or
// a bare canonical snapshot encoding) and checks every embedded blob
// against its digest.
func ReadSnapshotFile(path string) (*baseline.Snapshot, *source.MemoryBlobs, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	blobs := &source.MemoryBlobs{}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	raw := []byte(f.Snapshot)
	if len(raw) == 0 {
		raw = data // a bare snapshot
	}
	snap, err := baseline.Unmarshal(bytes.TrimSpace(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	for hex, b := range f.Blobs {
		want, err := baseline.ParseDigest(hex)
		if err != nil {
			return nil, nil, fmt.Errorf("read snapshot %s: blob %q: %w", path, hex, err)
		}
		if got, _ := blobs.PutBlob(b); got != want {
			return nil, nil, fmt.Errorf("read snapshot %s: blob %s does not match its digest", path, want.Short())
		}
	}
	return snap, blobs, nil
}

// ImportBlobs copies the content snap references from src into the agent's
// store, so that the snapshot can be approved.
func (a *Agent) ImportBlobs(snap *baseline.Snapshot, src baseline.BlobSource) error {
	for _, d := range snap.ContentDigests() {
		if a.store.HasBlob(d) {
			continue
		}
		b, err := src.Blob(d)
		if err != nil {
			return fmt.Errorf("import content %s: %w", d.Short(), err)
		}
		if _, err := a.store.PutBlob(b); err != nil {
			return err
		}
	}
	return nil
}
