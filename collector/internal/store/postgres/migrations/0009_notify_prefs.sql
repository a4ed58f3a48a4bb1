-- 0009_notify_prefs: recipients' notification preferences, tenants'
-- notification settings set through the API, and the key that signs the
-- links of notification emails.

-- One row per recipient and list that the recipient chose about; no row:
-- the recipient gets the list when addressed on it.
CREATE TABLE notify_prefs (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    recipient  text NOT NULL CHECK (recipient <> '' AND recipient = lower(recipient)),
    list       text NOT NULL CHECK (list IN ('digest', 'summary', 'alert')),
    enabled    boolean NOT NULL,
    updated_at timestamptz NOT NULL,
    source     text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, recipient, list)
);

-- A tenant's settings as set through the API: a JSON object.
CREATE TABLE notify_settings (
    tenant_id  text PRIMARY KEY REFERENCES tenants (id),
    settings   jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
    version    integer NOT NULL CHECK (version > 0),
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL DEFAULT ''
);

-- The one signing key.
CREATE TABLE notify_key (
    id  integer PRIMARY KEY CHECK (id = 1),
    key bytea NOT NULL CHECK (length(key) >= 32)
);
