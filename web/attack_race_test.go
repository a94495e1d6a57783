package web_test

// Attack class: races. Many simultaneous uses of one secret that may be
// used once (an e-mailed or texted code, an authenticator step, a recovery
// code, an invitation, reset or sign-up link), spread over two instances on
// one database, on SQLite and on PostgreSQL: exactly one wins, and every
// other answer is a refusal, never a server error.

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// racers is how many simultaneous uses each race makes.
const racers = 30

// race makes n calls at once, released together once all are ready, and
// returns their answers.
func race(n int, call func(i int) response) []response {
	answers := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = call(i)
		})
	}
	close(start)
	wg.Wait()
	return answers
}

// wantOneWinner checks that exactly one answer won and that no answer is
// a server error; lost tells the acceptable refusals.
func wantOneWinner(t *testing.T, answers []response, won, lost func(response) bool) {
	t.Helper()
	wins := 0
	for i, res := range answers {
		switch {
		case res.StatusCode >= 500:
			t.Errorf("racer %d: server error %d\n%s", i, res.StatusCode, res.body)
		case won(res):
			wins++
		case !lost(res):
			t.Errorf("racer %d: unexpected %d %q\n%s", i, res.StatusCode, res.location(), res.body)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d simultaneous uses won, want exactly 1", wins, len(answers))
	}
}

// refusedOnVerify is a lost try at a code: the verify page refused it
// (wrong, used, or throttled), or the login ended meanwhile.
func refusedOnVerify(res response) bool {
	switch {
	case res.StatusCode == http.StatusSeeOther && res.location() == "/login": // ended meanwhile
		return true
	case res.StatusCode == http.StatusUnauthorized && strings.Contains(res.body, `action="/login"`): // too many tries
		return true
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusUnauthorized:
		return strings.Contains(res.body, `action="/login/verify"`)
	}
	return false
}

// TestAttackRaceOneCode: one login's right e-mailed or texted code posted
// 40 times at once, over two instances, passes once; every other answer is
// the login's end (back to /login) or a refusal on the verify page.
func TestAttackRaceOneCode(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		for _, channel := range []gatehouse.Method{gatehouse.MethodEmail, gatehouse.MethodSMS} {
			t.Run(be.name+"/"+string(channel), func(t *testing.T) {
				t.Parallel()
				e := newEnvOn(t, be)
				instances := []*env{e, e.instance()}
				e.workspace("acme")
				e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
				b := e.browser()
				b.login("acme", "client@example.com", goodPassword, "/portal")
				code := b.enrollSentCode("acme", channel)

				b = e.browser()
				b.login("acme", "client@example.com", goodPassword, "/login/verify")
				wantStatus(t, "verify page", b.get(wsURL("acme", "/login/verify")), http.StatusOK)
				c := code()
				// Each racer posts with the pending session's cookie, as a
				// browser resubmitting the form would.
				const n = 40
				rs := make([]*browser, n)
				for i := range rs {
					rs[i] = instances[i%2].browser()
					rs[i].client.Jar, _ = cookiejar.New(nil)
					u, _ := url.Parse(wsURL("acme", "/"))
					rs[i].client.Jar.SetCookies(u, b.client.Jar.Cookies(u))
				}
				answers := race(n, func(i int) response {
					return rs[i].post(wsURL("acme", "/login/verify"), url.Values{"method": {string(channel)}, "code": {c}})
				})
				wantOneWinner(t, answers, func(res response) bool {
					return res.StatusCode == http.StatusSeeOther && res.location() == "/portal"
				}, refusedOnVerify)
			})
		}
	}
}

// TestAttackRaceTOTPAndRecovery: 30 pending logins of one user post the
// same authenticator code, or the same recovery code, at once over two
// instances: the step or the code is accepted once.
func TestAttackRaceTOTPAndRecovery(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		for _, method := range []string{"totp", "recovery"} {
			t.Run(be.name+"/"+method, func(t *testing.T) {
				t.Parallel()
				e := newEnvOn(t, be)
				instances := []*env{e, e.instance()}
				ws := e.workspace("acme")
				e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
				b := e.browser()
				b.login("acme", "client@example.com", goodPassword, "/portal")
				secret, codes := b.enrollTOTP("acme")
				logins := make([]*browser, racers)
				for i := range logins {
					logins[i] = instances[i%2].browser()
					logins[i].login("acme", "client@example.com", goodPassword, "/login/verify")
				}
				code, home := codes[3], "/account/security?done=recovery"
				if method == "totp" {
					code, home = e.totpCode(secret), "/portal"
				}
				answers := race(racers, func(i int) response {
					return logins[i].post(wsURL("acme", "/login/verify"), url.Values{"method": {method}, "code": {code}})
				})
				wantOneWinner(t, answers, func(res response) bool {
					return res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.location(), home)
				}, refusedOnVerify)
				n, err := e.store.CountRecoveryCodes(context.Background(), ws.ID, mustUser(t, e, ws, "client@example.com").ID)
				if want := map[string]int{"totp": 8, "recovery": 7}[method]; err != nil || n != want {
					t.Errorf("%d recovery codes left (%v), want %d", n, err, want)
				}
			})
		}
	}
}

// TestAttackRaceLink: 30 simultaneous uses of one invitation, reset or
// sign-up link, over two instances: exactly one signs in; the others find
// the link gone.
func TestAttackRaceLink(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, be)
			instances := []*env{e, e.instance()}
			ws := e.workspace("acme")
			ctx := context.Background()
			e.enableSignup(ws)
			if _, _, err := e.accounts.Invite(ctx, ws, nil, "racer@example.com", gatehouse.RoleClient); err != nil {
				t.Fatal(err)
			}
			if err := e.accounts.RequestReset(ctx, ws, "client@example.com"); err != nil {
				t.Fatal(err)
			}
			wantStatus(t, "signup", e.browser().post(wsURL("acme", "/signup"),
				url.Values{"name": {"S"}, "email": {"sam@example.com"}, "password": {goodPassword}}), http.StatusSeeOther)
			for _, link := range []string{e.lastLink("racer@example.com"), e.lastLink("client@example.com"), e.lastLink("sam@example.com")} {
				t.Run(strings.Split(link, "/")[1], func(t *testing.T) {
					bs := make([]*browser, racers)
					for i := range bs {
						bs[i] = instances[i%2].browser()
					}
					answers := race(racers, func(i int) response {
						return bs[i].post(wsURL("acme", link), url.Values{"name": {"R"}, "password": {goodPassword}})
					})
					wantOneWinner(t, answers, func(res response) bool {
						return res.StatusCode == http.StatusSeeOther
					}, func(res response) bool { return res.StatusCode == http.StatusNotFound })
				})
			}
		})
	}
}
