-- Gatehouse schema, SQLite flavour.
-- Times are UTC unix microseconds (INTEGER), NULL for the zero time.
-- Booleans are INTEGER 0/1. Lists and maps are JSON text.

-- +goose Up
CREATE TABLE clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL DEFAULT '',
    secret_hash               TEXT    NOT NULL DEFAULT '',
    public                    INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    trusted                   INTEGER NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),
    grant_types               TEXT    NOT NULL DEFAULT 'null',
    scopes                    TEXT    NOT NULL DEFAULT 'null',
    redirect_uris             TEXT    NOT NULL DEFAULT 'null',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT 'null',
    token_format              TEXT    NOT NULL DEFAULT '',
    declared                  INTEGER NOT NULL DEFAULT 0 CHECK (declared IN (0, 1)),
    created_at                INTEGER,
    updated_at                INTEGER
) STRICT;

CREATE TABLE scopes (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL DEFAULT '',
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at  INTEGER
) STRICT;

CREATE TABLE tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    kind       TEXT NOT NULL DEFAULT '',
    client_id  TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL DEFAULT '',
    scopes     TEXT NOT NULL DEFAULT 'null',
    audience   TEXT NOT NULL DEFAULT 'null',
    issued_at  INTEGER,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX tokens_client_id ON tokens (client_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

CREATE TABLE revoked_jtis (
    jti        TEXT NOT NULL PRIMARY KEY,
    client_id  TEXT NOT NULL DEFAULT '',
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at);

CREATE TABLE signing_keys (
    id         TEXT NOT NULL PRIMARY KEY,
    algorithm  TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL DEFAULT '',
    sealed     BLOB,
    public     BLOB,
    created_at INTEGER,
    not_after  INTEGER
) STRICT;

CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER,
    type      TEXT NOT NULL DEFAULT '',
    actor     TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL DEFAULT '',
    subject   TEXT NOT NULL DEFAULT '',
    details   TEXT NOT NULL DEFAULT 'null'
) STRICT;
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_client_id_time ON audit_events (client_id, time);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE signing_keys;
DROP TABLE revoked_jtis;
DROP TABLE tokens;
DROP TABLE scopes;
DROP TABLE clients;
