package mfa

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var (
	now      = time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)
	totp     = gatehouse.MethodTOTP
	sms      = gatehouse.MethodSMS
	email    = gatehouse.MethodEmail
	allThree = []gatehouse.Method{totp, sms, email}
)

func settings(mode gatehouse.MFAMode, allowed ...gatehouse.Method) gatehouse.MFASettings {
	return gatehouse.MFASettings{Mode: mode, Methods: allowed, TrustedDeviceDays: 30, ModeChangedAt: now.Add(-100 * 24 * time.Hour)}
}

// TestDecideCases names each rule of SPEC §2-§5 once.
func TestDecideCases(t *testing.T) {
	grace := settings(gatehouse.MFARequired, totp, email)
	grace.GraceDays = 7
	grace.ModeChangedAt = now.Add(-3 * 24 * time.Hour)
	graceOver := grace
	graceOver.ModeChangedAt = now.Add(-8 * 24 * time.Hour)
	smsOnly := settings(gatehouse.MFARequired, totp, sms)

	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		{"starter plan pauses everything", Input{Plan: gatehouse.PlanStarter, Settings: settings(gatehouse.MFARequired, totp), Methods: []gatehouse.Method{totp}},
			Decision{Next: SignedIn}},
		{"disabled mode pauses everything", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFADisabled, totp), Methods: []gatehouse.Method{totp}},
			Decision{Next: SignedIn}},
		{"optional, not enrolled", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFAOptional, totp, email)},
			Decision{Next: SignedIn}},
		{"optional, enrolled: strongest first", Input{Plan: gatehouse.PlanUnlimited, Settings: settings(gatehouse.MFAOptional, allThree...), Methods: []gatehouse.Method{email, totp}, HasRecoveryCodes: true},
			Decision{Next: Challenge, Method: totp, Options: []gatehouse.Method{totp, email}, Recovery: true}},
		{"SMS outranks e-mail", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFAOptional, allThree...), Methods: []gatehouse.Method{email, sms}},
			Decision{Next: Challenge, Method: sms, Options: []gatehouse.Method{sms, email}}},
		{"disallowed method is not offered", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFAOptional, email), Methods: []gatehouse.Method{totp, email}},
			Decision{Next: Challenge, Method: email, Options: []gatehouse.Method{email}}},
		{"optional, only a disallowed method: not challenged", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFAOptional, email), Methods: []gatehouse.Method{totp}},
			Decision{Next: SignedIn}},
		{"trusted device skips the challenge", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFARequired, totp), Methods: []gatehouse.Method{totp}, TrustedDevice: true},
			Decision{Next: SignedIn}},
		{"required, no method, mailbox unproven", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFARequired, totp, email)},
			Decision{Next: ProveMailbox}},
		{"required, no method, mailbox proven", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFARequired, totp, email), MailboxProven: true},
			Decision{Next: Enroll}},
		{"required, e-mail not allowed: enroll at once", Input{Plan: gatehouse.PlanPro, Settings: smsOnly},
			Decision{Next: Enroll}},
		{"required, only a disallowed method: enroll an allowed one", Input{Plan: gatehouse.PlanPro, Settings: smsOnly, Methods: []gatehouse.Method{email}, MailboxProven: true},
			Decision{Next: Enroll}},
		{"grace period: may skip", Input{Plan: gatehouse.PlanPro, Settings: grace, UserCreatedAt: now.Add(-time.Hour), Now: now},
			Decision{Next: Enroll, CanSkip: true, GraceUntil: now.Add(-time.Hour).Add(7 * 24 * time.Hour)}},
		{"grace counts from the mode change when later", Input{Plan: gatehouse.PlanPro, Settings: grace, UserCreatedAt: now.Add(-300 * 24 * time.Hour), Now: now},
			Decision{Next: Enroll, CanSkip: true, GraceUntil: grace.ModeChangedAt.Add(7 * 24 * time.Hour)}},
		{"grace over", Input{Plan: gatehouse.PlanPro, Settings: graceOver, UserCreatedAt: now.Add(-300 * 24 * time.Hour), Now: now},
			Decision{Next: ProveMailbox}},
		{"after reset: e-mail refused when another method exists", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFARequired, allThree...), Methods: []gatehouse.Method{totp, email}, AfterReset: true},
			Decision{Next: Challenge, Method: totp, Options: []gatehouse.Method{totp}}},
		{"after reset: e-mail kept when it is the only method", Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFARequired, allThree...), Methods: []gatehouse.Method{email}, AfterReset: true},
			Decision{Next: Challenge, Method: email, Options: []gatehouse.Method{email}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.Now.IsZero() {
				tt.in.Now = now
			}
			got := Decide(tt.in)
			if got.Next != tt.want.Next || got.Method != tt.want.Method || !slices.Equal(got.Options, tt.want.Options) ||
				got.Recovery != tt.want.Recovery || got.CanSkip != tt.want.CanSkip || !got.GraceUntil.Equal(tt.want.GraceUntil) {
				t.Fatalf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// subsets returns every subset of ms, keeping their order.
func subsets(ms []gatehouse.Method) [][]gatehouse.Method {
	var out [][]gatehouse.Method
	for mask := range 1 << len(ms) {
		var s []gatehouse.Method
		for i, m := range ms {
			if mask&(1<<i) != 0 {
				s = append(s, m)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestDecideExhaustive checks the policy's invariants over every plan × mode
// × allowed methods × user methods × trusted device × grace × mailbox ×
// reset combination.
func TestDecideExhaustive(t *testing.T) {
	plans := []gatehouse.Plan{gatehouse.PlanStarter, gatehouse.PlanPro, gatehouse.PlanUnlimited}
	modes := []gatehouse.MFAMode{gatehouse.MFADisabled, gatehouse.MFAOptional, gatehouse.MFARequired}
	graces := []struct {
		name        string
		days        int
		inGrace     bool
		modeChanged time.Time
	}{
		{"none", 0, false, now.Add(-time.Hour)},
		{"inside", 5, true, now.Add(-time.Hour)},
		{"over", 5, false, now.Add(-6 * 24 * time.Hour)},
	}
	n := 0
	for _, plan := range plans {
		for _, mode := range modes {
			for _, allowed := range subsets(allThree) {
				if len(allowed) == 0 {
					continue // the owner cannot save an empty set
				}
				for _, active := range subsets(allThree) {
					for _, trusted := range []bool{false, true} {
						for _, g := range graces {
							for _, verified := range []bool{false, true} {
								for _, afterReset := range []bool{false, true} {
									for _, codes := range []bool{false, true} {
										s := gatehouse.MFASettings{Mode: mode, Methods: allowed, GraceDays: g.days, ModeChangedAt: g.modeChanged}
										in := Input{Plan: plan, Settings: s, Methods: active, TrustedDevice: trusted, MailboxProven: verified,
											AfterReset: afterReset, UserCreatedAt: now.Add(-30 * 24 * time.Hour), Now: now, HasRecoveryCodes: codes}
										checkInvariants(t, fmt.Sprintf("%s/%s/allowed=%v/active=%v/trusted=%v/grace=%s/verified=%v/reset=%v/codes=%v",
											plan, mode, allowed, active, trusted, g.name, verified, afterReset, codes), in, g.inGrace)
										n++
									}
								}
							}
						}
					}
				}
			}
		}
	}
	if n != 3*3*7*8*2*3*2*2*2 {
		t.Fatalf("checked %d combinations", n)
	}
}

func checkInvariants(t *testing.T, name string, in Input, inGrace bool) {
	t.Helper()
	d := Decide(in)
	fail := func(why string) { t.Fatalf("%s: %s (got %+v)", name, why, d) }
	var usable []gatehouse.Method
	for _, m := range allThree {
		if slices.Contains(in.Settings.Methods, m) && slices.Contains(in.Methods, m) {
			usable = append(usable, m)
		}
	}
	if in.AfterReset && len(usable) > 1 {
		usable = slices.DeleteFunc(usable, func(m gatehouse.Method) bool { return m == email })
	}
	enforced := in.Plan != gatehouse.PlanStarter && in.Settings.Mode != gatehouse.MFADisabled
	switch {
	case !enforced:
		if d.Next != SignedIn {
			fail("a paused plan or mode must sign in")
		}
	case in.TrustedDevice:
		if d.Next != SignedIn {
			fail("a trusted device must sign in")
		}
	case len(usable) > 0:
		if d.Next != Challenge || d.Method != usable[0] || !slices.Equal(d.Options, usable) {
			fail(fmt.Sprintf("must challenge with %v", usable))
		}
	case in.Settings.Mode == gatehouse.MFAOptional:
		if d.Next != SignedIn {
			fail("optional mode without a usable method must sign in")
		}
	case inGrace:
		if d.Next != Enroll || !d.CanSkip {
			fail("inside the grace period enrollment may be skipped")
		}
	case slices.Contains(in.Settings.Methods, email) && !in.MailboxProven:
		if d.Next != ProveMailbox {
			fail("required mode must prove the mailbox first")
		}
	default:
		if d.Next != Enroll || d.CanSkip {
			fail("required mode must force enrollment")
		}
	}
	if d.Next == Challenge && in.AfterReset && len(d.Options) > 1 && slices.Contains(d.Options, email) {
		fail("e-mail offered after a reset although another method exists")
	}
	// "Use a recovery code" (SPEC §5) is one of the ways through a
	// challenge, for a user who holds codes: never without codes, never
	// where no challenge is asked, always beside a challenge when the user
	// has codes.
	if d.Recovery != (d.Next == Challenge && in.HasRecoveryCodes) {
		fail(fmt.Sprintf("recovery offered = %v for a %s decision, user has recovery codes = %v", d.Recovery, d.Next, in.HasRecoveryCodes))
	}
}

func TestSatisfied(t *testing.T) {
	tests := []struct {
		name              string
		d                 Decision
		verified, skipped bool
		want              bool
	}{
		{"signed in", Decision{Next: SignedIn}, false, false, true},
		{"challenge, unverified", Decision{Next: Challenge}, false, false, false},
		{"challenge, verified", Decision{Next: Challenge}, true, false, true},
		{"challenge, only skipped", Decision{Next: Challenge}, false, true, false},
		{"prove mailbox", Decision{Next: ProveMailbox}, true, true, false},
		{"enroll, forced", Decision{Next: Enroll}, true, false, false},
		{"enroll, forced, skipped before", Decision{Next: Enroll}, false, true, false},
		{"enroll, skipped in grace", Decision{Next: Enroll, CanSkip: true}, false, true, true},
		{"enroll, grace not yet skipped", Decision{Next: Enroll, CanSkip: true}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Satisfied(tt.d, tt.verified, tt.skipped); got != tt.want {
				t.Fatalf("Satisfied = %v, want %v", got, tt.want)
			}
		})
	}
}
