-- 0009_notify_prefs: recipients' notification preferences, tenants'
-- notification settings set through the API, and the key that signs the
-- links of notification emails.

-- One row per recipient and list that the recipient chose about; no row:
-- the recipient gets the list when addressed on it.
CREATE TABLE notify_prefs (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    recipient  TEXT NOT NULL CHECK (recipient <> '' AND recipient = lower(recipient)),
    list       TEXT NOT NULL CHECK (list IN ('digest', 'summary', 'alert')),
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    updated_at TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, recipient, list)
) STRICT;

-- A tenant's settings as set through the API: a JSON object.
CREATE TABLE notify_settings (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    settings   TEXT NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    version    INTEGER NOT NULL CHECK (version > 0),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
) STRICT;

-- The one signing key.
CREATE TABLE notify_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    key        BLOB NOT NULL CHECK (length(key) >= 32)
) STRICT;
