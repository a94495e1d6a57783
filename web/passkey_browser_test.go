package web_test

// Browser tests of passkeys: real headless Chromium with Chrome's virtual
// authenticator (CDP WebAuthn domain), driving static/passkey.js under the
// real CSP. WebAuthn needs a secure context, and http://*.localhost is one,
// so these tests serve the workspaces at http://{slug}.localhost:PORT
// through a small proxy that stands for the load balancer (and, on
// PostgreSQL, sends every ceremony's begin to one instance and its finish
// to another).

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/network"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse"
)

// localSite is the public address http://localhost:PORT of one or two
// Gatehouse instances.
type localSite struct {
	t      *testing.T
	ln     net.Listener
	port   int
	begins atomic.Int32 // requests sent to the begin instance
}

func newLocalSite(t *testing.T) *localSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &localSite{t: t, ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
}

func (s *localSite) base() string { return fmt.Sprintf("http://localhost:%d", s.port) }

func (s *localSite) url(slug, path string) string {
	return fmt.Sprintf("http://%s.localhost:%d%s", slug, s.port, path)
}

// serve proxies to first, except the begin endpoints of passkey ceremonies,
// which go to begin: with two instances, every ceremony is begun on one and
// finished on the other.
func (s *localSite) serve(first, begin *env) {
	proxy := func(e *env) *httputil.ReverseProxy {
		target, _ := url.Parse(e.srv.URL)
		return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the workspace is found from the Host
		}}
	}
	a, b := proxy(first), proxy(begin)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/begin") {
			s.begins.Add(1)
			b.ServeHTTP(w, r)
			return
		}
		a.ServeHTTP(w, r)
	})}
	go srv.Serve(s.ln)
	s.t.Cleanup(func() { srv.Close() })
}

// virtualAuthenticator adds Chrome's virtual authenticator to the tab: a
// platform authenticator (CTAP2, internal) with resident keys and user
// verification that succeeds.
func (ct *chromeTab) virtualAuthenticator() cdpwebauthn.AuthenticatorID {
	ct.t.Helper()
	if _, err := chromedp.Call(ct.ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		ct.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ct.ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
			Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		ct.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

func (ct *chromeTab) credentials(id cdpwebauthn.AuthenticatorID) []*cdpwebauthn.Credential {
	ct.t.Helper()
	res, err := chromedp.Call(ct.ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		ct.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// go opens a URL and checks the status.
func (ct *chromeTab) goTo(rawURL string, status int64) {
	ct.t.Helper()
	res := chromeRun(ct, "open "+rawURL, chromedp.NavigateResponse(rawURL))
	if res.Status != status {
		ct.t.Fatalf("open %s: status %d, want %d", rawURL, res.Status, status)
	}
}

// press clicks a button that leads to another page (a form submitted by
// the button itself or by passkey.js) and checks the answer's status and
// the path it landed on.
func (ct *chromeTab) press(what, button string, status int64, wantPath string) *network.Response {
	ct.t.Helper()
	ctx, cancel := context.WithTimeout(ct.ctx, chromeStepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible))
	if err != nil {
		ct.t.Fatalf("%s: %v", what, err)
	}
	if res.Status != status {
		ct.t.Fatalf("%s: status %d on %s, want %d", what, res.Status, res.URL, status)
	}
	if p := ct.path(); p != wantPath {
		ct.t.Fatalf("%s: landed on %s, want %s", what, p, wantPath)
	}
	return res
}

func (ct *chromeTab) text(sel string) string {
	ct.t.Helper()
	return chromeRun(ct, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (ct *chromeTab) passwordLogin(site *localSite, slug, email, wantPath string) {
	ct.t.Helper()
	ct.goTo(site.url(slug, "/login"), 200)
	ct.do("fill the sign-in form",
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name=email]`), email, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name=password]`), goodPassword, chromedp.NodeVisible),
	)
	ct.press("sign in as "+email, `form[action="/login"] button[type=submit]`, 200, wantPath)
}

func (ct *chromeTab) signOut() {
	ct.t.Helper()
	ct.press("sign out", `form[action="/logout"] button`, 200, "/login")
}

// screenshot saves the page at the width, when GATEHOUSE_SCREENSHOTS names a
// directory (the README's pictures come from there).
func (ct *chromeTab) screenshot(name string, width int64) {
	ct.t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return
	}
	ct.do("resize", chromedp.EmulateViewport(width, 900))
	png := chromeRun(ct, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width)), png, 0o644); err != nil {
		ct.t.Fatal(err)
	}
	ct.do("resize back", chromedp.EmulateViewport(1024, 900))
}

// TestBrowserPasskeys registers a passkey from the Security page, signs out,
// signs in with password + passkey and then with the passkey alone, and
// sees a counter regression, a replayed assertion and another workspace
// refused — in Chromium with its virtual authenticator.
func TestBrowserPasskeys(t *testing.T) {
	site := newLocalSite(t)
	e := newEnvAt(t, sqliteBackend, site.base())
	site.serve(e, e)
	ws := e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	e.brandLikeDemo(ws)
	e.workspace("beta")
	e.setMFA("beta", gatehouse.PlanPro, gatehouse.MFAOptional)
	ct := e.startChrome(t)
	auth := ct.virtualAuthenticator()

	// Register.
	ct.passwordLogin(site, "acme", "client@example.com", "/portal")
	ct.goTo(site.url("acme", "/account/security"), 200)
	ct.do("name the passkey", chromedp.SendKeys(chromedp.CSS(`input[name=passkey_name]`), "Test laptop", chromedp.NodeVisible))
	ct.press("add a passkey", `button[data-action="passkey-register"]`, 200, "/account/security/passkeys")
	if n := chromeEval[int](ct, "count codes", `document.querySelectorAll('.recovery-code').length`); n != 8 {
		t.Fatalf("%d recovery codes shown after the first passkey, want 8", n)
	}
	creds := ct.credentials(auth)
	if len(creds) != 1 || creds[0].RpID != "acme.localhost" || !creds[0].IsResidentCredential {
		t.Fatalf("authenticator holds %+v, want one resident credential for acme.localhost", creds)
	}
	ct.goTo(site.url("acme", "/account/security"), 200)
	if got := ct.text(`table.passkeys tbody`); !strings.Contains(got, "Test laptop") {
		t.Fatalf("passkey list = %q", got)
	}
	ct.screenshot("passkeys-security", 1280)
	ct.screenshot("passkeys-security", 390)
	ct.wantCleanConsole("security page")
	ct.signOut()

	// Password, then the passkey as the second factor.
	ct.passwordLogin(site, "acme", "client@example.com", "/login/verify")
	ct.screenshot("passkeys-verify", 390)
	ct.press("use the passkey", `button[data-action="passkey-verify"]`, 200, "/portal")
	ct.signOut()

	// Passwordless.
	ct.goTo(site.url("acme", "/login"), 200)
	ct.screenshot("passkeys-login", 1280)
	ct.screenshot("passkeys-login", 390)
	// Keep the next answer, to replay it.
	chromeEval[bool](ct, "keep answers", `(function () {
	  var submit = HTMLFormElement.prototype.submit;
	  HTMLFormElement.prototype.submit = function () {
	    var c = this.querySelector('input[name=credential]');
	    if (c) { sessionStorage.setItem('answer', c.value); }
	    return submit.call(this);
	  };
	  return true;
	})()`)
	ct.press("sign in with a passkey", `button[data-action="passkey-signin"]`, 200, "/portal")
	ct.wantCleanConsole("passwordless sign-in")
	if e.auditCount(ws, "signin.passkey.ok") != 1 {
		t.Fatal("no signin.passkey.ok event")
	}
	answer := chromeEval[string](ct, "read the answer", `sessionStorage.getItem('answer') || ''`)
	if !strings.Contains(answer, `"authenticatorData"`) {
		t.Fatalf("kept answer = %q", answer)
	}
	ct.signOut()

	// A replayed assertion: the same answer posted again.
	ct.goTo(site.url("acme", "/login"), 200)
	ctx, cancel := context.WithTimeout(ct.ctx, chromeStepTimeout)
	replay := chromedp.Evaluate[bool](`(function () {
	  var f = document.querySelector('form[action="/login/passkey"]');
	  f.querySelector('input[name=credential]').value = sessionStorage.getItem('answer');
	  HTMLFormElement.prototype.submit.call(f);
	  return true;
	})()`)
	res, err := chromedp.RunResponse(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := replay(ctx, tg)
		return err
	}))
	cancel()
	if err != nil || res.Status != http.StatusUnauthorized {
		t.Fatalf("replayed assertion: %v, status %v", err, res)
	}
	if got := ct.text(`p.error`); !strings.Contains(got, "expired") {
		t.Fatalf("replay message = %q", got)
	}
	ct.goTo(site.url("acme", "/portal"), 200)
	if p := ct.path(); p != "/login" {
		t.Fatalf("after a replay the portal is at %s, want the sign-in page", p)
	}

	// A counter regression: the authenticator's counter is set back.
	before := ct.credentials(auth)[0].SignCount
	if before < 3 {
		t.Fatalf("sign count %v after three uses", before)
	}
	one := 1.0
	if _, err := chromedp.Call(ct.ctx, cdpwebauthn.SetCredentialProperties, cdpwebauthn.SetCredentialPropertiesParams{
		AuthenticatorID: auth, CredentialID: creds[0].CredentialID, SignCount: &one}); err != nil {
		t.Fatalf("WebAuthn.setCredentialProperties: %v", err)
	}
	ct.goTo(site.url("acme", "/login"), 200)
	ct.press("sign in with a cloned passkey", `button[data-action="passkey-signin"]`, http.StatusUnauthorized, "/login/passkey")
	if got := ct.text(`p.error`); !strings.Contains(got, "counter went backwards") {
		t.Fatalf("counter regression message = %q", got)
	}
	if e.auditCount(ws, "mfa.passkey.cloned") != 1 {
		t.Fatal("no mfa.passkey.cloned event")
	}

	// Workspace A's passkey never opens workspace B: the browser finds no
	// passkey for beta.localhost, and the page says so.
	ct.goTo(site.url("beta", "/login"), 200)
	ct.do("sign in on beta", chromedp.Click(chromedp.CSS(`button[data-action="passkey-signin"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`[data-passkey-error]`)))
	if p := ct.path(); p != "/login" {
		t.Fatalf("beta with acme's passkey landed on %s", p)
	}
	ct.goTo(site.url("beta", "/portal"), 200)
	if p := ct.path(); p != "/login" {
		t.Fatalf("beta's portal after acme's passkey is at %s, want the sign-in page", p)
	}
}

// TestBrowserPasskeyTwoInstances: on PostgreSQL, behind a proxy that sends
// every ceremony's begin to one instance and its finish to the other,
// registration, the second factor and passwordless sign-in all work.
func TestBrowserPasskeyTwoInstances(t *testing.T) {
	site := newLocalSite(t)
	e := newEnvAt(t, postgresBackend, site.base())
	other := e.instance()
	site.serve(e, other)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	ct := e.startChrome(t)
	ct.virtualAuthenticator()

	ct.passwordLogin(site, "acme", "client@example.com", "/portal")
	ct.goTo(site.url("acme", "/account/security"), 200)
	ct.do("name the passkey", chromedp.SendKeys(chromedp.CSS(`input[name=passkey_name]`), "Laptop", chromedp.NodeVisible))
	ct.press("add a passkey across instances", `button[data-action="passkey-register"]`, 200, "/account/security/passkeys")
	ct.goTo(site.url("acme", "/portal"), 200)
	ct.signOut()
	ct.passwordLogin(site, "acme", "client@example.com", "/login/verify")
	ct.press("second factor across instances", `button[data-action="passkey-verify"]`, 200, "/portal")
	ct.signOut()
	ct.goTo(site.url("acme", "/login"), 200)
	ct.press("passwordless across instances", `button[data-action="passkey-signin"]`, 200, "/portal")
	ct.wantCleanConsole("two instances")
	if n := site.begins.Load(); n != 3 {
		t.Fatalf("%d ceremonies were begun on the other instance, want 3", n)
	}
}
