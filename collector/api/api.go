// Package api is driftwatch's wire protocol between agents, scripts and the
// collector: the JSON types of API v1 (/api/v1/…) and the Go client the agent
// uses. The agent imports this package and nothing else of the collector.
//
// Every request carries the protocol version in the Driftwatch-Protocol
// header ("1.3"); a collector refuses a major version it does not speak,
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
//   - 1.1: agents running as a service — heartbeats (POST /api/v1/heartbeat)
//     whose answer carries the current baseline version and digest; host
//     events (POST /api/v1/events: coverage gaps of the realtime watch,
//     reports dropped from a full spool), read back with GET
//     /api/v1/hosts/{id}/events and GET /api/v1/hosts/{id}/status; a
//     host's first report may carry the agent's approved baseline
//     (Report.Baseline), which becomes the collector's version 1;
//     ReportResponse.BaselineDigest.
//   - 1.2: change management — change tickets (POST/GET /api/v1/tickets,
//     GET /api/v1/tickets/{id}, POST /api/v1/tickets/{id}/actions), the
//     tenant policy (GET/PUT /api/v1/policy), reconciled drift items
//     (GET /api/v1/drift, GET /api/v1/drift/{id}, POST …/accept and
//     …/revert), the audit log (GET /api/v1/audit, GET
//     /api/v1/audit/verify) and change metrics (GET
//     /api/v1/change-metrics).
//   - 1.3: package-manager transactions in reports (Report.Transactions
//     and Report.ItemTransactions: which drift happened inside an apt or
//     dnf run, with its packages, command and user); CI deployment notes
//     (POST/GET /api/v1/deployments); change-source connectors
//     (/api/v1/connectors, admin only) and their signed webhooks
//     (POST /api/v1/webhooks/{connector}).
package api

import (
	"encoding/json"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// ProtocolVersion is the protocol version this package speaks.
const ProtocolVersion = "1.3"

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
	PathHeartbeat = "/api/v1/heartbeat"
	PathEvents    = "/api/v1/events"
	// Change management (1.2).
	PathTickets    = "/api/v1/tickets"
	PathPolicy     = "/api/v1/policy"
	PathDrift      = "/api/v1/drift"
	PathAudit      = "/api/v1/audit"
	PathMetricsAPI = "/api/v1/change-metrics"
	PathHealth     = "/healthz"
	PathReady      = "/readyz"
	PathMetrics    = "/metrics"
	MaxReportSize  = 64 << 20 // bytes of a report body, uncompressed
	MaxBlobSize    = 16 << 20 // bytes of one content blob
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
	// Baseline is the agent's approved baseline, sent with a host's first
	// report when the agent has one: it becomes the collector's version 1
	// (keeping who approved it, when and why), and Drift is relative to
	// it. Its content digests are listed in Blobs too. (1.1)
	Baseline *Baseline `json:"baseline,omitempty"`
	// Transactions are the package-manager transactions that changes of
	// Drift happened in, each once. (1.3)
	Transactions []PackageTransaction `json:"transactions,omitempty"`
	// ItemTransactions maps the key of a change in Drift to the ID of the
	// transaction in Transactions it happened in; changes made outside
	// every transaction are not in it. (1.3)
	ItemTransactions map[string]string `json:"item_transactions,omitempty"`
}

// Package managers, the values of PackageTransaction.Manager. (1.3)
const (
	ManagerApt  = "apt"
	ManagerDpkg = "dpkg"
	ManagerDnf  = "dnf"
	ManagerRPM  = "rpm"
)

// PackageTransaction is one package-manager run on a host, as an agent
// recorded it through the package manager's hooks: what it changed, who
// ran it and when. (1.3)
type PackageTransaction struct {
	// ID names the transaction uniquely on the host.
	ID string `json:"id"`
	// Manager is apt, dpkg, dnf or rpm.
	Manager string `json:"manager"`
	// Command is the package manager's command line ("apt-get install -y
	// nginx"); empty when it could not be read.
	Command string `json:"command,omitempty"`
	// User is who ran it: the user behind sudo, else the login user.
	User string `json:"user,omitempty"`
	// Started and Ended bound the run; Ended is absent while it is in
	// progress.
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Incomplete is set when the package manager did not report its end
	// (killed, or the host went down).
	Incomplete bool `json:"incomplete,omitempty"`
	// Packages are the packages it changed, sorted by name.
	Packages []PackageChange `json:"packages"`
}

// PackageChange is one package a transaction changed. (1.3)
type PackageChange struct {
	Name string `json:"name"`
	Arch string `json:"arch,omitempty"`
	// From is the version before (empty for an installation), To the
	// version after (empty for a removal).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Action is install, upgrade, downgrade, reinstall, remove or purge.
	Action string `json:"action"`
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
	// BaselineDigest is that baseline's snapshot digest; zero when the
	// host has none. (1.1)
	BaselineDigest baseline.Digest `json:"baseline_digest,omitzero"`
}

// Heartbeat tells the collector an agent running as a service is alive,
// and how it is doing. (1.1)
type Heartbeat struct {
	// SentAt is when the agent sent it.
	SentAt time.Time `json:"sent_at"`
	// AgentVersion is the agent's version.
	AgentVersion string `json:"agent_version,omitempty"`
	// Status is the agent's state.
	Status AgentStatus `json:"status"`
}

// AgentStatus is what an agent running as a service knows of itself: what
// `driftwatch-agent status` prints, and what the collector keeps of each
// host's newest heartbeat.
type AgentStatus struct {
	// Started is when the service started.
	Started time.Time `json:"started"`
	// Baseline is the version and snapshot digest of the baseline the
	// agent compares with, as the collector numbers it when it came from
	// there.
	BaselineVersion int             `json:"baseline_version"`
	BaselineDigest  baseline.Digest `json:"baseline_digest,omitzero"`
	// LastScan is when the last full scan ended, and LastChange when the
	// last targeted rescan did.
	LastScan   *time.Time `json:"last_scan,omitempty"`
	LastChange *time.Time `json:"last_change,omitempty"`
	// OpenChanges is the number of changes in the current drift.
	OpenChanges int `json:"open_changes"`
	// LastReport is the sequence and time of the last report the
	// collector acknowledged.
	LastReportSequence uint64     `json:"last_report_sequence,omitempty"`
	LastReportAt       *time.Time `json:"last_report_at,omitempty"`
	// Spool is the queue of reports and events not yet acknowledged.
	Spool SpoolStatus `json:"spool"`
	// Watch is the coverage of the realtime watch.
	Watch WatchStatus `json:"watch"`
}

// SpoolStatus describes an agent's spool.
type SpoolStatus struct {
	Entries  int        `json:"entries"`
	Bytes    int64      `json:"bytes"`
	MaxBytes int64      `json:"max_bytes"`
	Oldest   *time.Time `json:"oldest,omitempty"`
	// Coalesced and Dropped count reports the spool replaced by a newer
	// one or dropped (each drop is reported as a gap event).
	Coalesced int `json:"coalesced"`
	Dropped   int `json:"dropped"`
	// LastError is the last error sending to the collector, empty after a
	// success.
	LastError string `json:"last_error,omitempty"`
}

// WatchStatus describes the coverage of an agent's realtime watch.
type WatchStatus struct {
	// Enabled is false when the configuration turns the watch off.
	Enabled bool `json:"enabled"`
	// Watched is the number of directories watched.
	Watched int `json:"watched"`
	// Uncovered are the directories the watch cannot cover (watch limit
	// reached); scheduled scans cover them.
	Uncovered []string `json:"uncovered,omitempty"`
	// Overflows counts event queue overflows, each followed by a full scan.
	Overflows int `json:"overflows"`
}

// HeartbeatResponse answers a heartbeat. (1.1)
type HeartbeatResponse struct {
	// BaselineVersion and BaselineDigest name the host's current approved
	// baseline at the collector (0 and zero when it has none): an agent
	// that compares with another one fetches it.
	BaselineVersion int             `json:"baseline_version"`
	BaselineDigest  baseline.Digest `json:"baseline_digest,omitzero"`
	// ServerTime is the collector's clock, for the agent to notice a skew.
	ServerTime time.Time `json:"server_time"`
}

// Event kinds an agent reports.
const (
	// EventGap: reports were lost (the spool was full, or the collector
	// refused one); Detail says which and when.
	EventGap = "gap"
	// EventCoverageGap: the realtime watch does not cover part of the
	// configured paths (watch limit reached, event queue overflow);
	// scheduled scans cover it meanwhile.
	EventCoverageGap = "coverage_gap"
	// EventCoverageRestored: the realtime watch covers a part again.
	EventCoverageRestored = "coverage_restored"
)

// Event is something an agent reports besides drift. (1.1)
type Event struct {
	// ID is unique per host: an event sent again is stored once.
	ID string `json:"id"`
	// Kind is one of the Event… constants.
	Kind string `json:"kind"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Summary says what happened, for a person.
	Summary string `json:"summary"`
	// Detail is the event's data; its shape depends on Kind.
	Detail json.RawMessage `json:"detail,omitempty"`
	// ReceivedAt is when the collector stored it (set in answers only).
	ReceivedAt *time.Time `json:"received_at,omitempty"`
}

// EventBatch is the body of POST /api/v1/events. (1.1)
type EventBatch struct {
	Events []Event `json:"events"`
}

// EventsResponse acknowledges an EventBatch.
type EventsResponse struct {
	// Added is how many events were new; the rest were stored already.
	Added int `json:"added"`
}

// HostStatus is a host with its agent's newest heartbeat. (1.1)
type HostStatus struct {
	Host Host `json:"host"`
	// HeartbeatAt is when the newest heartbeat arrived; nil for none.
	HeartbeatAt *time.Time `json:"heartbeat_at"`
	// Status is the agent's status it carried.
	Status *AgentStatus `json:"status,omitempty"`
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

// TicketAction is the body of POST /api/v1/tickets/{id}/actions: a step of
// the ticket workflow (submit, review, approve, reject, start, complete,
// document, cancel). (1.2)
type TicketAction struct {
	Action string `json:"action"`
	// Comment is required to reject or cancel.
	Comment string `json:"comment,omitempty"`
}

// DriftItem is one reconciled change on a host: an item key that differs
// from the host's baseline, with its verdict and escalation level. (1.2)
type DriftItem struct {
	ID     string `json:"id"`
	HostID string `json:"host_id"`
	Host   string `json:"host"`
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	Change string `json:"change"`
	// FirstSeen is when a report first showed it; ChangedAt when its
	// current state was first seen; LastSeen the newest report showing it.
	FirstSeen time.Time `json:"first_seen"`
	ChangedAt time.Time `json:"changed_at"`
	LastSeen  time.Time `json:"last_seen"`
	// Current says the host's newest report still shows it so.
	Current bool `json:"current"`
	// Status is open, accepted, promoted, revert_requested or reverted.
	Status string `json:"status"`
	// Verdict is authorized, unapproved_ticket, out_of_window, frozen or
	// unauthorized; Level 1 to 3; Rule the escalation rule that set it;
	// Tickets the covering tickets, the deciding one first.
	Verdict       string   `json:"verdict"`
	Level         int      `json:"level"`
	Rule          string   `json:"rule,omitempty"`
	Tickets       []string `json:"tickets"`
	VerdictReason string   `json:"verdict_reason,omitempty"`
	// ResolvedAt, ResolvedBy, Reason and TicketRef record the latest
	// decision on it.
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	TicketRef  string     `json:"ticket_ref,omitempty"`
	// Detail is the change (baseline.Change) with old and new state and
	// content diff.
	Detail json.RawMessage `json:"detail,omitempty"`
	// History is every event of the item (only in GET /api/v1/drift/{id}).
	History []DriftEvent `json:"history,omitempty"`
}

// DriftEvent is one entry of a drift item's history. (1.2)
type DriftEvent struct {
	At             time.Time `json:"at"`
	Event          string    `json:"event"`
	Actor          string    `json:"actor,omitempty"`
	ReportSequence uint64    `json:"report_sequence,omitempty"`
	FromStatus     string    `json:"from_status,omitempty"`
	ToStatus       string    `json:"to_status,omitempty"`
	FromVerdict    string    `json:"from_verdict,omitempty"`
	ToVerdict      string    `json:"to_verdict,omitempty"`
	FromLevel      int       `json:"from_level,omitempty"`
	ToLevel        int       `json:"to_level,omitempty"`
	Reason         string    `json:"reason,omitempty"`
}

// DriftPage is one page of drift items in inbox order. (1.2)
type DriftPage struct {
	Items []DriftItem `json:"items"`
	// Next is the cursor of the following page; empty after the last.
	Next string `json:"next,omitempty"`
}

// DriftDecision is the body of POST /api/v1/drift/{id}/accept and
// …/revert. (1.2)
type DriftDecision struct {
	// Reason is required.
	Reason string `json:"reason"`
	// Ticket names a ticket for the change afterwards (accept only).
	Ticket string `json:"ticket,omitempty"`
}

// DriftDecisionResult answers a decision: the baseline versions an
// acceptance made. (1.2)
type DriftDecisionResult struct {
	Baselines []HostBaselineVersion `json:"baselines,omitempty"`
}

// HostBaselineVersion names one baseline version of a host. (1.2)
type HostBaselineVersion struct {
	HostID  string `json:"host_id"`
	Host    string `json:"host"`
	Version int    `json:"version"`
}

// AuditEntry is one entry of a tenant's hash-chained audit log. (1.2)
type AuditEntry struct {
	Seq      uint64          `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash,omitempty"`
	Hash     string          `json:"hash"`
}

// AuditVerification is the result of checking a tenant's audit chain.
// (1.2)
type AuditVerification struct {
	Checked uint64 `json:"checked"`
	Intact  bool   `json:"intact"`
	// BrokenAt is the first entry that does not verify; Problem says why.
	BrokenAt uint64 `json:"broken_at,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// PathTenants is where a tenant's own resources live:
// PathTenants + "/{tenant}/notify" is its notification settings.
const PathTenants = "/api/v1/tenants"

// NotifySettings are a tenant's notification settings, as
// GET and PUT /api/v1/tenants/{tenant}/notify carry them; the same
// settings as a notify block of the collector configuration, checked the
// same way. A tenant with a notify block in the configuration follows the
// block, not these.
type NotifySettings struct {
	// Digest is the cron expression of the digest ("0 16 * * FRI");
	// empty: the period's default.
	Digest string `json:"digest,omitempty"`
	// TimeZone is the IANA zone of the schedule and quiet hours
	// ("America/New_York"); empty: UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Period is what a digest covers: "day", "week" or "month".
	Period string `json:"period,omitempty"`
	// Recipients get the digest.
	Recipients []string `json:"recipients,omitempty"`
	// AlertLevel3 get level 3 changes at once (on-call).
	AlertLevel3 []string `json:"alert_level3,omitempty"`
	// Level3Window is the span level 3 changes of one item coalesce in
	// ("10m").
	Level3Window string `json:"level3_window,omitempty"`
	// AlertLevel2 get the level 2 summary (the tech lead).
	AlertLevel2 []string `json:"alert_level2,omitempty"`
	// Level2Every is how often the level 2 summary goes out ("1h").
	Level2Every string `json:"level2_every,omitempty"`
	// QuietHours hold digests and summaries ("22:00-07:00").
	QuietHours string `json:"quiet_hours,omitempty"`
	// Mandatory names the lists recipients may not leave: "digest",
	// "summary", "alert".
	Mandatory []string `json:"mandatory,omitempty"`
}

// TenantNotify is a tenant's notification settings with their version.
type TenantNotify struct {
	Tenant   string         `json:"tenant"`
	Settings NotifySettings `json:"settings"`
	// Version counts the changes, from 1.
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// Paths of the change-source connectors. PathWebhooks + {connector}
// receives a connector's signed deliveries; it is authenticated by the
// signature, not a bearer token, and needs no protocol header.
const (
	PathConnectors = "/api/v1/connectors"
	PathWebhooks   = "/api/v1/webhooks/"
)

// Where a connector was configured (Connector.Source).
const (
	ConnectorFromAPI    = "api"
	ConnectorFromConfig = "config"
)

// Connector is a change-source connector: POST /api/v1/connectors and
// PUT /api/v1/connectors/{name} take it, GET gives it back with its status
// and without its credentials.
type Connector struct {
	Name string `json:"name"`
	// Tenant is the name of the tenant whose tickets it keeps: the
	// tenant the request acts in (empty in a request, or the same).
	Tenant string `json:"tenant"`
	// Kind is servicenow, jira, halopsa, connectwise or webhook.
	Kind    string `json:"kind"`
	URL     string `json:"url,omitempty"`
	AuthURL string `json:"auth_url,omitempty"`
	// Poll is the interval between polls ("5m", at least "30s").
	Poll     string `json:"poll,omitempty"`
	Filter   string `json:"filter,omitempty"`
	PageSize int    `json:"page_size,omitempty"`
	// Mapping changes how external records become tickets.
	Mapping *ConnectorMapping `json:"mapping,omitempty"`
	// Credentials are write-only: stored encrypted, never returned.
	// CredentialsFile and CredentialsEnv name where the collector reads
	// them instead. At most one of the three is given.
	Credentials     *ConnectorCredentials `json:"credentials,omitempty"`
	CredentialsFile string                `json:"credentials_file,omitempty"`
	CredentialsEnv  string                `json:"credentials_env,omitempty"`
	// HasCredentials is set in answers when credentials are stored.
	HasCredentials bool `json:"has_credentials,omitempty"`
	// Source is "api" or "config" (a collector's configuration file:
	// read-only here). Set in answers.
	Source string `json:"source,omitempty"`
	// Status is the connector's health; set in answers once it ran.
	Status *ConnectorStatus `json:"status,omitempty"`
	// CreatedAt and UpdatedAt are set in answers.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// ConnectorMapping is a connector's mapping block.
type ConnectorMapping struct {
	Fields          map[string]string `json:"fields,omitempty"`
	States          map[string]string `json:"states,omitempty"`
	Approvals       map[string]string `json:"approvals,omitempty"`
	ItemLabelPrefix *string           `json:"item_label_prefix,omitempty"`
	HostLabelPrefix *string           `json:"host_label_prefix,omitempty"`
	DefaultItems    []string          `json:"default_items,omitempty"`
	Origin          string            `json:"origin,omitempty"`
	TimeZone        string            `json:"time_zone,omitempty"`
}

// ConnectorCredentials are what a connector logs in with; which fields
// count depends on its kind (secret: a webhook's shared secret).
type ConnectorCredentials struct {
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	Token        string `json:"token,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Company      string `json:"company,omitempty"`
	PublicKey    string `json:"public_key,omitempty"`
	PrivateKey   string `json:"private_key,omitempty"`
	Secret       string `json:"secret,omitempty"`
}

// ConnectorStatus is a connector's health.
type ConnectorStatus struct {
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	AuthFailed  bool      `json:"auth_failed,omitempty"`
	Failures    int       `json:"failures,omitempty"`
	Created     int       `json:"created"`
	Updated     int       `json:"updated"`
	Unchanged   int       `json:"unchanged"`
	Rejected    int       `json:"rejected"`
	// Rejects are the records the last sync rejected, and why.
	Rejects []ConnectorReject `json:"rejects,omitempty"`
	// Stale: no success for three poll intervals (or never).
	Stale bool `json:"stale"`
}

// ConnectorReject is a record a connector did not import.
type ConnectorReject struct {
	Reference string `json:"reference"`
	Reason    string `json:"reason"`
}

// ConnectorList is the answer of GET /api/v1/connectors.
type ConnectorList struct {
	Connectors []Connector `json:"connectors"`
}

// PathDeployments is where CI deployment notes are recorded (POST) and
// listed (GET). (1.3)
const PathDeployments = "/api/v1/deployments"

// DeploymentRequest records a CI deployment: a commit deployed under a
// change ticket to some hosts. (1.3)
type DeploymentRequest struct {
	// Ticket is the change ticket's reference or ID; required.
	Ticket string `json:"ticket"`
	// Environment is where it was deployed to ("prod").
	Environment string `json:"environment,omitempty"`
	// Commit is the deployed revision; required.
	Commit string `json:"commit"`
	// Repository and PipelineURL are http(s) URLs of the repository and
	// the pipeline run.
	Repository  string `json:"repository,omitempty"`
	PipelineURL string `json:"pipeline_url,omitempty"`
	// Hosts are host names or IDs; Labels select hosts by their labels
	// ({"role": "web"}: every host with role=web). At least one of the
	// two; the deployment is to the hosts of both.
	Hosts  []string          `json:"hosts,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// At is when it was deployed, RFC 3339; now when empty.
	At string `json:"at,omitempty"`
}

// DeploymentHost is a host a deployment went to. (1.3)
type DeploymentHost struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Deployment is a recorded CI deployment. (1.3)
type Deployment struct {
	ID string `json:"id"`
	// Ticket is the ticket's reference (its ID when it has none),
	// TicketID its ID, TicketState its state now.
	Ticket      string            `json:"ticket"`
	TicketID    string            `json:"ticket_id"`
	TicketState string            `json:"ticket_state,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Commit      string            `json:"commit"`
	Repository  string            `json:"repository,omitempty"`
	PipelineURL string            `json:"pipeline_url,omitempty"`
	Hosts       []DeploymentHost  `json:"hosts"`
	Labels      map[string]string `json:"labels,omitempty"`
	At          time.Time         `json:"at"`
	RecordedAt  time.Time         `json:"recorded_at"`
	By          string            `json:"by"`
	// Authorizes says whether the ticket's state lets the deployment
	// authorize drift now; Note explains when it does not (a ticket not
	// yet approved: the deployment is recorded and authorizes once the
	// ticket is approved).
	Authorizes bool   `json:"authorizes"`
	Note       string `json:"note,omitempty"`
	// WindowBefore and WindowAfter bound the drift the deployment
	// authorizes on its hosts: observed from WindowBefore before At to
	// WindowAfter after it ("10m", "30m"). Only in the answer to POST.
	WindowBefore string `json:"window_before,omitempty"`
	WindowAfter  string `json:"window_after,omitempty"`
	// Reconciled is how many outstanding drift items of its hosts changed
	// verdict when it was recorded. Only in the answer to POST.
	Reconciled int `json:"reconciled,omitempty"`
}

// DeploymentPage is one page of GET /api/v1/deployments. (1.3)
type DeploymentPage struct {
	Deployments []Deployment `json:"deployments"`
	// Next is the cursor of the next page; empty after the last.
	Next string `json:"next,omitempty"`
}
