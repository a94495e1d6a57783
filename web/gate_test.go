package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// wantGate checks that a pending session reaches none of the signed-in
// pages: dashboard and portal redirect to the gate, the API answers
// mfa_required.
func wantGate(t *testing.T, b *browser, slug, gate string) {
	t.Helper()
	for _, p := range []string{"/dashboard", "/portal", "/dashboard/users"} {
		res := b.get(wsURL(slug, p))
		if res.StatusCode != http.StatusSeeOther || res.location() != gate {
			t.Fatalf("pending session on %s: %d %q, want 303 %q", p, res.StatusCode, res.location(), gate)
		}
	}
	res := b.get(wsURL(slug, "/api/v1/me"))
	wantStatus(t, "pending api", res, http.StatusUnauthorized)
	if strings.TrimSpace(res.body) != `{"error":"mfa_required"}` {
		t.Fatalf("pending api = %s", res.body)
	}
}

func TestTOTPEnrollAndChallenge(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res := b.get(wsURL("acme", "/account/security"))
	wantStatus(t, "security page", res, http.StatusOK)
	wantBody(t, "security page", res, "/account/security/totp/start")
	secret, codes := b.enrollTOTP("acme")
	if !strings.Contains(e.mailSubjects("owner@example.com"), "Two-factor method added") {
		t.Fatal("no e-mail about the new method")
	}

	// Sign in again: the password leads to the challenge, not the dashboard.
	b.post(wsURL("acme", "/logout"), nil)
	res = b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "next": {"/dashboard/users"}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/login/verify" {
		t.Fatalf("login with TOTP: %d %q", res.StatusCode, res.location())
	}
	pending := b.cookie("acme")
	wantGate(t, b, "acme", "/login/verify")
	res = b.get(wsURL("acme", "/login/verify"))
	wantStatus(t, "verify page", res, http.StatusOK)
	wantBody(t, "verify page", res, "authenticator app")
	wantBody(t, "verify page", res, "Use a recovery code")

	code := e.totpCode(secret)
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {code[:3] + " " + code[3:]}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/dashboard/users" {
		t.Fatalf("verify: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	if b.cookie("acme") == pending || b.cookie("acme") == "" {
		t.Fatal("the session id was not rotated at verification")
	}
	wantStatus(t, "dashboard after verify", b.get(wsURL("acme", "/dashboard")), http.StatusOK)

	// The same code (same step) is refused the second time, even spelled
	// differently.
	b2 := e.browser()
	b2.login("acme", "owner@example.com", goodPassword, "/login/verify")
	res = b2.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {code}})
	wantStatus(t, "replayed code", res, http.StatusUnauthorized)
	wantBody(t, "replayed code", res, "already used")

	// A recovery code works once.
	res = b2.post(wsURL("acme", "/login/verify"), url.Values{"method": {"recovery"}, "code": {strings.ToUpper(codes[0])}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/account/security?done=recovery") {
		t.Fatalf("recovery code: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	res = b2.get(wsURL("acme", res.location()))
	wantBody(t, "recovery left", res, "You have 7 left.")
	wantBody(t, "recovery left", res, `href="/dashboard"`)
	b3 := e.browser()
	b3.login("acme", "owner@example.com", goodPassword, "/login/verify")
	res = b3.post(wsURL("acme", "/login/verify"), url.Values{"method": {"recovery"}, "code": {codes[0]}})
	wantStatus(t, "used recovery code", res, http.StatusUnauthorized)
	wantBody(t, "used recovery code", res, "That recovery code was already used")
	if !strings.Contains(e.mailSubjects("owner@example.com"), "A recovery code was used") {
		t.Fatal("no e-mail about the recovery code")
	}
}

func (e *env) mailSubjects(to string) string {
	e.tb.Helper()
	ms, err := e.store.ListMessages(context.Background(), 1000)
	if err != nil {
		e.tb.Fatal(err)
	}
	var subjects []string
	for _, m := range ms {
		if m.To == to {
			subjects = append(subjects, m.Subject)
		}
	}
	return strings.Join(subjects, "\n")
}

// enableEmail turns on e-mail codes for a signed-in browser.
func (b *browser) enableEmail(slug, email string) {
	b.tb.Helper()
	res := b.post(wsURL(slug, "/account/security/email/enable"), nil)
	if res.location() == "/account/security/email/confirm" { // this login has not proved the mailbox
		wantStatus(b.tb, "confirm page", b.get(wsURL(slug, res.location())), http.StatusOK)
		res = b.post(wsURL(slug, "/account/security/email/confirm"), url.Values{"code": {b.env.lastCode(email)}})
	}
	if res.StatusCode != http.StatusSeeOther {
		b.tb.Fatalf("enable e-mail: %d\n%s", res.StatusCode, res.body)
	}
}

func TestEmailCodes(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	b.enableEmail("acme", "client@example.com")
	e.clock.Advance(61 * time.Second) // enabling sent a code: the minute is per user

	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	res := b.get(wsURL("acme", "/login/verify"))
	wantStatus(t, "verify page", res, http.StatusOK)
	wantBody(t, "verify page", res, `data-countdown-seconds="60"`)
	code := e.lastCode("client@example.com")

	// A second visit within the minute sends nothing new.
	b.get(wsURL("acme", "/login/verify?method=email"))
	if e.lastCode("client@example.com") != code {
		t.Fatal("a new code was sent within the minute")
	}
	res = b.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"email"}})
	wantStatus(t, "resend within the minute", res, http.StatusTooManyRequests)
	wantBody(t, "resend within the minute", res, "Codes can only be sent every minute")
	if res.Header.Get("Retry-After") != "60" {
		t.Fatalf("Retry-After = %q, want 60", res.Header.Get("Retry-After"))
	}
	e.clock.Advance(20 * time.Second)
	res = b.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"email"}})
	wantBody(t, "seconds left", res, "40 seconds")

	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {code}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("email code: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	// The code is single use and bound to its login.
	b2 := e.browser()
	b2.login("acme", "client@example.com", goodPassword, "/login/verify")
	res = b2.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {code}})
	wantStatus(t, "code reused", res, http.StatusUnauthorized)

	// Expiry: a code older than 10 minutes is refused with its own message.
	b3 := e.browser()
	e.clock.Advance(2 * time.Minute)
	b3.login("acme", "client@example.com", goodPassword, "/login/verify")
	b3.get(wsURL("acme", "/login/verify"))
	stale := e.lastCode("client@example.com")
	e.clock.Advance(9 * time.Minute) // the pending login itself lasts 10 minutes
	e.clock.Advance(61 * time.Second)
	res = b3.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {stale}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("a pending login older than 10 minutes must be gone: %d %q", res.StatusCode, res.location())
	}
}

// TestPauseAndRestore: the starter plan and disabled mode pause every
// challenge and keep the data; upgrading or re-enabling challenges with the
// TOTP enrolled before, without re-enrollment.
func TestPauseAndRestore(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	secret, _ := b.enrollTOTP("acme")

	for _, pause := range []struct {
		name string
		plan gatehouse.Plan
		mode gatehouse.MFAMode
	}{
		{"starter plan", gatehouse.PlanStarter, gatehouse.MFARequired},
		{"disabled mode", gatehouse.PlanUnlimited, gatehouse.MFADisabled},
	} {
		t.Run(pause.name, func(t *testing.T) {
			e.setMFA("acme", pause.plan, pause.mode)
			b := e.browser()
			b.login("acme", "owner@example.com", goodPassword, "/dashboard")
			res := b.get(wsURL("acme", "/account/security"))
			if pause.plan == gatehouse.PlanStarter {
				wantBody(t, "starter security page", res, "Available on Pro and Unlimited")
			}
			e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
			// The change applies to the live session at once: its next
			// request is challenged.
			wantGate(t, b, "acme", "/login/verify")
			res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
			if res.StatusCode != http.StatusSeeOther || res.location() != "/dashboard" {
				t.Fatalf("verify with the old TOTP: %d %q\n%s", res.StatusCode, res.location(), res.body)
			}
		})
	}
}

// TestRequiredMode: an unenrolled user proves the mailbox, then must
// enroll before reaching the portal.
func TestRequiredMode(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify?method=email")
	wantGate(t, b, "acme", "/login/verify?method=email")
	wantStatus(t, "security before the mailbox proof", b.get(wsURL("acme", "/account/security")), http.StatusSeeOther)
	res := b.get(wsURL("acme", "/login/verify?method=email"))
	wantBody(t, "prove mailbox", res, "confirm your e-mail address")
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {e.lastCode("client@example.com")}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security" {
		t.Fatalf("mailbox proof: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	wantGate(t, b, "acme", "/account/security")
	res = b.get(wsURL("acme", "/account/security"))
	wantBody(t, "enroll page", res, "Set up two-step verification")
	if strings.Contains(res.body, "Remind me later") {
		t.Fatal("a skip button without a grace period")
	}
	wantStatus(t, "skip without grace", b.post(wsURL("acme", "/login/verify/skip"), nil), http.StatusForbidden)

	pending := b.cookie("acme")
	_, codes := b.enrollTOTP("acme")
	if len(codes) != 8 || b.cookie("acme") == pending {
		t.Fatal("enrollment did not finish the login with a new session")
	}
	wantStatus(t, "portal after enrolling", b.get(wsURL("acme", "/portal")), http.StatusOK)

	// The only method cannot be disabled in required mode.
	res = b.get(wsURL("acme", "/account/security"))
	if strings.Contains(res.body, "/account/security/totp/disable") {
		t.Fatal("Disable offered for the only method in required mode")
	}
	wantStatus(t, "disable the last method", b.post(wsURL("acme", "/account/security/totp/disable"), nil), http.StatusConflict)
}

func TestGracePeriod(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired, gatehouse.MethodTOTP)
	ws, _ = e.store.FindWorkspaceBySlug(context.Background(), ws.Slug)
	grace := 3
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{GraceDays: &grace}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/account/security")
	res := b.get(wsURL("acme", "/account/security"))
	wantBody(t, "grace", res, "Remind me later")
	res = b.post(wsURL("acme", "/login/verify/skip"), nil)
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("skip: %d %q", res.StatusCode, res.location())
	}
	wantStatus(t, "portal in grace", b.get(wsURL("acme", "/portal")), http.StatusOK)
	// When the grace period ends, the live session must enroll.
	e.clock.Advance(3*24*time.Hour + time.Minute)
	b2 := e.browser()
	b2.login("acme", "client@example.com", goodPassword, "/account/security")
	wantStatus(t, "skip after grace", b2.post(wsURL("acme", "/login/verify/skip"), nil), http.StatusForbidden)
}

// TestEveryWayInReachesTheGate: invitation, sign-up and password reset
// end in the gate like the password form; none signs in by itself.
func TestEveryWayInReachesTheGate(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired, gatehouse.MethodTOTP)
	ws, _ = e.store.FindWorkspaceBySlug(context.Background(), "acme")
	on := true
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if _, _, err := e.accounts.Invite(ctx, ws, nil, "inv@example.com", gatehouse.RoleMember); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	res := b.post(wsURL("acme", e.lastLink("inv@example.com")), url.Values{"name": {"I"}, "password": {goodPassword}})
	if res.location() != "/account/security" {
		t.Fatalf("invitation went to %q, want the enrollment page", res.location())
	}
	wantGate(t, b, "acme", "/account/security")

	b = e.browser()
	b.post(wsURL("acme", "/signup"), url.Values{"name": {"S"}, "email": {"sign@example.com"}, "password": {goodPassword}})
	res = b.post(wsURL("acme", e.lastLink("sign@example.com")), url.Values{"password": {goodPassword}})
	if res.location() != "/account/security" {
		t.Fatalf("sign-up went to %q, want the enrollment page", res.location())
	}
	wantGate(t, b, "acme", "/account/security")

	if err := e.accounts.RequestReset(ctx, ws, "client@example.com"); err != nil {
		t.Fatal(err)
	}
	b = e.browser()
	res = b.post(wsURL("acme", e.lastLink("client@example.com")), url.Values{"password": {"a brand new passphrase"}})
	if res.location() != "/account/security" {
		t.Fatalf("reset went to %q, want the enrollment page", res.location())
	}
	wantGate(t, b, "acme", "/account/security")
}

// TestResetRefusesEmailFactor: after a password reset, which proved the
// mailbox, an e-mail code cannot be the second factor when the user has
// another method.
func TestResetRefusesEmailFactor(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, _ := b.enrollTOTP("acme")
	b.enableEmail("acme", "client@example.com")

	if err := e.accounts.RequestReset(context.Background(), ws, "client@example.com"); err != nil {
		t.Fatal(err)
	}
	b = e.browser()
	res := b.post(wsURL("acme", e.lastLink("client@example.com")), url.Values{"password": {"a brand new passphrase"}})
	if res.location() != "/login/verify" {
		t.Fatalf("reset went to %q", res.location())
	}
	res = b.get(wsURL("acme", "/login/verify?method=email"))
	if strings.Contains(res.body, `value="email"`) {
		t.Fatal("e-mail offered as the second factor after a reset")
	}
	wantStatus(t, "email after reset", b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {"123456"}}), http.StatusUnauthorized)
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("totp after reset: %d %q", res.StatusCode, res.location())
	}
}

// TestSensitiveChangesNeedReverification: after 10 minutes, disabling a
// method asks for a second factor first; a method change ends the user's
// other sessions.
func TestSensitiveChangesNeedReverification(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	secret, _ := b.enrollTOTP("acme")
	other := e.browser()
	other.login("acme", "owner@example.com", goodPassword, "/login/verify")
	other.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
	wantStatus(t, "other session", other.get(wsURL("acme", "/dashboard")), http.StatusOK)

	e.clock.Advance(11 * time.Minute)
	res := b.post(wsURL("acme", "/account/security/totp/disable"), nil)
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security/reauth" {
		t.Fatalf("disable without re-verification: %d %q", res.StatusCode, res.location())
	}
	res = b.post(wsURL("acme", "/account/security/reauth"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
	wantStatus(t, "reauth", res, http.StatusSeeOther)
	res = b.post(wsURL("acme", "/account/security/totp/disable"), nil)
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security?done=removed" {
		t.Fatalf("disable: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	if res := other.get(wsURL("acme", "/dashboard")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other session survived a method change: %d", res.StatusCode)
	}
	// With no method left, the user signs in with the password alone.
	e.browser().login("acme", "owner@example.com", goodPassword, "/dashboard")
}

// TestMailboxProofIsPerLogin: the bypass a review found. In required mode
// an invited user (whose mailbox the invitation proved once) must prove it
// again in a later login: the password alone never leads to a one-click
// e-mail enrollment.
func TestMailboxProofIsPerLogin(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired, gatehouse.MethodTOTP, gatehouse.MethodEmail)
	if _, _, err := e.accounts.Invite(context.Background(), ws, nil, "new@example.com", gatehouse.RoleClient); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	res := b.post(wsURL("acme", e.lastLink("new@example.com")), url.Values{"name": {"N"}, "password": {goodPassword}})
	if res.location() != "/account/security" {
		t.Fatalf("the invitation link proved the mailbox in its own login, want enrollment, got %q", res.location())
	}
	b.post(wsURL("acme", "/logout"), nil)

	// A later login with the password only.
	b = e.browser()
	res = b.post(wsURL("acme", "/login"), url.Values{"email": {"new@example.com"}, "password": {goodPassword}})
	if res.location() != "/login/verify?method=email" {
		t.Fatalf("a later login went to %q, want the mailbox proof", res.location())
	}
	res = b.post(wsURL("acme", "/account/security/email/enable"), nil)
	if res.StatusCode != http.StatusSeeOther || strings.HasPrefix(res.location(), "/portal") {
		t.Fatalf("e-mail enabled without a code: %d %q", res.StatusCode, res.location())
	}
	wantGate(t, b, "acme", "/login/verify?method=email")
	// After the e-mailed code, e-mail is one click and finishes the login.
	b.get(wsURL("acme", "/login/verify?method=email"))
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {e.lastCode("new@example.com")}})
	if res.location() != "/account/security" {
		t.Fatalf("mailbox proof: %d %q", res.StatusCode, res.location())
	}
	res = b.post(wsURL("acme", "/account/security/email/enable"), nil)
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("one-click e-mail after the proof: %d %q", res.StatusCode, res.location())
	}
	wantStatus(t, "portal", b.get(wsURL("acme", "/portal")), http.StatusOK)
}

// TestDisableMissingMethod: disabling a method the user does not have is
// refused, and announces nothing.
func TestDisableMissingMethod(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	before := e.mailCount("client@example.com")
	wantStatus(t, "disable a missing method", b.post(wsURL("acme", "/account/security/email/disable"), nil), http.StatusNotFound)
	wantStatus(t, "disable an unknown method", b.post(wsURL("acme", "/account/security/pigeon/disable"), nil), http.StatusNotFound)
	if e.mailCount("client@example.com") != before {
		t.Fatal("a refused disable sent an e-mail")
	}
}

// TestUsedCodeReopensResend: the minute between codes holds only while the
// last code is unused (SPEC §4). After using one, the next login gets its
// code at once.
func TestUsedCodeReopensResend(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	b.enableEmail("acme", "client@example.com") // used the code it sent

	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	res := b.get(wsURL("acme", "/login/verify"))
	wantBody(t, "new code at once", res, `data-countdown-seconds="60"`)
	code := e.lastCode("client@example.com")
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {code}})
	if res.location() != "/portal" {
		t.Fatalf("the fresh code: %d %q", res.StatusCode, res.location())
	}
	// An unused code still holds the minute.
	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	b.get(wsURL("acme", "/login/verify"))
	wantStatus(t, "resend while unused", b.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"email"}}), http.StatusTooManyRequests)
}

// TestNoClaimOfUnsentCode: a page says a code was sent only when this
// login has one. A second login within the minute of the first one's code
// gets no code: its page says so and counts down instead.
func TestNoClaimOfUnsentCode(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	b.enableEmail("acme", "client@example.com")
	e.clock.Advance(mfa.ResendGap)

	first := e.browser()
	first.login("acme", "client@example.com", goodPassword, "/login/verify")
	res := first.get(wsURL("acme", "/login/verify"))
	wantBody(t, "first login", res, "We sent a 6-digit code")
	mails := e.mailCount("client@example.com")

	e.clock.Advance(10 * time.Second)
	second := e.browser()
	second.login("acme", "client@example.com", goodPassword, "/login/verify")
	res = second.get(wsURL("acme", "/login/verify"))
	if strings.Contains(res.body, "We sent") {
		t.Fatalf("the second login's page claims a send:\n%s", res.body)
	}
	wantBody(t, "second login", res, "No code has been sent for this sign-in yet")
	wantBody(t, "second login", res, `data-countdown-seconds="50"`)
	if n := e.mailCount("client@example.com"); n != mails {
		t.Fatalf("%d mails sent to the second login, want none", n-mails)
	}
	// Once the minute is over, the page sends its own code, which works.
	e.clock.Advance(50 * time.Second)
	wantBody(t, "second login after the minute", second.get(wsURL("acme", "/login/verify")), "We sent a 6-digit code")
	res = second.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {e.lastCode("client@example.com")}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("second login's code: %d %q", res.StatusCode, res.location())
	}
}

// TestEnableEmailNoClaim: turning on e-mail codes from a second session
// within the minute of the first one's code sends nothing, and its page
// does not claim it did.
func TestEnableEmailNoClaim(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	one, two := e.browser(), e.browser()
	one.login("acme", "client@example.com", goodPassword, "/portal")
	two.login("acme", "client@example.com", goodPassword, "/portal")
	res := one.post(wsURL("acme", "/account/security/email/enable"), nil)
	if res.location() != "/account/security/email/confirm" {
		t.Fatalf("enable: %d %q", res.StatusCode, res.location())
	}
	wantBody(t, "first session", one.get(wsURL("acme", res.location())), "We sent a 6-digit code")
	res = two.post(wsURL("acme", "/account/security/email/enable"), nil)
	if res.location() != "/account/security/email/confirm" {
		t.Fatalf("enable again: %d %q", res.StatusCode, res.location())
	}
	res = two.get(wsURL("acme", res.location()))
	if strings.Contains(res.body, "We sent") {
		t.Fatalf("the second session's page claims a send:\n%s", res.body)
	}
	wantBody(t, "second session", res, "No code has been sent to")
	wantBody(t, "second session", res, `data-countdown-seconds="60"`)
}
