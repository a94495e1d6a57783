-- +goose Up
-- A client's space lists its latest documents with their title, note, type,
-- size, sensitivity and uploader (ListSpaceDocuments). With those columns in
-- the index too, the list reads the index alone, in its order, and never
-- the table: each document shown costs one index entry. It replaces
-- documents_client (the same key), which every other use of that one can
-- use as well. SQLite keeps a long note in overflow pages, as the table does.
DROP INDEX documents_client;
CREATE INDEX documents_space ON documents
    (workspace_id, client_id, created_at DESC, id DESC, title, note, content_type, size, sensitive, uploader_id) WHERE ready = 1;

-- +goose Down
DROP INDEX documents_space;
CREATE INDEX documents_client ON documents (workspace_id, client_id, created_at DESC, id DESC) WHERE ready = 1;
