package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlcodec"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

const factorCols = `id, workspace_id, user_id, method, secret, phone, active, last_step, created_at, confirmed_at`

// byStrength orders factors strongest first, as gatehouse.Methods does.
const byStrength = `CASE method WHEN 'passkey' THEN 0 WHEN 'totp' THEN 1 WHEN 'sms' THEN 2 ELSE 3 END`

func scanFactor(row interface{ Scan(...any) error }, f *mfa.Factor) error {
	var created int64
	var confirmed sql.NullInt64
	if err := row.Scan(&f.ID, &f.WorkspaceID, &f.UserID, &f.Method, &f.Secret, &f.Phone, &f.Active, &f.LastStep,
		&created, &confirmed); err != nil {
		return err
	}
	f.CreatedAt, f.ConfirmedAt = fromUnix(created), fromNullUnix(confirmed)
	return nil
}

// FindFactors implements mfa.Store.
func (db *DB) FindFactors(ctx context.Context, workspaceID, userID int64) ([]mfa.Factor, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+factorCols+` FROM factors
		WHERE workspace_id = ? AND user_id = ? ORDER BY `+byStrength, workspaceID, userID)
	if err != nil {
		return nil, fmt.Errorf("find factors of user %d: %w", userID, err)
	}
	defer rows.Close()
	var fs []mfa.Factor
	for rows.Next() {
		var f mfa.Factor
		if err := scanFactor(rows, &f); err != nil {
			return nil, fmt.Errorf("find factors of user %d: %w", userID, err)
		}
		fs = append(fs, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find factors of user %d: %w", userID, err)
	}
	return fs, nil
}

// SaveFactor implements mfa.Store with one upsert on the user's method. The
// row comes from the user's own row in the workspace, so a user of another
// workspace is ErrNotFound.
func (db *DB) SaveFactor(ctx context.Context, workspaceID int64, f *mfa.Factor) error {
	return saveFactor(ctx, db.write, workspaceID, f)
}

func saveFactor(ctx context.Context, q querier, workspaceID int64, f *mfa.Factor) error {
	err := q.QueryRowContext(ctx, `
		INSERT INTO factors (workspace_id, user_id, method, secret, phone, active, last_step, created_at, confirmed_at)
		SELECT workspace_id, id, ?, ?, ?, ?, ?, ?, ? FROM users WHERE workspace_id = ? AND id = ?
		ON CONFLICT (workspace_id, user_id, method) DO UPDATE SET
			secret = excluded.secret, phone = excluded.phone, active = excluded.active, last_step = excluded.last_step,
			created_at = excluded.created_at, confirmed_at = excluded.confirmed_at
		RETURNING id`,
		f.Method, f.Secret, f.Phone, b2i(f.Active), f.LastStep, unix(f.CreatedAt), nullUnix(f.ConfirmedAt),
		workspaceID, f.UserID,
	).Scan(&f.ID)
	if err != nil {
		return fmt.Errorf("save %s factor of user %d: %w", f.Method, f.UserID, translate(err))
	}
	f.WorkspaceID = workspaceID
	return nil
}

// activateFactor marks the pending factor f active. A factor without a
// secret has a NULL one, compared here as the empty blob.
func activateFactor(ctx context.Context, q querier, workspaceID int64, f *mfa.Factor, now time.Time) error {
	err := mustAffect(q.ExecContext(ctx, `
		UPDATE factors SET active = 1, confirmed_at = ?
		WHERE workspace_id = ? AND user_id = ? AND id = ? AND phone = ? AND COALESCE(secret, x'') = ? AND active = 0`,
		unix(now), workspaceID, f.UserID, f.ID, f.Phone, append([]byte{}, f.Secret...)))
	if err != nil {
		return fmt.Errorf("activate %s factor %d of user %d: %w", f.Method, f.ID, f.UserID, err)
	}
	return nil
}

// UseTOTPStep implements mfa.Store: the conditional update is what refuses
// a replayed code, even from two requests at once.
func (db *DB) UseTOTPStep(ctx context.Context, workspaceID, userID, step int64) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE factors SET last_step = ? WHERE workspace_id = ? AND user_id = ? AND method = 'totp' AND last_step < ?`,
		step, workspaceID, userID, step))
	if err != nil {
		return fmt.Errorf("use TOTP step of user %d: %w", userID, err)
	}
	return nil
}

// ReplaceRecoveryCodes implements mfa.Store. A user not in the workspace is
// ErrNotFound.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, workspaceID, userID int64, macs [][]byte, now time.Time) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE workspace_id = ? AND id = ?`, workspaceID, userID).Scan(&one); err != nil {
			return translate(err)
		}
		return replaceRecoveryCodes(ctx, tx, workspaceID, userID, macs, now)
	})
	if err != nil {
		return fmt.Errorf("replace recovery codes of user %d: %w", userID, err)
	}
	return nil
}

// replaceRecoveryCodes voids the user's codes and stores macs, in the
// caller's transaction.
func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, workspaceID, userID int64, macs [][]byte, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE workspace_id = ? AND user_id = ?`, workspaceID, userID); err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO recovery_codes (workspace_id, user_id, code_mac, created_at) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, mac := range macs {
		if _, err := stmt.ExecContext(ctx, workspaceID, userID, mac, unix(now)); err != nil {
			return translate(err)
		}
	}
	return nil
}

// ConsumeRecoveryCode implements mfa.Store with one conditional update.
func (db *DB) ConsumeRecoveryCode(ctx context.Context, workspaceID, userID int64, mac []byte, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE recovery_codes SET used_at = ?
		WHERE workspace_id = ? AND user_id = ? AND code_mac = ? AND used_at IS NULL`,
		unix(now), workspaceID, userID, mac))
	if err != nil {
		return fmt.Errorf("use recovery code of user %d: %w", userID, err)
	}
	return nil
}

// IsRecoveryCodeUsed implements mfa.Store.
func (db *DB) IsRecoveryCodeUsed(ctx context.Context, workspaceID, userID int64, mac []byte) (bool, error) {
	var used bool
	err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM recovery_codes
		WHERE workspace_id = ? AND user_id = ? AND code_mac = ? AND used_at IS NOT NULL)`,
		workspaceID, userID, mac).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("check recovery code of user %d: %w", userID, err)
	}
	return used, nil
}

// CountRecoveryCodes implements mfa.Store.
func (db *DB) CountRecoveryCodes(ctx context.Context, workspaceID, userID int64) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes
		WHERE workspace_id = ? AND user_id = ? AND used_at IS NULL`, workspaceID, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes of user %d: %w", userID, err)
	}
	return n, nil
}

// ReserveSend implements mfa.Store with one upsert whose WHERE decides the
// grant: a new clock is always granted; an existing one only when the gap
// has passed and the window has room or has run out. A refused upsert
// returns no row.
func (db *DB) ReserveSend(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method, now, gapFloor, windowFloor time.Time, max int) (bool, mfa.SendClock, error) {
	var last, start int64
	var c mfa.SendClock
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO send_clocks (workspace_id, user_id, channel, last_sent_at, window_start, window_count)
		VALUES (?1, ?2, ?3, ?4, ?4, 1)
		ON CONFLICT (workspace_id, user_id, channel) DO UPDATE SET
			last_sent_at = excluded.last_sent_at,
			window_start = CASE WHEN send_clocks.window_start <= ?6 THEN excluded.window_start ELSE send_clocks.window_start END,
			window_count = CASE WHEN send_clocks.window_start <= ?6 THEN 1 ELSE send_clocks.window_count + 1 END
		WHERE send_clocks.last_sent_at <= ?5 AND (send_clocks.window_start <= ?6 OR send_clocks.window_count < ?7)
		RETURNING last_sent_at, window_start, window_count`,
		workspaceID, userID, channel, unix(now), unix(gapFloor), unix(windowFloor), max,
	).Scan(&last, &start, &c.WindowCount)
	if err == nil {
		c.LastSentAt, c.WindowStart = fromUnix(last), fromUnix(start)
		return true, c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, c, fmt.Errorf("reserve %s send for user %d: %w", channel, userID, err)
	}
	// Refused: the clock exists and was left alone. Read it on the writer,
	// which has just seen it.
	err = db.write.QueryRowContext(ctx, `SELECT last_sent_at, window_start, window_count FROM send_clocks
		WHERE workspace_id = ? AND user_id = ? AND channel = ?`, workspaceID, userID, channel).Scan(&last, &start, &c.WindowCount)
	if err != nil {
		return false, c, fmt.Errorf("reserve %s send for user %d: %w", channel, userID, translate(err))
	}
	c.LastSentAt, c.WindowStart = fromUnix(last), fromUnix(start)
	return false, c, nil
}

// FindSendClock implements mfa.Store.
func (db *DB) FindSendClock(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method) (mfa.SendClock, error) {
	var last, start int64
	var c mfa.SendClock
	err := db.read.QueryRowContext(ctx, `SELECT last_sent_at, window_start, window_count FROM send_clocks
		WHERE workspace_id = ? AND user_id = ? AND channel = ?`, workspaceID, userID, channel).Scan(&last, &start, &c.WindowCount)
	if errors.Is(err, sql.ErrNoRows) {
		return mfa.SendClock{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("find %s send clock of user %d: %w", channel, userID, err)
	}
	c.LastSentAt, c.WindowStart = fromUnix(last), fromUnix(start)
	return c, nil
}

// ReopenSendGap implements mfa.Store.
func (db *DB) ReopenSendGap(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method, at time.Time) error {
	return reopenSendGap(ctx, db.write, workspaceID, userID, channel, at)
}

func reopenSendGap(ctx context.Context, q querier, workspaceID, userID int64, channel gatehouse.Method, at time.Time) error {
	if _, err := q.ExecContext(ctx, `UPDATE send_clocks SET last_sent_at = ?
		WHERE workspace_id = ? AND user_id = ? AND channel = ? AND last_sent_at > ?`,
		unix(at), workspaceID, userID, channel, unix(at)); err != nil {
		return fmt.Errorf("reopen %s send gap for user %d: %w", channel, userID, err)
	}
	return nil
}

// ChangePhone implements mfa.Store in one (IMMEDIATE) transaction.
func (db *DB) ChangePhone(ctx context.Context, workspaceID int64, f *mfa.Factor, keepOneOf []gatehouse.Method, gapFrom time.Time) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var wasActive bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM factors
			WHERE workspace_id = ? AND user_id = ? AND method = ? AND active)`,
			workspaceID, f.UserID, gatehouse.MethodSMS).Scan(&wasActive); err != nil {
			return err
		}
		if err := saveFactor(ctx, tx, workspaceID, f); err != nil {
			return err
		}
		if wasActive {
			if err := keepsOne(ctx, tx, workspaceID, f.UserID, keepOneOf); err != nil {
				return err
			}
		}
		return reopenSendGap(ctx, tx, workspaceID, f.UserID, gatehouse.MethodSMS, gapFrom)
	})
	if err != nil {
		return fmt.Errorf("change the phone of user %d: %w", f.UserID, err)
	}
	return nil
}

const codeCols = `id, workspace_id, user_id, session_id, channel, code_mac, destination, created_at, expires_at, used_at`

func scanCode(row interface{ Scan(...any) error }, c *mfa.Code) error {
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&c.ID, &c.WorkspaceID, &c.UserID, &c.SessionID, &c.Channel, &c.MAC, &c.Destination,
		&created, &expires, &used); err != nil {
		return err
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromUnix(created), fromUnix(expires), fromNullUnix(used)
	return nil
}

// CreateCode implements mfa.Store. A user not in the workspace is
// ErrNotFound.
func (db *DB) CreateCode(ctx context.Context, workspaceID int64, c *mfa.Code) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO codes (workspace_id, user_id, session_id, channel, code_mac, destination, created_at, expires_at)
		SELECT workspace_id, id, ?, ?, ?, ?, ?, ? FROM users WHERE workspace_id = ? AND id = ?
		RETURNING id`,
		c.SessionID, c.Channel, c.MAC, c.Destination, unix(c.CreatedAt), unix(c.ExpiresAt), workspaceID, c.UserID,
	).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("create %s code for user %d: %w", c.Channel, c.UserID, translate(err))
	}
	c.WorkspaceID = workspaceID
	return nil
}

// ConsumeCode implements mfa.Store with one conditional update, so a code
// works once even when submitted twice at once.
func (db *DB) ConsumeCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, mac []byte, now time.Time) (*mfa.Code, error) {
	var c mfa.Code
	row := db.write.QueryRowContext(ctx, `UPDATE codes SET used_at = ?
		WHERE workspace_id = ? AND session_id = ? AND channel = ? AND code_mac = ? AND used_at IS NULL AND expires_at > ?
		RETURNING `+codeCols,
		unix(now), workspaceID, sessionID, channel, mac, unix(now))
	if err := scanCode(row, &c); err != nil {
		return nil, fmt.Errorf("use %s code of session %d: %w", channel, sessionID, translate(err))
	}
	return &c, nil
}

// VoidCodes implements mfa.Store.
func (db *DB) VoidCodes(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, now time.Time) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE codes SET used_at = ?
		WHERE workspace_id = ? AND session_id = ? AND channel = ? AND used_at IS NULL`,
		unix(now), workspaceID, sessionID, channel); err != nil {
		return fmt.Errorf("void %s codes of session %d: %w", channel, sessionID, err)
	}
	return nil
}

// FindLatestCode implements mfa.Store.
func (db *DB) FindLatestCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method) (*mfa.Code, error) {
	var c mfa.Code
	row := db.read.QueryRowContext(ctx, `SELECT `+codeCols+` FROM codes
		WHERE workspace_id = ? AND session_id = ? AND channel = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
		workspaceID, sessionID, channel)
	if err := scanCode(row, &c); err != nil {
		return nil, fmt.Errorf("find latest %s code of session %d: %w", channel, sessionID, translate(err))
	}
	return &c, nil
}

const deviceCols = `id, workspace_id, user_id, token_hash, user_agent, created_at, last_used_at, expires_at`

func scanDevice(row interface{ Scan(...any) error }, d *mfa.Device) error {
	var created, used, expires int64
	if err := row.Scan(&d.ID, &d.WorkspaceID, &d.UserID, &d.TokenHash, &d.UserAgent, &created, &used, &expires); err != nil {
		return err
	}
	d.CreatedAt, d.LastUsedAt, d.ExpiresAt = fromUnix(created), fromUnix(used), fromUnix(expires)
	return nil
}

// CreateDevice implements mfa.Store. The row comes from the user's own row in
// the workspace, so a user of another workspace is ErrNotFound. The new
// device always survives the eviction, even with an older LastUsedAt than
// the others: it is the browser the user just chose to trust. A max below one
// keeps only the new device.
func (db *DB) CreateDevice(ctx context.Context, workspaceID int64, d *mfa.Device, max int) error {
	keepOthers := 0
	if max > 1 {
		keepOthers = max - 1
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `
			INSERT INTO trusted_devices (workspace_id, user_id, token_hash, user_agent, created_at, last_used_at, expires_at)
			SELECT workspace_id, id, ?, ?, ?, ?, ? FROM users WHERE workspace_id = ? AND id = ?
			RETURNING id`,
			d.TokenHash, d.UserAgent, unix(d.CreatedAt), unix(d.LastUsedAt), unix(d.ExpiresAt), workspaceID, d.UserID,
		).Scan(&d.ID)
		if err != nil {
			return translate(err)
		}
		_, err = tx.ExecContext(ctx, `
			DELETE FROM trusted_devices WHERE workspace_id = ?1 AND user_id = ?2 AND id <> ?3 AND id NOT IN (
				SELECT id FROM trusted_devices WHERE workspace_id = ?1 AND user_id = ?2 AND id <> ?3
				ORDER BY last_used_at DESC, id DESC LIMIT ?4)`,
			workspaceID, d.UserID, d.ID, keepOthers)
		return err
	})
	if err != nil {
		return fmt.Errorf("create device for user %d: %w", d.UserID, err)
	}
	d.WorkspaceID = workspaceID
	return nil
}

// FindDevice implements mfa.Store.
func (db *DB) FindDevice(ctx context.Context, workspaceID, userID int64, tokenHash []byte, now time.Time) (*mfa.Device, error) {
	var d mfa.Device
	row := db.read.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM trusted_devices
		WHERE workspace_id = ? AND user_id = ? AND token_hash = ? AND expires_at > ?`,
		workspaceID, userID, tokenHash, unix(now))
	if err := scanDevice(row, &d); err != nil {
		return nil, fmt.Errorf("find device of user %d: %w", userID, translate(err))
	}
	return &d, nil
}

// TouchDevice implements mfa.Store.
func (db *DB) TouchDevice(ctx context.Context, workspaceID, deviceID int64, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `UPDATE trusted_devices SET last_used_at = ? WHERE workspace_id = ? AND id = ?`,
		unix(now), workspaceID, deviceID))
	if err != nil {
		return fmt.Errorf("touch device %d: %w", deviceID, err)
	}
	return nil
}

// ListDevices implements mfa.Store.
func (db *DB) ListDevices(ctx context.Context, workspaceID, userID int64, now time.Time) ([]mfa.Device, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+deviceCols+` FROM trusted_devices
		WHERE workspace_id = ? AND user_id = ? AND expires_at > ? ORDER BY last_used_at DESC, id DESC`,
		workspaceID, userID, unix(now))
	if err != nil {
		return nil, fmt.Errorf("list devices of user %d: %w", userID, err)
	}
	defer rows.Close()
	var ds []mfa.Device
	for rows.Next() {
		var d mfa.Device
		if err := scanDevice(rows, &d); err != nil {
			return nil, fmt.Errorf("list devices of user %d: %w", userID, err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices of user %d: %w", userID, err)
	}
	return ds, nil
}

// DeleteDevice implements mfa.Store.
func (db *DB) DeleteDevice(ctx context.Context, workspaceID, userID, deviceID int64) error {
	err := mustAffect(db.write.ExecContext(ctx, `DELETE FROM trusted_devices WHERE workspace_id = ? AND user_id = ? AND id = ?`,
		workspaceID, userID, deviceID))
	if err != nil {
		return fmt.Errorf("delete device %d of user %d: %w", deviceID, userID, err)
	}
	return nil
}

// DeleteDevices implements mfa.Store.
func (db *DB) DeleteDevices(ctx context.Context, workspaceID, userID int64) (int, error) {
	return deleteDevices(ctx, db.write, workspaceID, userID)
}

func deleteDevices(ctx context.Context, q querier, workspaceID, userID int64) (int, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM trusted_devices WHERE workspace_id = ? AND user_id = ?`, workspaceID, userID)
	if err != nil {
		return 0, fmt.Errorf("delete devices of user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete devices of user %d: %w", userID, err)
	}
	return int(n), nil
}

// ListUserMFA implements mfa.Store in one read: each table is grouped by user
// before the join, so factors, codes and devices do not multiply each other's
// counts.
func (db *DB) ListUserMFA(ctx context.Context, workspaceID int64, now time.Time) ([]mfa.UserMFA, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT u.id, coalesce(f.methods, ''), coalesce(r.n, 0), coalesce(d.n, 0)
		FROM users u
		LEFT JOIN (SELECT user_id, group_concat(method) AS methods FROM factors
		           WHERE workspace_id = ?1 AND active GROUP BY user_id) f ON f.user_id = u.id
		LEFT JOIN (SELECT user_id, count(*) AS n FROM recovery_codes
		           WHERE workspace_id = ?1 AND used_at IS NULL GROUP BY user_id) r ON r.user_id = u.id
		LEFT JOIN (SELECT user_id, count(*) AS n FROM trusted_devices
		           WHERE workspace_id = ?1 AND expires_at > ?2 GROUP BY user_id) d ON d.user_id = u.id
		WHERE u.workspace_id = ?1
		ORDER BY u.id`, workspaceID, unix(now))
	if err != nil {
		return nil, fmt.Errorf("list users' 2FA: %w", err)
	}
	defer rows.Close()
	var out []mfa.UserMFA
	for rows.Next() {
		var m mfa.UserMFA
		var methods string
		if err := rows.Scan(&m.UserID, &methods, &m.RecoveryLeft, &m.Devices); err != nil {
			return nil, fmt.Errorf("list users' 2FA: %w", err)
		}
		m.Methods = gatehouse.SortMethods(sqlcodec.SplitMethods(methods))
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users' 2FA: %w", err)
	}
	return out, nil
}

// ListThrottles implements mfa.Store.
func (db *DB) ListThrottles(ctx context.Context, workspaceID int64, prefix string) (map[string]gatehouse.Throttle, error) {
	cond, args := hasPrefix("key", prefix)
	rows, err := db.read.QueryContext(ctx, `SELECT key, failures, last_failure_at FROM throttles
		WHERE workspace_id = ? AND `+cond, append([]any{workspaceID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list throttles %q: %w", prefix, err)
	}
	defer rows.Close()
	ts := make(map[string]gatehouse.Throttle)
	for rows.Next() {
		var key string
		var t gatehouse.Throttle
		var last int64
		if err := rows.Scan(&key, &t.Failures, &last); err != nil {
			return nil, fmt.Errorf("list throttles %q: %w", prefix, err)
		}
		t.LastFailureAt = fromUnix(last)
		ts[key] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list throttles %q: %w", prefix, err)
	}
	return ts, nil
}
