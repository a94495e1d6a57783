-- +goose Up
-- The same tables, columns and indexes as the SQLite store, in PostgreSQL's
-- own types. Times are timestamptz written by the application (never now()),
-- so one fixed clock drives every store alike.
CREATE TABLE workspaces (
    id                  BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                TEXT        NOT NULL UNIQUE,
    name                TEXT        NOT NULL,
    plan                TEXT        NOT NULL CHECK (plan IN ('starter', 'pro', 'unlimited')),
    signup_enabled      BOOLEAN     NOT NULL DEFAULT false,
    remember_me_enabled BOOLEAN     NOT NULL DEFAULT true,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT      NOT NULL REFERENCES workspaces (id),
    email         TEXT        NOT NULL,
    name          TEXT        NOT NULL DEFAULT '',
    role          TEXT        NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'client')),
    password_hash TEXT        NOT NULL DEFAULT '',
    disabled      BOOLEAN     NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, email)
);

CREATE TABLE sessions (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id),
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BYTEA       NOT NULL UNIQUE,
    remember     BOOLEAN     NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    idle_seconds BIGINT      NOT NULL,
    user_agent   TEXT        NOT NULL DEFAULT '',
    ip           TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (workspace_id, user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE tokens (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL REFERENCES workspaces (id),
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT        NOT NULL,
    token_hash   BYTEA       NOT NULL UNIQUE,
    payload      TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);
CREATE INDEX tokens_user ON tokens (workspace_id, user_id, kind);

CREATE TABLE throttles (
    workspace_id    BIGINT      NOT NULL,
    key             TEXT        NOT NULL,
    failures        INTEGER     NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

CREATE TABLE outbox (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT      NOT NULL,
    channel      TEXT        NOT NULL,
    recipient    TEXT        NOT NULL,
    subject      TEXT        NOT NULL,
    body         TEXT        NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'pending',
    attempts     INTEGER     NOT NULL DEFAULT 0,
    last_error   TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    next_attempt TIMESTAMPTZ NOT NULL,
    -- '-infinity' means "not leased": it is before every claim's now.
    leased_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    sent_at      TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt);

-- +goose Down
DROP TABLE outbox;
DROP TABLE throttles;
DROP TABLE tokens;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE workspaces;
