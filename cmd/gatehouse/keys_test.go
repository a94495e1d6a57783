package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
	"github.com/gatehouse-dev/gatehouse/secret"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

var recoveryCodeRE = regexp.MustCompile(`class="recovery-code">([0-9a-z-]+)<`)

// enrollTOTPWithRecovery is enrollTOTP that also returns one of the
// recovery codes shown.
func enrollTOTPWithRecovery(tb testing.TB, addr, email string) (secret, recovery string) {
	tb.Helper()
	c := testClient(tb, addr)
	if resp, _ := postForm(tb, c, "/login", url.Values{"email": {email}, "password": {goodPassword}}); resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("%s: login = %d", email, resp.StatusCode)
	}
	_, body := postForm(tb, c, "/account/security/totp/start", nil)
	m := totpSecretRE.FindStringSubmatch(body)
	if m == nil {
		tb.Fatalf("%s: no TOTP secret:\n%s", email, body)
	}
	code := totpAt(tb, m[1], time.Now())
	resp, body := postForm(tb, c, "/account/security/totp/confirm", url.Values{"code": {code}})
	r := recoveryCodeRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || r == nil {
		tb.Fatalf("%s: totp confirm = %d without recovery codes", email, resp.StatusCode)
	}
	return m[1], r[1]
}

// signInWithRecovery signs email in with password and a recovery code.
func signInWithRecovery(tb testing.TB, addr, email, code string) {
	tb.Helper()
	c := testClient(tb, addr)
	resp, _ := postForm(tb, c, "/login", url.Values{"email": {email}, "password": {goodPassword}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/verify") {
		tb.Fatalf("%s: login = %d to %q", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := postForm(tb, c, "/login/verify", url.Values{"method": {"recovery"}, "code": {code}})
	if resp.StatusCode != http.StatusSeeOther || strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		tb.Fatalf("%s: recovery code = %d to %q, want 303 in:\n%s", email, resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// portalOn returns the portal service over the SQLite store in dataDir with
// the raw server key, and workspace acme's owner as staff viewer.
func portalOn(tb testing.TB, dataDir, key string) (*portal.Service, portal.Viewer, *gatehouse.Workspace) {
	tb.Helper()
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := secret.NewKeyring(raw)
	if err != nil {
		tb.Fatal(err)
	}
	db := openSQLite(tb, dataDir).(*sqlite.DB)
	ws := mustWorkspace(tb, db, "acme")
	owner := mustUser(tb, db, ws, totpUsers[0])
	svc := &portal.Service{Store: db, Users: db, Audit: db, Keys: keys, Now: time.Now}
	return svc, portal.Viewer{WorkspaceID: ws.ID, UserID: owner.ID, Role: gatehouse.RoleOwner}, ws
}

// TestKeysRotate rotates the server key of a store holding TOTP seeds,
// recovery codes, a Twilio token and a document, while a server runs on the
// new key with the old one as previous; then a server with the new key alone
// opens everything.
func TestKeysRotate(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := newKey(), newKey()
	env, dir := newEnv(t)
	env["GATEHOUSE_SECRET_KEY"] = oldKey
	seedTOTPWorkspace(t, env)
	mustRun(t, env, "workspace", "set-twilio", "--workspace", "acme", "--account-sid", "AC0123456789abcdef0123456789abcdef",
		"--auth-token", "twilio-token-0123456789", "--from", "+15005550006")

	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	secrets, recovery := map[string]string{}, map[string]string{}
	for _, email := range totpUsers {
		secrets[email], recovery[email] = enrollTOTPWithRecovery(t, srv.addr, email)
	}
	srv.stop(t)

	// A document, sealed by a data key sealed under the old key.
	content := bytes.Repeat([]byte("quarterly figures "), 5000)
	docID := uploadDocument(t, dir, oldKey, content)

	newOnly := map[string]string{"GATEHOUSE_DATA_DIR": dir, "GATEHOUSE_SECRET_KEY": newKey}
	// Before the rotation the new key alone opens nothing: the server
	// refuses to start rather than fail every second factor.
	ctxTO, cancel := context.WithTimeout(ctx, 20*time.Second)
	r := runCtx(t, ctxTO, newOnly, "serve", "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	cancel()
	if r.code == 0 || !strings.Contains(r.stderr, "GATEHOUSE_PREVIOUS_SECRET_KEYS") {
		t.Fatalf("serve with only the new key before the rotation: %v", r)
	}

	// The rotation runs while a server serves with the new key and the old
	// one as previous.
	rotating := map[string]string{"GATEHOUSE_DATA_DIR": dir, "GATEHOUSE_SECRET_KEY": newKey, "GATEHOUSE_PREVIOUS_SECRET_KEYS": oldKey}
	srv = startServe(t, rotating, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	signInWithTOTP(t, srv.addr, totpUsers[0], secrets[totpUsers[0]])
	r = mustRun(t, rotating, "keys", "rotate", "--batch", "2")
	for _, want := range []string{
		"server_key     1 re-sealed", "totp_seed      3 re-sealed", "twilio_token   1 re-sealed", "document_key   1 re-sealed",
		"can be removed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rotate output lacks %q:\n%s", want, r)
		}
	}
	signInWithTOTP(t, srv.addr, totpUsers[1], secrets[totpUsers[1]])
	// Run again: nothing left to do.
	r = mustRun(t, rotating, "keys", "rotate")
	if !strings.Contains(r.stdout, "totp_seed      0 re-sealed, 3 already under the current key") {
		t.Errorf("second rotation:\n%s", r)
	}
	srv.stop(t)

	// The new key alone opens everything.
	srv = startServe(t, newOnly, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	// (The other two spent this TOTP step during the rotation.)
	signInWithTOTP(t, srv.addr, totpUsers[2], secrets[totpUsers[2]])
	// Recovery codes were hashed under the old key's MAC key, which the
	// database keeps: they still work.
	signInWithRecovery(t, srv.addr, totpUsers[0], recovery[totpUsers[0]])
	signInWithRecovery(t, srv.addr, totpUsers[1], recovery[totpUsers[1]])
	srv.stop(t)

	if got := readDocument(t, dir, newKey, docID); !bytes.Equal(got, content) {
		t.Errorf("document under the new key: %d bytes, want the %d uploaded", len(got), len(content))
	}
	ws := mustWorkspace(t, openSQLite(t, dir), "acme")
	keys, err := secret.NewKeyring(mustDecode(t, newKey))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := keys.Open(ws.Twilio.AuthToken, gatehouse.TwilioTokenAAD(ws.ID)); err != nil || string(tok) != "twilio-token-0123456789" {
		t.Errorf("Twilio token under the new key = %q, %v", tok, err)
	}
}

// TestKeysRotateErrors checks the refusals: a previous key that is not a
// key, and values no given key opens.
func TestKeysRotateErrors(t *testing.T) {
	env, dir := newEnv(t)
	env["GATEHOUSE_SECRET_KEY"] = newKey()
	seedTOTPWorkspace(t, env)
	r := run(t, map[string]string{"GATEHOUSE_DATA_DIR": dir, "GATEHOUSE_SECRET_KEY": env["GATEHOUSE_SECRET_KEY"],
		"GATEHOUSE_PREVIOUS_SECRET_KEYS": "bm90LWEta2V5"}, "keys", "rotate")
	if r.code == 0 || !strings.Contains(r.stderr, "GATEHOUSE_PREVIOUS_SECRET_KEYS") || strings.Contains(r.stderr, "bm90LWEta2V5") {
		t.Errorf("rotate with a bad previous key: %v", r)
	}
	// A key that is neither current nor previous cannot open the
	// database's MAC key: refused, nothing written.
	r = run(t, map[string]string{"GATEHOUSE_DATA_DIR": dir, "GATEHOUSE_SECRET_KEY": newKey(), "GATEHOUSE_PREVIOUS_SECRET_KEYS": newKey()}, "keys", "rotate")
	if r.code == 0 || !strings.Contains(r.stderr, "not the one this database was used with") {
		t.Errorf("rotate with unrelated keys: %v", r)
	}
	if r := run(t, env, "keys", "rotate", "--batch", "0"); r.code == 0 {
		t.Errorf("rotate --batch 0: %v", r)
	}
	if r := run(t, env, "keys", "rotate"); r.code != 0 || !strings.Contains(r.stderr, "checking only") {
		t.Errorf("rotate without previous keys: %v", r)
	}
}

func mustDecode(tb testing.TB, key string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func totpAt(tb testing.TB, secret string, at time.Time) string {
	tb.Helper()
	code, err := mfa.TOTPCode(secret, at)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// uploadDocument stores content as a document of a new client of acme,
// through the portal service over the SQLite store in dataDir, and returns
// its ID.
func uploadDocument(tb testing.TB, dataDir, key string, content []byte) int64 {
	tb.Helper()
	ctx := context.Background()
	svc, staff, ws := portalOn(tb, dataDir, key)
	client, err := svc.CreateClient(ctx, staff, "Client Co", "")
	if err != nil {
		tb.Fatal(err)
	}
	up, err := svc.BeginUpload(ctx, staff, client.ID, "figures.txt")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(up, bytes.NewReader(content)); err != nil {
		tb.Fatal(err)
	}
	if err := up.Close(); err != nil {
		tb.Fatal(err)
	}
	docs, err := svc.Finish(ctx, staff, ws, []*portal.Upload{up}, portal.UploadMeta{})
	if err != nil {
		tb.Fatal(err)
	}
	return docs[0].ID
}

// readDocument reads the document back through the portal service.
func readDocument(tb testing.TB, dataDir, key string, id int64) []byte {
	tb.Helper()
	ctx := context.Background()
	svc, staff, _ := portalOn(tb, dataDir, key)
	d, err := svc.Document(ctx, staff, id)
	if err != nil {
		tb.Fatal(err)
	}
	rd, err := svc.Open(ctx, staff, d, "")
	if err != nil {
		tb.Fatalf("open document %d: %v", id, err)
	}
	got, err := io.ReadAll(rd)
	if err != nil {
		tb.Fatalf("read document %d: %v", id, err)
	}
	return got
}
