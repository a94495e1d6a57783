-- +goose Up
-- SMS codes go out through each workspace's own Twilio account: the same
-- columns as the SQLite store. The auth token is sealed with the server key
-- (package secret); NULL or empty while it is unset.
ALTER TABLE workspaces
    ADD COLUMN twilio_account_sid           TEXT    NOT NULL DEFAULT '',
    ADD COLUMN twilio_auth_token            BYTEA,
    ADD COLUMN twilio_from                  TEXT    NOT NULL DEFAULT '',
    ADD COLUMN twilio_messaging_service_sid TEXT    NOT NULL DEFAULT '',
    -- The SMS guard against SMS-pumping fraud: the countries that may
    -- receive codes (comma-separated upper-case ISO 3166 alpha-2 codes; ''
    -- allows any) and the caps per workspace per hour and per day.
    ADD COLUMN sms_countries                TEXT    NOT NULL DEFAULT '',
    ADD COLUMN sms_hourly_cap               INTEGER NOT NULL DEFAULT 100,
    ADD COLUMN sms_daily_cap                INTEGER NOT NULL DEFAULT 1000;

-- The caps count a workspace's recent messages on one channel.
CREATE INDEX outbox_sent_by ON outbox (workspace_id, channel, created_at);

-- +goose Down
DROP INDEX outbox_sent_by;
ALTER TABLE workspaces
    DROP COLUMN sms_daily_cap,
    DROP COLUMN sms_hourly_cap,
    DROP COLUMN sms_countries,
    DROP COLUMN twilio_messaging_service_sid,
    DROP COLUMN twilio_from,
    DROP COLUMN twilio_auth_token,
    DROP COLUMN twilio_account_sid;
