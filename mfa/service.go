package mfa

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/secret"
)

// Friendly errors (SPEC §5): the web layer shows their text as it is.
var (
	ErrMismatch        = errors.New("That code does not match.")
	ErrExpired         = errors.New("That code has expired — send a new one.")
	ErrReplay          = errors.New("That code was already used — wait for the next one.")
	ErrRecoveryUsed    = errors.New("That recovery code was already used.")
	ErrNoCode          = errors.New("Send a code first.")
	ErrUnavailable     = errors.New("That method is not available for this sign-in.")
	ErrTooManyFailures = errors.New("Too many wrong codes. Sign in again.")
	ErrDailyCap        = errors.New("Too many codes were sent today. Try another way, or come back tomorrow.")
	ErrLastMethod      = errors.New("Two-factor sign-in is required here: keep at least one method.")
	ErrNotPending      = errors.New("Start again: set up the method first.")
	ErrLocked          = errors.New("This account is locked after too many wrong codes. Ask an admin to reset it, or try again tomorrow.")
	// ErrLoginEnded reports a pending login that is gone: another request
	// passed the gate with it (which replaces its session) or ended it
	// while this one was on its way.
	ErrLoginEnded = errors.New("This sign-in has ended. Sign in again.")
)

// TooSoonError reports a code asked for within a minute of the last one.
type TooSoonError struct{ RetryAfter time.Duration }

func (e *TooSoonError) Error() string {
	return "Codes can only be sent every minute. Try again in " + seconds(e.Seconds()) + "."
}

// seconds says n seconds in words.
func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", n)
}

// Seconds is the wait in whole seconds, rounded up.
func (e *TooSoonError) Seconds() int { return int((e.RetryAfter + time.Second - 1) / time.Second) }

// ThrottledError reports a pause after wrong codes on the account.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return "Too many wrong codes. Try again in " + seconds(int((e.RetryAfter+time.Second-1)/time.Second)) + "."
}

// MaxLoginFailures ends a pending login: wrong codes over all its methods,
// never reset by sending a new code.
const MaxLoginFailures = 5

// accountBackoff regulates second-factor failures per account across logins
// and instances: growing pauses, and after 100 consecutive failures a lock
// until an admin resets it or 24 hours pass.
var accountBackoff = gatehouse.Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, LockAt: 100, LockFor: 24 * time.Hour, Forget: 24 * time.Hour}

// ReauthWindow is how recent a verification must be for sensitive changes.
const ReauthWindow = 10 * time.Minute

// Mailer queues an e-mail for durable delivery.
type Mailer interface {
	Enqueue(ctx context.Context, workspaceID int64, to, subject, body string) error
}

// Service carries out challenges and enrollment. Every field but Logger
// must be set.
type Service struct {
	Store  Store
	Keys   *secret.Keyring
	Mailer Mailer
	// Queue is the outbox for codes (e-mail and SMS), which the service
	// waits on for the first delivery attempt; nil leaves SMS unavailable
	// and sends e-mail codes through Mailer without waiting.
	Queue  Queue
	Now    func() time.Time
	Logger *slog.Logger
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// InputFor builds the policy input for a user's visit from what the session
// check already read: no extra store query on the hot path.
func InputFor(v *gatehouse.Visit, trusted bool, now time.Time) Input {
	return Input{
		Plan: v.Workspace.Plan, Settings: v.Workspace.MFA, Methods: v.Methods,
		MailboxProven: v.Session.MailboxProvenAt != nil, UserCreatedAt: v.User.CreatedAt,
		TrustedDevice: trusted, AfterReset: v.Session.AfterReset, Now: now,
	}
}

// ChallengeState is what the verify page shows.
type ChallengeState struct {
	Decision     Decision
	RecoveryLeft int
}

// ChallengeFor returns the current decision with the recovery codes left.
func (s *Service) ChallengeFor(ctx context.Context, v *gatehouse.Visit) (*ChallengeState, error) {
	left, err := s.Store.CountRecoveryCodes(ctx, v.Workspace.ID, v.User.ID)
	if err != nil {
		return nil, err
	}
	in := InputFor(v, false, s.Now())
	in.HasRecoveryCodes = left > 0
	return &ChallengeState{Decision: Decide(in), RecoveryLeft: left}, nil
}

// codeMAC is the keyed hash a one-time code is stored under, bound to the
// workspace, user, channel and the destination it was sent to (SPEC §4):
// a code texted to one number never confirms another.
func (s *Service) codeMAC(v *gatehouse.Visit, channel gatehouse.Method, to, code string) []byte {
	return s.Keys.MAC("code", strconv.FormatInt(v.Workspace.ID, 10), strconv.FormatInt(v.User.ID, 10), string(channel), to, code)
}

// destination returns where codes on the channel go for v now: the
// user's e-mail address, or the number of the SMS factor (pending or
// active).
func (s *Service) destination(ctx context.Context, v *gatehouse.Visit, channel gatehouse.Method) (string, error) {
	switch channel {
	case gatehouse.MethodEmail:
		return v.User.Email, nil
	case gatehouse.MethodSMS:
		f, err := s.smsFactor(ctx, v)
		if err != nil {
			return "", err
		}
		return f.Phone, nil
	}
	return "", ErrUnavailable
}

func (s *Service) recoveryMAC(v *gatehouse.Visit, canonical string) []byte {
	return s.Keys.MAC("recovery", strconv.FormatInt(v.Workspace.ID, 10), strconv.FormatInt(v.User.ID, 10), canonical)
}

func totpAAD(v *gatehouse.Visit) string { return TOTPSeedAAD(v.Workspace.ID, v.User.ID) }

// SendCode sends a one-time code on the channel for this session: at most
// one a minute and DailyCodeCap a day per user and channel, counted in the
// store so the pace holds across instances.
func (s *Service) SendCode(ctx context.Context, v *gatehouse.Visit, channel gatehouse.Method, ip string) error {
	// A channel the workspace allows, or an active method of the user's
	// (re-verifying with it after the owner stopped offering it).
	if !v.Workspace.MFA.Allows(channel) && !contains(v.Methods, channel) {
		return ErrUnavailable
	}
	to, err := s.destination(ctx, v, channel)
	if err != nil {
		return err
	}
	return s.sendCode(ctx, v, channel, to, ip)
}

// sendCode sends a code on the channel to to. A send that the clock
// grants but that does not go out (refused by the SMS guard, or by the
// mail server or Twilio) lifts the wait again and leaves no live code: the
// minute between codes holds only after a code really went out (SPEC §4).
func (s *Service) sendCode(ctx context.Context, v *gatehouse.Visit, channel gatehouse.Method, to, ip string) (err error) {
	now := s.Now()
	ok, clock, err := s.Store.ReserveSend(ctx, v.Workspace.ID, v.User.ID, channel, now, now.Add(-ResendGap), now.Add(-CodeWindow), DailyCodeCap)
	if err != nil {
		return err
	}
	if !ok {
		if wait := clock.LastSentAt.Add(ResendGap).Sub(now); wait > 0 {
			return &TooSoonError{RetryAfter: wait}
		}
		s.audit(ctx, v, v.User.ID, "mfa.code.refused", ip, "daily cap on "+string(channel))
		return ErrDailyCap
	}
	made := false   // a code was stored for this send
	queued := false // the code's message is in the outbox: it will go out
	defer func() {
		// The wait is lifted and the code voided only when the code is
		// known not to go out: refused before it was queued, or given up
		// on by the outbox. A client that hangs up while the page waits
		// for delivery (an error from Await) keeps both: the code still
		// goes out.
		var de *DeliveryError
		if err != nil && (!queued || errors.As(err, &de)) {
			s.unsent(ctx, v, channel, now, made)
		}
	}()
	if channel == gatehouse.MethodSMS {
		if err := s.guardSMS(ctx, v, to, ip, now); err != nil {
			return err
		}
	}
	// Only the newest code works: more live codes would multiply the odds
	// of a guess.
	if err := s.Store.VoidCodes(ctx, v.Workspace.ID, v.Session.ID, channel, now); err != nil {
		return err
	}
	code := NewCode()
	c := &Code{
		UserID: v.User.ID, SessionID: v.Session.ID, Channel: channel, MAC: s.codeMAC(v, channel, to, code),
		Destination: to, CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	}
	if err := s.Store.CreateCode(ctx, v.Workspace.ID, c); err != nil {
		return err
	}
	made = true
	if channel == gatehouse.MethodSMS {
		id, err := s.Queue.EnqueueSMS(ctx, v.Workspace.ID, to, fmt.Sprintf("%s is your %s code. It expires in 10 minutes.", code, v.Workspace.DisplayName()))
		if err != nil {
			return err
		}
		queued = true
		return s.awaitSMS(ctx, id)
	}
	body := fmt.Sprintf("Your %s sign-in code is %s\n\nIt works once, for 10 minutes. If you did not try to sign in, change your password.\n", v.Workspace.DisplayName(), code)
	subject := code + " is your " + v.Workspace.DisplayName() + " code"
	if s.Queue == nil {
		return s.Mailer.Enqueue(ctx, v.Workspace.ID, to, subject, body)
	}
	// Wait for the first attempt, so that an address the mail server refuses
	// is shown on the page rather than leaving the user waiting (SPEC §10).
	id, err := s.Queue.EnqueueEmail(ctx, v.Workspace.ID, to, subject, body)
	if err != nil {
		return err
	}
	queued = true
	return s.awaitDelivery(ctx, id, func(string) string {
		return "We could not deliver the code to your e-mail address. Try another way, or ask your workspace admin."
	})
}

// unsent undoes what a granted send did when no code went out: the code,
// if made (the session's only live one then), is void, and the next send
// may go at once. It runs on the way out of a failed request, so it does
// not stop at a cancelled context.
func (s *Service) unsent(ctx context.Context, v *gatehouse.Visit, channel gatehouse.Method, now time.Time, made bool) {
	ctx = context.WithoutCancel(ctx)
	if made {
		if err := s.Store.VoidCodes(ctx, v.Workspace.ID, v.Session.ID, channel, now); err != nil {
			s.logger().Error("void an unsent code", "user", v.User.ID, "err", err)
		}
	}
	if err := s.Store.ReopenSendGap(ctx, v.Workspace.ID, v.User.ID, channel, now.Add(-ResendGap)); err != nil {
		s.logger().Error("lift the wait after an unsent code", "user", v.User.ID, "err", err)
	}
}

// CodeState is what a page that asks for an e-mailed or texted code may
// say about it.
type CodeState struct {
	// Sent reports that this session has a live code on the channel, sent
	// to where the channel's codes go now. Only then may a page say that a
	// code was sent.
	Sent bool
	// ResendIn is how long until a new code may be sent (zero: now), from
	// the user's clock, which every instance shares.
	ResendIn time.Duration
}

// CodeState reports the session's code on the channel and the wait before
// the next, for the page and its resend countdown.
func (s *Service) CodeState(ctx context.Context, v *gatehouse.Visit, channel gatehouse.Method) (CodeState, error) {
	now := s.Now()
	var st CodeState
	clock, err := s.Store.FindSendClock(ctx, v.Workspace.ID, v.User.ID, channel)
	if err != nil {
		return st, err
	}
	st.ResendIn = max(0, clock.LastSentAt.Add(ResendGap).Sub(now))
	to, err := s.destination(ctx, v, channel)
	switch {
	case errors.Is(err, ErrSMSNoPhone) || errors.Is(err, ErrUnavailable):
		return st, nil
	case err != nil:
		return st, err
	}
	c, err := s.Store.FindLatestCode(ctx, v.Workspace.ID, v.Session.ID, channel)
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return st, nil
	case err != nil:
		return st, err
	}
	st.Sent = c.UsedAt == nil && now.Before(c.ExpiresAt) && c.Destination == to
	return st, nil
}

// Verified describes a passed verification.
type Verified struct {
	Method       string // "totp", "sms", "email" or "recovery"
	RecoveryLeft int    // after a recovery code
}

// Verify checks a code for the session. method is one of the decision's
// options, "recovery", or "email" while proving the mailbox. A wrong code
// counts against the login (MaxLoginFailures ends it: the caller deletes
// the session on ErrTooManyFailures) and against the account.
func (s *Service) Verify(ctx context.Context, v *gatehouse.Visit, method, code, ip string) (*Verified, error) {
	now := s.Now()
	ch, err := s.ChallengeFor(ctx, v)
	if err != nil {
		return nil, err
	}
	pending := Pending(v, ch.Decision)
	if method == string(gatehouse.MethodPasskey) || !Offers(v, ch.Decision, method, ch.RecoveryLeft) {
		// A passkey answers a ceremony (VerifyPasskey), never a typed code.
		return nil, ErrUnavailable
	}
	a, err := s.regulate(ctx, v, now, pending)
	if err != nil {
		return nil, s.ended(ctx, v, pending, err)
	}

	res := &Verified{Method: method}
	switch method {
	case "recovery":
		err = s.useRecoveryCode(ctx, v, code, now)
		if err == nil {
			res.RecoveryLeft, err = s.Store.CountRecoveryCodes(ctx, v.Workspace.ID, v.User.ID)
			if err == nil {
				s.notify(ctx, v, "A recovery code was used", fmt.Sprintf("A recovery code was used to sign in to %s. %d codes are left.", v.Workspace.DisplayName(), res.RecoveryLeft))
				s.audit(ctx, v, v.User.ID, "mfa.recovery.used", ip, fmt.Sprintf("%d left", res.RecoveryLeft))
			}
		}
	case string(gatehouse.MethodTOTP):
		_, err = s.useTOTP(ctx, v, code, now, true)
	default:
		var to string
		if to, err = s.destination(ctx, v, gatehouse.Method(method)); err == nil {
			err = s.useCode(ctx, v, gatehouse.Method(method), to, code, now)
			if errors.Is(err, ErrMismatch) && pending && s.spentHere(ctx, v, gatehouse.Method(method), to, code) {
				// This login's own code, spent by another request of the
				// same login (a form submitted twice), which passes the
				// gate with it: not a wrong guess, so it neither counts as
				// one nor ends the login under the request that won.
				err = ErrLoginEnded
			}
		}
	}
	if err != nil {
		if !isWrongCode(err) {
			return nil, err
		}
		s.audit(ctx, v, v.User.ID, "mfa.challenge.failed", ip, method)
		return nil, s.ended(ctx, v, pending, a.wrong(err))
	}
	if err := s.Store.ResetThrottle(ctx, v.Workspace.ID, lockKey(v.User.ID)); err != nil {
		return nil, err
	}
	if method == string(gatehouse.MethodEmail) && v.Session.MailboxProvenAt == nil {
		if err := s.markMailbox(ctx, v, now); err != nil {
			return nil, err
		}
	}
	s.audit(ctx, v, v.User.ID, "mfa.challenge.passed", ip, method)
	return res, nil
}

// attempt is one counted try at a code.
type attempt struct {
	pending  bool // the session is a pending login (its tries are limited)
	attempts int  // tries in this login so far, this one included
}

// wrong is the error for a wrong code: the login ends on its last try.
func (a attempt) wrong(cause error) error {
	if a.pending && a.attempts >= MaxLoginFailures {
		return ErrTooManyFailures
	}
	return cause
}

// countAttempt counts a try before its code is looked at, so a burst of
// parallel guesses cannot all be checked: each takes its turn on the
// account counter with one atomic increment, and a try that finds another
// slipped in since it read the counter (th) is refused as throttled. (A
// forgotten counter restarts at 1, which never exceeds the old count plus
// one.) In a pending login the login's count is of tries too: past the
// limit the code is not even looked at (ErrLoginEnded).
func (s *Service) countAttempt(ctx context.Context, v *gatehouse.Visit, th gatehouse.Throttle, now time.Time, pending bool) (attempt, error) {
	after, err := s.Store.AddFailure(ctx, v.Workspace.ID, lockKey(v.User.ID), now, now.Add(-accountBackoff.Forget))
	if err != nil {
		return attempt{}, err
	}
	if after.Failures > th.Failures+1 {
		return attempt{}, &ThrottledError{RetryAfter: time.Second}
	}
	a := attempt{pending: pending}
	if a.pending {
		a.attempts, err = s.Store.AddSessionFailure(ctx, v.Workspace.ID, v.Session.ID)
		if errors.Is(err, gatehouse.ErrNotFound) {
			return attempt{}, ErrLoginEnded
		}
		if err != nil {
			return attempt{}, err
		}
		if a.attempts > MaxLoginFailures {
			// The login's last try is taken, and ends the login if its
			// code is wrong (attempt.wrong). A try past it is refused
			// unseen but does not end the login itself: that last try may
			// be the right code on its way through the gate (a form
			// submitted many times at once), and ending the login under it
			// would spend the code and sign no one in.
			return attempt{}, ErrLoginEnded
		}
	}
	return a, nil
}

// regulate checks the account's pause and lock, then counts the try;
// pending reports a pending login (whose tries are limited).
func (s *Service) regulate(ctx context.Context, v *gatehouse.Visit, now time.Time, pending bool) (attempt, error) {
	th, err := s.Store.FindThrottle(ctx, v.Workspace.ID, lockKey(v.User.ID))
	if err != nil {
		return attempt{}, err
	}
	if accountBackoff.Locked(th, now) {
		return attempt{}, ErrLocked
	}
	if wait := accountBackoff.Wait(th, now); wait > 0 {
		return attempt{}, &ThrottledError{RetryAfter: wait}
	}
	return s.countAttempt(ctx, v, th, now, pending)
}

// ended answers a refused try of a pending login: when the login's
// session is gone meanwhile (a parallel request passed the gate with it, or
// ended it), that is the answer, not the refusal this request met on its
// way (a code spent by the winner, a throttle).
func (s *Service) ended(ctx context.Context, v *gatehouse.Visit, pending bool, err error) error {
	if !pending || errors.Is(err, ErrLoginEnded) || errors.Is(err, ErrTooManyFailures) {
		return err
	}
	if !isWrongCode(err) && !errors.As(err, new(*ThrottledError)) {
		return err
	}
	if _, ferr := s.Store.FindVisit(ctx, v.Workspace.ID, v.Session.TokenHash); errors.Is(ferr, gatehouse.ErrNotFound) {
		return ErrLoginEnded
	}
	return err
}

// Pending reports whether the visit's session has yet to satisfy the gate
// under decision d (a pending login).
func Pending(v *gatehouse.Visit, d Decision) bool {
	return !Satisfied(d, v.Session.MFAVerifiedAt != nil, v.Session.EnrollSkippedAt != nil)
}

// confirm checks an enrollment code like a challenge: the try is counted
// against the login and the account, and a right code clears the account's
// failures.
func (s *Service) confirm(ctx context.Context, v *gatehouse.Visit, now time.Time, check func() error) error {
	pending := Pending(v, Decide(InputFor(v, false, now)))
	a, err := s.regulate(ctx, v, now, pending)
	if err != nil {
		return s.ended(ctx, v, pending, err)
	}
	if err := check(); err != nil {
		if isWrongCode(err) {
			return s.ended(ctx, v, pending, a.wrong(err))
		}
		return err
	}
	return s.Store.ResetThrottle(ctx, v.Workspace.ID, lockKey(v.User.ID))
}

// Offers reports whether the visit may use method ("totp", "sms",
// "email" or "recovery") under decision d. A pending login may use what the
// gate offers (e-mail alone while proving the mailbox); a signed-in session
// re-verifying may use any of the user's active methods, whatever the
// workspace's mode. Recovery codes need some left.
func Offers(v *gatehouse.Visit, d Decision, method string, recoveryLeft int) bool {
	pending := Pending(v, d)
	switch {
	case method == "recovery":
		return recoveryLeft > 0 && (!pending || d.Next == Challenge)
	case !pending:
		return contains(v.Methods, gatehouse.Method(method))
	case d.Next == ProveMailbox:
		return method == string(gatehouse.MethodEmail)
	}
	return contains(d.Options, gatehouse.Method(method))
}

func isWrongCode(err error) bool {
	return errors.Is(err, ErrMismatch) || errors.Is(err, ErrExpired) || errors.Is(err, ErrReplay) ||
		errors.Is(err, ErrRecoveryUsed) || errors.Is(err, ErrNoCode)
}

// useTOTP checks a code from the app against the user's TOTP factor
// (active or pending, as mustBeActive says) and spends its step; it returns
// the factor as checked.
func (s *Service) useTOTP(ctx context.Context, v *gatehouse.Visit, code string, now time.Time, mustBeActive bool) (*Factor, error) {
	code, ok := NormalizeCode(code)
	if !ok {
		return nil, ErrMismatch
	}
	f, err := s.factor(ctx, v, gatehouse.MethodTOTP)
	if err != nil {
		return nil, err
	}
	if f == nil || f.Active != mustBeActive {
		return nil, ErrUnavailable
	}
	seed, err := s.Keys.Open(f.Secret, totpAAD(v))
	if err != nil {
		return nil, fmt.Errorf("open TOTP secret of user %d: %w", v.User.ID, err)
	}
	step, ok := MatchTOTP(string(seed), code, now)
	if !ok {
		return nil, ErrMismatch
	}
	// One conditional update: a step is accepted once, even by two
	// instances at the same moment.
	err = s.Store.UseTOTPStep(ctx, v.Workspace.ID, v.User.ID, step)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrReplay
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// useCode spends the session's code on the channel that was sent to to.
func (s *Service) useCode(ctx context.Context, v *gatehouse.Visit, channel gatehouse.Method, to, code string, now time.Time) error {
	code, ok := NormalizeCode(code)
	if !ok {
		return ErrMismatch
	}
	_, err := s.Store.ConsumeCode(ctx, v.Workspace.ID, v.Session.ID, channel, s.codeMAC(v, channel, to, code), now)
	if err == nil {
		// The minute between codes holds only while the last one is unused
		// (SPEC §4): once used, another may go out at once.
		return s.Store.ReopenSendGap(ctx, v.Workspace.ID, v.User.ID, channel, now.Add(-ResendGap))
	}
	if !errors.Is(err, gatehouse.ErrNotFound) {
		return err
	}
	latest, err := s.Store.FindLatestCode(ctx, v.Workspace.ID, v.Session.ID, channel)
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return ErrNoCode
	case err != nil:
		return err
	case !now.Before(latest.ExpiresAt):
		return ErrExpired
	}
	return ErrMismatch
}

// spentHere reports whether code is the login's newest code on channel
// and has been used.
func (s *Service) spentHere(ctx context.Context, v *gatehouse.Visit, channel gatehouse.Method, to, code string) bool {
	code, ok := NormalizeCode(code)
	if !ok {
		return false
	}
	latest, err := s.Store.FindLatestCode(ctx, v.Workspace.ID, v.Session.ID, channel)
	return err == nil && latest.UsedAt != nil && subtle.ConstantTimeCompare(latest.MAC, s.codeMAC(v, channel, to, code)) == 1
}

func (s *Service) useRecoveryCode(ctx context.Context, v *gatehouse.Visit, input string, now time.Time) error {
	canonical, ok := NormalizeRecoveryCode(input)
	if !ok {
		return ErrMismatch
	}
	mac := s.recoveryMAC(v, canonical)
	err := s.Store.ConsumeRecoveryCode(ctx, v.Workspace.ID, v.User.ID, mac, now)
	if !errors.Is(err, gatehouse.ErrNotFound) {
		return err
	}
	used, err := s.Store.IsRecoveryCodeUsed(ctx, v.Workspace.ID, v.User.ID, mac)
	if err != nil {
		return err
	}
	if used {
		return ErrRecoveryUsed
	}
	return ErrMismatch
}

// markMailbox records that this login proved the mailbox with an e-mailed
// code. The proof belongs to the session: a later login proves it again.
func (s *Service) markMailbox(ctx context.Context, v *gatehouse.Visit, now time.Time) error {
	if err := s.Store.MarkSession(ctx, v.Workspace.ID, v.Session.ID, gatehouse.SessionMarks{MailboxProvenAt: &now}); err != nil {
		return err
	}
	v.Session.MailboxProvenAt = &now
	return nil
}

func (s *Service) factor(ctx context.Context, v *gatehouse.Visit, m gatehouse.Method) (*Factor, error) {
	fs, err := s.Store.FindFactors(ctx, v.Workspace.ID, v.User.ID)
	if err != nil {
		return nil, err
	}
	for i := range fs {
		if fs[i].Method == m {
			return &fs[i], nil
		}
	}
	return nil, nil
}

// Factors returns the user's factors and unused recovery codes, for the
// Security page.
func (s *Service) Factors(ctx context.Context, v *gatehouse.Visit) ([]Factor, int, error) {
	fs, err := s.Store.FindFactors(ctx, v.Workspace.ID, v.User.ID)
	if err != nil {
		return nil, 0, err
	}
	left, err := s.Store.CountRecoveryCodes(ctx, v.Workspace.ID, v.User.ID)
	return fs, left, err
}

// TOTPSetup is what the enrollment page shows.
type TOTPSetup struct {
	Secret  string // base32
	Grouped string // for typing by hand
	URI     string // otpauth://, drawn as a QR code in the browser
}

// StartTOTP makes a new pending TOTP secret for the user, replacing any
// earlier pending one. An active TOTP factor must be disabled first.
func (s *Service) StartTOTP(ctx context.Context, v *gatehouse.Visit) (*TOTPSetup, error) {
	if !v.Workspace.MFA.Allows(gatehouse.MethodTOTP) {
		return nil, ErrUnavailable
	}
	f, err := s.factor(ctx, v, gatehouse.MethodTOTP)
	if err != nil {
		return nil, err
	}
	if f != nil && f.Active {
		return nil, fmt.Errorf("%w: the authenticator app is already set up", gatehouse.ErrInvalid)
	}
	seed, err := NewTOTPSecret()
	if err != nil {
		return nil, err
	}
	nf := &Factor{UserID: v.User.ID, Method: gatehouse.MethodTOTP, Secret: s.Keys.Seal([]byte(seed), totpAAD(v)), CreatedAt: s.Now()}
	if err := s.Store.SaveFactor(ctx, v.Workspace.ID, nf); err != nil {
		return nil, err
	}
	return s.setup(v, seed), nil
}

func (s *Service) setup(v *gatehouse.Visit, seed string) *TOTPSetup {
	return &TOTPSetup{Secret: seed, Grouped: GroupSecret(seed), URI: TOTPURI(seed, v.Workspace.DisplayName(), v.User.Email)}
}

// PendingTOTP returns the pending TOTP setup, to show the page again after
// a wrong code.
func (s *Service) PendingTOTP(ctx context.Context, v *gatehouse.Visit) (*TOTPSetup, error) {
	f, err := s.factor(ctx, v, gatehouse.MethodTOTP)
	if err != nil {
		return nil, err
	}
	if f == nil || f.Active {
		return nil, ErrNotPending
	}
	seed, err := s.Keys.Open(f.Secret, totpAAD(v))
	if err != nil {
		return nil, err
	}
	return s.setup(v, string(seed)), nil
}

// ConfirmTOTP activates the pending TOTP factor with a code from the app.
// The first time the user activates TOTP it returns 8 new recovery codes
// (shown once); it returns none when the user already has some.
func (s *Service) ConfirmTOTP(ctx context.Context, v *gatehouse.Visit, code, ip string) ([]string, error) {
	now := s.Now()
	// Nothing to confirm costs no attempt: check before counting.
	if f, err := s.factor(ctx, v, gatehouse.MethodTOTP); err != nil {
		return nil, err
	} else if f == nil || f.Active {
		return nil, ErrNotPending
	}
	if !v.Workspace.MFA.Allows(gatehouse.MethodTOTP) {
		return nil, ErrUnavailable
	}
	var checked *Factor
	if err := s.confirm(ctx, v, now, func() (err error) { checked, err = s.useTOTP(ctx, v, code, now, false); return err }); err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, ErrNotPending
		}
		return nil, err
	}
	// Activate the secret the code was checked against (a restart meanwhile
	// made another one, which nobody has confirmed), with recovery codes
	// when the user has none, in one transaction.
	codes, macs, err := s.makeRecoveryCodes(v)
	if err != nil {
		return nil, err
	}
	issued, err := s.addMethod(ctx, v, checked, macs, ip)
	if err != nil {
		return nil, err
	}
	if !issued {
		codes = nil
	}
	return codes, nil
}

// EnableEmail turns on e-mail codes. When this login proved the mailbox it
// is one click; otherwise a code is sent and ConfirmEmail finishes
// (needsCode).
func (s *Service) EnableEmail(ctx context.Context, v *gatehouse.Visit, ip string) (needsCode bool, err error) {
	if !v.Workspace.MFA.Allows(gatehouse.MethodEmail) {
		return false, ErrUnavailable
	}
	if v.Session.MailboxProvenAt == nil {
		return true, s.SendCode(ctx, v, gatehouse.MethodEmail, ip)
	}
	return false, s.activateEmail(ctx, v, ip)
}

// ConfirmEmail proves the mailbox with the code EnableEmail sent and turns
// on e-mail codes.
func (s *Service) ConfirmEmail(ctx context.Context, v *gatehouse.Visit, code, ip string) error {
	now := s.Now()
	if !v.Workspace.MFA.Allows(gatehouse.MethodEmail) {
		return ErrUnavailable
	}
	if err := s.confirm(ctx, v, now, func() error { return s.useCode(ctx, v, gatehouse.MethodEmail, v.User.Email, code, now) }); err != nil {
		return err
	}
	if err := s.markMailbox(ctx, v, now); err != nil {
		return err
	}
	return s.activateEmail(ctx, v, ip)
}

func (s *Service) activateEmail(ctx context.Context, v *gatehouse.Visit, ip string) error {
	now := s.Now()
	f := &Factor{UserID: v.User.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: now, ConfirmedAt: &now}
	_, err := s.addMethod(ctx, v, f, nil, ip)
	return err
}

// CanDisable reports whether the user may disable m: in required mode only
// while another active, allowed method remains.
func CanDisable(v *gatehouse.Visit, m gatehouse.Method) bool {
	if v.Workspace.MFA.Mode != gatehouse.MFARequired || !v.Workspace.Plan.HasMFA() {
		return true
	}
	for _, other := range Usable(v.Workspace.MFA, v.Methods, false) {
		if other != m {
			return true
		}
	}
	return false
}

// keepOneOf is what the store needs to keep the rule of CanDisable inside
// its transaction: in required mode the allowed methods, of which one must
// stay active; otherwise nil (no rule).
func keepOneOf(v *gatehouse.Visit) []gatehouse.Method {
	if v.Workspace.MFA.Mode != gatehouse.MFARequired || !v.Workspace.Plan.HasMFA() {
		return nil
	}
	return v.Workspace.MFA.Methods
}

// Disable removes the user's method m. Removing the last one turns
// two-factor sign-in off for the user (and voids the recovery codes).
func (s *Service) Disable(ctx context.Context, v *gatehouse.Visit, m gatehouse.Method, ip string) error {
	if m == gatehouse.MethodPasskey {
		// Passkeys go one by one (RemovePasskey): dropping the method
		// alone would leave credentials that still sign in.
		return ErrUnavailable
	}
	// Only a method the user has (active, or pending confirmation): a
	// missing one is no change to announce or to end sessions for.
	if f, err := s.factor(ctx, v, m); err != nil {
		return err
	} else if f == nil {
		return ErrUnavailable
	}
	// One transaction: the factor goes with the recovery codes (when it was
	// the last method) and the user's other sessions, or nothing does. The
	// store judges "another method remains" in that transaction, not from
	// v.Methods: two disables at once must not both pass.
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: v.User.ID, TargetID: v.User.ID, Type: "mfa.method.removed", IP: ip, Detail: string(m)}
	err := s.Store.RemoveMethod(ctx, v.Workspace.ID, v.User.ID, m, keepOneOf(v), v.Session.TokenHash, e)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return ErrUnavailable
	}
	if errors.Is(err, ErrLastMethod) {
		return ErrLastMethod
	}
	if err != nil {
		return err
	}
	s.notify(ctx, v, "Two-factor method removed", fmt.Sprintf("A two-step method was removed from your account at %s: %s.", v.Workspace.DisplayName(), MethodName(m)))
	return nil
}

// RegenerateRecovery voids the user's recovery codes and returns 8 new ones.
func (s *Service) RegenerateRecovery(ctx context.Context, v *gatehouse.Visit, ip string) ([]string, error) {
	if len(v.Methods) == 0 {
		return nil, fmt.Errorf("%w: set up a method first", gatehouse.ErrInvalid)
	}
	codes, err := s.newRecoveryCodes(ctx, v, s.Now())
	if err != nil {
		return nil, err
	}
	s.audit(ctx, v, v.User.ID, "mfa.recovery.regenerated", ip, "")
	s.notify(ctx, v, "New recovery codes", "New recovery codes were made for your account at "+v.Workspace.DisplayName()+". The old ones no longer work.")
	return codes, s.endOtherSessions(ctx, v)
}

func (s *Service) newRecoveryCodes(ctx context.Context, v *gatehouse.Visit, now time.Time) ([]string, error) {
	codes, macs, err := s.makeRecoveryCodes(v)
	if err != nil {
		return nil, err
	}
	if err := s.Store.ReplaceRecoveryCodes(ctx, v.Workspace.ID, v.User.ID, macs, now); err != nil {
		return nil, err
	}
	return codes, nil
}

// makeRecoveryCodes returns new recovery codes as shown and the MACs they
// are stored under.
func (s *Service) makeRecoveryCodes(v *gatehouse.Visit) (codes []string, macs [][]byte, err error) {
	if codes, err = NewRecoveryCodes(); err != nil {
		return nil, nil, err
	}
	macs = make([][]byte, len(codes))
	for i, c := range codes {
		macs[i] = s.recoveryMAC(v, c)
		codes[i] = FormatRecoveryCode(c)
	}
	return codes, macs, nil
}

// addMethod turns on the method of f (pending: activated as it was
// checked; new: saved), with the recovery codes macs when the user has
// none, ends the user's other sessions (SPEC §6) and records it, in one
// transaction; then the user is e-mailed. It reports whether the codes
// were stored.
func (s *Service) addMethod(ctx context.Context, v *gatehouse.Visit, f *Factor, macs [][]byte, ip string) (bool, error) {
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: v.User.ID, TargetID: v.User.ID, Type: "mfa.method.added", IP: ip, Detail: string(f.Method)}
	issued, err := s.Store.AddMethod(ctx, v.Workspace.ID, f, macs, v.Session.TokenHash, s.Now(), e)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return false, ErrNotPending
	}
	if err != nil {
		return false, err
	}
	s.notify(ctx, v, "Two-factor method added", fmt.Sprintf("A two-step method was added to your account at %s: %s.", v.Workspace.DisplayName(), MethodName(f.Method)))
	return issued, nil
}

func (s *Service) endOtherSessions(ctx context.Context, v *gatehouse.Visit) error {
	_, err := s.Store.DeleteUserSessions(ctx, v.Workspace.ID, v.User.ID, v.Session.TokenHash)
	return err
}

// notify e-mails the user about a security change. A failure to queue is
// logged, not returned: the change itself has happened.
func (s *Service) notify(ctx context.Context, v *gatehouse.Visit, subject, line string) {
	body := line + "\n\nIf this was not you, reset your password and tell your workspace admin.\n"
	if err := s.Mailer.Enqueue(ctx, v.Workspace.ID, v.User.Email, subject, body); err != nil {
		s.logger().Error("queue security e-mail", "user", v.User.ID, "err", err)
	}
}

// audit records a security event; a failure is logged, not returned.
func (s *Service) audit(ctx context.Context, v *gatehouse.Visit, target int64, typ, ip, detail string) {
	e := &gatehouse.AuditEvent{At: s.Now(), ActorID: v.User.ID, TargetID: target, Type: typ, IP: ip, Detail: detail}
	if err := s.Store.AddAuditEvent(ctx, v.Workspace.ID, e); err != nil {
		s.logger().Error("audit", "type", typ, "err", err)
	}
}

// MethodName is a method's name for people.
func MethodName(m gatehouse.Method) string {
	switch m {
	case gatehouse.MethodPasskey:
		return "Passkey"
	case gatehouse.MethodTOTP:
		return "Authenticator app"
	case gatehouse.MethodSMS:
		return "Text message (SMS)"
	case gatehouse.MethodEmail:
		return "E-mail codes"
	}
	return string(m)
}
