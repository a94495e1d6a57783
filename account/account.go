// Package account is the sign-in domain of Gatehouse: passwords and their
// throttling, sessions, invitations, self sign-up and password reset. It knows
// nothing of HTTP or SQL. Every way into an account ends in Service.SignIn,
// the one function that creates a signed-in session.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/password"
)

// Session lifetimes (SPEC §6).
const (
	IdleTimeout         = 60 * time.Minute
	AbsoluteTimeout     = 12 * time.Hour
	RememberIdleTimeout = 7 * 24 * time.Hour
	RememberTimeout     = 30 * 24 * time.Hour
	// PendingTimeout bounds a login waiting for its second factor.
	PendingTimeout = 10 * time.Minute
	// touchEvery bounds the writes the session check makes: LastSeenAt is
	// refreshed at most once a minute, so idle expiry is exact to a minute.
	touchEvery = time.Minute
)

// Link lifetimes.
const (
	InviteTTL = 7 * 24 * time.Hour
	ResetTTL  = time.Hour
	SignupTTL = 24 * time.Hour
)

// Errors the web layer turns into friendly sentences.
var (
	// ErrBadCredentials covers a wrong password, an unknown e-mail and a
	// disabled account alike, so no answer tells a stranger which it was.
	ErrBadCredentials = errors.New("that e-mail and password do not match")
	// ErrLinkInvalid covers expired, used and unknown links.
	ErrLinkInvalid = errors.New("that link has expired or was already used")
	// ErrSignupClosed reports that the workspace does not allow sign-up.
	ErrSignupClosed = errors.New("this workspace does not allow sign-up")
	// ErrAlreadyMember reports an invitation for someone who has an account.
	ErrAlreadyMember = errors.New("that person already has an account")
	// ErrBadEmail reports an e-mail address that does not parse.
	ErrBadEmail = errors.New("enter a valid e-mail address")
	// ErrEmailTooLong reports an address longer than MaxEmailLen.
	ErrEmailTooLong = errors.New("an e-mail address can be at most 254 characters")
	// ErrNameTooLong reports a person's name longer than MaxNameRunes.
	ErrNameTooLong = errors.New("a name can be at most 100 characters")
	// ErrSignupPassword reports a sign-up confirmation with another password
	// than the one chosen at sign-up.
	ErrSignupPassword = errors.New("that is not the password you chose when signing up")
	// ErrTooManyRequests reports a client address over a form's limit.
	ErrTooManyRequests = errors.New("too many requests from your network: try again in an hour")
	// ErrForbidden reports an action the user's role does not allow.
	ErrForbidden = errors.New("you are not allowed to do that")
	// ErrNoSession reports a missing, expired or revoked session.
	ErrNoSession = errors.New("not signed in")
)

// ThrottledError reports that sign-in is paused for this account or address.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return "too many failed attempts: try again in " + e.Wait()
}

// Wait is the pause in words, rounded up to whole seconds ("1 second", "15 minutes").
func (e *ThrottledError) Wait() string {
	secs := int((e.RetryAfter + time.Second - 1) / time.Second)
	switch {
	case secs <= 1:
		return "1 second"
	case secs < 120:
		return fmt.Sprintf("%d seconds", secs)
	}
	return fmt.Sprintf("%d minutes", (secs+59)/60)
}

// Mailer queues an e-mail for durable delivery.
type Mailer interface {
	Enqueue(ctx context.Context, workspaceID int64, to, subject, body string) error
}

// Store is what the account service calls, and nothing more; the methods
// are documented on gatehouse.Store and mfa.Store.
type Store interface {
	FindWorkspaceByID(ctx context.Context, id int64) (*gatehouse.Workspace, error)
	UpdateWorkspace(ctx context.Context, id int64, u gatehouse.WorkspaceUpdate, now time.Time) (*gatehouse.Workspace, error)
	SetBrand(ctx context.Context, workspaceID int64, b gatehouse.Brand, logo *gatehouse.Logo, now time.Time, e *gatehouse.AuditEvent) (*gatehouse.Workspace, error)
	CreateUser(ctx context.Context, workspaceID int64, u *gatehouse.User) error
	FindUserByID(ctx context.Context, workspaceID, id int64) (*gatehouse.User, error)
	FindUserByEmail(ctx context.Context, workspaceID int64, email string) (*gatehouse.User, error)
	SetInviteeRole(ctx context.Context, workspaceID, userID int64, role gatehouse.Role, clientID int64, now time.Time) error
	RehashPassword(ctx context.Context, workspaceID, userID int64, old, new string, now time.Time) error
	SetPassword(ctx context.Context, workspaceID, userID int64, hash string, keepSession []byte, now time.Time, e *gatehouse.AuditEvent) error
	SetUserDisabled(ctx context.Context, workspaceID, userID int64, disabled bool, now time.Time, e *gatehouse.AuditEvent) error
	UseLink(ctx context.Context, workspaceID int64, u gatehouse.LinkUse, now time.Time) (*gatehouse.User, error)
	CreateSession(ctx context.Context, workspaceID int64, s *gatehouse.Session, passwordHash string) error
	PromoteSession(ctx context.Context, workspaceID int64, pendingHash []byte, s *gatehouse.Session) error
	MarkSession(ctx context.Context, workspaceID, sessionID int64, m gatehouse.SessionMarks) error
	FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error)
	TouchSession(ctx context.Context, workspaceID, sessionID int64, now time.Time) error
	DeleteSession(ctx context.Context, workspaceID int64, tokenHash []byte) error
	IssueToken(ctx context.Context, workspaceID int64, t *gatehouse.Token) error
	FindToken(ctx context.Context, workspaceID int64, kind gatehouse.TokenKind, hash []byte, now time.Time) (*gatehouse.Token, error)
	FindThrottle(ctx context.Context, workspaceID int64, key string) (gatehouse.Throttle, error)
	AddFailure(ctx context.Context, workspaceID int64, key string, now, forgetBefore time.Time) (gatehouse.Throttle, error)
	ResetThrottle(ctx context.Context, workspaceID int64, key string) error
	TakeLimits(ctx context.Context, workspaceID int64, now time.Time, limits ...gatehouse.Limit) (int, error)
	AddAuditEvent(ctx context.Context, workspaceID int64, e *gatehouse.AuditEvent) error
	FindFactors(ctx context.Context, workspaceID, userID int64) ([]mfa.Factor, error)
}

// Service carries out sign-in and account flows. Every field must be set but
// Logger.
type Service struct {
	Store  Store
	Hasher *password.Hasher
	Mailer Mailer
	// Jobs queues the work of the forms that must answer alike for members
	// and strangers; the outbox worker runs it through RunJob.
	Jobs Jobs
	// WorkspaceURL returns the public base URL of a workspace, for links in
	// e-mails ("http://acme.localhost:8080").
	WorkspaceURL func(slug string) string
	Now          func() time.Time
	Logger       *slog.Logger
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// MaxEmailLen is the longest e-mail address accepted, in bytes: the most a
// mail server must take (RFC 5321's 256-octet path less its angle brackets).
const MaxEmailLen = 254

// NormalizeEmail trims and lowercases an address and checks its shape.
func NormalizeEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if len(e) > MaxEmailLen {
		return "", ErrEmailTooLong
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return "", ErrBadEmail
	}
	return e, nil
}

// newToken returns a random 256-bit token for a cookie or link and its SHA-256.
func newToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on an unusable source)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 under which a token is stored. A plain hash
// suffices: tokens carry 256 random bits, so there is nothing to brute-force.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Credentials is what a sign-in form carries.
type Credentials struct {
	Email    string
	Password string
	IP       string
}

// Authenticate checks a password. Wrong password, unknown e-mail and disabled
// account cost one password hash each and all return ErrBadCredentials.
// Failures are counted in the store per account and per client IP, and a
// growing pause is enforced across instances (*ThrottledError).
func (s *Service) Authenticate(ctx context.Context, ws *gatehouse.Workspace, c Credentials) (*gatehouse.User, error) {
	now := s.Now()
	email := strings.ToLower(strings.TrimSpace(c.Email))
	acct, ip := throttleKey{"acct:" + email, accountPolicy}, throttleKey{"ip:" + gatehouse.ClientKey(c.IP), ipPolicy}
	var before gatehouse.Throttle
	for _, k := range []throttleKey{acct, ip} {
		th, err := s.Store.FindThrottle(ctx, ws.ID, k.key)
		if err != nil {
			return nil, err
		}
		if wait := k.policy.Wait(th, now); wait > 0 {
			return nil, &ThrottledError{RetryAfter: wait}
		}
		if k == acct {
			before = th
		}
	}
	// Count the attempt on the account before checking the password, so a
	// burst of parallel guesses cannot all be checked: an attempt that finds
	// another slipped in since it read the counter is refused. A success
	// clears the counter below. (A forgotten counter restarts at 1, which
	// never exceeds the old count plus one.)
	after, err := s.Store.AddFailure(ctx, ws.ID, acct.key, now, now.Add(-acct.policy.Forget))
	if err != nil {
		return nil, err
	}
	if after.Failures > before.Failures+1 {
		return nil, &ThrottledError{RetryAfter: time.Second}
	}

	u, err := s.Store.FindUserByEmail(ctx, ws.ID, email)
	if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		return nil, err
	}
	ok, rehash := false, false
	if u != nil && u.PasswordHash != "" {
		ok, rehash, err = s.Hasher.Verify(ctx, c.Password, u.PasswordHash)
		if err != nil && !errors.Is(err, password.ErrMalformedHash) {
			return nil, err
		}
	} else {
		// Unknown e-mail or invitation not yet accepted: do the same work.
		s.Hasher.VerifyDummy(ctx, c.Password)
	}
	if !ok || u.Disabled {
		var uid int64
		if u != nil {
			uid = u.ID
		}
		s.audit(ctx, ws.ID, uid, "signin.password.failed", c.IP, email)
		if _, err := s.Store.AddFailure(ctx, ws.ID, ip.key, now, now.Add(-ip.policy.Forget)); err != nil {
			return nil, err
		}
		return nil, ErrBadCredentials
	}
	if err := s.Store.ResetThrottle(ctx, ws.ID, acct.key); err != nil {
		return nil, err
	}
	if rehash {
		// Parameters changed since this hash was made: upgrade it now that we
		// hold the plain password. A failure here must not block the sign-in.
		// Only the hash is written, and only while it is the one just
		// verified: a password changed meanwhile stays.
		if h, err := s.Hasher.Hash(ctx, c.Password); err == nil {
			err := s.Store.RehashPassword(ctx, ws.ID, u.ID, u.PasswordHash, h, now)
			switch {
			case err == nil:
				u.PasswordHash, u.UpdatedAt = h, now
			case !errors.Is(err, gatehouse.ErrNotFound):
				s.logger().Warn("upgrade password hash", "user", u.ID, "err", err)
			}
		}
	}
	return u, nil
}

// SignInOptions describe the browser a session is made for.
type SignInOptions struct {
	Remember  bool
	UserAgent string
	IP        string
	// Replaces is the token of the browser's current session, if any: it is
	// deleted so the session id is rotated at every sign-in.
	Replaces string
	// AfterReset marks a login through a password reset.
	AfterReset bool
	// MailboxProven marks a login that an e-mailed link started
	// (invitation, sign-up, reset): it proved the mailbox.
	MailboxProven bool
	// TrustedDevice reports a valid trusted-device cookie for this user.
	TrustedDevice bool
	// Next is the page first asked for.
	Next string
	// Passkey marks a passwordless sign-in with a user-verified passkey
	// (SPEC §15): possession and the PIN or biometric check are both
	// factors, so the session passes the gate at once.
	Passkey bool
}

// SignedIn is a new session, the token for its cookie, and what the
// second-factor gate decided: anything but mfa.SignedIn means the session is
// pending, can reach only the verify, enrollment and logout pages, and ends
// after 10 minutes.
type SignedIn struct {
	Token    string
	Session  *gatehouse.Session
	Decision mfa.Decision
}

// SignIn is the one place a session is made. Password sign-in, invitation
// acceptance, sign-up confirmation and password reset all end here, and
// here the second-factor gate decides whether the session is signed in or
// pending: no path creates a signed-in session on its own.
func (s *Service) SignIn(ctx context.Context, ws *gatehouse.Workspace, u *gatehouse.User, o SignInOptions) (*SignedIn, error) {
	if u.WorkspaceID != ws.ID || !u.Active() {
		return nil, ErrBadCredentials
	}
	now := s.Now()
	factors, err := s.Store.FindFactors(ctx, ws.ID, u.ID)
	if err != nil {
		return nil, err
	}
	var active []gatehouse.Method
	for _, f := range factors {
		if f.Active {
			active = append(active, f.Method)
		}
	}
	d := mfa.Decide(mfa.Input{
		Plan: ws.Plan, Settings: ws.MFA, Methods: active, MailboxProven: o.MailboxProven, UserCreatedAt: u.CreatedAt,
		TrustedDevice: o.TrustedDevice, AfterReset: o.AfterReset, Now: now,
	})
	if o.Passkey {
		d = mfa.Decision{Next: mfa.SignedIn}
	}
	remember := o.Remember && ws.RememberMeEnabled
	sess := &gatehouse.Session{
		UserID: u.ID, Remember: remember, CreatedAt: now, LastSeenAt: now,
		UserAgent: gatehouse.Truncate(o.UserAgent, 256), IP: o.IP, AfterReset: o.AfterReset,
	}
	if o.MailboxProven {
		sess.MailboxProvenAt = &now
	}
	if d.Next == mfa.SignedIn {
		sess.ExpiresAt, sess.IdleTimeout = lifetime(remember, now)
		if len(active) == 0 {
			// For a user without 2FA the password just typed is the
			// re-verification that sensitive changes ask for.
			sess.ReauthAt = now
		}
		if o.TrustedDevice && len(active) > 0 {
			sess.MFAVerifiedAt = &now
		}
		if o.Passkey {
			sess.MFAVerifiedAt, sess.ReauthAt = &now, now
		}
	} else {
		sess.ExpiresAt, sess.IdleTimeout = now.Add(PendingTimeout), PendingTimeout
		sess.Next = o.Next
		if d.Next != mfa.Challenge {
			// Enrolling: the password just typed is all the user has, so it
			// allows adding the first method.
			sess.ReauthAt = now
		}
	}
	// The session is made only while u still has the password hash that
	// was checked (or that the link set, or that the passkey's user had)
	// and is enabled: a password change, reset or disable that committed
	// since, and signed u out, ends this sign-in too.
	token, err := s.replaceSession(ctx, ws.ID, o.Replaces, sess, u.PasswordHash)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	typ := "signin.password.ok"
	if o.Passkey {
		typ = "signin.passkey.ok"
	}
	s.audit(ctx, ws.ID, u.ID, typ, o.IP, d.Next.String())
	return &SignedIn{Token: token, Session: sess, Decision: d}, nil
}

// Promote ends a pending session's wait: it is replaced by a new session
// (a new id, so whatever the pending cookie was worth is gone) with the full
// lifetime, marked as verified, or with skipped as let through a grace
// period unenrolled. ErrNoSession when the pending session is gone (another
// request passed the gate with it, or the login ended).
func (s *Service) Promote(ctx context.Context, v *gatehouse.Visit, userAgent, ip string, skipped bool) (*SignedIn, error) {
	now := s.Now()
	sess := &gatehouse.Session{
		UserID: v.User.ID, Remember: v.Session.Remember, CreatedAt: now, LastSeenAt: now,
		UserAgent: gatehouse.Truncate(userAgent, 256), IP: ip, ReauthAt: now, MailboxProvenAt: v.Session.MailboxProvenAt,
	}
	if skipped {
		sess.EnrollSkippedAt = &now
	} else {
		sess.MFAVerifiedAt = &now
	}
	sess.ExpiresAt, sess.IdleTimeout = lifetime(sess.Remember, now)
	token, hash := newToken()
	sess.TokenHash = hash
	// One transaction: the pending session goes as the new one comes, and
	// of two requests passing the gate with one pending session only one
	// gets a session; the other finds the login ended.
	err := s.Store.PromoteSession(ctx, v.Workspace.ID, v.Session.TokenHash, sess)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	return &SignedIn{Token: token, Session: sess, Decision: mfa.Decision{Next: mfa.SignedIn}}, nil
}

// MarkVerified records a second-factor verification in a signed-in session
// (a re-verification, or a new method confirmed): sensitive changes are
// allowed for the next 10 minutes.
func (s *Service) MarkVerified(ctx context.Context, v *gatehouse.Visit) error {
	now := s.Now()
	if err := s.Store.MarkSession(ctx, v.Workspace.ID, v.Session.ID, gatehouse.SessionMarks{MFAVerifiedAt: &now, ReauthAt: &now}); err != nil {
		return err
	}
	v.Session.MFAVerifiedAt, v.Session.ReauthAt = &now, now
	return nil
}

// Reauthenticate checks the password of a user without 2FA for a sensitive
// change and records it in the session.
func (s *Service) Reauthenticate(ctx context.Context, v *gatehouse.Visit, plain, ip string) error {
	if _, err := s.Authenticate(ctx, &v.Workspace, Credentials{Email: v.User.Email, Password: plain, IP: ip}); err != nil {
		return err
	}
	now := s.Now()
	if err := s.Store.MarkSession(ctx, v.Workspace.ID, v.Session.ID, gatehouse.SessionMarks{ReauthAt: &now}); err != nil {
		return err
	}
	v.Session.ReauthAt = now
	return nil
}

// Recent reports whether the session re-verified within mfa.ReauthWindow.
func (s *Service) Recent(v *gatehouse.Visit) bool {
	return s.Now().Sub(v.Session.ReauthAt) <= mfa.ReauthWindow
}

func lifetime(remember bool, now time.Time) (expires time.Time, idle time.Duration) {
	if remember {
		return now.Add(RememberTimeout), RememberIdleTimeout
	}
	return now.Add(AbsoluteTimeout), IdleTimeout
}

// replaceSession deletes the session with token old (if any) and stores
// sess under a new token while its user is enabled and has passwordHash
// (gatehouse.ErrNotFound otherwise).
func (s *Service) replaceSession(ctx context.Context, workspaceID int64, old string, sess *gatehouse.Session, passwordHash string) (string, error) {
	token, hash := newToken()
	sess.TokenHash = hash
	if old != "" {
		if err := s.Store.DeleteSession(ctx, workspaceID, HashToken(old)); err != nil {
			return "", err
		}
	}
	if err := s.Store.CreateSession(ctx, workspaceID, sess, passwordHash); err != nil {
		return "", err
	}
	return token, nil
}

// audit records a security event; a failure is logged, not returned.
func (s *Service) audit(ctx context.Context, workspaceID, userID int64, typ, ip, detail string) {
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: userID, TargetID: userID, Type: typ, IP: ip, Detail: detail}
	if err := s.Store.AddAuditEvent(ctx, workspaceID, e); err != nil {
		s.logger().Error("audit", "type", typ, "err", err)
	}
}

// Visit returns the signed-in session for a cookie token, with its user and
// workspace, in one store read. Missing, expired and disabled all give
// ErrNoSession.
func (s *Service) Visit(ctx context.Context, workspaceID int64, token string) (*gatehouse.Visit, error) {
	if token == "" || len(token) > 64 {
		return nil, ErrNoSession
	}
	v, err := s.Store.FindVisit(ctx, workspaceID, HashToken(token))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if v.Session.Expired(now) || !v.User.Active() {
		return nil, ErrNoSession
	}
	if now.Sub(v.Session.LastSeenAt) >= touchEvery {
		if err := s.Store.TouchSession(ctx, workspaceID, v.Session.ID, now); err != nil {
			return nil, err
		}
		v.Session.LastSeenAt = now
	}
	return v, nil
}

// SignOut ends the session with the token.
func (s *Service) SignOut(ctx context.Context, workspaceID int64, token string) error {
	if token == "" {
		return nil
	}
	return s.Store.DeleteSession(ctx, workspaceID, HashToken(token))
}
