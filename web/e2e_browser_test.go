package web_test

// The try-it-out walk of the product notes, end to end in headless Chromium
// (SPEC §16): every page a person sees on the way is checked at a phone's
// 390 px and a desktop's 1280 px for sideways scrolling and for axe-core
// violations, under the real Content-Security-Policy.

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// maya is the client user of the walk.
const maya = "maya@okafor-design.example"

// e2eBudget bounds the whole walk's browser steps.
const e2eBudget = 4 * time.Minute

// walk drives one tab through the notes' loop and checks every page it
// shows.
type walk struct {
	t   *testing.T
	e   *env
	ct  *chromeTab
	axe string
	// What was checked: one entry per page view, at both widths.
	views      []string
	pages      map[string]bool // distinct paths
	overflows  int
	violations int
}

var e2eWidths = []int64{390, 1280}

// check looks at the page the tab shows at each width: nothing scrolls
// sideways and axe-core finds no violation; then the console is clean. With
// GATEHOUSE_SCREENSHOTS set, a named page is saved as name-WIDTH.png.
func (w *walk) check(shot string) { w.t.Helper(); w.look(shot, true) }

// look is check, with axe-core or without (it cannot run in a page whose
// scripts are switched off).
func (w *walk) look(shot string, withAxe bool) {
	w.t.Helper()
	ct := w.ct
	where := ct.path()
	if withAxe {
		chromeRun(ct, "page loaded", chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(5*time.Second)))
		if !chromeEval[bool](ct, "axe present", `typeof window.axe === "object"`) {
			chromeEval[bool](ct, "inject axe-core", w.axe+";true")
		}
	}
	for _, width := range e2eWidths {
		ct.do("resize", chromedp.EmulateViewport(width, 900))
		if out := chromeEval[[]string](ct, where, overflowProbe); len(out) > 0 {
			w.overflows++
			w.t.Errorf("%s at %d px overflows: %s", where, width, strings.Join(out, "; "))
		}
		if withAxe {
			v := chromeRun(ct, "axe on "+where, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
			for _, s := range v {
				w.violations++
				w.t.Errorf("%s at %d px: axe: %s", where, width, s)
			}
		}
		if dir := os.Getenv("GATEHOUSE_SCREENSHOTS"); dir != "" && shot != "" {
			png := chromeRun(ct, "screenshot", chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", shot, width)), png, 0o644); err != nil {
				w.t.Fatal(err)
			}
		}
	}
	ct.do("resize back", chromedp.EmulateViewport(1280, 900))
	if !withAxe {
		return
	}
	ct.wantCleanConsole(where)
	w.views = append(w.views, where)
	w.pages[where] = true
}

// open goes to a page of acme and checks it.
func (w *walk) open(path, shot string) {
	w.t.Helper()
	w.ct.open("acme", path)
	w.check(shot)
}

// press clicks a button or link that leads to another page, and checks that
// page.
func (w *walk) press(what, sel, wantPath, shot string) {
	w.t.Helper()
	w.ct.submit(what, sel, wantPath)
	w.check(shot)
}

// fill types into the field of a form.
func (w *walk) fill(sel, text string) {
	w.t.Helper()
	w.ct.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	chromeEval[bool](w.ct, "clear "+sel, `(document.querySelector(`+jsString(sel)+`).value = '', true)`)
	w.ct.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

// choose picks the option of a select.
func (w *walk) choose(sel, value string) {
	w.t.Helper()
	chromeEval[bool](w.ct, "choose "+value+" in "+sel, `(function (s) { s.value = `+jsString(value)+`; return s.value === `+jsString(value)+`; })(document.querySelector(`+jsString(sel)+`))`)
}

// login signs in with the password and checks where it lands.
func (w *walk) login(email, wantPath, shot string) {
	w.t.Helper()
	w.ct.open("acme", "/login")
	w.fill(`form[action="/login"] input[name=email]`, email)
	w.fill(`form[action="/login"] input[name=password]`, goodPassword)
	w.press("sign in as "+email, `form[action="/login"] button[type=submit]`, wantPath, shot)
}

func (w *walk) signOut() {
	w.t.Helper()
	w.ct.submit("sign out", `form[action="/logout"] button`, "/login")
}

// text is the visible text of the page's main element.
func (w *walk) text() string {
	w.t.Helper()
	return chromeRun(w.ct, "read main", chromedp.Text(chromedp.CSS("main"), chromedp.NodeVisible))
}

func (w *walk) wantText(what, substr string) {
	w.t.Helper()
	if got := w.text(); !strings.Contains(got, substr) {
		w.t.Fatalf("%s: the page does not say %q:\n%s", what, substr, got)
	}
}

func (w *walk) count(sel string) int {
	w.t.Helper()
	return chromeEval[int](w.ct, "count "+sel, `document.querySelectorAll(`+jsString(sel)+`).length`)
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// verifyLayout measures the verify page at each width (issue 11): Verify
// and "Send a new code" do not touch, "Cancel and sign out" and the
// switcher's links are targets of 24 px at least, and the words "Cancel
// and sign out" line up with Verify on the card's left edge.
func (w *walk) verifyLayout() {
	w.t.Helper()
	type box struct {
		Gap, CancelH, CancelLeft, VerifyLeft, MinLink float64
	}
	for _, width := range e2eWidths {
		w.ct.do("resize", chromedp.EmulateViewport(width, 900))
		b := chromeEval[box](w.ct, "verify layout", `(function () {
		  var v = document.querySelector('form[action="/login/verify"] button[type=submit]').getBoundingClientRect();
		  var r = document.querySelector('form[action="/login/verify/resend"] button').getBoundingClientRect();
		  var cb = document.querySelector('form[action="/logout"].cancel button');
		  var c = cb.getBoundingClientRect();
		  var text = document.createRange(); text.selectNodeContents(cb);
		  var d = document.querySelector('details.another'); var was = d.open; d.open = true;
		  var min = Math.min.apply(null, Array.from(d.querySelectorAll('ul.switcher a')).map(function (a) { return a.getBoundingClientRect().height; }));
		  d.open = was;
		  return {Gap: r.top - v.bottom, CancelH: c.height, CancelLeft: text.getBoundingClientRect().left, VerifyLeft: v.left, MinLink: min};
		})()`)
		if b.Gap < 8 || b.CancelH < 24 || b.MinLink < 24 || b.CancelLeft < b.VerifyLeft-1 || b.CancelLeft > b.VerifyLeft+1 {
			w.t.Errorf("verify page at %d px: %+v, want a gap of 8 px or more between Verify and resend, 24 px targets, Cancel aligned with Verify", width, b)
		}
	}
	w.ct.do("resize back", chromedp.EmulateViewport(1280, 900))
}

// scanTOTP reads the enrolment page's QR code from its pixels, as a phone
// would, and returns the secret it carries.
func (w *walk) scanTOTP() string {
	w.t.Helper()
	w.ct.do("wait for the QR code", chromedp.WaitVisible(chromedp.CSS(`.totp-setup .qr-target svg.qr-code`)))
	shot := chromeRun(w.ct, "screenshot of the QR code", chromedp.Screenshot(chromedp.CSS(`.totp-setup .qr`), chromedp.NodeVisible))
	uri, err := decodeQR(shot)
	if err != nil {
		w.t.Fatalf("the QR code does not scan: %v", err)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") == "" {
		w.t.Fatalf("the QR code holds %q, not an otpauth URI with a secret", uri)
	}
	return u.Query().Get("secret")
}

// TestBrowserTryItOut walks the notes' "How to try it out" in Chromium: the
// owner sets Optional with e-mail and TOTP; a user enrolls TOTP from the QR
// code, signs out and in, switches method, uses a recovery code, trusts the
// browser and revokes it; the owner enrolls and switches to Required; a new
// user is forced to enroll; an admin resets a user; a client downloads a
// document and answers a request.
func TestBrowserTryItOut(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	ctx := context.Background()
	owner, err := e.store.FindUserByEmail(ctx, ws.ID, "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	harbour, err := e.portal.CreateClient(ctx, portal.Viewer{WorkspaceID: ws.ID, UserID: owner.ID, Role: gatehouse.RoleOwner}, "Okafor Design Ltd", "")
	if err != nil {
		t.Fatal(err)
	}
	// A brand and a named client make the screenshots look like a portal
	// in use.
	e.brandLikeDemo(ws)
	client, _, err := e.accounts.CreateUser(ctx, ws, account.NewUser{Email: maya, Name: "Maya Okafor", Role: gatehouse.RoleClient, Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.portal.AssignClient(ctx, ws.ID, client, harbour.ID); err != nil {
		t.Fatal(err)
	}
	axe, err := os.ReadFile("testdata/axe-core/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	letter := filepath.Join(files, "engagement-letter.pdf")
	if err := os.WriteFile(letter, []byte("%PDF-1.4\n% Gatehouse test\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	statement := filepath.Join(files, "bank-statement.csv")
	if err := os.WriteFile(statement, []byte("date,amount\n2039-06-01,120.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()

	ct := e.startChromeFor(t, e2eBudget)
	start := time.Now()
	// Confirmations (data-confirm) are accepted, as a person would.
	if err := chromedp.Listen(ct.ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Call(ct.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ct.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	ct.do("desktop", chromedp.EmulateViewport(1280, 900))
	w := &walk{t: t, e: e, ct: ct, axe: string(axe), pages: map[string]bool{}}

	// 1. The owner sets Optional with e-mail codes and the authenticator app.
	w.ct.open("acme", "/login")
	w.check("e2e-login")
	w.login("owner@example.com", "/dashboard", "portal-dashboard")
	w.open("/dashboard/settings/security", "")
	w.choose(`select[name=mfa_mode]`, "optional")
	chromeEval[bool](ct, "allow e-mail and TOTP only", `(function () {
	  document.querySelectorAll('input[name=methods]').forEach(function (b) { b.checked = b.value === 'totp' || b.value === 'email'; });
	  return true;
	})()`)
	w.press("save the settings", `form[action="/dashboard/settings/security"] button[type=submit]`, "/dashboard/settings/security", "")
	w.wantText("settings", "Saved.")
	// Staff share a document and ask for one in the client's space.
	w.open(fmt.Sprintf("/dashboard/clients/%d", harbour.ID), "")
	w.ct.do("choose the letter", chromedp.SetUploadFiles(chromedp.CSS(`form.upload input[name=file]`), []string{letter}))
	w.fill(`form.upload input[name=title]`, "Engagement letter")
	w.press("upload the letter", `form.upload button[type=submit]`, fmt.Sprintf("/dashboard/clients/%d", harbour.ID), "")
	w.fill(`form.request-form input[name=title]`, "Bank statement for June")
	w.fill(`form.request-form input[name=note]`, "A CSV export from your bank is fine.")
	w.press("ask for a statement", `form.request-form button[type=submit]`, fmt.Sprintf("/dashboard/clients/%d", harbour.ID), "portal-client-space")
	w.signOut()

	// 2. A user enrolls the authenticator app from the QR code.
	w.login(maya, "/portal", "")
	w.open("/account/security", "e2e-security-off")
	if n := w.count(`.method-card`); n != 2 {
		t.Fatalf("%d method cards for a user with no method, want 2 (authenticator app, e-mail codes)", n)
	}
	if n := w.count(`form[action="/account/security/recovery-codes/regenerate"]`); n != 0 {
		t.Fatal("recovery-code controls shown to a user with no method")
	}
	w.press("set up the app", `form[action="/account/security/totp/start"] button`, "/account/security/totp/start", "e2e-totp")
	secret := w.scanTOTP()
	w.fill(`form[action="/account/security/totp/confirm"] input[name=code]`, e.totpCode(secret))
	w.press("turn the app on", `form[action="/account/security/totp/confirm"] button`, "/account/security/totp/confirm", "e2e-recovery-codes")
	var codes []string
	for _, c := range chromeEval[[]string](ct, "codes", `Array.from(document.querySelectorAll('.recovery-code')).map(function (e) { return e.textContent.trim(); })`) {
		codes = append(codes, c)
	}
	if len(codes) != 8 {
		t.Fatalf("%d recovery codes, want 8", len(codes))
	}
	download := chromeEval[string](ct, "download link", `document.querySelector('a[download="recovery-codes.txt"]').href`)
	if txt, err := url.PathUnescape(strings.TrimPrefix(download, "data:text/plain;charset=utf-8,")); err != nil || !strings.HasPrefix(download, "data:text/plain") || !strings.Contains(txt, codes[7]) {
		t.Fatalf("the .txt download %q does not hold the codes", download)
	}
	// Printed, the page shows the codes and none of the navigation.
	if _, err := chromedp.Call(ct.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	type printed struct {
		Header, Codes, Continue string
	}
	pr := chromeEval[printed](ct, "print styles", `({Header: getComputedStyle(document.querySelector('header.top')).display,
	  Codes: getComputedStyle(document.querySelector('.recovery-code')).visibility,
	  Continue: getComputedStyle(document.querySelector('.print-area p.no-print')).display})`)
	if _, err := chromedp.Call(ct.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}
	if pr.Header != "none" || pr.Codes != "visible" || pr.Continue != "none" {
		t.Fatalf("printed recovery codes page: %+v, want the header and links hidden, the codes visible", pr)
	}
	w.press("saved them", `.print-area a[href="/account/security?done=added"]`, "/account/security", "e2e-security")
	w.wantText("security page", "The method is on: it will be asked for at sign-in.")
	if n := w.count(`#method-totp .method-state.on`); n != 1 {
		t.Fatal("the authenticator app card does not say On")
	}
	// E-mail codes too: the mailbox is proven with a code first.
	w.press("turn on e-mail codes", `form[action="/account/security/email/enable"] button`, "/account/security/email/confirm", "")
	w.fill(`form[action="/account/security/email/confirm"] input[name=code]`, e.lastCode(maya))
	w.press("confirm the mailbox", `form[action="/account/security/email/confirm"] button`, "/account/security", "")
	w.signOut()

	// 3. Out and in again; the app's code passes.
	w.login(maya, "/login/verify", "")
	w.wantText("verify", "authenticator app")
	w.fill(`form[action="/login/verify"] input[name=code]`, e.totpCode(secret))
	w.press("verify with the app", `form[action="/login/verify"] button[type=submit]`, "/portal", "portal-home")
	w.signOut()

	// 4. Switch method: e-mail codes, with a new code asked for.
	w.login(maya, "/login/verify", "")
	ct.do("open the switcher", chromedp.Click(chromedp.CSS(`details.another summary`), chromedp.NodeVisible))
	w.check("e2e-verify")
	w.press("switch to e-mail", `ul.switcher a[href="/login/verify?method=email"]`, "/login/verify", "")
	w.wantText("e-mail code page", "We sent a 6-digit code to your e-mail address.")
	w.verifyLayout()
	if n := w.count(`.flash`); n != 0 {
		t.Fatal("a new-code notice before any resend")
	}
	e.clock.Advance(mfa.ResendGap + time.Second) // the resend wait is over
	w.ct.open("acme", "/login/verify?method=email")
	w.press("send a new code", `form[action="/login/verify/resend"] button`, "/login/verify", "e2e-verify-resent")
	w.wantText("after the resend", "A new code was sent to your e-mail address.")
	w.fill(`form[action="/login/verify"] input[name=code]`, e.lastCode(maya))
	w.press("verify with the e-mail code", `form[action="/login/verify"] button[type=submit]`, "/portal", "")
	w.signOut()
	// The code's e-mail as its HTML part shows in a mail client (the dev
	// outbox renders it): the workspace's logo, name and accent. It fits a
	// phone; axe-core is for pages, not mail, and cannot run in its sandbox.
	ms, err := e.store.ListMessages(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m gatehouse.Message) bool { return m.Channel == "email" && m.To == maya })
	if i < 0 {
		t.Fatalf("no e-mail to %s among %d messages", maya, len(ms))
	}
	if res := chromeRun(ct, "open the e-mail", chromedp.NavigateResponse(fmt.Sprintf("%s/_dev/outbox/%d", baseURL, ms[i].ID))); res.Status != 200 {
		t.Fatalf("HTML e-mail: status %d", res.Status)
	}
	w.look("e2e-mail-code", false)

	// 5. A recovery code, remembering this browser.
	w.login(maya, "/login/verify", "")
	w.ct.open("acme", "/login/verify?method=recovery")
	w.check("e2e-verify-recovery")
	w.fill(`form[action="/login/verify"] input[name=code]`, strings.ToUpper(codes[0]))
	ct.do("remember this device", chromedp.Click(chromedp.CSS(`input[name=remember_device]`), chromedp.NodeVisible))
	w.press("use a recovery code", `form[action="/login/verify"] button[type=submit]`, "/account/security", "")
	w.wantText("after a recovery code", "Recovery code accepted. You have 7 left.")
	if n := w.count(`#trusted-devices tbody tr`); n != 1 {
		t.Fatalf("%d trusted devices listed, want 1", n)
	}
	w.signOut()
	// The trusted browser skips the second step...
	w.login(maya, "/portal", "")
	// ...until it is revoked.
	w.open("/account/security", "")
	w.press("revoke all", `form[action="/account/security/devices/revoke-all"] button`, "/account/security", "")
	w.wantText("after revoking", "Trusted devices forgotten")
	w.signOut()
	w.login(maya, "/login/verify", "")
	w.fill(`form[action="/login/verify"] input[name=code]`, e.totpCode(secret))
	w.press("verify again", `form[action="/login/verify"] button[type=submit]`, "/portal", "")
	w.signOut()

	// 6. The owner enrolls, then switches to Required.
	w.login("owner@example.com", "/dashboard", "")
	w.open("/account/security", "")
	// With JavaScript off, the page says why there is no QR code, and the
	// key typed by hand works.
	if _, err := chromedp.Call(ct.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	w.ct.submit("owner sets up the app without JavaScript", `form[action="/account/security/totp/start"] button`, "/account/security/totp/start")
	type noJS struct {
		QR   string
		Note string
		Key  string
	}
	nj := chromeEval[noJS](ct, "the page without JavaScript", `({QR: getComputedStyle(document.querySelector('.qr')).display,
	  Note: Array.from(document.querySelectorAll('.totp-setup .hint')).map(function (e) { return e.offsetParent ? e.textContent : ''; }).join(''),
	  Key: document.querySelector('.secret-key').textContent})`)
	if nj.QR != "none" || !strings.Contains(nj.Note, "The QR code needs JavaScript") {
		t.Fatalf("TOTP page without JavaScript: %+v, want no QR box and the note", nj)
	}
	w.look("e2e-totp-nojs", false)
	if _, err := chromedp.Call(ct.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatal(err)
	}
	w.check("")
	ownerSecret := strings.Join(strings.Fields(nj.Key), "")
	w.fill(`form[action="/account/security/totp/confirm"] input[name=code]`, e.totpCode(ownerSecret))
	w.press("owner turns the app on", `form[action="/account/security/totp/confirm"] button`, "/account/security/totp/confirm", "")
	w.press("owner saved the codes", `.print-area a[href="/account/security?done=added"]`, "/account/security", "")
	w.open("/dashboard/settings/security", "")
	w.choose(`select[name=mfa_mode]`, "required")
	w.press("switch to Required", `form[action="/dashboard/settings/security"] button[type=submit]`, "/dashboard/settings/security", "e2e-settings")
	w.wantText("settings", "Saved.")
	w.open("/dashboard/security/coverage", "")
	// 7. A new user, invited into the client, must enroll.
	w.open("/dashboard/users", "")
	w.fill(`form[action="/dashboard/users/invite"] input[name=email]`, "new@example.com")
	w.choose(`form[action="/dashboard/users/invite"] select[name=role]`, string(gatehouse.RoleClient))
	w.choose(`form[action="/dashboard/users/invite"] select[name=client]`, fmt.Sprint(harbour.ID))
	w.press("invite", `form[action="/dashboard/users/invite"] button`, "/dashboard/users", "")
	w.signOut()
	invite := e.lastLink("new@example.com")
	w.open(invite, "")
	w.fill(`input[name=name]`, "Nadia New")
	w.fill(`input[name=password]`, goodPassword)
	// The invitation's link proved the mailbox: straight to enrollment.
	w.press("accept the invitation", `form[action^="/invite/"] button[type=submit]`, "/account/security", "e2e-enroll")
	w.wantText("enrollment", "Set up two-step verification")
	if n := w.count(`form[action="/account/security/recovery-codes/regenerate"]`) + w.count(`#trusted-devices`); n != 0 {
		t.Fatal("the enrollment page shows recovery-code or device controls")
	}
	w.press("turn on e-mail codes", `form[action="/account/security/email/enable"] button`, "/portal", "")
	w.signOut()

	// 8. An admin resets the client's two-step verification.
	w.login("admin@example.com", "/login/verify", "e2e-prove-mailbox")
	w.fill(`form[action="/login/verify"] input[name=code]`, e.lastCode("admin@example.com"))
	w.press("admin proves the mailbox", `form[action="/login/verify"] button[type=submit]`, "/account/security", "")
	w.press("admin turns on e-mail codes", `form[action="/account/security/email/enable"] button`, "/dashboard", "")
	w.open(fmt.Sprintf("/dashboard/users/%d", client.ID), "e2e-user")
	ct.do("open the reset", chromedp.Click(chromedp.CSS(`details summary`), chromedp.NodeVisible))
	w.fill(`form[action$="/reset-2fa"] input[name=reason]`, "Lost phone")
	w.press("reset", `form[action$="/reset-2fa"] button`, fmt.Sprintf("/dashboard/users/%d", client.ID), "")
	w.open("/dashboard/audit", "")
	w.signOut()

	// 9. The client enrolls again, downloads the letter and answers the request.
	w.login(maya, "/login/verify", "")
	w.fill(`form[action="/login/verify"] input[name=code]`, e.lastCode(maya))
	w.press("client proves the mailbox", `form[action="/login/verify"] button[type=submit]`, "/account/security", "")
	w.press("client turns on e-mail codes", `form[action="/account/security/email/enable"] button`, "/portal", "")
	ct.do("download the letter", chromedp.Click(chromedp.CSS(`a.document-link`), chromedp.NodeVisible))
	pollUntil(t, "the letter downloaded", func() bool {
		b, err := os.ReadFile(filepath.Join(downloads, "engagement-letter.pdf"))
		return err == nil && strings.HasPrefix(string(b), "%PDF-1.4")
	})
	w.open("/portal/documents", "")
	w.ct.do("answer the request", chromedp.SetUploadFiles(chromedp.CSS(`form.upload input[name=file]`), []string{statement}))
	chromeEval[bool](ct, "for the request", `(function () { var s = document.querySelector('form.upload select[name=request]'); s.value = s.options[1].value; return true; })()`)
	w.press("upload the statement", `form.upload button[type=submit]`, "/portal/documents", "")
	w.open("/portal", "")
	if n := w.count(`ul.requests li`); n != 0 {
		t.Fatalf("%d open requests after the answer, want none", n)
	}
	w.open("/portal/messages", "")

	var distinct []string
	for p := range w.pages {
		if strings.HasPrefix(p, "/invite/") {
			p = "/invite/{token}"
		}
		distinct = append(distinct, p)
	}
	sort.Strings(distinct)
	t.Logf("checked %d page views (%d distinct pages) × %d widths %v: %d overflow, %d axe violations; in %v\n  %s",
		len(w.views), len(distinct), len(e2eWidths), e2eWidths, w.overflows, w.violations,
		time.Since(start).Round(time.Millisecond), strings.Join(distinct, "\n  "))
}
