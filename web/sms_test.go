package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// enrollSMS sets up text-message codes for a signed-in browser.
func (b *browser) enrollSMS(slug, country, phone, e164 string) {
	b.tb.Helper()
	res := b.post(wsURL(slug, "/account/security/sms/start"), url.Values{"country": {country}, "phone": {phone}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security/sms/confirm" {
		b.tb.Fatalf("sms start: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	wantBody(b.tb, "sms confirm page", b.get(wsURL(slug, res.location())), "•••• ")
	res = b.post(wsURL(slug, "/account/security/sms/confirm"), url.Values{"code": {b.env.lastSMS(e164)}})
	if res.StatusCode != http.StatusSeeOther {
		b.tb.Fatalf("sms confirm: %d\n%s", res.StatusCode, res.body)
	}
}

func TestSMSEnrollmentAndLogin(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setTwilio("acme", gatehouse.MethodTOTP, gatehouse.MethodSMS, gatehouse.MethodEmail)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	res := b.get(wsURL("acme", "/account/security"))
	wantBody(t, "security page", res, "/account/security/sms/start")
	wantBody(t, "security page", res, "An authenticator app is safer")

	// A GB number typed as people type it reaches Twilio in E.164, from the
	// workspace's sender, valid for the code's lifetime.
	b.enrollSMS("acme", "GB", "07700 900123", "+447700900123")
	m := e.twilio.Last()
	if m.To != "+447700900123" || m.From != twilioFrom || m.ValidityPeriod != "600" || !strings.Contains(m.Body, "is your WS acme code") {
		t.Fatalf("Twilio got %+v", m)
	}
	if !strings.Contains(e.mailSubjects("client@example.com"), "Two-factor method added") {
		t.Fatal("no e-mail about the new method")
	}
	res = b.get(wsURL("acme", "/account/security"))
	wantBody(t, "masked phone", res, "•••• 0123")

	// A login sends the SMS by itself, and its code signs in.
	e.clock.Advance(61 * time.Second)
	before := len(e.twilio.Messages())
	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	res = b.get(wsURL("acme", "/login/verify"))
	wantBody(t, "verify by sms", res, "by text message")
	if len(e.twilio.Messages()) != before+1 {
		t.Fatalf("the login sent %d texts, want 1", len(e.twilio.Messages())-before)
	}
	// Resend within the minute: 429 with the seconds left.
	res = b.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"sms"}})
	wantStatus(t, "resend within the minute", res, http.StatusTooManyRequests)
	wantBody(t, "resend within the minute", res, "Codes can only be sent every minute")
	res = b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"sms"}, "code": {e.lastSMS("+447700900123")}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("sms code: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
}

func TestSMSRefusedNumbers(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setTwilio("acme", gatehouse.MethodTOTP, gatehouse.MethodSMS)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")

	tests := []struct {
		name, country, phone string
		code, status         int
		want                 string
	}{
		{"twilio 21211", "GB", "07700 900124", 21211, 400, "That number is not valid or cannot receive text messages"},
		{"twilio 21614", "GB", "07700 900125", 21614, 400, "That number is not valid or cannot receive text messages"},
		{"twilio 21408", "GB", "07700 900126", 21408, 400, "not enabled"},
		{"twilio 21610", "GB", "07700 900127", 21610, 400, "opted out"},
		{"not a number", "GB", "12", 0, 0, "Enter a valid mobile number"},
		{"a landline", "GB", "020 7946 0018", 0, 0, "cannot receive text messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(61 * time.Second)
			if tt.code != 0 {
				e.twilio.FailNext("+44"+strings.ReplaceAll(tt.phone[1:], " ", ""), tt.code, tt.status)
			}
			res := b.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {tt.country}, "phone": {tt.phone}})
			wantStatus(t, tt.name, res, http.StatusUnprocessableEntity)
			wantBody(t, tt.name, res, tt.want)
			res = b.post(wsURL("acme", "/account/security/sms/confirm"), url.Values{"code": {"123456"}})
			if res.StatusCode == http.StatusSeeOther {
				t.Fatal("a refused number became an active method")
			}
		})
	}
	if v := activeMethods(t, e, "client@example.com"); len(v) != 0 {
		t.Fatalf("active methods after refusals: %v", v)
	}
}

func activeMethods(t *testing.T, e *env, email string) []gatehouse.Method {
	t.Helper()
	ws := mustWS(t, e, "acme")
	u, err := e.store.FindUserByEmail(context.Background(), ws.ID, email)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := e.store.FindFactors(context.Background(), ws.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var active []gatehouse.Method
	for _, f := range fs {
		if f.Active {
			active = append(active, f.Method)
		}
	}
	return active
}

// TestSMSGuard: the country list and the workspace caps refuse sends, each
// with a clear message and an audit event.
func TestSMSGuard(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	ws := e.setTwilio("acme", gatehouse.MethodTOTP, gatehouse.MethodSMS)
	guard := gatehouse.SMSGuard{Countries: []string{"IE"}, HourlyCap: 2, DailyCap: 3}
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SMSGuard: &guard}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res := owner.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"GB"}, "phone": {"07700 900123"}})
	wantStatus(t, "country off the list", res, http.StatusUnprocessableEntity)
	wantBody(t, "country off the list", res, "not allowed by this workspace")
	if e.twilio.Requests() != 0 {
		t.Fatal("a refused country reached Twilio")
	}

	// Irish numbers pass until the hourly cap.
	for _, phone := range []string{"085 123 4567", "085 123 4568"} {
		e.clock.Advance(61 * time.Second)
		res = owner.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"IE"}, "phone": {phone}})
		wantStatus(t, "send "+phone, res, http.StatusSeeOther)
	}
	e.clock.Advance(61 * time.Second)
	res = owner.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"IE"}, "phone": {"085 123 4569"}})
	wantStatus(t, "hourly cap", res, http.StatusUnprocessableEntity)
	wantBody(t, "hourly cap", res, "too many text messages")
	// 59 minutes later (the session's idle limit is 60) the first text has
	// left the hourly window, but the daily cap (3) is near.
	e.clock.Advance(59 * time.Minute)
	// Adding a phone is a sensitive change: confirm with the password again.
	res = owner.post(wsURL("acme", "/account/security/reauth"), url.Values{"password": {goodPassword}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security?done=reauth" {
		t.Fatalf("reauth: %d %q", res.StatusCode, res.location())
	}
	wantStatus(t, "after an hour", owner.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"IE"}, "phone": {"085 123 4569"}}), http.StatusSeeOther)
	e.clock.Advance(61 * time.Second)
	wantStatus(t, "daily cap", owner.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"IE"}, "phone": {"085 123 4560"}}), http.StatusUnprocessableEntity)

	events, err := e.store.FindAuditEvents(context.Background(), ws.ID, gatehouse.AuditFilter{Type: "sms.refused"})
	if err != nil || len(events) != 3 {
		t.Fatalf("sms.refused events = %+v, %v; want 3", events, err)
	}
}

// TestSMSRetried: a 429 from Twilio is retried through the outbox and the
// text is delivered once.
func TestSMSRetried(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setTwilio("acme", gatehouse.MethodTOTP, gatehouse.MethodSMS)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	e.twilio.FailNext("+447700900123", 20429, 429)
	res := b.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"GB"}, "phone": {"07700 900123"}})
	wantStatus(t, "start with a busy Twilio", res, http.StatusSeeOther) // the outbox will retry
	if n := len(e.twilio.Messages()); n != 0 {
		t.Fatalf("%d texts accepted during the 429", n)
	}
	e.deliver()
	if n := len(e.twilio.Messages()); n != 0 || e.twilio.Requests() != 1 {
		t.Fatalf("before its backoff: %d texts in %d requests, want none in 1", n, e.twilio.Requests())
	}
	e.clock.Advance(6 * time.Second) // the first retry is due 5 s later
	e.deliver()
	if n := len(e.twilio.Messages()); n != 1 {
		t.Fatalf("%d texts after the retry, want 1", n)
	}
	e.clock.Advance(10 * time.Minute / 2)
	e.deliver() // more worker rounds: nothing more goes out
	if got := len(e.twilio.Messages()); got != 1 || e.twilio.Requests() != 2 {
		t.Fatalf("delivered %d times in %d requests, want once in 2", got, e.twilio.Requests())
	}
	res = b.post(wsURL("acme", "/account/security/sms/confirm"), url.Values{"code": {e.lastSMS("+447700900123")}})
	wantStatus(t, "confirm after the retry", res, http.StatusSeeOther)
}

// TestTwilioSettings: the owner sets the account in Settings (the token is
// never shown again), allows SMS, and sends a test text.
func TestTwilioSettings(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	form := url.Values{"mfa_mode": {"optional"}, "methods": {"totp", "sms"}, "trusted_device_days": {"30"}, "grace_days": {"0"}}
	res := owner.post(wsURL("acme", "/dashboard/settings/security"), form)
	wantStatus(t, "sms without Twilio", res, http.StatusUnprocessableEntity)
	wantBody(t, "sms without Twilio", res, "Twilio account is set")

	form.Set("twilio_account_sid", twilioSID)
	form.Set("twilio_auth_token", twilioToken)
	form.Set("twilio_from", twilioFrom)
	// A refused form saves nothing, not even the valid Twilio account.
	form.Set("sms_countries", "gb, zz")
	wantStatus(t, "bad country", owner.post(wsURL("acme", "/dashboard/settings/security"), form), http.StatusUnprocessableEntity)
	if mustWS(t, e, "acme").Twilio.AccountSID != "" {
		t.Fatal("a refused form saved the Twilio account")
	}
	form.Set("sms_countries", "gb, ie")
	res = owner.post(wsURL("acme", "/dashboard/settings/security"), form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save with Twilio: %d\n%s", res.StatusCode, res.body)
	}
	ws := mustWS(t, e, "acme")
	if !ws.MFA.Allows(gatehouse.MethodSMS) || ws.Twilio.AccountSID != twilioSID || strings.Contains(string(ws.Twilio.AuthToken), twilioToken) ||
		strings.Join(ws.SMSGuard.Countries, ",") != "GB,IE" {
		t.Fatalf("saved %+v / %+v", ws.MFA, ws.SMSGuard)
	}
	res = owner.get(wsURL("acme", "/dashboard/settings/security"))
	if strings.Contains(res.body, twilioToken) {
		t.Fatal("the Auth Token is shown again")
	}
	wantBody(t, "token set", res, "set — leave empty to keep it")

	res = owner.post(wsURL("acme", "/dashboard/settings/security/test-sms"), url.Values{"country": {"GB"}, "phone": {"07700 900999"}})
	wantStatus(t, "test sms", res, http.StatusOK)
	wantBody(t, "test sms", res, "Test message sent.")
	if m := e.twilio.Last(); m.To != "+447700900999" || !strings.Contains(m.Body, "Test message") {
		t.Fatalf("test text = %+v", m)
	}
	e.twilio.FailNext("+447700900998", 21211, 400)
	res = owner.post(wsURL("acme", "/dashboard/settings/security/test-sms"), url.Values{"country": {"GB"}, "phone": {"07700 900998"}})
	wantStatus(t, "refused test sms", res, http.StatusUnprocessableEntity)
	wantBody(t, "refused test sms", res, "not valid")
}

// factorsFail is a store whose factor reads fail.
type factorsFail struct{ testStore }

func (factorsFail) FindFactors(context.Context, int64, int64) ([]mfa.Factor, error) {
	return nil, errors.New("store down")
}

// TestCodeConfirmStoreError: the confirm page does not hide a failed read
// (showing no number, as if there were none): it is a server error.
func TestCodeConfirmStoreError(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setTwilio("acme", gatehouse.MethodTOTP, gatehouse.MethodSMS)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	wantStatus(t, "sms start", b.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"GB"}, "phone": {"07700 900123"}}), http.StatusSeeOther)
	e.mfa.Store = factorsFail{e.store}
	wantStatus(t, "confirm page, store down", b.get(wsURL("acme", "/account/security/sms/confirm")), http.StatusInternalServerError)
}

// TestSMSCorrectedNumber: a number Twilio refuses, corrected at once: the
// code goes to the corrected number, whose page says so, and confirms it.
func TestSMSCorrectedNumber(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setTwilio("acme", gatehouse.MethodTOTP, gatehouse.MethodSMS)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	e.twilio.FailNext("+447700900124", 21211, 400)
	res := b.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"GB"}, "phone": {"07700 900124"}})
	wantStatus(t, "refused number", res, http.StatusUnprocessableEntity)
	res = b.post(wsURL("acme", "/account/security/sms/start"), url.Values{"country": {"GB"}, "phone": {"07700 900123"}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/account/security/sms/confirm" {
		t.Fatalf("corrected number: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	wantBody(t, "confirm page", b.get(wsURL("acme", res.location())), "We sent a 6-digit code by text message to •••• 0123")
	res = b.post(wsURL("acme", "/account/security/sms/confirm"), url.Values{"code": {e.lastSMS("+447700900123")}})
	wantStatus(t, "confirm the corrected number", res, http.StatusSeeOther)
	if m := activeMethods(t, e, "client@example.com"); len(m) != 1 || m[0] != gatehouse.MethodSMS {
		t.Fatalf("active methods = %v", m)
	}
}
