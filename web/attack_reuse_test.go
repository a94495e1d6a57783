package web_test

// Attack class: code reuse. A code that was accepted once (an authenticator
// step, an e-mailed or texted code, a recovery code) is sent again, spelled
// every way that normalises to it (spaces, tabs, no-break spaces, case,
// hyphens, look-alike letters) and in forms that must never count as it
// (Unicode digits, hyphenated digits, extra digits): none passes. Fresh codes
// in Unicode digits are refused too, so no second spelling of one code
// exists.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// digitsIn writes the ASCII digits of s in the script whose zero is zero.
func digitsIn(s string, zero rune) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return zero + (r - '0')
		}
		return r
	}, s)
}

// codeSpellings are the ways a 6-digit code may be typed that normalise to
// it (same) and ways that must be refused whatever the code (never).
func codeSpellings(c string) (same, never []string) {
	same = []string{c, c[:3] + " " + c[3:], " " + c + " ", c[:3] + "\u00a0" + c[3:], c[:3] + "\t" + c[3:], strings.Join(strings.Split(c, ""), " ")}
	never = []string{
		digitsIn(c, '０'), // fullwidth
		digitsIn(c, '٠'), // Arabic-Indic
		digitsIn(c, '۰'), // Extended Arabic-Indic (Persian)
		digitsIn(c, '०'), // Devanagari
		c[:3] + "-" + c[3:], c[:3] + "\u2010" + c[3:], "+" + c, "0" + c, c + "0", c[:5], c + "\x00",
	}
	return same, never
}

// verifyFresh posts a code to the verify page after clearing the
// account's second-factor failures, so that every spelling is judged on its
// merits rather than refused as throttled. (The pauses are their own attack
// class, attack_bruteforce_test.go; waiting them out on the test clock would
// carry a code out of its window.)
func (b *browser) verifyFresh(slug, email, method, code string) response {
	b.tb.Helper()
	ws := mustWS(b.tb, b.env, slug)
	u := mustUser(b.tb, b.env, ws, email)
	if err := b.env.store.ResetThrottle(context.Background(), ws.ID, "mfa:"+strconv.FormatInt(u.ID, 10)); err != nil {
		b.tb.Fatal(err)
	}
	res := b.post(wsURL(slug, "/login/verify"), url.Values{"method": {method}, "code": {code}})
	if res.StatusCode == http.StatusTooManyRequests {
		b.tb.Fatalf("throttled after clearing the failures: is the key still mfa:{user}?\n%s", res.body)
	}
	return res
}

// enrollSentCode turns on e-mailed or texted codes (channel) for the
// signed-in client@example.com, waits out the minute between codes, and
// returns how to read the newest code sent on that channel.
func (b *browser) enrollSentCode(slug string, channel gatehouse.Method) func() string {
	b.tb.Helper()
	e := b.env
	last := func() string { return e.lastCode("client@example.com") }
	if channel == gatehouse.MethodSMS {
		e.setTwilio(slug, gatehouse.MethodSMS)
		b.enrollSMS(slug, "GB", "07700 900123", "+447700900123")
		last = func() string { return e.lastSMS("+447700900123") }
	} else {
		b.enableEmail(slug, "client@example.com")
	}
	e.clock.Advance(mfa.ResendGap)
	return last
}

// pendingLogins hands out pending logins of one user, a new one after
// every 4 refused tries (the fifth would end the login).
type pendingLogins struct {
	e          *env
	slug, user string
	cur        *browser
	tries      int
}

func (p *pendingLogins) next() *browser {
	if p.cur == nil || p.tries == mfa.MaxLoginFailures-1 {
		p.cur, p.tries = p.e.browser(), 0
		p.cur.login(p.slug, p.user, goodPassword, "/login/verify")
	}
	p.tries++
	return p.cur
}

// wantRefused checks that a code was refused on the verify page.
func wantRefused(t *testing.T, what string, res response) {
	t.Helper()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: %d %q, want 401", what, res.StatusCode, res.location())
	}
}

// TestAttackReuseTOTP: a used authenticator code, in every spelling, is
// refused while its step is still inside the accepted window; a fresh code
// in Unicode digits is refused, and then accepted in ASCII.
func TestAttackReuseTOTP(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, _ := b.enrollTOTP("acme")

	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	code := e.totpCode(secret)
	if res := b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {code}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d", res.StatusCode)
	}
	start := e.clock.Now()
	same, never := codeSpellings(code)
	logins := &pendingLogins{e: e, slug: "acme", user: "client@example.com"}
	for _, c := range append(same, never...) {
		res := logins.next().verifyFresh("acme", "client@example.com", "totp", c)
		wantRefused(t, "used code as "+strconv.Quote(c), res)
	}
	// The waits must not have carried the code out of the window, or the
	// refusals above prove nothing about reuse.
	if e.clock.Now().Sub(start) >= 30*time.Second {
		t.Fatalf("the test waited %v: the code's step left the window", e.clock.Now().Sub(start))
	}

	// A fresh code: Unicode spellings refused, ASCII accepted.
	logins = &pendingLogins{e: e, slug: "acme", user: "client@example.com"}
	fresh := e.totpCode(secret)
	_, never = codeSpellings(fresh)
	for _, c := range never[:4] {
		wantRefused(t, "fresh code as "+strconv.Quote(c), logins.next().verifyFresh("acme", "client@example.com", "totp", c))
	}
	res := logins.next().verifyFresh("acme", "client@example.com", "totp", fresh[:3]+" "+fresh[3:])
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("fresh code in ASCII: %d %q", res.StatusCode, res.location())
	}
}

// TestAttackReuseSentCode: an e-mailed or texted code is refused in Unicode
// digits and hyphenated, accepted once with spaces, and then refused in
// every spelling, in the same login's place and in later logins.
func TestAttackReuseSentCode(t *testing.T) {
	for _, channel := range []gatehouse.Method{gatehouse.MethodEmail, gatehouse.MethodSMS} {
		t.Run(string(channel), func(t *testing.T) {
			e := newEnv(t)
			e.workspace("acme")
			e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
			b := e.browser()
			b.login("acme", "client@example.com", goodPassword, "/portal")
			last := b.enrollSentCode("acme", channel)

			b = e.browser()
			b.login("acme", "client@example.com", goodPassword, "/login/verify")
			wantStatus(t, "verify page", b.get(wsURL("acme", "/login/verify")), http.StatusOK)
			code := last()
			same, never := codeSpellings(code)
			for _, c := range never[:4] {
				wantRefused(t, "fresh code as "+strconv.Quote(c), b.verifyFresh("acme", "client@example.com", string(channel), c))
			}
			res := b.verifyFresh("acme", "client@example.com", string(channel), same[1])
			if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
				t.Fatalf("the code with a space: %d %q\n%s", res.StatusCode, res.location(), res.body)
			}
			logins := &pendingLogins{e: e, slug: "acme", user: "client@example.com"}
			for _, c := range append(same, never...) {
				wantRefused(t, "used code as "+strconv.Quote(c), logins.next().verifyFresh("acme", "client@example.com", string(channel), c))
			}
		})
	}
}

// TestAttackReuseRecoveryCode: a used recovery code is refused as used in
// every spelling that normalises to it: case, spaces, no hyphens, Unicode
// hyphens and dashes, look-alike letters; and forms outside the alphabet
// (fullwidth letters) are refused outright.
func TestAttackReuseRecoveryCode(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	_, codes := b.enrollTOTP("acme")
	code := codes[0]
	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	if res := b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"recovery"}, "code": {code}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d", res.StatusCode)
	}
	bare := strings.ReplaceAll(code, "-", "")
	lookalike := strings.NewReplacer("1", "l", "0", "O").Replace(code)
	same := []string{
		code, strings.ToUpper(code), bare, strings.ToUpper(bare), " " + code + " ",
		strings.ReplaceAll(code, "-", " "), strings.ReplaceAll(code, "-", "\u2010"), strings.ReplaceAll(code, "-", "\u2013"),
		strings.ReplaceAll(code, "-", "\u00a0"), lookalike,
	}
	logins := &pendingLogins{e: e, slug: "acme", user: "client@example.com"}
	for _, c := range same {
		res := logins.next().verifyFresh("acme", "client@example.com", "recovery", c)
		wantRefused(t, "used code as "+strconv.Quote(c), res)
		wantBody(t, "used code as "+strconv.Quote(c), res, "That recovery code was already used")
	}
	fullwidth := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return 'ａ' + (r - 'a')
		case '0' <= r && r <= '9':
			return '０' + (r - '0')
		}
		return r
	}, codes[1])
	for _, c := range []string{fullwidth, strings.ToUpper(codes[1]) + "x", codes[1][:len(codes[1])-1]} {
		res := logins.next().verifyFresh("acme", "client@example.com", "recovery", c)
		wantRefused(t, "unused code as "+strconv.Quote(c), res)
	}
	// The second code itself still works: the refusals did not spend it.
	res := logins.next().verifyFresh("acme", "client@example.com", "recovery", codes[1])
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unused code: %d\n%s", res.StatusCode, res.body)
	}
}
