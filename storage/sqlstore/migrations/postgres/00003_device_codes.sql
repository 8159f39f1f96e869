-- Device authorization requests (RFC 8628). PostgreSQL flavour: times are timestamptz
-- (microsecond precision), NULL for the zero time; scopes are JSON text, shared with the
-- SQLite flavour. "interval" is a keyword, so it is quoted everywhere.

-- +goose Up
-- No foreign keys, as for authorization codes: an application may keep its users elsewhere.
CREATE TABLE device_codes (
    hash           bytea       NOT NULL PRIMARY KEY,
    user_code_hash bytea       NOT NULL UNIQUE,
    client_id      text        NOT NULL DEFAULT '',
    scopes         text        NOT NULL DEFAULT 'null',
    status         text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'approved', 'denied')),
    user_id        text        NOT NULL DEFAULT '',
    auth_time      timestamptz,
    "interval"     integer     NOT NULL DEFAULT 0,
    last_polled_at timestamptz,
    issued_at      timestamptz,
    expires_at     timestamptz,
    used_at        timestamptz
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);

-- +goose Down
DROP TABLE device_codes;
