// Package gatehouse holds the domain types of the Gatehouse portal server and
// the interfaces its stores implement. It imports no technology: the SQL
// stores, the mail adapter and the HTTP server live in their own packages and
// only cmd/gatehouse wires them together.
package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Errors shared by every store and service. Wrap them with %w and say what
// was being done; callers test them with errors.Is.
var (
	// ErrNotFound reports that the asked-for row does not exist in the given
	// workspace (or has expired, or was already used, for single-use rows).
	ErrNotFound = errors.New("not found")
	// ErrConflict reports a uniqueness violation, such as a second workspace
	// with the same slug or a second user with the same e-mail in a workspace.
	ErrConflict = errors.New("already exists")
	// ErrInvalid reports input that breaks a domain rule.
	ErrInvalid = errors.New("invalid input")
)

// Plan is a workspace's subscription plan.
type Plan string

// The plans. Two-factor features exist on PlanPro and PlanUnlimited only.
const (
	PlanStarter   Plan = "starter"
	PlanPro       Plan = "pro"
	PlanUnlimited Plan = "unlimited"
)

// ParsePlan returns the plan named s.
func ParsePlan(s string) (Plan, error) {
	switch p := Plan(s); p {
	case PlanStarter, PlanPro, PlanUnlimited:
		return p, nil
	}
	return "", fmt.Errorf("%w: plan %q (want starter, pro or unlimited)", ErrInvalid, s)
}

// Role is a user's role inside their workspace.
type Role string

// The roles, most powerful first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleClient Role = "client"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleAdmin, RoleMember, RoleClient:
		return r, nil
	}
	return "", fmt.Errorf("%w: role %q (want owner, admin, member or client)", ErrInvalid, s)
}

// IsStaff reports whether the role works in the dashboard rather than the portal.
func (r Role) IsStaff() bool { return r != RoleClient }

// CanManageUsers reports whether the role may invite, disable and reset users.
func (r Role) CanManageUsers() bool { return r == RoleOwner || r == RoleAdmin }

// Workspace is one tenant: a business with its own portal, users and settings.
type Workspace struct {
	ID   int64
	Slug string // lowercase DNS label, the first label of the workspace's host
	Name string
	Plan Plan
	// SignupEnabled lets visitors create client accounts at /signup.
	SignupEnabled bool
	// RememberMeEnabled offers "remember me" on the login form.
	RememberMeEnabled bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateSlug reports an ErrInvalid error unless slug can be a workspace's
// host label.
func ValidateSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return fmt.Errorf("%w: slug %q must be 1-63 lowercase letters, digits or inner hyphens", ErrInvalid, slug)
	}
	switch slug {
	case "www", "api", "admin", "mail":
		return fmt.Errorf("%w: slug %q is reserved", ErrInvalid, slug)
	}
	return nil
}

// User is an account inside one workspace. The same e-mail address in two
// workspaces is two separate users.
type User struct {
	ID          int64
	WorkspaceID int64
	Email       string // stored lowercased and trimmed
	Name        string
	Role        Role
	// PasswordHash is an encoded argon2id hash, or empty while the user has
	// not yet accepted their invitation.
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Active reports whether the user can sign in at all.
func (u *User) Active() bool { return !u.Disabled && u.PasswordHash != "" }

// Session is a signed-in browser. Only the SHA-256 of its token is stored.
type Session struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	TokenHash   []byte // SHA-256 of the cookie token, 32 bytes
	Remember    bool   // survives a browser restart
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time     // absolute expiry
	IdleTimeout time.Duration // the session ends when LastSeenAt+IdleTimeout has passed
	UserAgent   string
	IP          string
}

// Expired reports whether the session is past its absolute or idle expiry at now.
func (s *Session) Expired(now time.Time) bool {
	return !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(s.IdleTimeout))
}

// Visit is what the session check of every request reads in one query: the
// session with its user and workspace.
type Visit struct {
	Session   Session
	User      User
	Workspace Workspace
}

// TokenKind names what a single-use emailed token is for.
type TokenKind string

// The token kinds.
const (
	TokenInvite        TokenKind = "invite"
	TokenPasswordReset TokenKind = "password_reset"
	// TokenSignup confirms a self sign-up: the link proves the mailbox before
	// the account can be used.
	TokenSignup TokenKind = "signup"
)

// Token is a single-use link token (invitation or password reset). Only the
// SHA-256 of the token is stored.
type Token struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	Kind        TokenKind
	Hash        []byte // SHA-256 of the token, 32 bytes
	// Payload is what the token carries to its use, such as the password
	// hash chosen at sign-up (set on the account only once the link is used).
	Payload   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Throttle is a failure counter under a key (an account or a client IP).
type Throttle struct {
	Failures      int
	LastFailureAt time.Time
}

// MessageStatus is the delivery state of an outbox message.
type MessageStatus string

// The message states.
const (
	MessagePending MessageStatus = "pending"
	MessageSent    MessageStatus = "sent"
	MessageFailed  MessageStatus = "failed" // gave up after the last retry
)

// Message is an outgoing e-mail (and, later, SMS) in the durable outbox.
type Message struct {
	ID          int64
	WorkspaceID int64
	Channel     string // "email"
	To          string
	Subject     string
	Body        string // plain text
	Status      MessageStatus
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	NextAttempt time.Time
	SentAt      *time.Time
}

// WorkspaceStore keeps workspaces.
type WorkspaceStore interface {
	// CreateWorkspace inserts w, setting w.ID. A taken slug is ErrConflict.
	CreateWorkspace(ctx context.Context, w *Workspace) error
	// FindWorkspaceByID returns the workspace or ErrNotFound.
	FindWorkspaceByID(ctx context.Context, id int64) (*Workspace, error)
	// FindWorkspaceBySlug returns the workspace or ErrNotFound.
	FindWorkspaceBySlug(ctx context.Context, slug string) (*Workspace, error)
	// UpdateWorkspace saves Name, Plan, SignupEnabled, RememberMeEnabled and
	// UpdatedAt of w (found by w.ID); ErrNotFound when there is none.
	UpdateWorkspace(ctx context.Context, w *Workspace) error
	// CountWorkspaces reports how many workspaces exist (for --demo seeding).
	CountWorkspaces(ctx context.Context) (int, error)
}

// UserStore keeps users. Every method is scoped by workspace ID.
type UserStore interface {
	// CreateUser inserts u into workspaceID, setting u.ID and u.WorkspaceID.
	// An e-mail already used in that workspace is ErrConflict.
	CreateUser(ctx context.Context, workspaceID int64, u *User) error
	// FindUserByID returns the user or ErrNotFound.
	FindUserByID(ctx context.Context, workspaceID, id int64) (*User, error)
	// FindUserByEmail returns the user with that (lowercased) e-mail or ErrNotFound.
	FindUserByEmail(ctx context.Context, workspaceID int64, email string) (*User, error)
	// ListUsers returns the workspace's users ordered by ID.
	ListUsers(ctx context.Context, workspaceID int64) ([]User, error)
	// UpdateUser saves Name, Role, PasswordHash, Disabled and UpdatedAt of u
	// (found by u.ID in workspaceID); ErrNotFound when there is none.
	UpdateUser(ctx context.Context, workspaceID int64, u *User) error
}

// SessionStore keeps signed-in sessions.
type SessionStore interface {
	// CreateSession inserts s into workspaceID, setting s.ID.
	CreateSession(ctx context.Context, workspaceID int64, s *Session) error
	// FindVisit returns the session with the token hash in workspaceID, joined
	// with its user and workspace, in one indexed read. It returns ErrNotFound
	// when there is none; it does not judge expiry (see Session.Expired).
	FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*Visit, error)
	// TouchSession sets the session's LastSeenAt to now.
	TouchSession(ctx context.Context, workspaceID, sessionID int64, now time.Time) error
	// DeleteSession removes the session with the token hash, if any.
	DeleteSession(ctx context.Context, workspaceID int64, tokenHash []byte) error
	// DeleteUserSessions removes every session of the user except the one with
	// the token hash exceptHash (nil removes all). It reports how many it removed.
	DeleteUserSessions(ctx context.Context, workspaceID, userID int64, exceptHash []byte) (int, error)
	// DeleteExpiredSessions removes sessions whose absolute expiry is before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// TokenStore keeps single-use link tokens.
type TokenStore interface {
	// CreateToken inserts t into workspaceID, setting t.ID.
	CreateToken(ctx context.Context, workspaceID int64, t *Token) error
	// FindToken returns the unused, unexpired token of that kind and hash, or
	// ErrNotFound. It does not use it up.
	FindToken(ctx context.Context, workspaceID int64, kind TokenKind, hash []byte, now time.Time) (*Token, error)
	// ConsumeToken marks the unused, unexpired token of that kind and hash as
	// used at now with one conditional update and returns it. Of two
	// simultaneous calls for one token exactly one succeeds; the other, and
	// any call for a used, expired or unknown token, gets ErrNotFound.
	ConsumeToken(ctx context.Context, workspaceID int64, kind TokenKind, hash []byte, now time.Time) (*Token, error)
	// DeleteUserTokens removes every token of that kind for the user (a new
	// invitation or reset link voids the older ones).
	DeleteUserTokens(ctx context.Context, workspaceID, userID int64, kind TokenKind) error
}

// ThrottleStore keeps failure counters so that throttling holds across
// processes sharing one database.
type ThrottleStore interface {
	// AddFailure atomically adds one failure under key at now and returns the
	// counter after the addition. A counter whose last failure came before
	// forgetBefore is stale: it restarts at one.
	AddFailure(ctx context.Context, workspaceID int64, key string, now, forgetBefore time.Time) (Throttle, error)
	// FindThrottle returns the counter under key; a key never seen is the zero
	// Throttle and no error.
	FindThrottle(ctx context.Context, workspaceID int64, key string) (Throttle, error)
	// ResetThrottle clears the counter under key.
	ResetThrottle(ctx context.Context, workspaceID int64, key string) error
}

// OutboxStore is the durable queue of outgoing messages. The sender works for
// every workspace, so ClaimMessages and ListMessages are not scoped.
type OutboxStore interface {
	// EnqueueMessage inserts m as pending, due at m.NextAttempt, setting m.ID.
	EnqueueMessage(ctx context.Context, workspaceID int64, m *Message) error
	// ClaimMessages returns up to limit pending messages due at now and leases
	// them until leaseUntil, so no other sender picks them up meanwhile; a
	// message whose lease ran out (a crashed sender) is due again.
	ClaimMessages(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Message, error)
	// MarkMessageSent records a delivery.
	MarkMessageSent(ctx context.Context, id int64, now time.Time) error
	// MarkMessageFailed records a failed attempt: it counts the attempt, keeps
	// errMsg and either schedules the next attempt at next (status stays
	// pending) or, when giveUp, sets the status to failed.
	MarkMessageFailed(ctx context.Context, id int64, errMsg string, next time.Time, giveUp bool) error
	// ListMessages returns the newest messages first, at most limit.
	ListMessages(ctx context.Context, limit int) ([]Message, error)
}

// Store is everything a Gatehouse database keeps.
type Store interface {
	WorkspaceStore
	UserStore
	SessionStore
	TokenStore
	ThrottleStore
	OutboxStore
	// Migrate brings the schema up to date.
	Migrate(ctx context.Context) error
	// Close releases the database.
	Close() error
}
