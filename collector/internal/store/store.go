// Package store defines what the collector keeps and how: one Store
// interface with two implementations, SQLite (package sqlite, the embedded
// default) and PostgreSQL (package postgres, for several collectors sharing
// one database), both held to the same behaviour by the conformance suite
// in package storetest.
//
// Every method that writes does so in one transaction: it is stored whole
// or not at all. Every method that reads or writes tenant data takes the
// tenant's ID and never returns another tenant's rows.
//
// Times are kept in UTC with microsecond precision: a time read back is the
// time stored, truncated to the microsecond, in time.UTC. IDs are chosen by
// the caller. Digests are kept as lowercase hex.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// Errors the implementations return, matched with errors.Is.
var (
	// ErrNotFound: no such tenant, host, token, user, blob, report or
	// baseline (including one that exists in another tenant).
	ErrNotFound = errors.New("not found")
	// ErrExists: a tenant, token, user or host with that identity (ID,
	// name, email or secret hash) exists already.
	ErrExists = errors.New("already exists")
	// ErrTokenExpired and ErrTokenUsedUp: the enrollment token can no
	// longer be used.
	ErrTokenExpired = errors.New("enrollment token expired")
	ErrTokenUsedUp  = errors.New("enrollment token used up")
	// ErrConflict: a baseline version is not the next one (including a
	// version that exists already, and an initial baseline that is not
	// version 1).
	ErrConflict = errors.New("conflict")
)

// Roles a user can have, from least to most.
const (
	RoleViewer   = "viewer"
	RoleEngineer = "engineer"
	RoleApprover = "approver"
	RoleAdmin    = "admin"
)

// Tenant is one customer of the MSP, or the MSP itself.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Token is an enrollment token; only the hash of its secret is stored.
type Token struct {
	ID       string
	TenantID string
	Hash     string
	// ExpiresAt is the first moment the token can no longer be used; a
	// zero ExpiresAt never expires.
	ExpiresAt time.Time
	// UsesLeft is how many more hosts can enroll with it.
	UsesLeft  int
	CreatedAt time.Time
}

// User is a person or script with an API token. TenantID is empty for an
// MSP-wide admin.
type User struct {
	ID        string
	TenantID  string
	Email     string
	Role      string
	TokenHash string
	CreatedAt time.Time
}

// Host is an enrolled host.
type Host struct {
	ID             string
	TenantID       string
	Name           string
	Labels         map[string]string
	CredentialHash string
	// AgentVersion is the version its agent last gave: set at enrollment
	// and by every report that has the highest sequence so far.
	AgentVersion string
	// EnrolledAt is when it first enrolled; enrolling again keeps it.
	EnrolledAt time.Time
	// LastSeen is when its newest report arrived; zero before the first.
	LastSeen time.Time
	// BaselineVersion is its newest approved baseline version; 0 before
	// the first.
	BaselineVersion int
	// OpenDrift is the number of changes in its report with the highest
	// sequence.
	OpenDrift int
}

// Enrollment enrolls a host with a token. A host that enrolls again under
// the same name in the same tenant keeps its ID and enrollment time and
// gets the new credential, labels and agent version.
type Enrollment struct {
	TokenHash      string
	Name           string
	Labels         map[string]string
	AgentVersion   string
	CredentialHash string
	NewHostID      string // the ID to give a new host
	// At is the enrollment time, also the time the token's expiry is
	// checked against.
	At time.Time
}

// Report is one ingested report.
type Report struct {
	TenantID string
	HostID   string
	// Sequence numbers the host's reports; at most math.MaxInt64.
	Sequence       uint64
	ReceivedAt     time.Time
	TakenAt        time.Time
	SnapshotDigest baseline.Digest
	ItemCount      int
	AgentVersion   string
	// Sources and Drift are the report's JSON, kept as sent byte for
	// byte; each must be valid JSON, or empty (read back as nil).
	Sources []byte
	Drift   []byte
	// Changes is the number of drift changes.
	Changes int
	// Size is the report body's size in bytes.
	Size int
	// ApplyDrift: the report's drift, Observations, is applied to the
	// host's drift items in the same transaction as ApplyDrift would
	// apply it (report Sequence at ReceivedAt), unless the report is a
	// duplicate; IngestResult.Drift says what it did. A failure stores
	// nothing of the report.
	ApplyDrift   bool
	Observations []DriftObservation
	// Transactions are the package transactions the report carries,
	// stored in the same transaction as PutTransactions would store them
	// (report Sequence at ReceivedAt), unless the report is a duplicate.
	Transactions []PackageTransaction
}

// IngestResult says what storing a report did.
type IngestResult struct {
	// Duplicate: this host had already sent this sequence; nothing was
	// stored.
	Duplicate bool
	// BaselineVersion is the host's newest baseline version afterwards.
	BaselineVersion int
	// BaselineDigest is that version's snapshot digest; zero when the
	// host has no baseline.
	BaselineDigest baseline.Digest
	// Drift is what applying the report's drift did (Report.ApplyDrift).
	Drift ApplyResult
}

// Baseline is one approved baseline version with its canonical snapshot
// encoding. Meta.Tickets read back nil when there are none.
type Baseline struct {
	TenantID string
	HostID   string
	Meta     baseline.Meta
	Snapshot []byte
}

// Store is everything the collector keeps. Implementations are safe for
// concurrent use, and for use by several collector processes on one
// database (PostgreSQL).
//
// Lookups of one thing return ErrNotFound when it does not exist in the
// given tenant; listings of a tenant return an empty list for a tenant
// with nothing in it (or no such tenant). Other errors (I/O, a closed
// store, a cancelled context) are wrapped and may be retried; ErrNotFound,
// ErrExists, ErrConflict, ErrTokenExpired and ErrTokenUsedUp are permanent.
type Store interface {
	// Agents is what the agent service adds: heartbeats and host events.
	Agents
	// Tickets is change tickets, tenant policy, reconciled drift items and
	// the audit log.
	Tickets
	// Outbox is the email outbox.
	Outbox
	// Web is the web report's passwords, sessions and sign-in limits.
	Web
	// Connectors is the change-source connectors' shared state.
	Connectors
	// Deployments is the CI deployment notes.
	Deployments
	// Transactions is the agents' package-manager transactions.
	Transactions
	// NotifyPrefs is the notification preferences and settings.
	NotifyPrefs

	// CreateTenant creates a tenant; ErrExists when the name is taken.
	CreateTenant(ctx context.Context, id, name string, at time.Time) (Tenant, error)
	// TenantByName finds a tenant.
	TenantByName(ctx context.Context, name string) (Tenant, error)
	// TenantByID finds a tenant.
	TenantByID(ctx context.Context, id string) (Tenant, error)
	// Tenants lists every tenant by name.
	Tenants(ctx context.Context) ([]Tenant, error)

	// CreateToken stores an enrollment token; ErrNotFound when the tenant
	// does not exist, ErrExists when the ID or hash is taken.
	CreateToken(ctx context.Context, t Token) error
	// Enroll uses one use of the token with the given hash and creates or
	// re-enrolls the host, atomically: two enrollments racing for a token's
	// last use cannot both succeed. ErrNotFound, ErrTokenExpired or
	// ErrTokenUsedUp when the token cannot be used (a token both expired
	// and used up is ErrTokenExpired); ErrExists when NewHostID or the
	// credential hash belongs to another host.
	Enroll(ctx context.Context, e Enrollment) (Host, error)

	// CreateUser stores a user; ErrExists when the ID or token hash is
	// taken or the email (compared case-insensitively) is taken in that
	// tenant, or among MSP-wide users for an empty TenantID; ErrNotFound
	// when the tenant does not exist.
	CreateUser(ctx context.Context, u User) error
	// UserByTokenHash finds the user an API token belongs to, in any
	// tenant.
	UserByTokenHash(ctx context.Context, hash string) (User, error)
	// HostByCredentialHash finds the host an agent credential belongs to,
	// in any tenant.
	HostByCredentialHash(ctx context.Context, hash string) (Host, error)

	// Hosts lists a tenant's hosts by name, with last-seen time, baseline
	// version and open drift count.
	Hosts(ctx context.Context, tenantID string) ([]Host, error)
	// Host finds one host of a tenant.
	Host(ctx context.Context, tenantID, hostID string) (Host, error)

	// PutBlob stores content under its digest for a tenant; storing the
	// same digest again is a no-op. The caller has checked the digest.
	// ErrNotFound when the tenant does not exist.
	PutBlob(ctx context.Context, tenantID string, d baseline.Digest, content []byte) error
	// MissingBlobs returns which of the digests the tenant does not have,
	// each once, in the order given.
	MissingBlobs(ctx context.Context, tenantID string, ds []baseline.Digest) ([]baseline.Digest, error)
	// Blob returns stored content; ErrNotFound when the tenant does not
	// have it.
	Blob(ctx context.Context, tenantID string, d baseline.Digest) ([]byte, error)

	// IngestReport stores a report in one transaction: the report, the
	// host's last-seen time and, when initial is not nil and the host has
	// no baseline yet, initial as its first baseline. A sequence the host
	// already sent is a duplicate: acknowledged, nothing stored. Reports
	// may arrive out of order; the host's open drift and agent version
	// follow the report with the highest sequence, its last-seen time the
	// latest ReceivedAt. ErrNotFound when the host is not the tenant's;
	// ErrConflict when initial is stored and its version is not 1 (and
	// then nothing is stored). initial's TenantID and HostID, when set,
	// must be the report's.
	IngestReport(ctx context.Context, r Report, initial *Baseline) (IngestResult, error)
	// LatestReport returns the host's report with the highest sequence;
	// ErrNotFound when it has none.
	LatestReport(ctx context.Context, tenantID, hostID string) (Report, error)
	// ReportBySnapshot returns the host's report of a snapshot with the
	// highest sequence; ErrNotFound when it has none.
	ReportBySnapshot(ctx context.Context, tenantID, hostID string, d baseline.Digest) (Report, error)
	// ReportCount returns how many reports a host has stored; ErrNotFound
	// when the host is not the tenant's.
	ReportCount(ctx context.Context, tenantID, hostID string) (int, error)

	// AddBaseline stores the next baseline version of a host; ErrConflict
	// when b.Meta.Version is not the newest plus one, ErrNotFound when the
	// host is not the tenant's.
	AddBaseline(ctx context.Context, b Baseline) error
	// Baseline returns version v of a host's baseline (0: the newest);
	// ErrNotFound when there is no such version.
	Baseline(ctx context.Context, tenantID, hostID string, v int) (Baseline, error)
	// Baselines lists a host's baseline versions, oldest first, without
	// snapshots; ErrNotFound when the host is not the tenant's.
	Baselines(ctx context.Context, tenantID, hostID string) ([]baseline.Meta, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store. Calling it again does nothing; other
	// methods fail after it.
	Close() error
}

// WriterStats is what a store with one writer (SQLite) says about it, for
// the collector's metrics: how long it has spent running write
// transactions (its rate is the writer's utilization, 1 when saturated),
// how many it ran and in how many commits (groups).
type WriterStats struct {
	Busy         time.Duration
	Transactions uint64
	Commits      uint64
}

// WriterStatser is implemented by stores whose writes go through one
// writer.
type WriterStatser interface {
	WriterStats() WriterStats
}
