-- 0002_agent: agents running as a service — each host's newest heartbeat
-- and the events its agent reports besides drift (coverage gaps, reports
-- dropped from a full spool).

CREATE TABLE host_heartbeats (
    tenant_id text NOT NULL,
    host_id   text NOT NULL,
    at        timestamptz NOT NULL,
    status    json NOT NULL,
    PRIMARY KEY (tenant_id, host_id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

CREATE TABLE host_events (
    tenant_id   text NOT NULL,
    host_id     text NOT NULL,
    id          text NOT NULL,
    kind        text NOT NULL,
    at          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    summary     text NOT NULL,
    detail      json,
    PRIMARY KEY (tenant_id, host_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

CREATE INDEX host_events_at ON host_events (tenant_id, host_id, at DESC);
