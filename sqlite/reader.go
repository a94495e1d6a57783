package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxCachedStatements bounds the reader's statement cache. Queries are
// built from a finite set of fragments, so a running server needs far
// fewer; the cap only keeps a surprise (a query text made per request)
// from growing memory without end: past it, queries run unprepared.
const maxCachedStatements = 512

// reader is the pool of read-only connections. Its QueryContext and
// QueryRowContext run each query text as a prepared statement, parsed once
// per connection: modernc's driver parses every query afresh otherwise, and
// parsing cost a third of a signed-in portal page. Everything else is the
// embedded *sql.DB's.
type reader struct {
	*sql.DB
	stmts  sync.Map // query text → *sql.Stmt
	cached atomic.Int64
}

// stmt returns the prepared statement for query, preparing it on first use
// (after migrations, so the tables exist), or nil when the cache is full and
// capped is set. Without capped the statement is always cached: only for
// constant query texts.
func (r *reader) stmt(ctx context.Context, query string, capped bool) (*sql.Stmt, error) {
	if s, ok := r.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	if capped && r.cached.Load() >= maxCachedStatements {
		return nil, nil
	}
	s, err := r.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := r.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	r.cached.Add(1)
	return s, nil
}

// QueryContext runs query as a cached prepared statement.
func (r *reader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := r.stmt(ctx, query, true)
	if err != nil || s == nil {
		// Unprepared: a full cache, or an error the plain query reports
		// the same way.
		return r.DB.QueryContext(ctx, query, args...)
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext runs query as a cached prepared statement.
func (r *reader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := r.stmt(ctx, query, true)
	if err != nil || s == nil {
		return r.DB.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// Close closes the cached statements, then the pool.
func (r *reader) Close() error {
	r.stmts.Range(func(_, s any) bool {
		s.(*sql.Stmt).Close()
		return true
	})
	return r.DB.Close()
}
