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
	// ErrPermanent marks a delivery failure (e-mail or SMS) that retrying
	// cannot fix: the outbox gives such a message up at once.
	ErrPermanent = errors.New("permanent delivery failure")
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

// CanManage reports whether actor may reset or disable target: the owner
// may act on anyone else, an admin on anyone but the owner, and nobody on
// themselves (a reset of one's own 2FA would skip re-verification).
func (actor *User) CanManage(target *User) bool {
	if actor.ID == target.ID || actor.WorkspaceID != target.WorkspaceID || !actor.Role.CanManageUsers() {
		return false
	}
	return actor.Role == RoleOwner || target.Role != RoleOwner
}

// MFAMode is a workspace's two-factor enforcement mode (SPEC §3).
type MFAMode string

// The modes.
const (
	MFADisabled MFAMode = "disabled"
	MFAOptional MFAMode = "optional"
	MFARequired MFAMode = "required"
)

// ParseMFAMode returns the mode named s.
func ParseMFAMode(s string) (MFAMode, error) {
	switch m := MFAMode(s); m {
	case MFADisabled, MFAOptional, MFARequired:
		return m, nil
	}
	return "", fmt.Errorf("%w: mode %q (want disabled, optional or required)", ErrInvalid, s)
}

// Method is a second-factor method a user can enroll.
type Method string

// The methods, strongest first.
const (
	// MethodPasskey is a WebAuthn credential (SPEC §15): phishing-resistant,
	// so it ranks above every code.
	MethodPasskey Method = "passkey"
	MethodTOTP    Method = "totp"
	MethodSMS     Method = "sms"
	MethodEmail   Method = "email"
)

// Methods lists every method, strongest first.
var Methods = []Method{MethodPasskey, MethodTOTP, MethodSMS, MethodEmail}

// ParseMethod returns the method named s.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case MethodPasskey, MethodTOTP, MethodSMS, MethodEmail:
		return m, nil
	}
	return "", fmt.Errorf("%w: method %q (want passkey, totp, sms or email)", ErrInvalid, s)
}

// MFASettings are a workspace's two-factor settings, chosen by its owner.
type MFASettings struct {
	Mode MFAMode
	// Methods are the allowed methods, strongest first; never empty.
	Methods []Method
	// TrustedDeviceDays is the trusted-device lifetime, 1-90; 0 hides
	// "Remember this device".
	TrustedDeviceDays int
	// GraceDays lets unenrolled users skip enrollment in required mode for
	// this many days after ModeChangedAt or their creation, whichever is later.
	GraceDays int
	// ModeChangedAt is when Mode last changed.
	ModeChangedAt time.Time
}

// DefaultMFASettings are the settings of a new workspace: passkeys, the
// authenticator app and e-mail codes allowed (SPEC §15).
func DefaultMFASettings(now time.Time) MFASettings {
	return MFASettings{Mode: MFADisabled, Methods: []Method{MethodPasskey, MethodTOTP, MethodEmail}, TrustedDeviceDays: 30, ModeChangedAt: now}
}

// Allows reports whether m is among the allowed methods.
func (s MFASettings) Allows(m Method) bool {
	for _, a := range s.Methods {
		if a == m {
			return true
		}
	}
	return false
}

// Validate reports an ErrInvalid error unless the settings can be saved:
// a non-empty set of known methods, trusted-device days 0-90, grace days
// 0-30. smsReady reports whether the workspace's Twilio account is set,
// without which SMS cannot be allowed.
func (s MFASettings) Validate(smsReady bool) error {
	if _, err := ParseMFAMode(string(s.Mode)); err != nil {
		return err
	}
	if len(s.Methods) == 0 {
		return fmt.Errorf("%w: allow at least one method", ErrInvalid)
	}
	for _, m := range s.Methods {
		if _, err := ParseMethod(string(m)); err != nil {
			return err
		}
		if m == MethodSMS && !smsReady {
			return fmt.Errorf("%w: SMS can be allowed only once the workspace's Twilio account is set", ErrInvalid)
		}
	}
	if s.TrustedDeviceDays < 0 || s.TrustedDeviceDays > 90 {
		return fmt.Errorf("%w: trusted-device lifetime must be 0-90 days", ErrInvalid)
	}
	if s.GraceDays < 0 || s.GraceDays > 30 {
		return fmt.Errorf("%w: grace period must be 0-30 days", ErrInvalid)
	}
	return nil
}

// SortMethods returns the distinct methods of ms in strength order.
func SortMethods(ms []Method) []Method {
	var out []Method
	for _, m := range Methods {
		for _, x := range ms {
			if x == m {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// TwilioAccount is a workspace's own Twilio account, through which its SMS
// codes are sent (and billed).
type TwilioAccount struct {
	AccountSID string
	// AuthToken is sealed with the server key (package secret), bound to the
	// workspace; it is never shown again once set.
	AuthToken []byte
	// From is the sender number (E.164); MessagingServiceSID is the
	// alternative. Exactly one is set.
	From                string
	MessagingServiceSID string
}

// Ready reports whether the account is complete enough to send.
func (t TwilioAccount) Ready() bool {
	return t.AccountSID != "" && len(t.AuthToken) > 0 && (t.From != "" || t.MessagingServiceSID != "")
}

// SMSGuard limits SMS sends, the defence against SMS-pumping fraud on the
// owner's Twilio bill (SPEC §3).
type SMSGuard struct {
	// Countries are the ISO 3166 alpha-2 codes (upper case) that may receive
	// codes; empty allows any and leaves Twilio's geo permissions in charge.
	Countries []string
	HourlyCap int // SMS per workspace per hour
	DailyCap  int // SMS per workspace per day
}

// TwilioTokenAAD binds a sealed Twilio token to its workspace: a token
// copied to another workspace's row fails to open.
func TwilioTokenAAD(workspaceID int64) string { return fmt.Sprintf("twilio/ws:%d", workspaceID) }

// DefaultSMSGuard is the guard of a new workspace.
func DefaultSMSGuard() SMSGuard { return SMSGuard{HourlyCap: 100, DailyCap: 1000} }

// AllowsCountry reports whether the guard lets codes go to the country.
func (g SMSGuard) AllowsCountry(iso string) bool {
	if len(g.Countries) == 0 {
		return true
	}
	for _, c := range g.Countries {
		if c == iso {
			return true
		}
	}
	return false
}

// HasMFA reports whether the plan includes two-factor features.
func (p Plan) HasMFA() bool { return p == PlanPro || p == PlanUnlimited }

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
	MFA               MFASettings
	Twilio            TwilioAccount
	SMSGuard          SMSGuard
	Brand             Brand
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// DisplayName is the name the workspace shows people in pages and
// e-mails: its brand's display name, else its name.
func (w *Workspace) DisplayName() string {
	if w.Brand.DisplayName != "" {
		return w.Brand.DisplayName
	}
	return w.Name
}

// NewWorkspace returns a workspace (not yet stored) with the defaults of
// SPEC §3, §6 and §15: two-step verification disabled with methods
// passkey, totp and email, 30-day trusted devices, "remember me" offered, sign-up off, and the
// default SMS guard, so a new workspace is never uncapped by accident.
func NewWorkspace(slug, name string, plan Plan, now time.Time) *Workspace {
	return &Workspace{
		Slug: slug, Name: name, Plan: plan, RememberMeEnabled: true,
		MFA: DefaultMFASettings(now), SMSGuard: DefaultSMSGuard(), CreatedAt: now, UpdatedAt: now,
	}
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
	// EmailVerified reports that the user proved the mailbox: by an
	// invitation, sign-up or reset link, or by an e-mail code.
	EmailVerified bool
	// ClientID is the client (package portal) a client user belongs to; 0
	// for staff and for a client user not yet given one. It is set when
	// the user is created or invited (CreateUser, SetInviteeRole) or with
	// the portal store's SetUserClient, never by UpdateUser.
	ClientID  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PasswordWithheld stands in a visit's user for a password hash the session
// check did not read. It is no argon2id hash, so nothing verifies against it.
const PasswordWithheld = "(withheld)"

// TokenWithheld, as bytes, stands in a visit's workspace for the sealed
// Twilio token the session check did not read: it tells only that one is
// set (TwilioAccount.Ready). It opens under no key, and a workspace update
// that carries it back keeps the stored token.
const TokenWithheld = "(withheld)"

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

	// MFAVerifiedAt is when the session passed a second factor; nil until
	// then. A session whose user must pass one and has not is pending.
	MFAVerifiedAt *time.Time
	// ReauthAt is when the user last proved themselves in this session (the
	// password at sign-in, a second factor, or a re-verification); sensitive
	// changes need it within the last 10 minutes.
	ReauthAt time.Time
	// MFAFailures counts wrong codes in this pending login, over every method.
	MFAFailures int
	// AfterReset marks a login that came through a password reset: the
	// mailbox is proven already, so an e-mail code is refused as the second
	// factor when the user has another method.
	AfterReset bool
	// Next is the page first asked for, to land on after verification.
	Next string
	// MailboxProvenAt is when this login proved the mailbox: an e-mailed
	// code passed in it, or the e-mailed link (invitation, sign-up, reset)
	// that started it. A proof from an earlier login does not count.
	MailboxProvenAt *time.Time
	// EnrollSkippedAt is when the user chose "Remind me later" in a grace
	// period: the session may pass the gate unenrolled, but is not verified.
	EnrollSkippedAt *time.Time
}

// SessionMarks are what a request records in a session as it goes; nil
// fields are left as they are stored.
type SessionMarks struct {
	MFAVerifiedAt   *time.Time
	ReauthAt        *time.Time
	MailboxProvenAt *time.Time
}

// Expired reports whether the session is past its absolute or idle expiry at now.
func (s *Session) Expired(now time.Time) bool {
	return !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(s.IdleTimeout))
}

// Visit is what the session check of every request reads in one query: the
// session with its user and workspace. The user's PasswordHash and the
// workspace's sealed Twilio token are never read for it (SPEC §11): they
// are PasswordWithheld and TokenWithheld when set, empty when not, which is
// all User.Active and TwilioAccount.Ready need.
type Visit struct {
	Session   Session
	User      User
	Workspace Workspace
	// Methods are the user's active second-factor methods (allowed or not),
	// strongest first.
	Methods []Method
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
	Channel     string // "email", "sms", or "job" (work left for after an answer)
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

// AuditEvent is one security event (SPEC §8).
type AuditEvent struct {
	ID          int64
	WorkspaceID int64
	At          time.Time
	ActorID     int64  // the user who acted; 0 for the system or a stranger
	TargetID    int64  // the user acted upon; 0 when none
	Type        string // e.g. "signin.ok", "mfa.challenge.failed"
	IP          string
	Detail      string // a short human-readable note, never a secret
	// ClientID and DocumentID name the portal client and document the
	// event concerns; 0 when none.
	ClientID   int64
	DocumentID int64
}

// AuditFilter selects audit events. Zero fields select everything.
type AuditFilter struct {
	UserID     int64     // events whose actor or target is this user
	Type       string    // events whose type starts with this ("mfa." or "signin.password.failed")
	From       time.Time // at or after
	To         time.Time // before
	ClientID   int64     // events about this portal client
	DocumentID int64     // events about this document
	BeforeID   int64     // keyset pagination: events with a smaller ID
	Limit      int       // at most this many (FindAuditEvents only; 0 means 50)
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// AddAuditEvent inserts e into workspaceID, setting e.ID.
	AddAuditEvent(ctx context.Context, workspaceID int64, e *AuditEvent) error
	// ListAuditEvents returns the workspace's events, newest first, at most limit.
	ListAuditEvents(ctx context.Context, workspaceID int64, limit int) ([]AuditEvent, error)
	// FindAuditEvents returns the events matching f, newest (highest ID) first.
	FindAuditEvents(ctx context.Context, workspaceID int64, f AuditFilter) ([]AuditEvent, error)
	// EachAuditEvent calls fn for every event matching f (Limit ignored),
	// newest first, streaming rows so a large log never sits in memory; it
	// stops at fn's first error and returns it.
	EachAuditEvent(ctx context.Context, workspaceID int64, f AuditFilter, fn func(AuditEvent) error) error
}

// WorkspaceStore keeps workspaces.
type WorkspaceStore interface {
	// CreateWorkspace inserts w, setting w.ID. A taken slug is ErrConflict.
	CreateWorkspace(ctx context.Context, w *Workspace) error
	// FindWorkspaceByID returns the workspace or ErrNotFound.
	FindWorkspaceByID(ctx context.Context, id int64) (*Workspace, error)
	// FindWorkspaceBySlug returns the workspace or ErrNotFound.
	FindWorkspaceBySlug(ctx context.Context, slug string) (*Workspace, error)
	// UpdateWorkspace sets the fields of u that are not nil on the workspace
	// with the ID, and UpdatedAt to now, in one statement, and returns the
	// workspace as it is after the write. Fields left nil keep whatever is
	// stored, so two writers of different fields (the operator's CLI and the
	// owner's settings page) never undo each other. A new MFAMode restarts
	// the grace clock (ModeChangedAt = now) only when it differs from the
	// stored mode. ErrNotFound when there is no such workspace.
	UpdateWorkspace(ctx context.Context, id int64, u WorkspaceUpdate, now time.Time) (*Workspace, error)
	// SetBrand writes b's display name and accent colour and, when logo is
	// not nil, replaces the workspace's logo with it (a logo without PNG
	// removes it; Brand.Logo becomes its ID, or ""), sets UpdatedAt to now
	// and records e, all in one transaction, and returns the workspace
	// after the write. b.Logo is ignored. ErrNotFound, with nothing
	// changed, when there is no such workspace.
	SetBrand(ctx context.Context, workspaceID int64, b Brand, logo *Logo, now time.Time, e *AuditEvent) (*Workspace, error)
	// FindLogo returns the workspace's logo; ErrNotFound when it has none.
	FindLogo(ctx context.Context, workspaceID int64) (*Logo, error)
	// CountWorkspaces reports how many workspaces exist (for --demo seeding).
	CountWorkspaces(ctx context.Context) (int, error)
}

// UserStore keeps users. Every method is scoped by workspace ID.
type UserStore interface {
	// CreateUser inserts u into workspaceID, setting u.ID and u.WorkspaceID.
	// An e-mail already used in that workspace is ErrConflict. A non-zero
	// u.ClientID must name a client of the workspace, else ErrNotFound and
	// no user is made: the user and their client are one write.
	CreateUser(ctx context.Context, workspaceID int64, u *User) error
	// FindUserByID returns the user or ErrNotFound.
	FindUserByID(ctx context.Context, workspaceID, id int64) (*User, error)
	// FindUserByEmail returns the user with that (lowercased) e-mail or ErrNotFound.
	FindUserByEmail(ctx context.Context, workspaceID int64, email string) (*User, error)
	// ListUsers returns the workspace's users ordered by ID.
	ListUsers(ctx context.Context, workspaceID int64) ([]User, error)
	// SetUserRole sets the user's role; ErrNotFound when there is none.
	SetUserRole(ctx context.Context, workspaceID, userID int64, role Role, now time.Time) error
	// SetInviteeRole sets the role of an invited user who has not accepted
	// yet (no password), with one conditional update; ErrNotFound when
	// there is no such user or they have set a password meanwhile. A
	// non-zero clientID also puts the invitee in that client of the
	// workspace, in the same update (ErrNotFound when there is no such
	// client); 0 leaves their client as it is.
	SetInviteeRole(ctx context.Context, workspaceID, userID int64, role Role, clientID int64, now time.Time) error
	// RehashPassword replaces the user's password hash old with new (the
	// same password under new parameters), only while the stored hash is
	// still old: a password changed meanwhile stays. ErrNotFound otherwise.
	RehashPassword(ctx context.Context, workspaceID, userID int64, old, new string, now time.Time) error
	// SetPassword sets the user's password hash and, in the same
	// transaction, ends every session of the user except the one with the
	// token hash keepSession (nil ends all), forgets their trusted devices
	// and records e: whoever knew the old password loses what it got them.
	// ErrNotFound, with nothing changed, when there is no such user.
	SetPassword(ctx context.Context, workspaceID, userID int64, hash string, keepSession []byte, now time.Time, e *AuditEvent) error
	// SetUserDisabled disables or re-enables the user and records e, in one
	// transaction; disabling also ends the user's sessions and forgets their
	// trusted devices. ErrNotFound, with nothing changed, when there is no
	// such user.
	SetUserDisabled(ctx context.Context, workspaceID, userID int64, disabled bool, now time.Time, e *AuditEvent) error
	// UseLink spends the unused, unexpired link of u.Kind and u.Hash and
	// applies u to the link's user, in one transaction, and returns the user
	// after the change. Of two simultaneous uses exactly one succeeds; a
	// used, expired or unknown link, or an account u refuses, is
	// ErrNotFound, and then nothing changes (the link stays as it was).
	UseLink(ctx context.Context, workspaceID int64, u LinkUse, now time.Time) (*User, error)
}

// WorkspaceUpdate names the workspace fields a write changes; nil fields
// stay as they are stored.
type WorkspaceUpdate struct {
	Name              *string
	Plan              *Plan
	SignupEnabled     *bool
	RememberMeEnabled *bool
	MFAMode           *MFAMode
	MFAMethods        *[]Method
	TrustedDeviceDays *int
	GraceDays         *int
	Twilio            *TwilioAccount
	SMSGuard          *SMSGuard
	// The brand is not here: SetBrand is its one write, with its logo and
	// audit event, behind account.UpdateBrand's checks.
}

// Brand is how a workspace presents itself (SPEC §16): the name shown in
// its pages and e-mails (the workspace name when empty) and its accent
// colour as #rrggbb (the product's when empty).
type Brand struct {
	DisplayName string
	Accent      string
	// Logo is the ID of the workspace's logo (see Logo), "" for none. Only
	// SetBrand writes it, with the logo itself.
	Logo string
}

// Logo is a workspace's logo as served: a PNG that Gatehouse drew itself
// from an upload (never the uploaded bytes), and an ID that changes with
// its content, for URLs that can be cached for good.
type Logo struct {
	ID        string
	PNG       []byte
	UpdatedAt time.Time
}

// MFASettingsUpdate is the update that saves every owner-chosen field of
// s (ModeChangedAt is the store's to keep).
func MFASettingsUpdate(s MFASettings) WorkspaceUpdate {
	return WorkspaceUpdate{MFAMode: &s.Mode, MFAMethods: &s.Methods, TrustedDeviceDays: &s.TrustedDeviceDays, GraceDays: &s.GraceDays}
}

// LinkUse is what spending an e-mailed link (invitation, sign-up
// confirmation, password reset) writes to its user. The link came by
// e-mail, so using it also marks the mailbox proven (EmailVerified).
type LinkUse struct {
	Kind TokenKind
	Hash []byte // SHA-256 of the link's token
	// PasswordHash is the account's new password hash.
	PasswordHash string
	// Name, when not nil, is the account's new name.
	Name *string
	// FirstPassword refuses an account that has a password already: it was
	// activated another way meanwhile, and the link must not take it over.
	FirstPassword bool
	// SignOut ends every session of the user and forgets their trusted
	// devices (a reset: whoever knew the old password loses what it got them).
	SignOut bool
	// ClearThrottle, when set, is a failure counter cleared with the change.
	ClearThrottle string
	// Audit, when set, is recorded with the change; its TargetID (and
	// ActorID, when 0) become the link's user.
	Audit *AuditEvent
}

// SessionStore keeps signed-in sessions.
type SessionStore interface {
	// CreateSession inserts s into workspaceID, setting s.ID, only while its
	// user is enabled and still has passwordHash (the one its sign-in
	// verified): ErrNotFound otherwise, so a sign-in that checked the old
	// password cannot land its session after a password change, reset or
	// disable has signed the user out.
	CreateSession(ctx context.Context, workspaceID int64, s *Session, passwordHash string) error
	// MarkSession sets the marks of m that are not nil on the session, and
	// nothing else: a request that marks one thing never undoes a mark
	// another request made meanwhile. ErrNotFound when the session is gone.
	MarkSession(ctx context.Context, workspaceID, sessionID int64, m SessionMarks) error
	// AddSessionFailure atomically counts one wrong code in the session and
	// returns the new count; ErrNotFound when the session is gone.
	AddSessionFailure(ctx context.Context, workspaceID, sessionID int64) (int, error)
	// FindVisit returns the session with the token hash in workspaceID, joined
	// with its user, workspace and the user's active methods, in one read. It returns ErrNotFound
	// when there is none; it does not judge expiry (see Session.Expired).
	FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*Visit, error)
	// TouchSession sets the session's LastSeenAt to now.
	TouchSession(ctx context.Context, workspaceID, sessionID int64, now time.Time) error
	// DeleteSession removes the session with the token hash, if any.
	DeleteSession(ctx context.Context, workspaceID int64, tokenHash []byte) error
	// PromoteSession replaces the pending session with the token hash
	// pendingHash by s (a new id for a login that passed the gate), setting
	// s.ID, in one transaction. ErrNotFound, with nothing stored, when there
	// is no such session: another request already passed the gate with it,
	// or it ended.
	PromoteSession(ctx context.Context, workspaceID int64, pendingHash []byte, s *Session) error
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
	// IssueToken voids the user's older tokens of t.Kind and inserts t,
	// setting t.ID, in one transaction: of simultaneous calls for one user
	// and kind, exactly one token stays live.
	IssueToken(ctx context.Context, workspaceID int64, t *Token) error
	// FindToken returns the unused, unexpired token of that kind and hash, or
	// ErrNotFound. It does not use it up.
	FindToken(ctx context.Context, workspaceID int64, kind TokenKind, hash []byte, now time.Time) (*Token, error)
	// ConsumeToken marks the unused, unexpired token of that kind and hash as
	// used at now with one conditional update and returns it. Of two
	// simultaneous calls for one token exactly one succeeds; the other, and
	// any call for a used, expired or unknown token, gets ErrNotFound.
	ConsumeToken(ctx context.Context, workspaceID int64, kind TokenKind, hash []byte, now time.Time) (*Token, error)
}

// Limit caps the uses counted under Key: at most Max in a window that
// opens with the first use and lasts Window.
type Limit struct {
	Key    string
	Max    int
	Window time.Duration
}

// ThrottleStore keeps failure counters and limits, so that throttling holds
// across processes sharing one database.
type ThrottleStore interface {
	// TakeLimits counts one use at now against every limit, all or none, in
	// one transaction whose conditional upserts decide each cap: parallel
	// requests, on one instance or several, cannot pass one. It returns the
	// index of the first full limit (nothing is counted then), or -1 when
	// the use was counted against them all. A window that opened at or
	// before now minus its length opens afresh at now; a Max below 1 is
	// always full.
	TakeLimits(ctx context.Context, workspaceID int64, now time.Time, limits ...Limit) (int, error)
	// AddFailure atomically adds one failure under key at now and returns the
	// counter after the addition. A counter whose last failure came before
	// forgetBefore is stale: it restarts at one.
	AddFailure(ctx context.Context, workspaceID int64, key string, now, forgetBefore time.Time) (Throttle, error)
	// FindThrottle returns the counter under key; a key never seen is the zero
	// Throttle and no error.
	FindThrottle(ctx context.Context, workspaceID int64, key string) (Throttle, error)
	// ResetThrottle clears the counter under key.
	ResetThrottle(ctx context.Context, workspaceID int64, key string) error
	// DeleteStaleCounters removes, in every workspace, the limits whose
	// window opened before before and the failure counters whose last
	// failure came before it, returning how many it removed. Called with
	// now minus CounterRetention it removes only rows that no longer count.
	DeleteStaleCounters(ctx context.Context, before time.Time) (int, error)
}

// CounterRetention is how long a limit or failure counter can matter after
// its window opened or its last failure: longer than every Limit.Window and
// every Backoff's Forget and LockFor in use (the longest are a day), so the
// hourly sweep may delete older rows. Without it, counters keyed by client
// address would grow without end.
const CounterRetention = 48 * time.Hour

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
	// ScrubMessage blanks the subject and body of the message (it was sent
	// or given up on): they may hold a code or a link, which must not stay
	// stored in the clear.
	ScrubMessage(ctx context.Context, id int64) error
	// FindMessage returns the message with the ID; ErrNotFound otherwise.
	FindMessage(ctx context.Context, id int64) (*Message, error)
	// CountMessages counts the workspace's messages on the channel created
	// at or after since, whatever their status (the SMS caps).
	CountMessages(ctx context.Context, workspaceID int64, channel string, since time.Time) (int, error)
}

// Store is everything a Gatehouse database keeps.
type Store interface {
	WorkspaceStore
	UserStore
	SessionStore
	TokenStore
	ThrottleStore
	OutboxStore
	AuditStore
	// Migrate brings the schema up to date.
	Migrate(ctx context.Context) error
	// Close releases the database.
	Close() error
}
