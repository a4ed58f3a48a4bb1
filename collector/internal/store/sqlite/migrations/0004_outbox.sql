-- 0004_outbox: the email outbox and the record of scheduled runs.
--
-- An email is written before it is sent. A sender claims due emails by
-- setting claim_token and claimed_until (a lease): an email is due when it
-- is queued, next_attempt_at has come and no unexpired lease holds it.
-- Recipients and headers are TEXT holding JSON.

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    dedupe_key      TEXT NOT NULL CHECK (dedupe_key <> '' AND length(dedupe_key) <= 512),
    kind            TEXT NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    recipients      TEXT NOT NULL CHECK (json_valid(recipients) AND json_array_length(recipients) > 0),
    subject         TEXT NOT NULL,
    html            TEXT NOT NULL,
    text            TEXT NOT NULL,
    headers         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(headers)),
    created_at      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL,
    claim_token     TEXT,          -- NULL: not claimed
    claimed_until   TEXT,          -- NULL: not claimed
    last_attempt_at TEXT,          -- NULL: never claimed
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         TEXT,
    response        TEXT NOT NULL DEFAULT '',
    failed_at       TEXT,
    UNIQUE (tenant_id, dedupe_key)
) STRICT;

-- What a claim scans: queued emails by priority and due time.
CREATE INDEX outbox_due ON outbox (priority DESC, next_attempt_at, id) WHERE status = 'queued';
-- Listings of a tenant, newest first.
CREATE INDEX outbox_tenant ON outbox (tenant_id, created_at);

CREATE TABLE schedule_runs (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    schedule      TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    owner         TEXT NOT NULL,
    claimed_at    TEXT NOT NULL,
    claimed_until TEXT NOT NULL,
    done_at       TEXT, -- NULL: not done
    PRIMARY KEY (tenant_id, schedule, due_at)
) STRICT;
