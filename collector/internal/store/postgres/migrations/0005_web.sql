-- 0005_web: the web report's password hashes, sessions and failed
-- sign-ins.
--
-- A session is stored under the SHA-256 of the secret its cookie holds,
-- never the secret. Failed sign-ins are kept per key (an account's, a
-- client address's) so that every collector on the database counts them
-- alike.

CREATE TABLE user_passwords (
    user_id    text PRIMARY KEY REFERENCES users (id),
    hash       text NOT NULL CHECK (hash <> ''),
    updated_at timestamptz NOT NULL
);

CREATE TABLE web_sessions (
    id_hash      text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    remote_addr  text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);

CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE login_failures (
    id  bigserial PRIMARY KEY,
    key text NOT NULL CHECK (key <> ''),
    at  timestamptz NOT NULL
);

CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);
