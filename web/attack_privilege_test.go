package web_test

// Attack class: privilege. Each role posts to the routes of the roles
// above it: a client to every staff route (read from routes.go and
// portal.go, so new ones are covered), a member to every owner-and-admin
// route, an admin to the owner's settings and to the owner's account.
// Each is refused with 403 (404 where the answer must not tell the thing
// exists) and nothing changes. TestOwnerSettings and TestAdminReset check
// the same from the allowed side.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// staffRouteRE finds the routes behind staffOnly or managers.
var staffRouteRE = regexp.MustCompile(`ws\.Handle\("(GET|POST) ([^"]+)", s\.(staffOnly|managers)\(`)

// ownerOnly are the staff routes whose handler admits the owner alone.
var ownerOnly = []string{
	"POST /dashboard/settings/security", "POST /dashboard/settings/security/test-sms",
	"POST /dashboard/settings/general", "POST /dashboard/settings/branding",
}

// staffOnlyForClients are the routes behind signedIn whose handlers admit
// staff only (a client gets 403 or 404).
var staffOnlyForClients = []string{"POST /documents/{id}/delete"}

func TestAttackPrivilege(t *testing.T) {
	e := newEnv(t)
	f := newPortalFixture(t, e)
	ctx := context.Background()
	e.setTwilio("acme")
	admin := e.user(f.ws, "admin@example.com", gatehouse.RoleAdmin)
	e.user(f.ws, "member@example.com", gatehouse.RoleMember)
	owner := mustUser(t, e, f.ws, "owner@example.com")
	client := mustUser(t, e, f.ws, "client@example.com")
	staff := portal.Viewer{WorkspaceID: f.ws.ID, UserID: owner.ID, Role: gatehouse.RoleOwner}
	req, err := e.portal.Ask(ctx, staff, f.ws, f.alpha.ID, "Passport", "", "", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ob := e.browser()
	ob.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantStatus(t, "upload", ob.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)), nil, file{"a.pdf", []byte("%PDF-1.4 a")}), http.StatusSeeOther)
	ds, _ := e.store.ListDocuments(ctx, f.ws.ID, f.alpha.ID, 0)
	if len(ds) != 1 {
		t.Fatalf("%d documents", len(ds))
	}
	before := mustWS(t, e, "acme")

	var staffRoutes []guardedRoute
	for _, m := range routes(t, staffRouteRE) {
		staffRoutes = append(staffRoutes, guardedRoute{m[1], m[2], m[3]})
	}
	if len(staffRoutes) < 20 {
		t.Fatalf("found only %d staff routes: has routes.go moved?", len(staffRoutes))
	}
	// IDs that exist and that the caller's role would use.
	path := func(p string) string {
		switch {
		case strings.HasPrefix(p, "/dashboard/users/"):
			return strings.Replace(p, "{id}", fmt.Sprint(owner.ID), 1)
		case strings.HasPrefix(p, "/dashboard/requests/"):
			return strings.Replace(p, "{id}", fmt.Sprint(req.ID), 1)
		case strings.HasPrefix(p, "/documents/"):
			return strings.Replace(p, "{id}", fmt.Sprint(ds[0].ID), 1)
		}
		return strings.Replace(p, "{id}", fmt.Sprint(f.alpha.ID), 1)
	}
	form := url.Values{
		"mfa_mode": {"disabled"}, "methods": {"email"}, "trusted_device_days": {"90"}, "grace_days": {"30"},
		"display_name": {"Pwned"}, "accent_color": {"#000000"}, "signup": {"on"}, "remember_me": {"on"},
		"email": {"spy@example.com"}, "role": {"admin"}, "name": {"Planted"}, "title": {"Planted"}, "body": {"Planted"},
		"reason": {"x"}, "phone": {"+447700900123"},
	}
	call := func(b *browser, method, p string) response {
		if method == "GET" {
			return b.get(wsURL("acme", path(p)))
		}
		return b.post(wsURL("acme", path(p)), form)
	}
	for _, who := range []struct {
		email   string
		refused func(r guardedRoute) bool
		extra   []string // more routes refused to this role
	}{
		{"client@example.com", func(guardedRoute) bool { return true }, staffOnlyForClients},
		{"member@example.com", func(r guardedRoute) bool {
			return r.guard == "managers" || slices.Contains(ownerOnly, r.method+" "+r.path) ||
				r.method+" "+r.path == "POST /dashboard/clients"
		}, nil},
		{"admin@example.com", func(r guardedRoute) bool { return slices.Contains(ownerOnly, r.method+" "+r.path) }, nil},
	} {
		b := e.browser()
		b.login("acme", who.email, goodPassword, map[bool]string{true: "/portal", false: "/dashboard"}[who.email == "client@example.com"])
		for _, r := range staffRoutes {
			if !who.refused(r) {
				continue
			}
			t.Run(who.email+" "+r.method+" "+r.path, func(t *testing.T) {
				res := call(b, r.method, r.path)
				if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound {
					t.Errorf("%d %q, want 403 (or 404)", res.StatusCode, res.location())
				}
			})
		}
		for _, r := range who.extra {
			method, p, _ := strings.Cut(r, " ")
			t.Run(who.email+" "+r, func(t *testing.T) {
				res := call(b, method, p)
				if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound {
					t.Errorf("%d %q, want 403 (or 404)", res.StatusCode, res.location())
				}
			})
		}
	}

	// An admin may manage users, but not the owner.
	ab := e.browser()
	ab.login("acme", "admin@example.com", goodPassword, "/dashboard")
	for _, action := range []string{"reset-2fa", "disable"} {
		res := ab.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/%s", owner.ID, action)), url.Values{"reason": {"x"}})
		wantStatus(t, "admin "+action+"s the owner", res, http.StatusForbidden)
	}
	for _, action := range []string{"reset-2fa", "disable"} {
		res := ab.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/%s", admin.ID, action)), url.Values{"reason": {"x"}})
		wantStatus(t, "admin "+action+"s themselves", res, http.StatusForbidden)
	}
	wantStatus(t, "admin disables a client", ab.post(wsURL("acme", fmt.Sprintf("/dashboard/users/%d/disable", client.ID)), nil), http.StatusSeeOther)

	// Nothing the refused calls asked for happened.
	after := mustWS(t, e, "acme")
	if after.MFA.Mode != before.MFA.Mode || !slices.Equal(after.MFA.Methods, before.MFA.Methods) || after.MFA.TrustedDeviceDays != before.MFA.TrustedDeviceDays ||
		after.MFA.GraceDays != before.MFA.GraceDays || after.SignupEnabled != before.SignupEnabled || after.DisplayName() != before.DisplayName() {
		t.Errorf("workspace settings changed: %+v → %+v", before, after)
	}
	if u := mustUser(t, e, f.ws, "owner@example.com"); u.Disabled {
		t.Error("the owner was disabled")
	}
	if _, err := e.store.FindUserByEmail(ctx, f.ws.ID, "spy@example.com"); err == nil {
		t.Error("someone was invited")
	}
	if n := e.documentCount(f.ws.ID); n != 1 {
		t.Errorf("%d documents, want the 1 uploaded", n)
	}
	cs, _ := e.portal.Clients(ctx, staff)
	for _, c := range cs {
		if strings.Contains(c.Name, "Planted") {
			t.Error("a client was created")
		}
	}
	if rs, _ := e.store.ListRequests(ctx, f.ws.ID, f.alpha.ID); len(rs) != 1 || rs[0].Status != portal.RequestOpen {
		t.Errorf("requests: %+v", rs)
	}
}
