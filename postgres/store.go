package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlcodec"
)

const workspaceCols = `id, slug, name, plan, signup_enabled, remember_me_enabled,
	mfa_mode, mfa_methods, trusted_device_days, grace_days, mode_changed_at,
	twilio_account_sid, twilio_auth_token, twilio_from, twilio_messaging_service_sid,
	sms_countries, sms_hourly_cap, sms_daily_cap, created_at, updated_at, brand_name, brand_accent, brand_logo`

// workspaceRow scans workspaceCols into w.
type workspaceRow struct {
	w                  *gatehouse.Workspace
	methods, countries string
}

func (r *workspaceRow) dest() []any {
	w := r.w
	return []any{&w.ID, &w.Slug, &w.Name, &w.Plan, &w.SignupEnabled, &w.RememberMeEnabled,
		&w.MFA.Mode, &r.methods, &w.MFA.TrustedDeviceDays, &w.MFA.GraceDays, &w.MFA.ModeChangedAt,
		&w.Twilio.AccountSID, &w.Twilio.AuthToken, &w.Twilio.From, &w.Twilio.MessagingServiceSID,
		&r.countries, &w.SMSGuard.HourlyCap, &w.SMSGuard.DailyCap, &w.CreatedAt, &w.UpdatedAt, &w.Brand.DisplayName, &w.Brand.Accent, &w.Brand.Logo}
}

func (r *workspaceRow) finish() {
	w := r.w
	w.MFA.Methods = sqlcodec.SplitMethods(r.methods)
	if len(w.Twilio.AuthToken) == 0 {
		w.Twilio.AuthToken = nil
	}
	w.SMSGuard.Countries = sqlcodec.SplitCountries(r.countries)
	w.MFA.ModeChangedAt, w.CreatedAt, w.UpdatedAt = w.MFA.ModeChangedAt.UTC(), w.CreatedAt.UTC(), w.UpdatedAt.UTC()
}

func scanWorkspace(row pgx.Row, w *gatehouse.Workspace) error {
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
	err := db.pool.QueryRow(ctx, `
		INSERT INTO workspaces (slug, name, plan, signup_enabled, remember_me_enabled,
			mfa_mode, mfa_methods, trusted_device_days, grace_days, mode_changed_at,
			twilio_account_sid, twilio_auth_token, twilio_from, twilio_messaging_service_sid,
			sms_countries, sms_hourly_cap, sms_daily_cap, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id`,
		w.Slug, w.Name, w.Plan, w.SignupEnabled, w.RememberMeEnabled,
		w.MFA.Mode, sqlcodec.JoinMethods(w.MFA.Methods), w.MFA.TrustedDeviceDays, w.MFA.GraceDays, w.MFA.ModeChangedAt,
		w.Twilio.AccountSID, sqlcodec.NullBytes(w.Twilio.AuthToken), w.Twilio.From, w.Twilio.MessagingServiceSID,
		sqlcodec.JoinCountries(w.SMSGuard.Countries), w.SMSGuard.HourlyCap, w.SMSGuard.DailyCap,
		w.CreatedAt, w.UpdatedAt,
	).Scan(&w.ID)
	if err != nil {
		return fmt.Errorf("create workspace %q: %w", w.Slug, translate(err))
	}
	return nil
}

// FindWorkspaceByID implements gatehouse.WorkspaceStore.
func (db *DB) FindWorkspaceByID(ctx context.Context, id int64) (*gatehouse.Workspace, error) {
	var w gatehouse.Workspace
	row := db.pool.QueryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE id = $1`, id)
	if err := scanWorkspace(row, &w); err != nil {
		return nil, fmt.Errorf("find workspace %d: %w", id, translate(err))
	}
	return &w, nil
}

// FindWorkspaceBySlug implements gatehouse.WorkspaceStore.
func (db *DB) FindWorkspaceBySlug(ctx context.Context, slug string) (*gatehouse.Workspace, error) {
	var w gatehouse.Workspace
	row := db.pool.QueryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE slug = $1`, slug)
	if err := scanWorkspace(row, &w); err != nil {
		return nil, fmt.Errorf("find workspace %q: %w", slug, translate(err))
	}
	return &w, nil
}

// UpdateWorkspace implements gatehouse.WorkspaceStore with one statement
// that writes only the fields the update names.
func (db *DB) UpdateWorkspace(ctx context.Context, id int64, u gatehouse.WorkspaceUpdate, now time.Time) (*gatehouse.Workspace, error) {
	a := sqlcodec.Args{Dollar: true}
	sets := sqlcodec.WorkspaceSets(u, &a, func(b bool) any { return b }, now)
	var w gatehouse.Workspace
	row := db.pool.QueryRow(ctx, `UPDATE workspaces SET `+sets+` WHERE id = `+a.Add(id)+` RETURNING `+workspaceCols, a.List...)
	if err := scanWorkspace(row, &w); err != nil {
		return nil, fmt.Errorf("update workspace %d: %w", id, translate(err))
	}
	return &w, nil
}

// CountWorkspaces implements gatehouse.WorkspaceStore.
func (db *DB) CountWorkspaces(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM workspaces`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count workspaces: %w", err)
	}
	return n, nil
}

const userCols = `id, workspace_id, email, name, role, password_hash, disabled, email_verified, client_id, created_at, updated_at`

// userRow scans userCols into u.
type userRow struct {
	u      *gatehouse.User
	client *int64
}

func (r *userRow) dest() []any {
	u := r.u
	return []any{&u.ID, &u.WorkspaceID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &u.EmailVerified, &r.client, &u.CreatedAt, &u.UpdatedAt}
}

func (r *userRow) finish() {
	if r.client != nil {
		r.u.ClientID = *r.client
	}
	r.u.CreatedAt, r.u.UpdatedAt = r.u.CreatedAt.UTC(), r.u.UpdatedAt.UTC()
}

func scanUser(row pgx.Row, u *gatehouse.User) error {
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
	err := db.pool.QueryRow(ctx, `
		INSERT INTO users (workspace_id, email, name, role, password_hash, disabled, email_verified, client_id, created_at, updated_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, nullif($8::bigint, 0), $9, $10
		WHERE $8 = 0 OR EXISTS (SELECT 1 FROM clients WHERE workspace_id = $1 AND id = $8)
		RETURNING id`,
		workspaceID, u.Email, u.Name, u.Role, u.PasswordHash, u.Disabled, u.EmailVerified, u.ClientID, u.CreatedAt, u.UpdatedAt,
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
	row := db.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err := scanUser(row, &u); err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, translate(err))
	}
	return &u, nil
}

// FindUserByEmail implements gatehouse.UserStore.
func (db *DB) FindUserByEmail(ctx context.Context, workspaceID int64, email string) (*gatehouse.User, error) {
	var u gatehouse.User
	row := db.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = $1 AND email = $2`, workspaceID, email)
	if err := scanUser(row, &u); err != nil {
		return nil, fmt.Errorf("find user by email: %w", translate(err))
	}
	return &u, nil
}

// ListUsers implements gatehouse.UserStore.
func (db *DB) ListUsers(ctx context.Context, workspaceID int64) ([]gatehouse.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE workspace_id = $1 ORDER BY id`, workspaceID)
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
	// FOR SHARE waits for a password change or disable in flight and then
	// reads the user as it left it; that change's sign-out runs after its
	// UPDATE of the user, so it sees a session inserted before it.
	err := db.pool.QueryRow(ctx, `
		INSERT INTO sessions (workspace_id, user_id, token_hash, remember, created_at, last_seen_at, expires_at, idle_seconds,
			user_agent, ip, mfa_verified_at, reauth_at, mfa_failures, after_reset, next_path,
			mailbox_proven_at, enroll_skipped_at)
		SELECT u.workspace_id, u.id, $3::bytea, $4::boolean, $5::timestamptz, $6::timestamptz, $7::timestamptz, $8::bigint,
			$9::text, $10::text, $11::timestamptz, $12::timestamptz, $13::integer, $14::boolean, $15::text,
			$16::timestamptz, $17::timestamptz
		FROM (SELECT workspace_id, id FROM users
			WHERE workspace_id = $1 AND id = $2 AND password_hash = $18 AND NOT disabled FOR SHARE) u
		RETURNING id`,
		workspaceID, s.UserID, s.TokenHash, s.Remember, s.CreatedAt, s.LastSeenAt, s.ExpiresAt,
		int64(s.IdleTimeout/time.Second), s.UserAgent, s.IP,
		s.MFAVerifiedAt, s.ReauthAt, s.MFAFailures, s.AfterReset, s.Next,
		s.MailboxProvenAt, s.EnrollSkippedAt, passwordHash,
	).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	s.WorkspaceID = workspaceID
	return nil
}

func createSession(ctx context.Context, q querier, workspaceID int64, s *gatehouse.Session) error {
	err := q.QueryRow(ctx, `
		INSERT INTO sessions (workspace_id, user_id, token_hash, remember, created_at, last_seen_at, expires_at, idle_seconds,
			user_agent, ip, mfa_verified_at, reauth_at, mfa_failures, after_reset, next_path,
			mailbox_proven_at, enroll_skipped_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		workspaceID, s.UserID, s.TokenHash, s.Remember, s.CreatedAt, s.LastSeenAt, s.ExpiresAt,
		int64(s.IdleTimeout/time.Second), s.UserAgent, s.IP,
		s.MFAVerifiedAt, s.ReauthAt, s.MFAFailures, s.AfterReset, s.Next,
		s.MailboxProvenAt, s.EnrollSkippedAt,
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
	a := sqlcodec.Args{Dollar: true}
	sets := sqlcodec.SessionSets(m, &a, func(t time.Time) any { return t })
	if sets == "" {
		return nil
	}
	err := mustAffect(db.pool.Exec(ctx, `UPDATE sessions SET `+sets+` WHERE workspace_id = `+a.Add(workspaceID)+` AND id = `+a.Add(sessionID), a.List...))
	if err != nil {
		return fmt.Errorf("mark session %d: %w", sessionID, err)
	}
	return nil
}

// AddSessionFailure implements gatehouse.SessionStore with one update, so
// wrong codes sent at once, to any instance, are all counted.
func (db *DB) AddSessionFailure(ctx context.Context, workspaceID, sessionID int64) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `
		UPDATE sessions SET mfa_failures = mfa_failures + 1 WHERE workspace_id = $1 AND id = $2 RETURNING mfa_failures`,
		workspaceID, sessionID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count failure in session %d: %w", sessionID, translate(err))
	}
	return n, nil
}

// findVisit is the query behind every signed-in request the cache misses.
var findVisit = `
		SELECT ` + sqlcodec.Qualify("s", sessionCols) + `, ` + sqlcodec.WithholdPassword("u", sqlcodec.Qualify("u", userCols)) + `, ` + sqlcodec.WithholdTwilioToken("w", sqlcodec.Qualify("w", workspaceCols), "'"+gatehouse.TokenWithheld+"'::bytea") + `,
		       (SELECT string_agg(f.method, ',') FROM factors f
		        WHERE f.workspace_id = s.workspace_id AND f.user_id = s.user_id AND f.active)
		FROM sessions s
		JOIN users u ON u.id = s.user_id AND u.workspace_id = s.workspace_id
		JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.token_hash = $1 AND s.workspace_id = $2`

// findVisit reads a visit (see FindVisit and the visit cache): one read by
// the unique token hash index, with the user and workspace joined in and
// the user's active methods gathered by a subquery.
func (db *DB) findVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error) {
	var (
		v       gatehouse.Visit
		sr      = sessionRow{s: &v.Session}
		ur      = userRow{u: &v.User}
		wr      = workspaceRow{w: &v.Workspace}
		methods *string
	)
	dest := append(append(append(sr.dest(), ur.dest()...), wr.dest()...), &methods)
	err := db.pool.QueryRow(ctx, findVisit, tokenHash, workspaceID).Scan(dest...)
	if err != nil {
		return nil, fmt.Errorf("find session: %w", translate(err))
	}
	sr.finish()
	ur.finish()
	wr.finish()
	if methods != nil {
		v.Methods = gatehouse.SortMethods(sqlcodec.SplitMethods(*methods))
	}
	return &v, nil
}

const sessionCols = `id, workspace_id, user_id, token_hash, remember, created_at, last_seen_at, expires_at, idle_seconds,
	user_agent, ip, mfa_verified_at, reauth_at, mfa_failures, after_reset, next_path, mailbox_proven_at, enroll_skipped_at`

// sessionRow scans sessionCols into s.
type sessionRow struct {
	s    *gatehouse.Session
	idle int64
}

func (r *sessionRow) dest() []any {
	s := r.s
	return []any{&s.ID, &s.WorkspaceID, &s.UserID, &s.TokenHash, &s.Remember, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &r.idle,
		&s.UserAgent, &s.IP, &s.MFAVerifiedAt, &s.ReauthAt, &s.MFAFailures, &s.AfterReset, &s.Next,
		&s.MailboxProvenAt, &s.EnrollSkippedAt}
}

func (r *sessionRow) finish() {
	s := r.s
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	s.IdleTimeout = time.Duration(r.idle) * time.Second
	s.MFAVerifiedAt, s.ReauthAt = utc(s.MFAVerifiedAt), s.ReauthAt.UTC()
	s.MailboxProvenAt, s.EnrollSkippedAt = utc(s.MailboxProvenAt), utc(s.EnrollSkippedAt)
}

// TouchSession implements gatehouse.SessionStore.
func (db *DB) TouchSession(ctx context.Context, workspaceID, sessionID int64, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE workspace_id = $2 AND id = $3`,
		now, workspaceID, sessionID))
	if err != nil {
		return fmt.Errorf("touch session %d: %w", sessionID, err)
	}
	return nil
}

// DeleteSession implements gatehouse.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, workspaceID int64, tokenHash []byte) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE workspace_id = $1 AND token_hash = $2`, workspaceID, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions implements gatehouse.SessionStore.
func (db *DB) DeleteUserSessions(ctx context.Context, workspaceID, userID int64, exceptHash []byte) (int, error) {
	return deleteUserSessions(ctx, db.pool, workspaceID, userID, exceptHash)
}

func deleteUserSessions(ctx context.Context, q querier, workspaceID, userID int64, exceptHash []byte) (int, error) {
	var (
		tag pgconn.CommandTag
		err error
	)
	if exceptHash == nil {
		tag, err = q.Exec(ctx, `DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2`, workspaceID, userID)
	} else {
		tag, err = q.Exec(ctx, `DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2 AND token_hash <> $3`,
			workspaceID, userID, exceptHash)
	}
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteExpiredSessions implements gatehouse.SessionStore.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteStaleCounters implements gatehouse.ThrottleStore in one transaction.
func (db *DB) DeleteStaleCounters(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		n = 0
		for _, q := range []string{`DELETE FROM limits WHERE window_start < $1`, `DELETE FROM throttles WHERE last_failure_at < $1`} {
			tag, err := tx.Exec(ctx, q, before)
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
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
	return createToken(ctx, db.pool, workspaceID, t)
}

func createToken(ctx context.Context, q querier, workspaceID int64, t *gatehouse.Token) error {
	err := q.QueryRow(ctx, `
		INSERT INTO tokens (workspace_id, user_id, kind, token_hash, payload, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		workspaceID, t.UserID, t.Kind, t.Hash, t.Payload, t.CreatedAt, t.ExpiresAt,
	).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("create %s token: %w", t.Kind, translate(err))
	}
	t.WorkspaceID = workspaceID
	return nil
}

const tokenCols = `id, workspace_id, user_id, kind, token_hash, payload, created_at, expires_at, used_at`

func scanToken(row pgx.Row, t *gatehouse.Token) error {
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.UserID, &t.Kind, &t.Hash, &t.Payload, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt); err != nil {
		return err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), utc(t.UsedAt)
	return nil
}

// FindToken implements gatehouse.TokenStore.
func (db *DB) FindToken(ctx context.Context, workspaceID int64, kind gatehouse.TokenKind, hash []byte, now time.Time) (*gatehouse.Token, error) {
	var t gatehouse.Token
	row := db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens
		WHERE workspace_id = $1 AND kind = $2 AND token_hash = $3 AND used_at IS NULL AND expires_at > $4`,
		workspaceID, kind, hash, now)
	if err := scanToken(row, &t); err != nil {
		return nil, fmt.Errorf("find %s token: %w", kind, translate(err))
	}
	return &t, nil
}

// ConsumeToken implements gatehouse.TokenStore with one conditional update:
// of two simultaneous uses of one link, the second waits for the first's row
// lock, re-checks used_at IS NULL, and matches nothing.
func (db *DB) ConsumeToken(ctx context.Context, workspaceID int64, kind gatehouse.TokenKind, hash []byte, now time.Time) (*gatehouse.Token, error) {
	var t gatehouse.Token
	row := db.pool.QueryRow(ctx, `UPDATE tokens SET used_at = $1
		WHERE workspace_id = $2 AND kind = $3 AND token_hash = $4 AND used_at IS NULL AND expires_at > $1
		RETURNING `+tokenCols,
		now, workspaceID, kind, hash)
	if err := scanToken(row, &t); err != nil {
		return nil, fmt.Errorf("use %s token: %w", kind, translate(err))
	}
	return &t, nil
}

func scanThrottle(row pgx.Row, t *gatehouse.Throttle) error {
	if err := row.Scan(&t.Failures, &t.LastFailureAt); err != nil {
		return err
	}
	t.LastFailureAt = t.LastFailureAt.UTC()
	return nil
}

// AddFailure implements gatehouse.ThrottleStore with one upsert, so
// concurrent failures, from any process, are all counted.
func (db *DB) AddFailure(ctx context.Context, workspaceID int64, key string, now, forgetBefore time.Time) (gatehouse.Throttle, error) {
	var t gatehouse.Throttle
	row := db.pool.QueryRow(ctx, `
		INSERT INTO throttles (workspace_id, key, failures, last_failure_at) VALUES ($1, $2, 1, $3)
		ON CONFLICT (workspace_id, key) DO UPDATE
		SET failures = CASE WHEN throttles.last_failure_at < $4 THEN 1 ELSE throttles.failures + 1 END,
		    last_failure_at = EXCLUDED.last_failure_at
		RETURNING failures, last_failure_at`, workspaceID, key, now, forgetBefore)
	if err := scanThrottle(row, &t); err != nil {
		return gatehouse.Throttle{}, fmt.Errorf("add failure %q: %w", key, err)
	}
	return t, nil
}

// TakeLimits implements gatehouse.ThrottleStore: one upsert per limit
// whose WHERE decides the grant (a refused one returns no row), in one
// transaction. ON CONFLICT DO UPDATE locks the row and judges the WHERE
// on its latest version, so parallel takers queue on it and each sees the
// others' counts. Callers name limits in one order, so takers never wait
// on each other in a cycle.
func (db *DB) TakeLimits(ctx context.Context, workspaceID int64, now time.Time, limits ...gatehouse.Limit) (int, error) {
	full := -1
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for i, l := range limits {
			if l.Max < 1 {
				full = i
				return errFull
			}
			var uses int
			err := tx.QueryRow(ctx, `
				INSERT INTO limits (workspace_id, key, window_start, uses) VALUES ($1, $2, $3, 1)
				ON CONFLICT (workspace_id, key) DO UPDATE SET
					window_start = CASE WHEN limits.window_start <= $4 THEN excluded.window_start ELSE limits.window_start END,
					uses = CASE WHEN limits.window_start <= $4 THEN 1 ELSE limits.uses + 1 END
				WHERE limits.window_start <= $4 OR limits.uses < $5
				RETURNING uses`,
				workspaceID, l.Key, now, now.Add(-l.Window), l.Max).Scan(&uses)
			if errors.Is(err, pgx.ErrNoRows) {
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
	row := db.pool.QueryRow(ctx, `SELECT failures, last_failure_at FROM throttles WHERE workspace_id = $1 AND key = $2`,
		workspaceID, key)
	if err := scanThrottle(row, &t); errors.Is(err, pgx.ErrNoRows) {
		return gatehouse.Throttle{}, nil
	} else if err != nil {
		return gatehouse.Throttle{}, fmt.Errorf("find throttle %q: %w", key, err)
	}
	return t, nil
}

// ResetThrottle implements gatehouse.ThrottleStore.
func (db *DB) ResetThrottle(ctx context.Context, workspaceID int64, key string) error {
	return resetThrottle(ctx, db.pool, workspaceID, key)
}

func resetThrottle(ctx context.Context, q querier, workspaceID int64, key string) error {
	if _, err := q.Exec(ctx, `DELETE FROM throttles WHERE workspace_id = $1 AND key = $2`, workspaceID, key); err != nil {
		return fmt.Errorf("reset throttle %q: %w", key, err)
	}
	return nil
}

const messageCols = `id, workspace_id, channel, recipient, subject, body, status, attempts, last_error, created_at, next_attempt, sent_at`

func scanMessage(row pgx.Row, m *gatehouse.Message) error {
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Channel, &m.To, &m.Subject, &m.Body, &m.Status, &m.Attempts, &m.LastError,
		&m.CreatedAt, &m.NextAttempt, &m.SentAt); err != nil {
		return err
	}
	m.CreatedAt, m.NextAttempt, m.SentAt = m.CreatedAt.UTC(), m.NextAttempt.UTC(), utc(m.SentAt)
	return nil
}

func scanMessages(rows pgx.Rows, err error) ([]gatehouse.Message, error) {
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
	return enqueueMessage(ctx, db.pool, workspaceID, m)
}

func enqueueMessage(ctx context.Context, q querier, workspaceID int64, m *gatehouse.Message) error {
	err := q.QueryRow(ctx, `
		INSERT INTO outbox (workspace_id, channel, recipient, subject, body, status, created_at, next_attempt)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING id`,
		workspaceID, m.Channel, m.To, m.Subject, m.Body, m.CreatedAt, m.NextAttempt,
	).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("enqueue message: %w", translate(err))
	}
	m.WorkspaceID, m.Status = workspaceID, gatehouse.MessagePending
	return nil
}

// ClaimMessages implements gatehouse.OutboxStore. FOR UPDATE SKIP LOCKED lets
// several senders claim at once: each passes over the rows another is
// claiming, so no message is claimed twice. UPDATE … RETURNING has no order,
// hence the outer SELECT.
func (db *DB) ClaimMessages(ctx context.Context, now, leaseUntil time.Time, limit int) ([]gatehouse.Message, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT; "up to 0" is none
	}
	ms, err := scanMessages(db.pool.Query(ctx, `
		WITH claimed AS (
			UPDATE outbox SET leased_until = $1
			WHERE id IN (SELECT id FROM outbox
			             WHERE status = 'pending' AND next_attempt <= $2 AND leased_until <= $2
			             ORDER BY next_attempt, id LIMIT $3
			             FOR UPDATE SKIP LOCKED)
			RETURNING `+messageCols+`
		)
		SELECT `+messageCols+` FROM claimed ORDER BY next_attempt, id`, leaseUntil, now, limit))
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return ms, nil
}

// MarkMessageSent implements gatehouse.OutboxStore.
func (db *DB) MarkMessageSent(ctx context.Context, id int64, now time.Time) error {
	err := mustAffect(db.pool.Exec(ctx, `
		UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, leased_until = '-infinity'
		WHERE id = $2`, now, id))
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
	err := mustAffect(db.pool.Exec(ctx, `
		UPDATE outbox SET status = $1, attempts = attempts + 1, last_error = $2, next_attempt = $3, leased_until = '-infinity'
		WHERE id = $4`,
		status, errMsg, next, id))
	if err != nil {
		return fmt.Errorf("mark message %d failed: %w", id, err)
	}
	return nil
}

// ListMessages implements gatehouse.OutboxStore.
func (db *DB) ListMessages(ctx context.Context, limit int) ([]gatehouse.Message, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT; "at most 0" is none
	}
	ms, err := scanMessages(db.pool.Query(ctx, `SELECT `+messageCols+` FROM outbox ORDER BY id DESC LIMIT $1`, limit))
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return ms, nil
}

// ScrubMessage implements gatehouse.OutboxStore.
func (db *DB) ScrubMessage(ctx context.Context, id int64) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE outbox SET subject = '', body = '' WHERE id = $1`, id))
	if err != nil {
		return fmt.Errorf("scrub message %d: %w", id, err)
	}
	return nil
}

// FindMessage implements gatehouse.OutboxStore.
func (db *DB) FindMessage(ctx context.Context, id int64) (*gatehouse.Message, error) {
	var m gatehouse.Message
	row := db.pool.QueryRow(ctx, `SELECT `+messageCols+` FROM outbox WHERE id = $1`, id)
	if err := scanMessage(row, &m); err != nil {
		return nil, fmt.Errorf("find message %d: %w", id, translate(err))
	}
	return &m, nil
}

// CountMessages implements gatehouse.OutboxStore.
func (db *DB) CountMessages(ctx context.Context, workspaceID int64, channel string, since time.Time) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE workspace_id = $1 AND channel = $2 AND created_at >= $3`,
		workspaceID, channel, since).Scan(&n)
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

// writeAudits commits a batch of audit events in one round trip and one
// transaction (a batch runs as one implicit transaction: all or none). The
// batch's context is its first caller's, without its cancellation: the
// others wait on this write too, and an event of a finished action is
// written even when that client went away.
func (db *DB) writeAudits(items []auditItem) error {
	ctx := context.WithoutCancel(items[0].ctx)
	if len(items) == 1 {
		return addAuditEvent(ctx, db.pool, items[0].workspaceID, items[0].e)
	}
	b := &pgx.Batch{}
	for _, it := range items {
		e := it.e
		b.Queue(auditInsert, it.workspaceID, e.At, e.ActorID, e.TargetID, e.Type, e.IP, e.Detail, e.ClientID, e.DocumentID).
			QueryRow(func(row pgx.Row) error { return row.Scan(&e.ID) })
	}
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("add %d audit events: %w", len(items), translate(err))
	}
	return nil
}

// auditInsert writes one audit event. The write tracer knows this text:
// an audit event is no part of a visit, so it leaves the visit cache be.
const auditInsert = `INSERT INTO audit_events (workspace_id, at, actor_id, target_id, type, ip, detail, client_id, document_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`

func addAuditEvent(ctx context.Context, q querier, workspaceID int64, e *gatehouse.AuditEvent) error {
	err := q.QueryRow(ctx, auditInsert,
		workspaceID, e.At, e.ActorID, e.TargetID, e.Type, e.IP, e.Detail, e.ClientID, e.DocumentID,
	).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("add audit event %q: %w", e.Type, translate(err))
	}
	e.WorkspaceID = workspaceID
	return nil
}

const auditCols = `id, workspace_id, at, actor_id, target_id, type, ip, detail, client_id, document_id`

func scanAuditEvent(row pgx.Row, e *gatehouse.AuditEvent) error {
	if err := row.Scan(&e.ID, &e.WorkspaceID, &e.At, &e.ActorID, &e.TargetID, &e.Type, &e.IP, &e.Detail, &e.ClientID, &e.DocumentID); err != nil {
		return err
	}
	e.At = e.At.UTC()
	return nil
}

// ListAuditEvents implements gatehouse.AuditStore.
func (db *DB) ListAuditEvents(ctx context.Context, workspaceID int64, limit int) ([]gatehouse.AuditEvent, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT; "at most 0" is none
	}
	var es []gatehouse.AuditEvent
	err := db.eachAuditEvent(ctx, "list audit events", `SELECT `+auditCols+` FROM audit_events
		WHERE workspace_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, []any{workspaceID, limit},
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
	args = append(args, limit)
	var es []gatehouse.AuditEvent
	err := db.eachAuditEvent(ctx, "find audit events",
		`SELECT `+auditCols+` FROM audit_events WHERE `+where+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args,
		func(e gatehouse.AuditEvent) error {
			es = append(es, e)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return es, nil
}

// EachAuditEvent implements gatehouse.AuditStore. It holds one pooled
// connection until the last row, so fn can use the store meanwhile only while
// the pool has another connection to give.
func (db *DB) EachAuditEvent(ctx context.Context, workspaceID int64, f gatehouse.AuditFilter, fn func(gatehouse.AuditEvent) error) error {
	where, args := auditWhere(workspaceID, f)
	return db.eachAuditEvent(ctx, "read audit events",
		`SELECT `+auditCols+` FROM audit_events WHERE `+where+` ORDER BY id DESC`, args, fn)
}

// eachAuditEvent runs query and calls fn for each row as it arrives. It
// returns fn's first error as it is, and its own errors prefixed with what.
func (db *DB) eachAuditEvent(ctx context.Context, what, query string, args []any, fn func(gatehouse.AuditEvent) error) error {
	rows, err := db.pool.Query(ctx, query, args...)
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

// auditWhere returns the conditions of f in workspaceID and their arguments,
// numbered from $1.
func auditWhere(workspaceID int64, f gatehouse.AuditFilter) (string, []any) {
	a := sqlcodec.Args{Dollar: true}
	where := sqlcodec.AuditWhere(workspaceID, f, &a, func(t time.Time) any { return t }, func(col, p string, a *sqlcodec.Args) string {
		return col + " LIKE " + a.Add(sqlcodec.EscapeLike(p)+"%") + ` ESCAPE '\'`
	})
	return where, a.List
}

// SetBrand implements gatehouse.WorkspaceStore in one transaction: the
// workspace row first, so no such workspace stops it before the logo.
func (db *DB) SetBrand(ctx context.Context, workspaceID int64, b gatehouse.Brand, logo *gatehouse.Logo, now time.Time, e *gatehouse.AuditEvent) (*gatehouse.Workspace, error) {
	var w gatehouse.Workspace
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		logoSet, args := "", []any{b.DisplayName, b.Accent, now}
		if logo != nil {
			logoSet, args = `, brand_logo = $4`, append(args, logo.ID)
			if len(logo.PNG) == 0 {
				args[len(args)-1] = ""
			}
		}
		args = append(args, workspaceID)
		row := tx.QueryRow(ctx, `UPDATE workspaces SET brand_name = $1, brand_accent = $2, updated_at = $3`+logoSet+
			` WHERE id = $`+strconv.Itoa(len(args))+` RETURNING `+workspaceCols, args...)
		if err := scanWorkspace(row, &w); err != nil {
			return translate(err)
		}
		switch {
		case logo != nil && len(logo.PNG) > 0:
			if _, err := tx.Exec(ctx, `INSERT INTO workspace_logos (workspace_id, id, png, updated_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (workspace_id) DO UPDATE SET id = excluded.id, png = excluded.png, updated_at = excluded.updated_at`,
				workspaceID, logo.ID, logo.PNG, now); err != nil {
				return err
			}
		case logo != nil:
			if _, err := tx.Exec(ctx, `DELETE FROM workspace_logos WHERE workspace_id = $1`, workspaceID); err != nil {
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
	err := db.pool.QueryRow(ctx, `SELECT id, png, updated_at FROM workspace_logos WHERE workspace_id = $1`, workspaceID).Scan(&l.ID, &l.PNG, &l.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("find logo of workspace %d: %w", workspaceID, translate(err))
	}
	l.UpdatedAt = l.UpdatedAt.UTC()
	return &l, nil
}
