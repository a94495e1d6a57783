package web_test

// Browser tests: the pages that need JavaScript (the TOTP QR code drawn by
// static/vendor/qrcode.js + static/totp-qr.js, the resend countdown of
// static/countdown.js) are driven in real headless Chromium, under the real
// Content-Security-Policy of the server, through chromedp.
//
// Without a chromium binary these tests skip loudly; .ci/run installs
// Debian's chromium and sets GATEHOUSE_REQUIRE_BROWSER=1, which turns the
// skip into a failure.

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/gatehouse-dev/gatehouse"
)

// chromeTimeout bounds one browser test from the start of Chromium to the
// last check; chromeStepTimeout bounds each step (a page that never draws
// fails well before the end of the whole budget). Both bound a hang, not
// speed: CI runs them under the race detector beside other packages' tests
// on two cores, where injecting axe-core alone once took over 10 s.
const (
	chromeTimeout     = 90 * time.Second
	chromeStepTimeout = 30 * time.Second
)

// chromeCSPProbe runs in every document before the page's own scripts (it is
// injected through DevTools, so the CSP does not apply to it) and records the
// page's securitypolicyviolation events.
const chromeCSPProbe = `(function () {
  var seen = [];
  Object.defineProperty(window, '__gatehouseCSPViolations', {value: seen});
  document.addEventListener('securitypolicyviolation', function (e) {
    seen.push(e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') +
      ' at ' + (e.sourceFile || location.pathname) + ':' + e.lineNumber);
  }, true);
})();`

// chromePath finds Chromium, or skips the test loudly (fails it under
// GATEHOUSE_REQUIRE_BROWSER=1, as in CI).
func chromePath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	const msg = "chromium not found: browser tests SKIPPED; .ci/run installs it (apt-get install chromium)"
	if os.Getenv("GATEHOUSE_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " — and GATEHOUSE_REQUIRE_BROWSER=1 forbids skipping")
	}
	t.Log("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")
	t.Skip("!!! " + msg + " !!!")
	return ""
}

// chromeTab is a tab of a headless Chromium for which every *.gatehouse.test
// host is the env's test server.
type chromeTab struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []string // console errors and warnings, exceptions, CSP reports
	csp     []string // the subset that mentions the Content Security Policy
}

// startChrome starts Chromium for the env and opens a tab. The browser is
// closed in t.Cleanup, before the env's server.
func (e *env) startChrome(t *testing.T) *chromeTab {
	t.Helper()
	return e.startChromeFor(t, chromeTimeout)
}

// startChromeFor is startChrome for a test whose browser steps may take up
// to budget in all.
func (e *env) startChromeFor(t *testing.T, budget time.Duration) *chromeTab {
	t.Helper()
	execPath := chromePath(t)
	addr := e.srv.Listener.Addr().String() // 127.0.0.1:PORT
	rules := fmt.Sprintf("MAP *.gatehouse.test %s, MAP gatehouse.test %s", addr, addr)

	var out chromeOutput
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), // own profile: parallel packages don't clash
		chromedp.WindowSize(1024, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", rules),
		chromedp.CombinedOutput(&out),
	)
	root, cancelRoot := context.WithTimeout(context.Background(), budget)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	var tab *chromeTab // set once the tab is open
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil && root.Err() == nil {
			t.Logf("closing chromium: %v", err)
		}
		cancelTab()
		cancelAlloc() // waits for the process, before t.TempDir is removed
		cancelRoot()
		if t.Failed() {
			if ct := tab; ct != nil {
				console, _ := ct.messages()
				t.Logf("page console (errors, warnings, CSP reports):\n  %s", strings.Join(console, "\n  "))
			}
			t.Logf("chromium output (tail):\n%s", out.tail(4000))
		}
	})

	start := time.Now()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, opens the tab
		t.Fatalf("starting chromium %s: %v\n%s", execPath, err, out.tail(4000))
	}
	ct := &chromeTab{t: t, ctx: ctx}
	tab = ct
	if err := chromedp.Listen(ctx, ct.onEvent); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: chromeCSPProbe}); err != nil {
		t.Fatal(err)
	}
	t.Logf("chromium %s started in %v", execPath, time.Since(start).Round(time.Millisecond))
	return ct
}

// onEvent runs in chromedp's read loop: it only records.
func (ct *chromeTab) onEvent(ev any) {
	var kind, text string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			if s := consoleArgs(ev.Args); !strings.Contains(s, "Content Security Policy") {
				return
			}
		}
		kind, text = "console."+string(ev.Type), consoleArgs(ev.Args)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		kind, text = "exception", d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		en := ev.Entry
		if en.Level != log.EntryLevelError && en.Level != log.EntryLevelWarning &&
			!strings.Contains(en.Text, "Content Security Policy") {
			return
		}
		kind, text = "log."+string(en.Source)+"."+string(en.Level), en.Text+" ("+en.URL+")"
	default:
		return
	}
	msg := kind + ": " + text
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.console = append(ct.console, msg)
	if strings.Contains(text, "Content Security Policy") {
		ct.csp = append(ct.csp, msg)
	}
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		default:
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

// messages returns what the console listener recorded so far.
func (ct *chromeTab) messages() (console, csp []string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return append([]string(nil), ct.console...), append([]string(nil), ct.csp...)
}

// do runs actions in the tab and fails the test on error.
func (ct *chromeTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	ct.t.Helper()
	ctx, cancel := context.WithTimeout(ct.ctx, chromeStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		ct.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value, within chromeStepTimeout.
func chromeRun[T any](ct *chromeTab, what string, a chromedp.Action[T]) T {
	ct.t.Helper()
	ctx, cancel := context.WithTimeout(ct.ctx, chromeStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		ct.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// chromeEval evaluates a JavaScript expression in the page.
func chromeEval[T any](ct *chromeTab, what, expr string) T {
	ct.t.Helper()
	ctx, cancel := context.WithTimeout(ct.ctx, chromeStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		ct.t.Fatalf("%s: evaluating %s: %v", what, expr, err)
	}
	return v
}

// path is the path of the page the tab shows.
func (ct *chromeTab) path() string {
	ct.t.Helper()
	u, err := url.Parse(chromeRun(ct, "location", chromedp.Location()))
	if err != nil {
		ct.t.Fatal(err)
	}
	return u.Path
}

// submit clicks a button that submits a form, waits for the next page and
// checks where it landed.
func (ct *chromeTab) submit(what, button, wantPath string) {
	ct.t.Helper()
	ctx, cancel := context.WithTimeout(ct.ctx, chromeStepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible))
	if err != nil {
		ct.t.Fatalf("%s: %v", what, err)
	}
	if res.Status != 200 {
		ct.t.Fatalf("%s: status %d on %s", what, res.Status, res.URL)
	}
	if p := ct.path(); p != wantPath {
		ct.t.Fatalf("%s: landed on %s, want %s", what, p, wantPath)
	}
}

// open navigates to a workspace page and checks its status.
func (ct *chromeTab) open(slug, path string) {
	ct.t.Helper()
	res := chromeRun(ct, "open "+path, chromedp.NavigateResponse(wsURL(slug, path)))
	if res.Status != 200 {
		ct.t.Fatalf("open %s: status %d", path, res.Status)
	}
}

// login signs in through the sign-in form, as a person would.
func (ct *chromeTab) login(slug, email, pw, wantPath string) {
	ct.t.Helper()
	ct.open(slug, "/login")
	ct.do("fill the sign-in form",
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name=email]`), email, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name=password]`), pw, chromedp.NodeVisible),
	)
	ct.submit("sign in as "+email, `form[action="/login"] button[type=submit]`, wantPath)
}

// wantCleanConsole fails the test on any CSP violation (seen by the page's
// securitypolicyviolation listener or reported by the browser) and on any
// console error, warning or uncaught exception so far.
func (ct *chromeTab) wantCleanConsole(where string) {
	ct.t.Helper()
	violations := chromeEval[[]string](ct, where, `window.__gatehouseCSPViolations || ["CSP probe missing: the injected script did not run"]`)
	console, csp := ct.messages()
	if len(violations) > 0 || len(csp) > 0 {
		ct.t.Fatalf("%s: Content Security Policy violations:\n  page: %q\n  browser: %q", where, violations, csp)
	}
	if len(console) > 0 {
		ct.t.Fatalf("%s: console errors/warnings:\n  %s", where, strings.Join(console, "\n  "))
	}
}

// TestBrowserTOTPEnrollmentQR signs in with Chromium, starts authenticator-app
// enrolment, and checks that the QR code the page draws under the real CSP
// scans to the page's otpauth:// URI; then it types the app's code and gets
// the 8 recovery codes.
func TestBrowserTOTPEnrollmentQR(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	ct := e.startChrome(t)
	start := time.Now()

	ct.login("acme", "owner@example.com", goodPassword, "/dashboard")
	ct.open("acme", "/account/security")
	ct.submit("set up the authenticator app", `form[action="/account/security/totp/start"] button[type=submit]`, "/account/security/totp/start")
	ct.do("wait for the QR code", chromedp.WaitVisible(chromedp.CSS(`.totp-setup .qr-target svg.qr-code`)))

	uri := chromeRun(ct, "read the URI", chromedp.AttributeValue(chromedp.CSS(`.totp-setup`), "data-otpauth-uri"))
	if !strings.HasPrefix(uri.Value, "otpauth://totp/") {
		t.Fatalf("data-otpauth-uri = %q", uri.Value)
	}
	secret := chromeRun(ct, "read the secret", chromedp.AttributeValue(chromedp.CSS(`.totp-setup`), "data-totp-secret"))
	if !regexp.MustCompile(`^[A-Z2-7]{16,}$`).MatchString(secret.Value) {
		t.Fatalf("data-totp-secret = %q", secret.Value)
	}
	if u, err := url.Parse(uri.Value); err != nil || u.Query().Get("secret") != secret.Value {
		t.Fatalf("the URI %q does not carry the secret %q", uri.Value, secret.Value)
	}
	// The scripts ran (the CSP let them): the library is there and the
	// drawing script marked its element.
	type drawn struct {
		Library  string `json:"library"`
		Rendered string `json:"rendered"`
		SVGs     int    `json:"svgs"`
	}
	d := chromeEval[drawn](ct, "QR state", `({
	  library: typeof window.qrcode,
	  rendered: document.querySelector('.totp-setup').getAttribute('data-qr-rendered'),
	  svgs: document.querySelectorAll('.qr-target svg.qr-code').length
	})`)
	if d.Library != "function" || d.Rendered != "true" || d.SVGs != 1 {
		t.Fatalf("QR scripts: %+v, want window.qrcode a function, data-qr-rendered=true, 1 svg", d)
	}

	// Scan the QR code as a phone would: from the pixels of the page.
	shot := chromeRun(ct, "screenshot of the QR code", chromedp.Screenshot(chromedp.CSS(`.totp-setup .qr`), chromedp.NodeVisible))
	if dir := t.ArtifactDir(); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "totp-qr.png"), shot, 0o644)
	}
	got, err := decodeQR(shot)
	if err != nil {
		t.Fatalf("the QR code on the page does not scan: %v", err)
	}
	if got != uri.Value {
		t.Fatalf("the QR code scans to\n  %q\nwant the page's otpauth URI\n  %q", got, uri.Value)
	}
	ct.wantCleanConsole("enrolment page")

	// Type the app's current code and turn the method on.
	code := e.totpCode(secret.Value) // moves the fixed clock to the next 30 s step
	ct.do("type the app's code",
		chromedp.SendKeys(chromedp.CSS(`form[action="/account/security/totp/confirm"] input[name=code]`), code, chromedp.NodeVisible))
	ct.submit("turn on the authenticator app", `form[action="/account/security/totp/confirm"] button[type=submit]`, "/account/security/totp/confirm")
	if n := chromeEval[int](ct, "recovery codes", `document.querySelectorAll('.recovery-code').length`); n != 8 {
		body := chromeRun(ct, "page", chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%d .recovery-code elements shown, want 8:\n%s", n, body)
	}
	ct.wantCleanConsole("recovery codes page")

	// The two CSP detectors above can see a violation: an inline script is
	// refused here, and both report it.
	if ran := chromeEval[bool](ct, "inline script", `(function () {
	  var s = document.createElement('script');
	  s.textContent = 'window.__gatehouseInlineRan = true';
	  document.body.appendChild(s);
	  return window.__gatehouseInlineRan === true;
	})()`); ran {
		t.Fatal("an inline script ran: the page has no CSP against inline scripts")
	}
	chromeRun(ct, "the securitypolicyviolation probe sees a refused inline script",
		chromedp.Poll[bool](`window.__gatehouseCSPViolations.length > 0`, chromedp.WithPollingTimeout(5*time.Second)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, csp := ct.messages(); len(csp) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the console listener missed the CSP report of a refused inline script")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("browser steps took %v", time.Since(start).Round(time.Millisecond))
}

// decodeQR reads the QR code in a PNG.
func decodeQR(pngBytes []byte) (string, error) {
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		return "", err
	}
	if b := img.Bounds(); b.Dx() < 50 || b.Dy() < 50 {
		return "", fmt.Errorf("image is only %v", b.Size())
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{
		gozxing.DecodeHintType_TRY_HARDER: true,
	})
	if err != nil {
		return "", fmt.Errorf("%w (image %v)", err, img.Bounds().Size())
	}
	return res.GetText(), nil
}

var countdownRE = regexp.MustCompile(`^Send a new code \((\d+)s\)$`)

// TestBrowserResendCountdown checks that countdown.js, under the CSP,
// disables the resend button of the e-mail code page and counts down.
func TestBrowserResendCountdown(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme")
	e.setMFA("acme", gatehouse.PlanPro, gatehouse.MFAOptional)
	b := e.browser()
	b.login("acme", "client@example.com", goodPassword, "/portal")
	b.enableEmail("acme", "client@example.com")
	e.clock.Advance(61 * time.Second) // enabling sent a code: the minute is per user

	ct := e.startChrome(t)
	start := time.Now()
	ct.login("acme", "client@example.com", goodPassword, "/login/verify")
	const button = `form[action="/login/verify/resend"] button[data-countdown-seconds]`
	ct.do("wait for the resend button", chromedp.WaitVisible(chromedp.CSS(button)))
	chromeRun(ct, "wait for the page to load",
		chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(5*time.Second)))
	type state struct {
		Seconds  string `json:"seconds"`
		Disabled bool   `json:"disabled"`
		Aria     string `json:"aria"`
		Counting bool   `json:"counting"`
		Label    string `json:"label"`
	}
	read := func() state {
		return chromeEval[state](ct, "resend button", `(function (b) {
		  return {seconds: b.getAttribute('data-countdown-seconds'), disabled: b.disabled,
		    aria: b.getAttribute('aria-disabled') || '', counting: b.classList.contains('is-counting'),
		    label: b.textContent.trim()};
		})(document.querySelector('`+button+`'))`)
	}
	s := read()
	m := countdownRE.FindStringSubmatch(s.Label)
	if s.Seconds != "60" || !s.Disabled || s.Aria != "true" || !s.Counting || m == nil {
		t.Fatalf("resend button after load: %+v, want data-countdown-seconds=60, disabled, aria-disabled, class is-counting, label %q", s, "Send a new code (Ns)")
	}
	first, _ := strconv.Atoi(m[1])
	if first < 55 || first > 60 {
		t.Fatalf("countdown starts at %ds, want about 60", first)
	}
	// It runs: the number goes down within about a second.
	var next int
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s = read()
		m = countdownRE.FindStringSubmatch(s.Label)
		if m == nil || !s.Disabled {
			t.Fatalf("resend button while counting: %+v", s)
		}
		if next, _ = strconv.Atoi(m[1]); next < first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the countdown did not move from %ds in 3 s", first)
		}
	}
	t.Logf("countdown %ds → %ds", first, next)
	ct.wantCleanConsole("verify page")
	t.Logf("browser steps took %v", time.Since(start).Round(time.Millisecond))
}

// chromeOutput keeps Chromium's stdout/stderr for failure reports.
type chromeOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *chromeOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return o.buf.Write(p)
}

func (o *chromeOutput) tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var keep []string
	for _, l := range strings.Split(o.buf.String(), "\n") {
		if !strings.Contains(l, "dbus") { // no D-Bus in containers: noise
			keep = append(keep, l)
		}
	}
	s := strings.Join(keep, "\n")
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
