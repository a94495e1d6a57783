package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// TestNavOffersOnlyWhatOneMayOpen: a member's header and dashboard carry
// no link to the users list, which answers them 403; the owner's do.
func TestNavOffersOnlyWhatOneMayOpen(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.user(ws, "member@example.com", gatehouse.RoleMember)
	member, owner := e.browser(), e.browser()
	member.login("acme", "member@example.com", goodPassword, "/dashboard")
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantStatus(t, "member on users", member.get(wsURL("acme", "/dashboard/users")), http.StatusForbidden)
	for _, p := range []string{"/dashboard", "/dashboard/clients", "/account/security"} {
		if res := member.get(wsURL("acme", p)); strings.Contains(res.body, `href="/dashboard/users"`) {
			t.Errorf("member's %s links to the users list", p)
		}
	}
	wantBody(t, "owner's dashboard", owner.get(wsURL("acme", "/dashboard")), `<a href="/dashboard/users">Users</a>`)
}
