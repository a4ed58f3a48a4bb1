package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/agent/internal/enrollment"
	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
)

// Enrollment returns the host's enrollment at its collector. When the host
// is not enrolled, the error wraps os.ErrNotExist.
func (a *Agent) Enrollment() (*enrollment.Enrollment, error) {
	return enrollment.Load(a.store.Dir())
}

// Enroll enrolls the host at the collector at collectorURL with an
// enrollment token and saves the identity it gets in the state directory,
// replacing any earlier enrollment.
//
// fingerprint pins the collector's certificate (see
// api.NormalizeFingerprint for the forms accepted). When it is empty and
// the URL is https, the certificate the collector presents now is trusted
// on first use and pinned; its fingerprint is returned as seen, so that the
// operator can compare it with the collector's own. seen is empty when a
// fingerprint was given. insecure allows an http:// URL.
//
// A collector whose certificate does not match a given fingerprint is
// refused with an error wrapping api.ErrFingerprintMismatch, and nothing is
// saved.
func (a *Agent) Enroll(ctx context.Context, collectorURL, token, fingerprint string, insecure bool) (e *enrollment.Enrollment, seen string, err error) {
	if strings.TrimSpace(token) == "" {
		return nil, "", errors.New("enroll: no enrollment token")
	}
	u, err := url.Parse(collectorURL)
	if err != nil {
		return nil, "", fmt.Errorf("enroll: collector URL: %w", err)
	}
	https := strings.EqualFold(u.Scheme, "https")
	switch {
	case fingerprint != "":
		if !https {
			return nil, "", fmt.Errorf("enroll: a fingerprint pins a TLS certificate, but %s is not an https URL", collectorURL)
		}
		if fingerprint, err = api.NormalizeFingerprint(fingerprint); err != nil {
			return nil, "", fmt.Errorf("enroll: %w", err)
		}
	case https:
		if seen, err = api.FetchFingerprint(ctx, collectorURL); err != nil {
			return nil, "", fmt.Errorf("enroll: %w", err)
		}
		fingerprint = seen
	}
	c, err := api.NewClient(api.ClientOptions{BaseURL: collectorURL, Fingerprint: fingerprint, Insecure: insecure, UserAgent: a.userAgent()})
	if err != nil {
		return nil, seen, fmt.Errorf("enroll: %w", err)
	}
	resp, err := c.Enroll(ctx, api.EnrollRequest{Token: token, Host: a.Host(), AgentVersion: a.version})
	if err != nil {
		return nil, seen, fmt.Errorf("enroll at %s: %w", collectorURL, err)
	}
	e = &enrollment.Enrollment{
		CollectorURL: collectorURL,
		Fingerprint:  fingerprint,
		HostID:       resp.HostID,
		Tenant:       resp.Tenant,
		Credential:   resp.Credential,
		EnrolledAt:   time.Now().UTC(),
		Insecure:     insecure,
	}
	unlock, err := a.store.Lock()
	if err != nil {
		return nil, seen, fmt.Errorf("enroll: %w", err)
	}
	err = enrollment.Save(a.store.Dir(), e)
	unlock()
	if err != nil {
		return nil, seen, fmt.Errorf("enroll: %w", err)
	}
	a.log.Info("enrolled", zap.String("collector", collectorURL), zap.String("host_id", e.HostID),
		zap.String("tenant", e.Tenant), zap.String("fingerprint", fingerprint), zap.Bool("trust_on_first_use", seen != ""))
	return e, seen, nil
}

// Report sends the drift of a Check (drift from the baseline described by
// meta) to the collector the host is enrolled at.
//
// Until the collector has acknowledged one report carrying the host's full
// snapshot, each report carries one: Report takes a snapshot of the host
// now and sends its canonical encoding and its content. The same happens
// when drift is nil (no baseline). When the host changed between the check
// and that snapshot, the drift sent is recomputed from the snapshot, so
// that the report describes one state.
//
// Every content blob the report references is uploaded first (unless the
// collector has it). The report's sequence number is then taken and saved
// (enrollment.NextSequence), so a report that fails after that point is
// never resent under the same number with other content. Errors of the
// collector are *api.StatusError values, wrapped; see api.IsPermanent.
func (a *Agent) Report(ctx context.Context, drift *baseline.Drift, meta *baseline.Meta) (api.ReportResponse, error) {
	en, err := a.Enrollment()
	if err != nil {
		return api.ReportResponse{}, fmt.Errorf("report: %w", err)
	}
	c, err := api.NewClient(api.ClientOptions{BaseURL: en.CollectorURL, Fingerprint: en.Fingerprint,
		Credential: en.Credential, Insecure: en.Insecure, UserAgent: a.userAgent()})
	if err != nil {
		return api.ReportResponse{}, fmt.Errorf("report: %w", err)
	}
	if strings.HasPrefix(en.CollectorURL, "http://") {
		a.log.Warn("reporting over plain HTTP: the credential and the drift travel unencrypted; enroll again with an https collector URL",
			zap.String("collector", en.CollectorURL))
	}
	rep := api.Report{AgentVersion: a.version, Sources: []baseline.SourceStatus{}}
	if drift != nil {
		rep.Drift, rep.SnapshotDigest, rep.TakenAt = drift, drift.SnapshotDigest, drift.TakenAt
		if meta != nil {
			rep.ItemCount = meta.Items + drift.Summary.Added - drift.Summary.Removed
		}
		a.lastMu.Lock()
		if a.lastCheck.digest == drift.SnapshotDigest && a.lastCheck.sources != nil {
			rep.Sources = a.lastCheck.sources
		}
		a.lastMu.Unlock()
	}
	if !en.SnapshotSent || drift == nil {
		if err := a.addSnapshot(ctx, &rep, meta); err != nil {
			return api.ReportResponse{}, fmt.Errorf("report: %w", err)
		}
	}
	a.attachTransactions(&rep)
	rep.Blobs = reportBlobs(rep.Drift, rep.Blobs)
	if err := a.uploadBlobs(ctx, c, rep.Blobs); err != nil {
		return api.ReportResponse{}, fmt.Errorf("report to %s: %w", en.CollectorURL, err)
	}

	unlock, err := a.store.Lock()
	if err != nil {
		return api.ReportResponse{}, fmt.Errorf("report: %w", err)
	}
	rep.Sequence, err = enrollment.NextSequence(a.store.Dir())
	unlock()
	if err != nil {
		return api.ReportResponse{}, fmt.Errorf("report: %w", err)
	}
	start := time.Now()
	resp, err := c.PostReport(ctx, rep)
	if err != nil {
		return api.ReportResponse{}, fmt.Errorf("report to %s: %w", en.CollectorURL, err)
	}
	a.log.Info("report sent", zap.String("collector", en.CollectorURL), zap.Uint64("sequence", resp.Sequence),
		zap.Bool("duplicate", resp.Duplicate), zap.Bool("snapshot", rep.Snapshot != nil),
		zap.Int("blobs", len(rep.Blobs)), zap.Int("collector_baseline_version", resp.BaselineVersion),
		zap.Duration("took", time.Since(start)))
	if rep.Snapshot != nil && !en.SnapshotSent {
		a.markSnapshotSent()
	}
	return resp, nil
}

// addSnapshot takes a snapshot of the host and puts it, with the content
// digests it references, into rep. A drift in rep that describes another
// state is replaced by the drift of the snapshot from the baseline meta
// describes.
func (a *Agent) addSnapshot(ctx context.Context, rep *api.Report, meta *baseline.Meta) error {
	e, wait, err := a.encoded(ctx, SnapshotOptions{})
	if err != nil {
		return err
	}
	defer wait()
	var buf bytes.Buffer
	if err := e.Encode(&buf); err != nil {
		return err
	}
	if rep.Drift != nil && rep.Drift.SnapshotDigest != e.Digest() {
		d, err := a.driftOf(e, meta)
		if err != nil {
			return err
		}
		a.log.Warn("host changed after the check; the report carries the drift of the newer snapshot",
			zap.String("checked", rep.Drift.SnapshotDigest.Short()), zap.String("snapshot", e.Digest().Short()),
			zap.Int("changes", len(d.Changes)))
		rep.Drift = d
	}
	rep.Snapshot = buf.Bytes()
	rep.SnapshotDigest, rep.ItemCount, rep.TakenAt = e.Digest(), e.Len(), e.TakenAt
	rep.Sources = e.Sources
	if rep.Sources == nil {
		rep.Sources = []baseline.SourceStatus{}
	}
	rep.Blobs = e.ContentDigests()
	return nil
}

// driftOf diffs e against the baseline version meta describes.
func (a *Agent) driftOf(e *baseline.Encoded, meta *baseline.Meta) (*baseline.Drift, error) {
	if meta == nil {
		return nil, errors.New("drift of the new snapshot: no baseline given")
	}
	snap, err := e.Snapshot()
	if err != nil {
		return nil, err
	}
	b, err := a.store.Load(meta.Version)
	if err != nil {
		return nil, err
	}
	return baseline.DiffBaseline(b, snap, baseline.DiffOptions{Blobs: a.store}), nil
}

// markSnapshotSent records that the collector has the host's full
// snapshot. Failing to record it only means the next report carries the
// snapshot again, so it is logged, not returned.
func (a *Agent) markSnapshotSent() {
	unlock, err := a.store.Lock()
	if err == nil {
		_, err = enrollment.Update(a.store.Dir(), func(e *enrollment.Enrollment) error {
			e.SnapshotSent = true
			return nil
		})
		unlock()
	}
	if err != nil {
		a.log.Warn("not recorded that the collector has the full snapshot; the next report sends it again", zap.Error(err))
	}
}

// reportBlobs returns the content digests a report references: those in
// have (a snapshot's) and those of the drift's old and new items, sorted
// and unique.
func reportBlobs(d *baseline.Drift, have []baseline.Digest) []baseline.Digest {
	seen := make(map[baseline.Digest]bool, len(have))
	out := make([]baseline.Digest, 0, len(have))
	add := func(dg baseline.Digest) {
		if !dg.IsZero() && !seen[dg] {
			seen[dg] = true
			out = append(out, dg)
		}
	}
	for _, dg := range have {
		add(dg)
	}
	if d != nil {
		for i := range d.Changes {
			if it := d.Changes[i].Old; it != nil {
				add(it.Content)
			}
			if it := d.Changes[i].New; it != nil {
				add(it.Content)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	if len(out) == 0 {
		return nil
	}
	return out
}

// uploadBlobs uploads from the state store each blob the collector does
// not have yet.
func (a *Agent) uploadBlobs(ctx context.Context, c *api.Client, blobs []baseline.Digest) error {
	sent := 0
	for _, d := range blobs {
		has, err := c.HasBlob(ctx, d)
		if err != nil {
			return err
		}
		if has {
			continue
		}
		content, err := a.store.Blob(d)
		if errors.Is(err, fs.ErrNotExist) {
			// Sending again cannot help: the content is gone.
			return fmt.Errorf("upload content %s: %w", d.Short(), errBlobGone)
		}
		if err != nil {
			return fmt.Errorf("upload content %s: %w", d.Short(), err)
		}
		if err := c.PutBlob(ctx, d, content); err != nil {
			return err
		}
		sent++
	}
	a.log.Debug("content uploaded", zap.Int("referenced", len(blobs)), zap.Int("uploaded", sent))
	return nil
}

func (a *Agent) userAgent() string { return "driftwatch-agent/" + a.version }
