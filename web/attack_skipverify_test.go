package web_test

// Attack class: skipping verify. A session that has passed the password but
// not the second factor (a pending login) tries every other way in: each
// signed-in route by its URL (the list is read from routes.go and portal.go,
// so a new route is covered at once), the JSON API, the "skip" button, an
// old pending cookie after the login finished, and a cookie of another
// workspace.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// guardedRouteRE finds the routes behind a signed-in guard, with the
// guard's name.
var guardedRouteRE = regexp.MustCompile(`ws\.Handle\("(GET|POST) ([^"]+)", s\.(signedIn|staffOnly|managers|sensitive|enrolling|signedInSensitive|apiSignedIn)\(`)

type guardedRoute struct{ method, path, guard string }

func guardedRoutes(t *testing.T) []guardedRoute {
	t.Helper()
	var rs []guardedRoute
	for _, m := range routes(t, guardedRouteRE) {
		p := strings.NewReplacer("{id}", "1", "{method}", "totp").Replace(m[2])
		rs = append(rs, guardedRoute{m[1], p, m[3]})
	}
	if len(rs) < 40 {
		t.Fatalf("found only %d guarded routes: has routes.go moved?", len(rs))
	}
	return rs
}

// TestAttackSkipVerifyByURL: a pending login of a staff user with an
// authenticator app reaches no guarded route: pages send it to the
// challenge, the API answers mfa_required, and nothing is changed.
func TestAttackSkipVerifyByURL(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	b.enrollTOTP("acme")
	owner := mustUser(t, e, ws, "owner@example.com")
	audits := e.auditCount(ws, "")

	p := e.browser()
	p.login("acme", "owner@example.com", goodPassword, "/login/verify")
	for _, r := range guardedRoutes(t) {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			var res response
			form := url.Values{"body": {"planted"}, "name": {"planted"}, "password": {"a brand new passphrase"}, "email": {"spy@example.com"}, "role": {"admin"}}
			if r.method == "GET" {
				res = p.get(wsURL("acme", r.path))
			} else {
				res = p.post(wsURL("acme", r.path), form)
			}
			if r.guard == "apiSignedIn" {
				wantStatus(t, "api", res, http.StatusUnauthorized)
				if strings.TrimSpace(res.body) != `{"error":"mfa_required"}` {
					t.Fatalf("api = %s", res.body)
				}
				return
			}
			if res.StatusCode != http.StatusSeeOther || res.location() != "/login/verify" {
				t.Fatalf("pending login: %d %q, want 303 to /login/verify\n%s", res.StatusCode, res.location(), res.body)
			}
		})
	}
	// The "remind me later" button is for a grace period only.
	wantStatus(t, "skip", p.post(wsURL("acme", "/login/verify/skip"), nil), http.StatusForbidden)
	wantGate(t, p, "acme", "/login/verify")
	if u := mustUser(t, e, ws, "owner@example.com"); u.PasswordHash != owner.PasswordHash {
		t.Error("the pending login changed the password")
	}
	if _, err := e.store.FindUserByEmail(context.Background(), ws.ID, "spy@example.com"); err == nil {
		t.Error("the pending login invited someone")
	}
	if n := e.auditCount(ws, ""); n > audits+1 { // the password sign-in itself
		t.Errorf("%d audit events from the pending login, want at most 1", n-audits)
	}
}

// TestAttackSkipVerifyOldCookies: the pending cookie of a login that has
// since passed the gate is worthless (the session id rotated), so is the
// cookie of a pending login that timed out, and a cookie made on another
// workspace's host, pending or signed in, is no session here.
func TestAttackSkipVerifyOldCookies(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.workspace("beta")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.setMFA("beta", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	secret, _ := b.enrollTOTP("acme")

	with := func(slug, path, token string) response {
		req, _ := http.NewRequest("GET", wsURL(slug, path), nil)
		req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: token})
		return e.browser().do(req)
	}
	wantSignedOut := func(what string, res response) {
		t.Helper()
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/login?") && res.location() != "/login" {
			t.Fatalf("%s: %d %q, want 303 to /login", what, res.StatusCode, res.location())
		}
	}

	// A login passes the gate; its pending cookie was saved by an attacker.
	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	pending := b.cookie("acme")
	res := b.post(wsURL("acme", "/login/verify"), url.Values{"method": {"totp"}, "code": {e.totpCode(secret)}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("verify: %d %q", res.StatusCode, res.location())
	}
	acmeSignedIn := b.cookie("acme")
	wantSignedOut("old pending cookie on the portal", with("acme", "/portal", pending))
	wantSignedOut("old pending cookie on the challenge", with("acme", "/login/verify", pending))
	if res := with("acme", "/api/v1/me", pending); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "unauthenticated") {
		t.Fatalf("old pending cookie on the API: %d %s", res.StatusCode, res.body)
	}

	// A pending login left alone for more than 10 minutes is gone.
	b = e.browser()
	b.login("acme", "client@example.com", goodPassword, "/login/verify")
	stale := b.cookie("acme")
	e.clock.Advance(10*time.Minute + time.Second)
	wantSignedOut("timed-out pending cookie", with("acme", "/login/verify", stale))

	// Beta's cookies, pending or signed in, are nothing on acme.
	bb := e.browser()
	bb.login("beta", "client@example.com", goodPassword, "/portal")
	betaSignedIn := bb.cookie("beta")
	bb.enrollTOTP("beta")
	bp := e.browser()
	bp.login("beta", "client@example.com", goodPassword, "/login/verify")
	for name, token := range map[string]string{"signed-in": betaSignedIn, "pending": bp.cookie("beta")} {
		wantSignedOut("beta's "+name+" cookie on acme's portal", with("acme", "/portal", token))
		wantSignedOut("beta's "+name+" cookie on acme's challenge", with("acme", "/login/verify", token))
		if res := with("acme", "/api/v1/me", token); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("beta's %s cookie on acme's API: %d", name, res.StatusCode)
		}
	}
	// And acme's signed-in cookie is nothing on beta.
	wantSignedOut("acme's cookie on beta", with("beta", "/portal", acmeSignedIn))
	if res := with("acme", "/portal", acmeSignedIn); res.StatusCode != http.StatusOK {
		t.Fatalf("acme's cookie on acme: %d", res.StatusCode)
	}
}
