package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/visitcache"
)

// visitWatch keeps the visits FindVisit read, for as long as the database
// has not changed since (SPEC §11: a process may keep what it read only
// while it can tell that nothing changed).
//
// It can tell through PRAGMA data_version on a connection of its own: the
// value changes whenever any other connection commits — this process's
// writer, or another process such as the CLI — and SQLite reads it from the
// shared WAL index, so a commit is seen by the next check, with no delay.
// Every lookup checks it first, and any change (to any table: a logout, a
// password, a plan, a method, a last-seen touch) empties the whole cache.
// A visit read after a check is at least as new as that check, and the
// cache keeps it only while no later check emptied it, so keeping it until
// the next change is exact. When the check fails, the cache is turned off
// (emptied and bypassed); a new connection starts it again empty, since its
// counter means nothing next to the old one's.
type visitWatch struct {
	watch *sql.DB // one connection, only for the check
	cache *visitcache.Cache

	mu      sync.Mutex
	conn    *sql.Conn
	stmt    *sql.Stmt
	version int64
}

func newVisitWatch(watch *sql.DB) *visitWatch {
	watch.SetMaxOpenConns(1)
	watch.SetMaxIdleConns(1)
	watch.SetConnMaxLifetime(0)
	return &visitWatch{watch: watch, cache: visitcache.New()}
}

// check reads data_version, emptying the cache when it changed and turning
// it off when the version cannot be read.
func (w *visitWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A background context: the check is local and quick, and a request's
	// context would make the driver start a watcher goroutine per call.
	ctx := context.Background()
	if w.conn == nil {
		conn, err := w.watch.Conn(ctx)
		if err != nil {
			return
		}
		stmt, err := conn.PrepareContext(ctx, `PRAGMA data_version`)
		if err != nil {
			conn.Close()
			return
		}
		var v int64
		if err := stmt.QueryRowContext(ctx).Scan(&v); err != nil {
			stmt.Close()
			conn.Close()
			return
		}
		w.conn, w.stmt, w.version = conn, stmt, v
		w.cache.SetOn(true)
		return
	}
	var v int64
	if err := w.stmt.QueryRowContext(ctx).Scan(&v); err != nil {
		w.stmt.Close()
		w.conn.Close()
		w.conn, w.stmt = nil, nil
		w.cache.TurnOff()
		return
	}
	if v != w.version {
		w.version = v
		w.cache.Empty()
	}
}

func (w *visitWatch) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		w.stmt.Close()
		w.conn.Close()
		w.conn, w.stmt = nil, nil
	}
	w.cache.TurnOff()
	return w.watch.Close()
}

// FindVisit implements gatehouse.SessionStore through the visit cache:
// served from memory while the database is unchanged, read otherwise.
func (db *DB) FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error) {
	db.visits.check()
	return db.visits.cache.Find(ctx, workspaceID, tokenHash, db.findVisit)
}
