package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/web"
)

// verifyRemembering passes the TOTP challenge with "Remember this device".
func (b *browser) verifyRemembering(slug, secret string) response {
	b.tb.Helper()
	res := b.post(wsURL(slug, "/login/verify"), url.Values{"method": {"totp"}, "code": {b.env.totpCode(secret)}, "remember_device": {"on"}})
	if res.StatusCode != http.StatusSeeOther {
		b.tb.Fatalf("verify remembering: %d\n%s", res.StatusCode, res.body)
	}
	return res
}

func deviceCookie(res response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "gatehouse_device" {
			return c
		}
	}
	return nil
}

func TestTrustedDevices(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.workspace("beta")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setMFA("beta", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.user(ws, "bob@example.com", gatehouse.RoleMember)

	alice := e.browser()
	alice.login("acme", "owner@example.com", goodPassword, "/dashboard")
	secret, _ := alice.enrollTOTP("acme")
	bob := e.browser()
	bob.login("acme", "bob@example.com", goodPassword, "/dashboard")
	bobSecret, _ := bob.enrollTOTP("acme")

	// Alice trusts her browser: the cookie follows the workspace's lifetime.
	alice = e.browser()
	alice.login("acme", "owner@example.com", goodPassword, "/login/verify")
	res := alice.get(wsURL("acme", "/login/verify"))
	wantBody(t, "remember checkbox", res, "Remember this device for 30 days")
	res = alice.verifyRemembering("acme", secret)
	dc := deviceCookie(res)
	if dc == nil || !dc.HttpOnly || dc.Domain != "" || dc.SameSite != http.SameSiteLaxMode || dc.MaxAge < 29*24*3600 || dc.MaxAge > 30*24*3600 {
		t.Fatalf("device cookie = %+v", dc)
	}
	if !strings.Contains(e.mailSubjects("owner@example.com"), "New trusted device") {
		t.Fatal("no e-mail about the trusted device")
	}
	// Next sign-in from that browser: password only.
	alice.post(wsURL("acme", "/logout"), nil)
	alice.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantStatus(t, "dashboard on a trusted device", alice.get(wsURL("acme", "/dashboard")), http.StatusOK)

	// Alice's device cookie never skips Bob's challenge...
	alice.post(wsURL("acme", "/logout"), nil)
	alice.login("acme", "bob@example.com", goodPassword, "/login/verify")
	// ...nor another workspace's, even presented by hand.
	other := e.browser()
	other.client.Jar.SetCookies(mustURL(wsURL("beta", "/")), []*http.Cookie{{Name: "gatehouse_device", Value: dc.Value}})
	b2 := other
	b2.login("beta", "owner@example.com", goodPassword, "/dashboard") // no 2FA in beta yet: signed in
	b2.enrollTOTP("beta")
	b2.post(wsURL("beta", "/logout"), nil)
	b2.login("beta", "owner@example.com", goodPassword, "/login/verify")

	// Revoke all: the browser is challenged again.
	alice = e.browser()
	alice.client.Jar.SetCookies(mustURL(wsURL("acme", "/")), []*http.Cookie{{Name: "gatehouse_device", Value: dc.Value}})
	alice.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res = alice.get(wsURL("acme", "/account/security"))
	wantBody(t, "device list", res, "Revoke all")
	wantStatus(t, "revoke all", alice.post(wsURL("acme", "/account/security/devices/revoke-all"), nil), http.StatusSeeOther)
	alice.post(wsURL("acme", "/logout"), nil)
	alice.login("acme", "owner@example.com", goodPassword, "/login/verify")

	// A lifetime of 0 hides the checkbox and never sets the cookie.
	ws, _ = e.store.FindWorkspaceBySlug(context.Background(), "acme")
	zero := 0
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{TrustedDeviceDays: &zero}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	bob = e.browser()
	bob.login("acme", "bob@example.com", goodPassword, "/login/verify")
	if strings.Contains(bob.get(wsURL("acme", "/login/verify")).body, "remember_device") {
		t.Fatal("checkbox shown with a lifetime of 0")
	}
	if res := bob.verifyRemembering("acme", bobSecret); deviceCookie(res) != nil {
		t.Fatal("device cookie set with a lifetime of 0")
	}
}

func mustURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}

// TestSixthDeviceEvictsLeastRecentlyUsed through the real flow.
func TestSixthDeviceEvictsLeastRecentlyUsed(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	secret, _ := b.enrollTOTP("acme")
	var cookies []*http.Cookie
	for range 6 {
		b := e.browser()
		b.login("acme", "owner@example.com", goodPassword, "/login/verify")
		cookies = append(cookies, deviceCookie(b.verifyRemembering("acme", secret)))
		e.clock.Advance(time.Minute)
	}
	signIn := func(c *http.Cookie) string {
		b := e.browser()
		b.client.Jar.SetCookies(mustURL(wsURL("acme", "/")), []*http.Cookie{{Name: c.Name, Value: c.Value}})
		return b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}}).location()
	}
	if got := signIn(cookies[0]); got != "/login/verify" {
		t.Fatalf("the least recently used device still skips the challenge: %q", got)
	}
	for i, c := range cookies[1:] {
		if got := signIn(c); got != "/dashboard" {
			t.Fatalf("device %d was evicted: %q", i+2, got)
		}
	}
}

func TestOwnerSettings(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	admin := e.browser()
	admin.login("acme", "admin@example.com", goodPassword, "/dashboard")
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")

	form := url.Values{"mfa_mode": {"required"}, "methods": {"email", "totp"}, "trusted_device_days": {"14"}, "grace_days": {"2"}}
	res := admin.get(wsURL("acme", "/dashboard/settings/security"))
	wantStatus(t, "admin reads", res, http.StatusOK)
	wantBody(t, "admin reads", res, "Only the owner can change")
	wantStatus(t, "admin posts", admin.post(wsURL("acme", "/dashboard/settings/security"), form), http.StatusForbidden)
	wantStatus(t, "client reads", client.get(wsURL("acme", "/dashboard/settings/security")), http.StatusForbidden)
	if got := mustWS(t, e, "acme").MFA.Mode; got != gatehouse.MFADisabled {
		t.Fatalf("an admin's POST changed the mode to %s", got)
	}

	bad := url.Values{"mfa_mode": {"required"}, "trusted_device_days": {"14"}}
	wantStatus(t, "no methods", owner.post(wsURL("acme", "/dashboard/settings/security"), bad), http.StatusUnprocessableEntity)

	// An owner without a method of their own is offered enrollment instead
	// of required mode, which would lock them out mid-session (SPEC §3).
	res = owner.post(wsURL("acme", "/dashboard/settings/security"), form)
	wantStatus(t, "required, owner without a method", res, http.StatusUnprocessableEntity)
	wantBody(t, "required, owner without a method", res, "Set up two-step verification for yourself first")
	wantBody(t, "required, owner without a method", res, `<a href="/account/security">Set up a method now</a>`)
	if got := mustWS(t, e, "acme").MFA.Mode; got != gatehouse.MFADisabled {
		t.Fatalf("the refused POST changed the mode to %s", got)
	}
	wantStatus(t, "owner still in", owner.get(wsURL("acme", "/dashboard")), http.StatusOK)
	wantBody(t, "settings offer enrollment", owner.get(wsURL("acme", "/dashboard/settings/security")), "Set up a method now")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	owner.enrollTOTP("acme")
	if strings.Contains(owner.get(wsURL("acme", "/dashboard/settings/security")).body, "Set up a method now") {
		t.Fatal("the settings page still asks an enrolled owner to set up a method")
	}
	res = owner.post(wsURL("acme", "/dashboard/settings/security"), form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner saves: %d\n%s", res.StatusCode, res.body)
	}
	got := mustWS(t, e, "acme").MFA
	if got.Mode != gatehouse.MFARequired || fmt.Sprint(got.Methods) != "[totp email]" || got.TrustedDeviceDays != 14 || got.GraceDays != 2 || !got.ModeChangedAt.Equal(e.clock.Now()) {
		t.Fatalf("saved settings = %+v", got)
	}

	// Starter: the card is greyed, a POST changes nothing, nothing is enforced.
	e.setMFA("acme", gatehouse.PlanStarter, gatehouse.MFARequired)
	res = owner.get(wsURL("acme", "/dashboard/settings/security"))
	wantBody(t, "starter card", res, "Available on Pro and Unlimited")
	wantBody(t, "starter card", res, "<fieldset disabled")
	wantStatus(t, "starter post", owner.post(wsURL("acme", "/dashboard/settings/security"), url.Values{"mfa_mode": {"disabled"}, "methods": {"totp"}}), http.StatusForbidden)
	if mustWS(t, e, "acme").MFA.Mode != gatehouse.MFARequired {
		t.Fatal("a starter POST changed the settings")
	}
	e.browser().login("acme", "client@example.com", goodPassword, "/portal")
}

func TestAdminReset(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	admin := e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	client, _ := e.store.FindUserByEmail(context.Background(), ws.ID, "client@example.com")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)

	victim := e.browser()
	victim.login("acme", "client@example.com", goodPassword, "/portal")
	victim.enrollTOTP("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired, gatehouse.MethodTOTP)

	a := e.browser()
	// The admin must enroll too before using the dashboard (only TOTP is
	// allowed, so no mailbox proof comes first).
	a.login("acme", "admin@example.com", goodPassword, "/account/security")
	a.enrollTOTP("acme")

	res := a.get(wsURL("acme", "/dashboard/users"))
	wantBody(t, "users list", res, `class="mfa-state" data-label="Two-step">Authenticator app<`)
	res = a.get(wsURL("acme", fmt.Sprintf("/dashboard/users/%d", client.ID)))
	wantBody(t, "user page", res, "Reset two-step verification")
	res = a.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/reset-2fa", client.ID)), url.Values{"reason": {"lost phone"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d\n%s", res.StatusCode, res.body)
	}
	// The session that existed before the reset is over.
	if res := victim.get(wsURL("acme", "/portal")); res.StatusCode != http.StatusSeeOther || res.location() != "/login?next=%2Fportal" {
		t.Fatalf("the victim's old session survived the reset: %d %q", res.StatusCode, res.location())
	}
	if !strings.Contains(e.mailSubjects("client@example.com"), "Your two-step verification was reset") {
		t.Fatal("no reset e-mail")
	}
	// Required mode: the next sign-in must enroll.
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/account/security")
	wantGate(t, b, "acme", "/account/security")

	// An admin cannot reset the owner, and nobody resets themselves.
	owner, _ := e.store.FindUserByEmail(context.Background(), ws.ID, "owner@example.com")
	wantStatus(t, "admin resets owner", a.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/reset-2fa", owner.ID)), nil), http.StatusForbidden)
	wantStatus(t, "admin resets self", a.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/reset-2fa", admin.ID)), nil), http.StatusForbidden)
	wantStatus(t, "unknown user", a.post(wsURL("acme", "/dashboard/users/99999/reset-2fa"), nil), http.StatusNotFound)

	// The audit export holds the reset with actor, target, time and IP.
	res = a.get(wsURL("acme", "/dashboard/audit?format=csv&type=mfa.reset"))
	wantStatus(t, "csv", res, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1][2] != "mfa.reset" || rows[1][3] != "admin@example.com" || rows[1][4] != "client@example.com" ||
		rows[1][5] != "127.0.0.1" || !strings.Contains(rows[1][6], "lost phone") || rows[1][1] != e.clock.Now().Format(time.RFC3339) {
		t.Fatalf("csv export = %q", rows)
	}
	res = a.get(wsURL("acme", "/dashboard/audit?format=json&user=client@example.com"))
	var events []struct{ Type, Actor, Target, IP, At string }
	if err := json.Unmarshal([]byte(res.body), &events); err != nil {
		t.Fatalf("json export: %v\n%s", err, res.body)
	}
	found := false
	for _, ev := range events {
		if ev.Type == "mfa.reset" && ev.Actor == "admin@example.com" && ev.Target == "client@example.com" && ev.IP == "127.0.0.1" {
			found = true
		}
		if ev.Actor != "client@example.com" && ev.Target != "client@example.com" {
			t.Fatalf("user filter let through %+v", ev)
		}
	}
	if !found {
		t.Fatalf("json export lacks the reset: %s", res.body)
	}
	res = a.get(wsURL("acme", "/dashboard/audit?type=mfa."))
	wantBody(t, "audit page", res, "mfa.reset")
	// The filter is a list of event groups in words, the chosen one selected;
	// a narrower type from a link shows by its name.
	wantBody(t, "audit filter", res, `<option value="mfa." selected>Two-step verification</option>`)
	res = a.get(wsURL("acme", "/dashboard/audit?type=mfa.reset"))
	wantBody(t, "audit filter, one type", res, `<option value="mfa.reset" selected>Two-step verification reset</option>`)
	// Back to optional mode: the client (no methods now) signs in with
	// the password alone, and may not read the audit log.
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	victim = e.browser()
	victim.login("acme", "client@example.com", goodPassword, "/portal")
	wantStatus(t, "client on audit", victim.get(wsURL("acme", "/dashboard/audit")), http.StatusForbidden)

	// Disabling an account ends its sessions and refuses its password.
	wantStatus(t, "disable", a.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/disable", client.ID)), nil), http.StatusSeeOther)
	if res := victim.get(wsURL("acme", "/portal")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a disabled account's session survived: %d", res.StatusCode)
	}
	wantStatus(t, "login while disabled", e.browser().post(wsURL("acme", "/login"), url.Values{"email": {"client@example.com"}, "password": {goodPassword}}), http.StatusUnauthorized)
}

// TestCoverage seeds a workspace and checks the page against a hand count.
func TestCoverage(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme") // owner + client
	e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	e.user(ws, "c2@example.com", gatehouse.RoleClient)
	e.user(ws, "c3@example.com", gatehouse.RoleClient)
	if _, _, err := e.accounts.Invite(context.Background(), ws, nil, "invited@example.com", gatehouse.RoleClient); err != nil {
		t.Fatal(err) // not active: not counted
	}
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	enroll := func(email string, withEmail bool) string {
		b := e.browser()
		b.login("acme", email, goodPassword, map[bool]string{true: "/dashboard", false: "/portal"}[!strings.HasPrefix(email, "c")])
		secret, _ := b.enrollTOTP("acme")
		if withEmail {
			b.enableEmail("acme", email)
			e.clock.Advance(61 * time.Second)
		}
		return secret
	}
	ownerSecret := enroll("owner@example.com", true)
	enroll("client@example.com", false)
	// c2 gets locked: 100 consecutive wrong codes.
	enroll("c2@example.com", false)
	// One wrong code per login, waiting out each growing pause.
	for range 100 {
		b := e.browser()
		b.login("acme", "c2@example.com", goodPassword, "/login/verify")
		b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {"000000"}})
		e.clock.Advance(16 * time.Minute)
	}
	ws = mustWS(t, e, "acme")
	required, grace := gatehouse.MFARequired, 5
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{MFAMode: &required, GraceDays: &grace}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}

	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/login/verify")
	wantGate(t, owner, "acme", "/login/verify")
	owner.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(ownerSecret)}})
	res := owner.get(wsURL("acme", "/dashboard/security/coverage"))
	wantStatus(t, "coverage", res, http.StatusOK)
	// Hand count of active users: owner (totp+email), admin (none),
	// client (totp), c2 (totp, locked), c3 (none) → 3 of 5.
	for _, want := range []string{
		`class="coverage-total">3 of 5<`,
		`<tr class="role-owner"><td data-label="Role">Owner</td><td data-label="Users">1</td><td data-label="With two-step">1</td><td data-label="Share" class="share">100% <meter class="bar" min="0" max="100" value="100"`,
		`<tr class="role-admin"><td data-label="Role">Admin</td><td data-label="Users">1</td><td data-label="With two-step">0</td><td data-label="Share" class="share">0% <meter class="bar" min="0" max="100" value="0"`,
		`<tr class="role-client"><td data-label="Role">Client</td><td data-label="Users">3</td><td data-label="With two-step">2</td><td data-label="Share" class="share">66% <meter class="bar" min="0" max="100" value="66"`,
		`<li class="mix-totp"><span>Authenticator app: 3</span> <meter class="bar" min="0" max="5" value="3"`, `<li class="mix-email"><span>E-mail codes: 1</span>`,
		`admin<wbr>@example<wbr>.com</a> (Admin)`, `c3<wbr>@example<wbr>.com</a> (Client)`,
		`Inside the grace period (2)`, `Locked (1)`, `c2<wbr>@example<wbr>.com</a></li>`,
	} {
		wantBody(t, "coverage", res, want)
	}
	if strings.Contains(strings.ReplaceAll(res.body, "<wbr>", ""), "invited@example.com") {
		t.Fatal("an unaccepted invitation counted")
	}
}

// TestSignInOptions: the owner turns remember-me and sign-up on and off from
// the dashboard, on any plan; others cannot.
func TestSignInOptions(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	e.setMFA("acme", gatehouse.PlanStarter, gatehouse.MFADisabled)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	admin := e.browser()
	admin.login("acme", "admin@example.com", goodPassword, "/dashboard")

	wantStatus(t, "admin", admin.post(wsURL("acme", "/dashboard/settings/general"), url.Values{"signup_enabled": {"on"}}), http.StatusForbidden)
	res := owner.post(wsURL("acme", "/dashboard/settings/general"), url.Values{"signup_enabled": {"on"}})
	wantStatus(t, "owner on starter", res, http.StatusSeeOther)
	got := mustWS(t, e, "acme")
	if !got.SignupEnabled || got.RememberMeEnabled {
		t.Fatalf("options = sign-up %v, remember me %v; want on, off", got.SignupEnabled, got.RememberMeEnabled)
	}
	res = e.browser().get(wsURL("acme", "/login"))
	if strings.Contains(res.body, "remember_me") || !strings.Contains(res.body, "/signup") {
		t.Fatal("the login page does not follow the options")
	}
	// A "remember me" sent anyway makes no long session.
	b := e.browser()
	res = b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "remember_me": {"on"}})
	for _, c := range res.Cookies() {
		if c.Name == "gatehouse_session" && c.MaxAge != 0 {
			t.Fatalf("remember-me off, yet the cookie lasts %d s", c.MaxAge)
		}
	}
}

// brokenAudit is a store whose audit stream breaks after one event.
type brokenAudit struct{ testStore }

func (s brokenAudit) EachAuditEvent(ctx context.Context, workspaceID int64, f gatehouse.AuditFilter, fn func(gatehouse.AuditEvent) error) error {
	if err := fn(gatehouse.AuditEvent{ID: 1, Type: "signin.ok", IP: "127.0.0.1"}); err != nil {
		return err
	}
	return errors.New("connection to the database lost")
}

// TestAuditExportCutShort: an export whose stream fails midway reaches the
// client as a broken transfer, never as a complete-looking file.
func TestAuditExportCutShort(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	srv, err := web.NewServer(web.Options{Store: brokenAudit{e.store}, Accounts: e.accounts, MFA: e.mfa, BaseURL: baseURL, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	broken := *e
	broken.srv = ts
	b := broken.browser()
	b.client.Jar = owner.client.Jar
	for _, format := range []string{"json", "csv"} {
		res, err := b.client.Get(wsURL("acme", "/dashboard/audit?format="+format))
		if err != nil {
			continue // broken before the headers went out: fine too
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("%s export cut short reads as complete: %d %q", format, res.StatusCode, body)
		}
	}
}
