package web_test

// Attack class: cross-site form posts (CSRF). A signed-in owner's browser is
// made to post, from another site or from another workspace's host (a
// sibling subdomain, same-site but not same-origin), to every POST route
// (read from routes.go and portal.go, so new ones are covered): each is
// refused with 403 before any handler runs, and the session and the data
// are as they were.

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

var postRouteRE = regexp.MustCompile(`ws\.Handle(?:Func)?\("POST ([^"]+)"`)

func TestAttackCrossSitePosts(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	audits := e.auditCount(f.ws, "")

	var paths []string
	for _, m := range routes(t, postRouteRE) {
		paths = append(paths, strings.NewReplacer("{id}", fmt.Sprint(f.alpha.ID), "{method}", "totp", "{token}", "x").Replace(m[1]))
	}
	if len(paths) < 40 {
		t.Fatalf("found only %d POST routes: has routes.go moved?", len(paths))
	}
	form := url.Values{"email": {"spy@example.com"}, "role": {"admin"}, "body": {"planted"}, "name": {"Planted"}, "title": {"planted"},
		"password": {"a brand new passphrase"}, "mfa_mode": {"disabled"}, "methods": {"email"}}
	for _, origin := range []struct{ name, site, origin string }{
		{"cross-site", "cross-site", "http://evil.example"},
		{"origin only", "", "http://evil.example"},
		{"sibling workspace", "same-site", "http://other.gatehouse.test"},
		{"sibling workspace, origin only", "", "http://other.gatehouse.test"},
	} {
		for _, p := range paths {
			t.Run(origin.name+" "+p, func(t *testing.T) {
				req, _ := http.NewRequest("POST", wsURL("acme", p), strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if origin.site != "" {
					req.Header.Set("Sec-Fetch-Site", origin.site)
				}
				req.Header.Set("Origin", origin.origin)
				res := b.do(req)
				wantStatus(t, "cross-site post", res, http.StatusForbidden)
				if !strings.Contains(res.body, "sent from another site") && !strings.Contains(res.body, `"forbidden"`) {
					t.Errorf("refused by something else than the cross-site guard:\n%s", res.body)
				}
			})
		}
	}
	// An upload too.
	ct, body := multipartBody(t, url.Values{"title": {"planted"}}, file{"x.pdf", []byte("%PDF-1.4 x")})
	req, _ := http.NewRequest("POST", wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)), strings.NewReader(string(body)))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-site upload", b.do(req), http.StatusForbidden)

	// The session lives (logout was among the posts), nothing was written.
	wantStatus(t, "dashboard", b.get(wsURL("acme", "/dashboard")), http.StatusOK)
	if n := e.auditCount(f.ws, ""); n != audits {
		t.Errorf("%d audit events from refused posts", n-audits)
	}
	if n := e.documentCount(f.ws.ID); n != 0 {
		t.Errorf("%d documents from refused posts", n)
	}
	if ws := mustWS(t, e, "acme"); ws.MFA.Mode != gatehouse.MFAOptional {
		t.Errorf("mode changed to %s", ws.MFA.Mode)
	}
	// The same form from the page itself passes.
	req, _ = http.NewRequest("POST", wsURL("acme", "/dashboard/clients"), strings.NewReader("name=Fine"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", "http://acme.gatehouse.test")
	wantStatus(t, "same-origin post", b.do(req), http.StatusSeeOther)
}
