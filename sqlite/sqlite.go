// Package sqlite is the embedded Gatehouse store: one SQLite file in WAL mode,
// written through a one-connection pool (so writers queue in Go instead of
// failing with SQLITE_BUSY) and read through a separate pool of readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/groupcommit"
	"github.com/gatehouse-dev/gatehouse/internal/sqlcodec"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a Gatehouse store on one SQLite file. It implements gatehouse.Store
// and mfa.Store.
type DB struct {
	write *sql.DB // exactly one connection: SQLite allows one writer at a time
	// read is the pool of readers; it runs every query as a prepared
	// statement cached by its text (see reader).
	read *reader
	// chunks is the pool that reads document contents: readers without
	// the file mapping, so that a download leaves no mapped pages behind in
	// the process's resident memory (a 200 MB download through a mapped
	// reader grew it by 200 MB); SQLite's page cache per connection is
	// bounded.
	chunks *reader
	// chunkConns reads the chunks themselves, through SQLite's C interface.
	chunkConns *chunkConns
	// visits keeps what FindVisit read while the database is unchanged.
	visits *visitWatch
	// audits commits audit events that arrive together in one transaction.
	audits *groupcommit.Group[auditItem]
	// auditStmt is the audit insert, prepared on the writer by the first
	// batch (batches run one at a time).
	auditStmt *sql.Stmt
}

// readStmt returns the prepared reader statement for query, a constant
// text: it is cached whatever the cache's size.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return db.read.stmt(ctx, query, false)
}

var (
	_ gatehouse.Store = (*DB)(nil)
	_ mfa.Store       = (*DB)(nil)
)

// PageSize is the page size, in bytes, of a database Open creates.
const PageSize = 16 << 10

// Open opens (creating if needed) the SQLite database at path. Call Migrate
// before use.
func Open(path string) (*DB, error) {
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		for _, e := range extra {
			q.Add("_pragma", e)
		}
		// The driver runs the _pragma list sorted by name, then this: a
		// new file's page size is set before WAL fixes it.
		q.Set("_journal_mode", "WAL")
		// IMMEDIATE transactions take the write lock up front, so a
		// read-then-write transaction never fails half way with SQLITE_BUSY.
		q.Set("_txlock", "immediate")
		return "file:" + path + "?" + q.Encode()
	}
	// A new database gets pages of PageSize bytes. Each page of a
	// document chunk's overflow chain is one read from the file: with
	// SQLite's default 4 KiB a 16 MB download was 4,096 system calls and
	// half its CPU. Pages of 16 KiB read it with a quarter of them while
	// small rows stay cheap to write (64 KiB pages slowed both: a chunk
	// then straddles two pages, and every commit writes 64 KiB frames).
	// The writer sets it on every connection, so a backup (VACUUM INTO)
	// of an older database comes out with it too.
	write, err := sql.Open("sqlite", dsn(fmt.Sprintf("page_size(%d)", PageSize)))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// The writer creates the file and switches it to WAL before any reader opens.
	if err := write.Ping(); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Readers map the file (up to 256 MiB of it) instead of reading it page
	// by page: a document's chunks span many overflow pages, and a pread
	// per page made downloads wait on system calls.
	read, err := sql.Open("sqlite", dsn("query_only(1)", "mmap_size(268435456)"))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	chunks, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	chunks.SetMaxOpenConns(n)
	chunks.SetMaxIdleConns(n)
	watch, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		write.Close()
		read.Close()
		chunks.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := &DB{write: write, read: &reader{DB: read}, chunks: &reader{DB: chunks}, chunkConns: newChunkConns(path, n),
		visits: newVisitWatch(path, watch)}
	db.audits = &groupcommit.Group[auditItem]{Write: db.writeAudits}
	return db, nil
}

// Migrate applies the embedded migrations that have not run yet.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.auditStmt != nil {
		db.auditStmt.Close()
	}
	db.chunkConns.close()
	return errors.Join(db.visits.close(), db.read.Close(), db.chunks.Close(), db.write.Close())
}

// Times are stored as Unix nanoseconds: exact, sortable and cheap to compare.
func unix(t time.Time) int64 { return t.UnixNano() }

func fromUnix(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullUnix(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromUnix(n.Int64)
	return &t
}

// unixOrNever stores a time that may never have been set (the zero time) as
// 0, which the migrations also give rows that predate the column. The zero
// time has no Unix nanoseconds of its own: it lies before 1678.
func unixOrNever(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixOrNever reverses unixOrNever.
func fromUnixOrNever(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromUnix(n)
}

func nullUnix(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: unix(*t), Valid: true}
}

// hasPrefix returns a condition that the text column col starts with prefix,
// taken literally, and the condition's arguments. SQLite's LIKE ignores the
// case of ASCII letters, so the leading characters are compared exactly too:
// "mfa:" must not match "MFA:…", as it does not on PostgreSQL.
func hasPrefix(col, prefix string) (string, []any) {
	return col + ` LIKE ? ESCAPE '\' AND substr(` + col + `, 1, length(?)) = ?`,
		[]any{sqlcodec.EscapeLike(prefix) + "%", prefix, prefix}
}

// translate maps driver errors onto the domain's sentinels.
func translate(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", gatehouse.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_CHECK:
			return fmt.Errorf("%w: %v", gatehouse.ErrInvalid, err)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.ErrNotFound
	}
	return err
}

// mustAffect returns ErrNotFound unless the statement changed a row.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// querier runs statements on the writer or in one of its transactions.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a transaction on the writer. The writer's transactions are
// IMMEDIATE (see Open), so fn holds the write lock from its first statement.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
