package mfa

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Factor is one second-factor method of a user. A user has at most one per
// method; it is pending until confirmed with a code, then active.
type Factor struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	Method      gatehouse.Method
	// Secret is the TOTP seed sealed with AES-256-GCM (see package secret),
	// bound to the workspace and user; nil for other methods.
	Secret []byte
	Phone  string // E.164, for SMS
	Active bool
	// LastStep is the last TOTP time step accepted: a step is never
	// accepted twice.
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt *time.Time
}

// Code is a one-time code sent by e-mail or SMS. Only its MAC is stored.
type Code struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	SessionID   int64 // the login attempt (session) that asked for it
	Channel     gatehouse.Method
	MAC         []byte // HMAC-SHA256 of the code under the server key
	Destination string // the address or phone it went to
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      *time.Time
}

// SendClock paces codes per user and channel, in the store so that the
// pace holds across instances.
type SendClock struct {
	LastSentAt  time.Time
	WindowStart time.Time
	WindowCount int
}

// Device is a trusted browser: it skips its user's second factor (never the
// password) until it expires. Only the SHA-256 of its token is stored.
type Device struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	TokenHash   []byte
	UserAgent   string
	CreatedAt   time.Time
	LastUsedAt  time.Time
	ExpiresAt   time.Time
}

// UserMFA is one user's two-factor state, for the users list and coverage.
type UserMFA struct {
	UserID       int64
	Methods      []gatehouse.Method // active, strongest first
	RecoveryLeft int                // unused recovery codes
	Devices      int                // unexpired trusted devices
}

// Store is what the 2FA service calls, and nothing more. Every method is
// scoped by workspace. The two-factor tables' methods are documented here,
// the passkeys' on PasskeyStore; the core methods it also calls are
// documented on gatehouse.Store.
type Store interface {
	PasskeyStore

	FindVisit(ctx context.Context, workspaceID int64, tokenHash []byte) (*gatehouse.Visit, error)
	MarkSession(ctx context.Context, workspaceID, sessionID int64, m gatehouse.SessionMarks) error
	AddSessionFailure(ctx context.Context, workspaceID, sessionID int64) (int, error)
	DeleteUserSessions(ctx context.Context, workspaceID, userID int64, exceptHash []byte) (int, error)
	FindUserByID(ctx context.Context, workspaceID, id int64) (*gatehouse.User, error)
	ListUsers(ctx context.Context, workspaceID int64) ([]gatehouse.User, error)
	UpdateWorkspace(ctx context.Context, id int64, u gatehouse.WorkspaceUpdate, now time.Time) (*gatehouse.Workspace, error)
	FindThrottle(ctx context.Context, workspaceID int64, key string) (gatehouse.Throttle, error)
	AddFailure(ctx context.Context, workspaceID int64, key string, now, forgetBefore time.Time) (gatehouse.Throttle, error)
	ResetThrottle(ctx context.Context, workspaceID int64, key string) error
	TakeLimits(ctx context.Context, workspaceID int64, now time.Time, limits ...gatehouse.Limit) (int, error)
	AddAuditEvent(ctx context.Context, workspaceID int64, e *gatehouse.AuditEvent) error

	// FindFactors returns the user's factors, active or pending, strongest first.
	FindFactors(ctx context.Context, workspaceID, userID int64) ([]Factor, error)
	// SaveFactor inserts f, or replaces the user's factor of the same method,
	// setting f.ID.
	SaveFactor(ctx context.Context, workspaceID int64, f *Factor) error
	// ChangePhone saves f, a pending SMS factor for a new number, in place of
	// the user's SMS factor (active or pending), in one transaction, setting
	// f.ID. When the factor it replaces is active and keepOneOf is not empty
	// (required mode: the workspace's allowed methods), the user must keep an
	// active factor of one of those methods, judged in the transaction:
	// ErrLastMethod, with nothing changed, otherwise. It moves the user's SMS send clock back to gapFrom
	// when it is later, so the minute since a text to the old number does not
	// hold back the first to the new one.
	ChangePhone(ctx context.Context, workspaceID int64, f *Factor, keepOneOf []gatehouse.Method, gapFrom time.Time) error
	// AddMethod turns a method on, in one transaction. It marks the pending
	// factor f active, confirmed at now, naming it as it was read when its
	// code was checked: by ID, phone and secret, so that a factor replaced
	// meanwhile (another number, another secret) is not the one activated;
	// or, when f is new (ID 0: a method with nothing to confirm), it saves f
	// as SaveFactor does. It then stores the recovery code MACs macs when
	// the user has no unused code (and reports whether it did), ends every
	// session of the user but the one with the token hash keepSession, and
	// records e. ErrNotFound, with nothing changed, when f changed, is
	// active already, or is gone.
	AddMethod(ctx context.Context, workspaceID int64, f *Factor, macs [][]byte, keepSession []byte, now time.Time, e *gatehouse.AuditEvent) (issued bool, err error)
	// RemoveMethod disables a method, in one transaction: it removes the
	// user's factor of the method, voids their recovery codes when no active
	// method remains (judged in the transaction, not from an earlier read),
	// ends every session of the user but the one with the token hash
	// keepSession, and records e. ErrNotFound, with nothing changed, when the
	// user has no factor of the method. When keepOneOf is not empty (required
	// mode: the workspace's allowed methods), the user must keep an active
	// factor of one of those methods, judged in the transaction after the
	// user's earlier writes: ErrLastMethod, with nothing changed, otherwise.
	RemoveMethod(ctx context.Context, workspaceID, userID int64, m gatehouse.Method, keepOneOf []gatehouse.Method, keepSession []byte, e *gatehouse.AuditEvent) error
	// ResetMFA is an admin reset, in one transaction: it removes the user's
	// factors, passkeys, recovery codes, trusted devices and sessions and the failure
	// counter under throttleKey, and records e. ErrNotFound, with nothing
	// changed, when there is no such user.
	ResetMFA(ctx context.Context, workspaceID, userID int64, throttleKey string, e *gatehouse.AuditEvent) error
	// UseTOTPStep records step as used on the user's TOTP factor with one
	// conditional update, only if it is later than the last used step:
	// ErrNotFound when it is not (a replay) or there is no TOTP factor.
	UseTOTPStep(ctx context.Context, workspaceID, userID, step int64) error

	// ReplaceRecoveryCodes voids the user's recovery codes and stores the
	// new MACs, in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, workspaceID, userID int64, macs [][]byte, now time.Time) error
	// ConsumeRecoveryCode marks the user's unused code with that MAC used at
	// now with one conditional update. Of simultaneous uses exactly one
	// succeeds; used and unknown codes are ErrNotFound.
	ConsumeRecoveryCode(ctx context.Context, workspaceID, userID int64, mac []byte, now time.Time) error
	// IsRecoveryCodeUsed reports whether the user has a used code with that
	// MAC (for the message "That recovery code was already used").
	IsRecoveryCodeUsed(ctx context.Context, workspaceID, userID int64, mac []byte) (bool, error)
	// CountRecoveryCodes returns how many unused codes the user has.
	CountRecoveryCodes(ctx context.Context, workspaceID, userID int64) (int, error)

	// ReserveSend takes one send from the user's clock for the channel with
	// one atomic upsert, only when the last send is at or before gapFloor and
	// the window allows it: a window starting at or before windowFloor starts
	// afresh at now, otherwise it must hold fewer than max sends. It reports
	// whether the send was granted and returns the clock after the call.
	ReserveSend(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method, now, gapFloor, windowFloor time.Time, max int) (bool, SendClock, error)
	// FindSendClock returns the user's clock for the channel; the zero
	// SendClock when none was started.
	FindSendClock(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method) (SendClock, error)
	// ReopenSendGap moves the clock's last send back to at when it is later,
	// so a new code may go out at once (the last one was used).
	ReopenSendGap(ctx context.Context, workspaceID, userID int64, channel gatehouse.Method, at time.Time) error
	// CreateCode inserts c, setting c.ID.
	CreateCode(ctx context.Context, workspaceID int64, c *Code) error
	// ConsumeCode marks the session's unused, unexpired code of the channel
	// with that MAC used at now, with one conditional update, and returns
	// it; ErrNotFound otherwise.
	ConsumeCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, mac []byte, now time.Time) (*Code, error)
	// VoidCodes marks the session's unused codes of the channel used at now,
	// so that only the newest code sent works.
	VoidCodes(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method, now time.Time) error
	// FindLatestCode returns the session's newest code of the channel, used
	// or not; ErrNotFound when there is none.
	FindLatestCode(ctx context.Context, workspaceID, sessionID int64, channel gatehouse.Method) (*Code, error)

	// CreateDevice inserts d, setting d.ID, and in the same transaction
	// deletes the user's least recently used devices beyond max.
	CreateDevice(ctx context.Context, workspaceID int64, d *Device, max int) error
	// FindDevice returns the user's device with the token hash that has not
	// expired at now; ErrNotFound otherwise (also for another user's device).
	FindDevice(ctx context.Context, workspaceID, userID int64, tokenHash []byte, now time.Time) (*Device, error)
	// TouchDevice sets the device's LastUsedAt to now.
	TouchDevice(ctx context.Context, workspaceID, deviceID int64, now time.Time) error
	// ListDevices returns the user's devices unexpired at now, most recently
	// used first.
	ListDevices(ctx context.Context, workspaceID, userID int64, now time.Time) ([]Device, error)
	// DeleteDevice removes one of the user's devices; ErrNotFound when the
	// user has no device with that ID.
	DeleteDevice(ctx context.Context, workspaceID, userID, deviceID int64) error
	// DeleteDevices removes all the user's devices and reports how many.
	DeleteDevices(ctx context.Context, workspaceID, userID int64) (int, error)

	// ListUserMFA returns the two-factor state of every user of the
	// workspace (users without any also appear, with zero values), ordered by
	// user ID, in one query: devices are counted when unexpired at now.
	ListUserMFA(ctx context.Context, workspaceID int64, now time.Time) ([]UserMFA, error)
	// ListThrottles returns the failure counters whose key starts with prefix.
	ListThrottles(ctx context.Context, workspaceID int64, prefix string) (map[string]gatehouse.Throttle, error)
}
