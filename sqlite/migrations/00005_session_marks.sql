-- +goose Up
-- Two marks on a login, NULL until set: when it proved the mailbox (an
-- e-mailed code, or the e-mailed link that started it), and when the user
-- chose "Remind me later" instead of enrolling in a grace period.
ALTER TABLE sessions ADD COLUMN mailbox_proven_at INTEGER;
ALTER TABLE sessions ADD COLUMN enroll_skipped_at INTEGER;

-- +goose Down
ALTER TABLE sessions DROP COLUMN enroll_skipped_at;
ALTER TABLE sessions DROP COLUMN mailbox_proven_at;
