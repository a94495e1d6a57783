-- +goose Up
-- Every change to a row a client's space is read from (the client, its
-- document requests, documents, messages and read marks) notifies channel
-- gatehouse_visits, the one the visit cache listens on, with
-- "<schema> c <workspace id> <client id>": every Gatehouse process drops the
-- spaces of that client it keeps, for every user, when the change commits
-- (and never for a rollback). Changes to users (names and roles shown beside
-- documents and messages) already notify "u", which drops the workspace's
-- spaces too. Document chunks are not watched: a space holds none.
-- +goose StatementBegin
CREATE FUNCTION gatehouse_space_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    client bigint;
BEGIN
    -- An update notifies for the row before and after: the same client
    -- unless it moved, and PostgreSQL sends a notice repeated in one
    -- transaction once. (Each branch names only the columns its table has.)
    IF TG_OP <> 'INSERT' THEN
        IF TG_ARGV[0] = 'id' THEN
            client := OLD.id;
        ELSE
            client := OLD.client_id;
        END IF;
        PERFORM pg_notify('gatehouse_visits', TG_TABLE_SCHEMA || ' c ' || OLD.workspace_id || ' ' || client);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF TG_ARGV[0] = 'id' THEN
            client := NEW.id;
        ELSE
            client := NEW.client_id;
        END IF;
        PERFORM pg_notify('gatehouse_visits', TG_TABLE_SCHEMA || ' c ' || NEW.workspace_id || ' ' || client);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A client is read only once it exists, so its insert needs no notice.
CREATE TRIGGER clients_space_notify AFTER UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION gatehouse_space_notify('id');
CREATE TRIGGER document_requests_space_notify AFTER INSERT OR UPDATE OR DELETE ON document_requests
    FOR EACH ROW EXECUTE FUNCTION gatehouse_space_notify('client_id');
CREATE TRIGGER documents_space_notify AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION gatehouse_space_notify('client_id');
CREATE TRIGGER client_messages_space_notify AFTER INSERT OR UPDATE OR DELETE ON client_messages
    FOR EACH ROW EXECUTE FUNCTION gatehouse_space_notify('client_id');
CREATE TRIGGER message_reads_space_notify AFTER INSERT OR UPDATE OR DELETE ON message_reads
    FOR EACH ROW EXECUTE FUNCTION gatehouse_space_notify('client_id');

-- +goose Down
DROP TRIGGER message_reads_space_notify ON message_reads;
DROP TRIGGER client_messages_space_notify ON client_messages;
DROP TRIGGER documents_space_notify ON documents;
DROP TRIGGER document_requests_space_notify ON document_requests;
DROP TRIGGER clients_space_notify ON clients;
DROP FUNCTION gatehouse_space_notify();
