-- +goose Up
-- Branding per workspace (SPEC §16): a display name and an accent colour;
-- empty means the workspace name and the product's colour.
ALTER TABLE workspaces ADD COLUMN brand_name TEXT NOT NULL DEFAULT '';
ALTER TABLE workspaces ADD COLUMN brand_accent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE workspaces DROP COLUMN brand_accent;
ALTER TABLE workspaces DROP COLUMN brand_name;
