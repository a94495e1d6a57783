package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlcodec"
)

const workspaceCols = `id, slug, name, plan, signup_enabled, remember_me_enabled,
	mfa_mode, mfa_methods, trusted_device_days, grace_days, mode_changed_at,
	twilio_account_sid, twilio_auth_token, twilio_from, twilio_messaging_service_sid,
	sms_countries, sms_hourly_cap, sms_daily_cap, created_at, updated_at, brand_name, brand_accent, brand_logo`

// workspaceRow scans workspaceCols into w.
type workspaceRow struct {
	w                             *gatehouse.Workspace
	methods, countries            string
	modeChanged, created, updated int64
}

func (r *workspaceRow) dest() []any {
	w := r.w
	return []any{&w.ID, &w.Slug, &w.Name, &w.Plan, &w.SignupEnabled, &w.RememberMeEnabled,
		&w.MFA.Mode, &r.methods, &w.MFA.TrustedDeviceDays, &w.MFA.GraceDays, &r.modeChanged,
		&w.Twilio.AccountSID, &w.Twilio.AuthToken, &w.Twilio.From, &w.Twilio.MessagingServiceSID,
		&r.countries, &w.SMSGuard.HourlyCap, &w.SMSGuard.DailyCap, &r.created, &r.updated, &w.Brand.DisplayName, &w.Brand.Accent, &w.Brand.Logo}
}

func (r *workspaceRow) finish() {
	w := r.w
	w.MFA.Methods = sqlcodec.SplitMethods(r.methods)
	w.MFA.ModeChangedAt = fromUnixOrNever(r.modeChanged)
	if len(w.Twilio.AuthToken) == 0 {
		w.Twilio.AuthToken = nil
	}
	w.SMSGuard.Countries = sqlcodec.SplitCountries(r.countries)
	w.CreatedAt, w.UpdatedAt = fromUnix(r.created), fromUnix(r.updated)
}

func scanWorkspace(row interface{ Scan(...any) error }, w *gatehouse.Workspace) error {
	r := workspaceRow{w: w}
	if err := row.Scan(r.dest()...); err != nil {
		return err
	}
	r.finish()
	return nil
}

// CreateWorkspace implements gatehouse.WorkspaceStore. It stores the
// settings it is given: defaults belong to gatehouse.NewWorkspace.
func (db *DB) CreateWorkspace(ctx context.Context, w *gatehouse.Workspace) error {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO workspaces (slug, name, plan, signup_enabled, remember_me_enabled,
			mfa_mode, mfa_methods, trusted_device_days, grace_days, mode_changed_at,
			twilio_account_sid, twilio_auth_token, twilio_from, twilio_messaging_service_sid,
			sms_countries, sms_hourly_cap, sms_daily_cap, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		w.Slug, w.Name, w.Plan, b2i(w.SignupEnabled), b2i(w.RememberMeEnabled),
		w.MFA.Mode, sqlcodec.JoinMethods(w.MFA.Methods), w.MFA.TrustedDeviceDays, w.MFA.GraceDays, unixOrNever(w.MFA.ModeChangedAt),
		w.Twilio.AccountSID, sqlcodec.NullBytes(w.Twilio.AuthToken), w.Twilio.From, w.Twilio.MessagingServiceSID,
		sqlcodec.JoinCountries(w.SMSGuard.Countries), w.SMSGuard.HourlyCap, w.SMSGuard.DailyCap,
		unix(w.CreatedAt), unix(w.UpdatedAt),
	).Scan(&w.ID)
	if err != nil {
		return fmt.Errorf("create workspace %q: %w", w.Slug, translate(err))
	}
	return nil
}

const findWorkspaceByID = `SELECT ` + workspaceCols + ` FROM workspaces WHERE id = ?`

// FindWorkspaceByID implements gatehouse.WorkspaceStore.
func (db *DB) FindWorkspaceByID(ctx context.Context, id int64) (*gatehouse.Workspace, error) {
	var w gatehouse.Workspace
	stmt, err := db.readStmt(ctx, findWorkspaceByID)
	if err != nil {
		return nil, fmt.Errorf("find workspace %d: %w", id, err)
	}
	if err := scanWorkspace(stmt.QueryRowContext(ctx, id), &w); err != nil {
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

// UpdateWorkspace implements gatehouse.WorkspaceStore with one statement
// that writes only the fields the update names.
func (db *DB) UpdateWorkspace(ctx context.Context, id int64, u gatehouse.WorkspaceUpdate, now time.Time) (*gatehouse.Workspace, error) {
	var a sqlcodec.Args
	sets := sqlcodec.WorkspaceSets(u, &a, func(b bool) any { return b2i(b) }, unix(now))
	var w gatehouse.Workspace
	row := db.write.QueryRowContext(ctx, `UPDATE workspaces SET `+sets+` WHERE id = `+a.Add(id)+` RETURNING `+workspaceCols, a.List...)
	if err := scanWorkspace(row, &w); err != nil {
		return nil, fmt.Errorf("update workspace %d: %w", id, translate(err))
	}
	return &w, nil
}

// CountWorkspaces implements gatehouse.WorkspaceStore.
func (db *DB) CountWorkspaces(ctx context.Context) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM workspaces`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count workspaces: %w", err)
	}
	return n, nil
}

const userCols = `id, workspace_id, email, name, role, password_hash, disabled, email_verified, client_id, created_at, updated_at`

// userRow scans userCols into u.
type userRow struct {
	u                *gatehouse.User
	client           sql.NullInt64
	created, updated int64
}

func (r *userRow) dest() []any {
	u := r.u
	return []any{&u.ID, &u.WorkspaceID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &u.EmailVerified, &r.client, &r.created, &r.updated}
}

func (r *userRow) finish() {
	r.u.ClientID = r.client.Int64
	r.u.CreatedAt, r.u.UpdatedAt = fromUnix(r.created), fromUnix(r.updated)
}

func scanUser(row interface{ Scan(...any) error }, u *gatehouse.User) error {
	r := userRow{u: u}
	if err := row.Scan(r.dest()...); err != nil {
		return err
	}
	r.finish()
	return nil
}

// CreateUser implements gatehouse.UserStore.
func (db *DB) CreateUser(ctx context.Context, workspaceID int64, u *gatehouse.User) error {
	// A client is checked in the insert itself: no row (ErrNotFound) when
	// it is not one of the workspace's.
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO users (workspace_id, email, name, role, password_hash, disabled, email_verified, client_id, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), ?, ?
		WHERE ? = 0 OR EXISTS (SELECT 1 FROM clients WHERE workspace_id = ? AND id = ?)
		RETURNING id`,
		workspaceID, u.Email, u.Name, u.Role, u.PasswordHash, b2i(u.Disabled), b2i(u.EmailVerified), u.ClientID, unix(u.CreatedAt), unix(u.UpdatedAt),
		u.ClientID, workspaceID, u.ClientID,
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

// CreateSession implements gatehouse.SessionStore.
func (db *DB) CreateSession(ctx context.Context, workspaceID int64, s *gatehouse.Session, passwordHash string) error {
	// One statement on the one writer: the user is read as the last
	// committed change left it.
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO sessions (workspace_id, user_id, token_hash, remember, created_at, last_seen_at, expires_at, idle_seconds,
			user_agent, ip, mfa_verified_at, reauth_at, mfa_failures, after_reset, next_path,
			mailbox_proven_at, enroll_skipped_at)
		SELECT workspace_id, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
		FROM users WHERE workspace_id = ? AND id = ? AND password_hash = ? AND disabled = 0
		RETURNING id`,
		s.TokenHash, b2i(s.Remember), unix(s.CreatedAt), unix(s.LastSeenAt), unix(s.ExpiresAt),
		int64(s.IdleTimeout/time.Second), s.UserAgent, s.IP,
		nullUnix(s.MFAVerifiedAt), unixOrNever(s.ReauthAt), s.MFAFailures, b2i(s.AfterReset), s.Next,
		nullUnix(s.MailboxProvenAt), nullUnix(s.EnrollSkippedAt),
		workspaceID, s.UserID, passwordHash,
	).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	s.WorkspaceID = workspaceID
	return nil
}

func createSession(ctx context.Context, q querier, workspaceID int64, s *gatehouse.Session) error {
	err := q.QueryRowContext(ctx, `
		INSERT INTO sessions (workspace_id, user_id, token_hash, remember, created_at, last_seen_at, expires_at, idle_seconds,
			user_agent, ip, mfa_verified_at, reauth_at, mfa_failures, after_reset, next_path,
			mailbox_proven_at, enroll_skipped_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		workspaceID, s.UserID, s.TokenHash, b2i(s.Remember), unix(s.CreatedAt), unix(s.LastSeenAt), unix(s.ExpiresAt),
		int64(s.IdleTimeout/time.Second), s.UserAgent, s.IP,
		nullUnix(s.MFAVerifiedAt), unixOrNever(s.ReauthAt), s.MFAFailures, b2i(s.AfterReset), s.Next,
		nullUnix(s.MailboxProvenAt), nullUnix(s.EnrollSkippedAt),
	).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	s.WorkspaceID = workspaceID
	return nil
}

// MarkSession implements gatehouse.SessionStore with one update of the
// marks named.
func (db *DB) MarkSession(ctx context.Context, workspaceID, sessionID int64, m gatehouse.SessionMarks) error {
	a := sqlcodec.Args{}
	sets := sqlcodec.SessionSets(m, &a, func(t time.Time) any { return unix(t) })
	if sets == "" {
		return nil
	}
	err := mustAffect(db.write.ExecContext(ctx, `UPDATE sessions SET `+sets+` WHERE workspace_id = `+a.Add(workspaceID)+` AND id = `+a.Add(sessionID), a.List...))
	if err != nil {
		return fmt.Errorf("mark session %d: %w", sessionID, err)
	}
	return nil
}

// AddSessionFailure implements gatehouse.SessionStore with one update, so
// wrong codes sent at once are all counted.
func (db *DB) AddSessionFailure(ctx context.Context, workspaceID, sessionID int64) (int, error) {
	var n int
	err := db.write.QueryRowContext(ctx, `
		UPDATE sessions SET mfa_failures = mfa_failures + 1 WHERE workspace_id = ? AND id = ? RETURNING mfa_failures`,
		workspaceID, sessionID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count failure in session %d: %w", sessionID, translate(err))
	}
	return n, nil
}

// findVisit is prepared once (see readStmt): it runs on every request.
var findVisit = `
		SELECT ` + sqlcodec.Qualify("s", sessionCols) + `, ` + sqlcodec.WithholdPassword("u", sqlcodec.Qualify("u", userCols)) + `, ` + sqlcodec.WithholdTwilioToken("w", sqlcodec.Qualify("w", workspaceCols), "CAST('"+gatehouse.TokenWithheld+"' AS BLOB)") + `,
		       (SELECT group_concat(f.method) FROM factors f
		        WHERE f.workspace_id = s.workspace_id AND f.user_id = s.user_id AND f.active)
		FROM sessions s
		JOIN users u ON u.id = s.user_id AND u.workspace_id = s.workspace_id
		JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.token_hash = ? AND s.workspace_id = ?`

// findVisit reads a visit (see FindVisit and the visit cache): one read by
// the unique token hash index, with the user and workspace joined in and
// the user's active methods gathered by a subquery.
func (db *DB) findVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error) {
	var (
		v       gatehouse.Visit
		sr      = sessionRow{s: &v.Session}
		ur      = userRow{u: &v.User}
		wr      = workspaceRow{w: &v.Workspace}
		methods sql.NullString
	)
	dest := append(append(append(sr.dest(), ur.dest()...), wr.dest()...), &methods)
	stmt, err := db.readStmt(ctx, findVisit)
	if err == nil {
		err = stmt.QueryRowContext(ctx, tokenHash, workspaceID).Scan(dest...)
	}
	if err != nil {
		return nil, fmt.Errorf("find session: %w", translate(err))
	}
	sr.finish()
	ur.finish()
	wr.finish()
	v.Methods = gatehouse.SortMethods(sqlcodec.SplitMethods(methods.String))
	return &v, nil
}

const sessionCols = `id, workspace_id, user_id, token_hash, remember, created_at, last_seen_at, expires_at, idle_seconds,
	user_agent, ip, mfa_verified_at, reauth_at, mfa_failures, after_reset, next_path, mailbox_proven_at, enroll_skipped_at`

// sessionRow scans sessionCols into s.
type sessionRow struct {
	s                                      *gatehouse.Session
	created, seen, expires, idle, reauth   int64
	verified, mailboxProven, enrollSkipped sql.NullInt64
}

func (r *sessionRow) dest() []any {
	s := r.s
	return []any{&s.ID, &s.WorkspaceID, &s.UserID, &s.TokenHash, &s.Remember, &r.created, &r.seen, &r.expires, &r.idle,
		&s.UserAgent, &s.IP, &r.verified, &r.reauth, &s.MFAFailures, &s.AfterReset, &s.Next,
		&r.mailboxProven, &r.enrollSkipped}
}

func (r *sessionRow) finish() {
	s := r.s
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromUnix(r.created), fromUnix(r.seen), fromUnix(r.expires)
	s.IdleTimeout = time.Duration(r.idle) * time.Second
	s.MFAVerifiedAt, s.ReauthAt = fromNullUnix(r.verified), fromUnixOrNever(r.reauth)
	s.MailboxProvenAt, s.EnrollSkippedAt = fromNullUnix(r.mailboxProven), fromNullUnix(r.enrollSkipped)
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
	return deleteUserSessions(ctx, db.write, workspaceID, userID, exceptHash)
}

func deleteUserSessions(ctx context.Context, q querier, workspaceID, userID int64, exceptHash []byte) (int, error) {
	res, err := q.ExecContext(ctx, `
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

// DeleteStaleCounters implements gatehouse.ThrottleStore in one transaction.
func (db *DB) DeleteStaleCounters(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, q := range []string{`DELETE FROM limits WHERE window_start < ?`, `DELETE FROM throttles WHERE last_failure_at < ?`} {
			res, err := tx.ExecContext(ctx, q, unix(before))
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete stale counters: %w", err)
	}
	return n, nil
}

// CreateToken implements gatehouse.TokenStore.
func (db *DB) CreateToken(ctx context.Context, workspaceID int64, t *gatehouse.Token) error {
	return createToken(ctx, db.write, workspaceID, t)
}

func createToken(ctx context.Context, q querier, workspaceID int64, t *gatehouse.Token) error {
	err := q.QueryRowContext(ctx, `
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

// TakeLimits implements gatehouse.ThrottleStore: one upsert per limit
// whose WHERE decides the grant (a refused one returns no row), in one
// IMMEDIATE transaction, so the writer lock orders parallel takers.
func (db *DB) TakeLimits(ctx context.Context, workspaceID int64, now time.Time, limits ...gatehouse.Limit) (int, error) {
	full := -1
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for i, l := range limits {
			if l.Max < 1 {
				full = i
				return errFull
			}
			var uses int
			err := tx.QueryRowContext(ctx, `
				INSERT INTO limits (workspace_id, key, window_start, uses) VALUES (?1, ?2, ?3, 1)
				ON CONFLICT (workspace_id, key) DO UPDATE SET
					window_start = CASE WHEN limits.window_start <= ?4 THEN excluded.window_start ELSE limits.window_start END,
					uses = CASE WHEN limits.window_start <= ?4 THEN 1 ELSE limits.uses + 1 END
				WHERE limits.window_start <= ?4 OR limits.uses < ?5
				RETURNING uses`,
				workspaceID, l.Key, unix(now), unix(now.Add(-l.Window)), l.Max).Scan(&uses)
			if errors.Is(err, sql.ErrNoRows) {
				full = i
				return errFull
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errFull) {
		return full, nil
	}
	if err != nil {
		return -1, fmt.Errorf("take limits: %w", err)
	}
	return -1, nil
}

// errFull rolls back a TakeLimits whose limit is full.
var errFull = errors.New("limit full")

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
	return resetThrottle(ctx, db.write, workspaceID, key)
}

func resetThrottle(ctx context.Context, q querier, workspaceID int64, key string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM throttles WHERE workspace_id = ? AND key = ?`, workspaceID, key); err != nil {
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
	return enqueueMessage(ctx, db.write, workspaceID, m)
}

func enqueueMessage(ctx context.Context, q querier, workspaceID int64, m *gatehouse.Message) error {
	err := q.QueryRowContext(ctx, `
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

// ScrubMessage implements gatehouse.OutboxStore.
func (db *DB) ScrubMessage(ctx context.Context, id int64) error {
	err := mustAffect(db.write.ExecContext(ctx, `UPDATE outbox SET subject = '', body = '' WHERE id = ?`, id))
	if err != nil {
		return fmt.Errorf("scrub message %d: %w", id, err)
	}
	return nil
}

// FindMessage implements gatehouse.OutboxStore.
func (db *DB) FindMessage(ctx context.Context, id int64) (*gatehouse.Message, error) {
	var m gatehouse.Message
	row := db.read.QueryRowContext(ctx, `SELECT `+messageCols+` FROM outbox WHERE id = ?`, id)
	if err := scanMessage(row, &m); err != nil {
		return nil, fmt.Errorf("find message %d: %w", id, translate(err))
	}
	return &m, nil
}

// CountMessages implements gatehouse.OutboxStore.
func (db *DB) CountMessages(ctx context.Context, workspaceID int64, channel string, since time.Time) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE workspace_id = ? AND channel = ? AND created_at >= ?`,
		workspaceID, channel, unix(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s messages: %w", channel, err)
	}
	return n, nil
}

// AddAuditEvent implements gatehouse.AuditStore.
//
// Events that arrive together commit together (see auditGroup), each call
// returning once its own event is committed.
func (db *DB) AddAuditEvent(ctx context.Context, workspaceID int64, e *gatehouse.AuditEvent) error {
	if err := db.audits.Do(auditItem{ctx: ctx, workspaceID: workspaceID, e: e}); err != nil {
		return err
	}
	e.WorkspaceID = workspaceID
	return nil
}

// auditItem is one event waiting in DB.audits.
type auditItem struct {
	ctx         context.Context
	workspaceID int64
	e           *gatehouse.AuditEvent
}

// writeAudits commits a batch of audit events in one transaction (see
// DB.AddAuditEvent); a lone event as one statement, which SQLite commits
// by itself (an explicit BEGIN and COMMIT cost as much as the insert).
// The batch's context is its first caller's, without its cancellation:
// the others wait on this write too, and an event of a finished action is
// written even when that client went away.
//
// Audit events are no part of a visit, so the commit leaves the cached
// visits valid: the wal-index header is read before the write, and when
// its change counter moved by exactly one after it — ours the only commit
// in between — the visit cache is told that this commit changed nothing it
// keeps (see visitWatch.unchanged).
func (db *DB) writeAudits(items []auditItem) error {
	ctx := context.WithoutCancel(items[0].ctx)
	if db.auditStmt == nil {
		// Prepared once, outside any transaction (the writer has one
		// connection; batches run one at a time): parsing the insert cost
		// as much as writing it.
		st, err := db.write.PrepareContext(ctx, auditInsert)
		if err != nil {
			return fmt.Errorf("prepare audit insert: %w", err)
		}
		db.auditStmt = st
	}
	insert := func(st *sql.Stmt, it auditItem) error {
		e := it.e
		if err := st.QueryRowContext(ctx, it.workspaceID, unix(e.At), e.ActorID, e.TargetID, e.Type, e.IP, e.Detail, e.ClientID, e.DocumentID).Scan(&e.ID); err != nil {
			return fmt.Errorf("add audit event %q: %w", e.Type, translate(err))
		}
		return nil
	}
	before, known := db.visits.header()
	var err error
	if len(items) == 1 {
		err = insert(db.auditStmt, items[0])
	} else {
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			st := tx.StmtContext(ctx, db.auditStmt)
			for _, it := range items {
				if err := insert(st, it); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	if known {
		if afterAuditCommit != nil {
			afterAuditCommit()
		}
		db.visits.unchanged(before)
	}
	return nil
}

// afterAuditCommit, when set (by tests), runs between an audit batch's
// commit and the visit cache being told of it.
var afterAuditCommit func()

const auditInsert = `INSERT INTO audit_events (workspace_id, at, actor_id, target_id, type, ip, detail, client_id, document_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

func addAuditEvent(ctx context.Context, q querier, workspaceID int64, e *gatehouse.AuditEvent) error {
	err := q.QueryRowContext(ctx, auditInsert,
		workspaceID, unix(e.At), e.ActorID, e.TargetID, e.Type, e.IP, e.Detail, e.ClientID, e.DocumentID,
	).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("add audit event %q: %w", e.Type, translate(err))
	}
	e.WorkspaceID = workspaceID
	return nil
}

const auditCols = `id, workspace_id, at, actor_id, target_id, type, ip, detail, client_id, document_id`

func scanAuditEvent(row interface{ Scan(...any) error }, e *gatehouse.AuditEvent) error {
	var at int64
	if err := row.Scan(&e.ID, &e.WorkspaceID, &at, &e.ActorID, &e.TargetID, &e.Type, &e.IP, &e.Detail, &e.ClientID, &e.DocumentID); err != nil {
		return err
	}
	e.At = fromUnix(at)
	return nil
}

// ListAuditEvents implements gatehouse.AuditStore.
func (db *DB) ListAuditEvents(ctx context.Context, workspaceID int64, limit int) ([]gatehouse.AuditEvent, error) {
	if limit <= 0 {
		return nil, nil // SQLite reads a negative LIMIT as none; "at most 0" is none
	}
	var es []gatehouse.AuditEvent
	err := db.eachAuditEvent(ctx, "list audit events", `SELECT `+auditCols+` FROM audit_events
		WHERE workspace_id = ? ORDER BY at DESC, id DESC LIMIT ?`, []any{workspaceID, limit},
		func(e gatehouse.AuditEvent) error {
			es = append(es, e)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return es, nil
}

// defaultAuditLimit is FindAuditEvents' page size when the filter sets none.
const defaultAuditLimit = 50

// FindAuditEvents implements gatehouse.AuditStore. Pages follow each other
// by ID (BeforeID), never by offset, so an event added meanwhile neither
// repeats nor hides one.
func (db *DB) FindAuditEvents(ctx context.Context, workspaceID int64, f gatehouse.AuditFilter) ([]gatehouse.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	where, args := auditWhere(workspaceID, f)
	var es []gatehouse.AuditEvent
	err := db.eachAuditEvent(ctx, "find audit events",
		`SELECT `+auditCols+` FROM audit_events WHERE `+where+` ORDER BY id DESC LIMIT ?`, append(args, limit),
		func(e gatehouse.AuditEvent) error {
			es = append(es, e)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return es, nil
}

// EachAuditEvent implements gatehouse.AuditStore. It reads through the
// reader pool, so fn may write to the store meanwhile.
func (db *DB) EachAuditEvent(ctx context.Context, workspaceID int64, f gatehouse.AuditFilter, fn func(gatehouse.AuditEvent) error) error {
	where, args := auditWhere(workspaceID, f)
	return db.eachAuditEvent(ctx, "read audit events",
		`SELECT `+auditCols+` FROM audit_events WHERE `+where+` ORDER BY id DESC`, args, fn)
}

// eachAuditEvent runs query and calls fn for each row as it arrives. It
// returns fn's first error as it is, and its own errors prefixed with what.
func (db *DB) eachAuditEvent(ctx context.Context, what, query string, args []any, fn func(gatehouse.AuditEvent) error) error {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e gatehouse.AuditEvent
		if err := scanAuditEvent(rows, &e); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// auditWhere returns the conditions of f in workspaceID and their arguments.
func auditWhere(workspaceID int64, f gatehouse.AuditFilter) (string, []any) {
	var a sqlcodec.Args
	where := sqlcodec.AuditWhere(workspaceID, f, &a, func(t time.Time) any { return unix(t) }, func(col, p string, a *sqlcodec.Args) string {
		cond, args := hasPrefix(col, p)
		a.List = append(a.List, args...)
		return cond
	})
	return where, a.List
}

// SetBrand implements gatehouse.WorkspaceStore in one transaction: the
// workspace row first, so no such workspace stops it before the logo.
func (db *DB) SetBrand(ctx context.Context, workspaceID int64, b gatehouse.Brand, logo *gatehouse.Logo, now time.Time, e *gatehouse.AuditEvent) (*gatehouse.Workspace, error) {
	var w gatehouse.Workspace
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		logoSet, args := "", []any{b.DisplayName, b.Accent, unix(now)}
		if logo != nil {
			logoSet, args = `, brand_logo = ?`, append(args, logo.ID)
			if len(logo.PNG) == 0 {
				args[len(args)-1] = ""
			}
		}
		row := tx.QueryRowContext(ctx, `UPDATE workspaces SET brand_name = ?, brand_accent = ?, updated_at = ?`+logoSet+
			` WHERE id = ? RETURNING `+workspaceCols, append(args, workspaceID)...)
		if err := scanWorkspace(row, &w); err != nil {
			return translate(err)
		}
		switch {
		case logo != nil && len(logo.PNG) > 0:
			if _, err := tx.ExecContext(ctx, `INSERT INTO workspace_logos (workspace_id, id, png, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (workspace_id) DO UPDATE SET id = excluded.id, png = excluded.png, updated_at = excluded.updated_at`,
				workspaceID, logo.ID, logo.PNG, unix(now)); err != nil {
				return err
			}
		case logo != nil:
			if _, err := tx.ExecContext(ctx, `DELETE FROM workspace_logos WHERE workspace_id = ?`, workspaceID); err != nil {
				return err
			}
		}
		return record(ctx, tx, workspaceID, e)
	})
	if err != nil {
		return nil, fmt.Errorf("set brand of workspace %d: %w", workspaceID, err)
	}
	return &w, nil
}

// FindLogo implements gatehouse.WorkspaceStore.
func (db *DB) FindLogo(ctx context.Context, workspaceID int64) (*gatehouse.Logo, error) {
	var l gatehouse.Logo
	var updated int64
	err := db.read.QueryRowContext(ctx, `SELECT id, png, updated_at FROM workspace_logos WHERE workspace_id = ?`, workspaceID).Scan(&l.ID, &l.PNG, &updated)
	if err != nil {
		return nil, fmt.Errorf("find logo of workspace %d: %w", workspaceID, translate(err))
	}
	l.UpdatedAt = fromUnix(updated)
	return &l, nil
}
