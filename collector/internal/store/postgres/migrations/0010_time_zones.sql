-- 0010_time_zones: the time zone each user reads the web report in, and
-- each tenant's default for its users who chose none. IANA names
-- ("Europe/Berlin"); the web report checks them.

CREATE TABLE user_time_zones (
    user_id    text PRIMARY KEY REFERENCES users (id),
    time_zone  text NOT NULL CHECK (time_zone <> ''),
    updated_at timestamptz NOT NULL
);

CREATE TABLE tenant_time_zones (
    tenant_id  text PRIMARY KEY REFERENCES tenants (id),
    time_zone  text NOT NULL CHECK (time_zone <> ''),
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL DEFAULT ''
);
