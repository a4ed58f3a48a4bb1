-- 0001_init: tenants, enrollment tokens, users, hosts, content blobs,
-- reports and baselines.
--
-- Times are TEXT in UTC with microseconds, 2006-01-02T15:04:05.000000Z, so
-- that text order is time order. Digests are 64 lowercase hex characters.
-- Labels, tickets and report JSON are TEXT holding JSON.

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE enrollment_tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    hash       TEXT NOT NULL UNIQUE,
    expires_at TEXT, -- NULL: never
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX enrollment_tokens_tenant ON enrollment_tokens (tenant_id);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants (id), -- NULL: MSP-wide
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_email ON users (coalesce(tenant_id, ''), lower(email));

CREATE TABLE hosts (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    name             TEXT NOT NULL,
    labels           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    credential_hash  TEXT NOT NULL UNIQUE,
    agent_version    TEXT NOT NULL DEFAULT '',
    enrolled_at      TEXT NOT NULL,
    last_seen        TEXT, -- NULL: no report yet
    baseline_version INTEGER NOT NULL DEFAULT 0,
    open_drift       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
) STRICT;

CREATE TABLE blobs (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    digest    TEXT NOT NULL CHECK (length(digest) = 64 AND digest NOT GLOB '*[^0-9a-f]*'),
    size      INTEGER NOT NULL,
    content   BLOB NOT NULL,
    PRIMARY KEY (tenant_id, digest)
) STRICT;

CREATE TABLE reports (
    tenant_id       TEXT NOT NULL,
    host_id         TEXT NOT NULL,
    sequence        INTEGER NOT NULL CHECK (sequence >= 0),
    received_at     TEXT NOT NULL,
    taken_at        TEXT NOT NULL,
    snapshot_digest TEXT NOT NULL CHECK (length(snapshot_digest) = 64 AND snapshot_digest NOT GLOB '*[^0-9a-f]*'),
    item_count      INTEGER NOT NULL,
    agent_version   TEXT NOT NULL,
    sources         TEXT CHECK (sources IS NULL OR json_valid(sources)),
    drift           TEXT CHECK (drift IS NULL OR json_valid(drift)),
    changes         INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    PRIMARY KEY (host_id, sequence),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
) STRICT;

CREATE INDEX reports_snapshot ON reports (host_id, snapshot_digest, sequence);

CREATE TABLE baselines (
    tenant_id       TEXT NOT NULL,
    host_id         TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    host_name       TEXT NOT NULL,
    snapshot_digest TEXT NOT NULL CHECK (length(snapshot_digest) = 64 AND snapshot_digest NOT GLOB '*[^0-9a-f]*'),
    items           INTEGER NOT NULL,
    approved_by     TEXT NOT NULL,
    approved_at     TEXT NOT NULL,
    reason          TEXT NOT NULL,
    tickets         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tickets)),
    reviewed        INTEGER NOT NULL CHECK (reviewed IN (0, 1)),
    snapshot        BLOB NOT NULL,
    PRIMARY KEY (host_id, version),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
) STRICT;
