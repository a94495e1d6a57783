package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/pressly/goose/v3"
)

// MigrateTo moves the schema up or down to version, for tests of the
// migrations themselves.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, mustSub(migrations, "migrations"))
	if err != nil {
		return err
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if version < cur {
		_, err = p.DownTo(ctx, version)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		return fmt.Errorf("migrate to %d: %w", version, err)
	}
	return nil
}

// Exec runs a statement on the writer, for tests that need rows the store
// would not write.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, query, args...)
	return err
}

// CachedStatements reports how many reader statements are prepared and kept.
func (db *DB) CachedStatements() int { return int(db.read.cached.Load()) }

// MaxCachedStatements is the cap on them.
const MaxCachedStatements = maxCachedStatements

// ReadInt runs query on the reader pool and scans one integer.
func (db *DB) ReadInt(ctx context.Context, query string, args ...any) (n int64, err error) {
	err = db.read.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// VisitCacheStats reports the visit cache's hits and misses so far.
func (db *DB) VisitCacheStats() (hits, misses uint64) {
	return db.visits.cache.Stats()
}

// WatchesWalIndex reports whether the visit cache checks for changes in the
// mapped wal-index (else through PRAGMA data_version).
func (db *DB) WatchesWalIndex() bool {
	db.visits.mu.Lock()
	defer db.visits.mu.Unlock()
	return db.visits.shm != nil
}

// SetAfterAuditCommit sets a function run between an audit batch's commit
// and the visit cache being told of it, until the test ends.
func SetAfterAuditCommit(tb testing.TB, fn func()) {
	afterAuditCommit = fn
	tb.Cleanup(func() { afterAuditCommit = nil })
}

// SpaceCacheStats reports the client spaces served from memory and read.
func (db *DB) SpaceCacheStats() (hits, misses uint64) {
	return db.visits.cache.SpaceStats()
}
