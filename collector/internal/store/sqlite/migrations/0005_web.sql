-- 0005_web: the web report's password hashes, sessions and failed
-- sign-ins.
--
-- A session is stored under the SHA-256 of the secret its cookie holds,
-- never the secret. Failed sign-ins are kept per key (an account's, a
-- client address's) so that every collector on the database counts them
-- alike.

CREATE TABLE user_passwords (
    user_id    TEXT PRIMARY KEY REFERENCES users (id),
    hash       TEXT NOT NULL CHECK (hash <> ''),
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    remote_addr  TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE login_failures (
    key TEXT NOT NULL CHECK (key <> ''),
    at  TEXT NOT NULL
) STRICT;

CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);
