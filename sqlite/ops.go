package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// ErrBackupExists reports a backup target that already exists: Backup never
// overwrites a file, which may be an earlier backup.
var ErrBackupExists = errors.New("backup file already exists")

// Backup writes a consistent copy of the database to path with VACUUM INTO,
// while other connections, in this process or another, go on reading and
// writing: the copy is one read transaction's snapshot (WAL mode lets
// writers carry on meanwhile), compacted, with every committed write up to
// that point. The copy is written under a temporary name beside path,
// checked, made readable by its owner only (it holds password hashes and
// sealed secrets) and then moved into place, so path never names a partial
// copy.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrBackupExists, path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".gatehouse-backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	// VACUUM INTO refuses a target that exists; the name was only reserved.
	if err := os.Remove(tmpName); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmpName) // after the rename this removes nothing
	// VACUUM INTO only reads this database, but SQLite refuses it on the
	// query_only readers, so it runs on the writer connection. It holds a
	// read transaction there: writers in other processes (a running
	// server) carry on; writers of this process wait their turn.
	if _, err := db.write.ExecContext(ctx, `VACUUM INTO ?`, tmpName); err != nil {
		return fmt.Errorf("backup: vacuum into %s: %w", tmpName, err)
	}
	if err := os.Chmod(tmpName, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := checkCopy(ctx, tmpName); err != nil {
		return err
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// Link, not rename: a link fails if path appeared meanwhile, so an
	// existing file is never replaced.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrBackupExists, path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	syncFile(dir)
	return nil
}

// checkCopy opens the copy on its own and runs SQLite's quick check.
func checkCopy(ctx context.Context, path string) error {
	c, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("backup: open the copy: %w", err)
	}
	defer c.Close()
	var res string
	if err := c.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return fmt.Errorf("backup: check the copy: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("backup: the copy fails SQLite's check: %s", res)
	}
	return nil
}

// syncFile flushes a file or directory to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
