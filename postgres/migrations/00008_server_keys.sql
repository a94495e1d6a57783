-- +goose Up
-- Keys the database keeps sealed by the server key. Row 1 is the MAC key of
-- code and recovery-code hashes: it must outlive a rotation of the server
-- key, since those codes cannot be hashed again (see secret.WithSealedMACKey).
CREATE TABLE server_keys (
    id     BIGINT PRIMARY KEY,
    sealed BYTEA  NOT NULL
);

-- +goose Down
DROP TABLE server_keys;
