package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/mfa"
)

// newKey returns a fresh server key in the form GATEHOUSE_SECRET_KEY takes.
func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// totpUsers are the users seedTOTPWorkspace creates, all with goodPassword.
var totpUsers = []string{"owner@acme.test", "member@acme.test", "client@acme.test"}

// seedTOTPWorkspace creates workspace acme (pro, optional two-step with TOTP) and
// its users through the CLI.
func seedTOTPWorkspace(tb testing.TB, env map[string]string) {
	tb.Helper()
	mustRun(tb, env, "workspace", "create", "--slug", "acme", "--name", "Acme", "--plan", "pro",
		"--owner-email", totpUsers[0], "--owner-password", goodPassword)
	mustRun(tb, env, "workspace", "set-mfa", "--workspace", "acme", "--mode", "optional", "--methods", "totp,email")
	mustRun(tb, env, "user", "create", "--workspace", "acme", "--email", totpUsers[1], "--role", "member", "--password", goodPassword)
	mustRun(tb, env, "user", "create", "--workspace", "acme", "--email", totpUsers[2], "--role", "client", "--password", goodPassword)
}

// postForm posts to path on acme's host.
func postForm(tb testing.TB, c *http.Client, path string, form url.Values) (*http.Response, string) {
	tb.Helper()
	u := "http://acme.gatehouse.test" + path
	resp, err := c.PostForm(u, form)
	if err != nil {
		tb.Fatalf("POST %s: %v", u, err)
	}
	return resp, readBody(tb, resp)
}

var totpSecretRE = regexp.MustCompile(`data-totp-secret="([A-Z2-7]+)"`)

// enrollTOTP signs email in on the server at addr, sets up an authenticator
// app and returns its secret.
func enrollTOTP(tb testing.TB, addr, email string) string {
	tb.Helper()
	c := testClient(tb, addr)
	if resp, _ := postForm(tb, c, "/login", url.Values{"email": {email}, "password": {goodPassword}}); resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("%s: login = %d", email, resp.StatusCode)
	}
	resp, body := postForm(tb, c, "/account/security/totp/start", nil)
	m := totpSecretRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		tb.Fatalf("%s: totp start = %d without a secret:\n%s", email, resp.StatusCode, body)
	}
	code, err := mfa.TOTPCode(m[1], time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if resp, body := postForm(tb, c, "/account/security/totp/confirm", url.Values{"code": {code}}); resp.StatusCode != http.StatusOK {
		tb.Fatalf("%s: totp confirm = %d:\n%s", email, resp.StatusCode, body)
	}
	return m[1]
}

// signInWithTOTP signs email in with password and authenticator code on the
// server at addr, and checks that the session works.
func signInWithTOTP(tb testing.TB, addr, email, secret string) {
	tb.Helper()
	c := testClient(tb, addr)
	resp, _ := postForm(tb, c, "/login", url.Values{"email": {email}, "password": {goodPassword}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/verify") {
		tb.Fatalf("%s: login = %d to %q, want 303 to /login/verify", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	// The next step's code: the current one may have been spent enrolling,
	// and one step of clock skew is allowed.
	code, err := mfa.TOTPCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	resp, body := postForm(tb, c, "/login/verify", url.Values{"method": {"totp"}, "code": {code}})
	if resp.StatusCode != http.StatusSeeOther || strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		tb.Fatalf("%s: verify = %d to %q, want 303 in:\n%s", email, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if body := wantStatus(tb, c, "http://acme.gatehouse.test/api/v1/me", http.StatusOK); !strings.Contains(body, email) {
		tb.Errorf("%s: /api/v1/me = %s", email, body)
	}
}

// TestBackupRestore backs up a serving SQLite store and starts a server on
// the copy with the same key: every user signs in with password and TOTP.
func TestBackupRestore(t *testing.T) {
	env, dir := newEnv(t)
	env["GATEHOUSE_SECRET_KEY"] = newKey()
	seedTOTPWorkspace(t, env)
	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	secrets := map[string]string{}
	for _, email := range totpUsers {
		secrets[email] = enrollTOTP(t, srv.addr, email)
	}

	// A document, uploaded through the portal service on the same store.
	content := bytes.Repeat([]byte("signed contract "), 20000)
	docID := uploadDocument(t, dir, env["GATEHOUSE_SECRET_KEY"], content)

	// The server keeps answering, and writing sessions, while the copy is
	// taken.
	restoreDir := t.TempDir()
	out := filepath.Join(restoreDir, "gatehouse.db")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := testClient(t, srv.addr)
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := c.PostForm("http://acme.gatehouse.test/login", url.Values{"email": {totpUsers[2]}, "password": {goodPassword}})
			if err != nil {
				t.Errorf("sign-in during the backup: %v", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("sign-in during the backup = %d", resp.StatusCode)
				return
			}
		}
	}()
	r := mustRun(t, env, "backup", "--out", out)
	close(stop)
	wg.Wait()
	if !strings.Contains(r.stdout, "Backed up") || !strings.Contains(r.stdout, "GATEHOUSE_SECRET_KEY") {
		t.Errorf("backup output does not confirm the copy and remind of the key:\n%s", r)
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want 0600", err, info)
	}
	// The original server still serves after the backup.
	signInWithTOTP(t, srv.addr, totpUsers[0], secrets[totpUsers[0]])
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d\n%s", code, srv.stderr)
	}

	restored := map[string]string{"GATEHOUSE_DATA_DIR": restoreDir, "GATEHOUSE_SECRET_KEY": env["GATEHOUSE_SECRET_KEY"]}
	srv = startServe(t, restored, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	for _, email := range totpUsers {
		signInWithTOTP(t, srv.addr, email, secrets[email])
	}
	srv.stop(t)
	if got := readDocument(t, restoreDir, env["GATEHOUSE_SECRET_KEY"], docID); !bytes.Equal(got, content) {
		t.Errorf("the restored document has %d bytes, want the %d uploaded", len(got), len(content))
	}
}

func TestBackupErrors(t *testing.T) {
	env, dir := newEnv(t)
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"PostgreSQL", map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://u@127.0.0.1:1/db"}, []string{"--out", filepath.Join(dir, "x.db")}, "pg_dump"},
		{"PostgreSQL by flag", nil, []string{"--database-url", "postgres://u@127.0.0.1:1/db", "--out", filepath.Join(dir, "x.db")}, "pg_dump"},
		{"no --out", nil, nil, "--out is required"},
		{"no database", map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(dir, "nothing-here")}, []string{"--out", filepath.Join(dir, "y.db")}, "no database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			for k, v := range tt.env {
				e[k] = v
			}
			r := run(t, e, append([]string{"backup"}, tt.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("want a failure mentioning %q: %v", tt.wantErr, r)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing-here")); err == nil {
		t.Errorf("backup created a data dir for a database that is not there")
	}

	// An existing file is never overwritten.
	mustRun(t, env, "migrate")
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(out, []byte("an older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "backup", "--out", out); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("backup over an existing file: %v", r)
	}
	if b, _ := os.ReadFile(out); string(b) != "an older backup" {
		t.Errorf("the existing file was changed")
	}
}
