package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
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
