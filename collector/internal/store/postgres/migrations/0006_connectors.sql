-- 0006_connectors: change-source connectors configured through the API or
-- registered from a collector's configuration file, their syncers' state,
-- and the lease that lets one collector at a time poll a connector.
--
-- secret is the credentials sealed by the collector (AES-GCM), never the
-- clear text. A lease is taken with one INSERT … ON CONFLICT DO UPDATE …
-- WHERE, so two collectors claiming at once cannot both win.

CREATE TABLE connectors (
    name       text PRIMARY KEY CHECK (name <> ''),
    tenant_id  text NOT NULL REFERENCES tenants (id),
    kind       text NOT NULL CHECK (kind <> ''),
    source     text NOT NULL CHECK (source IN ('api', 'config')),
    config     json NOT NULL,
    secret     bytea,         -- NULL: no credentials kept here
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX connectors_tenant ON connectors (tenant_id, name);

CREATE TABLE connector_state (
    name         text PRIMARY KEY,
    tenant_id    text NOT NULL,
    state        json NOT NULL,
    last_success timestamptz,  -- NULL: never
    last_error   text NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL
);

CREATE TABLE connector_leases (
    name  text PRIMARY KEY,
    owner text NOT NULL,
    until timestamptz NOT NULL
);
