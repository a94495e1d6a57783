package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/password"
)

// CheckPassword applies the password rules of SPEC §6 for the workspace.
func CheckPassword(ws *gatehouse.Workspace, plain string) error {
	return password.Check(plain, ws.Name, ws.Slug)
}

// NewUser describes an account created by the operator or the owner.
type NewUser struct {
	Email    string
	Name     string
	Role     gatehouse.Role
	Password string // empty: send an invitation instead
	// ClientID puts a client user in that client of the workspace, in the
	// same write that makes the user (0: none yet).
	ClientID int64
}

// CreateUser creates an account. With a password it can sign in at once;
// without one, an invitation link is e-mailed and returned.
func (s *Service) CreateUser(ctx context.Context, ws *gatehouse.Workspace, nu NewUser) (*gatehouse.User, string, error) {
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return nil, "", err
	}
	if _, err := gatehouse.ParseRole(string(nu.Role)); err != nil {
		return nil, "", err
	}
	if nu.ClientID != 0 && nu.Role != gatehouse.RoleClient {
		return nil, "", fmt.Errorf("%w: only client users belong to a client", gatehouse.ErrInvalid)
	}
	name, err := checkName(nu.Name)
	if err != nil {
		return nil, "", err
	}
	now := s.Now()
	u := &gatehouse.User{Email: email, Name: name, Role: nu.Role, ClientID: nu.ClientID, CreatedAt: now, UpdatedAt: now}
	if nu.Password != "" {
		if err := CheckPassword(ws, nu.Password); err != nil {
			return nil, "", err
		}
		if u.PasswordHash, err = s.Hasher.Hash(ctx, nu.Password); err != nil {
			return nil, "", err
		}
	}
	if err := s.Store.CreateUser(ctx, ws.ID, u); err != nil {
		if errors.Is(err, gatehouse.ErrConflict) {
			return nil, "", ErrAlreadyMember
		}
		return nil, "", err
	}
	if nu.Password != "" {
		return u, "", nil
	}
	link, err := s.sendInvite(ctx, ws, u)
	return u, link, err
}

// Invite creates an account for email with the role, waiting for its owner
// to accept the e-mailed link (valid 7 days, single use). Inviting again
// someone who has not accepted yet sends a new link and voids the old one.
// actor is who invites (nil for the operator): re-inviting someone who has
// not accepted yet may change their role, so it needs the right to manage
// them, and the owner is never re-invited.
func (s *Service) Invite(ctx context.Context, ws *gatehouse.Workspace, actor *gatehouse.User, email string, role gatehouse.Role) (*gatehouse.User, string, error) {
	return s.InviteTo(ctx, ws, actor, email, role, 0)
}

// InviteTo is Invite putting a client user in the workspace's client
// clientID (0: leave their client as it is) in the same write that makes
// or re-invites them, so no invitee is ever left half in a client. The
// caller checks that the client is one the actor sees.
func (s *Service) InviteTo(ctx context.Context, ws *gatehouse.Workspace, actor *gatehouse.User, email string, role gatehouse.Role, clientID int64) (*gatehouse.User, string, error) {
	if role == gatehouse.RoleOwner {
		return nil, "", fmt.Errorf("%w: a workspace has one owner", gatehouse.ErrInvalid)
	}
	if clientID != 0 && role != gatehouse.RoleClient {
		return nil, "", fmt.Errorf("%w: only client users belong to a client", gatehouse.ErrInvalid)
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	u, err := s.Store.FindUserByEmail(ctx, ws.ID, email)
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return s.CreateUser(ctx, ws, NewUser{Email: email, Role: role, ClientID: clientID})
	case err != nil:
		return nil, "", err
	case u.PasswordHash != "":
		return nil, "", ErrAlreadyMember
	case u.Role == gatehouse.RoleOwner || (actor != nil && !actor.CanManage(u)):
		return nil, "", ErrForbidden
	}
	// Only while the invitation is still open: an acceptance that lands
	// after the read above makes the person a member, whose role an
	// invitation does not change. (A client not in the workspace also
	// changes nothing, but the caller checked it.)
	now := s.Now()
	err = s.Store.SetInviteeRole(ctx, ws.ID, u.ID, role, clientID, now)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, "", ErrAlreadyMember
	}
	if err != nil {
		return nil, "", err
	}
	u.Role, u.UpdatedAt = role, now
	if clientID != 0 {
		u.ClientID = clientID
	}
	link, err := s.sendInvite(ctx, ws, u)
	return u, link, err
}

func (s *Service) sendInvite(ctx context.Context, ws *gatehouse.Workspace, u *gatehouse.User) (string, error) {
	token, err := s.issueToken(ctx, ws, u, gatehouse.TokenInvite, "")
	if err != nil {
		return "", err
	}
	link := s.WorkspaceURL(ws.Slug) + "/invite/" + token
	body := fmt.Sprintf("You have been invited to %s.\n\nSet your name and password here (the link works once, for 7 days):\n%s\n", ws.DisplayName(), link)
	if err := s.Mailer.Enqueue(ctx, ws.ID, u.Email, "You're invited to "+ws.DisplayName(), body); err != nil {
		return "", err
	}
	return link, nil
}

// issueToken voids the user's older links of the kind and makes a new one,
// in one transaction: two requests at once leave one live link.
func (s *Service) issueToken(ctx context.Context, ws *gatehouse.Workspace, u *gatehouse.User, kind gatehouse.TokenKind, payload string) (string, error) {
	ttl := map[gatehouse.TokenKind]time.Duration{
		gatehouse.TokenInvite: InviteTTL, gatehouse.TokenPasswordReset: ResetTTL, gatehouse.TokenSignup: SignupTTL,
	}[kind]
	now := s.Now()
	token, hash := newToken()
	t := &gatehouse.Token{UserID: u.ID, Kind: kind, Hash: hash, Payload: payload, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.Store.IssueToken(ctx, ws.ID, t); err != nil {
		return "", err
	}
	return token, nil
}

// LinkUser returns the user a valid, unused link of the kind belongs to,
// without using it up (for showing the form).
func (s *Service) LinkUser(ctx context.Context, ws *gatehouse.Workspace, kind gatehouse.TokenKind, token string) (*gatehouse.User, error) {
	t, err := s.Store.FindToken(ctx, ws.ID, kind, HashToken(token), s.Now())
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	return s.Store.FindUserByID(ctx, ws.ID, t.UserID)
}

// useLink runs prepare on the valid, unused link first (so bad input never
// burns it), then spends the link and writes what prepare returned in one
// transaction: of two simultaneous uses exactly one gets past this point,
// and a failure leaves the link and the account as they were.
func (s *Service) useLink(ctx context.Context, ws *gatehouse.Workspace, kind gatehouse.TokenKind, token string, prepare func(*gatehouse.Token) (gatehouse.LinkUse, error)) (*gatehouse.User, error) {
	hash := HashToken(token)
	t, err := s.Store.FindToken(ctx, ws.ID, kind, hash, s.Now())
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	use, err := prepare(t)
	if err != nil {
		return nil, err
	}
	use.Kind, use.Hash = kind, hash
	u, err := s.Store.UseLink(ctx, ws.ID, use, s.Now())
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	return u, err
}

// maxNameLen bounds a person's name as stored, in bytes.
const maxNameLen = 200

// MaxNameRunes is the longest name a person may type, in characters: room
// for long real names, short enough that pages and e-mails stay readable.
// (Names stored before the limit may be longer, up to maxNameLen bytes.)
const MaxNameRunes = 100

// cleanName is a name as typed, as stored: trimmed, valid UTF-8 (a form can
// carry any bytes) and at most maxNameLen bytes.
func cleanName(name string) string {
	return gatehouse.Truncate(strings.TrimSpace(name), maxNameLen)
}

// checkName is cleanName for a name typed at input, refusing one longer
// than MaxNameRunes with ErrNameTooLong rather than cutting it short.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > MaxNameRunes {
		return "", ErrNameTooLong
	}
	return cleanName(name), nil
}

// newPassword checks a new password and returns its hash.
func (s *Service) newPassword(ctx context.Context, ws *gatehouse.Workspace, plain string) (string, error) {
	if err := CheckPassword(ws, plain); err != nil {
		return "", err
	}
	return s.Hasher.Hash(ctx, plain)
}

// AcceptInvite sets the invited user's name and password. The caller then
// signs them in through SignIn. An account activated another way meanwhile
// (a sign-up link) is not taken over: the link is then invalid.
func (s *Service) AcceptInvite(ctx context.Context, ws *gatehouse.Workspace, token, name, newPassword string) (*gatehouse.User, error) {
	return s.useLink(ctx, ws, gatehouse.TokenInvite, token, func(*gatehouse.Token) (gatehouse.LinkUse, error) {
		name, err := checkName(name)
		if err != nil {
			return gatehouse.LinkUse{}, err
		}
		hash, err := s.newPassword(ctx, ws, newPassword)
		return gatehouse.LinkUse{PasswordHash: hash, Name: &name, FirstPassword: true}, err
	})
}

// RequestReset queues a password-reset link (valid 1 hour, single use) for
// email. The request does the same work whether or not the address belongs
// to an account: it queues one job, and the job mails the link only to an
// active account with a password. The caller shows the same answer either
// way.
func (s *Service) RequestReset(ctx context.Context, ws *gatehouse.Workspace, email string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil // no account has such an address
	}
	return s.enqueue(ctx, ws.ID, jobReset, resetJob{Email: email})
}

// ResetPassword sets a new password through a reset link and ends all the
// user's sessions. The caller then signs them in through SignIn.
func (s *Service) ResetPassword(ctx context.Context, ws *gatehouse.Workspace, token, newPassword string) (*gatehouse.User, error) {
	return s.useLink(ctx, ws, gatehouse.TokenPasswordReset, token, func(t *gatehouse.Token) (gatehouse.LinkUse, error) {
		hash, err := s.newPassword(ctx, ws, newPassword)
		if err != nil {
			return gatehouse.LinkUse{}, err
		}
		u, err := s.Store.FindUserByID(ctx, ws.ID, t.UserID)
		if err != nil {
			return gatehouse.LinkUse{}, err
		}
		// The reset proved the mailbox and the password: the old throttle is
		// moot. Whoever knew the old password loses its sessions and devices.
		return gatehouse.LinkUse{
			PasswordHash: hash, SignOut: true, ClearThrottle: "acct:" + u.Email,
			Audit: &gatehouse.AuditEvent{At: s.Now(), Type: "password.reset"},
		}, nil
	})
}

// SignUp starts a self sign-up. Whether or not the e-mail already has an
// account, the visitor is told to check their inbox, so the answer never
// reveals who is a member: a new address gets a confirmation link (valid 24
// hours) and an existing member gets a note pointing to sign-in and reset.
// Which of the two it is is found out after the answer, by a queued job, so
// that the request does the same work, and takes the same time, either way.
// The chosen password's hash rides in the link and is set on the account only
// when the link is used, which proves the mailbox.
func (s *Service) SignUp(ctx context.Context, ws *gatehouse.Workspace, name, email, plain string) error {
	if !ws.SignupEnabled {
		return ErrSignupClosed
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if name, err = checkName(name); err != nil {
		return err
	}
	if err := CheckPassword(ws, plain); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, plain)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, ws.ID, jobSignup, signupJob{Email: email, Name: name, Hash: hash})
}

// ConfirmSignUp spends a sign-up link and sets the password chosen at
// sign-up. The visitor must type that password again: the link alone only
// proves the mailbox, and whoever signed up last chose the password it
// carries, so without this check a stranger's sign-up could hand them an
// account its owner then confirms. The caller signs the user in through SignIn.
func (s *Service) ConfirmSignUp(ctx context.Context, ws *gatehouse.Workspace, token, plain string) (*gatehouse.User, error) {
	return s.useLink(ctx, ws, gatehouse.TokenSignup, token, func(t *gatehouse.Token) (gatehouse.LinkUse, error) {
		ok, _, err := s.Hasher.Verify(ctx, plain, t.Payload)
		if err != nil && !errors.Is(err, password.ErrMalformedHash) {
			return gatehouse.LinkUse{}, err
		}
		if !ok {
			return gatehouse.LinkUse{}, ErrSignupPassword
		}
		// An account activated another way meanwhile (an invitation) has a
		// password: the link must not sign anyone into it.
		return gatehouse.LinkUse{PasswordHash: t.Payload, FirstPassword: true}, nil
	})
}

// ChangePassword sets a new password for the signed-in user (the caller
// checks the re-verification), ends their other sessions and forgets their
// trusted devices: whoever knew the old password loses what it got them.
func (s *Service) ChangePassword(ctx context.Context, v *gatehouse.Visit, newPassword, ip string) error {
	ws := &v.Workspace
	if err := CheckPassword(ws, newPassword); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	// Only the hash is written (an admin disabling the account meanwhile
	// keeps it disabled), with the sign-out, in one transaction.
	u, now := v.User, s.Now()
	e := &gatehouse.AuditEvent{At: now, ActorID: u.ID, TargetID: u.ID, Type: "password.changed", IP: ip}
	if err := s.Store.SetPassword(ctx, ws.ID, u.ID, hash, v.Session.TokenHash, now, e); err != nil {
		return err
	}
	body := fmt.Sprintf("The password of your account at %s was changed, and your other browsers were signed out.\n\nIf this was not you, reset your password at %s/password/forgot and tell your workspace admin.\n",
		ws.DisplayName(), s.WorkspaceURL(ws.Slug))
	return s.Mailer.Enqueue(ctx, ws.ID, u.Email, "Your password was changed", body)
}

// SetDisabled disables or re-enables target's account. Disabling ends
// their sessions and forgets their trusted devices.
func (s *Service) SetDisabled(ctx context.Context, v *gatehouse.Visit, target *gatehouse.User, disabled bool, ip string) error {
	if !v.User.CanManage(target) {
		return ErrForbidden
	}
	now := s.Now()
	typ := "user.enabled"
	if disabled {
		typ = "user.disabled"
	}
	e := &gatehouse.AuditEvent{At: now, ActorID: v.User.ID, TargetID: target.ID, Type: typ, IP: ip, Detail: "by " + v.User.Email}
	if err := s.Store.SetUserDisabled(ctx, v.Workspace.ID, target.ID, disabled, now, e); err != nil {
		return err
	}
	target.Disabled, target.UpdatedAt = disabled, now
	return nil
}

// mailPerIPPerHour bounds the e-mails one client address can cause through
// the forms that mail whatever address is typed in (sign-up, password reset),
// so they cannot be used to flood someone's mailbox.
const mailPerIPPerHour = 10

// AllowMailForm counts one use of a mail-sending form from ip and refuses it
// past the hourly limit. The store decides it in one atomic step, so the
// limit holds across parallel requests and instances, and it is the same
// for known and unknown addresses.
func (s *Service) AllowMailForm(ctx context.Context, ws *gatehouse.Workspace, ip string) error {
	full, err := s.Store.TakeLimits(ctx, ws.ID, s.Now(), gatehouse.Limit{Key: "mailip:" + gatehouse.ClientKey(ip), Max: mailPerIPPerHour, Window: time.Hour})
	if err != nil {
		return err
	}
	if full >= 0 {
		return ErrTooManyRequests
	}
	return nil
}

// UpdateOptions sets the workspace's sign-in options (self sign-up and
// "remember me"); only the owner may, on any plan.
func (s *Service) UpdateOptions(ctx context.Context, v *gatehouse.Visit, signup, remember bool, ip string) error {
	if v.User.Role != gatehouse.RoleOwner {
		return ErrForbidden
	}
	ws, err := s.Store.UpdateWorkspace(ctx, v.Workspace.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &signup, RememberMeEnabled: &remember}, s.Now())
	if err != nil {
		return err
	}
	v.Workspace = *ws
	s.audit(ctx, ws.ID, v.User.ID, "settings.changed", ip, fmt.Sprintf("sign-up %t, remember me %t", signup, remember))
	return nil
}
