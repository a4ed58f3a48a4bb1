-- 0010_time_zones: the time zone each user reads the web report in, and
-- each tenant's default for its users who chose none. IANA names
-- ("Europe/Berlin"); the web report checks them.

CREATE TABLE user_time_zones (
    user_id    TEXT PRIMARY KEY REFERENCES users (id),
    time_zone  TEXT NOT NULL CHECK (time_zone <> ''),
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE tenant_time_zones (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    time_zone  TEXT NOT NULL CHECK (time_zone <> ''),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
) STRICT;
