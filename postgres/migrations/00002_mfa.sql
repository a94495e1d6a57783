-- +goose Up
-- Two-factor authentication: the same tables and columns as the SQLite
-- store. A NOT NULL time that was never set holds Go's zero time,
-- 0001-01-01 UTC (SQLite stores 0), so both stores read it as time.Time{}.
ALTER TABLE workspaces
    ADD COLUMN mfa_mode            TEXT        NOT NULL DEFAULT 'disabled'
        CHECK (mfa_mode IN ('disabled', 'optional', 'required')),
    -- The allowed methods, comma-separated, strongest first.
    ADD COLUMN mfa_methods         TEXT        NOT NULL DEFAULT 'totp,email',
    ADD COLUMN trusted_device_days INTEGER     NOT NULL DEFAULT 30,
    ADD COLUMN grace_days          INTEGER     NOT NULL DEFAULT 0,
    ADD COLUMN mode_changed_at     TIMESTAMPTZ NOT NULL DEFAULT '0001-01-01 00:00:00+00';

ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE sessions
    ADD COLUMN mfa_verified_at TIMESTAMPTZ,
    ADD COLUMN reauth_at       TIMESTAMPTZ NOT NULL DEFAULT '0001-01-01 00:00:00+00',
    ADD COLUMN mfa_failures    INTEGER     NOT NULL DEFAULT 0,
    ADD COLUMN after_reset     BOOLEAN     NOT NULL DEFAULT false,
    ADD COLUMN next_path       TEXT        NOT NULL DEFAULT '';

CREATE TABLE factors (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id),
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT        NOT NULL CHECK (method IN ('totp', 'sms', 'email')),
    secret       BYTEA,
    phone        TEXT        NOT NULL DEFAULT '',
    active       BOOLEAN     NOT NULL DEFAULT false,
    -- The last TOTP step accepted; 0 when none was (real steps are ~59 million).
    last_step    BIGINT      NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    UNIQUE (workspace_id, user_id, method)
);
CREATE INDEX factors_user ON factors (user_id);

CREATE TABLE recovery_codes (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id),
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_mac     BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    UNIQUE (user_id, code_mac)
);
CREATE INDEX recovery_codes_user ON recovery_codes (workspace_id, user_id);

CREATE TABLE send_clocks (
    workspace_id BIGINT      NOT NULL,
    user_id      BIGINT      NOT NULL,
    channel      TEXT        NOT NULL,
    last_sent_at TIMESTAMPTZ NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_count INTEGER     NOT NULL,
    PRIMARY KEY (workspace_id, user_id, channel)
);

-- session_id has no foreign key: the session may be rotated away while its
-- codes stay behind as a record.
CREATE TABLE codes (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id),
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id   BIGINT      NOT NULL,
    channel      TEXT        NOT NULL CHECK (channel IN ('sms', 'email')),
    code_mac     BYTEA       NOT NULL,
    destination  TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);
CREATE INDEX codes_session ON codes (workspace_id, session_id, channel);
CREATE INDEX codes_user ON codes (user_id);

-- No foreign keys: the audit log outlives the users it names.
CREATE TABLE audit_events (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    actor_id     BIGINT      NOT NULL DEFAULT 0,
    target_id    BIGINT      NOT NULL DEFAULT 0,
    type         TEXT        NOT NULL,
    ip           TEXT        NOT NULL DEFAULT '',
    detail       TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (workspace_id, at DESC, id DESC);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE codes;
DROP TABLE send_clocks;
DROP TABLE recovery_codes;
DROP TABLE factors;
ALTER TABLE sessions
    DROP COLUMN next_path,
    DROP COLUMN after_reset,
    DROP COLUMN mfa_failures,
    DROP COLUMN reauth_at,
    DROP COLUMN mfa_verified_at;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE workspaces
    DROP COLUMN mode_changed_at,
    DROP COLUMN grace_days,
    DROP COLUMN trusted_device_days,
    DROP COLUMN mfa_methods,
    DROP COLUMN mfa_mode;
