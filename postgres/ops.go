package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
