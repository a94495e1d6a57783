-- +goose Up
-- Two-factor authentication. Times are Unix nanoseconds like everywhere else;
-- 0 in a NOT NULL time column means "never" (the Go zero time).
ALTER TABLE workspaces ADD COLUMN mfa_mode TEXT NOT NULL DEFAULT 'disabled'
    CHECK (mfa_mode IN ('disabled', 'optional', 'required'));
-- The allowed methods, comma-separated, strongest first.
ALTER TABLE workspaces ADD COLUMN mfa_methods TEXT NOT NULL DEFAULT 'totp,email';
ALTER TABLE workspaces ADD COLUMN trusted_device_days INTEGER NOT NULL DEFAULT 30;
ALTER TABLE workspaces ADD COLUMN grace_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN mode_changed_at INTEGER NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

ALTER TABLE sessions ADD COLUMN mfa_verified_at INTEGER;
ALTER TABLE sessions ADD COLUMN reauth_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN mfa_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN after_reset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN next_path TEXT NOT NULL DEFAULT '';

CREATE TABLE factors (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT    NOT NULL CHECK (method IN ('totp', 'sms', 'email')),
    secret       BLOB,
    phone        TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 0,
    -- The last TOTP step accepted; 0 when none was (real steps are ~59 million).
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    UNIQUE (workspace_id, user_id, method)
);
CREATE INDEX factors_user ON factors (user_id);

CREATE TABLE recovery_codes (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_mac     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    used_at      INTEGER,
    UNIQUE (user_id, code_mac)
);
CREATE INDEX recovery_codes_user ON recovery_codes (workspace_id, user_id);

CREATE TABLE send_clocks (
    workspace_id INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    channel      TEXT    NOT NULL,
    last_sent_at INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    window_count INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id, channel)
);

-- session_id has no foreign key: the session may be rotated away while its
-- codes stay behind as a record.
CREATE TABLE codes (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id   INTEGER NOT NULL,
    channel      TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    code_mac     BLOB    NOT NULL,
    destination  TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX codes_session ON codes (workspace_id, session_id, channel);
CREATE INDEX codes_user ON codes (user_id);

-- No foreign keys: the audit log outlives the users it names.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor_id     INTEGER NOT NULL DEFAULT 0,
    target_id    INTEGER NOT NULL DEFAULT 0,
    type         TEXT    NOT NULL,
    ip           TEXT    NOT NULL DEFAULT '',
    detail       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (workspace_id, at DESC, id DESC);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE codes;
DROP TABLE send_clocks;
DROP TABLE recovery_codes;
DROP TABLE factors;
ALTER TABLE sessions DROP COLUMN next_path;
ALTER TABLE sessions DROP COLUMN after_reset;
ALTER TABLE sessions DROP COLUMN mfa_failures;
ALTER TABLE sessions DROP COLUMN reauth_at;
ALTER TABLE sessions DROP COLUMN mfa_verified_at;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE workspaces DROP COLUMN mode_changed_at;
ALTER TABLE workspaces DROP COLUMN grace_days;
ALTER TABLE workspaces DROP COLUMN trusted_device_days;
ALTER TABLE workspaces DROP COLUMN mfa_methods;
ALTER TABLE workspaces DROP COLUMN mfa_mode;
