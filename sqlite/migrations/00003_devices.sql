-- +goose Up
-- Trusted devices: browsers that skip their user's second factor until they
-- expire. Only the SHA-256 of the cookie token is stored.
CREATE TABLE trusted_devices (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL UNIQUE,
    user_agent   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX trusted_devices_user ON trusted_devices (workspace_id, user_id, last_used_at);

-- The audit filters page by ID and select by actor or target.
CREATE INDEX audit_events_id ON audit_events (workspace_id, id DESC);
CREATE INDEX audit_events_actor ON audit_events (workspace_id, actor_id);
CREATE INDEX audit_events_target ON audit_events (workspace_id, target_id);

-- +goose Down
DROP INDEX audit_events_target;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_id;
DROP TABLE trusted_devices;
