package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

var (
	scriptRE = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)>`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
)

// visibleText is what a reader sees of a page: no tags, attributes or scripts.
func visibleText(html string) string {
	s := scriptRE.ReplaceAllString(html, " ")
	s = strings.ReplaceAll(s, "<wbr>", "") // a break opportunity, not a text node's end
	s = tagRE.ReplaceAllString(s, "\n")    // one text node a line
	return strings.NewReplacer("&amp;", "&", "&#39;", "'", "&quot;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

// rawIdentifiers lists what SPEC §16 forbids on screen, stated independently
// of the label table: dotted event types, method, mode and role identifiers as
// whole words in lower case, and bare HTTP status texts as headings.
var rawIdentifiers = []*regexp.Regexp{
	regexp.MustCompile(`\b(signin|mfa|account|device|password|portal|settings|user|workspace|sms)\.[a-z_]+(\.[a-z_]+)?\b`),
	regexp.MustCompile(`\btotp\b`),
	regexp.MustCompile(`(^|[\s:,(])(totp|sms|email|passkey)\s*(,|:\s*\d|$|\))`),
	regexp.MustCompile(`(?m)^\s*(disabled|optional|required|owner|admin|member|client|starter|pro|unlimited|none|active|invited)\s*$`),
	regexp.MustCompile(`\((owner|admin|member|client)\)`),
	regexp.MustCompile(`\b(Not Found|Forbidden|Method Not Allowed|Bad Request|Internal Server Error)\b`),
}

func TestPagesShowHumanLabels(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional, gatehouse.MethodTOTP, gatehouse.MethodEmail)

	owner := e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	owner.enrollTOTP("acme")
	owner.enableEmail("acme", "owner@example.com")
	e.clock.Advance(61 * time.Second)
	// A wrong password and a fresh sign-in fill the audit log.
	e.browser().post(wsURL("acme", "/login"), url.Values{"email": {"owner@example.com"}, "password": {"wrong password!"}})
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")

	pages := map[*browser][]string{
		owner: {"/dashboard", "/dashboard/users", "/dashboard/users/2", "/dashboard/audit", "/dashboard/security/coverage",
			"/dashboard/settings/security", "/account/security", "/no/such/page"},
		client: {"/portal", "/account/security", "/dashboard"},
	}
	checked := 0
	for b, paths := range pages {
		for _, p := range paths {
			res := b.get(wsURL("acme", p))
			text := visibleText(res.body)
			for _, re := range rawIdentifiers {
				if m := re.FindString(text); m != "" {
					t.Errorf("%s shows the raw identifier %q", p, strings.TrimSpace(m))
				}
			}
			checked++
		}
	}
	// The audit page did render the events it must name.
	audit := owner.get(wsURL("acme", "/dashboard/audit"))
	wantBody(t, "audit", audit, "Signed in with password")
	wantBody(t, "audit", audit, "Wrong password")
	users := owner.get(wsURL("acme", "/dashboard/users"))
	wantBody(t, "users", users, `class="mfa-state" data-label="Two-step">Authenticator app, E-mail codes<`)
	if checked < 10 {
		t.Fatalf("checked %d pages", checked)
	}
}

// TestPendingLoginShowsNoNavigation: a login still at the second-factor gate
// sees only a way out, not the signed-in navigation (SPEC §16).
func TestPendingLoginShowsNoNavigation(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional, gatehouse.MethodTOTP)
	b := e.browser()
	b.login("acme", "owner@example.com", goodPassword, "/dashboard")
	b.enrollTOTP("acme")
	b.post(wsURL("acme", "/logout"), nil)
	b.login("acme", "owner@example.com", goodPassword, "/login/verify")
	res := b.get(wsURL("acme", "/login/verify"))
	wantBody(t, "verify", res, `action="/logout"`)
	for _, nav := range []string{`href="/dashboard"`, `href="/dashboard/users"`, `href="/account/security"`} {
		if strings.Contains(res.body, nav) {
			t.Errorf("pending login shows %s", nav)
		}
	}
}
