-- 0003_tickets: change tickets and their transitions, tenant policy, drift
-- items with their history, and the hash-chained audit log.
--
-- Times are TEXT in UTC with microseconds, as in 0001. Documents (ticket,
-- policy, change, audit detail) are TEXT holding the caller's JSON exactly.

CREATE TABLE tickets (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    id           TEXT NOT NULL,
    reference    TEXT NOT NULL DEFAULT '', -- '': none
    title        TEXT NOT NULL,
    state        TEXT NOT NULL,
    class        TEXT NOT NULL,
    origin       TEXT NOT NULL,
    window_start TEXT, -- NULL: no bound
    window_end   TEXT, -- NULL: no bound
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT, -- NULL: not in a final state
    version      INTEGER NOT NULL CHECK (version >= 1),
    doc          TEXT NOT NULL CHECK (json_valid(doc)),
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE UNIQUE INDEX tickets_reference ON tickets (tenant_id, reference) WHERE reference <> '';
CREATE INDEX tickets_updated ON tickets (tenant_id, updated_at, id);
CREATE INDEX tickets_finished ON tickets (tenant_id, finished_at);

CREATE TABLE ticket_transitions (
    tenant_id  TEXT NOT NULL,
    ticket_id  TEXT NOT NULL,
    version    INTEGER NOT NULL, -- the ticket version it produced
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    comment    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, version),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
) STRICT;

CREATE TABLE policies (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    version    INTEGER NOT NULL CHECK (version >= 1),
    doc        TEXT NOT NULL CHECK (json_valid(doc)),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;

-- The newest report whose drift was applied, per host. A current drift
-- item was seen last in it.
CREATE TABLE drift_heads (
    tenant_id TEXT NOT NULL,
    host_id   TEXT NOT NULL,
    seq       INTEGER NOT NULL, -- -1: none yet
    at        TEXT,             -- NULL: none yet
    PRIMARY KEY (tenant_id, host_id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
) STRICT;

CREATE TABLE drift_items (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    host_id        TEXT NOT NULL,
    key            TEXT NOT NULL,
    kind           TEXT NOT NULL,
    change         TEXT NOT NULL CHECK (change IN ('added', 'removed', 'modified')),
    state_digest   TEXT NOT NULL,
    change_doc     TEXT NOT NULL CHECK (json_valid(change_doc)),
    first_seen     TEXT NOT NULL,
    first_seq      INTEGER NOT NULL,
    changed_at     TEXT NOT NULL,
    last_seen      TEXT,    -- NULL while current: the host's drift head
    last_seq       INTEGER, -- NULL while current: the host's drift head
    current        INTEGER NOT NULL CHECK (current IN (0, 1)),
    status         TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'promoted', 'revert_requested', 'reverted')),
    verdict        TEXT NOT NULL DEFAULT '',
    level          INTEGER NOT NULL DEFAULT 0 CHECK (level BETWEEN 0 AND 3),
    rule           TEXT NOT NULL DEFAULT '',
    verdict_reason TEXT NOT NULL DEFAULT '',
    tickets        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tickets)),
    priority       INTEGER NOT NULL, -- store.DriftPriority(verdict, level)
    resolved_at    TEXT,
    resolved_by    TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    ticket_ref     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES drift_heads (tenant_id, host_id)
) STRICT;

-- One current item per host and key.
CREATE UNIQUE INDEX drift_items_current ON drift_items (tenant_id, host_id, key) WHERE current = 1;
-- The inbox: by status, by host and status, and all.
CREATE INDEX drift_items_inbox ON drift_items (tenant_id, status, priority, changed_at, id);
CREATE INDEX drift_items_host ON drift_items (tenant_id, host_id, status, priority, changed_at, id);
CREATE INDEX drift_items_all ON drift_items (tenant_id, priority, changed_at, id);
-- The overview's counts of outstanding items, from the index alone.
CREATE INDEX drift_items_outstanding ON drift_items (tenant_id, host_id, status, verdict, level, current)
    WHERE current = 1 AND status IN ('open', 'revert_requested');

-- The tickets each item's verdict names, for the items of a ticket.
CREATE TABLE drift_tickets (
    tenant_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    item_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, item_id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES drift_items (tenant_id, id)
) STRICT;

CREATE INDEX drift_tickets_item ON drift_tickets (tenant_id, item_id);

CREATE TABLE drift_events (
    id           INTEGER PRIMARY KEY, -- the order of events
    tenant_id    TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    at           TEXT NOT NULL,
    event        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    report_seq   INTEGER NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    from_verdict TEXT NOT NULL,
    to_verdict   TEXT NOT NULL,
    from_level   INTEGER NOT NULL,
    to_level     INTEGER NOT NULL,
    from_digest  TEXT NOT NULL,
    to_digest    TEXT NOT NULL,
    reason       TEXT NOT NULL,
    FOREIGN KEY (tenant_id, item_id) REFERENCES drift_items (tenant_id, id)
) STRICT;

CREATE INDEX drift_events_item ON drift_events (tenant_id, item_id, id);

-- The audit log, append-only and hash-chained per tenant (package audit).
-- audit_heads records each chain's newest entry apart from the log, so
-- that removing the newest entries shows, and is the lock appends take.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id),
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
) STRICT;

CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT CHECK (detail IS NULL OR json_valid(detail)),
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused');
END;
