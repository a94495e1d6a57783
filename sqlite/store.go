package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

const workspaceCols = `id, slug, name, plan, signup_enabled, remember_me_enabled, created_at, updated_at`

func scanWorkspace(row interface{ Scan(...any) error }, w *gatehouse.Workspace) error {
	var created, updated int64
	if err := row.Scan(&w.ID, &w.Slug, &w.Name, &w.Plan, &w.SignupEnabled, &w.RememberMeEnabled, &created, &updated); err != nil {
		return err
	}
	w.CreatedAt, w.UpdatedAt = fromUnix(created), fromUnix(updated)
	return nil
}

// CreateWorkspace implements gatehouse.WorkspaceStore.
func (db *DB) CreateWorkspace(ctx context.Context, w *gatehouse.Workspace) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO workspaces (slug, name, plan, signup_enabled, remember_me_enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		w.Slug, w.Name, w.Plan, b2i(w.SignupEnabled), b2i(w.RememberMeEnabled), unix(w.CreatedAt), unix(w.UpdatedAt),
	).Scan(&w.ID)
	if err != nil {
		return fmt.Errorf("create workspace %q: %w", w.Slug, translate(err))
	}
	return nil
}

// FindWorkspaceByID implements gatehouse.WorkspaceStore.
func (db *DB) FindWorkspaceByID(ctx context.Context, id int64) (*gatehouse.Workspace, error) {
	var w gatehouse.Workspace
	row := db.read.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE id = ?`, id)
	if err := scanWorkspace(row, &w); err != nil {
		return nil, fmt.Errorf("find workspace %d: %w", id, translate(err))
	}
	return &w, nil
}

// FindWorkspaceBySlug implements gatehouse.WorkspaceStore.
func (db *DB) FindWorkspaceBySlug(ctx context.Context, slug string) (*gatehouse.Workspace, error) {
	var w gatehouse.Workspace
	row := db.read.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE slug = ?`, slug)
	if err := scanWorkspace(row, &w); err != nil {
		return nil, fmt.Errorf("find workspace %q: %w", slug, translate(err))
	}
	return &w, nil
}

// UpdateWorkspace implements gatehouse.WorkspaceStore.
func (db *DB) UpdateWorkspace(ctx context.Context, w *gatehouse.Workspace) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE workspaces SET name = ?, plan = ?, signup_enabled = ?, remember_me_enabled = ?, updated_at = ?
		WHERE id = ?`,
		w.Name, w.Plan, b2i(w.SignupEnabled), b2i(w.RememberMeEnabled), unix(w.UpdatedAt), w.ID))
	if err != nil {
		return fmt.Errorf("update workspace %d: %w", w.ID, err)
	}
	return nil
}

// CountWorkspaces implements gatehouse.WorkspaceStore.
func (db *DB) CountWorkspaces(ctx context.Context) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM workspaces`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count workspaces: %w", err)
	}
	return n, nil
}

const userCols = `id, workspace_id, email, name, role, password_hash, disabled, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }, u *gatehouse.User) error {
	var created, updated int64
	if err := row.Scan(&u.ID, &u.WorkspaceID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &created, &updated); err != nil {
		return err
	}
	u.CreatedAt, u.UpdatedAt = fromUnix(created), fromUnix(updated)
	return nil
}

// CreateUser implements gatehouse.UserStore.
func (db *DB) CreateUser(ctx context.Context, workspaceID int64, u *gatehouse.User) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO users (workspace_id, email, name, role, password_hash, disabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		workspaceID, u.Email, u.Name, u.Role, u.PasswordHash, b2i(u.Disabled), unix(u.CreatedAt), unix(u.UpdatedAt),
	).Scan(&u.ID)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Email, translate(err))
	}
	u.WorkspaceID = workspaceID
	return nil
}

// FindUserByID implements gatehouse.UserStore.
func (db *DB) FindUserByID(ctx context.Context, workspaceID, id int64) (*gatehouse.User, error) {
	var u gatehouse.User
	row := db.read.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = ? AND id = ?`, workspaceID, id)
	if err := scanUser(row, &u); err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, translate(err))
	}
	return &u, nil
}

// FindUserByEmail implements gatehouse.UserStore.
func (db *DB) FindUserByEmail(ctx context.Context, workspaceID int64, email string) (*gatehouse.User, error) {
	var u gatehouse.User
	row := db.read.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = ? AND email = ?`, workspaceID, email)
	if err := scanUser(row, &u); err != nil {
		return nil, fmt.Errorf("find user by email: %w", translate(err))
	}
	return &u, nil
}

// ListUsers implements gatehouse.UserStore.
func (db *DB) ListUsers(ctx context.Context, workspaceID int64) ([]gatehouse.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = ? ORDER BY id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []gatehouse.User
	for rows.Next() {
		var u gatehouse.User
		if err := scanUser(rows, &u); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UpdateUser implements gatehouse.UserStore.
func (db *DB) UpdateUser(ctx context.Context, workspaceID int64, u *gatehouse.User) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE users SET name = ?, role = ?, password_hash = ?, disabled = ?, updated_at = ?
		WHERE workspace_id = ? AND id = ?`,
		u.Name, u.Role, u.PasswordHash, b2i(u.Disabled), unix(u.UpdatedAt), workspaceID, u.ID))
	if err != nil {
		return fmt.Errorf("update user %d: %w", u.ID, err)
	}
	return nil
}

// CreateSession implements gatehouse.SessionStore.
func (db *DB) CreateSession(ctx context.Context, workspaceID int64, s *gatehouse.Session) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO sessions (workspace_id, user_id, token_hash, remember, created_at, last_seen_at, expires_at, idle_seconds, user_agent, ip)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		workspaceID, s.UserID, s.TokenHash, b2i(s.Remember), unix(s.CreatedAt), unix(s.LastSeenAt), unix(s.ExpiresAt),
		int64(s.IdleTimeout/time.Second), s.UserAgent, s.IP,
	).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	s.WorkspaceID = workspaceID
	return nil
}

// FindVisit implements gatehouse.SessionStore: one read by the unique token
// hash index, with the user and workspace joined in.
func (db *DB) FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error) {
	var (
		v                            gatehouse.Visit
		s                            = &v.Session
		sCreated, sSeen, sExp, sIdle int64
		uCreated, uUpdated           int64
		wCreated, wUpdated           int64
	)
	err := db.read.QueryRowContext(ctx, `
		SELECT s.id, s.workspace_id, s.user_id, s.token_hash, s.remember, s.created_at, s.last_seen_at, s.expires_at,
		       s.idle_seconds, s.user_agent, s.ip,
		       u.id, u.workspace_id, u.email, u.name, u.role, u.password_hash, u.disabled, u.created_at, u.updated_at,
		       w.id, w.slug, w.name, w.plan, w.signup_enabled, w.remember_me_enabled, w.created_at, w.updated_at
		FROM sessions s
		JOIN users u ON u.id = s.user_id AND u.workspace_id = s.workspace_id
		JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.token_hash = ? AND s.workspace_id = ?`, tokenHash, workspaceID,
	).Scan(&s.ID, &s.WorkspaceID, &s.UserID, &s.TokenHash, &s.Remember, &sCreated, &sSeen, &sExp,
		&sIdle, &s.UserAgent, &s.IP,
		&v.User.ID, &v.User.WorkspaceID, &v.User.Email, &v.User.Name, &v.User.Role, &v.User.PasswordHash, &v.User.Disabled, &uCreated, &uUpdated,
		&v.Workspace.ID, &v.Workspace.Slug, &v.Workspace.Name, &v.Workspace.Plan, &v.Workspace.SignupEnabled, &v.Workspace.RememberMeEnabled, &wCreated, &wUpdated)
	if err != nil {
		return nil, fmt.Errorf("find session: %w", translate(err))
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromUnix(sCreated), fromUnix(sSeen), fromUnix(sExp)
	s.IdleTimeout = time.Duration(sIdle) * time.Second
	v.User.CreatedAt, v.User.UpdatedAt = fromUnix(uCreated), fromUnix(uUpdated)
	v.Workspace.CreatedAt, v.Workspace.UpdatedAt = fromUnix(wCreated), fromUnix(wUpdated)
	return &v, nil
}

// TouchSession implements gatehouse.SessionStore.
func (db *DB) TouchSession(ctx context.Context, workspaceID, sessionID int64, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE workspace_id = ? AND id = ?`,
		unix(now), workspaceID, sessionID))
	if err != nil {
		return fmt.Errorf("touch session %d: %w", sessionID, err)
	}
	return nil
}

// DeleteSession implements gatehouse.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, workspaceID int64, tokenHash []byte) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE workspace_id = ? AND token_hash = ?`, workspaceID, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements gatehouse.SessionStore.
func (db *DB) DeleteUserSessions(ctx context.Context, workspaceID, userID int64, exceptHash []byte) (int, error) {
	res, err := db.write.ExecContext(ctx, `
		DELETE FROM sessions WHERE workspace_id = ? AND user_id = ? AND (? IS NULL OR token_hash <> ?)`,
		workspaceID, userID, exceptHash, exceptHash)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DeleteExpiredSessions implements gatehouse.SessionStore.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, unix(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// CreateToken implements gatehouse.TokenStore.
func (db *DB) CreateToken(ctx context.Context, workspaceID int64, t *gatehouse.Token) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO tokens (workspace_id, user_id, kind, token_hash, payload, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		workspaceID, t.UserID, t.Kind, t.Hash, t.Payload, unix(t.CreatedAt), unix(t.ExpiresAt),
	).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("create %s token: %w", t.Kind, translate(err))
	}
	t.WorkspaceID = workspaceID
	return nil
}

func scanToken(row interface{ Scan(...any) error }, t *gatehouse.Token) error {
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.UserID, &t.Kind, &t.Hash, &t.Payload, &created, &expires, &used); err != nil {
		return err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromUnix(created), fromUnix(expires), fromNullUnix(used)
	return nil
}

const tokenCols = `id, workspace_id, user_id, kind, token_hash, payload, created_at, expires_at, used_at`

// FindToken implements gatehouse.TokenStore.
func (db *DB) FindToken(ctx context.Context, workspaceID int64, kind gatehouse.TokenKind, hash []byte, now time.Time) (*gatehouse.Token, error) {
	var t gatehouse.Token
	row := db.read.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens
		WHERE workspace_id = ? AND kind = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?`,
		workspaceID, kind, hash, unix(now))
	if err := scanToken(row, &t); err != nil {
		return nil, fmt.Errorf("find %s token: %w", kind, translate(err))
	}
	return &t, nil
}

// ConsumeToken implements gatehouse.TokenStore with one conditional update,
// so two simultaneous uses of one link cannot both succeed.
func (db *DB) ConsumeToken(ctx context.Context, workspaceID int64, kind gatehouse.TokenKind, hash []byte, now time.Time) (*gatehouse.Token, error) {
	var t gatehouse.Token
	row := db.write.QueryRowContext(ctx, `UPDATE tokens SET used_at = ?
		WHERE workspace_id = ? AND kind = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?
		RETURNING `+tokenCols,
		unix(now), workspaceID, kind, hash, unix(now))
	if err := scanToken(row, &t); err != nil {
		return nil, fmt.Errorf("use %s token: %w", kind, translate(err))
	}
	return &t, nil
}

// DeleteUserTokens implements gatehouse.TokenStore.
func (db *DB) DeleteUserTokens(ctx context.Context, workspaceID, userID int64, kind gatehouse.TokenKind) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM tokens WHERE workspace_id = ? AND user_id = ? AND kind = ?`,
		workspaceID, userID, kind); err != nil {
		return fmt.Errorf("delete %s tokens of user %d: %w", kind, userID, err)
	}
	return nil
}

// AddFailure implements gatehouse.ThrottleStore with one upsert, so
// concurrent failures are all counted.
func (db *DB) AddFailure(ctx context.Context, workspaceID int64, key string, now, forgetBefore time.Time) (gatehouse.Throttle, error) {
	var t gatehouse.Throttle
	var last int64
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO throttles (workspace_id, key, failures, last_failure_at) VALUES (?, ?, 1, ?)
		ON CONFLICT (workspace_id, key) DO UPDATE SET
			failures = CASE WHEN last_failure_at < ? THEN 1 ELSE failures + 1 END,
			last_failure_at = excluded.last_failure_at
		RETURNING failures, last_failure_at`, workspaceID, key, unix(now), unix(forgetBefore)).Scan(&t.Failures, &last)
	if err != nil {
		return t, fmt.Errorf("add failure %q: %w", key, err)
	}
	t.LastFailureAt = fromUnix(last)
	return t, nil
}

// FindThrottle implements gatehouse.ThrottleStore.
func (db *DB) FindThrottle(ctx context.Context, workspaceID int64, key string) (gatehouse.Throttle, error) {
	var t gatehouse.Throttle
	var last int64
	err := db.read.QueryRowContext(ctx, `SELECT failures, last_failure_at FROM throttles WHERE workspace_id = ? AND key = ?`,
		workspaceID, key).Scan(&t.Failures, &last)
	if err == sql.ErrNoRows {
		return gatehouse.Throttle{}, nil
	}
	if err != nil {
		return t, fmt.Errorf("find throttle %q: %w", key, err)
	}
	t.LastFailureAt = fromUnix(last)
	return t, nil
}

// ResetThrottle implements gatehouse.ThrottleStore.
func (db *DB) ResetThrottle(ctx context.Context, workspaceID int64, key string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM throttles WHERE workspace_id = ? AND key = ?`, workspaceID, key); err != nil {
		return fmt.Errorf("reset throttle %q: %w", key, err)
	}
	return nil
}

const messageCols = `id, workspace_id, channel, recipient, subject, body, status, attempts, last_error, created_at, next_attempt, sent_at`

func scanMessage(row interface{ Scan(...any) error }, m *gatehouse.Message) error {
	var created, next int64
	var sent sql.NullInt64
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Channel, &m.To, &m.Subject, &m.Body, &m.Status, &m.Attempts, &m.LastError,
		&created, &next, &sent); err != nil {
		return err
	}
	m.CreatedAt, m.NextAttempt, m.SentAt = fromUnix(created), fromUnix(next), fromNullUnix(sent)
	return nil
}

func scanMessages(rows *sql.Rows, err error) ([]gatehouse.Message, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []gatehouse.Message
	for rows.Next() {
		var m gatehouse.Message
		if err := scanMessage(rows, &m); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// EnqueueMessage implements gatehouse.OutboxStore.
func (db *DB) EnqueueMessage(ctx context.Context, workspaceID int64, m *gatehouse.Message) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO outbox (workspace_id, channel, recipient, subject, body, status, created_at, next_attempt)
		VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id`,
		workspaceID, m.Channel, m.To, m.Subject, m.Body, unix(m.CreatedAt), unix(m.NextAttempt),
	).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("enqueue message: %w", err)
	}
	m.WorkspaceID, m.Status = workspaceID, gatehouse.MessagePending
	return nil
}

// ClaimMessages implements gatehouse.OutboxStore.
func (db *DB) ClaimMessages(ctx context.Context, now, leaseUntil time.Time, limit int) ([]gatehouse.Message, error) {
	ms, err := scanMessages(db.write.QueryContext(ctx, `
		UPDATE outbox SET leased_until = ?
		WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= ? AND leased_until <= ?
		             ORDER BY next_attempt, id LIMIT ?)
		RETURNING `+messageCols, unix(leaseUntil), unix(now), unix(now), limit))
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return ms, nil
}

// MarkMessageSent implements gatehouse.OutboxStore.
func (db *DB) MarkMessageSent(ctx context.Context, id int64, now time.Time) error {
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, leased_until = 0 WHERE id = ?`, unix(now), id))
	if err != nil {
		return fmt.Errorf("mark message %d sent: %w", id, err)
	}
	return nil
}

// MarkMessageFailed implements gatehouse.OutboxStore.
func (db *DB) MarkMessageFailed(ctx context.Context, id int64, errMsg string, next time.Time, giveUp bool) error {
	status := gatehouse.MessagePending
	if giveUp {
		status = gatehouse.MessageFailed
	}
	err := mustAffect(db.write.ExecContext(ctx, `
		UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt = ?, leased_until = 0 WHERE id = ?`,
		status, errMsg, unix(next), id))
	if err != nil {
		return fmt.Errorf("mark message %d failed: %w", id, err)
	}
	return nil
}

// ListMessages implements gatehouse.OutboxStore.
func (db *DB) ListMessages(ctx context.Context, limit int) ([]gatehouse.Message, error) {
	ms, err := scanMessages(db.read.QueryContext(ctx, `SELECT `+messageCols+` FROM outbox ORDER BY id DESC LIMIT ?`, limit))
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return ms, nil
}
