-- +goose Up
-- The portal home shows a client's latest five documents and three messages
-- (portal.HomeDocuments, portal.HomeMessages). Read from their tables, each
-- row shown cost its index and table lookups, its uploader's or author's
-- lookup and its formatting, on every home SQLite could not serve from
-- memory (after any write): a home with rows cost a third more than an
-- empty one. client_home keeps them as ListSpaceDocuments and
-- ListClientMessages return them, packed (see sqlite/spacerows.go), one row
-- per client, made again by the triggers below in the transaction of every
-- change they show: a finished, changed or deleted document, a message, a
-- user's name, e-mail or role. Reading them is one lookup, whatever the
-- client holds. The packing expressions are those of spacerows.go.
CREATE TABLE client_home (
    client_id    INTEGER PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    documents    TEXT    NOT NULL DEFAULT '',
    messages     TEXT    NOT NULL DEFAULT ''
);
INSERT INTO client_home (client_id, workspace_id, documents, messages)
SELECT c.id, c.workspace_id, (SELECT coalesce(string_agg(
          printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
                 octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
          || title || note || content_type || uploader, ''), '')
        FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
                     coalesce(nullif(u.name, ''), u.email, '') AS uploader
              FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
              WHERE d.workspace_id = c.workspace_id AND d.client_id = c.id AND d.ready = 1
              ORDER BY d.created_at DESC, d.id DESC LIMIT 5)),
    (SELECT coalesce(string_agg(
          printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
          || author || body, ''), '')
        FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
                     coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
              FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
              WHERE m.workspace_id = c.workspace_id AND m.client_id = c.id ORDER BY m.id DESC LIMIT 3))
FROM clients c;

-- +goose StatementBegin
CREATE TRIGGER clients_home AFTER INSERT ON clients
BEGIN
    INSERT INTO client_home (client_id, workspace_id) VALUES (NEW.id, NEW.workspace_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER documents_home_insert AFTER INSERT ON documents
WHEN NEW.ready = 1
BEGIN
    UPDATE client_home SET documents = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
             octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
      || title || note || content_type || uploader, ''), '')
    FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
                 coalesce(nullif(u.name, ''), u.email, '') AS uploader
          FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
          WHERE d.workspace_id = NEW.workspace_id AND d.client_id = NEW.client_id AND d.ready = 1
          ORDER BY d.created_at DESC, d.id DESC LIMIT 5))
    WHERE client_id = NEW.client_id AND workspace_id = NEW.workspace_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER documents_home_update AFTER UPDATE ON documents
WHEN OLD.ready = 1 OR NEW.ready = 1
BEGIN
    UPDATE client_home SET documents = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
             octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
      || title || note || content_type || uploader, ''), '')
    FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
                 coalesce(nullif(u.name, ''), u.email, '') AS uploader
          FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
          WHERE d.workspace_id = OLD.workspace_id AND d.client_id = OLD.client_id AND d.ready = 1
          ORDER BY d.created_at DESC, d.id DESC LIMIT 5))
    WHERE client_id = OLD.client_id AND workspace_id = OLD.workspace_id;
    UPDATE client_home SET documents = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
             octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
      || title || note || content_type || uploader, ''), '')
    FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
                 coalesce(nullif(u.name, ''), u.email, '') AS uploader
          FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
          WHERE d.workspace_id = NEW.workspace_id AND d.client_id = NEW.client_id AND d.ready = 1
          ORDER BY d.created_at DESC, d.id DESC LIMIT 5))
    WHERE client_id = NEW.client_id AND workspace_id = NEW.workspace_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER documents_home_delete AFTER DELETE ON documents
WHEN OLD.ready = 1
BEGIN
    UPDATE client_home SET documents = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
             octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
      || title || note || content_type || uploader, ''), '')
    FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
                 coalesce(nullif(u.name, ''), u.email, '') AS uploader
          FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
          WHERE d.workspace_id = OLD.workspace_id AND d.client_id = OLD.client_id AND d.ready = 1
          ORDER BY d.created_at DESC, d.id DESC LIMIT 5))
    WHERE client_id = OLD.client_id AND workspace_id = OLD.workspace_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER client_messages_home_insert AFTER INSERT ON client_messages
BEGIN
    UPDATE client_home SET messages = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
      || author || body, ''), '')
    FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
                 coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
          FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
          WHERE m.workspace_id = NEW.workspace_id AND m.client_id = NEW.client_id ORDER BY m.id DESC LIMIT 3))
    WHERE client_id = NEW.client_id AND workspace_id = NEW.workspace_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER client_messages_home_update AFTER UPDATE ON client_messages
BEGIN
    UPDATE client_home SET messages = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
      || author || body, ''), '')
    FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
                 coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
          FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
          WHERE m.workspace_id = OLD.workspace_id AND m.client_id = OLD.client_id ORDER BY m.id DESC LIMIT 3))
    WHERE client_id = OLD.client_id AND workspace_id = OLD.workspace_id;
    UPDATE client_home SET messages = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
      || author || body, ''), '')
    FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
                 coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
          FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
          WHERE m.workspace_id = NEW.workspace_id AND m.client_id = NEW.client_id ORDER BY m.id DESC LIMIT 3))
    WHERE client_id = NEW.client_id AND workspace_id = NEW.workspace_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER client_messages_home_delete AFTER DELETE ON client_messages
BEGIN
    UPDATE client_home SET messages = (SELECT coalesce(string_agg(
      printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
      || author || body, ''), '')
    FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
                 coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
          FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
          WHERE m.workspace_id = OLD.workspace_id AND m.client_id = OLD.client_id ORDER BY m.id DESC LIMIT 3))
    WHERE client_id = OLD.client_id AND workspace_id = OLD.workspace_id;
END;
-- +goose StatementEnd
-- A user's name, e-mail or role changes what the homes of their workspace
-- show beside their documents and messages (rare: every client home of the
-- workspace is made again).
-- +goose StatementBegin
CREATE TRIGGER users_home AFTER UPDATE ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email OR OLD.role IS NOT NEW.role
BEGIN
    UPDATE client_home AS h SET documents = (SELECT coalesce(string_agg(
          printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
                 octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
          || title || note || content_type || uploader, ''), '')
        FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
                     coalesce(nullif(u.name, ''), u.email, '') AS uploader
              FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
              WHERE d.workspace_id = h.workspace_id AND d.client_id = h.client_id AND d.ready = 1
              ORDER BY d.created_at DESC, d.id DESC LIMIT 5)),
      messages = (SELECT coalesce(string_agg(
          printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
          || author || body, ''), '')
        FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
                     coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
              FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
              WHERE m.workspace_id = h.workspace_id AND m.client_id = h.client_id ORDER BY m.id DESC LIMIT 3))
    WHERE h.workspace_id = NEW.workspace_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_home_delete AFTER DELETE ON users
BEGIN
    UPDATE client_home AS h SET documents = (SELECT coalesce(string_agg(
          printf('%d %d %d %d %d %d %d %d ', id, size, sensitive, created_at,
                 octet_length(title), octet_length(note), octet_length(content_type), octet_length(uploader))
          || title || note || content_type || uploader, ''), '')
        FROM (SELECT d.id, d.size, d.sensitive, d.created_at, d.title, d.note, d.content_type,
                     coalesce(nullif(u.name, ''), u.email, '') AS uploader
              FROM documents d LEFT JOIN users u ON u.workspace_id = d.workspace_id AND u.id = d.uploader_id
              WHERE d.workspace_id = h.workspace_id AND d.client_id = h.client_id AND d.ready = 1
              ORDER BY d.created_at DESC, d.id DESC LIMIT 5)),
      messages = (SELECT coalesce(string_agg(
          printf('%d %d %d %d %d %d ', id, author_id, staff, created_at, octet_length(author), octet_length(body))
          || author || body, ''), '')
        FROM (SELECT m.id, m.author_id, coalesce(u.role, 'client') <> 'client' AS staff, m.created_at,
                     coalesce(nullif(u.name, ''), u.email, '') AS author, m.body
              FROM client_messages m LEFT JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.author_id
              WHERE m.workspace_id = h.workspace_id AND m.client_id = h.client_id ORDER BY m.id DESC LIMIT 3))
    WHERE h.workspace_id = OLD.workspace_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_home_delete;
DROP TRIGGER users_home;
DROP TRIGGER client_messages_home_delete;
DROP TRIGGER client_messages_home_update;
DROP TRIGGER client_messages_home_insert;
DROP TRIGGER documents_home_delete;
DROP TRIGGER documents_home_update;
DROP TRIGGER documents_home_insert;
DROP TRIGGER clients_home;
DROP TABLE client_home;
