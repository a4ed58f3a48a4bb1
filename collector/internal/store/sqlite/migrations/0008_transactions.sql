-- 0008_transactions: the package-manager transactions agents report (apt,
-- dpkg, dnf, rpm runs) and the drift states each caused, which standard
-- changes authorize.

CREATE TABLE package_transactions (
    tenant_id   TEXT NOT NULL,
    host_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    manager     TEXT NOT NULL,
    command     TEXT NOT NULL DEFAULT '',
    run_by      TEXT NOT NULL DEFAULT '',
    started     TEXT NOT NULL,
    ended       TEXT,    -- NULL while in progress when reported
    incomplete  INTEGER NOT NULL CHECK (incomplete IN (0, 1)),
    packages    TEXT NOT NULL CHECK (json_valid(packages)),
    report_seq  INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, host_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
) STRICT;

CREATE INDEX package_transactions_started ON package_transactions (tenant_id, host_id, started DESC);

-- The drift states (item key and state digest) each transaction caused.
CREATE TABLE package_transaction_items (
    tenant_id      TEXT NOT NULL,
    host_id        TEXT NOT NULL,
    item_key       TEXT NOT NULL,
    state_digest   TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, host_id, item_key, state_digest, transaction_id),
    FOREIGN KEY (tenant_id, host_id, transaction_id) REFERENCES package_transactions (tenant_id, host_id, id)
) STRICT;

CREATE INDEX package_transaction_items_tx ON package_transaction_items (tenant_id, host_id, transaction_id);
