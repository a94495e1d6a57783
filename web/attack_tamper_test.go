package web_test

// Attack class: tampering with form fields. The verify form's method and
// remember_device, and the hidden or chosen fields of other forms (a role,
// a client, the staff-only sensitive flag, the owner's settings), are sent
// with values the page never offered. Each is refused or ignored; none
// passes the gate or widens what the sender may do. (next is the redirect
// class: attack_redirect_test.go.)

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// TestAttackTamperMethod: a pending login with an authenticator app only
// posts codes under every method it was not offered: none signs in.
func TestAttackTamperMethod(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setTwilio("acme", gatehouse.MethodTOTP, gatehouse.MethodSMS, gatehouse.MethodEmail)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, _ := b.enrollTOTP("acme")
	mails := e.mailCount("client@example.com")

	for _, method := range []string{"email", "sms", "passkey", "", "admin", "TOTP", "totp ", "recovery\x00", "password"} {
		t.Run(method, func(t *testing.T) {
			p := e.browser()
			p.login("acme", "client@example.com", goodPassword, "/login/verify")
			// Whatever the method claims, the code is the app's right code,
			// and no e-mail or text was ever sent for this login.
			res := p.post(wsURL("acme", "/login/verify"), url.Values{"method": {method}, "code": {e.totpCode(secret)}})
			if res.StatusCode == http.StatusSeeOther || res.StatusCode >= 500 {
				t.Fatalf("method %q: %d %q", method, res.StatusCode, res.location())
			}
			wantGate(t, p, "acme", "/login/verify")
		})
	}
	if n := e.mailCount("client@example.com"); n != mails {
		t.Errorf("tampered methods sent %d e-mails", n-mails)
	}
	if len(e.twilio.Messages()) != 0 {
		t.Errorf("a tampered method sent %d texts", len(e.twilio.Messages()))
	}
}

// TestAttackTamperDisallowedMethod: a code of a method the owner has since
// disallowed does not pass, even when it is right and was sent while the
// method was allowed; and a recovery code does not stand in for enrolling.
func TestAttackTamperDisallowedMethod(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, codes := b.enrollTOTP("acme")
	b.enableEmail("acme", "client@example.com")
	e.clock.Advance(61 * time.Second)

	p := e.browser()
	p.login("acme", "client@example.com", goodPassword, "/login/verify")
	wantBody(t, "e-mail offered", p.get(wsURL("acme", "/login/verify?method=email")), "We sent a 6-digit code")
	code := e.lastCode("client@example.com")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional, gatehouse.MethodTOTP)
	res := p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"email"}, "code": {code}})
	if res.StatusCode == http.StatusSeeOther || res.StatusCode >= 500 {
		t.Fatalf("e-mail code after e-mail was disallowed: %d %q", res.StatusCode, res.location())
	}
	wantGate(t, p, "acme", "/login/verify")
	res = p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("the allowed method: %d %q", res.StatusCode, res.location())
	}

	// In required mode a new user without a method must enroll: another
	// user's recovery code, or any, is not a way around it.
	ws := mustWS(t, e, "acme")
	e.user(ws, "new@example.com", gatehouse.RoleClient)
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFARequired, gatehouse.MethodTOTP)
	n := e.browser()
	n.login("acme", "new@example.com", goodPassword, "/account/security")
	res = n.post(wsURL("acme", "/login/verify"), url.Values{"method": {"recovery"}, "code": {codes[0]}})
	if res.StatusCode == http.StatusSeeOther && res.location() != "/account/security" || res.StatusCode >= 500 {
		t.Fatalf("recovery code instead of enrolling: %d %q", res.StatusCode, res.location())
	}
	wantGate(t, n, "acme", "/account/security")
}

// TestAttackTamperRememberDevice: remember_device=on is honoured only with
// a passed challenge of a pending login, and only where the workspace shows
// the box (a lifetime of 0 never sets the cookie: TestTrustedDevices).
func TestAttackTamperRememberDevice(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, _ := b.enrollTOTP("acme")
	u := mustUser(t, e, ws, "client@example.com")
	devices := func() int {
		ds, err := e.store.ListDevices(context.Background(), ws.ID, u.ID, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}

	p := e.browser()
	p.login("acme", "client@example.com", goodPassword, "/login/verify")
	res := p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {"000000"}, "remember_device": {"on"}})
	if deviceCookie(res) != nil || devices() != 0 {
		t.Fatal("a wrong code with remember_device trusted the browser")
	}
	// On the password form, the field means nothing.
	res = e.browser().post(wsURL("acme", "/login"), url.Values{"email": {"client@example.com"}, "password": {goodPassword}, "remember_device": {"on"}})
	if deviceCookie(res) != nil || devices() != 0 {
		t.Fatal("remember_device on the password form trusted the browser")
	}
	// A signed-in session re-verifying is not a login: nothing to remember.
	e.clock.Advance(11 * time.Minute)
	res = b.post(wsURL("acme", "/account/security/reauth"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}, "remember_device": {"on"}})
	wantStatus(t, "reauth", res, http.StatusSeeOther)
	if deviceCookie(res) != nil || devices() != 0 {
		t.Fatal("re-verification with remember_device trusted the browser")
	}
	// An already signed-in session posting to verify is sent home.
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}, "remember_device": {"on"}})
	if deviceCookie(res) != nil || devices() != 0 {
		t.Fatal("a signed-in session posting to verify trusted the browser")
	}
}

// TestAttackTamperHiddenFields: fields a page fixes or limits, sent with
// other values by a user who may use the form.
func TestAttackTamperHiddenFields(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	ctx := context.Background()
	e.user(f.ws, "admin@example.com", gatehouse.RoleAdmin)
	ab := e.browser()
	ab.login("acme", "admin@example.com", goodPassword, "/dashboard")
	for _, role := range []string{"owner", "OWNER", "superuser", "", "admin\x00"} {
		res := ab.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"r@example.com"}, "role": {role}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("invite with role %q: %d, want 422", role, res.StatusCode)
		}
	}
	// A client for a staff role.
	res := ab.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"m@example.com"}, "role": {"member"}, "client": {"1"}})
	wantStatus(t, "member with a client", res, http.StatusUnprocessableEntity)
	if _, err := e.store.FindUserByEmail(ctx, f.ws.ID, "r@example.com"); err == nil {
		t.Error("a tampered invitation was sent")
	}

	// A client marks an upload sensitive (a staff-only flag) and names
	// another client's ID in a field the form does not have.
	c := e.browser()
	c.login("acme", "client@example.com", goodPassword, "/portal")
	res = c.upload(wsURL("acme", "/portal/documents"), url.Values{"sensitive": {"on"}, "client": {"2"}, "title": {"mine"}}, file{"a.pdf", []byte("%PDF-1.4 a")})
	wantStatus(t, "client upload", res, http.StatusSeeOther)
	ds, err := e.store.ListDocuments(ctx, f.ws.ID, 0, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("documents: %v, %v", ds, err)
	}
	if ds[0].Sensitive || ds[0].ClientID != f.alpha.ID {
		t.Errorf("client upload stored as sensitive=%v in client %d, want false in %d", ds[0].Sensitive, ds[0].ClientID, f.alpha.ID)
	}

	// The owner's settings form, with values it never offers.
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	o := e.browser()
	o.login("acme", "owner@example.com", goodPassword, "/dashboard")
	before := mustWS(t, e, "acme")
	for name, form := range map[string]url.Values{
		"required without a method":  {"mfa_mode": {"required"}, "methods": {"totp"}, "trusted_device_days": {"30"}, "grace_days": {"0"}},
		"unknown mode":               {"mfa_mode": {"always"}, "methods": {"totp"}, "trusted_device_days": {"30"}, "grace_days": {"0"}},
		"sms without Twilio":         {"mfa_mode": {"optional"}, "methods": {"sms"}, "trusted_device_days": {"30"}, "grace_days": {"0"}},
		"unknown method":             {"mfa_mode": {"optional"}, "methods": {"pigeon"}, "trusted_device_days": {"30"}, "grace_days": {"0"}},
		"no method":                  {"mfa_mode": {"optional"}, "trusted_device_days": {"30"}, "grace_days": {"0"}},
		"a year of trusted devices":  {"mfa_mode": {"optional"}, "methods": {"totp"}, "trusted_device_days": {"365"}, "grace_days": {"0"}},
		"negative trusted days":      {"mfa_mode": {"optional"}, "methods": {"totp"}, "trusted_device_days": {"-1"}, "grace_days": {"0"}},
		"grace of a year":            {"mfa_mode": {"optional"}, "methods": {"totp"}, "trusted_device_days": {"30"}, "grace_days": {"365"}},
		"trusted days not a number":  {"mfa_mode": {"optional"}, "methods": {"totp"}, "trusted_device_days": {"1e3"}, "grace_days": {"0"}},
		"grace days with a fraction": {"mfa_mode": {"optional"}, "methods": {"totp"}, "trusted_device_days": {"30"}, "grace_days": {"1.5"}},
	} {
		res := o.post(wsURL("acme", "/dashboard/settings/security"), form)
		if res.StatusCode != http.StatusUnprocessableEntity && res.StatusCode != http.StatusConflict {
			t.Errorf("%s: %d %q, want a refusal", name, res.StatusCode, res.location())
		}
	}
	after := mustWS(t, e, "acme")
	if after.MFA.Mode != before.MFA.Mode || !slices.Equal(after.MFA.Methods, before.MFA.Methods) ||
		after.MFA.TrustedDeviceDays != before.MFA.TrustedDeviceDays || after.MFA.GraceDays != before.MFA.GraceDays {
		t.Errorf("settings changed by refused forms: %+v → %+v", before.MFA, after.MFA)
	}
}
