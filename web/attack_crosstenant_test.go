package web_test

// Attack class: cross-tenant and cross-client IDs. Every route that takes an
// ID or a token in its path (or an ID in a form field) is called with the ID
// of an object outside the caller's reach: another workspace's, another
// client's, another user's. Each answers exactly as for an ID that does not
// exist, and nothing changes. TestAttackRoutesWithIDsCovered keeps the table
// complete: a new route with {id} or {token} that is not in it fails.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// idAttack is one call with a foreign ID: who calls, on which workspace's
// host, and the status it must get.
type idAttack struct {
	route  string // the pattern of routes.go it exercises
	who    *browser
	slug   string
	method string
	path   string
	form   url.Values
	want   int
}

// crossTenantFixture is the portal fixture with something behind every
// kind of ID: a document, a request and a message of client Alpha, the
// Alpha user's trusted device and passkey, and unused invitation, reset and
// sign-up links of workspace acme.
type crossTenantFixture struct {
	*portalFixture
	alphaUser        *gatehouse.User
	doc, req         int64
	device, passkey  int64
	invite, reset    string
	signup           string
	alphaSecret      string
	documentsOfAlpha int
}

func newCrossTenantFixture(t *testing.T, e *env) *crossTenantFixture {
	t.Helper()
	ctx := context.Background()
	f := &crossTenantFixture{portalFixture: newPortalFixture(t, e)}
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.enableSignup(f.ws)
	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	wantStatus(t, "upload", owner.upload(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/documents", f.alpha.ID)),
		url.Values{"title": {"Alpha contract"}}, file{"contract.pdf", []byte("%PDF-1.4 alpha")}), http.StatusSeeOther)
	wantStatus(t, "ask", owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/requests", f.alpha.ID)),
		url.Values{"title": {"Alpha passport"}}), http.StatusSeeOther)
	wantStatus(t, "message", owner.post(wsURL("acme", fmt.Sprintf("/dashboard/clients/%d/messages", f.alpha.ID)),
		url.Values{"body": {"Alpha private note"}}), http.StatusSeeOther)
	ds, err := e.store.ListDocuments(ctx, f.ws.ID, f.alpha.ID, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("alpha's documents: %v, %v", ds, err)
	}
	f.doc, f.documentsOfAlpha = ds[0].ID, len(ds)
	rs, err := e.store.ListRequests(ctx, f.ws.ID, f.alpha.ID)
	if err != nil || len(rs) != 1 {
		t.Fatalf("alpha's requests: %v, %v", rs, err)
	}
	f.req = rs[0].ID

	// The Alpha user: a passkey, an authenticator app, a trusted device.
	alpha := e.browser()
	alpha.login("acme", "client@example.com", goodPassword, "/portal")
	f.alphaSecret, _ = alpha.enrollTOTP("acme")
	if res := alpha.addPasskey("acme", "Laptop", newAuthenticator(t)); res.StatusCode >= 400 {
		t.Fatalf("add passkey: %d\n%s", res.StatusCode, res.body)
	}
	alpha = e.browser()
	alpha.login("acme", "client@example.com", goodPassword, "/login/verify")
	alpha.verifyRemembering("acme", f.alphaSecret)
	f.alphaUser = mustUser(t, e, f.ws, "client@example.com")
	devs, err := e.store.ListDevices(ctx, f.ws.ID, f.alphaUser.ID, e.clock.Now())
	if err != nil || len(devs) != 1 {
		t.Fatalf("alpha's devices: %v, %v", devs, err)
	}
	f.device = devs[0].ID
	pks, err := e.store.ListPasskeys(ctx, f.ws.ID, f.alphaUser.ID)
	if err != nil || len(pks) != 1 {
		t.Fatalf("alpha's passkeys: %v, %v", pks, err)
	}
	f.passkey = pks[0].ID

	// Unused links of acme.
	if _, _, err := e.accounts.Invite(ctx, f.ws, nil, "invitee@example.com", gatehouse.RoleMember); err != nil {
		t.Fatal(err)
	}
	f.invite = e.lastLink("invitee@example.com")
	if err := e.accounts.RequestReset(ctx, f.ws, "bravo@example.com"); err != nil {
		t.Fatal(err)
	}
	f.reset = e.lastLink("bravo@example.com")
	wantStatus(t, "signup", e.browser().post(wsURL("acme", "/signup"),
		url.Values{"name": {"Sam"}, "email": {"sam@example.com"}, "password": {goodPassword}}), http.StatusSeeOther)
	f.signup = e.lastLink("sam@example.com")
	return f
}

// TestAttackCrossTenantIDs: the owner of another workspace, a client user
// of another client, another workspace's user with the same e-mail, and
// (for a user's own devices and passkeys) another user of the same
// workspace call every ID route with acme's Alpha IDs. The attackers come
// through a second instance on the same database.
func TestAttackCrossTenantIDs(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, be)
			f := newCrossTenantFixture(t, e)
			in := e.instance()
			e.setMFA("other", gatehouse.PlanPro, gatehouse.MFAOptional)

			otherOwner := in.browser() // staff of workspace "other"
			otherOwner.login("other", "owner@example.com", goodPassword, "/dashboard")
			otherClient := in.browser() // the same e-mail as Alpha's user, in "other"
			otherClient.login("other", "client@example.com", goodPassword, "/portal")
			bravo := in.browser() // acme, client Bravo
			bravo.login("acme", "bravo@example.com", goodPassword, "/portal")
			acmeOwner := in.browser() // acme staff, but not the device's or passkey's user
			acmeOwner.login("acme", "owner@example.com", goodPassword, "/dashboard")
			stranger := in.browser() // not signed in anywhere

			userID := fmt.Sprint(f.alphaUser.ID)
			client, doc, req := fmt.Sprint(f.alpha.ID), fmt.Sprint(f.doc), fmt.Sprint(f.req)
			up := func(fields url.Values) url.Values { return fields } // multipart fields, sent by upload
			attacks := []idAttack{
				{"GET /dashboard/users/{id}", otherOwner, "other", "GET", "/dashboard/users/" + userID, nil, 404},
				{"POST /dashboard/users/{id}/reset-2fa", otherOwner, "other", "POST", "/dashboard/users/" + userID + "/reset-2fa", url.Values{"reason": {"x"}}, 404},
				{"POST /dashboard/users/{id}/disable", otherOwner, "other", "POST", "/dashboard/users/" + userID + "/disable", nil, 404},
				{"POST /dashboard/users/{id}/enable", otherOwner, "other", "POST", "/dashboard/users/" + userID + "/enable", nil, 404},
				{"GET /dashboard/clients/{id}", otherOwner, "other", "GET", "/dashboard/clients/" + client, nil, 404},
				{"POST /dashboard/clients/{id}/documents", otherOwner, "other", "UPLOAD", "/dashboard/clients/" + client + "/documents", up(url.Values{"title": {"planted"}}), 404},
				{"POST /dashboard/clients/{id}/requests", otherOwner, "other", "POST", "/dashboard/clients/" + client + "/requests", url.Values{"title": {"planted"}}, 404},
				{"POST /dashboard/clients/{id}/messages", otherOwner, "other", "POST", "/dashboard/clients/" + client + "/messages", url.Values{"body": {"planted"}}, 404},
				{"POST /dashboard/requests/{id}/cancel", otherOwner, "other", "POST", "/dashboard/requests/" + req + "/cancel", nil, 404},
				{"POST /dashboard/requests/{id}/reopen", otherOwner, "other", "POST", "/dashboard/requests/" + req + "/reopen", nil, 404},
				{"GET /documents/{id}", otherOwner, "other", "GET", "/documents/" + doc, nil, 404},
				{"GET /documents/{id}", otherClient, "other", "GET", "/documents/" + doc, nil, 404},
				{"GET /documents/{id}", bravo, "acme", "GET", "/documents/" + doc, nil, 404},
				{"GET /documents/{id}/delete", otherOwner, "other", "GET", "/documents/" + doc + "/delete", nil, 404},
				{"POST /documents/{id}/delete", otherOwner, "other", "POST", "/documents/" + doc + "/delete", nil, 404},
				{"POST /documents/{id}/delete", bravo, "acme", "POST", "/documents/" + doc + "/delete", nil, 404},
				{"POST /account/security/passkeys/{id}/remove", acmeOwner, "acme", "POST", fmt.Sprintf("/account/security/passkeys/%d/remove", f.passkey), nil, 404},
				{"POST /account/security/passkeys/{id}/remove", otherClient, "other", "POST", fmt.Sprintf("/account/security/passkeys/%d/remove", f.passkey), nil, 404},
				{"POST /account/security/devices/{id}/revoke", acmeOwner, "acme", "POST", fmt.Sprintf("/account/security/devices/%d/revoke", f.device), nil, 404},
				{"POST /account/security/devices/{id}/revoke", otherClient, "other", "POST", fmt.Sprintf("/account/security/devices/%d/revoke", f.device), nil, 404},
				{"GET /invite/{token}", stranger, "other", "GET", f.invite, nil, 404},
				{"POST /invite/{token}", stranger, "other", "POST", f.invite, url.Values{"name": {"X"}, "password": {goodPassword}}, 404},
				{"GET /password/reset/{token}", stranger, "other", "GET", f.reset, nil, 404},
				{"POST /password/reset/{token}", stranger, "other", "POST", f.reset, url.Values{"password": {"a brand new passphrase"}}, 404},
				{"GET /signup/confirm/{token}", stranger, "other", "GET", f.signup, nil, 404},
				{"POST /signup/confirm/{token}", stranger, "other", "POST", f.signup, url.Values{"password": {goodPassword}}, 404},
				// IDs in form fields.
				{"POST /portal/documents (request)", bravo, "acme", "UPLOAD", "/portal/documents", up(url.Values{"request": {req}}), 404},
				{"POST /dashboard/users/invite (client)", otherOwner, "other", "POST", "/dashboard/users/invite", url.Values{"email": {"spy@example.com"}, "role": {"client"}, "client": {client}}, 422},
			}
			for _, a := range attacks {
				t.Run(a.route, func(t *testing.T) {
					var res response
					switch a.method {
					case "GET":
						res = a.who.get(wsURL(a.slug, a.path))
					case "POST":
						res = a.who.post(wsURL(a.slug, a.path), a.form)
					case "UPLOAD":
						res = a.who.upload(wsURL(a.slug, a.path), a.form, file{"planted.pdf", []byte("%PDF-1.4 planted")})
					}
					wantStatus(t, a.method+" "+a.path, res, a.want)
					for _, secret := range []string{"Alpha contract", "Alpha passport", "Alpha private note"} {
						if strings.Contains(res.body, secret) {
							t.Errorf("the answer shows %q", secret)
						}
					}
					// A page answers exactly as for an ID that does not exist.
					if a.method == "GET" {
						missing := idRE.ReplaceAllString(a.path, "/999999999")
						if other := a.who.get(wsURL(a.slug, missing)); other.StatusCode != res.StatusCode || other.body != res.body {
							t.Errorf("%s answers unlike the missing %s: %d / %d", a.path, missing, res.StatusCode, other.StatusCode)
						}
					}
				})
			}

			// Nothing changed in acme: the Alpha user is enabled with both
			// methods and the device, the space holds what it held, and the
			// links still work on their own host.
			ctx := context.Background()
			if u := mustUser(t, e, f.ws, "client@example.com"); u.Disabled {
				t.Error("the Alpha user was disabled")
			}
			if ms := mustMethods(t, e, f.ws, "client@example.com"); !slices.Contains(ms, gatehouse.MethodTOTP) || !slices.Contains(ms, gatehouse.MethodPasskey) {
				t.Errorf("the Alpha user's methods are %v", ms)
			}
			if devs, _ := e.store.ListDevices(ctx, f.ws.ID, f.alphaUser.ID, e.clock.Now()); len(devs) != 1 {
				t.Errorf("the Alpha user has %d trusted devices, want 1", len(devs))
			}
			if ds, _ := e.store.ListDocuments(ctx, f.ws.ID, f.alpha.ID, 0); len(ds) != f.documentsOfAlpha {
				t.Errorf("Alpha's space holds %d documents, want %d", len(ds), f.documentsOfAlpha)
			}
			if rs, _ := e.store.ListRequests(ctx, f.ws.ID, f.alpha.ID); len(rs) != 1 || rs[0].Status != portal.RequestOpen {
				t.Errorf("Alpha's requests: %+v", rs)
			}
			if n := e.documentCount(f.other.ID); n != 0 {
				t.Errorf("%d documents planted in workspace other", n)
			}
			space := acmeOwner.get(wsURL("acme", "/dashboard/clients/"+client))
			if strings.Contains(space.body, "planted") {
				t.Error("something was planted in Alpha's space")
			}
			for _, link := range []string{f.invite, f.reset, f.signup} {
				wantStatus(t, "acme's link on its own host", e.browser().get(wsURL("acme", link)), http.StatusOK)
			}
			if _, err := e.store.FindUserByEmail(ctx, f.other.ID, "spy@example.com"); err == nil {
				t.Error("an invitation into another workspace's client was sent")
			}
		})
	}
}

// idRE is the ID or token of a path.
var idRE = regexp.MustCompile(`/([0-9]+|[A-Za-z0-9_-]{43})\b`)

// routeRE finds the patterns routes.go and portal.go register.
var routeRE = regexp.MustCompile(`ws\.Handle(?:Func)?\("((?:GET|POST) [^"]*\{(?:id|token)\}[^"]*)"`)

// TestAttackRoutesWithIDsCovered: every route with an {id} or {token} in
// its path is in TestAttackCrossTenantIDs's table, so a new one cannot be
// forgotten.
func TestAttackRoutesWithIDsCovered(t *testing.T) {
	src, err := os.ReadFile("attack_crosstenant_test.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range routes(t, routeRE) {
		n++
		if !strings.Contains(string(src), `{"`+m[1]+`", `) {
			t.Errorf("route %q takes an ID but is not in the cross-tenant table", m[1])
		}
	}
	if n < 20 {
		t.Fatalf("found only %d routes with an ID: has routes.go moved?", n)
	}
}
