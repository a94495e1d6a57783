package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

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

	mu   sync.Mutex
	conn *sql.Conn
	stmt driver.StmtQueryContext // on conn's driver connection
	row  []driver.Value
	last int64 // the data_version last read
	// shm, when mapped, is the wal-index: a commit by any connection
	// rewrites its header, so comparing the header with the one last seen
	// tells what data_version tells without a read transaction (whose shared
	// lock costs system calls on every request).
	path  string
	shm   []byte
	unmap func() error
	hdr   walHeader
}

func newVisitWatch(path string, watch *sql.DB) *visitWatch {
	watch.SetMaxOpenConns(1)
	watch.SetMaxIdleConns(1)
	watch.SetConnMaxLifetime(0)
	return &visitWatch{path: path, watch: watch, cache: visitcache.New()}
}

// check empties the cache when the database changed since the last check,
// and turns it off when it cannot tell.
func (w *visitWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shm != nil {
		h, ok := readWalHeader(w.shm)
		if !ok || h != w.hdr {
			// Changed, or being changed right now (the two copies differ
			// while a commit writes them).
			w.hdr = h
			w.cache.Empty()
		}
		return
	}
	// A background context: the check is local and quick, and a request's
	// context would make the driver start a watcher goroutine per call.
	ctx := context.Background()
	if w.conn == nil {
		conn, err := w.watch.Conn(ctx)
		if err != nil {
			return
		}
		w.conn = conn
		// The first read makes sure the wal-index exists; the open
		// connection keeps it (SQLite removes it only when the last
		// connection closes).
		v, err := w.version(ctx)
		if err != nil {
			w.drop()
			return
		}
		w.last = v
		if mem, unmap, err := mapShm(w.path + "-shm"); err == nil {
			if h, ok := readWalHeader(mem); ok {
				w.shm, w.unmap, w.hdr = mem, unmap, h
			} else {
				unmap()
			}
		}
		w.cache.SetOn(true)
		return
	}
	v, err := w.version(ctx)
	if err != nil {
		w.drop()
		w.cache.TurnOff()
		return
	}
	if v != w.last {
		w.last = v
		w.cache.Empty()
	}
}

// header returns the wal-index header as it is now; ok is false when the
// wal-index is not mapped or a commit is writing it.
func (w *visitWatch) header() (h walHeader, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shm == nil {
		return h, false
	}
	return readWalHeader(w.shm)
}

// walChange is the place of the header's change counter, which every
// commit increments by one (https://sqlite.org/walformat.html).
const walChange = 2

// unchanged tells the watch that the one commit made after the header was
// before changed nothing a visit reads (an audit event). When the cache
// was current at before, and the header now shows exactly one commit
// since — so no other connection or process committed in between — the
// new header is taken as seen and the cache kept. Anything else (another
// commit, a header being written, a cache already emptied) leaves the next
// check to empty it as usual.
func (w *visitWatch) unchanged(before walHeader) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shm == nil || w.hdr != before {
		return
	}
	now, ok := readWalHeader(w.shm)
	if ok && now[walChange] == before[walChange]+1 {
		w.hdr = now
	}
}

// walIndexHeaderSize covers the two copies of the wal-index header
// (https://sqlite.org/walformat.html): 48 bytes each, written second copy
// first at every commit, before the commit returns; readers that find them
// equal have a consistent header.
const walIndexHeaderSize = 96

// walHeader is one copy of the wal-index header: its change counter,
// frame count, salts and checksums change with every transaction.
type walHeader [12]uint32

// readWalHeader reads both copies of the header from the mapped
// wal-index; ok is false when they differ (a commit is writing them).
func readWalHeader(mem []byte) (h walHeader, ok bool) {
	var h2 walHeader
	for i := range h {
		h[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&mem[4*i])))
	}
	for i := range h2 {
		h2[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&mem[48+4*i])))
	}
	return h, h == h2
}

// version reads data_version through the driver's own statement, prepared
// once on the watch connection: database/sql's row machinery costs more
// than the pragma, and this runs on every signed-in request. w.mu is held.
func (w *visitWatch) version(ctx context.Context) (v int64, err error) {
	err = w.conn.Raw(func(dc any) error {
		if w.stmt == nil {
			p, ok := dc.(driver.ConnPrepareContext)
			if !ok {
				return errors.New("sqlite driver cannot prepare")
			}
			st, err := p.PrepareContext(ctx, `PRAGMA data_version`)
			if err != nil {
				return err
			}
			q, ok := st.(driver.StmtQueryContext)
			if !ok {
				st.Close()
				return errors.New("sqlite statement cannot query")
			}
			w.stmt = q
			w.row = make([]driver.Value, 1)
		}
		rows, err := w.stmt.QueryContext(ctx, nil)
		if err != nil {
			return err
		}
		err = rows.Next(w.row)
		rows.Close()
		if err != nil {
			return err
		}
		n, ok := w.row[0].(int64)
		if !ok {
			return fmt.Errorf("data_version is a %T", w.row[0])
		}
		v = n
		return nil
	})
	return v, err
}

// drop closes the watch connection (and its statement, and the mapping).
// w.mu is held.
func (w *visitWatch) drop() {
	if w.shm != nil {
		w.unmap()
		w.shm, w.unmap = nil, nil
	}
	if w.stmt != nil {
		st := w.stmt
		w.conn.Raw(func(any) error { return st.(driver.Stmt).Close() })
		w.stmt = nil
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

func (w *visitWatch) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.drop()
	w.cache.TurnOff()
	return w.watch.Close()
}

// FindVisit implements gatehouse.SessionStore through the visit cache:
// served from memory while the database is unchanged, read otherwise.
func (db *DB) FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error) {
	db.visits.check()
	return db.visits.cache.Find(ctx, workspaceID, tokenHash, db.findVisit)
}
