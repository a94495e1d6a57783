package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
)

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	b := e.browser()

	res := b.get(wsURL("acme", "/login"))
	wantStatus(t, "login page", res, http.StatusOK)
	wantBody(t, "login page", res, `name="remember_me"`)

	res = b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {"wrong password!"}})
	wantStatus(t, "wrong password", res, http.StatusUnauthorized)
	wantBody(t, "wrong password", res, "That e-mail and password do not match")

	res = b.login("acme", " Owner@Example.com ", goodPassword, "/dashboard")
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "gatehouse_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Domain != "" || session.Secure ||
		session.MaxAge != 0 || len(session.Value) != 43 {
		t.Fatalf("session cookie = %+v, want host-only HttpOnly SameSite=Lax browser-session cookie with a 256-bit token", session)
	}

	wantStatus(t, "dashboard", b.get(wsURL("acme", "/dashboard")), http.StatusOK)
	res = b.get(wsURL("acme", "/api/v1/me"))
	wantStatus(t, "me", res, http.StatusOK)
	var me struct {
		User      struct{ Email string }
		Role      string
		Workspace struct{ Slug, Plan string }
	}
	if err := json.Unmarshal([]byte(res.body), &me); err != nil {
		t.Fatal(err)
	}
	if me.User.Email != "owner@example.com" || me.Role != "owner" || me.Workspace.Slug != "acme" || me.Workspace.Plan != "pro" {
		t.Fatalf("me = %+v", me)
	}

	res = b.post(wsURL("acme", "/logout"), nil)
	if res.StatusCode != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("logout: %d %q", res.StatusCode, res.location())
	}
	res = b.get(wsURL("acme", "/dashboard/users?x=1"))
	if res.StatusCode != http.StatusSeeOther || res.location() != "/login?next=%2Fdashboard%2Fusers%3Fx%3D1" {
		t.Fatalf("dashboard after logout: %d %q", res.StatusCode, res.location())
	}
	res = b.get(wsURL("acme", "/api/v1/me"))
	wantStatus(t, "me after logout", res, http.StatusUnauthorized)
	if strings.TrimSpace(res.body) != `{"error":"unauthenticated"}` {
		t.Fatalf("me after logout = %s", res.body)
	}
}

// TestSessionRotation: every sign-in gets a new session id and the old one
// stops working, so a planted cookie is useless.
func TestSessionRotation(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	first := b.cookie("acme")
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	second := b.cookie("acme")
	if first == "" || first == second {
		t.Fatalf("session id not rotated: %q then %q", first, second)
	}
	if _, err := e.accounts.Visit(context.Background(), 1, first); err != account.ErrNoSession {
		t.Fatalf("old session still valid: %v", err)
	}
}

func TestRememberMe(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	b := e.browser()
	res := b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "remember_me": {"on"}})
	wantStatus(t, "login", res, http.StatusSeeOther)
	for _, c := range res.Cookies() {
		if c.Name == "gatehouse_session" {
			if c.MaxAge < 29*24*3600 || c.MaxAge > 30*24*3600 {
				t.Fatalf("remember-me cookie Max-Age %d, want about 30 days", c.MaxAge)
			}
			return
		}
	}
	t.Fatal("no session cookie")
}

func TestRolesAndRedirects(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	wantStatus(t, "client portal", client.get(wsURL("acme", "/portal")), http.StatusOK)
	wantStatus(t, "client on dashboard", client.get(wsURL("acme", "/dashboard")), http.StatusForbidden)
	wantStatus(t, "client invites", client.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"x@example.com"}, "role": {"admin"}}), http.StatusForbidden)

	tests := []struct {
		name, next, want string
	}{
		{"local page", "/dashboard/users", "/dashboard/users"},
		{"scheme-relative", "//evil.example/x", "/dashboard"},
		{"absolute", "http://evil.example/", "/dashboard"},
		{"backslash", "/\\evil.example", "/dashboard"},
		{"relative", "evil", "/dashboard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser()
			res := b.post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {goodPassword}, "next": {tt.next}})
			if res.location() != tt.want {
				t.Fatalf("next %q: went to %q, want %q", tt.next, res.location(), tt.want)
			}
		})
	}
	// A client is never sent on to the dashboard, whatever next says.
	b := e.browser()
	res := b.post(wsURL("acme", "/login"), url.Values{"email": {"client@example.com"}, "password": {goodPassword}, "next": {"/dashboard"}})
	if res.location() != "/portal" {
		t.Fatalf("client with next=/dashboard went to %q", res.location())
	}
}

func TestTenancy(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.workspace("beta")
	b := e.browser()

	wantStatus(t, "unknown workspace", b.get(wsURL("nope", "/login")), http.StatusNotFound)
	wantStatus(t, "foreign host", b.get("http://other.example/login"), http.StatusNotFound)
	res := b.get(baseURL + "/")
	wantStatus(t, "landing", res, http.StatusOK)
	wantBody(t, "landing", res, "Gatehouse")
	wantStatus(t, "health", b.get(wsURL("acme", "/healthz")), http.StatusOK)
	// Load balancers probe by address: /healthz answers on any Host.
	for _, host := range []string{"http://127.0.0.1:8080", "http://[::1]", "http://nope.gatehouse.test", baseURL} {
		res := b.get(host + "/healthz")
		wantStatus(t, "health on "+host, res, http.StatusOK)
		wantBody(t, "health on "+host, res, "ok")
	}

	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	// The cookie is host-only: the jar does not send it to beta, and even
	// when a client does, beta does not know the session.
	if res := b.get(wsURL("beta", "/dashboard")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("acme's session opened beta's dashboard: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", wsURL("beta", "/api/v1/me"), nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: b.cookie("acme")})
	wantStatus(t, "acme token on beta", e.browser().do(req), http.StatusUnauthorized)
	// The same e-mail in beta is a separate account with its own password.
	b.login("beta", "owner@example.com", goodPassword, "/dashboard")
	if b.cookie("acme") == b.cookie("beta") {
		t.Fatal("two workspaces share a session")
	}
}

func TestInvitation(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res := owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"New@Example.com"}, "role": {"member"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d\n%s", res.StatusCode, res.body)
	}
	res = owner.get(wsURL("acme", res.location()))
	wantBody(t, "users", res, "Invitation sent to new@example.com")
	wantBody(t, "users", res, `data-label="State">Invited</td>`)
	wantStatus(t, "invite an owner", owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"x@example.com"}, "role": {"owner"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "invite a member again", owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"client@example.com"}, "role": {"member"}}), http.StatusUnprocessableEntity)

	link := e.lastLink("new@example.com")
	b := e.browser()
	// An invited user cannot sign in before accepting.
	wantStatus(t, "login before accepting", b.post(wsURL("acme", "/login"), url.Values{"email": {"new@example.com"}, "password": {""}}), http.StatusUnauthorized)
	res = b.get(wsURL("acme", link))
	wantStatus(t, "invite page", res, http.StatusOK)
	wantBody(t, "invite page", res, "new@example.com")
	// A refused password keeps the link usable.
	res = b.post(wsURL("acme", link), url.Values{"name": {"Nia"}, "password": {"password1"}})
	wantStatus(t, "common password", res, http.StatusUnprocessableEntity)
	wantBody(t, "common password", res, "too common")
	res = b.post(wsURL("acme", link), url.Values{"name": {"Nia"}, "password": {goodPassword}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/dashboard" {
		t.Fatalf("accept: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	wantStatus(t, "dashboard after accepting", b.get(wsURL("acme", "/dashboard")), http.StatusOK)
	wantStatus(t, "link used twice", e.browser().post(wsURL("acme", link), url.Values{"name": {"X"}, "password": {goodPassword}}), http.StatusNotFound)
	wantStatus(t, "used link page", e.browser().get(wsURL("acme", link)), http.StatusNotFound)
}

func TestPasswordReset(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	other := e.browser()
	other.login("acme", "client@example.com", goodPassword, "/portal")

	b := e.browser()
	wantStatus(t, "forgot page", b.get(wsURL("acme", "/password/forgot")), http.StatusOK)
	known := b.post(wsURL("acme", "/password/forgot"), url.Values{"email": {"client@example.com"}})
	unknown := b.post(wsURL("acme", "/password/forgot"), url.Values{"email": {"nobody@example.com"}})
	if known.StatusCode != http.StatusSeeOther || known.location() != unknown.location() || known.body != unknown.body {
		t.Fatalf("forgot answers differ for known and unknown e-mails: %d %q / %d %q", known.StatusCode, known.location(), unknown.StatusCode, unknown.location())
	}
	wantBody(t, "forgot sent", b.get(wsURL("acme", known.location())), "Check your inbox")
	if e.mailCount("nobody@example.com") != 0 {
		t.Fatal("mail sent to an unknown address")
	}
	link := e.lastLink("client@example.com")
	wantBody(t, "reset page", b.get(wsURL("acme", link)), "client@example.com")
	wantStatus(t, "short password", b.post(wsURL("acme", link), url.Values{"password": {"short"}}), http.StatusUnprocessableEntity)
	res := b.post(wsURL("acme", link), url.Values{"password": {"a brand new passphrase"}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("reset: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	// The reset ended the other browser's session.
	if res := other.get(wsURL("acme", "/portal")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("old session survived the reset: %d", res.StatusCode)
	}
	wantStatus(t, "old password", e.browser().post(wsURL("acme", "/login"), url.Values{"email": {"client@example.com"}, "password": {goodPassword}}), http.StatusUnauthorized)
	e.browser().login("acme", "client@example.com", "a brand new passphrase", "/portal")

	// A reset link lasts one hour.
	if err := e.accounts.RequestReset(context.Background(), mustWS(t, e, "acme"), "client@example.com"); err != nil {
		t.Fatal(err)
	}
	link = e.lastLink("client@example.com")
	e.clock.Advance(time.Hour)
	wantStatus(t, "expired link", e.browser().get(wsURL("acme", link)), http.StatusNotFound)

	// One client address may use the mail-sending forms 10 times an hour,
	// whatever the address typed in. (A minute more, and the two uses above
	// are over an hour old.)
	e.clock.Advance(time.Minute)
	for i := range 10 {
		wantStatus(t, fmt.Sprintf("forgot %d", i+1), b.post(wsURL("acme", "/password/forgot"), url.Values{"email": {"x@example.com"}}), http.StatusSeeOther)
	}
	wantStatus(t, "forgot 11", b.post(wsURL("acme", "/password/forgot"), url.Values{"email": {"client@example.com"}}), http.StatusTooManyRequests)
	wantStatus(t, "signup past the limit", b.post(wsURL("acme", "/signup"), url.Values{"name": {"S"}, "email": {"s@example.com"}, "password": {goodPassword}}), http.StatusTooManyRequests)
	e.clock.Advance(time.Hour)
	wantStatus(t, "forgot an hour later", b.post(wsURL("acme", "/password/forgot"), url.Values{"email": {"client@example.com"}}), http.StatusSeeOther)
}

func mustWS(tb testing.TB, e *env, slug string) *gatehouse.Workspace {
	tb.Helper()
	ws, err := e.store.FindWorkspaceBySlug(context.Background(), slug)
	if err != nil {
		tb.Fatal(err)
	}
	return ws
}

func TestSignup(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	b := e.browser()
	wantStatus(t, "signup off", b.get(wsURL("acme", "/signup")), http.StatusNotFound)
	wantStatus(t, "signup post off", b.post(wsURL("acme", "/signup"), url.Values{"name": {"S"}, "email": {"s@example.com"}, "password": {goodPassword}}), http.StatusNotFound)

	on := true
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "signup page", b.get(wsURL("acme", "/signup")), http.StatusOK)
	wantStatus(t, "bad e-mail", b.post(wsURL("acme", "/signup"), url.Values{"name": {"S"}, "email": {"not-an-email"}, "password": {goodPassword}}), http.StatusUnprocessableEntity)
	wantStatus(t, "workspace name as password", b.post(wsURL("acme", "/signup"), url.Values{"name": {"S"}, "email": {"s@example.com"}, "password": {"WS-Acme-2026!!"}}), http.StatusUnprocessableEntity)

	fresh := b.post(wsURL("acme", "/signup"), url.Values{"name": {"Sam"}, "email": {"sam@example.com"}, "password": {goodPassword}})
	member := b.post(wsURL("acme", "/signup"), url.Values{"name": {"Sam"}, "email": {"client@example.com"}, "password": {goodPassword}})
	wantStatus(t, "signup", fresh, http.StatusSeeOther)
	if fresh.location() != member.location() || fresh.body != member.body {
		t.Fatalf("sign-up tells members apart: %q / %q", fresh.location(), member.location())
	}
	wantBody(t, "signup sent", b.get(wsURL("acme", fresh.location())), "Check your inbox")
	// Not usable before the mailbox is proven.
	wantStatus(t, "login before confirming", b.post(wsURL("acme", "/login"), url.Values{"email": {"sam@example.com"}, "password": {goodPassword}}), http.StatusUnauthorized)
	link := e.lastLink("sam@example.com")
	wantStatus(t, "confirm page", b.get(wsURL("acme", link)), http.StatusOK)
	wantStatus(t, "confirm page again (GET does not spend it)", b.get(wsURL("acme", link)), http.StatusOK)
	res := b.post(wsURL("acme", link), url.Values{"password": {"not what I chose"}})
	wantStatus(t, "confirm with another password", res, http.StatusUnprocessableEntity)
	wantBody(t, "confirm with another password", res, "not the password you chose")
	res = b.post(wsURL("acme", link), url.Values{"password": {goodPassword}})
	if res.StatusCode != http.StatusSeeOther || res.location() != "/portal" {
		t.Fatalf("confirm: %d %q\n%s", res.StatusCode, res.location(), res.body)
	}
	wantStatus(t, "portal", b.get(wsURL("acme", "/portal")), http.StatusOK)
	e.browser().login("acme", "sam@example.com", goodPassword, "/portal")
}

func TestHardening(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	b := e.browser()

	res := b.get(wsURL("acme", "/login"))
	for header, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff",
	} {
		if got := res.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if strings.Contains(res.body, "<script>") || strings.Contains(res.body, "style=") {
		t.Error("page has inline script or style")
	}

	big := url.Values{"email": {strings.Repeat("a", 2<<20)}, "password": {"x"}}
	wantStatus(t, "oversized body", b.post(wsURL("acme", "/login"), big), http.StatusRequestEntityTooLarge)

	req, _ := http.NewRequest("POST", wsURL("acme", "/login"), strings.NewReader("email=%zz&password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res = b.do(req)
	wantStatus(t, "malformed form", res, http.StatusBadRequest)
	if strings.Contains(res.body, "goroutine") || strings.Contains(res.body, ".go:") {
		t.Fatal("error page leaks internals")
	}

	req, _ = http.NewRequest("POST", wsURL("acme", "/login"), strings.NewReader("email=owner%40example.com&password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-origin post", b.do(req), http.StatusForbidden)
	req, _ = http.NewRequest("POST", wsURL("acme", "/logout"), nil)
	req.Header.Set("Origin", "http://evil.example")
	wantStatus(t, "cross-origin logout", b.do(req), http.StatusForbidden)

	for _, bad := range []string{"garbage", strings.Repeat("x", 5000), "%%%"} {
		req, _ = http.NewRequest("GET", wsURL("acme", "/login"), nil)
		req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: bad})
		wantStatus(t, "bad cookie "+bad[:3], b.do(req), http.StatusOK)
	}
	wantStatus(t, "unknown page", b.get(wsURL("acme", "/nope")), http.StatusNotFound)
	res = b.get(wsURL("acme", "/api/v1/nope"))
	wantStatus(t, "unknown api without session", res, http.StatusUnauthorized)

	// Static files are fingerprinted and cacheable.
	res = b.get(wsURL("acme", "/login"))
	i := strings.Index(res.body, "/static/style.")
	if i < 0 {
		t.Fatal("no stylesheet link")
	}
	css := res.body[i : i+strings.Index(res.body[i:], `"`)]
	res = b.get(wsURL("acme", css))
	wantStatus(t, "stylesheet", res, http.StatusOK)
	if !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("stylesheet Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	wantStatus(t, "unfingerprinted static", b.get(wsURL("acme", "/static/style.css")), http.StatusNotFound)
}

func TestDevOutbox(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	if err := e.accounts.RequestReset(context.Background(), ws, "client@example.com"); err != nil {
		t.Fatal(err)
	}
	e.deliver() // the reset job runs and queues the mail
	res := e.browser().get(baseURL + "/_dev/outbox")
	wantStatus(t, "outbox", res, http.StatusOK)
	wantBody(t, "outbox", res, "Reset your WS acme password")
	if strings.Contains(res.body, "account.reset") {
		t.Errorf("the dev outbox lists the reset job, which is not mail:\n%s", res.body)
	}
	wantStatus(t, "outbox on a workspace host", e.browser().get(wsURL("acme", "/_dev/outbox")), http.StatusNotFound)

	// Each e-mail links to its HTML part, in the workspace's branding, with
	// the same link as the text, under a CSP that loads nothing.
	logo := &gatehouse.Logo{ID: "0a1b2c3d4e5f6a7b", PNG: logoPNG(t, 40, 20), UpdatedAt: e.clock.Now()}
	if _, err := e.store.SetBrand(context.Background(), ws.ID, gatehouse.Brand{DisplayName: "Acme <Tax>", Accent: "#0b5cad"}, logo, e.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	href := regexp.MustCompile(`href="(/_dev/outbox/[0-9]+)"`).FindStringSubmatch(res.body)
	if href == nil {
		t.Fatalf("the outbox does not link to the HTML e-mail:\n%s", res.body)
	}
	link := regexp.MustCompile(`http://acme\.gatehouse\.test/password/reset/[A-Za-z0-9_-]+`).FindString(res.body)
	html := e.browser().get(baseURL + href[1])
	wantStatus(t, "HTML e-mail", html, http.StatusOK)
	if csp := html.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none';") || !strings.Contains(csp, "form-action 'none'") || strings.Contains(csp, "script") {
		t.Errorf("HTML e-mail CSP %q", csp)
	}
	wantBody(t, "HTML e-mail", html, "Acme &lt;Tax&gt;")
	wantBody(t, "HTML e-mail", html, "#0b5cad")
	wantBody(t, "HTML e-mail", html, `src="data:image/png;base64,`+base64.StdEncoding.EncodeToString(logo.PNG)+`"`)
	if link == "" || !strings.Contains(html.body, `href="`+link+`"`) {
		t.Errorf("HTML e-mail lacks the text's link %q:\n%s", link, html.body)
	}
	wantStatus(t, "HTML of no message", e.browser().get(baseURL+"/_dev/outbox/999999"), http.StatusNotFound)
	ms, err := e.store.ListMessages(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Channel != "email" {
			wantStatus(t, "HTML of a "+m.Channel, e.browser().get(fmt.Sprintf("%s/_dev/outbox/%d", baseURL, m.ID)), http.StatusNotFound)
		}
	}
	wantStatus(t, "HTML e-mail on a workspace host", e.browser().get(wsURL("acme", href[1])), http.StatusNotFound)
}

// TestLongUserAgent: a user agent cut to its stored length at a character
// boundary (here a two-byte "é" across the cut, and an invalid byte) signs
// in, trusts the device and lists it, on both stores: PostgreSQL refuses
// text with a split character.
func TestLongUserAgent(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, be)
			e.workspace("acme")
			e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
			b := e.browser()
			b.userAgent = strings.Repeat("a", 255) + "é" + strings.Repeat("\xff", 3) + "Firefox/128.0"
			b.login("acme", "client@example.com", goodPassword, "/portal")
			secret, _ := b.enrollTOTP("acme")
			b = e.browser()
			b.userAgent = "Mozilla/5.0 " + strings.Repeat("€", 100)
			b.login("acme", "client@example.com", goodPassword, "/login/verify")
			b.verifyRemembering("acme", secret)
			wantStatus(t, "security page", b.get(wsURL("acme", "/account/security")), http.StatusOK)
		})
	}
}

// TestMailFormJobsSurviveRestart: the work /password/forgot and /signup
// leave for after their answer is in the database, not in the process that
// answered: the answering instance stops before its worker runs, and another
// instance on the same database sends the mail.
func TestMailFormJobsSurviveRestart(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvOn(t, be)
			ws := e.workspace("acme")
			on := true
			if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			wantStatus(t, "forgot", b.post(wsURL("acme", "/password/forgot"), url.Values{"email": {"client@example.com"}}), http.StatusSeeOther)
			wantStatus(t, "signup", b.post(wsURL("acme", "/signup"), url.Values{"name": {"New"}, "email": {"new@example.com"}, "password": {goodPassword}}), http.StatusSeeOther)
			next := e.instance()
			e.srv.Close() // the first process is gone, its worker never ran
			if !strings.Contains(next.lastLink("client@example.com"), "/password/reset/") || !strings.Contains(next.lastLink("new@example.com"), "/signup/confirm/") {
				t.Fatal("the links were not mailed")
			}
		})
	}
}

// TestMailFormLimitAcrossInstances: 40 posts at once of the mail-sending
// forms (password reset and sign-up) from one address, over two instances
// on one database, pass exactly the hourly limit of 10.
func TestMailFormLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, be)
			instances := []*env{e, e.instance()}
			ws := e.workspace("acme")
			on := true
			if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			const n = 40
			answers := make([]response, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				b := instances[i%2].browser()
				form, path := url.Values{"email": {fmt.Sprintf("x%d@example.com", i)}}, "/password/forgot"
				if i%4 >= 2 {
					form.Set("name", "S")
					form.Set("password", goodPassword)
					path = "/signup"
				}
				wg.Go(func() {
					<-start
					answers[i] = b.post(wsURL("acme", path), form)
				})
			}
			close(start)
			wg.Wait()
			passed := 0
			for i, res := range answers {
				switch res.StatusCode {
				case http.StatusSeeOther:
					passed++
				case http.StatusTooManyRequests:
				default:
					t.Errorf("post %d: %d\n%s", i, res.StatusCode, res.body)
				}
			}
			if passed != 10 {
				t.Errorf("%d of %d posts passed, want 10", passed, n)
			}
		})
	}
}

// TestInvalidUTF8Name: a name with bytes that are not UTF-8 (a form can
// carry any) is stored cleaned, on both stores, never a server error.
func TestInvalidUTF8Name(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, be)
			ws := e.workspace("acme")
			on := true
			if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			res := e.browser().post(wsURL("acme", "/signup"), url.Values{"name": {"Zo\xff\xfeë " + strings.Repeat("é", 94)}, "email": {"zoe@example.com"}, "password": {goodPassword}})
			wantStatus(t, "signup", res, http.StatusSeeOther)
			link := e.lastLink("zoe@example.com")
			wantStatus(t, "confirm", e.browser().post(wsURL("acme", link), url.Values{"password": {goodPassword}}), http.StatusSeeOther)
			u, err := e.store.FindUserByEmail(context.Background(), ws.ID, "zoe@example.com")
			if err != nil || !utf8.ValidString(u.Name) || !strings.HasPrefix(u.Name, "Zoë ") || len(u.Name) > 200 {
				t.Fatalf("user = %+v, %v; want a clean name of at most 200 bytes", u, err)
			}
		})
	}
}
