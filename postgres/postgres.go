// Package postgres is the Gatehouse store for PostgreSQL, for deployments that
// run several Gatehouse processes against one database. Every piece of shared
// state (sessions, single-use tokens, throttles, the outbox) is decided by a
// single statement, so two processes behave as one.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/groupcommit"
	"github.com/gatehouse-dev/gatehouse/internal/visitcache"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a Gatehouse store on a PostgreSQL database. It implements
// gatehouse.Store and mfa.Store.
type DB struct {
	pool *pgxpool.Pool
	// visits keeps what FindVisit read while the listener can tell that
	// nothing it holds changed (see visitcache.go).
	visits *visitcache.Cache
	listen *listener
	// audits commits audit events that arrive together in one transaction.
	audits *groupcommit.Group[auditItem]
}

var (
	_ gatehouse.Store = (*DB)(nil)
	_ mfa.Store       = (*DB)(nil)
)

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string) and checks that it answers. Call Migrate
// before use.
func Open(ctx context.Context, url string) (*DB, error) {
	// pgx redacts the password from its own errors, so they are safe to log.
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	visits := visitcache.New()
	config.ConnConfig.Tracer = newWriteTracer(visits)
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: cannot reach the database: %w", err)
	}
	db := &DB{pool: pool, visits: visits, listen: startListener(visits, &config.ConnConfig.Config)}
	db.audits = &groupcommit.Group[auditItem]{Write: db.writeAudits}
	return db, nil
}

// Migrate applies the embedded migrations that have not run yet. Several
// processes may call it at once: they take turns under an advisory lock.
func (db *DB) Migrate(ctx context.Context) error {
	// goose keeps its version table in the current schema, so the lock is per
	// schema too: processes sharing a schema take turns, while Gatehouse
	// instances in other schemas of the same database (or parallel tests)
	// do not wait on each other.
	var schema *string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("migrate postgres: find current schema: %w", err)
	}
	if schema == nil {
		return errors.New("migrate postgres: no schema on the search_path exists")
	}
	h := fnv.New64a()
	h.Write([]byte("gatehouse migrate " + *schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, 300), // poll every second, give up after 5 minutes
	)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}

	sqlDB := stdlib.OpenDBFromPool(db.pool) // closing it leaves the pool open
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, mustSub(migrations, "migrations"),
		goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// Close stops the listener and closes the connection pool.
func (db *DB) Close() error {
	db.listen.stop()
	db.pool.Close()
	return nil
}

// querier runs statements on the pool or in one of its transactions.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// utc returns t in UTC: pgx hands timestamptz values back in the local zone.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// SQLSTATEs of constraint violations.
const (
	pgUniqueViolation = "23505"
	pgCheckViolation  = "23514"
)

// translate maps driver errors onto the domain's sentinels.
func translate(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return fmt.Errorf("%w: %v", gatehouse.ErrConflict, err)
		case pgCheckViolation:
			return fmt.Errorf("%w: %v", gatehouse.ErrInvalid, err)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return gatehouse.ErrNotFound
	}
	return err
}

// mustAffect returns ErrNotFound unless the statement changed a row.
func mustAffect(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
