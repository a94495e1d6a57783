package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/mail"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/password"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/postgres"
	"github.com/gatehouse-dev/gatehouse/secret"
	"github.com/gatehouse-dev/gatehouse/sqlite"
	"github.com/gatehouse-dev/gatehouse/twilio"
	"github.com/gatehouse-dev/gatehouse/twilio/twiliotest"
	"github.com/gatehouse-dev/gatehouse/web"
)

// clock is a fixed clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testStore is what a test reads and writes behind the server's back.
type testStore interface {
	gatehouse.Store
	mfa.Store
	mfa.PasskeyStore
	portal.Store
}

// backend opens stores of one kind over one database.
type backend struct {
	name string
	// database makes a fresh, empty database for tb and returns a function
	// that opens a store on it (one per instance), closed when tb ends.
	database func(tb testing.TB) func() testStore
}

var (
	sqliteBackend = backend{"sqlite", func(tb testing.TB) func() testStore {
		path := filepath.Join(tb.TempDir(), "gatehouse.db")
		return func() testStore {
			db, err := sqlite.Open(path)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { db.Close() })
			return db
		}
	}}
	postgresBackend = backend{"postgres", func(tb testing.TB) func() testStore {
		url := pgtest.Schema(tb)
		return func() testStore {
			db, err := postgres.Open(context.Background(), url)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { db.Close() })
			return db
		}
	}}
	backends = []backend{sqliteBackend, postgresBackend}
)

// env is a running Gatehouse on a real database behind a real listener.
type env struct {
	tb        testing.TB
	store     testStore
	accounts  *account.Service
	mfa       *mfa.Service
	hasher    *password.Hasher
	clock     *clock
	srv       *httptest.Server
	twilio    *twiliotest.Server
	outbox    *mail.Outbox
	keys      *secret.Keyring
	portal    *portal.Service
	maxUpload int64 // the server's upload limit; 0 for the default
	// readTimeout is the listener's read timeout; 0 for none.
	readTimeout time.Duration
	open        func() testStore // another store on the same database
	// portalStore, when set, wraps the store the portal service uses (to
	// make one of its writes fail).
	portalStore func(portal.Store) portal.Store
	base        string // the public base URL; baseURL when empty
}

// The fake Twilio account every test workspace can use.
const (
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "test-auth-token-0123456789"
	twilioFrom  = "+15005550006"
)

const baseURL = "http://gatehouse.test"

// goodPassword passes every rule.
const goodPassword = "correct horse battery staple"

// newEnv runs Gatehouse on a SQLite file.
func newEnv(tb testing.TB) *env { return newEnvOn(tb, sqliteBackend) }

// newEnvOn runs Gatehouse on a fresh database of backend b.
func newEnvOn(tb testing.TB, b backend) *env { return newEnvWith(tb, b, nil) }

// newEnvAt runs Gatehouse on a fresh database of backend b, serving the
// workspaces of base (such as http://localhost:PORT behind a proxy).
func newEnvAt(tb testing.TB, b backend, base string) *env {
	tb.Helper()
	return newEnvWith(tb, b, func(e *env) { e.base = base })
}

// newEnvWith is newEnvOn with settings changed by set before the start.
func newEnvWith(tb testing.TB, b backend, set func(*env)) *env {
	tb.Helper()
	open := b.database(tb)
	db := open()
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	keys, err := secret.NewKeyring(make([]byte, secret.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{
		tb: tb, store: db, open: open, keys: keys, base: baseURL,
		clock: &clock{now: time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)},
		// Cheap argon2id parameters keep the suite fast; the real ones are
		// measured by the password package's benchmark.
		hasher: password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0),
		twilio: twiliotest.NewServer(tb, twilioSID, twilioToken),
	}
	if set != nil {
		set(e)
	}
	e.start()
	return e
}

// instance returns another Gatehouse instance on the same database, with
// its own store, services, outbox worker and listener, sharing the clock,
// server key and Twilio, as a second process behind a load balancer.
func (e *env) instance() *env {
	e.tb.Helper()
	other := &env{tb: e.tb, store: e.open(), open: e.open, keys: e.keys, clock: e.clock, hasher: e.hasher, twilio: e.twilio, base: e.base}
	other.start()
	return other
}

// start wires the services and server over e.store and starts them.
func (e *env) start() {
	tb, db, clk := e.tb, e.store, e.clock
	sms := &twilio.Sender{Workspaces: db, Keys: e.keys, Validity: mfa.CodeTTL, Now: clk.Now, Client: &twilio.Client{APIBase: e.twilio.URL()}}
	e.outbox = &mail.Outbox{Store: db, Sender: mail.DevSender{Logger: discard()}, SMS: sms, Now: clk.Now, Logger: discard(),
		KeepSent: true} // tests read codes and links from the mail they sent
	e.accounts = &account.Service{
		Store: db, Hasher: e.hasher, Mailer: e.outbox, Jobs: e.outbox, Now: clk.Now, Logger: discard(),
		WorkspaceURL: func(slug string) string { return "http://" + slug + ".gatehouse.test" },
	}
	e.outbox.Jobs = e.accounts
	// The worker delivers for real (to the dev sender and the fake Twilio),
	// as in production, but only when a test runs it (env.deliver), or when
	// a request waits on a delivery: no goroutine races the assertions, and
	// tests move the fixed clock to make retries due.
	e.mfa = &mfa.Service{Store: db, Keys: e.keys, Mailer: e.outbox, Queue: syncQueue{e.outbox}, Now: clk.Now, Logger: discard()}
	var ps portal.Store = db
	if e.portalStore != nil {
		ps = e.portalStore(db)
	}
	e.portal = &portal.Service{Store: ps, Users: db, Audit: db, Mailer: e.outbox, Keys: e.keys, Now: clk.Now,
		Sniff: http.DetectContentType, MaxUpload: e.maxUpload, Logger: discard(),
		WorkspaceURL: func(slug string) string { return "http://" + slug + ".gatehouse.test" }}
	srv, err := web.NewServer(web.Options{Store: db, Accounts: e.accounts, MFA: e.mfa, BaseURL: e.base, DevOutbox: true, Logger: discard(),
		MailHTML: func(ctx context.Context, m gatehouse.Message) (string, error) { return mail.PreviewHTML(ctx, db, m) },
		Portal:   e.portal, MaxUploadBytes: e.maxUpload})
	if err != nil {
		tb.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(srv)
	e.srv.Config.ReadTimeout = e.readTimeout
	e.srv.Start()
	tb.Cleanup(e.srv.Close)
}

// workspace creates a workspace with an owner and a client, both with
// goodPassword.
func (e *env) workspace(slug string) *gatehouse.Workspace {
	e.tb.Helper()
	now := e.clock.Now()
	ws := gatehouse.NewWorkspace(slug, "WS "+slug, gatehouse.PlanPro, now)
	if err := e.store.CreateWorkspace(context.Background(), ws); err != nil {
		e.tb.Fatal(err)
	}
	e.user(ws, "owner@example.com", gatehouse.RoleOwner)
	e.user(ws, "client@example.com", gatehouse.RoleClient)
	return ws
}

// brandLikeDemo gives the workspace the demo's branding (`serve --demo`
// draws the same logo), so that screenshots show a branded workspace.
func (e *env) brandLikeDemo(ws *gatehouse.Workspace) {
	e.tb.Helper()
	raw, err := os.ReadFile("testdata/logo-harbour-pine.png")
	if err != nil {
		e.tb.Fatal(err)
	}
	logo, err := account.NormalizeLogo(raw)
	if err != nil {
		e.tb.Fatal(err)
	}
	now := e.clock.Now()
	if _, err := e.store.SetBrand(context.Background(), ws.ID, gatehouse.Brand{DisplayName: "Harbour & Pine Accountants", Accent: "#0f6b5c"},
		&gatehouse.Logo{ID: account.LogoID(logo), PNG: logo, UpdatedAt: now}, now, nil); err != nil {
		e.tb.Fatal(err)
	}
}

// personName is the name test users of a role go by: a person's name, as
// the pages (and their screenshots) would show one.
var personName = map[gatehouse.Role]string{
	gatehouse.RoleOwner: "Olivia Owens", gatehouse.RoleAdmin: "Adam Adeyemi",
	gatehouse.RoleMember: "Mei Martin", gatehouse.RoleClient: "Carlos Clarke",
}

func (e *env) user(ws *gatehouse.Workspace, email string, role gatehouse.Role) *gatehouse.User {
	e.tb.Helper()
	u, _, err := e.accounts.CreateUser(context.Background(), ws, account.NewUser{Email: email, Name: personName[role], Role: role, Password: goodPassword})
	if err != nil {
		e.tb.Fatal(err)
	}
	return u
}

// browser is a client with its own cookie jar that does not follow
// redirects, so tests see every 303.
type browser struct {
	tb        testing.TB
	env       *env
	client    *http.Client
	userAgent string // sent when set
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	addr := e.srv.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr) // every host name is this server
	}}
	e.tb.Cleanup(tr.CloseIdleConnections)
	return &browser{tb: e.tb, env: e, client: &http.Client{
		Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a read answer.
type response struct {
	*http.Response
	body string
}

func (r response) location() string { return r.Header.Get("Location") }

func (b *browser) do(req *http.Request) response {
	b.tb.Helper()
	if b.userAgent != "" {
		req.Header.Set("User-Agent", b.userAgent)
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.tb.Fatal(err)
	}
	return response{res, string(body)}
}

func (b *browser) get(rawURL string) response {
	b.tb.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		b.tb.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(rawURL string, form url.Values) response {
	b.tb.Helper()
	req, err := http.NewRequest("POST", rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login signs in and fails the test unless it lands on want.
func (b *browser) login(slug, email, pw, want string) response {
	b.tb.Helper()
	res := b.post(wsURL(slug, "/login"), url.Values{"email": {email}, "password": {pw}})
	if res.StatusCode != http.StatusSeeOther || res.location() != want {
		b.tb.Fatalf("login %s: status %d location %q, want 303 %q\n%s", email, res.StatusCode, res.location(), want, res.body)
	}
	return res
}

// cookie returns the session cookie the browser holds for the workspace.
func (b *browser) cookie(slug string) string {
	u, _ := url.Parse(wsURL(slug, "/"))
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "gatehouse_session" {
			return c.Value
		}
	}
	return ""
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func wsURL(slug, path string) string { return "http://" + slug + ".gatehouse.test" + path }

var linkRE = regexp.MustCompile(`http://[a-z0-9-]+\.gatehouse\.test(/[A-Za-z0-9_/\-]+)`)

// lastLink returns the path of the link in the newest mail to the address,
// after the worker's turn.
func (e *env) lastLink(to string) string {
	e.tb.Helper()
	e.deliver()
	ms, err := e.store.ListMessages(context.Background(), 100)
	if err != nil {
		e.tb.Fatal(err)
	}
	for _, m := range ms {
		if m.To == to {
			if l := linkRE.FindStringSubmatch(m.Body); l != nil {
				return l[1]
			}
		}
	}
	e.tb.Fatalf("no mail with a link to %s", to)
	return ""
}

func (e *env) mailCount(to string) int {
	e.tb.Helper()
	e.deliver()
	ms, err := e.store.ListMessages(context.Background(), 1000)
	if err != nil {
		e.tb.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.To == to {
			n++
		}
	}
	return n
}

func wantStatus(tb testing.TB, what string, res response, status int) {
	tb.Helper()
	if res.StatusCode != status {
		tb.Fatalf("%s: status %d, want %d\n%s", what, res.StatusCode, status, res.body)
	}
}

func wantBody(tb testing.TB, what string, res response, substr string) {
	tb.Helper()
	if !strings.Contains(res.body, substr) {
		tb.Fatalf("%s: body lacks %q:\n%s", what, substr, res.body)
	}
}

// setMFA changes a workspace's plan and two-factor settings in the store,
// as the owner or the CLI would.
func (e *env) setMFA(slug string, plan gatehouse.Plan, mode gatehouse.MFAMode, methods ...gatehouse.Method) {
	e.tb.Helper()
	ws, err := e.store.FindWorkspaceBySlug(context.Background(), slug)
	if err != nil {
		e.tb.Fatal(err)
	}
	upd := gatehouse.WorkspaceUpdate{Plan: &plan, MFAMode: &mode}
	if len(methods) > 0 {
		upd.MFAMethods = &methods
	}
	if ws, err = e.store.UpdateWorkspace(context.Background(), ws.ID, upd, e.clock.Now()); err != nil {
		e.tb.Fatal(err)
	}
}

var (
	secretRE   = regexp.MustCompile(`data-totp-secret="([A-Z2-7]+)"`)
	uriRE      = regexp.MustCompile(`data-otpauth-uri="(otpauth://[^"]+)"`)
	recoveryRE = regexp.MustCompile(`class="recovery-code">([0-9a-z-]+)<`)
	codeRE     = regexp.MustCompile(`code is (\d{6})`)
)

// enrollTOTP sets up the authenticator app for the signed-in browser and
// returns the secret and the recovery codes shown.
func (b *browser) enrollTOTP(slug string) (string, []string) {
	b.tb.Helper()
	res := b.post(wsURL(slug, "/account/security/totp/start"), nil)
	wantStatus(b.tb, "totp start", res, http.StatusOK)
	m := secretRE.FindStringSubmatch(res.body)
	if m == nil || !uriRE.MatchString(res.body) {
		b.tb.Fatalf("no data-totp-secret / data-otpauth-uri:\n%s", res.body)
	}
	res = b.post(wsURL(slug, "/account/security/totp/confirm"), url.Values{"code": {b.env.totpCode(m[1])}})
	wantStatus(b.tb, "totp confirm", res, http.StatusOK)
	var codes []string
	for _, c := range recoveryRE.FindAllStringSubmatch(res.body, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != 8 {
		b.tb.Fatalf("%d recovery codes shown, want 8:\n%s", len(codes), res.body)
	}
	return m[1], codes
}

// totpCode is the app's code now. Each call moves the clock to the next
// 30-second step first, since a step is accepted only once.
func (e *env) totpCode(secret string) string {
	e.tb.Helper()
	e.clock.Advance(30 * time.Second)
	code, err := mfa.TOTPCode(secret, e.clock.Now())
	if err != nil {
		e.tb.Fatal(err)
	}
	return code
}

// lastCode returns the newest e-mailed code to the address.
func (e *env) lastCode(to string) string {
	e.tb.Helper()
	e.deliver()
	ms, err := e.store.ListMessages(context.Background(), 100)
	if err != nil {
		e.tb.Fatal(err)
	}
	for _, m := range ms {
		if m.To == to {
			if c := codeRE.FindStringSubmatch(m.Body); c != nil {
				return c[1]
			}
		}
	}
	e.tb.Fatalf("no code mailed to %s", to)
	return ""
}

// setTwilio gives the workspace the fake Twilio account and allows SMS.
func (e *env) setTwilio(slug string, methods ...gatehouse.Method) *gatehouse.Workspace {
	e.tb.Helper()
	ws, err := e.store.FindWorkspaceBySlug(context.Background(), slug)
	if err != nil {
		e.tb.Fatal(err)
	}
	acct, err := e.mfa.TwilioAccount(ws, twilioSID, twilioToken, twilioFrom)
	if err != nil {
		e.tb.Fatal(err)
	}
	upd := gatehouse.WorkspaceUpdate{Twilio: &acct}
	if len(methods) > 0 {
		upd.MFAMethods = &methods
	}
	if ws, err = e.store.UpdateWorkspace(context.Background(), ws.ID, upd, e.clock.Now()); err != nil {
		e.tb.Fatal(err)
	}
	return ws
}

var smsCodeRE = regexp.MustCompile(`^(\d{6}) is your`)

// lastSMS returns the code in the newest text the fake Twilio accepted for to.
func (e *env) lastSMS(to string) string {
	e.tb.Helper()
	msgs := e.twilio.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			if m := smsCodeRE.FindStringSubmatch(msgs[i].Body); m != nil {
				return m[1]
			}
		}
	}
	e.tb.Fatalf("no text to %s among %d", to, len(msgs))
	return ""
}

// deliver runs the outbox worker until nothing is due: queued jobs run and
// the mail they queue goes out.
func (e *env) deliver() {
	e.tb.Helper()
	if _, _, err := e.outbox.Flush(context.Background()); err != nil {
		e.tb.Fatal(err)
	}
}

// syncQueue is the outbox for the mfa service, running the worker when a
// request waits on a delivery (an SMS code), where production's worker runs
// beside the server.
type syncQueue struct{ *mail.Outbox }

func (q syncQueue) Await(ctx context.Context, id int64, timeout time.Duration) (*gatehouse.Message, error) {
	if _, _, err := q.Flush(ctx); err != nil {
		return nil, err
	}
	return q.Outbox.Await(ctx, id, timeout)
}
