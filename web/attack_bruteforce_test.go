package web_test

// Attack class: brute force. Guessing passwords and codes per login (5 wrong
// codes end a pending login), per account (growing pauses, and the 100-
// failure lock of the second factor, reached on the test clock), and per
// client address (20 free password failures over any accounts). Clients
// come from different loopback addresses (127.0.0.x), as they would from
// different machines. The per-address limits of the mail forms and of SMS
// are in TestPasswordReset, TestMailFormLimitAcrossInstances and
// TestSMSGuard; IPv6 /64 keys in account and mfa's own tests.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// browserFrom is a browser whose connections come from the loopback
// address ip (such as 127.0.0.2): another client address to the server.
func (e *env) browserFrom(ip string) *browser {
	b := e.browser()
	jar, _ := cookiejar.New(nil)
	addr := e.srv.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return d.DialContext(ctx, network, addr)
	}}
	e.tb.Cleanup(tr.CloseIdleConnections)
	b.client.Jar, b.client.Transport = jar, tr
	return b
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	b := e.browser()
	for range 5 {
		wantStatus(t, "failure", b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {"nope nope"}}), http.StatusUnauthorized)
	}
	res := b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}})
	wantStatus(t, "right password while throttled", res, http.StatusTooManyRequests)
	wantBody(t, "throttled", res, "Too many failed attempts")
	if res.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q, want 1", res.Header.Get("Retry-After"))
	}
	e.clock.Advance(time.Second)
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
}

// TestAttackBruteForcePasswordPerAccount: guesses at one account spread
// over many client addresses pause the account all the same; the pauses
// double up to 15 minutes, and a right password during a pause is refused.
func TestAttackBruteForcePasswordPerAccount(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	guess := func(i int, pw string) response {
		return e.browserFrom(fmt.Sprintf("127.0.0.%d", 2+i%200)).post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {pw}})
	}
	for i := range 5 {
		wantStatus(t, fmt.Sprintf("guess %d", i+1), guess(i, "not it"), http.StatusUnauthorized)
	}
	// From now on each failure doubles the pause: 1 s, 2 s, ... 15 min.
	for i, wait := range []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900} {
		res := guess(100+i, goodPassword)
		wantStatus(t, fmt.Sprintf("right password during pause %d", i+1), res, http.StatusTooManyRequests)
		if got := res.Header.Get("Retry-After"); got != fmt.Sprint(wait) {
			t.Fatalf("pause %d: Retry-After %q, want %d", i+1, got, wait)
		}
		e.clock.Advance(time.Duration(wait) * time.Second)
		wantStatus(t, fmt.Sprintf("guess after pause %d", i+1), guess(150+i, "still not it"), http.StatusUnauthorized)
	}
	// Quiet for an hour, the account is forgiven.
	e.clock.Advance(time.Hour)
	if res := guess(7, goodPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after an hour: %d", res.StatusCode)
	}
}

// TestAttackBruteForcePasswordPerAddress: one client address guessing
// over many accounts (password spraying) is paused after 20 failures, for
// every account, even one it never tried; another address is not.
func TestAttackBruteForcePasswordPerAddress(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	for i := range 25 {
		e.user(ws, fmt.Sprintf("u%02d@example.com", i), gatehouse.RoleClient)
	}
	sprayer := e.browserFrom("127.0.0.9")
	for i := range 20 {
		res := sprayer.post(wsURL("acme", "/login"), url.Values{"email": {fmt.Sprintf("u%02d@example.com", i)}, "password": {"Summer2039!"}})
		wantStatus(t, fmt.Sprintf("spray %d", i+1), res, http.StatusUnauthorized)
	}
	res := sprayer.post(wsURL("acme", "/login"), url.Values{"email": {"u24@example.com"}, "password": {goodPassword}})
	wantStatus(t, "the 21st try from the address", res, http.StatusTooManyRequests)
	e.browserFrom("127.0.0.10").login("acme", "u24@example.com", goodPassword, "/portal")
	e.clock.Advance(time.Second)
	sprayer.login("acme", "u23@example.com", goodPassword, "/portal")
}

// TestFailuresEndPendingLogin: 5 wrong codes over all methods end the
// pending login, and sending a new code does not reset the count.
func TestFailuresEndPendingLogin(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	b.enrollTOTP("acme")
	b.enableEmail("acme", "owner@example.com")
	e.clock.Advance(61 * time.Second)

	b = e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/login/verify")
	wrong := func(method, code string) response {
		return b.post(wsURL("acme", "/login/verify"), url.Values{"method": {method}, "code": {code}})
	}
	wantStatus(t, "wrong totp", wrong("totp", "000000"), http.StatusUnauthorized)
	wantStatus(t, "wrong recovery", wrong("recovery", "aaaa-aaaa-aaaa-aaaa"), http.StatusUnauthorized)
	b.get(wsURL("acme", "/login/verify?method=email")) // sends a code
	wantStatus(t, "wrong email", wrong("email", "000000"), http.StatusUnauthorized)
	e.clock.Advance(61 * time.Second)
	res := b.post(wsURL("acme", "/login/verify/resend"), url.Values{"method": {"email"}})
	wantStatus(t, "resend", res, http.StatusSeeOther)
	res = wrong("email", "000000")
	wantStatus(t, "fourth wrong code", res, http.StatusUnauthorized)
	wantBody(t, "fourth wrong code", res, "That code does not match")
	res = wrong("totp", "000000")
	wantStatus(t, "fifth wrong code", res, http.StatusUnauthorized)
	wantBody(t, "fifth wrong code", res, "Sign in again")
	if res := b.get(wsURL("acme", "/login/verify")); res.location() != "/login" {
		t.Fatalf("the pending login survived 5 failures: %d %q", res.StatusCode, res.location())
	}
	// The account now pauses further attempts, across logins.
	b = e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/login/verify")
	res = wrong("totp", "000000")
	wantStatus(t, "account pause", res, http.StatusTooManyRequests)
}

// TestAttackBruteForceCodeLock: wrong second-factor codes, one per pending
// login and each after its pause (a patient attacker with the password),
// lock the account's second factor at 100 in a row: then even the right
// code is refused, from any new login, until a day has passed or an admin
// resets the user.
func TestAttackBruteForceCodeLock(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, _ := b.enrollTOTP("acme")

	for i := range 100 {
		p := e.browserFrom(fmt.Sprintf("127.0.0.%d", 2+i%200))
		p.login("acme", "client@example.com", goodPassword, "/login/verify")
		res := p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {"000000"}})
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d, want 401\n%s", i+1, res.StatusCode, res.body)
		}
		e.clock.Advance(16 * time.Minute) // more than the longest pause
	}
	p := e.browser()
	p.login("acme", "client@example.com", goodPassword, "/login/verify")
	res := p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
	wantStatus(t, "right code after 100 failures", res, http.StatusForbidden)
	wantBody(t, "locked", res, "locked after too many wrong codes")
	e.clock.Advance(23 * time.Hour)
	p = e.browser()
	p.login("acme", "client@example.com", goodPassword, "/login/verify")
	wantStatus(t, "right code 23 hours later", p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}}), http.StatusForbidden)

	// The owner resets the user: the lock goes with the methods.
	o := e.browser()
	o.login("acme", "owner@example.com", goodPassword, "/dashboard")
	u := mustUser(t, e, ws, "client@example.com")
	wantStatus(t, "reset", o.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/reset-2fa", u.ID)), url.Values{"reason": {"locked"}}), http.StatusSeeOther)
	p = e.browser()
	p.login("acme", "client@example.com", goodPassword, "/portal")
	secret, _ = p.enrollTOTP("acme")
	p = e.browser()
	p.login("acme", "client@example.com", goodPassword, "/login/verify")
	res = p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("after the reset: %d %q", res.StatusCode, res.location())
	}
}
