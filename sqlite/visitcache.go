package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
)

// maxCachedVisits bounds the visit cache; past it, visits are read but not
// kept until the next change empties the cache.
const maxCachedVisits = 10000

// visitCache keeps the visits FindVisit read, for as long as the database
// has not changed since (SPEC §11: a process may keep what it read only
// while it can tell that nothing changed).
//
// It can tell through PRAGMA data_version on a connection of its own: the
// value changes whenever any other connection commits — this process's
// writer, or another process such as the CLI — and SQLite reads it from the
// shared WAL index, so a commit is seen by the next check, with no delay.
// Every lookup checks it first, under the same lock as the lookup itself,
// and any change (to any table: a logout, a password, a plan, a method, a
// last-seen touch) empties the whole cache. A visit read after a check is
// at least as new as that check, so keeping it until the next change is
// exact. When the check fails, the cache is emptied and bypassed; a new
// connection starts a new generation, since its counter means nothing next
// to the old one's.
type visitCache struct {
	watch *sql.DB // one connection, only for the check

	mu      sync.Mutex
	conn    *sql.Conn
	stmt    *sql.Stmt
	gen     uint64 // bumped whenever the cache is emptied
	version int64
	m       map[visitKey]*gatehouse.Visit

	hits, misses uint64 // for tests
}

type visitKey struct {
	workspaceID int64
	hash        [32]byte
}

func newVisitCache(watch *sql.DB) *visitCache {
	watch.SetMaxOpenConns(1)
	watch.SetMaxIdleConns(1)
	watch.SetConnMaxLifetime(0)
	return &visitCache{watch: watch, m: map[visitKey]*gatehouse.Visit{}}
}

// check reads data_version, emptying the cache when it changed; ok is
// false when it cannot be read (then nothing may be served from memory).
// c.mu is held.
func (c *visitCache) check() (ok bool) {
	// A background context: the check is local and quick, and a request's
	// context would make the driver start a watcher goroutine per call.
	ctx := context.Background()
	if c.conn == nil {
		conn, err := c.watch.Conn(ctx)
		if err != nil {
			return false
		}
		stmt, err := conn.PrepareContext(ctx, `PRAGMA data_version`)
		if err != nil {
			conn.Close()
			return false
		}
		c.conn, c.stmt = conn, stmt
		c.empty()
	}
	var v int64
	if err := c.stmt.QueryRowContext(ctx).Scan(&v); err != nil {
		c.stmt.Close()
		c.conn.Close()
		c.conn, c.stmt = nil, nil
		c.empty()
		return false
	}
	if v != c.version {
		c.version = v
		c.empty()
	}
	return true
}

func (c *visitCache) empty() {
	c.gen++
	clear(c.m)
}

// get returns a copy of the cached visit, or nil and the generation under
// which a visit read now may be put.
func (c *visitCache) get(k visitKey) (v *gatehouse.Visit, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.check() {
		return nil, 0, false
	}
	if v := c.m[k]; v != nil {
		c.hits++
		return cloneVisit(v), c.gen, true
	}
	c.misses++
	return nil, c.gen, true
}

// put keeps a copy of v, read after the check of generation gen, unless the
// cache was emptied since.
func (c *visitCache) put(k visitKey, gen uint64, v *gatehouse.Visit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.conn == nil || len(c.m) >= maxCachedVisits {
		return
	}
	c.m[k] = cloneVisit(v)
}

func (c *visitCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.stmt.Close()
		c.conn.Close()
		c.conn, c.stmt = nil, nil
	}
	c.empty()
	return c.watch.Close()
}

// FindVisit implements gatehouse.SessionStore through the visit cache:
// served from memory while the database is unchanged, read otherwise.
func (db *DB) FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error) {
	if len(tokenHash) != 32 {
		return db.findVisit(ctx, workspaceID, tokenHash)
	}
	k := visitKey{workspaceID: workspaceID, hash: [32]byte(tokenHash)}
	v, gen, ok := db.visits.get(k)
	if v != nil {
		return v, nil
	}
	v, err := db.findVisit(ctx, workspaceID, tokenHash)
	if err == nil && ok {
		db.visits.put(k, gen, v)
	}
	return v, err
}

// cloneVisit returns a deep copy of v: callers change the visit they get
// (the last-seen time after a touch, for one), and a change must never
// reach the cached copy or another request's. The copy is made by
// reflection so a field added to Session, User or Workspace later is
// copied too (TestCloneVisitSharesNothing checks).
func cloneVisit(v *gatehouse.Visit) *gatehouse.Visit {
	out := new(gatehouse.Visit)
	deepCopy(reflect.ValueOf(out).Elem(), reflect.ValueOf(v).Elem())
	return out
}

// deepCopy copies src into dst, which is settable and of the same type.
// Structs are copied whole and then their exported fields one by one;
// unexported fields (time.Time's location) are immutable values shared as
// they are.
func deepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Struct:
		dst.Set(src)
		t := src.Type()
		for i := range src.NumField() {
			if t.Field(i).IsExported() {
				deepCopy(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			deepCopy(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	case reflect.Pointer:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		p := reflect.New(src.Type().Elem())
		deepCopy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Map:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		for it := src.MapRange(); it.Next(); {
			val := reflect.New(src.Type().Elem()).Elem()
			deepCopy(val, it.Value())
			m.SetMapIndex(it.Key(), val)
		}
		dst.Set(m)
	case reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		panic(fmt.Sprintf("sqlite: cloneVisit cannot copy a %s", src.Type()))
	default:
		dst.Set(src)
	}
}
