package web_test

// Attack class: open redirects. Every place that takes a "where next"
// (the sign-in form's next, the gate's stored next, the re-verification
// page's next, the Security page's Continue link) is given addresses of
// another site in the spellings browsers accept. Every redirect and link
// that comes out stays on the workspace's host, as a browser would resolve
// it (WHATWG: backslashes count as slashes, tabs and line feeds vanish).
// TestRolesAndRedirects (web_test.go) checks where the safe values land.

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// evilNexts are ways of writing another site as a "next".
var evilNexts = []string{
	"//evil.example", "//evil.example/login", "///evil.example", "////evil.example",
	`/\evil.example`, `\\evil.example`, `/\/evil.example`, `\/evil.example`,
	"https://evil.example", "http://evil.example/", "HTTPS://evil.example", "https:evil.example", "https:/evil.example",
	"//evil.example@acme.gatehouse.test", "http://acme.gatehouse.test@evil.example/",
	"/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example",
	"%2F%2Fevil.example", "%2f%2fevil.example", "/%2F%2Fevil.example", "/%5Cevil.example", "%5C%5Cevil.example",
	"javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "evil.example", ".evil.example",
	"/login?next=//evil.example", "/\u3002evil.example", "//evil%E3%80%82example",
}

// onHost reports whether loc, as a browser resolves it from a page of
// host, stays on host.
func onHost(host, loc string) bool {
	if loc == "" {
		return true
	}
	// What browsers do before resolving: strip tabs and line feeds, treat
	// backslashes as slashes, trim spaces.
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(strings.TrimSpace(loc))
	u, err := url.Parse(loc)
	if err != nil {
		return false
	}
	base := &url.URL{Scheme: "http", Host: host, Path: "/login"}
	r := base.ResolveReference(u)
	return r.Scheme == "http" && r.Host == host && r.User == nil
}

var (
	nextFieldRE    = regexp.MustCompile(`name="next" value="([^"]*)"`)
	continueLinkRE = regexp.MustCompile(`<a href="([^"]*)">Continue to your page</a>`)
	reauthLinkRE   = regexp.MustCompile(`href="/account/security/reauth\?method=[a-z]+&amp;next=([^"]*)"`)
)

// wantOnHost checks the redirect and the next-carrying links and fields of
// an answer.
func wantOnHost(t *testing.T, what string, res response) {
	t.Helper()
	const host = "acme.gatehouse.test"
	if !onHost(host, res.location()) {
		t.Errorf("%s: redirected off the host, to %q", what, res.location())
	}
	for _, re := range []*regexp.Regexp{nextFieldRE, continueLinkRE, reauthLinkRE} {
		for _, m := range re.FindAllStringSubmatch(res.body, -1) {
			if v := html.UnescapeString(m[1]); !onHost(host, v) || strings.HasPrefix(v, "//") {
				t.Errorf("%s: the page carries %q", what, v)
			}
		}
	}
}

// TestAttackOpenRedirect: every "next" on every path.
func TestAttackOpenRedirect(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, codes := b.enrollTOTP("acme")
	if len(codes) < len(evilNexts)/5+1 {
		t.Fatalf("%d recovery codes for %d uses", len(codes), len(evilNexts)/5+1)
	}

	for i, next := range evilNexts {
		t.Run(strings.ToValidUTF8(next, "?"), func(t *testing.T) {
			e.clock.Advance(61 * time.Minute) // the address's failed sign-ins are forgotten
			// The sign-in page and form of an account without a second
			// factor.
			wantOnHost(t, "login page", e.browser().get(wsURL("acme", "/login?next="+url.QueryEscape(next))))
			res := e.browser().post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "next": {next}})
			wantOnHost(t, "login", res)
			res = e.browser().post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {"wrong password"}, "next": {next}})
			wantOnHost(t, "failed login page", res)

			// Through the gate: the next stored with the pending login.
			p := e.browser()
			res = p.post(wsURL("acme", "/login"), url.Values{"email": {"client@example.com"}, "password": {goodPassword}, "next": {next}})
			if res.location() != "/login/verify" {
				t.Fatalf("login with TOTP: %d %q", res.StatusCode, res.location())
			}
			if i%5 == 0 { // a recovery code now and then: the page after it links on
				res = p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"recovery"}, "code": {codes[i/5]}})
				wantOnHost(t, "recovery code", res)
				wantOnHost(t, "page after the recovery code", p.get(wsURL("acme", res.location())))
			} else {
				res = p.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
				wantOnHost(t, "verify", res)
			}

			// The Security page's Continue link and the re-verification page.
			wantOnHost(t, "security page", p.get(wsURL("acme", "/account/security?next="+url.QueryEscape(next))))
			wantOnHost(t, "reauth page", p.get(wsURL("acme", "/account/security/reauth?next="+url.QueryEscape(next))))
			res = p.post(wsURL("acme", "/account/security/reauth"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}, "next": {next}})
			wantOnHost(t, "reauth", res)
			res = p.post(wsURL("acme", "/account/security/reauth"), url.Values{"method": {"totp"}, "code": {"000000"}, "next": {next}})
			wantOnHost(t, "failed reauth page", res)
		})
	}

	// A signed-out visit keeps the page asked for, which is on the host.
	res := e.browser().get(wsURL("acme", "/dashboard//evil.example"))
	wantOnHost(t, "signed out", res)
	if loc := res.location(); loc != "" && strings.HasPrefix(loc, "/login?next=") {
		next, _ := url.QueryUnescape(strings.TrimPrefix(loc, "/login?next="))
		back := e.browser().post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "next": {next}})
		wantOnHost(t, "back after signing in", back)
	}
}
