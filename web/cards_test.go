package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

var methodCardRE = regexp.MustCompile(`<section class="card method-card" id="([a-z-]+)">`)

// cards lists the ids of the Security page's method cards, in order.
func cards(body string) []string {
	var ids []string
	for _, m := range methodCardRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestSecurityMethodCards: the Security page shows one card per method the
// workspace allows, each explaining itself, and offers recovery codes and
// trusted devices only to a user who has a method (SPEC §16).
func TestSecurityMethodCards(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional, gatehouse.MethodTOTP, gatehouse.MethodEmail)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")

	res := b.get(wsURL("acme", "/account/security"))
	wantStatus(t, "security page", res, http.StatusOK)
	if got := strings.Join(cards(res.body), " "); got != "method-totp method-email" {
		t.Fatalf("cards without a method: %q, want the two allowed methods", got)
	}
	wantBody(t, "totp card", res, "shows a new 6-digit code every 30")
	wantBody(t, "e-mail card", res, "Codes go to client@example.com.")
	for _, no := range []string{"/account/security/recovery-codes/regenerate", `id="recovery-codes"`, `id="trusted-devices"`, "/account/security/sms/start", "passkey-register"} {
		if strings.Contains(res.body, no) {
			t.Errorf("a user with no method sees %s", no)
		}
	}

	b.enrollTOTP("acme")
	res = b.get(wsURL("acme", "/account/security"))
	if got := strings.Join(cards(res.body), " "); got != "method-totp method-email recovery-codes trusted-devices" {
		t.Fatalf("cards with the app on: %q", got)
	}
	wantBody(t, "totp card on", res, `<h2>Authenticator app</h2><span class="method-state on">On</span>`)
	wantBody(t, "recovery card", res, `<span class="method-state on">8 left</span>`)
	wantBody(t, "recovery card", res, `action="/account/security/recovery-codes/regenerate"`)
	wantBody(t, "disable", res, `action="/account/security/totp/disable"`)

	// A method the owner stops allowing keeps its card only while the
	// user has it, saying it is no longer offered; one never set up goes.
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional, gatehouse.MethodPasskey)
	res = b.get(wsURL("acme", "/account/security"))
	if got := strings.Join(cards(res.body), " "); got != "passkeys method-totp recovery-codes trusted-devices" {
		t.Fatalf("cards after the owner allows passkeys only: %q", got)
	}
	wantBody(t, "not offered", res, "This workspace no longer offers this method")
}

// TestNewCodeNotice: after "Send a new code" the page says a new code was
// sent, and only while one really was (SPEC §16, §4).
func TestNewCodeNotice(t *testing.T) {
	const notice = "A new code was sent to your e-mail address."
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	b.enableEmail("acme", "client@example.com")
	e.clock.Advance(mfa.ResendGap + time.Second)

	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	res := b.get(wsURL("acme", "/login/verify"))
	wantBody(t, "first code", res, "We sent a 6-digit code")
	if strings.Contains(res.body, notice) {
		t.Fatal("the notice before any resend")
	}
	// A hand-made link claims nothing while no new code went out: this
	// login's code is live, but the wait shows it was not just sent...
	e.clock.Advance(mfa.ResendGap + time.Second)
	if res = b.get(wsURL("acme", "/login/verify?method=email&sent=new")); strings.Contains(res.body, notice) {
		t.Fatal("the notice on a hand-made link, with no code sent in the last minute")
	}
	// ...a resend within the minute is refused, and says no such thing.
	res = b.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"email"}})
	wantStatus(t, "resend", res, http.StatusSeeOther)
	if res.location() != "/login/verify?method=email&sent=new" {
		t.Fatalf("resend leads to %q", res.location())
	}
	res = b.get(wsURL("acme", res.location()))
	wantBody(t, "after the resend", res, `<p class="flash" role="status">`+notice+`</p>`)
	res = b.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"email"}})
	wantStatus(t, "resend too soon", res, http.StatusTooManyRequests)
	if strings.Contains(res.body, notice) {
		t.Fatal("the notice on a refused resend")
	}

	// The e-mail confirm page says it too, after its own resend only.
	c := e.browser()
	c.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res = c.post(wsURL("acme", "/account/security/email/enable"), nil)
	if res.location() != "/account/security/email/confirm" {
		t.Fatalf("enable leads to %q", res.location())
	}
	if res = c.get(wsURL("acme", res.location())); strings.Contains(res.body, notice) {
		t.Fatal("the notice on the first code")
	}
	e.clock.Advance(mfa.ResendGap + time.Second)
	res = c.post(wsURL("acme", "/account/security/email/enable"), url.Values{"resend": {"new"}})
	wantBody(t, "confirm page after the resend", c.get(wsURL("acme", res.location())), notice)
}
