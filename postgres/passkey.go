package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

const passkeyCols = `id, workspace_id, user_id, name, credential_id, public_key, sign_count, backup_eligible, backup_state,
	user_verified, transports, aaguid, attestation_type, created_at, last_used_at`

func scanPasskey(row pgx.Row, p *mfa.Passkey) error {
	var count int64
	var transports string
	if err := row.Scan(&p.ID, &p.WorkspaceID, &p.UserID, &p.Name, &p.CredentialID, &p.PublicKey, &count,
		&p.BackupEligible, &p.BackupState, &p.UserVerified, &transports, &p.AAGUID, &p.AttestationType, &p.CreatedAt, &p.LastUsedAt); err != nil {
		return err
	}
	p.SignCount = uint32(count)
	p.CreatedAt, p.LastUsedAt = p.CreatedAt.UTC(), utc(p.LastUsedAt)
	if transports != "" {
		p.Transports = strings.Split(transports, ",")
	}
	return nil
}

// AddPasskey implements mfa.PasskeyStore. Locking the user's row first
// makes two adds for one user take turns, so both cannot pass the limit.
func (db *DB) AddPasskey(ctx context.Context, workspaceID int64, p *mfa.Passkey, max int, macs [][]byte, keepSession []byte, e *gatehouse.AuditEvent) (bool, error) {
	issued := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		issued = false
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
			workspaceID, p.UserID).Scan(&one); err != nil {
			return translate(err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM passkeys WHERE workspace_id = $1 AND user_id = $2`,
			workspaceID, p.UserID).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return mfa.ErrPasskeyLimit
		}
		err := tx.QueryRow(ctx, `INSERT INTO passkeys (workspace_id, user_id, name, credential_id, public_key, sign_count,
				backup_eligible, backup_state, user_verified, transports, aaguid, attestation_type, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			workspaceID, p.UserID, p.Name, p.CredentialID, p.PublicKey, int64(p.SignCount), p.BackupEligible, p.BackupState,
			p.UserVerified, strings.Join(p.Transports, ","), p.AAGUID, p.AttestationType, p.CreatedAt).Scan(&p.ID)
		if err != nil {
			return translate(err)
		}
		if _, err = tx.Exec(ctx, `INSERT INTO factors (workspace_id, user_id, method, active, created_at, confirmed_at)
			VALUES ($1, $2, 'passkey', true, $3, $3)
			ON CONFLICT (workspace_id, user_id, method) DO UPDATE SET active = true`,
			workspaceID, p.UserID, p.CreatedAt); err != nil {
			return err
		}
		if macs != nil {
			var unused int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE workspace_id = $1 AND user_id = $2 AND used_at IS NULL`,
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
	rows, err := db.pool.Query(ctx, `SELECT `+passkeyCols+` FROM passkeys
		WHERE workspace_id = $1 AND user_id = $2 ORDER BY created_at, id`, workspaceID, userID)
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
	err := scanPasskey(db.pool.QueryRow(ctx, `SELECT `+passkeyCols+` FROM passkeys
		WHERE workspace_id = $1 AND credential_id = $2`, workspaceID, credentialID), &p)
	if err != nil {
		return nil, fmt.Errorf("find passkey: %w", translate(err))
	}
	return &p, nil
}

// UsePasskey implements mfa.PasskeyStore with one conditional update.
func (db *DB) UsePasskey(ctx context.Context, workspaceID, passkeyID int64, old, count uint32, backupState bool, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE passkeys SET sign_count = $1, backup_state = $2, last_used_at = $3
		WHERE workspace_id = $4 AND id = $5 AND sign_count = $6`,
		int64(count), backupState, now, workspaceID, passkeyID, int64(old)))
	if err != nil {
		return fmt.Errorf("use passkey %d: %w", passkeyID, err)
	}
	return nil
}

// DeletePasskey implements mfa.PasskeyStore.
func (db *DB) DeletePasskey(ctx context.Context, workspaceID, userID, passkeyID int64, keepOneOf []gatehouse.Method, keepSession []byte, e *gatehouse.AuditEvent) (int, error) {
	var left int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// The user's row lock orders this against a method added at the
		// same moment, so "no active method remains" is judged on what
		// is committed.
		if err := lockUser(ctx, tx, workspaceID, userID); err != nil {
			return err
		}
		if err := mustAffect(tx.Exec(ctx, `DELETE FROM passkeys WHERE workspace_id = $1 AND user_id = $2 AND id = $3`,
			workspaceID, userID, passkeyID)); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM passkeys WHERE workspace_id = $1 AND user_id = $2`,
			workspaceID, userID).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM factors WHERE workspace_id = $1 AND user_id = $2 AND method = 'passkey'`,
				workspaceID, userID); err != nil {
				return err
			}
			if err := keepsOne(ctx, tx, workspaceID, userID, keepOneOf); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE workspace_id = $1 AND user_id = $2
			AND NOT EXISTS (SELECT 1 FROM factors WHERE workspace_id = $1 AND user_id = $2 AND active)`, workspaceID, userID); err != nil {
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
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM passkey_ceremonies WHERE workspace_id = $1 AND expires_at < $2`,
			workspaceID, c.CreatedAt); err != nil {
			return err
		}
		return translate(tx.QueryRow(ctx, `INSERT INTO passkey_ceremonies
				(workspace_id, token_hash, session_hash, user_id, purpose, data, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			workspaceID, c.TokenHash, nonNil(c.SessionHash), c.UserID, string(c.Purpose), c.Data, c.CreatedAt, c.ExpiresAt).Scan(&c.ID))
	})
	if err != nil {
		return fmt.Errorf("create %s ceremony: %w", c.Purpose, err)
	}
	c.WorkspaceID = workspaceID
	return nil
}

// ConsumeCeremony implements mfa.PasskeyStore: one DELETE … RETURNING, so
// a ceremony is finished at most once, whichever instance finishes it.
func (db *DB) ConsumeCeremony(ctx context.Context, workspaceID int64, tokenHash []byte, purpose mfa.CeremonyPurpose, sessionHash []byte, now time.Time) (*mfa.Ceremony, error) {
	var c mfa.Ceremony
	var p string
	err := db.pool.QueryRow(ctx, `DELETE FROM passkey_ceremonies
		WHERE workspace_id = $1 AND token_hash = $2 AND purpose = $3 AND session_hash = $4 AND expires_at > $5
		RETURNING id, workspace_id, token_hash, session_hash, user_id, purpose, data, created_at, expires_at`,
		workspaceID, tokenHash, string(purpose), nonNil(sessionHash), now).Scan(&c.ID, &c.WorkspaceID, &c.TokenHash, &c.SessionHash, &c.UserID,
		&p, &c.Data, &c.CreatedAt, &c.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("consume %s ceremony: %w", purpose, translate(err))
	}
	c.Purpose = mfa.CeremonyPurpose(p)
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
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
