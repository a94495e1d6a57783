-- +goose Up
-- Passkeys (SPEC §15). The method joins the factors' CHECK, which SQLite
-- can change only by rebuilding the table: a passkey factor row, active while
-- the user has at least one passkey, keeps "the user's active methods" one
-- query everywhere (session check, users list, coverage).
CREATE TABLE factors_new (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT    NOT NULL CHECK (method IN ('passkey', 'totp', 'sms', 'email')),
    secret       BLOB,
    phone        TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 0,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    UNIQUE (workspace_id, user_id, method)
);
INSERT INTO factors_new (id, workspace_id, user_id, method, secret, phone, active, last_step, created_at, confirmed_at)
    SELECT id, workspace_id, user_id, method, secret, phone, active, last_step, created_at, confirmed_at FROM factors;
DROP TABLE factors;
ALTER TABLE factors_new RENAME TO factors;
CREATE INDEX factors_user ON factors (user_id);

-- One row per WebAuthn credential. The public key is no secret; the
-- counter and backup flags are kept to spot a cloned authenticator.
CREATE TABLE passkeys (
    id               INTEGER PRIMARY KEY,
    workspace_id     INTEGER NOT NULL REFERENCES workspaces (id),
    user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    credential_id    BLOB    NOT NULL,
    public_key       BLOB    NOT NULL,
    sign_count       INTEGER NOT NULL DEFAULT 0,
    backup_eligible  INTEGER NOT NULL DEFAULT 0,
    backup_state     INTEGER NOT NULL DEFAULT 0,
    user_verified    INTEGER NOT NULL DEFAULT 0,
    transports       TEXT    NOT NULL DEFAULT '',
    aaguid           BLOB,
    attestation_type TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER,
    UNIQUE (workspace_id, credential_id)
);
CREATE INDEX passkeys_user ON passkeys (workspace_id, user_id);

-- Begun ceremonies, single use, 5 minutes; session_hash is empty and user_id 0 for
-- a passwordless sign-in.
CREATE TABLE passkey_ceremonies (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    token_hash   BLOB    NOT NULL UNIQUE,
    session_hash BLOB    NOT NULL DEFAULT X'',
    user_id      INTEGER NOT NULL DEFAULT 0,
    purpose      TEXT    NOT NULL CHECK (purpose IN ('register', 'verify', 'signin')),
    data         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (workspace_id, expires_at);

-- +goose Down
DROP TABLE passkey_ceremonies;
DROP TABLE passkeys;
DELETE FROM factors WHERE method = 'passkey';
CREATE TABLE factors_old (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT    NOT NULL CHECK (method IN ('totp', 'sms', 'email')),
    secret       BLOB,
    phone        TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 0,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    UNIQUE (workspace_id, user_id, method)
);
INSERT INTO factors_old SELECT id, workspace_id, user_id, method, secret, phone, active, last_step, created_at, confirmed_at FROM factors;
DROP TABLE factors;
ALTER TABLE factors_old RENAME TO factors;
CREATE INDEX factors_user ON factors (user_id);
