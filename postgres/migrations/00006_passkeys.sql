-- +goose Up
-- Passkeys (SPEC §15), the same tables as the SQLite store. A passkey
-- factor row, active while the user has at least one passkey, keeps "the
-- user's active methods" one query everywhere.
ALTER TABLE factors DROP CONSTRAINT factors_method_check;
ALTER TABLE factors ADD CONSTRAINT factors_method_check CHECK (method IN ('passkey', 'totp', 'sms', 'email'));

CREATE TABLE passkeys (
    id               BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id     BIGINT      NOT NULL REFERENCES workspaces (id),
    user_id          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT        NOT NULL,
    credential_id    BYTEA       NOT NULL,
    public_key       BYTEA       NOT NULL,
    sign_count       BIGINT      NOT NULL DEFAULT 0,
    backup_eligible  BOOLEAN     NOT NULL DEFAULT false,
    backup_state     BOOLEAN     NOT NULL DEFAULT false,
    user_verified    BOOLEAN     NOT NULL DEFAULT false,
    transports       TEXT        NOT NULL DEFAULT '',
    aaguid           BYTEA,
    attestation_type TEXT        NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ,
    UNIQUE (workspace_id, credential_id)
);
CREATE INDEX passkeys_user ON passkeys (workspace_id, user_id);

CREATE TABLE passkey_ceremonies (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id),
    token_hash   BYTEA       NOT NULL UNIQUE,
    session_hash BYTEA       NOT NULL DEFAULT '',
    user_id      BIGINT      NOT NULL DEFAULT 0,
    purpose      TEXT        NOT NULL CHECK (purpose IN ('register', 'verify', 'signin')),
    data         BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (workspace_id, expires_at);

-- +goose Down
DROP TABLE passkey_ceremonies;
DROP TABLE passkeys;
DELETE FROM factors WHERE method = 'passkey';
ALTER TABLE factors DROP CONSTRAINT factors_method_check;
ALTER TABLE factors ADD CONSTRAINT factors_method_check CHECK (method IN ('totp', 'sms', 'email'));
