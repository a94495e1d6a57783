package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestBranding(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.workspace("other")
	e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	owner, admin, client := e.browser(), e.browser(), e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	admin.login("acme", "admin@example.com", goodPassword, "/dashboard")
	client.login("acme", "client@example.com", goodPassword, "/portal")
	page := wsURL("acme", "/dashboard/settings/branding")

	wantStatus(t, "owner reads", owner.get(page), http.StatusOK)
	wantStatus(t, "admin reads", admin.get(page), http.StatusOK)
	wantStatus(t, "client reads", client.get(page), http.StatusForbidden)
	good := url.Values{"display_name": {"Acme Clients"}, "accent_color": {"#0B5CAD"}}
	wantStatus(t, "admin posts", admin.post(page, good), http.StatusForbidden)
	wantStatus(t, "client posts", client.post(page, good), http.StatusForbidden)

	// Too light for WCAG AA on white (#ffcc00 is about 1.6:1): refused, kept in the form.
	res := owner.post(page, url.Values{"display_name": {"Acme Clients"}, "accent_color": {"#ffcc00"}})
	wantStatus(t, "light accent", res, http.StatusUnprocessableEntity)
	wantBody(t, "light accent", res, "too light")
	wantStatus(t, "not a colour", owner.post(page, url.Values{"accent_color": {"red; } body { display:none"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "long name", owner.post(page, url.Values{"display_name": {strings.Repeat("n", 61)}}), http.StatusUnprocessableEntity)

	wantStatus(t, "owner saves", owner.post(page, good), http.StatusSeeOther)
	home := client.get(wsURL("acme", "/portal"))
	wantBody(t, "portal header", home, `<a class="brand" href="/">Acme Clients</a>`)
	wantBody(t, "portal stylesheet", home, `href="/brand.css?v=`)
	css := client.get(wsURL("acme", "/brand.css"))
	wantBody(t, "brand.css", css, "--accent: #0b5cad;")
	if ct := css.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("brand.css Content-Type %q", ct)
	}
	// Another workspace keeps the product's look.
	if other := e.browser().get(wsURL("other", "/brand.css")); strings.Contains(other.body, "accent") {
		t.Errorf("other workspace's brand.css = %q", other.body)
	}
	if login := e.browser().get(wsURL("other", "/login")); strings.Contains(login.body, "Acme Clients") || strings.Contains(login.body, "/brand.css") {
		t.Error("another workspace shows acme's brand")
	}
	wantBody(t, "audit", owner.get(wsURL("acme", "/dashboard/audit")), "Branding changed")
	// E-mails carry the display name too.
	wantStatus(t, "invite", owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"new@example.com"}, "role": {"member"}}), http.StatusSeeOther)
	if got := e.mailSubjects("new@example.com"); !strings.Contains(got, "You're invited to Acme Clients") {
		t.Errorf("invitation subject %q lacks the display name", got)
	}
}
