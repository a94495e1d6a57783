package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The methods in this file serve operators (metrics, backups), not
// requests: like DeleteExpiredSessions they span every workspace.

// OutboxStats returns how many messages wait in the outbox (pending,
// including those waiting for a retry) and when the oldest of them was
// queued; the zero time when none waits.
func (db *DB) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	var first sql.NullInt64
	err = db.read.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'`).Scan(&pending, &first)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox stats: %w", err)
	}
	if first.Valid {
		oldest = fromUnix(first.Int64)
	}
	return pending, oldest, nil
}

// PoolStats returns the statistics of the writer pool (one connection) and
// of the reader pool.
func (db *DB) PoolStats() (writer, reader sql.DBStats) {
	return db.write.Stats(), db.read.Stats()
}
