package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// beginPasskey POSTs to a begin endpoint and returns the options.
func (b *browser) beginPasskey(slug, path string) publicKeyOptions {
	b.tb.Helper()
	res := b.post(wsURL(slug, path), nil)
	wantStatus(b.tb, "begin "+path, res, http.StatusOK)
	var o publicKeyOptions
	if err := json.Unmarshal([]byte(res.body), &o); err != nil {
		b.tb.Fatalf("begin %s: %v\n%s", path, err, res.body)
	}
	return o
}

func origin(slug string) string { return "http://" + slug + ".gatehouse.test" }

// addPasskey registers a's credential under name from the Security page.
func (b *browser) addPasskey(slug, name string, a *authenticator) response {
	b.tb.Helper()
	o := b.beginPasskey(slug, "/account/security/passkeys/begin")
	return b.post(wsURL(slug, "/account/security/passkeys"), url.Values{"passkey_name": {name}, "credential": {a.create(o, origin(slug))}})
}

// verifyPasskey answers the pending login's challenge with a's passkey.
func (b *browser) verifyPasskey(slug string, a *authenticator) response {
	b.tb.Helper()
	o := b.beginPasskey(slug, "/login/verify/passkey/begin")
	return b.post(wsURL(slug, "/login/verify"), url.Values{"method": {"passkey"}, "credential": {a.get(o, origin(slug))}})
}

// passkeySignIn signs in without a password.
func (b *browser) passkeySignIn(slug string, a *authenticator) response {
	b.tb.Helper()
	o := b.beginPasskey(slug, "/login/passkey/begin")
	return b.post(wsURL(slug, "/login/passkey"), url.Values{"credential": {a.get(o, origin(slug))}})
}

func (e *env) auditCount(ws *gatehouse.Workspace, typ string) int {
	e.tb.Helper()
	evs, err := e.store.FindAuditEvents(context.Background(), ws.ID, gatehouse.AuditFilter{Type: typ, Limit: 100})
	if err != nil {
		e.tb.Fatal(err)
	}
	return len(evs)
}

// passkeyEnv is a pro workspace "acme" in optional mode (passkey, totp and
// e-mail allowed, the defaults) whose client has registered a passkey.
func passkeyEnv(t *testing.T) (*env, *gatehouse.Workspace, *browser, *authenticator) {
	t.Helper()
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	a := newAuthenticator(t)
	res := b.addPasskey("acme", "Work laptop", a)
	wantStatus(t, "add passkey", res, http.StatusOK)
	return e, ws, b, a
}

func TestPasskeyRegister(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")

	// The Security page holds the hooks of SPEC §13, hidden until the
	// script finds WebAuthn, with a note for browsers without JavaScript.
	res := b.get(wsURL("acme", "/account/security"))
	for _, hook := range []string{`data-action="passkey-register"`, `name="passkey_name"`, `<noscript>`, `/static/passkey.`} {
		wantBody(t, "security page", res, hook)
	}
	if strings.Contains(res.body, "<script>") {
		t.Fatal("the Security page has an inline script")
	}

	// Resident key and user verification preferred, no attestation; the
	// relying party is the workspace's own host.
	o := b.beginPasskey("acme", "/account/security/passkeys/begin")
	sel := o.PublicKey.AuthenticatorSelection
	if o.PublicKey.RP.ID != "acme.gatehouse.test" || sel.ResidentKey != "preferred" || sel.UserVerification != "preferred" ||
		(o.PublicKey.Attestation != "" && o.PublicKey.Attestation != "none") {
		t.Fatalf("creation options = %+v", o.PublicKey)
	}

	a := newAuthenticator(t)
	before := b.cookie("acme")
	// A name is required.
	res = b.post(wsURL("acme", "/account/security/passkeys"), url.Values{"passkey_name": {"  "}, "credential": {a.create(o, origin("acme"))}})
	wantStatus(t, "add without a name", res, http.StatusUnprocessableEntity)
	wantBody(t, "add without a name", res, "Give the passkey a name")

	res = b.addPasskey("acme", "Work laptop", a)
	wantStatus(t, "add passkey", res, http.StatusOK)
	// The first passkey issues the recovery codes, shown once.
	if n := len(recoveryRE.FindAllStringSubmatch(res.body, -1)); n != 8 {
		t.Fatalf("%d recovery codes shown, want 8:\n%s", n, res.body)
	}
	if b.cookie("acme") != before {
		t.Fatal("adding a passkey to a signed-in session rotated its cookie")
	}
	if got := e.mailSubjects("client@example.com"); !strings.Contains(got, "Passkey added") {
		t.Fatalf("mail to the user: %q, want one about the passkey", got)
	}
	if e.auditCount(ws, "mfa.method.added") != 1 {
		t.Fatal("no mfa.method.added event")
	}
	res = b.get(wsURL("acme", "/account/security"))
	wantBody(t, "security page", res, "Work laptop")
	wantBody(t, "security page", res, "Never") // last used

	// A second passkey issues no new codes; the first is excluded from it.
	o = b.beginPasskey("acme", "/account/security/passkeys/begin")
	if len(o.PublicKey.ExcludeCredentials) != 1 || o.PublicKey.ExcludeCredentials[0].ID != b64(a.credID) {
		t.Fatalf("excluded credentials = %+v, want the first passkey", o.PublicKey.ExcludeCredentials)
	}
	a2 := newAuthenticator(t)
	res = b.post(wsURL("acme", "/account/security/passkeys"), url.Values{"passkey_name": {"Phone"}, "credential": {a2.create(o, origin("acme"))}})
	wantStatus(t, "second passkey", res, http.StatusSeeOther)

	// The users list and coverage count the method.
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantBody(t, "users list", owner.get(wsURL("acme", "/dashboard/users")), `<td class="mfa-state" data-label="Two-step">Passkey</td>`)
	wantBody(t, "coverage", owner.get(wsURL("acme", "/dashboard/security/coverage")), `class="mix-passkey"><span>Passkey: 1<`)
}

func TestPasskeyLimit(t *testing.T) {
	e, ws, b, _ := passkeyEnv(t)
	u, err := e.store.FindUserByEmail(context.Background(), ws.ID, "client@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for i := range mfa.MaxPasskeys - 1 {
		p := &mfa.Passkey{UserID: u.ID, Name: "k", CredentialID: []byte(fmt.Sprint("c", i)), PublicKey: []byte("k"), CreatedAt: e.clock.Now()}
		keep := sha256.Sum256([]byte(b.cookie("acme")))
		if _, err := e.store.AddPasskey(context.Background(), ws.ID, p, mfa.MaxPasskeys, nil, keep[:], nil); err != nil {
			t.Fatal(err)
		}
	}
	res := b.post(wsURL("acme", "/account/security/passkeys/begin"), nil)
	wantStatus(t, "begin an 11th", res, http.StatusConflict)
	wantBody(t, "begin an 11th", res, "10 passkeys")
	res = b.get(wsURL("acme", "/account/security"))
	if strings.Contains(res.body, `data-action="passkey-register"`) {
		t.Fatal("the Security page offers an 11th passkey")
	}
}

func TestPasskeySecondFactor(t *testing.T) {
	e, ws, b, a := passkeyEnv(t)
	b.post(wsURL("acme", "/logout"), nil)

	// Password first, then the passkey is offered first; the other
	// methods are one click away.
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	res := b.get(wsURL("acme", "/login/verify"))
	wantBody(t, "verify page", res, `data-action="passkey-verify"`)
	wantBody(t, "verify page", res, "Use your passkey")
	wantBody(t, "verify page", res, `href="/login/verify?method=recovery"`)
	wantBody(t, "verify page", res, `<noscript>`)
	res = b.get(wsURL("acme", "/login/verify?method=passkey"))
	wantBody(t, "verify page", res, `data-action="passkey-verify"`)

	// A pending session cannot reach the portal.
	wantStatus(t, "portal while pending", b.get(wsURL("acme", "/portal")), http.StatusSeeOther)
	o := b.beginPasskey("acme", "/login/verify/passkey/begin")
	if len(o.PublicKey.AllowCredentials) != 1 || o.PublicKey.AllowCredentials[0].ID != b64(a.credID) {
		t.Fatalf("allowed credentials = %+v", o.PublicKey.AllowCredentials)
	}
	pending := b.cookie("acme")
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "credential": {a.get(o, origin("acme"))}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("passkey verify: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	if got := b.cookie("acme"); got == pending || got == "" {
		t.Fatal("the session id was not rotated")
	}
	wantStatus(t, "portal", b.get(wsURL("acme", "/portal")), http.StatusOK)
	if e.auditCount(ws, "mfa.challenge.passed") != 1 {
		t.Fatal("no mfa.challenge.passed event")
	}
	res = b.get(wsURL("acme", "/account/security"))
	wantBody(t, "last used", res, e.clock.Now().Format("2 Jan 2006"))

	// A passkey answer without a begun ceremony (a typed code) is a failed
	// try, counted like a wrong code.
	b2 := e.browser()
	b2.login("acme", "client@example.com", goodPassword, "/login/verify")
	failed := e.auditCount(ws, "mfa.challenge.failed")
	res = b2.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "code": {"123456"}})
	wantStatus(t, "passkey without a ceremony", res, http.StatusUnauthorized)
	wantBody(t, "passkey without a ceremony", res, "expired")
	if e.auditCount(ws, "mfa.challenge.failed") != failed+1 {
		t.Fatal("a passkey try without a ceremony was not counted")
	}
}

func TestPasskeyReplay(t *testing.T) {
	e, ws, b, a := passkeyEnv(t)
	b.post(wsURL("acme", "/logout"), nil)
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	o := b.beginPasskey("acme", "/login/verify/passkey/begin")
	answer := a.get(o, origin("acme"))
	// Keep the ceremony cookie to send it again.
	u, _ := url.Parse(wsURL("acme", "/"))
	var ceremony *http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "gatehouse_passkey" {
			ceremony = c
		}
	}
	if ceremony == nil {
		t.Fatal("no ceremony cookie")
	}
	res := b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "credential": {answer}})
	wantStatus(t, "first use", res, http.StatusSeeOther)

	// The same answer again, in a new pending login, with the old ceremony
	// cookie: the ceremony was used up.
	b.post(wsURL("acme", "/logout"), nil)
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	b.client.Jar.SetCookies(u, []*http.Cookie{ceremony})
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "credential": {answer}})
	wantStatus(t, "replay with the old ceremony", res, http.StatusUnauthorized)
	// And under a fresh ceremony its challenge does not match.
	b.beginPasskey("acme", "/login/verify/passkey/begin")
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "credential": {answer}})
	wantStatus(t, "replay under a new ceremony", res, http.StatusUnauthorized)
	wantBody(t, "replay", res, "could not be checked")
	if e.auditCount(ws, "mfa.challenge.failed") != 2 {
		t.Fatalf("%d mfa.challenge.failed events, want 2", e.auditCount(ws, "mfa.challenge.failed"))
	}
	// A passwordless answer replayed is refused too, even from an
	// authenticator that does not count (whose counter cannot tell).
	a.Count, a.Step = 0, 0
	ps, err := e.store.ListPasskeys(context.Background(), ws.ID, mustUser(t, e, ws, "client@example.com").ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.UsePasskey(context.Background(), ws.ID, ps[0].ID, ps[0].SignCount, 0, false, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	b3 := e.browser()
	o = b3.beginPasskey("acme", "/login/passkey/begin")
	answer = a.get(o, origin("acme"))
	for _, c := range b3.client.Jar.Cookies(u) {
		if c.Name == "gatehouse_passkey" {
			ceremony = c
		}
	}
	res = b3.post(wsURL("acme", "/login/passkey"), url.Values{"credential": {answer}})
	wantStatus(t, "passwordless", res, http.StatusSeeOther)
	b3.post(wsURL("acme", "/logout"), nil)
	b3.client.Jar.SetCookies(u, []*http.Cookie{ceremony})
	res = b3.post(wsURL("acme", "/login/passkey"), url.Values{"credential": {answer}})
	wantStatus(t, "passwordless replay", res, http.StatusUnauthorized)
	wantBody(t, "passwordless replay", res, "expired")
}

func TestPasskeyCounter(t *testing.T) {
	e, ws, _, a := passkeyEnv(t)
	b := e.browser()
	// The counter moves on: fine.
	wantStatus(t, "sign in", b.passkeySignIn("acme", a), http.StatusSeeOther)
	b.post(wsURL("acme", "/logout"), nil)
	// It goes backwards: a possible clone, refused and audited.
	a.Count = 1
	res := b.passkeySignIn("acme", a)
	wantStatus(t, "counter regression", res, http.StatusUnauthorized)
	wantBody(t, "counter regression", res, "counter went backwards")
	if e.auditCount(ws, "mfa.passkey.cloned") != 1 {
		t.Fatal("no mfa.passkey.cloned event")
	}
	// Also as a second factor.
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	a.Count = 2
	wantStatus(t, "second factor with a regressed counter", b.verifyPasskey("acme", a), http.StatusUnauthorized)
	if e.auditCount(ws, "mfa.passkey.cloned") != 2 {
		t.Fatal("no second mfa.passkey.cloned event")
	}

	// An authenticator that does not count (always 0) is not a clone.
	b = e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	z := newAuthenticator(t)
	z.Count, z.Step = 0, 0
	wantStatus(t, "add a non-counting passkey", b.addPasskey("acme", "Synced", z), http.StatusOK)
	for i := range 2 {
		c := e.browser()
		wantStatus(t, fmt.Sprint("non-counting sign-in ", i), c.passkeySignIn("acme", z), http.StatusSeeOther)
	}
}

func TestPasskeySignIn(t *testing.T) {
	e, ws, _, a := passkeyEnv(t)
	b := e.browser()
	res := b.get(wsURL("acme", "/login"))
	wantBody(t, "login page", res, `data-action="passkey-signin"`)
	wantBody(t, "login page", res, `hidden`)

	// A discoverable credential with user verification required.
	o := b.beginPasskey("acme", "/login/passkey/begin")
	if o.PublicKey.UserVerification != "required" || len(o.PublicKey.AllowCredentials) != 0 || o.PublicKey.RPID != "acme.gatehouse.test" {
		t.Fatalf("sign-in options = %+v", o.PublicKey)
	}
	res = b.post(wsURL("acme", "/login/passkey"), url.Values{"credential": {a.get(o, origin("acme"))}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("passkey sign-in: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	// Both factors at once: straight past the gate, and security changes
	// need no re-verification for ten minutes.
	wantStatus(t, "portal", b.get(wsURL("acme", "/portal")), http.StatusOK)
	res = b.post(wsURL("acme", "/account/security/recovery-codes/regenerate"), nil)
	wantStatus(t, "sensitive change", res, http.StatusOK)
	if e.auditCount(ws, "signin.passkey.ok") != 1 {
		t.Fatal("no signin.passkey.ok event")
	}

	// Without user verification, refused.
	c := e.browser()
	a.UV = false
	res = c.passkeySignIn("acme", a)
	wantStatus(t, "no user verification", res, http.StatusUnauthorized)
	wantBody(t, "no user verification", res, "PIN, fingerprint or face")
	wantStatus(t, "portal after a refusal", c.get(wsURL("acme", "/portal")), http.StatusSeeOther)
	a.UV = true

	// A disabled account cannot sign in with its passkey.
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	u := mustUser(t, e, ws, "client@example.com")
	wantStatus(t, "disable", owner.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/disable", u.ID)), nil), http.StatusSeeOther)
	wantStatus(t, "disabled", e.browser().passkeySignIn("acme", a), http.StatusUnauthorized)

	// Where passkeys are not allowed, there is no button and no ceremony.
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional, gatehouse.MethodTOTP, gatehouse.MethodEmail)
	if strings.Contains(e.browser().get(wsURL("acme", "/login")).body, "passkey-signin") {
		t.Fatal("the login page offers passkeys the workspace does not allow")
	}
	wantStatus(t, "begin where disallowed", e.browser().post(wsURL("acme", "/login/passkey/begin"), nil), http.StatusConflict)
	owner = e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	if strings.Contains(owner.get(wsURL("acme", "/account/security")).body, "passkey-register") {
		t.Fatal("the Security page offers passkeys the workspace does not allow")
	}
	wantStatus(t, "register where disallowed", owner.post(wsURL("acme", "/account/security/passkeys/begin"), nil), http.StatusConflict)
}

// TestPasskeyBinding: the relying party is the workspace's own host and the
// origin is checked exactly, so a passkey of one workspace never opens
// another, and an answer collected on any other origin is refused.
func TestPasskeyBinding(t *testing.T) {
	e, _, _, a := passkeyEnv(t)
	e.workspace("beta")
	e.setMFA("beta", gatehouse.PlanPro, gatehouse.MFAOptional)

	// On beta, acme's passkey is unknown, whatever it signs.
	b := e.browser()
	o := b.beginPasskey("beta", "/login/passkey/begin")
	if o.PublicKey.RPID != "beta.gatehouse.test" {
		t.Fatalf("beta's relying party = %q", o.PublicKey.RPID)
	}
	res := b.post(wsURL("beta", "/login/passkey"), url.Values{"credential": {a.get(o, origin("acme"))}})
	wantStatus(t, "acme's passkey on beta", res, http.StatusUnauthorized)
	wantStatus(t, "beta portal", b.get(wsURL("beta", "/portal")), http.StatusSeeOther)

	for _, bad := range []string{"http://beta.gatehouse.test", "https://acme.gatehouse.test", "http://acme.gatehouse.test:8080", "http://evil.test"} {
		a.Origin = bad
		c := e.browser()
		wantStatus(t, "origin "+bad, c.passkeySignIn("acme", a), http.StatusUnauthorized)
	}
	a.Origin = ""
	// Signed for another relying party ID (beta's) but sent to acme.
	c := e.browser()
	o = c.beginPasskey("acme", "/login/passkey/begin")
	o.PublicKey.RPID = "beta.gatehouse.test"
	res = c.post(wsURL("acme", "/login/passkey"), url.Values{"credential": {a.get(o, origin("acme"))}})
	wantStatus(t, "wrong relying party", res, http.StatusUnauthorized)
	// The right one still works.
	wantStatus(t, "right origin", e.browser().passkeySignIn("acme", a), http.StatusSeeOther)

	// A ceremony is bound to the session that began it.
	d := e.browser()
	d.login("acme", "client@example.com", goodPassword, "/login/verify")
	o = d.beginPasskey("acme", "/login/verify/passkey/begin")
	answer := a.get(o, origin("acme"))
	d.login("acme", "client@example.com", goodPassword, "/login/verify") // a new pending session, same cookie jar
	res = d.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "credential": {answer}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("ceremony of an earlier session: %d %q", res.StatusCode, res.location())
	}

	// Five minutes.
	o = d.beginPasskey("acme", "/login/verify/passkey/begin")
	answer = a.get(o, origin("acme"))
	e.clock.Advance(mfa.CeremonyTTL)
	res = d.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "credential": {answer}})
	wantStatus(t, "expired ceremony", res, http.StatusUnauthorized)
	wantBody(t, "expired ceremony", res, "expired")
}

func TestPasskeyRemove(t *testing.T) {
	e, ws, b, _ := passkeyEnv(t)
	ps, err := e.store.ListPasskeys(context.Background(), ws.ID, mustUser(t, e, ws, "client@example.com").ID)
	if err != nil || len(ps) != 1 {
		t.Fatalf("passkeys %+v, %v", ps, err)
	}
	id := fmt.Sprint(ps[0].ID)
	// Sensitive: after ten minutes, re-verify first, to remove or to add.
	e.clock.Advance(11 * time.Minute)
	res := b.post(wsURL("acme", "/account/security/passkeys/begin"), nil)
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security/reauth" {
		t.Fatalf("begin without re-verification: %d %q", res.StatusCode, res.location())
	}
	res = b.post(wsURL("acme", "/account/security/passkeys/"+id+"/remove"), nil)
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security/reauth" {
		t.Fatalf("remove without re-verification: %d %q", res.StatusCode, res.location())
	}
	// The re-verification page offers the passkey first.
	wantBody(t, "reauth page", b.get(wsURL("acme", "/account/security/reauth")), `data-action="passkey-verify"`)
	e.clock.Advance(-11 * time.Minute)

	// The method is not disabled wholesale: passkeys go one by one.
	wantStatus(t, "disable the passkey method", b.post(wsURL("acme", "/account/security/passkey/disable"), nil), http.StatusNotFound)
	if ps, _ := e.store.ListPasskeys(context.Background(), ws.ID, ps[0].UserID); len(ps) != 1 {
		t.Fatal("disabling the method removed passkeys")
	}
	if !strings.Contains(fmt.Sprint(mustMethods(t, e, ws, "client@example.com")), "passkey") {
		t.Fatal("disabling the method turned it off with the passkey still registered")
	}

	// Another user's passkey is not theirs to remove.
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantStatus(t, "remove another's", owner.post(wsURL("acme", "/account/security/passkeys/"+id+"/remove"), nil), http.StatusNotFound)

	res = b.post(wsURL("acme", "/account/security/passkeys/"+id+"/remove"), nil)
	wantStatus(t, "remove", res, http.StatusSeeOther)
	if got := e.mailSubjects("client@example.com"); !strings.Contains(got, "Passkey removed") {
		t.Fatalf("mail to the user: %q", got)
	}
	if e.auditCount(ws, "mfa.method.removed") != 1 {
		t.Fatal("no mfa.method.removed event")
	}
	// The last method gone: 2FA is off for the user and the codes are void.
	b.post(wsURL("acme", "/logout"), nil)
	b.login("acme", "client@example.com", goodPassword, "/portal")
}

func TestPasskeyRequiredKeepsLast(t *testing.T) {
	e, ws, b, _ := passkeyEnv(t)
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired)
	ps, _ := e.store.ListPasskeys(context.Background(), ws.ID, mustUser(t, e, ws, "client@example.com").ID)
	res := b.get(wsURL("acme", "/account/security"))
	if strings.Contains(res.body, "/remove") {
		t.Fatal("required mode offers to remove the only method")
	}
	res = b.post(wsURL("acme", fmt.Sprintf("/account/security/passkeys/%d/remove", ps[0].ID)), nil)
	wantStatus(t, "remove the last method in required mode", res, http.StatusConflict)
}

// TestPasskeyEnroll: in required mode a user without a method may make a
// passkey their first, which passes the gate like confirming a code.
func TestPasskeyEnroll(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired, gatehouse.MethodPasskey, gatehouse.MethodTOTP)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/account/security")
	wantBody(t, "enrollment page", b.get(wsURL("acme", "/account/security")), `data-action="passkey-register"`)
	res := b.addPasskey("acme", "Phone", newAuthenticator(t))
	wantStatus(t, "first passkey", res, http.StatusOK)
	wantBody(t, "recovery codes", res, `href="/portal"`)
	wantStatus(t, "portal", b.get(wsURL("acme", "/portal")), http.StatusOK)
}

// TestPasskeyAdminReset: an admin reset clears passkeys with the rest.
func TestPasskeyAdminReset(t *testing.T) {
	e, ws, _, a := passkeyEnv(t)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	u := mustUser(t, e, ws, "client@example.com")
	res := owner.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/reset-2fa", u.ID)), nil)
	wantStatus(t, "reset", res, http.StatusSeeOther)
	ps, _ := e.store.ListPasskeys(context.Background(), ws.ID, u.ID)
	if len(ps) != 0 {
		t.Fatalf("%d passkeys left after a reset", len(ps))
	}
	wantStatus(t, "sign in with a reset passkey", e.browser().passkeySignIn("acme", a), http.StatusUnauthorized)
}

// TestPasskeyCeremonyAcrossInstances: a ceremony begun on one instance is
// finished on another (PostgreSQL, shared by both).
func TestPasskeyCeremonyAcrossInstances(t *testing.T) {
	e := newEnvOn(t, postgresBackend)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	other := e.instance()
	one, two := e.browser(), other.browser()
	two.client.Jar = one.client.Jar // one browser, behind a load balancer

	one.login("acme", "client@example.com", goodPassword, "/portal")
	a := newAuthenticator(t)
	o := one.beginPasskey("acme", "/account/security/passkeys/begin")
	res := two.post(wsURL("acme", "/account/security/passkeys"), url.Values{"passkey_name": {"Laptop"}, "credential": {a.create(o, origin("acme"))}})
	wantStatus(t, "register across instances", res, http.StatusOK)

	one.post(wsURL("acme", "/logout"), nil)
	one.login("acme", "client@example.com", goodPassword, "/login/verify")
	o = two.beginPasskey("acme", "/login/verify/passkey/begin")
	res = one.post(wsURL("acme", "/login/verify"), url.Values{"method": {"passkey"}, "credential": {a.get(o, origin("acme"))}})
	wantStatus(t, "verify across instances", res, http.StatusSeeOther)

	c, d := e.browser(), other.browser()
	d.client.Jar = c.client.Jar
	o = c.beginPasskey("acme", "/login/passkey/begin")
	res = d.post(wsURL("acme", "/login/passkey"), url.Values{"credential": {a.get(o, origin("acme"))}})
	wantStatus(t, "passwordless across instances", res, http.StatusSeeOther)
}

func mustUser(tb testing.TB, e *env, ws *gatehouse.Workspace, email string) *gatehouse.User {
	tb.Helper()
	u, err := e.store.FindUserByEmail(context.Background(), ws.ID, email)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func mustMethods(tb testing.TB, e *env, ws *gatehouse.Workspace, email string) []gatehouse.Method {
	tb.Helper()
	fs, err := e.store.FindFactors(context.Background(), ws.ID, mustUser(tb, e, ws, email).ID)
	if err != nil {
		tb.Fatal(err)
	}
	var out []gatehouse.Method
	for _, f := range fs {
		if f.Active {
			out = append(out, f.Method)
		}
	}
	return out
}

// TestPasskeySignInCap: each begun passwordless sign-in is a row in the
// store and needs no account, so one address gets a few dozen per window.
func TestPasskeySignInCap(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	for i := range mfa.SignInCeremonyCap {
		wantStatus(t, fmt.Sprint("begin ", i), e.browser().post(wsURL("acme", "/login/passkey/begin"), nil), http.StatusOK)
	}
	res := e.browser().post(wsURL("acme", "/login/passkey/begin"), nil)
	wantStatus(t, "begin past the cap", res, http.StatusTooManyRequests)
	wantBody(t, "begin past the cap", res, "Too many passkey sign-ins")
	e.clock.Advance(mfa.SignInCeremonyWindow)
	wantStatus(t, "begin after the window", e.browser().post(wsURL("acme", "/login/passkey/begin"), nil), http.StatusOK)
}
