-- The admin API: client versions (optimistic concurrency), admin tokens, and the indexes of
-- the audit filters. SQLite flavour: times are UTC unix microseconds (INTEGER), NULL for the
-- zero time.

-- +goose Up
-- Every stored client starts at version 1, as CreateClient stores it.
ALTER TABLE clients ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- Stored by the SHA-256 hash of the token value, never the value.
CREATE TABLE admin_tokens (
    id           TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    hash         BLOB NOT NULL UNIQUE,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER,
    expires_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX admin_tokens_expires_at ON admin_tokens (expires_at);

-- Audit listings are newest first (time DESC, id DESC), filtered by an exact actor, subject
-- or client and continued from a (time, id) cursor: each index serves one filter in that
-- order. Searching clients and users by substring scans the id or username index in page
-- order and stops at the page's end; no index can serve a substring match.
DROP INDEX audit_events_time;
CREATE INDEX audit_events_time_id ON audit_events (time, id);
DROP INDEX audit_events_client_id_time;
CREATE INDEX audit_events_client_id_time_id ON audit_events (client_id, time, id);
CREATE INDEX audit_events_actor_time_id ON audit_events (actor, time, id);
CREATE INDEX audit_events_subject_time_id ON audit_events (subject, time, id);

-- +goose Down
DROP INDEX audit_events_subject_time_id;
DROP INDEX audit_events_actor_time_id;
DROP INDEX audit_events_client_id_time_id;
CREATE INDEX audit_events_client_id_time ON audit_events (client_id, time);
DROP INDEX audit_events_time_id;
CREATE INDEX audit_events_time ON audit_events (time);
DROP TABLE admin_tokens;
ALTER TABLE clients DROP COLUMN version;
