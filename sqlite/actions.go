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

// This file holds the writes that name what they change and the business
// operations that run as one transaction each. The writer's transactions
// are IMMEDIATE (see Open): each holds the write lock from its first
// statement, so two operations on one user take turns.

// SetUserRole implements gatehouse.UserStore.
func (db *DB) SetUserRole(ctx context.Context, workspaceID, userID int64, role gatehouse.Role, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
		role, unix(now), workspaceID, userID))
	if err != nil {
		return fmt.Errorf("set role of user %d: %w", userID, err)
	}
	return nil
}

// SetInviteeRole implements gatehouse.UserStore with one conditional update.
func (db *DB) SetInviteeRole(ctx context.Context, workspaceID, userID int64, role gatehouse.Role, clientID int64, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE users SET role = ?, client_id = coalesce(nullif(?, 0), client_id), updated_at = ?
		WHERE workspace_id = ? AND id = ? AND password_hash = ''
		  AND (? = 0 OR EXISTS (SELECT 1 FROM clients WHERE workspace_id = ? AND id = ?))`,
		role, clientID, unix(now), workspaceID, userID, clientID, workspaceID, clientID))
	if err != nil {
		return fmt.Errorf("set role of invitee %d: %w", userID, err)
	}
	return nil
}

// RehashPassword implements gatehouse.UserStore with one conditional update.
func (db *DB) RehashPassword(ctx context.Context, workspaceID, userID int64, old, new string, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE users SET password_hash = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND password_hash = ?`,
		new, unix(now), workspaceID, userID, old))
	if err != nil {
		return fmt.Errorf("rehash password of user %d: %w", userID, err)
	}
	return nil
}

// SetPassword implements gatehouse.UserStore in one transaction.
func (db *DB) SetPassword(ctx context.Context, workspaceID, userID int64, hash string, keepSession []byte, now time.Time, e *gatehouse.AuditEvent) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := mustAffect(tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
			hash, unix(now), workspaceID, userID)); err != nil {
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
func signOut(ctx context.Context, tx *sql.Tx, workspaceID, userID int64, keepSession []byte, e *gatehouse.AuditEvent) error {
	if _, err := deleteUserSessions(ctx, tx, workspaceID, userID, keepSession); err != nil {
		return err
	}
	if _, err := deleteDevices(ctx, tx, workspaceID, userID); err != nil {
		return err
	}
	return record(ctx, tx, workspaceID, e)
}

// record adds e to the audit log in the caller's transaction; nil is no event.
func record(ctx context.Context, tx *sql.Tx, workspaceID int64, e *gatehouse.AuditEvent) error {
	if e == nil {
		return nil
	}
	return addAuditEvent(ctx, tx, workspaceID, e)
}

// SetUserDisabled implements gatehouse.UserStore in one transaction.
func (db *DB) SetUserDisabled(ctx context.Context, workspaceID, userID int64, disabled bool, now time.Time, e *gatehouse.AuditEvent) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := mustAffect(tx.ExecContext(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
			b2i(disabled), unix(now), workspaceID, userID)); err != nil {
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
// spent by a conditional update, so of two uses exactly one gets further.
func (db *DB) UseLink(ctx context.Context, workspaceID int64, l gatehouse.LinkUse, now time.Time) (*gatehouse.User, error) {
	var u gatehouse.User
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var userID int64
		if err := tx.QueryRowContext(ctx, `UPDATE tokens SET used_at = ?
			WHERE workspace_id = ? AND kind = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id`,
			unix(now), workspaceID, l.Kind, l.Hash, unix(now)).Scan(&userID); err != nil {
			return translate(err)
		}
		cond := ""
		if l.FirstPassword {
			cond = ` AND password_hash = ''`
		}
		row := tx.QueryRowContext(ctx, `UPDATE users SET password_hash = ?, name = coalesce(?, name), email_verified = 1, updated_at = ?
			WHERE workspace_id = ? AND id = ?`+cond+` RETURNING `+userCols,
			l.PasswordHash, l.Name, unix(now), workspaceID, userID)
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

// PromoteSession implements gatehouse.SessionStore in one transaction.
func (db *DB) PromoteSession(ctx context.Context, workspaceID int64, pendingHash []byte, s *gatehouse.Session) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := mustAffect(tx.ExecContext(ctx, `DELETE FROM sessions WHERE workspace_id = ? AND token_hash = ?`,
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

// findUser returns ErrNotFound unless the workspace has the user.
func findUser(ctx context.Context, tx *sql.Tx, workspaceID, userID int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE workspace_id = ? AND id = ?`, workspaceID, userID).Scan(&one)
	return translate(err)
}

// IssueToken implements gatehouse.TokenStore in one transaction.
func (db *DB) IssueToken(ctx context.Context, workspaceID int64, t *gatehouse.Token) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := findUser(ctx, tx, workspaceID, t.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE workspace_id = ? AND user_id = ? AND kind = ?`,
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

// ResetMFA implements mfa.Store in one transaction.
func (db *DB) ResetMFA(ctx context.Context, workspaceID, userID int64, throttleKey string, e *gatehouse.AuditEvent) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := findUser(ctx, tx, workspaceID, userID); err != nil {
			return err
		}
		for _, table := range []string{"factors", "passkeys", "recovery_codes"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE workspace_id = ? AND user_id = ?`, workspaceID, userID); err != nil {
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

// RemoveMethod implements mfa.Store in one transaction. Passkeys keep a
// factor row of their own, so "no active method remains" counts them too.
func (db *DB) RemoveMethod(ctx context.Context, workspaceID, userID int64, m gatehouse.Method, keepOneOf []gatehouse.Method, keepSession []byte, e *gatehouse.AuditEvent) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := mustAffect(tx.ExecContext(ctx, `DELETE FROM factors WHERE workspace_id = ? AND user_id = ? AND method = ?`, workspaceID, userID, m)); err != nil {
			return err
		}
		if err := keepsOne(ctx, tx, workspaceID, userID, keepOneOf); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE workspace_id = ?1 AND user_id = ?2
			AND NOT EXISTS (SELECT 1 FROM factors WHERE workspace_id = ?1 AND user_id = ?2 AND active)`, workspaceID, userID); err != nil {
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
// transaction (IMMEDIATE: a removal made at the same moment has committed
// and is counted, or waits for this one).
func keepsOne(ctx context.Context, tx *sql.Tx, workspaceID, userID int64, keepOneOf []gatehouse.Method) error {
	if len(keepOneOf) == 0 {
		return nil
	}
	q := `SELECT EXISTS (SELECT 1 FROM factors WHERE workspace_id = ? AND user_id = ? AND active AND method IN (?` +
		strings.Repeat(", ?", len(keepOneOf)-1) + `))`
	args := []any{workspaceID, userID}
	for _, m := range keepOneOf {
		args = append(args, string(m))
	}
	var left bool
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&left); err != nil {
		return err
	}
	if !left {
		return mfa.ErrLastMethod
	}
	return nil
}

// AddMethod implements mfa.Store in one transaction.
func (db *DB) AddMethod(ctx context.Context, workspaceID int64, f *mfa.Factor, macs [][]byte, keepSession []byte, now time.Time, e *gatehouse.AuditEvent) (bool, error) {
	issued := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		issued = false
		if f.ID == 0 {
			if err := saveFactor(ctx, tx, workspaceID, f); err != nil {
				return err
			}
		} else if err := activateFactor(ctx, tx, workspaceID, f, now); err != nil {
			return err
		}
		if macs != nil {
			var unused int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE workspace_id = ? AND user_id = ? AND used_at IS NULL`,
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
