package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse"
)

// The methods in this file serve operators (metrics), not requests: like
// DeleteExpiredSessions they span every workspace.

// OutboxStats returns how many messages wait in the outbox (pending,
// including those waiting for a retry) and when the oldest of them was
// queued; the zero time when none waits.
func (db *DB) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	var first *time.Time
	err = db.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'`).Scan(&pending, &first)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox stats: %w", err)
	}
	if first != nil {
		oldest = first.UTC()
	}
	return pending, oldest, nil
}

// PoolStats returns the statistics of the connection pool.
func (db *DB) PoolStats() *pgxpool.Stat { return db.pool.Stat() }

// sealedColumns says where each kind of sealed value lives: the table, the
// columns of its row ID, workspace and owner, and the sealed column.
var sealedColumns = map[gatehouse.SealedKind]struct{ table, id, ws, owner, col string }{
	gatehouse.SealedTOTPSeed:    {"factors", "id", "workspace_id", "user_id", "secret"},
	gatehouse.SealedTwilioToken: {"workspaces", "id", "id", "0", "twilio_auth_token"},
	gatehouse.SealedDocumentKey: {"documents", "id", "workspace_id", "0", "sealed_key"},
	gatehouse.SealedServerKey:   {"server_keys", "id", "0", "0", "sealed"},
}

// ListSealed implements gatehouse.SealedStore.
func (db *DB) ListSealed(ctx context.Context, kind gatehouse.SealedKind, afterID int64, limit int) ([]gatehouse.SealedValue, error) {
	c, ok := sealedColumns[kind]
	if !ok {
		return nil, fmt.Errorf("list sealed: unknown kind %q", kind)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+c.id+`, `+c.ws+`::bigint, `+c.owner+`::bigint, `+c.col+` FROM `+c.table+`
		WHERE `+c.id+` > $1 AND octet_length(`+c.col+`) > 0 ORDER BY `+c.id+` LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list sealed %s: %w", kind, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.SealedValue, error) {
		var v gatehouse.SealedValue
		err := r.Scan(&v.ID, &v.WorkspaceID, &v.OwnerID, &v.Sealed)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sealed %s: %w", kind, err)
	}
	return out, nil
}

// ReplaceSealed implements gatehouse.SealedStore.
func (db *DB) ReplaceSealed(ctx context.Context, kind gatehouse.SealedKind, id int64, prev, next []byte) (bool, error) {
	c, ok := sealedColumns[kind]
	if !ok {
		return false, fmt.Errorf("replace sealed: unknown kind %q", kind)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE `+c.table+` SET `+c.col+` = $1 WHERE `+c.id+` = $2 AND `+c.col+` = $3`, next, id, prev)
	if err != nil {
		return false, fmt.Errorf("replace sealed %s %d: %w", kind, id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ServerKey implements gatehouse.SealedStore.
func (db *DB) ServerKey(ctx context.Context, id int64) ([]byte, error) {
	var sealed []byte
	err := db.pool.QueryRow(ctx, `SELECT sealed FROM server_keys WHERE id = $1`, id).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("server key %d: %w", id, gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("server key %d: %w", id, err)
	}
	return sealed, nil
}

// AddServerKey implements gatehouse.SealedStore.
func (db *DB) AddServerKey(ctx context.Context, id int64, sealed []byte) ([]byte, error) {
	var stored []byte
	// The no-op update makes RETURNING give the row that won.
	err := db.pool.QueryRow(ctx, `INSERT INTO server_keys (id, sealed) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET sealed = server_keys.sealed RETURNING sealed`, id, sealed).Scan(&stored)
	if err != nil {
		return nil, fmt.Errorf("add server key %d: %w", id, err)
	}
	return stored, nil
}
