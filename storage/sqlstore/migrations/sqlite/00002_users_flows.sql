-- Users, consents, authorization codes and browser sessions; grants and refresh rotation on
-- tokens. SQLite flavour: times are UTC unix microseconds (INTEGER), NULL for the zero time;
-- booleans are INTEGER 0/1; lists are JSON text.

-- +goose Up
CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    username       TEXT    NOT NULL UNIQUE,
    email          TEXT    NOT NULL DEFAULT '',
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    name           TEXT    NOT NULL DEFAULT '',
    password_hash  TEXT    NOT NULL DEFAULT '',
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    roles          TEXT    NOT NULL DEFAULT 'null',
    declared       INTEGER NOT NULL DEFAULT 0 CHECK (declared IN (0, 1)),
    created_at     INTEGER,
    updated_at     INTEGER
) STRICT;

-- No foreign keys: an application may keep its users elsewhere.
CREATE TABLE consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL DEFAULT 'null',
    created_at INTEGER,
    updated_at INTEGER,
    PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE TABLE auth_codes (
    hash                  BLOB    NOT NULL PRIMARY KEY,
    grant_id              TEXT    NOT NULL DEFAULT '',
    client_id             TEXT    NOT NULL DEFAULT '',
    user_id               TEXT    NOT NULL DEFAULT '',
    redirect_uri          TEXT    NOT NULL DEFAULT '',
    scopes                TEXT    NOT NULL DEFAULT 'null',
    code_challenge        TEXT    NOT NULL DEFAULT '',
    code_challenge_method TEXT    NOT NULL DEFAULT '',
    nonce                 TEXT    NOT NULL DEFAULT '',
    auth_time             INTEGER,
    session_id            TEXT    NOT NULL DEFAULT '',
    issued_at             INTEGER,
    expires_at            INTEGER,
    used_at               INTEGER
) STRICT;
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE sessions (
    id         TEXT NOT NULL PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    user_id    TEXT NOT NULL DEFAULT '',
    auth_time  INTEGER,
    created_at INTEGER,
    expires_at INTEGER,
    user_agent TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

ALTER TABLE tokens ADD COLUMN grant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN auth_time INTEGER;
ALTER TABLE tokens ADD COLUMN used_at INTEGER;
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
