package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// Meta of a host's first baseline, taken as found from its first report.
const (
	initialApprovedBy = "driftwatch"
	initialReason     = "initial documentation, not yet reviewed"
)

// handleEnroll exchanges an enrollment token for a host ID and credential.
func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var req api.EnrollRequest
	if !decodeJSON(w, r, maxRequestBody, &req, "") {
		return
	}
	if req.Token == "" {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "an enrollment token is required", Field: "token"})
		return
	}
	if strings.TrimSpace(req.Host.Name) == "" {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "the host name is required", Field: "host.name"})
		return
	}
	hostID, err := auth.NewID(auth.PrefixHostID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	cred, credHash, err := auth.NewSecret(auth.PrefixHostCredential)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	h, err := s.store.Enroll(r.Context(), store.Enrollment{
		TokenHash:      auth.Hash(req.Token),
		Name:           req.Host.Name,
		Labels:         req.Host.Labels,
		AgentVersion:   req.AgentVersion,
		CredentialHash: credHash,
		NewHostID:      hostID,
		At:             s.now(),
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusUnauthorized, api.Error{Error: "enrollment token not known", Field: "token"})
		return
	case errors.Is(err, store.ErrTokenExpired):
		writeError(w, r, http.StatusForbidden, api.Error{Error: "enrollment token expired", Field: "token"})
		return
	case errors.Is(err, store.ErrTokenUsedUp):
		writeError(w, r, http.StatusForbidden, api.Error{Error: "enrollment token used up", Field: "token"})
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	t, err := s.store.TenantByID(r.Context(), h.TenantID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("tenant of host %s: %w", h.ID, err))
		return
	}
	writeJSON(w, http.StatusOK, api.EnrollResponse{HostID: h.ID, Tenant: t.Name, Credential: cred})
}

// blobDigest parses the {sha256} path value, or answers 400.
func blobDigest(w http.ResponseWriter, r *http.Request) (baseline.Digest, bool) {
	d, err := baseline.ParseDigest(r.PathValue("sha256"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, api.Error{Error: "the path must end in a SHA-256 as 64 hex characters", Field: "sha256"})
		return d, false
	}
	return d, true
}

// handlePutBlob stores a content blob for the agent's tenant.
func (s *Server) handlePutBlob(w http.ResponseWriter, r *http.Request) {
	h := s.agent(w, r)
	if h == nil {
		return
	}
	d, ok := blobDigest(w, r)
	if !ok {
		return
	}
	content, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBlobSize))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, r, http.StatusRequestEntityTooLarge, api.Error{Error: fmt.Sprintf("blob exceeds %d bytes", s.maxBlobSize)})
		return
	case err != nil:
		writeError(w, r, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("read blob: %v", err)})
		return
	}
	if got := baseline.Sum(content); got != d {
		writeError(w, r, http.StatusBadRequest, api.Error{
			Error: fmt.Sprintf("content digest is %s, not the one in the path", got),
			Field: "sha256",
		})
		return
	}
	missing, err := s.store.MissingBlobs(r.Context(), h.TenantID, []baseline.Digest{d})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if len(missing) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := s.store.PutBlob(r.Context(), h.TenantID, d, content); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// handleHeadBlob says whether the agent's tenant has a blob.
func (s *Server) handleHeadBlob(w http.ResponseWriter, r *http.Request) {
	h := s.agent(w, r)
	if h == nil {
		return
	}
	d, ok := blobDigest(w, r)
	if !ok {
		return
	}
	missing, err := s.store.MissingBlobs(r.Context(), h.TenantID, []baseline.Digest{d})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if len(missing) > 0 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// reportBody is api.Report with Sources and Drift kept as sent, so that
// the store gets their JSON byte for byte.
type reportBody struct {
	api.Report
	Sources json.RawMessage `json:"sources"`
	Drift   json.RawMessage `json:"drift"`
}

// rejection is why a report was refused: the answer and the metric label.
type rejection struct {
	status int
	reason string
	err    api.Error
}

func invalid(field, format string, args ...any) *rejection {
	return &rejection{status: http.StatusBadRequest, reason: rejectInvalid, err: api.Error{Error: fmt.Sprintf(format, args...), Field: field}}
}

// handleReport ingests a report from an agent.
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h := s.agent(w, r)
	if h == nil {
		s.metrics.reportsRejected.WithLabelValues(rejectUnauthorized).Inc()
		return
	}
	body, rej := s.readReport(w, r)
	defer body.free()
	if rej == nil {
		var sr store.Report
		var initial *store.Baseline
		var drift *baseline.Drift
		var in reportBody
		var txs []store.PackageTransaction
		sr, initial, drift, rej = s.checkReport(r, h, body.b, &in)
		if rej == nil {
			txs, rej = reportTransactions(&in.Report, drift)
		}
		if rej == nil {
			// The drift items (each change judged) and package
			// transactions are stored in the report's transaction.
			res, err := s.changes.Ingest(r.Context(), *h, sr, initial, drift, txs...)
			if err != nil {
				s.metrics.reportsRejected.WithLabelValues(rejectError).Inc()
				s.serverError(w, r, fmt.Errorf("host %s: %w", h.ID, err))
				return
			}
			if !res.Duplicate {
				s.metrics.reportsIngested.Inc()
			}
			s.metrics.ingestSeconds.Observe(time.Since(start).Seconds())
			writeJSON(w, http.StatusOK, api.ReportResponse{Sequence: sr.Sequence, Duplicate: res.Duplicate,
				BaselineVersion: res.BaselineVersion, BaselineDigest: res.BaselineDigest})
			return
		}
	}
	s.metrics.reportsRejected.WithLabelValues(rej.reason).Inc()
	if rej.status >= 500 {
		s.serverError(w, r, errors.New(rej.err.Error))
		return
	}
	writeError(w, r, rej.status, rej.err)
}

// reportBuf is a report body read into a buffer of a pool; free returns
// the buffer, after which b must not be used (what the report keeps is
// copied out of it while it is decoded).
type reportBuf struct {
	b   []byte
	buf *bytes.Buffer
}

func (rb reportBuf) free() {
	if rb.buf != nil && rb.buf.Cap() <= maxPooledBody {
		rb.buf.Reset()
		bodyPool.Put(rb.buf)
	}
}

// maxPooledBody is the largest body buffer kept for the next report: a
// rare large report's buffer is left to the garbage collector.
const maxPooledBody = 1 << 20

var (
	// bodyPool holds *bytes.Buffer for report bodies.
	bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	// gzipPool holds *gzip.Reader for gzipped report bodies (each holds a
	// 32 KiB window).
	gzipPool sync.Pool
)

// readReport reads the report body, gunzipping it when it says so, up to
// maxReportSize uncompressed bytes.
func (s *Server) readReport(w http.ResponseWriter, r *http.Request) (reportBuf, *rejection) {
	tooLarge := &rejection{status: http.StatusRequestEntityTooLarge, reason: rejectTooLarge,
		err: api.Error{Error: fmt.Sprintf("report body exceeds %d bytes", s.maxReportSize)}}
	// The compressed body may be slightly larger than the uncompressed
	// one (gzip of incompressible data); allow for that.
	var src io.Reader = http.MaxBytesReader(w, r.Body, s.maxReportSize+s.maxReportSize/64+1<<16)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(src)
		} else {
			err = zr.Reset(src)
		}
		if err != nil {
			return reportBuf{}, &rejection{status: http.StatusBadRequest, reason: rejectMalformed,
				err: api.Error{Error: fmt.Sprintf("gzip body: %v", err)}}
		}
		defer func() {
			if zr.Close() == nil {
				gzipPool.Put(zr)
			}
		}()
		src = zr
	default:
		return reportBuf{}, &rejection{status: http.StatusUnsupportedMediaType, reason: rejectMalformed,
			err: api.Error{Error: fmt.Sprintf("Content-Encoding %q is not supported; send gzip or none", enc)}}
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	rb := reportBuf{buf: buf}
	_, err := buf.ReadFrom(io.LimitReader(src, s.maxReportSize+1))
	rb.b = buf.Bytes()
	s.metrics.reportBytes.Add(float64(len(rb.b)))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), int64(len(rb.b)) > s.maxReportSize:
		return rb, tooLarge
	case err != nil:
		return rb, &rejection{status: http.StatusBadRequest, reason: rejectMalformed,
			err: api.Error{Error: fmt.Sprintf("read report body: %v", err)}}
	}
	return rb, nil
}

// checkReport decodes and validates a report and returns what to store.
func (s *Server) checkReport(r *http.Request, h *store.Host, body []byte, in *reportBody) (store.Report, *store.Baseline, *baseline.Drift, *rejection) {
	// Decoded from the body as it is in memory (a json.Decoder would copy
	// it into a buffer of its own first). The raw documents kept are
	// copied out of it.
	err := json.Unmarshal(body, in)
	var se *json.SyntaxError
	if errors.As(err, &se) && strings.HasSuffix(se.Error(), "after top-level value") {
		err = fmt.Errorf("trailing data after the report (offset %d)", se.Offset)
	}
	if err != nil {
		return store.Report{}, nil, nil, &rejection{status: http.StatusBadRequest, reason: rejectMalformed, err: jsonError(err, "report")}
	}
	rep := in.Report
	if isNull(in.Sources) {
		in.Sources = nil
	} else if err := json.Unmarshal(in.Sources, &rep.Sources); err != nil {
		return store.Report{}, nil, nil, &rejection{status: http.StatusBadRequest, reason: rejectMalformed, err: api.Error{Error: fmt.Sprintf("malformed sources: %v", err), Field: "report.sources"}}
	}
	if isNull(in.Drift) {
		in.Drift = nil
	} else {
		rep.Drift = new(baseline.Drift)
		if err := json.Unmarshal(in.Drift, rep.Drift); err != nil {
			return store.Report{}, nil, nil, &rejection{status: http.StatusBadRequest, reason: rejectMalformed, err: api.Error{Error: fmt.Sprintf("malformed drift: %v", err), Field: "report.drift"}}
		}
	}

	switch {
	case rep.Sequence < 1 || rep.Sequence > math.MaxInt64:
		return store.Report{}, nil, nil, invalid("report.sequence", "sequence must be 1 or more (and at most %d)", int64(math.MaxInt64))
	case rep.SnapshotDigest.IsZero():
		return store.Report{}, nil, nil, invalid("report.snapshot_digest", "snapshot_digest is required")
	case rep.ItemCount < 0:
		return store.Report{}, nil, nil, invalid("report.item_count", "item_count must not be negative")
	case rep.TakenAt.IsZero():
		return store.Report{}, nil, nil, invalid("report.taken_at", "taken_at is required")
	case rep.Drift != nil && rep.Drift.Host != h.Name:
		return store.Report{}, nil, nil, invalid("report.drift.host", "drift is of host %q, not of this host %q", rep.Drift.Host, h.Name)
	case rep.Drift != nil && !rep.Drift.SnapshotDigest.IsZero() && rep.Drift.SnapshotDigest != rep.SnapshotDigest:
		return store.Report{}, nil, nil, invalid("report.drift.snapshot_digest", "drift is of snapshot %s, not of snapshot_digest %s", rep.Drift.SnapshotDigest.Short(), rep.SnapshotDigest.Short())
	}

	now := s.now()
	need := rep.Blobs
	var initial *store.Baseline
	if len(rep.Snapshot) > 0 {
		snap, err := baseline.Unmarshal(rep.Snapshot)
		if err != nil {
			return store.Report{}, nil, nil, invalid("report.snapshot", "snapshot: %v", err)
		}
		if got := snap.Digest(); got != rep.SnapshotDigest {
			return store.Report{}, nil, nil, invalid("report.snapshot", "the snapshot's digest is %s, not snapshot_digest %s", got, rep.SnapshotDigest)
		}
		if snap.Host.Name != h.Name {
			return store.Report{}, nil, nil, invalid("report.snapshot", "the snapshot is of host %q, not of this host %q", snap.Host.Name, h.Name)
		}
		canonical, err := snap.Marshal()
		if err != nil {
			return store.Report{}, nil, nil, invalid("report.snapshot", "snapshot: %v", err)
		}
		need = append(need[:len(need):len(need)], snap.ContentDigests()...)
		initial = &store.Baseline{
			TenantID: h.TenantID,
			HostID:   h.ID,
			Meta: baseline.Meta{
				Host:           h.Name,
				Version:        1,
				SnapshotDigest: rep.SnapshotDigest,
				Items:          len(snap.Items),
				ApprovedBy:     initialApprovedBy,
				ApprovedAt:     now,
				Reason:         initialReason,
				Reviewed:       false,
			},
			Snapshot: canonical,
		}
	}
	if b := rep.Baseline; b != nil && len(b.Snapshot) > 0 {
		snap, err := baseline.Unmarshal(b.Snapshot)
		if err != nil {
			return store.Report{}, nil, nil, invalid("report.baseline.snapshot", "baseline snapshot: %v", err)
		}
		if got := snap.Digest(); got != b.SnapshotDigest {
			return store.Report{}, nil, nil, invalid("report.baseline.snapshot", "the baseline snapshot's digest is %s, not snapshot_digest %s", got, b.SnapshotDigest)
		}
		if snap.Host.Name != h.Name {
			return store.Report{}, nil, nil, invalid("report.baseline.snapshot", "the baseline is of host %q, not of this host %q", snap.Host.Name, h.Name)
		}
		if rep.Drift != nil && !rep.Drift.BaselineDigest.IsZero() && rep.Drift.BaselineDigest != b.SnapshotDigest {
			return store.Report{}, nil, nil, invalid("report.drift.baseline_digest", "drift is from baseline %s, not from the baseline sent %s", rep.Drift.BaselineDigest.Short(), b.SnapshotDigest.Short())
		}
		canonical, err := snap.Marshal()
		if err != nil {
			return store.Report{}, nil, nil, invalid("report.baseline.snapshot", "baseline snapshot: %v", err)
		}
		need = append(need[:len(need):len(need)], snap.ContentDigests()...)
		approvedAt := b.ApprovedAt
		if approvedAt.IsZero() {
			approvedAt = now
		}
		by := b.ApprovedBy
		if by == "" {
			by = initialApprovedBy
		}
		reason := b.Reason
		if reason == "" {
			reason = "approved on the host before enrollment"
		}
		initial = &store.Baseline{
			TenantID: h.TenantID,
			HostID:   h.ID,
			Meta: baseline.Meta{
				Host:           h.Name,
				Version:        1,
				SnapshotDigest: b.SnapshotDigest,
				Items:          len(snap.Items),
				ApprovedBy:     by,
				ApprovedAt:     approvedAt,
				Reason:         reason,
				Tickets:        b.Tickets,
				Reviewed:       b.Reviewed,
			},
			Snapshot: canonical,
		}
	}
	if len(need) > 0 {
		missing, err := s.store.MissingBlobs(r.Context(), h.TenantID, need)
		if err != nil {
			return store.Report{}, nil, nil, &rejection{status: http.StatusInternalServerError, reason: rejectError, err: api.Error{Error: err.Error()}}
		}
		if len(missing) > 0 {
			return store.Report{}, nil, nil, &rejection{status: http.StatusBadRequest, reason: rejectMissingBlobs, err: api.Error{
				Error: fmt.Sprintf("blob %s was not uploaded; PUT %s%s first (%d missing)", missing[0], api.PathBlobs, missing[0], len(missing)),
				Field: "report.blobs",
			}}
		}
	}

	sr := store.Report{
		TenantID:       h.TenantID,
		HostID:         h.ID,
		Sequence:       rep.Sequence,
		ReceivedAt:     now,
		TakenAt:        rep.TakenAt,
		SnapshotDigest: rep.SnapshotDigest,
		ItemCount:      rep.ItemCount,
		AgentVersion:   rep.AgentVersion,
		Sources:        in.Sources,
		Drift:          in.Drift,
		Size:           len(body),
	}
	if rep.Drift != nil {
		sr.Changes = len(rep.Drift.Changes)
	}
	return sr, initial, rep.Drift, nil
}

// isNull reports whether raw JSON is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}
