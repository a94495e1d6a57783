-- +goose Up
-- Caps on uses (SMS per workspace per hour and day, per client address for
-- SMS and the mail-sending forms): a use is counted only while the window
-- that opened with its first use has room, by one conditional upsert.
CREATE TABLE limits (
    workspace_id INTEGER NOT NULL,
    key          TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    uses         INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- +goose Down
DROP TABLE limits;
