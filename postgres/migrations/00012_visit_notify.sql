-- +goose Up
-- Every change to a row a visit is read from (the session, its user, the
-- user's methods, the workspace) notifies channel gatehouse_visits with
-- "<schema> <kind> <workspace id> <id>": kind s (a session id), u (a user
-- id) or w (the workspace alone). NOTIFY inside the writing transaction is
-- delivered when it commits, and never when it rolls back, so every
-- Gatehouse process listening drops what it keeps of those rows exactly when
-- the change becomes visible. A trigger, rather than a NOTIFY beside each
-- write, also covers writes added later and those of the CLI.
-- +goose StatementBegin
CREATE FUNCTION gatehouse_visit_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
    what text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    IF TG_ARGV[0] = 's' THEN
        what := 's ' || r.workspace_id || ' ' || r.id;
    ELSIF TG_ARGV[0] = 'u' THEN
        what := 'u ' || r.workspace_id || ' ' || r.id;
    ELSIF TG_ARGV[0] = 'f' THEN
        what := 'u ' || r.workspace_id || ' ' || r.user_id;
    ELSE
        what := 'w ' || r.id || ' 0';
    END IF;
    PERFORM pg_notify('gatehouse_visits', TG_TABLE_SCHEMA || ' ' || what);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A session is cached only once read, so its insert needs no notice.
CREATE TRIGGER sessions_visit_notify AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION gatehouse_visit_notify('s');
CREATE TRIGGER users_visit_notify AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION gatehouse_visit_notify('u');
CREATE TRIGGER factors_visit_notify AFTER INSERT OR UPDATE OR DELETE ON factors
    FOR EACH ROW EXECUTE FUNCTION gatehouse_visit_notify('f');
CREATE TRIGGER workspaces_visit_notify AFTER UPDATE OR DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION gatehouse_visit_notify('w');

-- +goose Down
DROP TRIGGER workspaces_visit_notify ON workspaces;
DROP TRIGGER factors_visit_notify ON factors;
DROP TRIGGER users_visit_notify ON users;
DROP TRIGGER sessions_visit_notify ON sessions;
DROP FUNCTION gatehouse_visit_notify();
