-- Users, consents, authorization codes and browser sessions; grants and refresh rotation on
-- tokens. PostgreSQL flavour: times are timestamptz (microsecond precision), NULL for the zero
-- time; lists are JSON text, shared with the SQLite flavour. The text columns that lists are
-- ordered by use the "C" collation, so the order is byte order, as on SQLite.

-- +goose Up
CREATE TABLE users (
    id             text        NOT NULL PRIMARY KEY,
    username       text        COLLATE "C" NOT NULL UNIQUE,
    email          text        NOT NULL DEFAULT '',
    email_verified boolean     NOT NULL DEFAULT false,
    name           text        NOT NULL DEFAULT '',
    password_hash  text        NOT NULL DEFAULT '',
    disabled       boolean     NOT NULL DEFAULT false,
    roles          text        NOT NULL DEFAULT 'null',
    declared       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz,
    updated_at     timestamptz
);

-- No foreign keys: an application may keep its users elsewhere.
CREATE TABLE consents (
    user_id    text        NOT NULL,
    client_id  text        COLLATE "C" NOT NULL,
    scopes     text        NOT NULL DEFAULT 'null',
    created_at timestamptz,
    updated_at timestamptz,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE auth_codes (
    hash                  bytea       NOT NULL PRIMARY KEY,
    grant_id              text        NOT NULL DEFAULT '',
    client_id             text        NOT NULL DEFAULT '',
    user_id               text        NOT NULL DEFAULT '',
    redirect_uri          text        NOT NULL DEFAULT '',
    scopes                text        NOT NULL DEFAULT 'null',
    code_challenge        text        NOT NULL DEFAULT '',
    code_challenge_method text        NOT NULL DEFAULT '',
    nonce                 text        NOT NULL DEFAULT '',
    auth_time             timestamptz,
    session_id            text        NOT NULL DEFAULT '',
    issued_at             timestamptz,
    expires_at            timestamptz,
    used_at               timestamptz
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE sessions (
    id         text        NOT NULL PRIMARY KEY,
    hash       bytea       NOT NULL UNIQUE,
    user_id    text        NOT NULL DEFAULT '',
    auth_time  timestamptz,
    created_at timestamptz,
    expires_at timestamptz,
    user_agent text        NOT NULL DEFAULT '',
    ip         text        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

ALTER TABLE tokens ADD COLUMN grant_id text NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN auth_time timestamptz;
ALTER TABLE tokens ADD COLUMN used_at timestamptz;
CREATE INDEX tokens_grant_id ON tokens (grant_id);
CREATE INDEX tokens_subject_client_id ON tokens (subject, client_id);

-- +goose Down
DROP INDEX tokens_subject_client_id;
DROP INDEX tokens_grant_id;
ALTER TABLE tokens DROP COLUMN used_at;
ALTER TABLE tokens DROP COLUMN auth_time;
ALTER TABLE tokens DROP COLUMN grant_id;
DROP TABLE sessions;
DROP TABLE auth_codes;
DROP TABLE consents;
DROP TABLE users;
