-- 0007_deployments: CI deployment notes, each of a ticket to some hosts.
--
-- Times are TEXT in UTC with microseconds, as in 0001. Labels is TEXT
-- holding the selector's JSON object, or NULL when the hosts were named.

CREATE TABLE deployments (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    ticket_id    TEXT NOT NULL,
    ticket_ref   TEXT NOT NULL,
    environment  TEXT NOT NULL,
    commit_sha   TEXT NOT NULL CHECK (commit_sha <> ''),
    repository   TEXT NOT NULL,
    pipeline_url TEXT NOT NULL,
    labels       TEXT CHECK (labels IS NULL OR json_valid(labels)),
    at           TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
) STRICT;

CREATE INDEX deployments_at ON deployments (tenant_id, at, id);
CREATE INDEX deployments_ticket ON deployments (tenant_id, ticket_id, at);

CREATE TABLE deployment_hosts (
    tenant_id     TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    host_id       TEXT NOT NULL,
    at            TEXT NOT NULL, -- the deployment's
    PRIMARY KEY (tenant_id, deployment_id, host_id),
    FOREIGN KEY (tenant_id, deployment_id) REFERENCES deployments (tenant_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
) STRICT;

CREATE INDEX deployment_hosts_host ON deployment_hosts (tenant_id, host_id, at);
