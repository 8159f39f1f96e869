-- Device authorization requests (RFC 8628). SQLite flavour: times are UTC unix microseconds
-- (INTEGER), NULL for the zero time; scopes are JSON text. "interval" is quoted everywhere:
-- it is a keyword in PostgreSQL, and the queries are shared.

-- +goose Up
-- No foreign keys, as for authorization codes: an application may keep its users elsewhere.
CREATE TABLE device_codes (
    hash           BLOB    NOT NULL PRIMARY KEY,
    user_code_hash BLOB    NOT NULL UNIQUE,
    client_id      TEXT    NOT NULL DEFAULT '',
    scopes         TEXT    NOT NULL DEFAULT 'null',
    status         TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'approved', 'denied')),
    user_id        TEXT    NOT NULL DEFAULT '',
    auth_time      INTEGER,
    "interval"     INTEGER NOT NULL DEFAULT 0,
    last_polled_at INTEGER,
    issued_at      INTEGER,
    expires_at     INTEGER,
    used_at        INTEGER
) STRICT;
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);

-- +goose Down
DROP TABLE device_codes;
