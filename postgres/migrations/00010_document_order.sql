-- +goose Up
-- Documents are listed newest first, a few at a time (the portal home shows
-- five): an index in that order, over finished documents only, lets the
-- list read five rows instead of sorting a client's every document.
DROP INDEX documents_client;
CREATE INDEX documents_client ON documents (workspace_id, client_id, created_at DESC, id DESC) WHERE ready;
CREATE INDEX documents_workspace ON documents (workspace_id, created_at DESC, id DESC) WHERE ready;

-- +goose Down
DROP INDEX documents_workspace;
DROP INDEX documents_client;
CREATE INDEX documents_client ON documents (workspace_id, client_id, ready, created_at DESC);
