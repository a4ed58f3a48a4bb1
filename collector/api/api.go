// Package api is driftwatch's wire protocol between agents, scripts and the
// collector: the JSON types of API v1 (/api/v1/…) and the Go client the agent
// uses. The agent imports this package and nothing else of the collector.
//
// Every request carries the protocol version in the Driftwatch-Protocol
// header ("1.0"); a collector refuses a major version it does not speak,
// with an Error that lists the ones it does. Within a major version, fields
// are only ever added; readers ignore fields they do not know.
//
// # Version history
//
//   - 1.0: enrollment with single-tenant, expiring, use-limited tokens and a
//     per-host credential; report ingest with sequence numbers (idempotent
//     resend, out-of-order accepted); content blobs by SHA-256; host list,
//     host drift, approved baseline (ETag = version), baseline history and
//     approval from a reported snapshot.
package api

import (
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// ProtocolVersion is the protocol version this package speaks.
const ProtocolVersion = "1.0"

// ProtocolHeader is the request header that carries ProtocolVersion.
const ProtocolHeader = "Driftwatch-Protocol"

// SupportedMajors are the protocol major versions a collector of this
// release accepts.
var SupportedMajors = []string{"1"}

// Paths of API v1.
const (
	PathEnroll    = "/api/v1/enroll"
	PathReports   = "/api/v1/reports"
	PathBlobs     = "/api/v1/blobs/" // + sha256 hex
	PathHosts     = "/api/v1/hosts"
	PathHealth    = "/healthz"
	PathReady     = "/readyz"
	PathMetrics   = "/metrics"
	MaxReportSize = 64 << 20 // bytes of a report body, uncompressed
	MaxBlobSize   = 16 << 20 // bytes of one content blob
)

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	// Error says what is wrong, for a person.
	Error string `json:"error"`
	// Field names the offending field of the request, when there is one
	// ("report.sequence", "token").
	Field string `json:"field,omitempty"`
	// Supported lists the protocol major versions the collector speaks,
	// when the request's was refused.
	Supported []string `json:"supported,omitempty"`
}

// EnrollRequest asks the collector for a host identity, with an enrollment
// token from `driftwatch-collector token create`.
type EnrollRequest struct {
	// Token is the enrollment token.
	Token string `json:"token"`
	// Host is the host's name and labels as the agent knows them.
	Host baseline.Host `json:"host"`
	// AgentVersion is the enrolling agent's version.
	AgentVersion string `json:"agent_version,omitempty"`
}

// EnrollResponse gives the host its identity and credential. The
// credential is shown once; the collector keeps only its hash.
type EnrollResponse struct {
	// HostID is the host's identity at the collector.
	HostID string `json:"host_id"`
	// Tenant is the name of the tenant the host belongs to.
	Tenant string `json:"tenant"`
	// Credential authenticates the agent from now on (Authorization:
	// Bearer).
	Credential string `json:"credential"`
}

// Report is one batch an agent sends: the drift of one check against the
// approved baseline, and for a host's first report its full snapshot.
type Report struct {
	// Sequence numbers the host's reports from 1; resending a sequence is
	// acknowledged and stored once.
	Sequence uint64 `json:"sequence"`
	// SnapshotDigest and ItemCount describe the snapshot the drift comes
	// from.
	SnapshotDigest baseline.Digest `json:"snapshot_digest"`
	ItemCount      int             `json:"item_count"`
	// TakenAt is when the snapshot was taken.
	TakenAt time.Time `json:"taken_at"`
	// AgentVersion is the reporting agent's version.
	AgentVersion string `json:"agent_version,omitempty"`
	// Sources is how each source's run went.
	Sources []baseline.SourceStatus `json:"sources"`
	// Drift is the difference from the agent's approved baseline; nil when
	// the agent has none yet.
	Drift *baseline.Drift `json:"drift,omitempty"`
	// Snapshot is the full snapshot, in its canonical encoding, sent with a
	// host's first report (it becomes baseline v1) and on request.
	Snapshot []byte `json:"snapshot,omitempty"`
	// Blobs are the content digests the report references; each must have
	// been uploaded (PUT /api/v1/blobs/{sha256}) before the report.
	Blobs []baseline.Digest `json:"blobs,omitempty"`
}

// ReportResponse acknowledges a report.
type ReportResponse struct {
	// Sequence is the acknowledged sequence number.
	Sequence uint64 `json:"sequence"`
	// Duplicate is true when this sequence was already stored.
	Duplicate bool `json:"duplicate"`
	// BaselineVersion is the host's current approved baseline version at
	// the collector, so the agent knows when to fetch a newer one.
	BaselineVersion int `json:"baseline_version"`
}

// Host is a host as the API lists it.
type Host struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Tenant          string            `json:"tenant"`
	Labels          map[string]string `json:"labels,omitempty"`
	EnrolledAt      time.Time         `json:"enrolled_at"`
	LastSeen        *time.Time        `json:"last_seen"`
	AgentVersion    string            `json:"agent_version,omitempty"`
	BaselineVersion int               `json:"baseline_version"`
	OpenDrift       int               `json:"open_drift"`
}

// HostDrift is a host's current drift: the changes of its newest report.
type HostDrift struct {
	Host     Host            `json:"host"`
	Sequence uint64          `json:"sequence"`
	Received *time.Time      `json:"received_at"`
	Drift    *baseline.Drift `json:"drift"`
}

// Baseline is one approved baseline version of a host.
type Baseline struct {
	baseline.Meta
	// Snapshot is the canonical snapshot encoding (only in GET
	// /api/v1/hosts/{id}/baseline).
	Snapshot []byte `json:"snapshot,omitempty"`
}

// ApproveRequest approves a reported snapshot as a host's next baseline.
type ApproveRequest struct {
	// SnapshotDigest names a snapshot the host reported.
	SnapshotDigest baseline.Digest `json:"snapshot_digest"`
	// Reason says why; required.
	Reason string `json:"reason"`
	// Tickets are the change tickets it rests on; at least one.
	Tickets []string `json:"tickets"`
}
