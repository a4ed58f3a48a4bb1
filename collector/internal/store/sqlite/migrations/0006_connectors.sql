-- 0006_connectors: change-source connectors configured through the API or
-- registered from a collector's configuration file, their syncers' state,
-- and the lease that lets one collector at a time poll a connector.
--
-- config and state are TEXT holding JSON; secret is the credentials sealed
-- by the collector (AES-GCM), never the clear text.

CREATE TABLE connectors (
    name       TEXT PRIMARY KEY CHECK (name <> ''),
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    kind       TEXT NOT NULL CHECK (kind <> ''),
    source     TEXT NOT NULL CHECK (source IN ('api', 'config')),
    config     TEXT NOT NULL CHECK (json_valid(config)),
    secret     BLOB,          -- NULL: no credentials kept here
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX connectors_tenant ON connectors (tenant_id, name);

CREATE TABLE connector_state (
    name         TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (json_valid(state)),
    last_success TEXT,        -- NULL: never
    last_error   TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL
) STRICT;

CREATE TABLE connector_leases (
    name  TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until TEXT NOT NULL
) STRICT;
