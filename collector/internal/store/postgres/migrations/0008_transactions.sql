-- 0008_transactions: the package-manager transactions agents report (apt,
-- dpkg, dnf, rpm runs) and the drift states each caused, which standard
-- changes authorize.

CREATE TABLE package_transactions (
    tenant_id   text NOT NULL,
    host_id     text NOT NULL,
    id          text NOT NULL,
    manager     text NOT NULL,
    command     text NOT NULL DEFAULT '',
    run_by      text NOT NULL DEFAULT '',
    started     timestamptz NOT NULL,
    ended       timestamptz, -- NULL while in progress when reported
    incomplete  boolean NOT NULL,
    packages    jsonb NOT NULL,
    report_seq  bigint NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, host_id, id),
    FOREIGN KEY (tenant_id, host_id) REFERENCES hosts (tenant_id, id)
);

CREATE INDEX package_transactions_started ON package_transactions (tenant_id, host_id, started DESC);

-- The drift states (item key and state digest) each transaction caused.
CREATE TABLE package_transaction_items (
    tenant_id      text NOT NULL,
    host_id        text NOT NULL,
    item_key       text NOT NULL,
    state_digest   text NOT NULL,
    transaction_id text NOT NULL,
    PRIMARY KEY (tenant_id, host_id, item_key, state_digest, transaction_id),
    FOREIGN KEY (tenant_id, host_id, transaction_id) REFERENCES package_transactions (tenant_id, host_id, id)
);

CREATE INDEX package_transaction_items_tx ON package_transaction_items (tenant_id, host_id, transaction_id);
