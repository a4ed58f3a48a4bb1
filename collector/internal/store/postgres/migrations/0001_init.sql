-- 0001_init: tenants, enrollment tokens, users, hosts, content blobs,
-- reports and baselines.
--
-- Times are timestamptz (microseconds). Digests are 64 lowercase hex
-- characters. Labels are jsonb; a report's sources and drift are json, which
-- keeps the text exactly as sent.

CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE TABLE enrollment_tokens (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    hash       text NOT NULL UNIQUE,
    expires_at timestamptz, -- NULL: never
    uses_left  integer NOT NULL CHECK (uses_left >= 0),
    created_at timestamptz NOT NULL
);

CREATE INDEX enrollment_tokens_tenant ON enrollment_tokens (tenant_id);

CREATE TABLE users (
    id         text PRIMARY KEY,
    tenant_id  text REFERENCES tenants (id), -- NULL: MSP-wide
    email      text NOT NULL,
    role       text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX users_email ON users (coalesce(tenant_id, ''), lower(email));

CREATE TABLE hosts (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    name             text NOT NULL,
    labels           jsonb NOT NULL DEFAULT '{}',
    credential_hash  text NOT NULL UNIQUE,
    agent_version    text NOT NULL DEFAULT '',
    enrolled_at      timestamptz NOT NULL,
    last_seen        timestamptz, -- NULL: no report yet
    baseline_version integer NOT NULL DEFAULT 0,
    open_drift       integer NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
);

CREATE TABLE blobs (
    tenant_id text NOT NULL REFERENCES tenants (id),
    digest    text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    size      integer NOT NULL,
    content   bytea NOT NULL,
    PRIMARY KEY (tenant_id, digest)
);

CREATE TABLE reports (
    tenant_id       text NOT NULL,
    host_id         text NOT NULL,
    sequence        bigint NOT NULL CHECK (sequence >= 0),
    received_at     timestamptz NOT NULL,
    taken_at        timestamptz NOT NULL,
    snapshot_digest text NOT NULL CHECK (snapshot_digest ~ '^[0-9a-f]{64}$'),
    item_count      integer NOT NULL,
    agent_version   text NOT NULL,
    sources         json,
    drift           json,
    changes         integer NOT NULL,
    size            integer NOT NULL,
    PRIMARY KEY (host_id, sequence),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

CREATE INDEX reports_snapshot ON reports (host_id, snapshot_digest, sequence);

CREATE TABLE baselines (
    tenant_id       text NOT NULL,
    host_id         text NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    host_name       text NOT NULL,
    snapshot_digest text NOT NULL CHECK (snapshot_digest ~ '^[0-9a-f]{64}$'),
    items           integer NOT NULL,
    approved_by     text NOT NULL,
    approved_at     timestamptz NOT NULL,
    reason          text NOT NULL,
    tickets         text[] NOT NULL DEFAULT '{}',
    reviewed        boolean NOT NULL,
    snapshot        bytea NOT NULL,
    PRIMARY KEY (host_id, version),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);
