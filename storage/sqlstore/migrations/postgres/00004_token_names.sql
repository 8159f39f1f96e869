-- Personal access tokens: a name the user gave the token and when it was last used.

-- +goose Up
ALTER TABLE tokens ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last_used_at timestamptz;
CREATE INDEX tokens_subject_kind ON tokens (subject, kind);

-- +goose Down
DROP INDEX tokens_subject_kind;
ALTER TABLE tokens DROP COLUMN last_used_at;
ALTER TABLE tokens DROP COLUMN name;
