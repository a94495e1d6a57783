package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// overflowProbe names the elements that stick out past the right edge of
// the viewport; empty when the page fits (SPEC §16: no horizontal scrolling).
const overflowProbe = `(function () {
  var w = window.innerWidth, out = [];
  if (document.documentElement.scrollWidth <= w) return out;
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.right > w + 0.5 && out.length < 8) {
      out.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).replace(/\s+/g, '.') : '') + ' right=' + Math.round(r.right));
    }
  });
  out.unshift('scrollWidth ' + document.documentElement.scrollWidth + ' > ' + w);
  return out;
})()`

// axeRun lists the page's WCAG 2 A/AA violations, one line each.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}}).then(function (r) {
  return r.violations.map(function (v) {
    return v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); }).join(' | ');
  });
})`

// TestBrowserLayoutFits visits the key pages of a workspace at a phone's
// 390 px and a desktop's 1280 px and asserts that none scrolls sideways,
// with a long unbroken name and e-mail in the data.
func TestBrowserLayoutFits(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	ctx := context.Background()
	// Names and e-mails as long as the pages may meet: a 230-character name
	// with no break (stored before names were limited at input, or by the
	// store directly) and addresses near the 254-character limit.
	long := strings.Repeat("Bartholomew", 21)[:230]
	longEmail := strings.Repeat("bartholomew.", 15) + "someone@example-with-a-long-domain.com"
	hash, err := e.hasher.Hash(ctx, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	u := &gatehouse.User{Email: longEmail, Name: long, Role: gatehouse.RoleMember, PasswordHash: hash, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.store.CreateUser(ctx, ws.ID, u); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []gatehouse.AuditEvent{
		{Type: "signin.password.failed", ActorID: u.ID, TargetID: u.ID, IP: "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe", Detail: "email " + longEmail},
		{Type: "account.reset", ActorID: 1, TargetID: u.ID, IP: "192.0.2.1", Detail: "reset by " + longEmail},
	} {
		ev.At = e.clock.Now()
		if err := e.store.AddAuditEvent(ctx, ws.ID, &ev); err != nil {
			t.Fatal(err)
		}
	}
	// A client whose name is as long as a client's name may be, unbroken.
	longClient, err := e.portal.CreateClient(ctx, portal.Viewer{WorkspaceID: ws.ID, UserID: 1, Role: gatehouse.RoleOwner}, strings.Repeat("Montgomery", 20), "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	// A wide logo and a display name of the longest allowed length in the
	// header of every page.
	logo, err := account.NormalizeLogo(wideLogoPNG(t))
	if err != nil {
		t.Fatal(err)
	}
	brand := gatehouse.Brand{DisplayName: "Harbourside Dental and Orthodontics of Greater Londonderry", Accent: "#0b5cad"}
	if _, err := e.store.SetBrand(ctx, ws.ID, brand, &gatehouse.Logo{ID: account.LogoID(logo), PNG: logo}, e.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	axe, err := os.ReadFile("testdata/axe-core/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	// About 40 page views, each with axe-core: the 30 s of one browser test
	// is its whole run on a quiet machine, so it gets the walk's budget.
	ct := e.startChromeFor(t, e2eBudget)

	// check visits path; prep, if given, is script run on the page first
	// (to choose an option, say).
	check := func(who, path string, prep ...string) {
		t.Helper()
		ct.open("acme", path)
		for _, js := range prep {
			chromeEval[bool](ct, "prepare "+path, js+";true")
		}
		for _, width := range []int64{390, 1280} {
			ct.do("resize", chromedp.EmulateViewport(width, 900))
			if out := chromeEval[[]string](ct, path, overflowProbe); len(out) > 0 {
				t.Errorf("%s %s at %d px overflows: %s", who, path, width, strings.Join(out, "; "))
			}
			if width == 390 {
				chromeEval[bool](ct, "inject axe-core", string(axe)+";true")
				v, err := chromedp.Run(ct.ctx, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatalf("axe on %s: %v", path, err)
				}
				for _, s := range v {
					t.Errorf("%s %s: axe: %s", who, path, s)
				}
			}
			ct.screenshot(strings.Trim(strings.ReplaceAll(who+path, "/", "-"), "-"), width)
			ct.do("resize", chromedp.EmulateViewport(width, 900))
		}
	}

	ct.login("acme", "owner@example.com", goodPassword, "/dashboard")
	for _, p := range []string{"/dashboard", "/dashboard/users", fmt.Sprintf("/dashboard/users/%d", u.ID),
		"/dashboard/audit", "/dashboard/security/coverage", "/dashboard/settings/security", "/dashboard/settings/branding", "/dashboard/clients", fmt.Sprintf("/dashboard/clients/%d", longClient.ID), "/account/security"} {
		check("owner", p)
	}
	// The invite form with the long-named client chosen: its select shows
	// one line ending in "…", and the page still fits.
	check("owner invite", "/dashboard/users", fmt.Sprintf(`document.querySelector('select[name=client]').value = '%d'`, longClient.ID))
	if opt := chromeEval[string](ct, "chosen client", `(function (o) { return o.text + ' | ' + o.title })(document.querySelector('select[name=client]').selectedOptions[0])`); opt != strings.Repeat("Montgomery", 20)[:47]+"… | "+strings.Repeat("Montgomery", 20) {
		t.Errorf("the long client's option reads %q, want it shortened with the whole name as its title", opt)
	}
	ct.signOut()
	// The member with the long name and address is greeted by name.
	ct.login("acme", longEmail, goodPassword, "/dashboard")
	for _, p := range []string{"/dashboard", "/dashboard/clients"} {
		check("long-named member", p)
	}
	ct.signOut()
	// Signed out, the logo and the display name head the sign-in pages too.
	for _, p := range []string{"/login", "/password/forgot"} {
		check("visitor", p)
	}
	ct.login("acme", "client@example.com", goodPassword, "/portal")
	for _, p := range []string{"/portal", "/portal/documents", "/portal/messages", "/account/security"} {
		check("client", p)
	}
	ct.wantCleanConsole("layout walk")
}
