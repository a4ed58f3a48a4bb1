-- 0003_tickets: change tickets and their transitions, tenant policy, drift
-- items with their history, and the hash-chained audit log.
--
-- Documents (ticket, policy, change, audit detail) are json, which keeps
-- the caller's text exactly. IDs and item keys sort bytewise (COLLATE "C"),
-- as in SQLite, whatever the database's collation.

CREATE TABLE tickets (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    id           text COLLATE "C" NOT NULL,
    reference    text NOT NULL DEFAULT '', -- '': none
    title        text NOT NULL,
    state        text NOT NULL,
    class        text NOT NULL,
    origin       text NOT NULL,
    window_start timestamptz, -- NULL: no bound
    window_end   timestamptz, -- NULL: no bound
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    finished_at  timestamptz, -- NULL: not in a final state
    version      integer NOT NULL CHECK (version >= 1),
    doc          json NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX tickets_reference ON tickets (tenant_id, reference) WHERE reference <> '';
CREATE INDEX tickets_updated ON tickets (tenant_id, updated_at, id);
CREATE INDEX tickets_finished ON tickets (tenant_id, finished_at);

CREATE TABLE ticket_transitions (
    tenant_id  text NOT NULL,
    ticket_id  text COLLATE "C" NOT NULL,
    version    integer NOT NULL, -- the ticket version it produced
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    role       text NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    comment    text NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, version),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);

CREATE TABLE policies (
    tenant_id  text PRIMARY KEY REFERENCES tenants (id),
    version    integer NOT NULL CHECK (version >= 1),
    doc        json NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);

-- The newest report whose drift was applied, per host: a current drift
-- item was seen last in it. Its row is the lock ApplyDrift, SetVerdicts
-- and ResolveDrift take for the host's items.
CREATE TABLE drift_heads (
    tenant_id text NOT NULL,
    host_id   text NOT NULL,
    seq       bigint NOT NULL, -- -1: none yet
    at        timestamptz,     -- NULL: none yet
    PRIMARY KEY (tenant_id, host_id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

CREATE TABLE drift_items (
    tenant_id      text NOT NULL,
    id             text COLLATE "C" NOT NULL,
    host_id        text NOT NULL,
    key            text COLLATE "C" NOT NULL,
    kind           text NOT NULL,
    change         text NOT NULL CHECK (change IN ('added', 'removed', 'modified')),
    state_digest   text NOT NULL,
    change_doc     json NOT NULL,
    first_seen     timestamptz NOT NULL,
    first_seq      bigint NOT NULL,
    changed_at     timestamptz NOT NULL,
    last_seen      timestamptz, -- NULL while current: the host's drift head
    last_seq       bigint,      -- NULL while current: the host's drift head
    current        boolean NOT NULL,
    status         text NOT NULL CHECK (status IN ('open', 'accepted', 'promoted', 'revert_requested', 'reverted')),
    verdict        text NOT NULL DEFAULT '',
    level          integer NOT NULL DEFAULT 0 CHECK (level BETWEEN 0 AND 3),
    rule           text NOT NULL DEFAULT '',
    verdict_reason text NOT NULL DEFAULT '',
    tickets        text[] NOT NULL DEFAULT '{}',
    priority       integer NOT NULL, -- store.DriftPriority(verdict, level)
    resolved_at    timestamptz,
    resolved_by    text NOT NULL DEFAULT '',
    reason         text NOT NULL DEFAULT '',
    ticket_ref     text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES drift_heads (tenant_id, host_id)
);

-- One current item per host and key.
CREATE UNIQUE INDEX drift_items_current ON drift_items (tenant_id, host_id, key) WHERE current;
-- The inbox: by status, by host and status, and all.
CREATE INDEX drift_items_inbox ON drift_items (tenant_id, status, priority, changed_at, id);
CREATE INDEX drift_items_host ON drift_items (tenant_id, host_id, status, priority, changed_at, id);
CREATE INDEX drift_items_all ON drift_items (tenant_id, priority, changed_at, id);
-- The overview's counts of outstanding items, from the index alone.
CREATE INDEX drift_items_outstanding ON drift_items (tenant_id, host_id, status, verdict, level)
    WHERE current AND status IN ('open', 'revert_requested');

-- The tickets each item's verdict names, for the items of a ticket.
CREATE TABLE drift_tickets (
    tenant_id text NOT NULL,
    ticket_id text NOT NULL,
    item_id   text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, item_id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES drift_items (tenant_id, id)
);

CREATE INDEX drift_tickets_item ON drift_tickets (tenant_id, item_id);

CREATE TABLE drift_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- the order of events
    tenant_id    text NOT NULL,
    item_id      text COLLATE "C" NOT NULL,
    at           timestamptz NOT NULL,
    event        text NOT NULL,
    actor        text NOT NULL,
    report_seq   bigint NOT NULL,
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    from_verdict text NOT NULL,
    to_verdict   text NOT NULL,
    from_level   integer NOT NULL,
    to_level     integer NOT NULL,
    from_digest  text NOT NULL,
    to_digest    text NOT NULL,
    reason       text NOT NULL,
    FOREIGN KEY (tenant_id, item_id) REFERENCES drift_items (tenant_id, id)
);

CREATE INDEX drift_events_item ON drift_events (tenant_id, item_id, id);

-- The audit log, append-only and hash-chained per tenant (package audit).
-- audit_heads records each chain's newest entry apart from the log, so
-- that removing the newest entries shows; its row is the lock appends
-- take, so that collectors sharing the database never fork a chain.
CREATE TABLE audit_heads (
    tenant_id text PRIMARY KEY REFERENCES tenants (id),
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

CREATE TABLE audit_log (
    tenant_id text NOT NULL REFERENCES tenants (id),
    seq       bigint NOT NULL CHECK (seq >= 1),
    at        timestamptz NOT NULL,
    actor     text NOT NULL,
    action    text NOT NULL,
    subject   text NOT NULL,
    detail    json,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only: % refused', TG_OP;
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
