-- 0007_deployments: CI deployment notes, each of a ticket to some hosts.
--
-- IDs sort bytewise (COLLATE "C"), as in SQLite. Labels is the selector's
-- JSON object, or NULL when the hosts were named.

CREATE TABLE deployments (
    tenant_id    text NOT NULL,
    id           text COLLATE "C" NOT NULL,
    ticket_id    text COLLATE "C" NOT NULL,
    ticket_ref   text NOT NULL,
    environment  text NOT NULL,
    commit_sha   text NOT NULL CHECK (commit_sha <> ''),
    repository   text NOT NULL,
    pipeline_url text NOT NULL,
    labels       jsonb,
    at           timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    recorded_by  text NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);

CREATE INDEX deployments_at ON deployments (tenant_id, at, id);
CREATE INDEX deployments_ticket ON deployments (tenant_id, ticket_id, at);

CREATE TABLE deployment_hosts (
    tenant_id     text NOT NULL,
    deployment_id text COLLATE "C" NOT NULL,
    host_id       text NOT NULL,
    at            timestamptz NOT NULL, -- the deployment's
    PRIMARY KEY (tenant_id, deployment_id, host_id),
    FOREIGN KEY (tenant_id, deployment_id) REFERENCES deployments (tenant_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

CREATE INDEX deployment_hosts_host ON deployment_hosts (tenant_id, host_id, at);
