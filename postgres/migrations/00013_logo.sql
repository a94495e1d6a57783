-- +goose Up
-- A workspace's logo (SPEC §16): the PNG Gatehouse drew from the owner's
-- upload, kept apart from the workspaces row so that reading a workspace
-- (every request) never carries the image. brand_logo names the current
-- logo ('' for none) and changes with it, for cache-busting URLs.
ALTER TABLE workspaces ADD COLUMN brand_logo TEXT NOT NULL DEFAULT '';
CREATE TABLE workspace_logos (
    workspace_id BIGINT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    png          BYTEA NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE workspace_logos;
ALTER TABLE workspaces DROP COLUMN brand_logo;
