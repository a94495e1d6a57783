package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// TestNameAndEmailLimits: a name over 100 characters or an address over
// 254 is refused at input with a form error naming the limit, on every
// form that takes one, and nothing is stored or sent.
func TestNameAndEmailLimits(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	on := true
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	longName := strings.Repeat("é", 101) // 101 characters, 202 bytes
	okName := strings.Repeat("é", 100)
	longEmail := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".com" // 255 bytes

	b := e.browser()
	res := b.post(wsURL("acme", "/signup"), url.Values{"name": {longName}, "email": {"s@example.com"}, "password": {goodPassword}})
	wantStatus(t, "signup, long name", res, http.StatusUnprocessableEntity)
	wantBody(t, "signup, long name", res, "A name can be at most 100 characters")
	res = b.post(wsURL("acme", "/signup"), url.Values{"name": {"S"}, "email": {longEmail}, "password": {goodPassword}})
	wantStatus(t, "signup, long e-mail", res, http.StatusUnprocessableEntity)
	wantBody(t, "signup, long e-mail", res, "An e-mail address can be at most 254 characters")
	wantBody(t, "signup form", b.get(wsURL("acme", "/signup")), `maxlength="100"`)

	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	res = owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {longEmail}, "role": {"member"}})
	wantStatus(t, "invite, long e-mail", res, http.StatusUnprocessableEntity)
	wantBody(t, "invite, long e-mail", res, "An e-mail address can be at most 254 characters")
	wantBody(t, "invite form", res, `maxlength="254"`)

	res = owner.post(wsURL("acme", "/dashboard/users/invite"), url.Values{"email": {"new@example.com"}, "role": {"member"}})
	wantStatus(t, "invite", res, http.StatusSeeOther)
	link := e.lastLink("new@example.com")
	res = b.post(wsURL("acme", link), url.Values{"name": {longName}, "password": {goodPassword}})
	wantStatus(t, "accept, long name", res, http.StatusUnprocessableEntity)
	wantBody(t, "accept, long name", res, "A name can be at most 100 characters")
	// The refusal kept the link: a name of exactly 100 characters is taken.
	res = b.post(wsURL("acme", link), url.Values{"name": {okName}, "password": {goodPassword}})
	wantStatus(t, "accept", res, http.StatusSeeOther)
	u, err := e.store.FindUserByEmail(context.Background(), ws.ID, "new@example.com")
	if err != nil || u.Name != okName {
		t.Fatalf("stored name %q, %v", u.Name, err)
	}
}
