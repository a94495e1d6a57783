package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

const passkeyCols = `id, workspace_id, user_id, name, credential_id, public_key, sign_count, backup_eligible, backup_state,
	user_verified, transports, aaguid, attestation_type, created_at, last_used_at`

func scanPasskey(row interface{ Scan(...any) error }, p *mfa.Passkey) error {
	var created int64
	var used sql.NullInt64
	var transports string
	if err := row.Scan(&p.ID, &p.WorkspaceID, &p.UserID, &p.Name, &p.CredentialID, &p.PublicKey, &p.SignCount,
		&p.BackupEligible, &p.BackupState, &p.UserVerified, &transports, &p.AAGUID, &p.AttestationType, &created, &used); err != nil {
		return err
	}
	p.CreatedAt, p.LastUsedAt = fromUnix(created), fromNullUnix(used)
	if transports != "" {
		p.Transports = strings.Split(transports, ",")
	}
	return nil
}

// AddPasskey implements mfa.PasskeyStore. The writer's transaction holds
// the write lock from its first statement, so two adds cannot both pass
// the limit.
func (db *DB) AddPasskey(ctx context.Context, workspaceID int64, p *mfa.Passkey, max int, macs [][]byte, keepSession []byte, e *gatehouse.AuditEvent) (bool, error) {
	issued := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		issued = false
		var n int
		err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM passkeys WHERE workspace_id = ?1 AND user_id = ?2)
			FROM users WHERE workspace_id = ?1 AND id = ?2`, workspaceID, p.UserID).Scan(&n)
		if err != nil {
			return translate(err)
		}
		if n >= max {
			return mfa.ErrPasskeyLimit
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO passkeys (workspace_id, user_id, name, credential_id, public_key, sign_count,
				backup_eligible, backup_state, user_verified, transports, aaguid, attestation_type, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			workspaceID, p.UserID, p.Name, p.CredentialID, p.PublicKey, p.SignCount, b2i(p.BackupEligible), b2i(p.BackupState),
			b2i(p.UserVerified), strings.Join(p.Transports, ","), p.AAGUID, p.AttestationType, unix(p.CreatedAt)).Scan(&p.ID)
		if err != nil {
			return translate(err)
		}
		if _, err = tx.ExecContext(ctx, `INSERT INTO factors (workspace_id, user_id, method, active, created_at, confirmed_at)
			VALUES (?, ?, 'passkey', 1, ?, ?)
			ON CONFLICT (workspace_id, user_id, method) DO UPDATE SET active = 1`,
			workspaceID, p.UserID, unix(p.CreatedAt), unix(p.CreatedAt)); err != nil {
			return err
		}
		if macs != nil {
			var unused int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE workspace_id = ? AND user_id = ? AND used_at IS NULL`,
				workspaceID, p.UserID).Scan(&unused); err != nil {
				return err
			}
			if unused == 0 {
				if err := replaceRecoveryCodes(ctx, tx, workspaceID, p.UserID, macs, p.CreatedAt); err != nil {
					return err
				}
				issued = true
			}
		}
		if _, err := deleteUserSessions(ctx, tx, workspaceID, p.UserID, keepSession); err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		return record(ctx, tx, workspaceID, e)
	})
	if err != nil {
		return false, fmt.Errorf("add passkey of user %d: %w", p.UserID, err)
	}
	p.WorkspaceID = workspaceID
	return issued, nil
}

// ListPasskeys implements mfa.PasskeyStore.
func (db *DB) ListPasskeys(ctx context.Context, workspaceID, userID int64) ([]mfa.Passkey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+passkeyCols+` FROM passkeys
		WHERE workspace_id = ? AND user_id = ? ORDER BY created_at, id`, workspaceID, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys of user %d: %w", userID, err)
	}
	defer rows.Close()
	var ps []mfa.Passkey
	for rows.Next() {
		var p mfa.Passkey
		if err := scanPasskey(rows, &p); err != nil {
			return nil, fmt.Errorf("list passkeys of user %d: %w", userID, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list passkeys of user %d: %w", userID, err)
	}
	return ps, nil
}

// FindPasskey implements mfa.PasskeyStore.
func (db *DB) FindPasskey(ctx context.Context, workspaceID int64, credentialID []byte) (*mfa.Passkey, error) {
	var p mfa.Passkey
	err := scanPasskey(db.read.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys
		WHERE workspace_id = ? AND credential_id = ?`, workspaceID, credentialID), &p)
	if err != nil {
		return nil, fmt.Errorf("find passkey: %w", translate(err))
	}
	return &p, nil
}

// UsePasskey implements mfa.PasskeyStore with one conditional update.
func (db *DB) UsePasskey(ctx context.Context, workspaceID, passkeyID int64, old, count uint32, backupState bool, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, backup_state = ?, last_used_at = ?
		WHERE workspace_id = ? AND id = ? AND sign_count = ?`,
		count, b2i(backupState), unix(now), workspaceID, passkeyID, old))
	if err != nil {
		return fmt.Errorf("use passkey %d: %w", passkeyID, err)
	}
	return nil
}

// DeletePasskey implements mfa.PasskeyStore.
func (db *DB) DeletePasskey(ctx context.Context, workspaceID, userID, passkeyID int64, keepOneOf []gatehouse.Method, keepSession []byte, e *gatehouse.AuditEvent) (int, error) {
	var left int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := mustAffect(tx.ExecContext(ctx, `DELETE FROM passkeys WHERE workspace_id = ? AND user_id = ? AND id = ?`,
			workspaceID, userID, passkeyID)); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE workspace_id = ? AND user_id = ?`,
			workspaceID, userID).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM factors WHERE workspace_id = ? AND user_id = ? AND method = 'passkey'`,
				workspaceID, userID); err != nil {
				return err
			}
			if err := keepsOne(ctx, tx, workspaceID, userID, keepOneOf); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE workspace_id = ?1 AND user_id = ?2
			AND NOT EXISTS (SELECT 1 FROM factors WHERE workspace_id = ?1 AND user_id = ?2 AND active)`, workspaceID, userID); err != nil {
			return err
		}
		if _, err := deleteUserSessions(ctx, tx, workspaceID, userID, keepSession); err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		return record(ctx, tx, workspaceID, e)
	})
	if err != nil {
		return 0, fmt.Errorf("delete passkey %d of user %d: %w", passkeyID, userID, err)
	}
	return left, nil
}

// CreateCeremony implements mfa.PasskeyStore.
func (db *DB) CreateCeremony(ctx context.Context, workspaceID int64, c *mfa.Ceremony) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE workspace_id = ? AND expires_at < ?`,
			workspaceID, unix(c.CreatedAt)); err != nil {
			return err
		}
		return translate(tx.QueryRowContext(ctx, `INSERT INTO passkey_ceremonies
				(workspace_id, token_hash, session_hash, user_id, purpose, data, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			workspaceID, c.TokenHash, nonNil(c.SessionHash), c.UserID, c.Purpose, c.Data, unix(c.CreatedAt), unix(c.ExpiresAt)).Scan(&c.ID))
	})
	if err != nil {
		return fmt.Errorf("create %s ceremony: %w", c.Purpose, err)
	}
	c.WorkspaceID = workspaceID
	return nil
}

// ConsumeCeremony implements mfa.PasskeyStore: one DELETE … RETURNING, so
// a ceremony is finished at most once.
func (db *DB) ConsumeCeremony(ctx context.Context, workspaceID int64, tokenHash []byte, purpose mfa.CeremonyPurpose, sessionHash []byte, now time.Time) (*mfa.Ceremony, error) {
	var c mfa.Ceremony
	var created, expires int64
	err := db.write.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies
		WHERE workspace_id = ? AND token_hash = ? AND purpose = ? AND session_hash = ? AND expires_at > ?
		RETURNING id, workspace_id, token_hash, session_hash, user_id, purpose, data, created_at, expires_at`,
		workspaceID, tokenHash, purpose, nonNil(sessionHash), unix(now)).Scan(&c.ID, &c.WorkspaceID, &c.TokenHash, &c.SessionHash, &c.UserID,
		&c.Purpose, &c.Data, &created, &expires)
	if err != nil {
		return nil, fmt.Errorf("consume %s ceremony: %w", purpose, translate(err))
	}
	c.CreatedAt, c.ExpiresAt = fromUnix(created), fromUnix(expires)
	return &c, nil
}

// nonNil turns a nil slice into an empty one: nil binds as NULL, which
// equals nothing, and a ceremony without a session has an empty hash.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
