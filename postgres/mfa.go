package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlcodec"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

const factorCols = `id, workspace_id, user_id, method, secret, phone, active, last_step, created_at, confirmed_at`

// byStrength orders factors strongest first, as gatehouse.Methods does.
const byStrength = `CASE method WHEN 'passkey' THEN 0 WHEN 'totp' THEN 1 WHEN 'sms' THEN 2 ELSE 3 END`

func scanFactor(row pgx.Row, f *mfa.Factor) error {
	if err := row.Scan(&f.ID, &f.WorkspaceID, &f.UserID, &f.Method, &f.Secret, &f.Phone, &f.Active, &f.LastStep,
		&f.CreatedAt, &f.ConfirmedAt); err != nil {
		return err
	}
	f.CreatedAt, f.ConfirmedAt = f.CreatedAt.UTC(), utc(f.ConfirmedAt)
	return nil
}

// FindFactors implements mfa.Store.
func (db *DB) FindFactors(ctx context.Context, workspaceID, userID int64) ([]mfa.Factor, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+factorCols+` FROM factors
		WHERE workspace_id = $1 AND user_id = $2 ORDER BY `+byStrength, workspaceID, userID)
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
	return saveFactor(ctx, db.pool, workspaceID, f)
}

func saveFactor(ctx context.Context, q querier, workspaceID int64, f *mfa.Factor) error {
	err := q.QueryRow(ctx, `
		INSERT INTO factors (workspace_id, user_id, method, secret, phone, active, last_step, created_at, confirmed_at)
		SELECT workspace_id, id, $1::text, $2::bytea, $3::text, $4::boolean, $5::bigint, $6::timestamptz, $7::timestamptz
		FROM users WHERE workspace_id = $8 AND id = $9
		ON CONFLICT (workspace_id, user_id, method) DO UPDATE SET
			secret = excluded.secret, phone = excluded.phone, active = excluded.active, last_step = excluded.last_step,
			created_at = excluded.created_at, confirmed_at = excluded.confirmed_at
		RETURNING id`,
		f.Method, f.Secret, f.Phone, f.Active, f.LastStep, f.CreatedAt, f.ConfirmedAt, workspaceID, f.UserID,
	).Scan(&f.ID)
	if err != nil {
		return fmt.Errorf("save %s factor of user %d: %w", f.Method, f.UserID, translate(err))
	}
	f.WorkspaceID = workspaceID
	return nil
}

// activateFactor marks the pending factor f active. A factor without a secret has a
// NULL one, compared here as the empty string.
func activateFactor(ctx context.Context, q querier, workspaceID int64, f *mfa.Factor, now time.Time) error {
	err := mustAffect(q.Exec(ctx, `
		UPDATE factors SET active = true, confirmed_at = $1
		WHERE workspace_id = $2 AND user_id = $3 AND id = $4 AND phone = $5 AND COALESCE(secret, ''::bytea) = $6::bytea AND NOT active`,
		now, workspaceID, f.UserID, f.ID, f.Phone, append([]byte{}, f.Secret...)))
	if err != nil {
		return fmt.Errorf("activate %s factor %d of user %d: %w", f.Method, f.ID, f.UserID, err)
	}
	return nil
}

// UseTOTPStep implements mfa.Store: the conditional update is what refuses
// a replayed code, even from two instances at once (the second waits for
// the first's row lock, then finds the step no longer later).
func (db *DB) UseTOTPStep(ctx context.Context, workspaceID, userID, step int64) error {
	err := mustAffect(db.pool.Exec(ctx, `
		UPDATE factors SET last_step = $1 WHERE workspace_id = $2 AND user_id = $3 AND method = 'totp' AND last_step < $1`,
		step, workspaceID, userID))
	if err != nil {
		return fmt.Errorf("use TOTP step of user %d: %w", userID, err)
	}
	return nil
}

// ReplaceRecoveryCodes implements mfa.Store. It locks the user's row first,
// so two replacements at once take turns instead of leaving both sets; a
// user not in the workspace is ErrNotFound.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, workspaceID, userID int64, macs [][]byte, now time.Time) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE`,
			workspaceID, userID).Scan(&one); err != nil {
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
// caller's transaction (which holds the user's row lock).
func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, workspaceID, userID int64, macs [][]byte, now time.Time) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO recovery_codes (workspace_id, user_id, code_mac, created_at)
		SELECT $1, $2, mac, $3 FROM unnest($4::bytea[]) AS mac`, workspaceID, userID, now, macs)
	return translate(err)
}

// ConsumeRecoveryCode implements mfa.Store with one conditional update.
func (db *DB) ConsumeRecoveryCode(ctx context.Context, workspaceID, userID int64, mac []byte, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `
		UPDATE recovery_codes SET used_at = $1
		WHERE workspace_id = $2 AND user_id = $3 AND code_mac = $4 AND used_at IS NULL`,
		now, workspaceID, userID, mac))
	if err != nil {
		return fmt.Errorf("use recovery code of user %d: %w", userID, err)
	}
	return nil
}

// IsRecoveryCodeUsed implements mfa.Store.
func (db *DB) IsRecoveryCodeUsed(ctx context.Context, workspaceID, userID int64, mac []byte) (bool, error) {
	var used bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recovery_codes
		WHERE workspace_id = $1 AND user_id = $2 AND code_mac = $3 AND used_at IS NOT NULL)`,
		workspaceID, userID, mac).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("check recovery code of user %d: %w", userID, err)
	}
	return used, nil
}

// CountRecoveryCodes implements mfa.Store.
func (db *DB) CountRecoveryCodes(ctx context.Context, workspaceID, userID int64) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes
		WHERE workspace_id = $1 AND user_id = $2 AND used_at IS NULL`, workspaceID, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes of user %d: %w", userID, err)
	}
	return n, nil
}

// FindSendClock implements mfa.Store.
func (db *DB) FindSendClock(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method) (mfa.SendClock, error) {
	var c mfa.SendClock
	err := db.pool.QueryRow(ctx, `SELECT last_sent_at, window_start, window_count FROM send_clocks
		WHERE workspace_id = $1 AND user_id = $2 AND channel = $3`, workspaceID, userID, channel,
	).Scan(&c.LastSentAt, &c.WindowStart, &c.WindowCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return mfa.SendClock{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("find %s send clock of user %d: %w", channel, userID, err)
	}
	c.LastSentAt, c.WindowStart = c.LastSentAt.UTC(), c.WindowStart.UTC()
	return c, nil
}

// ReopenSendGap implements mfa.Store.
func (db *DB) ReopenSendGap(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method, at time.Time) error {
	return reopenSendGap(ctx, db.pool, workspaceID, userID, channel, at)
}

func reopenSendGap(ctx context.Context, q querier, workspaceID, userID int64, channel gatehouse.Method, at time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE send_clocks SET last_sent_at = $1
		WHERE workspace_id = $2 AND user_id = $3 AND channel = $4 AND last_sent_at > $1`,
		at, workspaceID, userID, channel); err != nil {
		return fmt.Errorf("reopen %s send gap for user %d: %w", channel, userID, err)
	}
	return nil
}

// ChangePhone implements mfa.Store in one transaction under the user's row
// lock, so a removal at the same moment and this see each other's result.
func (db *DB) ChangePhone(ctx context.Context, workspaceID int64, f *mfa.Factor, keepOneOf []gatehouse.Method, gapFrom time.Time) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, workspaceID, f.UserID); err != nil {
			return err
		}
		var wasActive bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM factors
			WHERE workspace_id = $1 AND user_id = $2 AND method = $3 AND active)`,
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

// ReserveSend implements mfa.Store with one upsert whose WHERE decides the
// grant: a new clock is always granted; an existing one only when the gap
// has passed and the window has room or has run out. Concurrent calls
// queue on the clock's row lock and each judges the row the previous one
// left, so at most one of them wins a gap. A refused upsert returns no row.
func (db *DB) ReserveSend(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method, now, gapFloor, windowFloor time.Time, max int) (bool, mfa.SendClock, error) {
	var c mfa.SendClock
	err := db.pool.QueryRow(ctx, `
		INSERT INTO send_clocks (workspace_id, user_id, channel, last_sent_at, window_start, window_count)
		VALUES ($1, $2, $3, $4, $4, 1)
		ON CONFLICT (workspace_id, user_id, channel) DO UPDATE SET
			last_sent_at = excluded.last_sent_at,
			window_start = CASE WHEN send_clocks.window_start <= $6 THEN excluded.window_start ELSE send_clocks.window_start END,
			window_count = CASE WHEN send_clocks.window_start <= $6 THEN 1 ELSE send_clocks.window_count + 1 END
		WHERE send_clocks.last_sent_at <= $5 AND (send_clocks.window_start <= $6 OR send_clocks.window_count < $7)
		RETURNING last_sent_at, window_start, window_count`,
		workspaceID, userID, channel, now, gapFloor, windowFloor, max,
	).Scan(&c.LastSentAt, &c.WindowStart, &c.WindowCount)
	if err == nil {
		c.LastSentAt, c.WindowStart = c.LastSentAt.UTC(), c.WindowStart.UTC()
		return true, c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, c, fmt.Errorf("reserve %s send for user %d: %w", channel, userID, err)
	}
	// Refused: the clock exists and was left alone.
	err = db.pool.QueryRow(ctx, `SELECT last_sent_at, window_start, window_count FROM send_clocks
		WHERE workspace_id = $1 AND user_id = $2 AND channel = $3`, workspaceID, userID, channel,
	).Scan(&c.LastSentAt, &c.WindowStart, &c.WindowCount)
	if err != nil {
		return false, c, fmt.Errorf("reserve %s send for user %d: %w", channel, userID, translate(err))
	}
	c.LastSentAt, c.WindowStart = c.LastSentAt.UTC(), c.WindowStart.UTC()
	return false, c, nil
}

const codeCols = `id, workspace_id, user_id, session_id, channel, code_mac, destination, created_at, expires_at, used_at`

func scanCode(row pgx.Row, c *mfa.Code) error {
	if err := row.Scan(&c.ID, &c.WorkspaceID, &c.UserID, &c.SessionID, &c.Channel, &c.MAC, &c.Destination,
		&c.CreatedAt, &c.ExpiresAt, &c.UsedAt); err != nil {
		return err
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC(), utc(c.UsedAt)
	return nil
}

// CreateCode implements mfa.Store. A user not in the workspace is
// ErrNotFound.
func (db *DB) CreateCode(ctx context.Context, workspaceID int64, c *mfa.Code) error {
	err := db.pool.QueryRow(ctx, `
		INSERT INTO codes (workspace_id, user_id, session_id, channel, code_mac, destination, created_at, expires_at)
		SELECT workspace_id, id, $1::bigint, $2::text, $3::bytea, $4::text, $5::timestamptz, $6::timestamptz
		FROM users WHERE workspace_id = $7 AND id = $8
		RETURNING id`,
		c.SessionID, c.Channel, c.MAC, c.Destination, c.CreatedAt, c.ExpiresAt, workspaceID, c.UserID,
	).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("create %s code for user %d: %w", c.Channel, c.UserID, translate(err))
	}
	c.WorkspaceID = workspaceID
	return nil
}

// ConsumeCode implements mfa.Store with one conditional update, so a code
// works once even when submitted to two instances at once.
func (db *DB) ConsumeCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, mac []byte, now time.Time) (*mfa.Code, error) {
	var c mfa.Code
	row := db.pool.QueryRow(ctx, `UPDATE codes SET used_at = $1
		WHERE workspace_id = $2 AND session_id = $3 AND channel = $4 AND code_mac = $5 AND used_at IS NULL AND expires_at > $1
		RETURNING `+codeCols,
		now, workspaceID, sessionID, channel, mac)
	if err := scanCode(row, &c); err != nil {
		return nil, fmt.Errorf("use %s code of session %d: %w", channel, sessionID, translate(err))
	}
	return &c, nil
}

// VoidCodes implements mfa.Store.
func (db *DB) VoidCodes(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, now time.Time) error {
	if _, err := db.pool.Exec(ctx, `UPDATE codes SET used_at = $1
		WHERE workspace_id = $2 AND session_id = $3 AND channel = $4 AND used_at IS NULL`,
		now, workspaceID, sessionID, channel); err != nil {
		return fmt.Errorf("void %s codes of session %d: %w", channel, sessionID, err)
	}
	return nil
}

// FindLatestCode implements mfa.Store.
func (db *DB) FindLatestCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method) (*mfa.Code, error) {
	var c mfa.Code
	row := db.pool.QueryRow(ctx, `SELECT `+codeCols+` FROM codes
		WHERE workspace_id = $1 AND session_id = $2 AND channel = $3 ORDER BY created_at DESC, id DESC LIMIT 1`,
		workspaceID, sessionID, channel)
	if err := scanCode(row, &c); err != nil {
		return nil, fmt.Errorf("find latest %s code of session %d: %w", channel, sessionID, translate(err))
	}
	return &c, nil
}

const deviceCols = `id, workspace_id, user_id, token_hash, user_agent, created_at, last_used_at, expires_at`

func scanDevice(row pgx.Row, d *mfa.Device) error {
	if err := row.Scan(&d.ID, &d.WorkspaceID, &d.UserID, &d.TokenHash, &d.UserAgent, &d.CreatedAt, &d.LastUsedAt, &d.ExpiresAt); err != nil {
		return err
	}
	d.CreatedAt, d.LastUsedAt, d.ExpiresAt = d.CreatedAt.UTC(), d.LastUsedAt.UTC(), d.ExpiresAt.UTC()
	return nil
}

// CreateDevice implements mfa.Store. It locks the user's row first, so two
// devices trusted at once take turns and the eviction of one sees the other;
// a user not in the workspace is ErrNotFound. The new device always survives
// the eviction, even with an older LastUsedAt than the others: it is the
// browser the user just chose to trust. A max below one keeps only the new
// device.
func (db *DB) CreateDevice(ctx context.Context, workspaceID int64, d *mfa.Device, max int) error {
	keepOthers := 0
	if max > 1 {
		keepOthers = max - 1
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE`,
			workspaceID, d.UserID).Scan(&one); err != nil {
			return translate(err)
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO trusted_devices (workspace_id, user_id, token_hash, user_agent, created_at, last_used_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			workspaceID, d.UserID, d.TokenHash, d.UserAgent, d.CreatedAt, d.LastUsedAt, d.ExpiresAt,
		).Scan(&d.ID)
		if err != nil {
			return translate(err)
		}
		_, err = tx.Exec(ctx, `
			DELETE FROM trusted_devices WHERE workspace_id = $1 AND user_id = $2 AND id <> $3 AND id NOT IN (
				SELECT id FROM trusted_devices WHERE workspace_id = $1 AND user_id = $2 AND id <> $3
				ORDER BY last_used_at DESC, id DESC LIMIT $4)`,
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
	row := db.pool.QueryRow(ctx, `SELECT `+deviceCols+` FROM trusted_devices
		WHERE workspace_id = $1 AND user_id = $2 AND token_hash = $3 AND expires_at > $4`,
		workspaceID, userID, tokenHash, now)
	if err := scanDevice(row, &d); err != nil {
		return nil, fmt.Errorf("find device of user %d: %w", userID, translate(err))
	}
	return &d, nil
}

// TouchDevice implements mfa.Store.
func (db *DB) TouchDevice(ctx context.Context, workspaceID, deviceID int64, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE trusted_devices SET last_used_at = $1 WHERE workspace_id = $2 AND id = $3`,
		now, workspaceID, deviceID))
	if err != nil {
		return fmt.Errorf("touch device %d: %w", deviceID, err)
	}
	return nil
}

// ListDevices implements mfa.Store.
func (db *DB) ListDevices(ctx context.Context, workspaceID, userID int64, now time.Time) ([]mfa.Device, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+deviceCols+` FROM trusted_devices
		WHERE workspace_id = $1 AND user_id = $2 AND expires_at > $3 ORDER BY last_used_at DESC, id DESC`,
		workspaceID, userID, now)
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
	err := mustAffect(db.pool.Exec(ctx, `DELETE FROM trusted_devices WHERE workspace_id = $1 AND user_id = $2 AND id = $3`,
		workspaceID, userID, deviceID))
	if err != nil {
		return fmt.Errorf("delete device %d of user %d: %w", deviceID, userID, err)
	}
	return nil
}

// DeleteDevices implements mfa.Store.
func (db *DB) DeleteDevices(ctx context.Context, workspaceID, userID int64) (int, error) {
	return deleteDevices(ctx, db.pool, workspaceID, userID)
}

func deleteDevices(ctx context.Context, q querier, workspaceID, userID int64) (int, error) {
	tag, err := q.Exec(ctx, `DELETE FROM trusted_devices WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID)
	if err != nil {
		return 0, fmt.Errorf("delete devices of user %d: %w", userID, err)
	}
	return int(tag.RowsAffected()), nil
}

// ListUserMFA implements mfa.Store in one read: each table is grouped by user
// before the join, so factors, codes and devices do not multiply each other's
// counts.
func (db *DB) ListUserMFA(ctx context.Context, workspaceID int64, now time.Time) ([]mfa.UserMFA, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT u.id, coalesce(f.methods, ''), coalesce(r.n, 0), coalesce(d.n, 0)
		FROM users u
		LEFT JOIN (SELECT user_id, string_agg(method, ',') AS methods FROM factors
		           WHERE workspace_id = $1 AND active GROUP BY user_id) f ON f.user_id = u.id
		LEFT JOIN (SELECT user_id, count(*) AS n FROM recovery_codes
		           WHERE workspace_id = $1 AND used_at IS NULL GROUP BY user_id) r ON r.user_id = u.id
		LEFT JOIN (SELECT user_id, count(*) AS n FROM trusted_devices
		           WHERE workspace_id = $1 AND expires_at > $2 GROUP BY user_id) d ON d.user_id = u.id
		WHERE u.workspace_id = $1
		ORDER BY u.id`, workspaceID, now)
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
	rows, err := db.pool.Query(ctx, `SELECT key, failures, last_failure_at FROM throttles
		WHERE workspace_id = $1 AND key LIKE $2 ESCAPE '\'`, workspaceID, sqlcodec.EscapeLike(prefix)+"%")
	if err != nil {
		return nil, fmt.Errorf("list throttles %q: %w", prefix, err)
	}
	defer rows.Close()
	ts := make(map[string]gatehouse.Throttle)
	for rows.Next() {
		var key string
		var t gatehouse.Throttle
		if err := rows.Scan(&key, &t.Failures, &t.LastFailureAt); err != nil {
			return nil, fmt.Errorf("list throttles %q: %w", prefix, err)
		}
		t.LastFailureAt = t.LastFailureAt.UTC()
		ts[key] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list throttles %q: %w", prefix, err)
	}
	return ts, nil
}
