package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// MigrateTo moves the schema up or down to version, for tests of the
// migrations themselves.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, mustSub(migrations, "migrations"))
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

// Exec runs a statement, for tests that need rows the store would not write.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := db.pool.Exec(ctx, query, args...)
	return err
}

// QueryRowForTest reads one row, for tests that look at the server's state.
func (db *DB) QueryRowForTest(ctx context.Context, query string, args ...any) pgx.Row {
	return db.pool.QueryRow(ctx, query, args...)
}

// VisitCacheStats reports the visit cache's hits and misses so far.
func (db *DB) VisitCacheStats() (hits, misses uint64) { return db.visits.Stats() }

// SpaceCacheStats reports the client spaces served from memory and read.
func (db *DB) SpaceCacheStats() (hits, misses uint64) { return db.visits.SpaceStats() }

// VisitCacheOn reports whether the visit cache serves now.
func (db *DB) VisitCacheOn() bool { return db.visits.On() }

// ListenerPID is the backend process of the listening connection (0 before
// it first connected).
func (db *DB) ListenerPID() uint32 {
	db.listen.mu.Lock()
	defer db.listen.mu.Unlock()
	return db.listen.pid
}

// HoldListener keeps the listener from connecting again until the
// returned function is called (once or more).
func (db *DB) HoldListener() (release func()) {
	held := make(chan struct{})
	dial := db.listen.dial
	db.listen.mu.Lock()
	db.listen.dial = func(ctx context.Context, c *pgconn.Config) (*pgconn.PgConn, error) {
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return dial(ctx, c)
	}
	db.listen.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(held) }) }
}

// HoldNotices keeps the listener from handling notices until the returned
// function is called (once or more).
func (db *DB) HoldNotices() (release func()) {
	held := make(chan struct{})
	db.listen.mu.Lock()
	db.listen.onNotice = func(string) bool { <-held; return true }
	db.listen.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			db.listen.mu.Lock()
			db.listen.onNotice = nil
			db.listen.mu.Unlock()
			close(held)
		})
	}
}

// LoseNotices makes the listener lose every notice, as a connection
// through a pooler in transaction mode would, until the returned function
// is called (once or more).
func (db *DB) LoseNotices() (hear func()) {
	db.listen.mu.Lock()
	db.listen.onNotice = func(string) bool { return false }
	db.listen.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			db.listen.mu.Lock()
			db.listen.onNotice = nil
			db.listen.mu.Unlock()
		})
	}
}
