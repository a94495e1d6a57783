package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// MaxPasskeys is how many passkeys one user may register (SPEC §15).
const MaxPasskeys = 10

// CeremonyTTL is how long a begun WebAuthn ceremony may be finished.
const CeremonyTTL = 5 * time.Minute

// Passkey errors, shown as they are.
var (
	ErrPasskeyLimit    = errors.New("You already have 10 passkeys. Remove one before adding another.")
	ErrPasskeyName     = errors.New("Give the passkey a name of up to 60 characters, such as \"Work laptop\".")
	ErrPasskeyFailed   = errors.New("That passkey could not be checked. Try again, or try another way.")
	ErrPasskeyCeremony = errors.New("That passkey request has expired. Try again.")
	ErrPasskeyUV       = errors.New("Signing in with a passkey needs your device's PIN, fingerprint or face check.")
	ErrPasskeyCloned   = errors.New("That passkey was refused: its counter went backwards, which can mean it was copied. Try another way and tell your workspace admin.")
	ErrPasskeyUnknown  = errors.New("That passkey is not registered in this workspace.")
	ErrPasskeyBusy     = errors.New("Too many passkey sign-ins from this address. Wait a few minutes, or sign in with your password.")
)

// SignInCeremonyCap bounds the passwordless ceremonies one client address
// may begin in a workspace per SignInCeremonyWindow: each is a row in the
// store, and this endpoint needs no account.
const (
	SignInCeremonyCap    = 30
	SignInCeremonyWindow = 10 * time.Minute
)

// Passkey is one WebAuthn credential of a user. Its public key is no
// secret; the private key never leaves the authenticator.
type Passkey struct {
	ID           int64
	WorkspaceID  int64
	UserID       int64
	Name         string
	CredentialID []byte
	PublicKey    []byte // COSE key
	// SignCount is the authenticator's signature counter at the last use; a
	// credential that counts (not zero) must count upwards.
	SignCount uint32
	// BackupEligible and BackupState are the BE and BS flags: a synced
	// passkey is eligible and backed up.
	BackupEligible bool
	BackupState    bool
	// UserVerified reports that the registration verified the user.
	UserVerified    bool
	Transports      []string
	AAGUID          []byte
	AttestationType string
	CreatedAt       time.Time
	LastUsedAt      *time.Time
}

// CeremonyPurpose names what a WebAuthn ceremony is for.
type CeremonyPurpose string

// The ceremony purposes.
const (
	CeremonyRegister CeremonyPurpose = "register" // a signed-in user adds a passkey
	CeremonyVerify   CeremonyPurpose = "verify"   // a passkey as the second factor (or re-verification)
	CeremonySignIn   CeremonyPurpose = "signin"   // passwordless sign-in from /login
)

// Ceremony is a begun WebAuthn ceremony, kept in the store so any instance
// can finish what another began. Its token lives in a cookie of the browser
// that began it, and only its SHA-256 is stored.
type Ceremony struct {
	ID          int64
	WorkspaceID int64
	TokenHash   []byte
	// SessionHash binds the ceremony to the session that began it (its
	// token's hash, which unlike a row ID is never reused); empty for a
	// passwordless sign-in, which has no session yet.
	SessionHash []byte
	UserID      int64 // 0 for a passwordless sign-in
	Purpose     CeremonyPurpose
	Data        []byte // the library's session data (challenge, allowed credentials), as JSON
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// PasskeyStore keeps passkeys and ceremonies. Every method is scoped by workspace.
type PasskeyStore interface {
	// AddPasskey adds a passkey, in one transaction: it inserts p (setting
	// p.ID) and marks the user's passkey method active, unless the user
	// already has max passkeys (ErrPasskeyLimit); stores the recovery code
	// MACs macs when the user has no unused code (and reports whether it
	// did); ends every session of the user but the one with the token hash
	// keepSession; and records e (when not nil). A credential ID already
	// registered in the workspace is ErrConflict; a user of another
	// workspace is ErrNotFound; either way nothing changes.
	AddPasskey(ctx context.Context, workspaceID int64, p *Passkey, max int, macs [][]byte, keepSession []byte, e *gatehouse.AuditEvent) (issued bool, err error)
	// ListPasskeys returns the user's passkeys, oldest first.
	ListPasskeys(ctx context.Context, workspaceID, userID int64) ([]Passkey, error)
	// FindPasskey returns the passkey with the credential ID, or ErrNotFound.
	FindPasskey(ctx context.Context, workspaceID int64, credentialID []byte) (*Passkey, error)
	// UsePasskey records a use at now with one conditional update: the
	// counter moves from old to count only if it is still old (two uses of one
	// assertion cannot both pass); ErrNotFound otherwise.
	UsePasskey(ctx context.Context, workspaceID, passkeyID int64, old, count uint32, backupState bool, now time.Time) error
	// DeletePasskey removes one of the user's passkeys, in one
	// transaction: when it was the last, the user's passkey method goes too,
	// and when no active method remains, the recovery codes (judged in the
	// transaction); every session of the user but the one with the token
	// hash keepSession ends; e is recorded (when not nil). It returns how
	// many passkeys remain. ErrNotFound, with nothing changed, when the user
	// has no passkey with that ID. When the passkey method goes and
	// keepOneOf is not empty, the user must keep an active factor of one of
	// those methods, as RemoveMethod judges it: ErrLastMethod otherwise.
	DeletePasskey(ctx context.Context, workspaceID, userID, passkeyID int64, keepOneOf []gatehouse.Method, keepSession []byte, e *gatehouse.AuditEvent) (int, error)

	// CreateCeremony inserts c, setting c.ID, and drops the workspace's
	// ceremonies that expired before c.CreatedAt.
	CreateCeremony(ctx context.Context, workspaceID int64, c *Ceremony) error
	// ConsumeCeremony deletes and returns the unexpired ceremony with the
	// token hash, purpose and session, in one statement: of two finishes
	// exactly one gets it; the other, and any expired, unknown or
	// differently bound ceremony, gets ErrNotFound.
	ConsumeCeremony(ctx context.Context, workspaceID int64, tokenHash []byte, purpose CeremonyPurpose, sessionHash []byte, now time.Time) (*Ceremony, error)
}

// RelyingParty is the WebAuthn relying party of one workspace: its ID is the
// workspace's own host without the port, and Origin its exact origin
// (scheme, host and port), so a passkey made for one workspace never signs
// in to another.
type RelyingParty struct {
	ID     string
	Origin string
	Name   string
}

func (rp RelyingParty) webauthn(uv protocol.UserVerificationRequirement) (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{
		RPID: rp.ID, RPDisplayName: rp.Name, RPOrigins: []string{rp.Origin},
		// No attestation: Gatehouse trusts what the user registers, and
		// asking would only reveal the device model.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification: uv,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: false, Timeout: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: false, Timeout: CeremonyTTL},
		},
	})
}

// webauthnUser adapts a user and their passkeys to the library.
type webauthnUser struct {
	handle   []byte
	name     string
	display  string
	passkeys []Passkey
}

func (u *webauthnUser) WebAuthnID() []byte          { return u.handle }
func (u *webauthnUser) WebAuthnName() string        { return u.name }
func (u *webauthnUser) WebAuthnDisplayName() string { return u.display }
func (u *webauthnUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(u.passkeys))
	for i, p := range u.passkeys {
		out[i] = credentialOf(&p)
	}
	return out
}

func credentialOf(p *Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID: p.CredentialID, PublicKey: p.PublicKey, AttestationType: p.AttestationType,
		Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: p.UserVerified, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// userHandle is the WebAuthn user handle of a user: opaque and stable,
// derived with the server key so it names neither the workspace nor the
// user to anyone who reads an authenticator.
func (s *Service) userHandle(workspaceID, userID int64) []byte {
	return s.Keys.MAC("webauthn-user", strconv.FormatInt(workspaceID, 10), strconv.FormatInt(userID, 10))[:32]
}

func ceremonyHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Begun is a begun ceremony: Options go to the browser's
// navigator.credentials call, Token into a short-lived cookie.
type Begun struct {
	Options   json.RawMessage
	Token     string
	ExpiresAt time.Time
}

func (s *Service) begin(ctx context.Context, workspaceID int64, sessionHash []byte, userID int64, purpose CeremonyPurpose, options any, data *webauthn.SessionData) (*Begun, error) {
	// The library would check expiry against the wall clock; the store
	// checks it against the injected one instead.
	data.Expires = time.Time{}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.Now()
	c := &Ceremony{TokenHash: ceremonyHash(token), SessionHash: sessionHash, UserID: userID, Purpose: purpose, Data: raw,
		CreatedAt: now, ExpiresAt: now.Add(CeremonyTTL)}
	if err := s.Store.CreateCeremony(ctx, workspaceID, c); err != nil {
		return nil, err
	}
	return &Begun{Options: opts, Token: token, ExpiresAt: c.ExpiresAt}, nil
}

// consume takes the ceremony once: a second finish with the same token
// (a replayed assertion) finds nothing.
func (s *Service) consume(ctx context.Context, workspaceID int64, token string, purpose CeremonyPurpose, sessionHash []byte) (*webauthn.SessionData, *Ceremony, error) {
	if token == "" {
		return nil, nil, ErrPasskeyCeremony
	}
	c, err := s.Store.ConsumeCeremony(ctx, workspaceID, ceremonyHash(token), purpose, sessionHash, s.Now())
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, ErrPasskeyCeremony
	}
	if err != nil {
		return nil, nil, err
	}
	var data webauthn.SessionData
	if err := json.Unmarshal(c.Data, &data); err != nil {
		return nil, nil, fmt.Errorf("read ceremony %d: %w", c.ID, err)
	}
	return &data, c, nil
}

// PasskeysOn reports whether passkeys are offered in the workspace: a plan
// with two-step features, two-step verification not turned off, and the
// method allowed by the owner. (Passkeys already registered stay stored
// while they are off, like every other method.)
func PasskeysOn(ws *gatehouse.Workspace) bool {
	return ws.Plan.HasMFA() && ws.MFA.Mode != gatehouse.MFADisabled && ws.MFA.Allows(gatehouse.MethodPasskey)
}

func (s *Service) passkeyUser(ctx context.Context, ws *gatehouse.Workspace, u *gatehouse.User) (*webauthnUser, error) {
	ps, err := s.Store.ListPasskeys(ctx, ws.ID, u.ID)
	if err != nil {
		return nil, err
	}
	display := u.Name
	if display == "" {
		display = u.Email
	}
	return &webauthnUser{handle: s.userHandle(ws.ID, u.ID), name: u.Email, display: display, passkeys: ps}, nil
}

// Passkeys returns the user's passkeys, for the Security page.
func (s *Service) Passkeys(ctx context.Context, v *gatehouse.Visit) ([]Passkey, error) {
	return s.Store.ListPasskeys(ctx, v.Workspace.ID, v.User.ID)
}

// BeginPasskeyRegistration starts adding a passkey for the signed-in user:
// a resident key and user verification are preferred, attestation is not
// asked for, and the user's passkeys are excluded (one authenticator, one
// passkey).
func (s *Service) BeginPasskeyRegistration(ctx context.Context, v *gatehouse.Visit, rp RelyingParty) (*Begun, error) {
	if !PasskeysOn(&v.Workspace) {
		return nil, ErrUnavailable
	}
	u, err := s.passkeyUser(ctx, &v.Workspace, &v.User)
	if err != nil {
		return nil, err
	}
	if len(u.passkeys) >= MaxPasskeys {
		return nil, ErrPasskeyLimit
	}
	wa, err := rp.webauthn(protocol.VerificationPreferred)
	if err != nil {
		return nil, err
	}
	exclude := webauthn.Credentials(u.WebAuthnCredentials()).CredentialDescriptors()
	creation, data, err := wa.BeginRegistration(u, webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.begin(ctx, v.Workspace.ID, v.Session.TokenHash, v.User.ID, CeremonyRegister, creation, data)
}

// NormalizePasskeyName trims a passkey's name and checks its length.
func NormalizePasskeyName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || utf8.RuneCountInString(name) > 60 {
		return "", ErrPasskeyName
	}
	return name, nil
}

// FinishPasskeyRegistration checks the browser's answer to the ceremony
// begun with token and stores the new passkey under name. The first passkey
// (like the first authenticator app) issues 8 recovery codes, returned to be
// shown once; the user is e-mailed and their other sessions end.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, v *gatehouse.Visit, rp RelyingParty, token, name, response, ip string) ([]string, error) {
	name, err := NormalizePasskeyName(name)
	if err != nil {
		return nil, err
	}
	data, _, err := s.consume(ctx, v.Workspace.ID, token, CeremonyRegister, v.Session.TokenHash)
	if err != nil {
		return nil, err
	}
	if !PasskeysOn(&v.Workspace) {
		return nil, ErrUnavailable
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(response))
	if err != nil {
		s.logger().Info("passkey registration refused", "user", v.User.ID, "err", err)
		return nil, ErrPasskeyFailed
	}
	u, err := s.passkeyUser(ctx, &v.Workspace, &v.User)
	if err != nil {
		return nil, err
	}
	wa, err := rp.webauthn(protocol.VerificationPreferred)
	if err != nil {
		return nil, err
	}
	cred, err := wa.CreateCredential(u, *data, parsed)
	if err != nil {
		s.logger().Info("passkey registration refused", "user", v.User.ID, "err", err)
		return nil, ErrPasskeyFailed
	}
	now := s.Now()
	p := &Passkey{
		UserID: v.User.ID, Name: name, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		UserVerified: cred.Flags.UserVerified, AAGUID: cred.Authenticator.AAGUID, AttestationType: cred.AttestationType, CreatedAt: now,
	}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	// The passkey, the method, recovery codes when the user has none, the
	// end of the other sessions and the audit event: one transaction.
	codes, macs, err := s.makeRecoveryCodes(v)
	if err != nil {
		return nil, err
	}
	e := &gatehouse.AuditEvent{At: now, ActorID: v.User.ID, TargetID: v.User.ID, Type: "mfa.method.added", IP: ip, Detail: "passkey " + name}
	issued, err := s.Store.AddPasskey(ctx, v.Workspace.ID, p, MaxPasskeys, macs, v.Session.TokenHash, e)
	if errors.Is(err, gatehouse.ErrConflict) {
		return nil, ErrPasskeyFailed
	}
	if err != nil {
		return nil, err
	}
	if !issued {
		codes = nil
	}
	s.notify(ctx, v, "Passkey added", fmt.Sprintf("A passkey (%s) was added to your account at %s.", name, v.Workspace.DisplayName()))
	return codes, nil
}

// RemovePasskey removes one of the user's passkeys. In required mode the
// last passkey goes only while another allowed method remains; removing the
// user's last method of all voids their recovery codes.
func (s *Service) RemovePasskey(ctx context.Context, v *gatehouse.Visit, id int64, ip string) error {
	ps, err := s.Store.ListPasskeys(ctx, v.Workspace.ID, v.User.ID)
	if err != nil {
		return err
	}
	var p *Passkey
	for i := range ps {
		if ps[i].ID == id {
			p = &ps[i]
		}
	}
	if p == nil {
		return gatehouse.ErrNotFound
	}
	// Whether another method remains is the store's to judge, in the
	// transaction: a method removed meanwhile by another request counts.
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: v.User.ID, TargetID: v.User.ID, Type: "mfa.method.removed", IP: ip, Detail: "passkey " + p.Name}
	if _, err := s.Store.DeletePasskey(ctx, v.Workspace.ID, v.User.ID, id, keepOneOf(v), v.Session.TokenHash, e); errors.Is(err, ErrLastMethod) {
		return ErrLastMethod
	} else if err != nil {
		return err
	}
	s.notify(ctx, v, "Passkey removed", fmt.Sprintf("A passkey (%s) was removed from your account at %s.", p.Name, v.Workspace.DisplayName()))
	return nil
}

// BeginPasskeyVerify starts a passkey check of the visit's user: the
// second factor of a pending login, or a re-verification.
func (s *Service) BeginPasskeyVerify(ctx context.Context, v *gatehouse.Visit, rp RelyingParty, d Decision) (*Begun, error) {
	if !Offers(v, d, string(gatehouse.MethodPasskey), 0) {
		return nil, ErrUnavailable
	}
	u, err := s.passkeyUser(ctx, &v.Workspace, &v.User)
	if err != nil {
		return nil, err
	}
	if len(u.passkeys) == 0 {
		return nil, ErrUnavailable
	}
	wa, err := rp.webauthn(protocol.VerificationPreferred)
	if err != nil {
		return nil, err
	}
	assertion, data, err := wa.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("begin passkey check: %w", err)
	}
	return s.begin(ctx, v.Workspace.ID, v.Session.TokenHash, v.User.ID, CeremonyVerify, assertion, data)
}

// VerifyPasskey checks the browser's answer to the ceremony begun with
// token, as the visit's second factor. The try is counted like a code: a
// failure counts against the login and the account.
func (s *Service) VerifyPasskey(ctx context.Context, v *gatehouse.Visit, rp RelyingParty, token, response, ip string) error {
	now := s.Now()
	ch, err := s.ChallengeFor(ctx, v)
	if err != nil {
		return err
	}
	if !Offers(v, ch.Decision, string(gatehouse.MethodPasskey), 0) {
		return ErrUnavailable
	}
	a, err := s.regulate(ctx, v, now, Pending(v, ch.Decision))
	if err != nil {
		return err
	}
	if err := s.checkPasskey(ctx, v, rp, token, response, ip); err != nil {
		if errors.Is(err, ErrPasskeyFailed) || errors.Is(err, ErrPasskeyCeremony) || errors.Is(err, ErrPasskeyCloned) || errors.Is(err, ErrPasskeyUnknown) {
			s.audit(ctx, v, v.User.ID, "mfa.challenge.failed", ip, "passkey")
			return a.wrong(err)
		}
		return err
	}
	if err := s.Store.ResetThrottle(ctx, v.Workspace.ID, lockKey(v.User.ID)); err != nil {
		return err
	}
	s.audit(ctx, v, v.User.ID, "mfa.challenge.passed", ip, "passkey")
	return nil
}

func (s *Service) checkPasskey(ctx context.Context, v *gatehouse.Visit, rp RelyingParty, token, response, ip string) error {
	data, _, err := s.consume(ctx, v.Workspace.ID, token, CeremonyVerify, v.Session.TokenHash)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(response))
	if err != nil {
		s.logger().Info("passkey check refused", "user", v.User.ID, "err", err)
		return ErrPasskeyFailed
	}
	u, err := s.passkeyUser(ctx, &v.Workspace, &v.User)
	if err != nil {
		return err
	}
	wa, err := rp.webauthn(protocol.VerificationPreferred)
	if err != nil {
		return err
	}
	cred, err := wa.ValidateLogin(u, *data, parsed)
	if err != nil {
		s.logger().Info("passkey check refused", "user", v.User.ID, "err", err)
		return ErrPasskeyFailed
	}
	return s.recordUse(ctx, &v.Workspace, v.User.ID, u.passkeys, cred, ip)
}

// recordUse stores the counter and backup state after a good assertion, or
// refuses it when the counter went backwards for a credential that counts:
// a sign of a cloned authenticator (SPEC §15).
func (s *Service) recordUse(ctx context.Context, ws *gatehouse.Workspace, userID int64, ps []Passkey, cred *webauthn.Credential, ip string) error {
	var p *Passkey
	for i := range ps {
		if string(ps[i].CredentialID) == string(cred.ID) {
			p = &ps[i]
		}
	}
	if p == nil {
		return ErrPasskeyUnknown
	}
	now := s.Now()
	if cred.Authenticator.CloneWarning {
		s.auditWS(ctx, ws.ID, userID, "mfa.passkey.cloned", ip,
			fmt.Sprintf("passkey %s: counter %d after %d", p.Name, cred.Authenticator.SignCount, p.SignCount))
		return ErrPasskeyCloned
	}
	err := s.Store.UsePasskey(ctx, ws.ID, p.ID, p.SignCount, cred.Authenticator.SignCount, cred.Flags.BackupState, now)
	if errors.Is(err, gatehouse.ErrNotFound) {
		// Another use moved the counter meanwhile: the same assertion twice.
		return ErrPasskeyFailed
	}
	return err
}

// BeginPasskeySignIn starts a passwordless sign-in: a discoverable
// credential with user verification required. It is bound to the browser
// by the returned token only; there is no session yet.
func (s *Service) BeginPasskeySignIn(ctx context.Context, ws *gatehouse.Workspace, rp RelyingParty, ip string) (*Begun, error) {
	if !PasskeysOn(ws) {
		return nil, ErrUnavailable
	}
	full, err := s.Store.TakeLimits(ctx, ws.ID, s.Now(), gatehouse.Limit{Key: "passkeyip:" + gatehouse.ClientKey(ip), Max: SignInCeremonyCap, Window: SignInCeremonyWindow})
	if err != nil {
		return nil, err
	}
	if full >= 0 {
		return nil, ErrPasskeyBusy
	}
	wa, err := rp.webauthn(protocol.VerificationRequired)
	if err != nil {
		return nil, err
	}
	assertion, data, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return s.begin(ctx, ws.ID, nil, 0, CeremonySignIn, assertion, data)
}

// FinishPasskeySignIn checks a passwordless sign-in and returns the user it
// signs in: the passkey must belong to an active user of this workspace and
// the authenticator must have verified the user (PIN or biometrics), so the
// one gesture counts as both factors.
func (s *Service) FinishPasskeySignIn(ctx context.Context, ws *gatehouse.Workspace, rp RelyingParty, token, response, ip string) (*gatehouse.User, error) {
	data, _, err := s.consume(ctx, ws.ID, token, CeremonySignIn, nil)
	if err != nil {
		return nil, err
	}
	if !PasskeysOn(ws) {
		return nil, ErrUnavailable
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(response))
	if err != nil {
		s.auditWS(ctx, ws.ID, 0, "signin.passkey.failed", ip, "unreadable answer")
		return nil, ErrPasskeyFailed
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		s.auditWS(ctx, ws.ID, 0, "signin.passkey.failed", ip, "no user verification")
		return nil, ErrPasskeyUV
	}
	p, err := s.Store.FindPasskey(ctx, ws.ID, parsed.RawID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		s.auditWS(ctx, ws.ID, 0, "signin.passkey.failed", ip, "unknown passkey")
		return nil, ErrPasskeyUnknown
	}
	if err != nil {
		return nil, err
	}
	user, err := s.Store.FindUserByID(ctx, ws.ID, p.UserID)
	if err != nil {
		return nil, err
	}
	if !user.Active() {
		s.auditWS(ctx, ws.ID, user.ID, "signin.passkey.failed", ip, "account disabled")
		return nil, ErrPasskeyFailed
	}
	u, err := s.passkeyUser(ctx, ws, user)
	if err != nil {
		return nil, err
	}
	wa, err := rp.webauthn(protocol.VerificationRequired)
	if err != nil {
		return nil, err
	}
	handler := func(rawID, userHandle []byte) (webauthn.User, error) { return u, nil }
	cred, err := wa.ValidateDiscoverableLogin(handler, *data, parsed)
	if err != nil {
		s.logger().Info("passkey sign-in refused", "user", user.ID, "err", err)
		s.auditWS(ctx, ws.ID, user.ID, "signin.passkey.failed", ip, "assertion refused")
		return nil, ErrPasskeyFailed
	}
	if err := s.recordUse(ctx, ws, user.ID, u.passkeys, cred, ip); err != nil {
		if !errors.Is(err, ErrPasskeyCloned) {
			s.auditWS(ctx, ws.ID, user.ID, "signin.passkey.failed", ip, "assertion refused")
		}
		return nil, err
	}
	return user, nil
}

// auditWS records an event without a visit (passwordless sign-in).
func (s *Service) auditWS(ctx context.Context, workspaceID, target int64, typ, ip, detail string) {
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: target, TargetID: target, Type: typ, IP: ip, Detail: detail}
	if err := s.Store.AddAuditEvent(ctx, workspaceID, e); err != nil {
		s.logger().Error("audit", "type", typ, "err", err)
	}
}
