-- 0004_outbox: the email outbox and the record of scheduled runs.
--
-- An email is written before it is sent. A sender claims due emails with
-- SELECT … FOR UPDATE SKIP LOCKED and sets claim_token and claimed_until (a
-- lease): an email is due when it is queued, next_attempt_at has come and
-- no unexpired lease holds it, so a crashed sender's claim expires.

CREATE TABLE outbox (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id),
    dedupe_key      text NOT NULL CHECK (dedupe_key <> '' AND length(dedupe_key) <= 512),
    kind            text NOT NULL,
    priority        integer NOT NULL DEFAULT 0,
    recipients      text[] NOT NULL CHECK (cardinality(recipients) > 0),
    subject         text NOT NULL,
    html            text NOT NULL,
    text            text NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    claim_token     text,          -- NULL: not claimed
    claimed_until   timestamptz,   -- NULL: not claimed
    last_attempt_at timestamptz,   -- NULL: never claimed
    last_error      text NOT NULL DEFAULT '',
    sent_at         timestamptz,
    response        text NOT NULL DEFAULT '',
    failed_at       timestamptz,
    UNIQUE (tenant_id, dedupe_key)
);

-- What a claim scans: queued emails by priority and due time.
CREATE INDEX outbox_due ON outbox (priority DESC, next_attempt_at, id) WHERE status = 'queued';
-- Listings of a tenant, newest first.
CREATE INDEX outbox_tenant ON outbox (tenant_id, created_at);

CREATE TABLE schedule_runs (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    schedule      text NOT NULL,
    due_at        timestamptz NOT NULL,
    owner         text NOT NULL,
    claimed_at    timestamptz NOT NULL,
    claimed_until timestamptz NOT NULL,
    done_at       timestamptz, -- NULL: not done
    PRIMARY KEY (tenant_id, schedule, due_at)
);
