-- 0002_agent: agents running as a service — each host's newest heartbeat
-- and the events its agent reports besides drift (coverage gaps, reports
-- dropped from a full spool).

CREATE TABLE host_heartbeats (
    tenant_id TEXT NOT NULL,
    host_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    status    TEXT NOT NULL CHECK (json_valid(status)),
    PRIMARY KEY (tenant_id, host_id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
) STRICT;

CREATE TABLE host_events (
    tenant_id   TEXT NOT NULL,
    host_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          TEXT NOT NULL,
    received_at TEXT NOT NULL,
    summary     TEXT NOT NULL,
    detail      TEXT CHECK (detail IS NULL OR json_valid(detail)),
    PRIMARY KEY (tenant_id, host_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
) STRICT;

CREATE INDEX host_events_at ON host_events (tenant_id, host_id, at DESC);
