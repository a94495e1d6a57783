package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// chunkQuery reads a run of a document's sealed chunks in order.
const chunkQuery = `SELECT idx, data FROM document_chunks
	WHERE document_id = ?1 AND idx >= ?2 AND idx < ?3 AND workspace_id = ?4 ORDER BY idx`

// chunkConns is the pool of connections that read document chunks.
//
// They speak SQLite's C interface (modernc's translation of it) instead
// of database/sql: the driver copies every blob into a new Go slice (a
// 64 KiB allocation, its clearing and its collection per chunk, a fifth of
// a large download's CPU), while sqlite3_column_blob hands out SQLite's
// own buffer, which the reader opens with AES-GCM straight into its
// window. Like the database/sql chunk readers they do not map the file.
type chunkConns struct {
	path string
	max  int

	mu     sync.Mutex
	idle   []*chunkConn
	open   int
	closed bool
	free   *sync.Cond // signalled when a connection is returned
}

func newChunkConns(path string, max int) *chunkConns {
	p := &chunkConns{path: path, max: max}
	p.free = sync.NewCond(&p.mu)
	return p
}

// chunkConn is one read-only connection with its prepared chunk query.
type chunkConn struct {
	tls  *libc.TLS
	db   uintptr // sqlite3*
	stmt uintptr // sqlite3_stmt* of chunkQuery
}

var errChunkConnsClosed = errors.New("sqlite: chunk readers closed")

// get returns an idle connection, opens one while fewer than max are
// open, or waits for one to be returned.
func (p *chunkConns) get() (*chunkConn, error) {
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, errChunkConnsClosed
		}
		if n := len(p.idle); n > 0 {
			c := p.idle[n-1]
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			return c, nil
		}
		if p.open < p.max {
			p.open++
			p.mu.Unlock()
			c, err := openChunkConn(p.path)
			if err != nil {
				p.mu.Lock()
				p.open--
				p.free.Signal()
				p.mu.Unlock()
				return nil, err
			}
			return c, nil
		}
		p.free.Wait()
	}
}

// put returns c to the pool; a broken connection (bad) is closed instead.
func (p *chunkConns) put(c *chunkConn, bad bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bad || p.closed {
		c.close()
		p.open--
	} else {
		p.idle = append(p.idle, c)
	}
	p.free.Signal()
}

// close closes the idle connections, and each busy one as it comes back.
func (p *chunkConns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.close()
		p.open--
	}
	p.idle = nil
	p.free.Broadcast()
}

// read calls fn with each chunk of the run asked for, as DocumentChunks.
func (p *chunkConns) read(ctx context.Context, workspaceID, documentID int64, first, n int, fn func(int, []byte) error) error {
	c, err := p.get()
	if err != nil {
		return err
	}
	err, bad := c.read(ctx, workspaceID, documentID, first, n, fn)
	p.put(c, bad)
	return err
}

// cPointer turns an address SQLite returned into a pointer. The memory is
// the C library's (modernc's allocator), never Go's heap.
func cPointer(p uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&p))
}

func openChunkConn(path string) (c *chunkConn, err error) {
	tls := libc.NewTLS()
	c = &chunkConn{tls: tls}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	zName, err := libc.CString("file:" + path)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(tls, zName)
	pdb := libc.Xmalloc(tls, 8)
	if pdb == 0 {
		return nil, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(tls, pdb)
	*(*uintptr)(cPointer(pdb)) = 0
	// The C library serializes nothing for us: each connection is used by
	// one goroutine at a time (the pool's), so it needs no mutex.
	rc := sqlite3.Xsqlite3_open_v2(tls, zName, pdb, sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_URI, 0)
	c.db = *(*uintptr)(cPointer(pdb))
	if rc != sqlite3.SQLITE_OK {
		return nil, c.errorf(rc, "open %s", path)
	}
	sqlite3.Xsqlite3_busy_timeout(tls, c.db, 10000)
	// Read only, like the other readers, and without the file mapping (see
	// DB.chunks). Mapping it with the pages dropped after each read
	// (MADV_DONTNEED) kept memory bounded but read at half the speed: the
	// page faults cost more than the preads they replace.
	for _, pragma := range []string{"PRAGMA query_only = 1", "PRAGMA mmap_size = 0"} {
		if err := c.exec(pragma); err != nil {
			return nil, err
		}
	}
	zQuery, err := libc.CString(chunkQuery)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(tls, zQuery)
	pstmt := libc.Xmalloc(tls, 8)
	if pstmt == 0 {
		return nil, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(tls, pstmt)
	if rc := sqlite3.Xsqlite3_prepare_v2(tls, c.db, zQuery, -1, pstmt, 0); rc != sqlite3.SQLITE_OK {
		return nil, c.errorf(rc, "prepare chunk query")
	}
	c.stmt = *(*uintptr)(cPointer(pstmt))
	return c, nil
}

// exec runs one statement that returns no rows.
func (c *chunkConn) exec(sql string) error {
	z, err := libc.CString(sql)
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, z)
	if rc := sqlite3.Xsqlite3_exec(c.tls, c.db, z, 0, 0, 0); rc != sqlite3.SQLITE_OK {
		return c.errorf(rc, "%s", sql)
	}
	return nil
}

// errorf wraps SQLite's message for the connection's last error.
func (c *chunkConn) errorf(rc int32, format string, args ...any) error {
	msg := ""
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	}
	return fmt.Errorf("sqlite: %s: %s (%d)", fmt.Sprintf(format, args...), msg, rc)
}

// read runs the chunk query; bad reports an error that leaves the
// connection unfit for reuse.
func (c *chunkConn) read(ctx context.Context, workspaceID, documentID int64, first, n int, fn func(int, []byte) error) (err error, bad bool) {
	tls, s := c.tls, c.stmt
	for i, v := range []int64{documentID, int64(first), int64(first + n), workspaceID} {
		if rc := sqlite3.Xsqlite3_bind_int64(tls, s, int32(i+1), v); rc != sqlite3.SQLITE_OK {
			return c.errorf(rc, "bind chunk query"), true
		}
	}
	// Reset ends the read transaction, so a checkpoint is never held back
	// by an idle reader.
	defer sqlite3.Xsqlite3_reset(tls, s)
	for {
		if err := ctx.Err(); err != nil {
			return err, false
		}
		switch rc := sqlite3.Xsqlite3_step(tls, s); rc {
		case sqlite3.SQLITE_DONE:
			return nil, false
		case sqlite3.SQLITE_ROW:
		default:
			return c.errorf(rc, "read chunks of document %d", documentID), false
		}
		idx := sqlite3.Xsqlite3_column_int64(tls, s, 0)
		// column_blob before column_bytes, as SQLite advises; the bytes
		// stay SQLite's until the next step, which is all fn may use them.
		p := sqlite3.Xsqlite3_column_blob(tls, s, 1)
		size := sqlite3.Xsqlite3_column_bytes(tls, s, 1)
		var data []byte
		if p != 0 && size > 0 {
			data = unsafe.Slice((*byte)(cPointer(p)), size)
		}
		if err := fn(int(idx), data); err != nil {
			return err, false
		}
	}
}

func (c *chunkConn) close() {
	if c.stmt != 0 {
		sqlite3.Xsqlite3_finalize(c.tls, c.stmt)
		c.stmt = 0
	}
	if c.db != 0 {
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	if c.tls != nil {
		c.tls.Close()
		c.tls = nil
	}
}
