-- +goose Up
-- The client portal (SPEC §14): clients, their users, documents stored as
-- sealed chunks, document requests, the conversation and read marks.
CREATE TABLE clients (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    name         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX clients_workspace ON clients (workspace_id, name);

ALTER TABLE users ADD COLUMN client_id INTEGER REFERENCES clients (id);
CREATE INDEX users_client ON users (workspace_id, client_id);

-- A document row exists from the first chunk of its upload; ready = 0 until
-- the whole form arrived, and every read ignores such rows. A failed upload
-- deletes its row and chunks; a crashed one is swept by age.
CREATE TABLE documents (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    client_id    INTEGER NOT NULL REFERENCES clients (id),
    title        TEXT    NOT NULL DEFAULT '',
    note         TEXT    NOT NULL DEFAULT '',
    file_name    TEXT    NOT NULL,
    content_type TEXT    NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    sha256       BLOB,
    sensitive    INTEGER NOT NULL DEFAULT 0,
    uploader_id  INTEGER NOT NULL,
    request_id   INTEGER NOT NULL DEFAULT 0,
    sealed_key   BLOB,
    chunks       INTEGER NOT NULL DEFAULT 0,
    ready        INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX documents_client ON documents (workspace_id, client_id, ready, created_at DESC);
CREATE INDEX documents_pending ON documents (ready, created_at);

CREATE TABLE document_chunks (
    workspace_id INTEGER NOT NULL,
    document_id  INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    PRIMARY KEY (document_id, idx)
);

CREATE TABLE document_requests (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    client_id    INTEGER NOT NULL REFERENCES clients (id),
    title        TEXT    NOT NULL,
    note         TEXT    NOT NULL DEFAULT '',
    due          INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL CHECK (status IN ('open', 'fulfilled', 'cancelled')),
    created_by   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX document_requests_client ON document_requests (workspace_id, client_id, status);

CREATE TABLE client_messages (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
    client_id    INTEGER NOT NULL REFERENCES clients (id),
    author_id    INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX client_messages_client ON client_messages (workspace_id, client_id, id);

CREATE TABLE message_reads (
    workspace_id INTEGER NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    INTEGER NOT NULL,
    last_read_id INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id, client_id)
);

CREATE TABLE portal_mail_off (
    workspace_id INTEGER NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, user_id)
);

ALTER TABLE audit_events ADD COLUMN client_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN document_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX audit_events_client ON audit_events (workspace_id, client_id, id DESC);
CREATE INDEX audit_events_document ON audit_events (workspace_id, document_id, id DESC);

-- +goose Down
DROP INDEX audit_events_document;
DROP INDEX audit_events_client;
ALTER TABLE audit_events DROP COLUMN document_id;
ALTER TABLE audit_events DROP COLUMN client_id;
DROP TABLE portal_mail_off;
DROP TABLE message_reads;
DROP TABLE client_messages;
DROP TABLE document_requests;
DROP TABLE document_chunks;
DROP TABLE documents;
DROP INDEX users_client;
ALTER TABLE users DROP COLUMN client_id;
DROP TABLE clients;
