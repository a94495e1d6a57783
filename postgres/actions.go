package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// This file holds the writes that name what they change and the business
// operations that run as one transaction each. Under READ COMMITTED a
// transaction alone does not make two operations on one user take turns:
// those that read before they write lock the user's row first.

// SetUserRole implements gatehouse.UserStore.
func (db *DB) SetUserRole(ctx context.Context, workspaceID, userID int64, role gatehouse.Role, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE users SET role = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4`,
		role, now, workspaceID, userID))
	if err != nil {
		return fmt.Errorf("set role of user %d: %w", userID, err)
	}
	return nil
}

// SetInviteeRole implements gatehouse.UserStore with one conditional update.
func (db *DB) SetInviteeRole(ctx context.Context, workspaceID, userID int64, role gatehouse.Role, clientID int64, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `
		UPDATE users SET role = $1, client_id = coalesce(nullif($5::bigint, 0), client_id), updated_at = $2
		WHERE workspace_id = $3 AND id = $4 AND password_hash = ''
		  AND ($5 = 0 OR EXISTS (SELECT 1 FROM clients WHERE workspace_id = $3 AND id = $5))`,
		role, now, workspaceID, userID, clientID))
	if err != nil {
		return fmt.Errorf("set role of invitee %d: %w", userID, err)
	}
	return nil
}

// RehashPassword implements gatehouse.UserStore with one conditional update.
func (db *DB) RehashPassword(ctx context.Context, workspaceID, userID int64, old, new string, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `
		UPDATE users SET password_hash = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4 AND password_hash = $5`,
		new, now, workspaceID, userID, old))
	if err != nil {
		return fmt.Errorf("rehash password of user %d: %w", userID, err)
	}
	return nil
}

// SetPassword implements gatehouse.UserStore in one transaction.
func (db *DB) SetPassword(ctx context.Context, workspaceID, userID int64, hash string, keepSession []byte, now time.Time, e *gatehouse.AuditEvent) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := mustAffect(tx.Exec(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4`,
			hash, now, workspaceID, userID)); err != nil {
			return err
		}
		return signOut(ctx, tx, workspaceID, userID, keepSession, e)
	})
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	return nil
}

// signOut ends the user's sessions but keepSession's, forgets their
// trusted devices and records e (when not nil), in the caller's transaction.
func signOut(ctx context.Context, tx pgx.Tx, workspaceID, userID int64, keepSession []byte, e *gatehouse.AuditEvent) error {
	if _, err := deleteUserSessions(ctx, tx, workspaceID, userID, keepSession); err != nil {
		return err
	}
	if _, err := deleteDevices(ctx, tx, workspaceID, userID); err != nil {
		return err
	}
	return record(ctx, tx, workspaceID, e)
}

// record adds e to the audit log in the caller's transaction; nil is no event.
func record(ctx context.Context, tx pgx.Tx, workspaceID int64, e *gatehouse.AuditEvent) error {
	if e == nil {
		return nil
	}
	return addAuditEvent(ctx, tx, workspaceID, e)
}

// SetUserDisabled implements gatehouse.UserStore in one transaction.
func (db *DB) SetUserDisabled(ctx context.Context, workspaceID, userID int64, disabled bool, now time.Time, e *gatehouse.AuditEvent) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := mustAffect(tx.Exec(ctx, `UPDATE users SET disabled = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4`,
			disabled, now, workspaceID, userID)); err != nil {
			return err
		}
		if disabled {
			return signOut(ctx, tx, workspaceID, userID, nil, e)
		}
		return record(ctx, tx, workspaceID, e)
	})
	if err != nil {
		return fmt.Errorf("set user %d disabled %t: %w", userID, disabled, err)
	}
	return nil
}

// UseLink implements gatehouse.UserStore in one transaction: the link is
// spent by a conditional update, so of two uses exactly one gets further
// (the second waits for the first's row lock, then finds the link used).
func (db *DB) UseLink(ctx context.Context, workspaceID int64, l gatehouse.LinkUse, now time.Time) (*gatehouse.User, error) {
	var u gatehouse.User
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var userID int64
		if err := tx.QueryRow(ctx, `UPDATE tokens SET used_at = $1
			WHERE workspace_id = $2 AND kind = $3 AND token_hash = $4 AND used_at IS NULL AND expires_at > $1 RETURNING user_id`,
			now, workspaceID, l.Kind, l.Hash).Scan(&userID); err != nil {
			return translate(err)
		}
		cond := ""
		if l.FirstPassword {
			cond = ` AND password_hash = ''`
		}
		row := tx.QueryRow(ctx, `UPDATE users SET password_hash = $1, name = coalesce($2, name), email_verified = true, updated_at = $3
			WHERE workspace_id = $4 AND id = $5`+cond+` RETURNING `+userCols,
			l.PasswordHash, l.Name, now, workspaceID, userID)
		if err := scanUser(row, &u); err != nil {
			return translate(err)
		}
		if l.ClearThrottle != "" {
			if err := resetThrottle(ctx, tx, workspaceID, l.ClearThrottle); err != nil {
				return err
			}
		}
		if l.Audit != nil {
			l.Audit.TargetID = u.ID
			if l.Audit.ActorID == 0 {
				l.Audit.ActorID = u.ID
			}
		}
		if l.SignOut {
			return signOut(ctx, tx, workspaceID, u.ID, nil, l.Audit)
		}
		return record(ctx, tx, workspaceID, l.Audit)
	})
	if err != nil {
		return nil, fmt.Errorf("use %s link: %w", l.Kind, err)
	}
	return &u, nil
}

// PromoteSession implements gatehouse.SessionStore in one transaction. Of
// two promotions of one session, the second waits for the first's delete,
// then finds nothing to delete.
func (db *DB) PromoteSession(ctx context.Context, workspaceID int64, pendingHash []byte, s *gatehouse.Session) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := mustAffect(tx.Exec(ctx, `DELETE FROM sessions WHERE workspace_id = $1 AND token_hash = $2`,
			workspaceID, pendingHash)); err != nil {
			return err
		}
		return createSession(ctx, tx, workspaceID, s)
	})
	if err != nil {
		return fmt.Errorf("promote session: %w", err)
	}
	return nil
}

// lockUser locks the user's row until the transaction ends, so operations
// on one user take turns; ErrNotFound when there is no such user.
func lockUser(ctx context.Context, tx pgx.Tx, workspaceID, userID int64) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE`, workspaceID, userID).Scan(&one)
	return translate(err)
}

// IssueToken implements gatehouse.TokenStore in one transaction under the
// user's row lock: a second issue waits, then voids the first's token.
func (db *DB) IssueToken(ctx context.Context, workspaceID int64, t *gatehouse.Token) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, workspaceID, t.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tokens WHERE workspace_id = $1 AND user_id = $2 AND kind = $3`,
			workspaceID, t.UserID, t.Kind); err != nil {
			return err
		}
		return createToken(ctx, tx, workspaceID, t)
	})
	if err != nil {
		return fmt.Errorf("issue %s token for user %d: %w", t.Kind, t.UserID, err)
	}
	return nil
}

// ResetMFA implements mfa.Store in one transaction under the user's row
// lock.
func (db *DB) ResetMFA(ctx context.Context, workspaceID, userID int64, throttleKey string, e *gatehouse.AuditEvent) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, workspaceID, userID); err != nil {
			return err
		}
		for _, table := range []string{"factors", "passkeys", "recovery_codes"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID); err != nil {
				return err
			}
		}
		if err := resetThrottle(ctx, tx, workspaceID, throttleKey); err != nil {
			return err
		}
		return signOut(ctx, tx, workspaceID, userID, nil, e)
	})
	if err != nil {
		return fmt.Errorf("reset two-step verification of user %d: %w", userID, err)
	}
	return nil
}

// RemoveMethod implements mfa.Store in one transaction under the user's
// row lock, so two removals at once see each other's result. Passkeys keep a
// factor row of their own, so "no active method remains" counts them too.
func (db *DB) RemoveMethod(ctx context.Context, workspaceID, userID int64, m gatehouse.Method, keepOneOf []gatehouse.Method, keepSession []byte, e *gatehouse.AuditEvent) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, workspaceID, userID); err != nil {
			return err
		}
		if err := mustAffect(tx.Exec(ctx, `DELETE FROM factors WHERE workspace_id = $1 AND user_id = $2 AND method = $3`, workspaceID, userID, m)); err != nil {
			return err
		}
		if err := keepsOne(ctx, tx, workspaceID, userID, keepOneOf); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE workspace_id = $1 AND user_id = $2
			AND NOT EXISTS (SELECT 1 FROM factors WHERE workspace_id = $1 AND user_id = $2 AND active)`, workspaceID, userID); err != nil {
			return err
		}
		if _, err := deleteUserSessions(ctx, tx, workspaceID, userID, keepSession); err != nil {
			return err
		}
		return record(ctx, tx, workspaceID, e)
	})
	if err != nil {
		return fmt.Errorf("remove %s method of user %d: %w", m, userID, err)
	}
	return nil
}

// keepsOne returns mfa.ErrLastMethod when keepOneOf is not empty and the
// user has no active factor of any of its methods left, in the caller's
// transaction (which holds the user's row lock, so a removal made at the
// same moment is either committed and counted or waiting for this one).
func keepsOne(ctx context.Context, tx pgx.Tx, workspaceID, userID int64, keepOneOf []gatehouse.Method) error {
	if len(keepOneOf) == 0 {
		return nil
	}
	ms := make([]string, len(keepOneOf))
	for i, m := range keepOneOf {
		ms[i] = string(m)
	}
	var left bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM factors WHERE workspace_id = $1 AND user_id = $2 AND active AND method = ANY($3))`,
		workspaceID, userID, ms).Scan(&left); err != nil {
		return err
	}
	if !left {
		return mfa.ErrLastMethod
	}
	return nil
}

// AddMethod implements mfa.Store in one transaction under the user's row
// lock, so two methods added at once do not both issue recovery codes.
func (db *DB) AddMethod(ctx context.Context, workspaceID int64, f *mfa.Factor, macs [][]byte, keepSession []byte, now time.Time, e *gatehouse.AuditEvent) (bool, error) {
	issued := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		issued = false
		if err := lockUser(ctx, tx, workspaceID, f.UserID); err != nil {
			return err
		}
		if f.ID == 0 {
			if err := saveFactor(ctx, tx, workspaceID, f); err != nil {
				return err
			}
		} else if err := activateFactor(ctx, tx, workspaceID, f, now); err != nil {
			return err
		}
		if macs != nil {
			var unused int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE workspace_id = $1 AND user_id = $2 AND used_at IS NULL`,
				workspaceID, f.UserID).Scan(&unused); err != nil {
				return err
			}
			if unused == 0 {
				if err := replaceRecoveryCodes(ctx, tx, workspaceID, f.UserID, macs, now); err != nil {
					return err
				}
				issued = true
			}
		}
		if _, err := deleteUserSessions(ctx, tx, workspaceID, f.UserID, keepSession); err != nil {
			return err
		}
		return record(ctx, tx, workspaceID, e)
	})
	if err != nil {
		return false, fmt.Errorf("add %s method of user %d: %w", f.Method, f.UserID, err)
	}
	return issued, nil
}
