// Package mfa is Gatehouse's two-factor domain: the policy that decides what
// a login needs, TOTP, one-time codes, recovery codes, and the service that
// verifies and enrolls. It knows nothing of HTTP or SQL: stores implement
// Store, and the web layer calls Service.
package mfa

import (
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Next is what a login needs before the user is signed in.
type Next int

// The outcomes of Decide.
const (
	// SignedIn: nothing more is needed.
	SignedIn Next = iota
	// Challenge: pass the second factor Decision.Method (or another of
	// Decision.Options, or a recovery code).
	Challenge
	// ProveMailbox: required mode, no method yet, e-mail allowed: prove the
	// mailbox with an e-mailed code first, then enroll.
	ProveMailbox
	// Enroll: required mode, no usable method: activate one (in a grace
	// period the user may skip, see Decision.CanSkip).
	Enroll
)

func (n Next) String() string {
	return [...]string{"signed-in", "challenge", "prove-mailbox", "enroll"}[n]
}

// Input is everything Decide looks at. It is plain data, so the policy can
// be tested over every combination.
type Input struct {
	Plan     gatehouse.Plan
	Settings gatehouse.MFASettings
	// Methods are the user's active methods, allowed or not.
	Methods          []gatehouse.Method
	HasRecoveryCodes bool
	// MailboxProven reports that this login proved the mailbox (an e-mailed
	// code or link); a proof from an earlier login does not count, or a
	// password alone could enroll e-mail with one click.
	MailboxProven bool
	UserCreatedAt time.Time
	// TrustedDevice reports that the browser holds a valid trusted-device
	// cookie for this user.
	TrustedDevice bool
	// AfterReset marks a login through a password reset, which already
	// proved the mailbox: e-mail cannot also be the second factor when the
	// user has another method.
	AfterReset bool
	Now        time.Time
}

// Decision is the policy's answer.
type Decision struct {
	Next Next
	// Method is the strongest usable method (Challenge).
	Method gatehouse.Method
	// Options are all usable methods, strongest first (Challenge): the
	// "Try another way" list.
	Options []gatehouse.Method
	// Recovery reports that a recovery code may be used (Challenge).
	Recovery bool
	// CanSkip reports a grace period: enrollment may wait (Enroll).
	CanSkip bool
	// GraceUntil is when the grace period ends (Enroll with CanSkip).
	GraceUntil time.Time
}

// Decide is the login policy of SPEC §2-§5. It is checked on every login
// and request, never cached, so a plan downgrade or a mode change applies at
// once, and an upgrade restores enrolled methods with no re-enrollment.
func Decide(in Input) Decision {
	if !in.Plan.HasMFA() || in.Settings.Mode == gatehouse.MFADisabled {
		return Decision{Next: SignedIn}
	}
	usable := Usable(in.Settings, in.Methods, in.AfterReset)
	if in.TrustedDevice {
		return Decision{Next: SignedIn}
	}
	if len(usable) > 0 {
		return Decision{Next: Challenge, Method: usable[0], Options: usable, Recovery: in.HasRecoveryCodes}
	}
	if in.Settings.Mode == gatehouse.MFAOptional {
		// Optional mode challenges only users who opted in with a method
		// the owner still allows.
		return Decision{Next: SignedIn}
	}
	if in.Settings.GraceDays > 0 {
		start := in.Settings.ModeChangedAt
		if in.UserCreatedAt.After(start) {
			start = in.UserCreatedAt
		}
		until := start.Add(time.Duration(in.Settings.GraceDays) * 24 * time.Hour)
		if in.Now.Before(until) {
			return Decision{Next: Enroll, CanSkip: true, GraceUntil: until}
		}
	}
	if in.Settings.Allows(gatehouse.MethodEmail) && !in.MailboxProven {
		return Decision{Next: ProveMailbox}
	}
	return Decision{Next: Enroll}
}

// Usable returns the user's active methods that the workspace allows,
// strongest first. After a password reset, e-mail is dropped when another
// method remains.
func Usable(s gatehouse.MFASettings, active []gatehouse.Method, afterReset bool) []gatehouse.Method {
	var usable []gatehouse.Method
	for _, m := range gatehouse.Methods { // strength order
		if s.Allows(m) && contains(active, m) {
			usable = append(usable, m)
		}
	}
	if afterReset && len(usable) > 1 && usable[len(usable)-1] == gatehouse.MethodEmail {
		usable = usable[:len(usable)-1]
	}
	return usable
}

// Satisfied reports whether a session may go past the gate under decision d:
// verified is whether it passed a second factor (or confirmed a new one),
// skipped whether the user chose "Remind me later" in a grace period.
func Satisfied(d Decision, verified, skipped bool) bool {
	switch d.Next {
	case SignedIn:
		return true
	case Challenge:
		return verified
	case Enroll:
		return d.CanSkip && (skipped || verified)
	}
	return false
}

func contains(ms []gatehouse.Method, m gatehouse.Method) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}
