package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// testBaseURL is the base URL the serve tests run under; testClient dials
// the server whatever the host, so no name needs to resolve.
const testBaseURL = "http://gatehouse.test"

// server is a `gatehouse serve` running in-process.
type server struct {
	addr           string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int // receives Run's exit code
	code           *int     // set once Run has returned
}

// startServe runs `gatehouse serve args...` in a goroutine and waits until it
// listens. The server is stopped when the test ends, if the test has not
// stopped it.
func startServe(tb testing.TB, env map[string]string, args ...string) *server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	m := newMain(env, s.stdout, s.stderr)
	m.Ready = ready
	go func() { s.done <- m.Run(ctx, append([]string{"serve"}, args...)) }()
	tb.Cleanup(func() {
		if s.code == nil {
			s.stop(tb)
		}
	})
	select {
	case s.addr = <-ready:
	case code := <-s.done:
		s.code = &code
		tb.Fatalf("serve exited %d before listening\n--- stdout:\n%s--- stderr:\n%s", code, s.stdout, s.stderr)
	case <-time.After(60 * time.Second):
		tb.Fatalf("serve did not listen within a minute\n--- stdout:\n%s--- stderr:\n%s", s.stdout, s.stderr)
	}
	return s
}

// stop cancels serve's context and returns its exit code, failing the test
// unless it returns promptly: shutdown must be graceful, not hang.
func (s *server) stop(tb testing.TB) int {
	tb.Helper()
	if s.code != nil {
		return *s.code
	}
	s.cancel()
	select {
	case code := <-s.done:
		s.code = &code
		return code
	case <-time.After(15 * time.Second):
		tb.Fatalf("serve did not return within 15s of cancellation\n--- stderr:\n%s", s.stderr)
		return -1
	}
}

// waitStdout waits until serve's stdout matches re and returns the submatches.
func (s *server) waitStdout(tb testing.TB, re *regexp.Regexp) []string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(s.stdout.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			tb.Fatalf("stdout never matched %s:\n%s", re, s.stdout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testClient returns a client that sends every request to addr whatever the
// URL's host, keeps cookies and does not follow redirects.
func testClient(tb testing.TB, addr string) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get fetches url and returns the response with its body read.
func get(tb testing.TB, c *http.Client, url string) (*http.Response, string) {
	tb.Helper()
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	return resp, readBody(tb, resp)
}

func readBody(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read %s: %v", resp.Request.URL, err)
	}
	return string(b)
}

// wantStatus fails the test unless GET url answers status.
func wantStatus(tb testing.TB, c *http.Client, url string, status int) string {
	tb.Helper()
	resp, body := get(tb, c, url)
	if resp.StatusCode != status {
		tb.Errorf("GET %s = %d, want %d\n%s", url, resp.StatusCode, status, body)
	}
	return body
}

// login posts the login form of the demo workspace and returns the response.
func login(tb testing.TB, c *http.Client, email, password string) *http.Response {
	tb.Helper()
	u := "http://demo.gatehouse.test/login"
	resp, err := c.PostForm(u, url.Values{"email": {email}, "password": {password}})
	if err != nil {
		tb.Fatalf("POST %s: %v", u, err)
	}
	readBody(tb, resp)
	return resp
}

var (
	ownerLoginRE  = regexp.MustCompile(`owner@demo\.localhost\s+password (\S+)`)
	clientLoginRE = regexp.MustCompile(`client@demo\.localhost\s+password (\S+)`)
)

func TestServeDemo(t *testing.T) {
	env, dir := newEnv(t)
	testServeDemo(t, env, func(tb testing.TB) gatehouse.Store { return openSQLite(tb, dir) })
}

// testServeDemo runs `serve --demo` in env, signs in as the printed owner and
// client, restarts it (no second seeding) and restarts it without --demo.
func testServeDemo(t *testing.T, env map[string]string, open func(testing.TB) gatehouse.Store) {
	t.Helper()
	srv := startServe(t, env, "--demo", "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	c := testClient(t, srv.addr)

	if body := wantStatus(t, c, testBaseURL+"/healthz", http.StatusOK); body != "ok" {
		t.Errorf("/healthz body = %q, want ok", body)
	}
	wantStatus(t, c, "http://demo.gatehouse.test/login", http.StatusOK)
	wantStatus(t, c, "http://DEMO.gatehouse.test/login", http.StatusOK)
	wantStatus(t, c, "http://nope.gatehouse.test/login", http.StatusNotFound)
	// Probes come by address: /healthz answers on any Host (SPEC §9).
	wantStatus(t, c, "http://elsewhere.example/healthz", http.StatusOK)
	wantStatus(t, c, "http://127.0.0.1/healthz", http.StatusOK)
	wantStatus(t, c, "http://elsewhere.example/login", http.StatusNotFound)
	// The portal's seeded notifications are sent in the workspace's brand,
	// which the demo sets before it seeds them.
	if body := wantStatus(t, c, testBaseURL+"/_dev/outbox", http.StatusOK); !strings.Contains(body, "— Harbour &amp; Pine Accountants") ||
		strings.Contains(body, "— Demo<") {
		t.Errorf("the demo's notification subjects do not carry its brand:\n%s", body)
	}
	if body := wantStatus(t, c, "http://demo.gatehouse.test/api/v1/me", http.StatusUnauthorized); !strings.Contains(body, "unauthenticated") {
		t.Errorf("/api/v1/me without a session: %s", body)
	}

	ownerPassword := srv.waitStdout(t, ownerLoginRE)[1]
	clientPassword := srv.waitStdout(t, clientLoginRE)[1]
	if out := srv.stdout.String(); !strings.Contains(out, "Sign in at http://demo.gatehouse.test/login") ||
		!strings.Contains(out, testBaseURL+"/_dev/outbox") {
		t.Errorf("demo banner does not point at the base URL:\n%s", out)
	}

	// A wrong password is refused without a session.
	if resp := login(t, testClient(t, srv.addr), "owner@demo.localhost", ownerPassword+"x"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a wrong password = %d, want 401", resp.StatusCode)
	}

	checkOwner := func(tb testing.TB, c *http.Client) {
		tb.Helper()
		resp := login(tb, c, "owner@demo.localhost", ownerPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard" {
			tb.Fatalf("owner login = %d to %q, want 303 to /dashboard", resp.StatusCode, resp.Header.Get("Location"))
		}
		var session *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "gatehouse_session" {
				session = ck
			}
		}
		if session == nil || session.Value == "" || !session.HttpOnly {
			tb.Fatalf("owner login set no HttpOnly session cookie: %v", resp.Cookies())
		}
		resp, err := c.Get("http://demo.gatehouse.test/api/v1/me")
		if err != nil {
			tb.Fatal(err)
		}
		body := readBody(tb, resp)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			tb.Fatalf("/api/v1/me = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		var me struct {
			Role string `json:"role"`
			User struct {
				Email string `json:"email"`
			} `json:"user"`
			Workspace struct {
				Slug, Plan string
			} `json:"workspace"`
		}
		if err := json.Unmarshal([]byte(body), &me); err != nil {
			tb.Fatalf("/api/v1/me: %v: %s", err, body)
		}
		if me.Role != "owner" || me.User.Email != "owner@demo.localhost" || me.Workspace.Slug != "demo" || me.Workspace.Plan != "pro" {
			tb.Errorf("/api/v1/me = %s", body)
		}
		// The session is host-only: another host does not see it.
		if resp, _ := get(tb, c, "http://other.gatehouse.test/api/v1/me"); resp.StatusCode == http.StatusOK {
			tb.Errorf("the session works on another host")
		}
	}
	checkOwner(t, c)

	cc := testClient(t, srv.addr)
	if resp := login(t, cc, "client@demo.localhost", clientPassword); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal" {
		t.Errorf("client login = %d to %q, want 303 to /portal", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The demo client space is a portal in use: documents, an open request,
	// a conversation; its documents download.
	home := wantStatus(t, cc, "http://demo.gatehouse.test/portal", http.StatusOK)
	for _, want := range []string{"Proof of address", "Engagement letter", "Payroll summary, May", "invoices-", "Welcome to your client portal"} {
		if !strings.Contains(home+wantStatus(t, cc, "http://demo.gatehouse.test/portal/documents", http.StatusOK), want) {
			t.Errorf("demo portal lacks %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`class="document-link" href="(/documents/\d+)">(Engagement|invoices)`).FindAllStringSubmatch(home, -1) {
		wantStatus(t, cc, "http://demo.gatehouse.test"+m[1], http.StatusOK)
	}
	// A reset request leaves its work to the server's outbox worker (wired
	// to the account service), which mails the link soon after the answer.
	resp, err := testClient(t, srv.addr).PostForm("http://demo.gatehouse.test/password/forgot", url.Values{"email": {"client@demo.localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("forgot password = %d, want 303", resp.StatusCode)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(wantStatus(t, c, testBaseURL+"/_dev/outbox", http.StatusOK), "Reset your"); {
		if time.Now().After(deadline) {
			t.Fatal("the running server never mailed the reset link")
		}
		time.Sleep(10 * time.Millisecond) // the server's own worker, in its own goroutine
	}
	// The dev outbox shows each e-mail's HTML part too, as SMTP would send it.
	mailHref := regexp.MustCompile(`href="(/_dev/outbox/\d+)"`).FindStringSubmatch(wantStatus(t, c, testBaseURL+"/_dev/outbox", http.StatusOK))
	if mailHref == nil {
		t.Fatal("the dev outbox does not link to the HTML e-mail")
	}
	if html := wantStatus(t, c, testBaseURL+mailHref[1], http.StatusOK); !strings.Contains(html, "Reset your") || !strings.Contains(html, "<!DOCTYPE html>") ||
		!strings.Contains(html, "Harbour &amp; Pine Accountants") || !strings.Contains(html, demoAccent) || !strings.Contains(html, `src="data:image/png;base64,`) {
		t.Errorf("HTML e-mail of the reset:\n%s", html)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve exited %d after cancellation, want 0\n--- stderr:\n%s", code, srv.stderr)
	}

	s := open(t)
	ws := mustWorkspace(t, s, "demo")
	if ws.Plan != gatehouse.PlanPro {
		t.Errorf("demo plan = %s, want pro", ws.Plan)
	}
	// The first look is a branded workspace: name, accent and logo.
	if b := ws.Brand; b.DisplayName != demoDisplayName || b.Accent != demoAccent || b.Logo == "" {
		t.Errorf("demo brand = %+v, want %q, %s and a logo", b, demoDisplayName, demoAccent)
	}
	// SPEC §12: mode optional, methods passkey,totp,email.
	if ws.MFA.Mode != gatehouse.MFAOptional || !slices.Equal(ws.MFA.Methods, []gatehouse.Method{gatehouse.MethodPasskey, gatehouse.MethodTOTP, gatehouse.MethodEmail}) {
		t.Errorf("demo two-step settings = %+v, want mode optional, methods passkey,totp,email", ws.MFA)
	}
	checkPassword(t, mustUser(t, s, ws, "owner@demo.localhost"), ownerPassword)
	if u := mustUser(t, s, ws, "client@demo.localhost"); u.Role != gatehouse.RoleClient {
		t.Errorf("demo client has role %s", u.Role)
	}
	if n, err := s.CountWorkspaces(context.Background()); err != nil || n != 1 {
		t.Errorf("CountWorkspaces = %d, %v; want 1", n, err)
	}

	// A second --demo run on the same store does not seed again, and the
	// logins printed the first time still work. GATEHOUSE_ADDR is honoured.
	env2 := map[string]string{"GATEHOUSE_ADDR": "127.0.0.1:0"}
	for k, v := range env {
		env2[k] = v
	}
	srv = startServe(t, env2, "--demo", "--base-url", testBaseURL)
	srv.waitStdout(t, regexp.MustCompile(`already has workspaces`))
	if out := srv.stdout.String(); strings.Contains(out, "password") {
		t.Errorf("the second --demo run printed logins:\n%s", out)
	}
	c = testClient(t, srv.addr)
	wantStatus(t, c, testBaseURL+"/healthz", http.StatusOK)
	wantStatus(t, c, testBaseURL+"/_dev/outbox", http.StatusOK)
	checkOwner(t, c)
	if code := srv.stop(t); code != 0 {
		t.Errorf("second serve exited %d, want 0\n--- stderr:\n%s", code, srv.stderr)
	}
	if n, err := s.CountWorkspaces(context.Background()); err != nil || n != 1 {
		t.Errorf("after the second run CountWorkspaces = %d, %v; want 1", n, err)
	}

	// Without --demo there is no outbox page, and nothing is seeded or printed.
	srv = startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	c = testClient(t, srv.addr)
	wantStatus(t, c, testBaseURL+"/_dev/outbox", http.StatusNotFound)
	wantStatus(t, c, "http://demo.gatehouse.test/login", http.StatusOK)
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve without --demo exited %d, want 0\n--- stderr:\n%s", code, srv.stderr)
	}
	if out := srv.stdout.String(); out != "" {
		t.Errorf("serve without --demo printed %q", out)
	}
}

// TestServeShutdownWithOpenConnection checks that cancellation returns even
// while a client holds an idle keep-alive connection.
func TestServeShutdownWithOpenConnection(t *testing.T) {
	env, _ := newEnv(t)
	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	c := testClient(t, srv.addr)
	wantStatus(t, c, testBaseURL+"/healthz", http.StatusOK) // leaves an idle connection
	start := time.Now()
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve exited %d, want 0\n--- stderr:\n%s", code, srv.stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if !strings.Contains(srv.stderr.String(), "shutting down") {
		t.Errorf("stderr does not log the shutdown:\n%s", srv.stderr)
	}
}

// TestServeSmallPagesHint: serve on a database with SQLite's default 4 KiB
// pages (created before Gatehouse chose larger ones) says how to get the
// faster page size; on a database it created itself it says nothing.
func TestServeSmallPagesHint(t *testing.T) {
	const hint = "small pages"
	env, dir := newEnv(t)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gatehouse.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	srv.stop(t)
	if !strings.Contains(srv.stderr.String(), hint) || !strings.Contains(srv.stderr.String(), "gatehouse backup --out") {
		t.Errorf("serve on a 4 KiB-page database does not say how to get larger pages:\n%s", srv.stderr)
	}

	env, _ = newEnv(t)
	srv = startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	srv.stop(t)
	if strings.Contains(srv.stderr.String(), hint) {
		t.Errorf("serve on a database of its own asks for larger pages:\n%s", srv.stderr)
	}
}

// TestServeErrors checks that serve refuses bad configuration before it
// listens. Each run has a deadline, so a server that starts anyway fails the
// test instead of hanging it.
func TestServeErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "unsupported SMTP scheme", args: []string{"--smtp-url", "ftp://x"}, wantErr: `scheme "ftp" is not supported`},
		{name: "plain SMTP to a remote host", args: []string{"--smtp-url", "smtp+plain://mail.example.com:25"}, wantErr: "localhost or a loopback address"},
		{name: "plain SMTP to a remote host from the environment", env: map[string]string{"GATEHOUSE_SMTP_URL": "smtp+plain://mail.example.com:25"}, wantErr: "loopback"},
		{name: "SMTP URL without a host", args: []string{"--smtp-url", "smtp://"}, wantErr: "no host"},
		{name: "base URL with another scheme", args: []string{"--base-url", "ftp://gatehouse.test"}, wantErr: "base URL"},
		{name: "base URL without a scheme", args: []string{"--base-url", "gatehouse.test:8080"}, wantErr: "base URL"},
		{name: "base URL without a host", args: []string{"--base-url", "http://"}, wantErr: "base URL"},
		{name: "base URL with a path", args: []string{"--base-url", "http://gatehouse.test/portal"}, wantErr: "base URL"},
		{name: "base URL from the environment", env: map[string]string{"GATEHOUSE_BASE_URL": "gatehouse.test"}, wantErr: "base URL"},
		{name: "bad listen address", args: []string{"--addr", "127.0.0.1:http-alt-x"}, wantErr: "listen"},
		{name: "database URL of another kind", args: []string{"--database-url", "mysql://root@localhost/gh"}, wantErr: "postgres://"},
		{name: "secret key that is not 32 bytes of base64", env: map[string]string{"GATEHOUSE_SECRET_KEY": "c2hvcnQ-not-a-key"}, wantErr: "GATEHOUSE_SECRET_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t)
			env["GATEHOUSE_ADDR"] = "127.0.0.1:0"
			for k, v := range tt.env {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			r := runCtx(t, ctx, env, append([]string{"serve"}, tt.args...)...)
			if ctx.Err() != nil {
				t.Fatalf("serve started instead of refusing the configuration: %v", r)
			}
			if r.code == 0 {
				t.Errorf("exit 0, want non-zero: %v", r)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q: %v", tt.wantErr, r)
			}
			if !strings.Contains(r.stderr, "gatehouse serve: ") {
				t.Errorf("stderr does not say which command failed: %v", r)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if k := tt.env["GATEHOUSE_SECRET_KEY"]; k != "" && strings.Contains(r.stderr, k) {
				t.Errorf("stderr repeats the secret key: %v", r)
			}
		})
	}
}
