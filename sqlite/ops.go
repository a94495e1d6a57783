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

	"github.com/gatehouse-dev/gatehouse"
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

// PageSize returns the database's page size in bytes: PageSize for one
// Open created, SQLite's 4,096 for one created before it (a backup of it
// has PageSize).
func (db *DB) PageSize(ctx context.Context) (int, error) {
	st, err := db.readStmt(ctx, `PRAGMA page_size`)
	if err != nil {
		return 0, err
	}
	var n int
	if err := st.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("page size: %w", err)
	}
	return n, nil
}

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

// sealedColumns says where each kind of sealed value lives: the table, the
// columns of its row ID, workspace and owner, and the sealed column.
var sealedColumns = map[gatehouse.SealedKind]struct{ table, id, ws, owner, col string }{
	gatehouse.SealedTOTPSeed:    {"factors", "id", "workspace_id", "user_id", "secret"},
	gatehouse.SealedTwilioToken: {"workspaces", "id", "id", "0", "twilio_auth_token"},
	gatehouse.SealedDocumentKey: {"documents", "id", "workspace_id", "0", "sealed_key"},
	gatehouse.SealedServerKey:   {"server_keys", "id", "0", "0", "sealed"},
}

// ListSealed implements gatehouse.SealedStore.
func (db *DB) ListSealed(ctx context.Context, kind gatehouse.SealedKind, afterID int64, limit int) ([]gatehouse.SealedValue, error) {
	c, ok := sealedColumns[kind]
	if !ok {
		return nil, fmt.Errorf("list sealed: unknown kind %q", kind)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+c.id+`, `+c.ws+`, `+c.owner+`, `+c.col+` FROM `+c.table+`
		WHERE `+c.id+` > ? AND length(`+c.col+`) > 0 ORDER BY `+c.id+` LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list sealed %s: %w", kind, err)
	}
	defer rows.Close()
	var out []gatehouse.SealedValue
	for rows.Next() {
		var v gatehouse.SealedValue
		if err := rows.Scan(&v.ID, &v.WorkspaceID, &v.OwnerID, &v.Sealed); err != nil {
			return nil, fmt.Errorf("list sealed %s: %w", kind, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sealed %s: %w", kind, err)
	}
	return out, nil
}

// ReplaceSealed implements gatehouse.SealedStore.
func (db *DB) ReplaceSealed(ctx context.Context, kind gatehouse.SealedKind, id int64, prev, next []byte) (bool, error) {
	c, ok := sealedColumns[kind]
	if !ok {
		return false, fmt.Errorf("replace sealed: unknown kind %q", kind)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE `+c.table+` SET `+c.col+` = ? WHERE `+c.id+` = ? AND `+c.col+` = ?`, next, id, prev)
	if err != nil {
		return false, fmt.Errorf("replace sealed %s %d: %w", kind, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("replace sealed %s %d: %w", kind, id, err)
	}
	return n == 1, nil
}

// ServerKey implements gatehouse.SealedStore.
func (db *DB) ServerKey(ctx context.Context, id int64) ([]byte, error) {
	var sealed []byte
	err := db.read.QueryRowContext(ctx, `SELECT sealed FROM server_keys WHERE id = ?`, id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("server key %d: %w", id, gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("server key %d: %w", id, err)
	}
	return sealed, nil
}

// AddServerKey implements gatehouse.SealedStore.
func (db *DB) AddServerKey(ctx context.Context, id int64, sealed []byte) ([]byte, error) {
	var stored []byte
	// The no-op update makes RETURNING give the row that won.
	err := db.write.QueryRowContext(ctx, `INSERT INTO server_keys (id, sealed) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET sealed = server_keys.sealed RETURNING sealed`, id, sealed).Scan(&stored)
	if err != nil {
		return nil, fmt.Errorf("add server key %d: %w", id, err)
	}
	return stored, nil
}
