package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/password"
	"github.com/gatehouse-dev/gatehouse/secret"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

// goodPassword passes the password rules for every workspace in these tests.
const goodPassword = "violet-anchor-42-river"

// syncBuffer is a bytes.Buffer that serve's goroutines may write while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// newEnv returns an environment whose data directory is a fresh temporary
// directory, and that directory.
func newEnv(tb testing.TB) (env map[string]string, dataDir string) {
	tb.Helper()
	dataDir = tb.TempDir()
	return map[string]string{"GATEHOUSE_DATA_DIR": dataDir}, dataDir
}

// newMain returns a Main reading env only; the process environment is never
// consulted.
func newMain(env map[string]string, stdout, stderr *syncBuffer) Main {
	return Main{Stdout: stdout, Stderr: stderr, Getenv: func(k string) string { return env[k] }}
}

// runCtx runs the CLI in-process with ctx.
func runCtx(tb testing.TB, ctx context.Context, env map[string]string, args ...string) result {
	tb.Helper()
	var stdout, stderr syncBuffer
	code := newMain(env, &stdout, &stderr).Run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// run runs the CLI in-process.
func run(tb testing.TB, env map[string]string, args ...string) result {
	tb.Helper()
	return runCtx(tb, tb.Context(), env, args...)
}

// mustRun runs the CLI and fails the test unless it exits 0.
func mustRun(tb testing.TB, env map[string]string, args ...string) result {
	tb.Helper()
	r := run(tb, env, args...)
	if r.code != 0 {
		tb.Fatalf("gatehouse %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// openSQLite opens and migrates the SQLite store in dataDir, as the CLI does,
// and closes it when the test ends.
func openSQLite(tb testing.TB, dataDir string) gatehouse.Store {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(dataDir, "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// mustWorkspace returns the workspace with the slug or fails the test.
func mustWorkspace(tb testing.TB, s gatehouse.Store, slug string) *gatehouse.Workspace {
	tb.Helper()
	w, err := s.FindWorkspaceBySlug(context.Background(), slug)
	if err != nil {
		tb.Fatalf("find workspace %q: %v", slug, err)
	}
	return w
}

// mustUser returns the user with the e-mail in the workspace or fails the test.
func mustUser(tb testing.TB, s gatehouse.Store, ws *gatehouse.Workspace, email string) *gatehouse.User {
	tb.Helper()
	u, err := s.FindUserByEmail(context.Background(), ws.ID, email)
	if err != nil {
		tb.Fatalf("find user %q in %q: %v", email, ws.Slug, err)
	}
	return u
}

// noWorkspace fails the test if a workspace with the slug exists.
func noWorkspace(tb testing.TB, s gatehouse.Store, slug string) {
	tb.Helper()
	if _, err := s.FindWorkspaceBySlug(context.Background(), slug); !errors.Is(err, gatehouse.ErrNotFound) {
		tb.Errorf("FindWorkspaceBySlug(%q) = %v, want ErrNotFound: a failed command left a workspace behind", slug, err)
	}
}

// noUser fails the test if the workspace has a user with the e-mail.
func noUser(tb testing.TB, s gatehouse.Store, slug, email string) {
	tb.Helper()
	ws := mustWorkspace(tb, s, slug)
	if _, err := s.FindUserByEmail(context.Background(), ws.ID, email); !errors.Is(err, gatehouse.ErrNotFound) {
		tb.Errorf("FindUserByEmail(%q) = %v, want ErrNotFound: a failed command left a user behind", email, err)
	}
}

// checkPassword fails the test unless plain verifies against u's hash and a
// wrong password does not.
func checkPassword(tb testing.TB, u *gatehouse.User, plain string) {
	tb.Helper()
	if u.PasswordHash == "" {
		tb.Fatalf("user %s has no password", u.Email)
	}
	h := password.NewHasher(password.DefaultParams, 1)
	ctx := context.Background()
	if ok, _, err := h.Verify(ctx, plain, u.PasswordHash); err != nil || !ok {
		tb.Errorf("user %s: Verify(right password) = %v, %v; want true", u.Email, ok, err)
	}
	if ok, _, err := h.Verify(ctx, plain+"x", u.PasswordHash); err != nil || ok {
		tb.Errorf("user %s: Verify(wrong password) = %v, %v; want false", u.Email, ok, err)
	}
}

// checkInvite finds the invitation link printed in stdout, which must start
// with prefix, and checks that the store holds its unused token for u and
// that the invitation mail carrying it is queued.
func checkInvite(tb testing.TB, s gatehouse.Store, stdout, prefix string, ws *gatehouse.Workspace, u *gatehouse.User) {
	tb.Helper()
	i := strings.Index(stdout, prefix)
	if i < 0 {
		tb.Fatalf("stdout has no invitation link starting %q:\n%s", prefix, stdout)
	}
	link := strings.Fields(stdout[i:])[0]
	token := strings.TrimPrefix(link, prefix)
	if token == "" || strings.ContainsAny(token, "/?#") {
		tb.Fatalf("invitation link %q has no plain token", link)
	}
	if u.PasswordHash != "" {
		tb.Errorf("invited user %s already has a password", u.Email)
	}
	ctx := context.Background()
	tok, err := s.FindToken(ctx, ws.ID, gatehouse.TokenInvite, account.HashToken(token), time.Now().UTC())
	if err != nil {
		tb.Fatalf("the printed invitation token is not in the store: %v", err)
	}
	if tok.UserID != u.ID {
		tb.Errorf("invitation token is for user %d, want %d (%s)", tok.UserID, u.ID, u.Email)
	}
	ms, err := s.ListMessages(ctx, 100)
	if err != nil {
		tb.Fatal(err)
	}
	if !slices.ContainsFunc(ms, func(m gatehouse.Message) bool {
		return m.WorkspaceID == ws.ID && m.To == u.Email && strings.Contains(m.Body, link)
	}) {
		tb.Errorf("no invitation mail to %s carrying %s is queued; outbox: %+v", u.Email, link, ms)
	}
}

// commandFlags are the flags each command's --help must show. Every command
// of Main.commands must be listed (TestHelp checks).
var commandFlags = map[string][]string{
	"serve":                 {"addr", "base-url", "data-dir", "database-url", "smtp-url", "mail-from", "demo", "metrics-addr", "pprof-addr", "max-upload-mb"},
	"backup":                {"out", "data-dir", "database-url"},
	"keys rotate":           {"batch", "data-dir", "database-url"},
	"migrate":               {"data-dir", "database-url"},
	"workspace create":      {"slug", "name", "plan", "owner-email", "owner-password", "data-dir", "database-url", "base-url"},
	"workspace set-plan":    {"workspace", "plan", "data-dir", "database-url"},
	"workspace set-options": {"workspace", "signup", "remember-me", "data-dir", "database-url"},
	"workspace set-twilio":  {"workspace", "account-sid", "auth-token", "from", "messaging-service-sid", "data-dir", "database-url"},
	"user reset-2fa":        {"workspace", "email", "reason", "data-dir", "database-url"},
	"workspace set-mfa":     {"workspace", "mode", "methods", "trusted-days", "grace-days", "data-dir", "database-url"},
	"user create":           {"workspace", "email", "role", "password", "name", "client", "data-dir", "database-url", "base-url"},
	"client create":         {"workspace", "name", "data-dir", "database-url"},
	"bench":                 {"database-url", "rounds", "requests", "duration", "connections", "signins", "signin-connections", "only", "cpuprofile", "document-mb", "big-document-mb"},
}

func TestHelp(t *testing.T) {
	var names []string
	for _, c := range (Main{}).commands() {
		names = append(names, c.name)
		if _, ok := commandFlags[c.name]; !ok {
			t.Errorf("command %q has no entry in commandFlags: add its flags so its --help is tested", c.name)
		}
	}
	for name := range commandFlags {
		if !slices.Contains(names, name) {
			t.Errorf("commandFlags lists %q, which Main.commands does not have", name)
		}
	}

	for _, c := range (Main{}).commands() {
		for _, h := range []string{"--help", "-h", "-help"} {
			t.Run(c.name+" "+h, func(t *testing.T) {
				t.Parallel()
				// Help must not touch storage: point the data dir at a
				// directory that must not come into existence.
				dir := filepath.Join(t.TempDir(), "data")
				env := map[string]string{"GATEHOUSE_DATA_DIR": dir}
				args := append(strings.Fields(c.name), h)
				r := run(t, env, args...)
				if r.code != 0 {
					t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), r)
				}
				// Package flag writes -h to the flag set's output (stderr);
				// accept either stream so that moving it to stdout is fine.
				out := r.stdout + r.stderr
				if want := "Usage: gatehouse " + c.name; !strings.Contains(out, want) {
					t.Errorf("help lacks %q:\n%s", want, out)
				}
				for _, f := range commandFlags[c.name] {
					if !strings.Contains(out, "-"+f+" ") && !strings.Contains(out, "-"+f+"\n") {
						t.Errorf("help does not mention --%s:\n%s", f, out)
					}
				}
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("--help created the data dir (stat: %v)", err)
				}
			})
		}
	}
}

func TestTopLevel(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // each must appear in stdout
		wantStderr []string // each must appear in stderr
		// emptyStdout requires nothing on stdout: a mistake must not look
		// like an answer.
		emptyStdout bool
	}{
		{name: "help", args: []string{"help"}, wantCode: 0,
			wantStdout: []string{"Usage: gatehouse", "serve", "migrate", "workspace create", "workspace set-plan", "workspace set-options", "user create"}},
		{name: "-h", args: []string{"-h"}, wantCode: 0, wantStdout: []string{"Usage: gatehouse", "workspace create"}},
		{name: "--help", args: []string{"--help"}, wantCode: 0, wantStdout: []string{"Usage: gatehouse", "user create"}},
		{name: "no arguments", args: nil, wantCode: 2, wantStderr: []string{"Usage: gatehouse"}, emptyStdout: true},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2,
			wantStderr: []string{`unknown command "frobnicate"`, "Usage: gatehouse"}, emptyStdout: true},
		{name: "group without subcommand", args: []string{"workspace"}, wantCode: 2,
			wantStderr: []string{"which one?", "workspace create", "workspace set-mfa"}, emptyStdout: true},
		{name: "group help", args: []string{"workspace", "--help"}, wantCode: 0,
			wantStdout: []string{"workspace create", "workspace set-twilio"}},
		{name: "user group help", args: []string{"user", "-h"}, wantCode: 0,
			wantStdout: []string{"user create", "user reset-2fa"}},
		{name: "unknown subcommand", args: []string{"workspace", "delete", "--slug", "acme"}, wantCode: 2,
			wantStderr: []string{"unknown command"}, emptyStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, dir := newEnv(t)
			r := run(t, env, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %v", r.code, tt.wantCode, r)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q: %v", s, r)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q: %v", s, r)
				}
			}
			if tt.emptyStdout && r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the database was created (stat: %v)", err)
			}
		})
	}
}

// TestErrors runs commands that must fail against a store holding workspace
// "acme" (plan pro, owner o@acme.test) with client c@acme.test. Each must
// exit non-zero, explain itself on stderr, print nothing on stdout and leave
// the store as it was.
func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string // added to the test's environment
		wantCode int               // 1: the command failed; 2: bad usage
		wantErr  string            // must appear in stderr
		check    func(tb testing.TB, s gatehouse.Store)
	}{
		// workspace create
		{name: "workspace create without --slug", wantCode: 1, wantErr: "--slug is required",
			args: []string{"workspace", "create", "--name", "Beta", "--plan", "pro", "--owner-email", "o@beta.test"}},
		{name: "workspace create without --name", wantCode: 1, wantErr: "--name is required",
			args:  []string{"workspace", "create", "--slug", "beta", "--plan", "pro", "--owner-email", "o@beta.test"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with a blank --name", wantCode: 1, wantErr: "--name is required",
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "  ", "--plan", "pro", "--owner-email", "o@beta.test"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create without --plan", wantCode: 1, wantErr: "--plan is required",
			args: []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--owner-email", "o@beta.test"}},
		{name: "workspace create without --owner-email", wantCode: 1, wantErr: "--owner-email is required",
			args: []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro"}},
		{name: "workspace create with a bad plan", wantCode: 1, wantErr: `plan "gold"`,
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "gold", "--owner-email", "o@beta.test"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with a bad slug", wantCode: 1, wantErr: `slug "Bad_Slug"`,
			args:  []string{"workspace", "create", "--slug", "Bad_Slug", "--name", "Bad", "--plan", "pro", "--owner-email", "o@bad.test"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "Bad_Slug"); noWorkspace(tb, s, "bad_slug") }},
		{name: "workspace create with a reserved slug", wantCode: 1, wantErr: "reserved",
			args:  []string{"workspace", "create", "--slug", "www", "--name", "WWW", "--plan", "pro", "--owner-email", "o@www.test"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "www") }},
		{name: "workspace create with a bad owner e-mail", wantCode: 1, wantErr: "--owner-email",
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro", "--owner-email", "not-an-email"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with a taken slug", wantCode: 1, wantErr: `workspace "acme" already exists`,
			args: []string{"workspace", "create", "--slug", "acme", "--name", "Other", "--plan", "starter", "--owner-email", "x@other.test", "--owner-password", goodPassword},
			check: func(tb testing.TB, s gatehouse.Store) {
				ws := mustWorkspace(tb, s, "acme")
				if ws.Name != "Acme" || ws.Plan != gatehouse.PlanPro {
					tb.Errorf("acme changed to %q, plan %s", ws.Name, ws.Plan)
				}
				noUserIn(tb, s, ws, "x@other.test")
			}},
		{name: "workspace create with a common owner password", wantCode: 1, wantErr: "too common",
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro", "--owner-email", "o@beta.test", "--owner-password", "password123"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with a short owner password", wantCode: 1, wantErr: "at least 8",
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro", "--owner-email", "o@beta.test", "--owner-password", "x7!k"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with the workspace name as owner password", wantCode: 1, wantErr: "workspace's name",
			args:  []string{"workspace", "create", "--slug", "gamma", "--name", "Gamma", "--plan", "pro", "--owner-email", "o@gamma.test", "--owner-password", "Gamma2024!"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "gamma") }},
		{name: "workspace create with a bad --base-url", wantCode: 1, wantErr: "base URL",
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro", "--owner-email", "o@beta.test", "--base-url", "ftp://example.test"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with a base URL that has a path", wantCode: 1, wantErr: "base URL",
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro", "--owner-email", "o@beta.test"},
			env:   map[string]string{"GATEHOUSE_BASE_URL": "https://example.test/portal"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with an unknown flag", wantCode: 2, wantErr: "flag provided but not defined: -colour",
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro", "--owner-email", "o@beta.test", "--colour", "red"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},
		{name: "workspace create with a stray argument", wantCode: 2, wantErr: `unexpected argument "beta"`,
			args:  []string{"workspace", "create", "--slug", "beta", "--name", "Beta", "--plan", "pro", "--owner-email", "o@beta.test", "beta"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "beta") }},

		// workspace set-plan
		{name: "set-plan without --workspace", wantCode: 1, wantErr: "--workspace is required",
			args: []string{"workspace", "set-plan", "--plan", "unlimited"}, check: planIs(gatehouse.PlanPro)},
		{name: "set-plan without --plan", wantCode: 1, wantErr: "--plan is required",
			args: []string{"workspace", "set-plan", "--workspace", "acme"}, check: planIs(gatehouse.PlanPro)},
		{name: "set-plan on an unknown workspace", wantCode: 1, wantErr: `no workspace "nope"`,
			args:  []string{"workspace", "set-plan", "--workspace", "nope", "--plan", "unlimited"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "nope"); planIs(gatehouse.PlanPro)(tb, s) }},
		{name: "set-plan with a bad plan", wantCode: 1, wantErr: `plan "enterprise"`,
			args: []string{"workspace", "set-plan", "--workspace", "acme", "--plan", "enterprise"}, check: planIs(gatehouse.PlanPro)},
		{name: "set-plan with an unknown flag", wantCode: 2, wantErr: "flag provided but not defined: -slug",
			args: []string{"workspace", "set-plan", "--slug", "acme", "--plan", "unlimited"}, check: planIs(gatehouse.PlanPro)},

		// workspace set-options
		{name: "set-options without --workspace", wantCode: 1, wantErr: "--workspace is required",
			args: []string{"workspace", "set-options", "--signup", "on"}, check: optionsAre(false, true)},
		{name: "set-options with a bad --signup", wantCode: 1, wantErr: `--signup takes on or off, not "yes"`,
			args: []string{"workspace", "set-options", "--workspace", "acme", "--signup", "yes", "--remember-me", "off"}, check: optionsAre(false, true)},
		{name: "set-options with a bad --remember-me", wantCode: 1, wantErr: `--remember-me takes on or off, not "maybe"`,
			args: []string{"workspace", "set-options", "--workspace", "acme", "--signup", "on", "--remember-me", "maybe"}, check: optionsAre(false, true)},
		{name: "set-options on an unknown workspace", wantCode: 1, wantErr: `no workspace "nope"`,
			args: []string{"workspace", "set-options", "--workspace", "nope", "--signup", "on"}, check: optionsAre(false, true)},

		// workspace set-mfa (SPEC §3 bounds)
		{name: "set-mfa without --mode", wantCode: 1, wantErr: "--mode is required",
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--methods", "totp"}, check: mfaUnchanged},
		{name: "set-mfa with a bad mode", wantCode: 1, wantErr: `mode "always"`,
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "always"}, check: mfaUnchanged},
		{name: "set-mfa with a bad method", wantCode: 1, wantErr: `method "fax"`,
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "required", "--methods", "totp,fax"}, check: mfaUnchanged},
		{name: "set-mfa with no method", wantCode: 1, wantErr: "method",
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "required", "--methods", ","}, check: mfaUnchanged},
		{name: "set-mfa allowing sms without Twilio", wantCode: 1, wantErr: "Twilio",
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "optional", "--methods", "totp,sms"}, check: mfaUnchanged},
		{name: "set-mfa with 91 trusted days", wantCode: 1, wantErr: "--trusted-days",
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "optional", "--trusted-days", "91"}, check: mfaUnchanged},
		{name: "set-mfa with negative trusted days", wantCode: 1, wantErr: "--trusted-days",
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "optional", "--trusted-days", "-2"}, check: mfaUnchanged},
		{name: "set-mfa with 31 grace days", wantCode: 1, wantErr: "--grace-days",
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "required", "--grace-days", "31"}, check: mfaUnchanged},
		{name: "set-mfa with non-numeric grace days", wantCode: 2, wantErr: "-grace-days",
			args: []string{"workspace", "set-mfa", "--workspace", "acme", "--mode", "required", "--grace-days", "week"}, check: mfaUnchanged},
		{name: "set-mfa on an unknown workspace", wantCode: 1, wantErr: `no workspace "nope"`,
			args: []string{"workspace", "set-mfa", "--workspace", "nope", "--mode", "required"}, check: mfaUnchanged},

		// user create
		{name: "user create without --workspace", wantCode: 1, wantErr: "--workspace is required",
			args: []string{"user", "create", "--email", "n@acme.test", "--role", "client"}},
		{name: "user create without --email", wantCode: 1, wantErr: "--email is required",
			args: []string{"user", "create", "--workspace", "acme", "--role", "client"}},
		{name: "user create without --role", wantCode: 1, wantErr: "--role is required",
			args:  []string{"user", "create", "--workspace", "acme", "--email", "n@acme.test"},
			check: func(tb testing.TB, s gatehouse.Store) { noUser(tb, s, "acme", "n@acme.test") }},
		{name: "user create in an unknown workspace", wantCode: 1, wantErr: `no workspace "nope"`,
			args:  []string{"user", "create", "--workspace", "nope", "--email", "n@acme.test", "--role", "client"},
			check: func(tb testing.TB, s gatehouse.Store) { noWorkspace(tb, s, "nope") }},
		{name: "user create with a bad role", wantCode: 1, wantErr: `role "boss"`,
			args:  []string{"user", "create", "--workspace", "acme", "--email", "n@acme.test", "--role", "boss"},
			check: func(tb testing.TB, s gatehouse.Store) { noUser(tb, s, "acme", "n@acme.test") }},
		{name: "user create of a second owner", wantCode: 1, wantErr: "one owner",
			args:  []string{"user", "create", "--workspace", "acme", "--email", "n@acme.test", "--role", "owner", "--password", goodPassword},
			check: func(tb testing.TB, s gatehouse.Store) { noUser(tb, s, "acme", "n@acme.test") }},
		{name: "user create of an existing user", wantCode: 1, wantErr: "already has an account",
			args: []string{"user", "create", "--workspace", "acme", "--email", " C@Acme.TEST ", "--role", "admin", "--password", goodPassword + "2"},
			check: func(tb testing.TB, s gatehouse.Store) {
				u := mustUser(tb, s, mustWorkspace(tb, s, "acme"), "c@acme.test")
				if u.Role != gatehouse.RoleClient {
					tb.Errorf("existing user's role changed to %s", u.Role)
				}
				checkPassword(tb, u, goodPassword)
			}},
		{name: "user create of the owner's e-mail", wantCode: 1, wantErr: "already has an account",
			args: []string{"user", "create", "--workspace", "acme", "--email", "o@acme.test", "--role", "client"}},
		{name: "user create with a common password", wantCode: 1, wantErr: "too common",
			args:  []string{"user", "create", "--workspace", "acme", "--email", "n@acme.test", "--role", "client", "--password", "password123"},
			check: func(tb testing.TB, s gatehouse.Store) { noUser(tb, s, "acme", "n@acme.test") }},
		{name: "user create with a bad e-mail", wantCode: 1, wantErr: "e-mail",
			args: []string{"user", "create", "--workspace", "acme", "--email", "nobody", "--role", "client"}},
		{name: "user create with an unknown flag", wantCode: 2, wantErr: "flag provided but not defined: -admin",
			args:  []string{"user", "create", "--workspace", "acme", "--email", "n@acme.test", "--admin"},
			check: func(tb testing.TB, s gatehouse.Store) { noUser(tb, s, "acme", "n@acme.test") }},

		// storage
		{name: "migrate with a non-PostgreSQL database URL", wantCode: 1, wantErr: "postgres://",
			args: []string{"migrate", "--database-url", "mysql://root@localhost/gatehouse"}},
		{name: "migrate with a stray argument", wantCode: 2, wantErr: `unexpected argument "now"`,
			args: []string{"migrate", "now"}},
		{name: "migrate with an unknown flag", wantCode: 2, wantErr: "flag provided but not defined: -force",
			args: []string{"migrate", "--force"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, dir := newEnv(t)
			seedAcme(t, env)
			for k, v := range tt.env {
				env[k] = v
			}
			r := run(t, env, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d: %v", r.code, tt.wantCode, r)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q: %v", tt.wantErr, r)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing on failure", r.stdout)
			}
			s := openSQLite(t, dir)
			// The seed is intact whatever the command was.
			acme := mustWorkspace(t, s, "acme")
			if us, err := s.ListUsers(context.Background(), acme.ID); err != nil || len(us) != 2 {
				t.Errorf("acme has users %+v (err %v), want the owner and the client only", us, err)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

// seedAcme creates workspace "acme" (plan pro) with owner o@acme.test and
// client c@acme.test, both with goodPassword.
func seedAcme(tb testing.TB, env map[string]string) {
	tb.Helper()
	mustRun(tb, env, "workspace", "create", "--slug", "acme", "--name", "Acme", "--plan", "pro",
		"--owner-email", "o@acme.test", "--owner-password", goodPassword)
	mustRun(tb, env, "user", "create", "--workspace", "acme", "--email", "c@acme.test", "--role", "client", "--password", goodPassword)
}

func noUserIn(tb testing.TB, s gatehouse.Store, ws *gatehouse.Workspace, email string) {
	tb.Helper()
	if _, err := s.FindUserByEmail(context.Background(), ws.ID, email); !errors.Is(err, gatehouse.ErrNotFound) {
		tb.Errorf("FindUserByEmail(%q) in %q = %v, want ErrNotFound", email, ws.Slug, err)
	}
}

// planIs checks acme's plan.
func planIs(want gatehouse.Plan) func(testing.TB, gatehouse.Store) {
	return func(tb testing.TB, s gatehouse.Store) {
		tb.Helper()
		if got := mustWorkspace(tb, s, "acme").Plan; got != want {
			tb.Errorf("acme's plan is %s, want %s", got, want)
		}
	}
}

// optionsAre checks acme's sign-up and remember-me settings.
func optionsAre(signup, remember bool) func(testing.TB, gatehouse.Store) {
	return func(tb testing.TB, s gatehouse.Store) {
		tb.Helper()
		ws := mustWorkspace(tb, s, "acme")
		if ws.SignupEnabled != signup || ws.RememberMeEnabled != remember {
			tb.Errorf("acme: sign-up %v, remember-me %v; want %v, %v", ws.SignupEnabled, ws.RememberMeEnabled, signup, remember)
		}
	}
}

// mfaUnchanged checks that acme still has the default two-factor settings.
func mfaUnchanged(tb testing.TB, s gatehouse.Store) {
	tb.Helper()
	checkMFA(tb, mustWorkspace(tb, s, "acme"), gatehouse.MFADisabled, []gatehouse.Method{gatehouse.MethodPasskey, gatehouse.MethodTOTP, gatehouse.MethodEmail}, 30, 0)
}

// checkMFA checks a workspace's two-factor settings.
func checkMFA(tb testing.TB, ws *gatehouse.Workspace, mode gatehouse.MFAMode, methods []gatehouse.Method, trustedDays, graceDays int) {
	tb.Helper()
	got := ws.MFA
	if got.Mode != mode || !slices.Equal(got.Methods, methods) || got.TrustedDeviceDays != trustedDays || got.GraceDays != graceDays {
		tb.Errorf("%s: two-step mode %s, methods %v, trusted %d days, grace %d days; want %s, %v, %d, %d",
			ws.Slug, got.Mode, got.Methods, got.TrustedDeviceDays, got.GraceDays, mode, methods, trustedDays, graceDays)
	}
}

func TestSQLite(t *testing.T) {
	env, dir := newEnv(t)
	testAdmin(t, env, func(tb testing.TB) gatehouse.Store { return openSQLite(tb, dir) })
	if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); err != nil {
		t.Errorf("no SQLite database in the data dir: %v", err)
	}
}

// testAdmin runs the administration commands' happy paths in env and checks
// the store that open returns after each.
func testAdmin(t *testing.T, env map[string]string, open func(testing.TB) gatehouse.Store) {
	t.Helper()
	ctx := context.Background()

	// migrate is idempotent.
	for range 2 {
		r := mustRun(t, env, "migrate")
		if !strings.Contains(r.stdout, "database is up to date") {
			t.Errorf("migrate printed %q", r.stdout)
		}
	}
	s := open(t)

	// A workspace with an owner who can sign in at once.
	r := mustRun(t, env, "workspace", "create", "--slug", "acme", "--name", "Acme", "--plan", "pro",
		"--owner-email", "O@Acme.test", "--owner-password", goodPassword)
	if want := `created workspace "acme" (plan pro) at http://acme.localhost:8080`; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q: %v", want, r)
	}
	if strings.Contains(r.stdout, "invit") {
		t.Errorf("an owner with a password got an invitation: %v", r)
	}
	acme := mustWorkspace(t, s, "acme")
	if acme.Name != "Acme" || acme.Plan != gatehouse.PlanPro || acme.SignupEnabled || !acme.RememberMeEnabled {
		t.Errorf("acme = %+v; want name Acme, plan pro, sign-up off, remember-me on", acme)
	}
	checkMFA(t, acme, gatehouse.MFADisabled, []gatehouse.Method{gatehouse.MethodPasskey, gatehouse.MethodTOTP, gatehouse.MethodEmail}, 30, 0)
	owner := mustUser(t, s, acme, "o@acme.test")
	if owner.Role != gatehouse.RoleOwner || owner.Disabled {
		t.Errorf("owner = %+v", owner)
	}
	checkPassword(t, owner, goodPassword)

	// A workspace whose owner is invited: the link uses the default base URL.
	r = mustRun(t, env, "workspace", "create", "--slug", "beta", "--name", "Beta Ltd", "--plan", "starter", "--owner-email", "boss@beta.test")
	beta := mustWorkspace(t, s, "beta")
	if beta.Plan != gatehouse.PlanStarter || beta.Name != "Beta Ltd" {
		t.Errorf("beta = %+v", beta)
	}
	bossUser := mustUser(t, s, beta, "boss@beta.test")
	if bossUser.Role != gatehouse.RoleOwner {
		t.Errorf("beta's owner has role %s", bossUser.Role)
	}
	checkInvite(t, s, r.stdout, "http://beta.localhost:8080/invite/", beta, bossUser)

	// set-plan changes only the plan.
	r = mustRun(t, env, "workspace", "set-plan", "--workspace", "acme", "--plan", "unlimited")
	if !strings.Contains(r.stdout, "plan unlimited") {
		t.Errorf("set-plan printed %q", r.stdout)
	}
	if got := mustWorkspace(t, s, "acme"); got.Plan != gatehouse.PlanUnlimited || got.Name != "Acme" || !got.RememberMeEnabled {
		t.Errorf("after set-plan acme = %+v", got)
	}
	if got := mustWorkspace(t, s, "beta"); got.Plan != gatehouse.PlanStarter {
		t.Errorf("set-plan on acme changed beta's plan to %s", got.Plan)
	}

	// set-options changes what it is given and keeps the rest.
	for _, step := range []struct {
		args             []string
		signup, remember bool
	}{
		{[]string{"--signup", "on", "--remember-me", "off"}, true, false},
		{[]string{"--signup", "off"}, false, false},
		{[]string{"--remember-me", "on"}, false, true},
		{nil, false, true},
	} {
		args := append([]string{"workspace", "set-options", "--workspace", "acme"}, step.args...)
		r = mustRun(t, env, args...)
		want := "sign-up " + onOffText(step.signup) + ", remember-me " + onOffText(step.remember)
		if !strings.Contains(r.stdout, want) {
			t.Errorf("%v printed %q, want %q", step.args, r.stdout, want)
		}
		got := mustWorkspace(t, s, "acme")
		if got.SignupEnabled != step.signup || got.RememberMeEnabled != step.remember || got.Plan != gatehouse.PlanUnlimited {
			t.Errorf("after set-options %v: acme = %+v", step.args, got)
		}
	}

	// set-mfa changes the mode and what it is given, keeps the rest, and
	// stamps ModeChangedAt only when the mode changes.
	before := time.Now().Add(-time.Second)
	mustRun(t, env, "workspace", "set-mfa", "--workspace", "acme", "--mode", "required",
		"--methods", "email, totp", "--trusted-days", "0", "--grace-days", "7")
	got := mustWorkspace(t, s, "acme")
	checkMFA(t, got, gatehouse.MFARequired, []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}, 0, 7)
	// passkey is a method like the others, and ranks first.
	mustRun(t, env, "workspace", "set-mfa", "--workspace", "acme", "--mode", "required", "--methods", "email,passkey,totp")
	checkMFA(t, mustWorkspace(t, s, "acme"), gatehouse.MFARequired, []gatehouse.Method{gatehouse.MethodPasskey, gatehouse.MethodTOTP, gatehouse.MethodEmail}, 0, 7)
	mustRun(t, env, "workspace", "set-mfa", "--workspace", "acme", "--mode", "required", "--methods", "email, totp")
	if got.MFA.ModeChangedAt.Before(before) {
		t.Errorf("ModeChangedAt = %v, want after %v", got.MFA.ModeChangedAt, before)
	}
	if got.Plan != gatehouse.PlanUnlimited || got.SignupEnabled || !got.RememberMeEnabled {
		t.Errorf("set-mfa changed other settings: %+v", got)
	}
	changed := got.MFA.ModeChangedAt
	mustRun(t, env, "workspace", "set-mfa", "--workspace", "acme", "--mode", "required", "--methods", "email")
	got = mustWorkspace(t, s, "acme")
	checkMFA(t, got, gatehouse.MFARequired, []gatehouse.Method{gatehouse.MethodEmail}, 0, 7)
	if !got.MFA.ModeChangedAt.Equal(changed) {
		t.Errorf("ModeChangedAt moved from %v to %v although the mode stayed", changed, got.MFA.ModeChangedAt)
	}
	mustRun(t, env, "workspace", "set-mfa", "--workspace", "acme", "--mode", "disabled", "--trusted-days", "90")
	checkMFA(t, mustWorkspace(t, s, "acme"), gatehouse.MFADisabled, []gatehouse.Method{gatehouse.MethodEmail}, 90, 7)
	checkMFA(t, mustWorkspace(t, s, "beta"), gatehouse.MFADisabled, []gatehouse.Method{gatehouse.MethodPasskey, gatehouse.MethodTOTP, gatehouse.MethodEmail}, 30, 0)

	// user create, with a password and with an invitation.
	for _, u := range []struct {
		email, role, password, name string
	}{
		{"client@acme.test", "client", goodPassword, ""},
		{"admin@acme.test", "admin", "", "Ada Admin"},
		{"member@acme.test", "member", goodPassword + "-m", "Max Member"},
		{"invited-member@acme.test", "member", "", ""},
	} {
		args := []string{"user", "create", "--workspace", "acme", "--email", u.email, "--role", u.role}
		if u.password != "" {
			args = append(args, "--password", u.password)
		}
		if u.name != "" {
			args = append(args, "--name", u.name)
		}
		r = mustRun(t, env, args...)
		if want := "created " + u.role + " " + u.email + ` in workspace "acme"`; !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q: %v", want, r)
		}
		got := mustUser(t, s, acme, u.email)
		if string(got.Role) != u.role || got.Name != u.name || got.WorkspaceID != acme.ID {
			t.Errorf("user %s = %+v", u.email, got)
		}
		if u.password != "" {
			checkPassword(t, got, u.password)
			if strings.Contains(r.stdout, "invitation") {
				t.Errorf("a user with a password got an invitation: %v", r)
			}
		} else {
			checkInvite(t, s, r.stdout, "http://acme.localhost:8080/invite/", acme, got)
		}
	}
	// The same e-mail in another workspace is another account.
	mustRun(t, env, "user", "create", "--workspace", "beta", "--email", "client@acme.test", "--role", "client", "--password", goodPassword)
	if u := mustUser(t, s, beta, "client@acme.test"); u.WorkspaceID != beta.ID {
		t.Errorf("beta's client = %+v", u)
	}
	if us, err := s.ListUsers(ctx, acme.ID); err != nil || len(us) != 5 {
		t.Errorf("acme has %d users (err %v), want 5", len(us), err)
	}

	// Migrating a store in use changes nothing.
	mustRun(t, env, "migrate")
	if got := mustWorkspace(t, s, "acme"); got.Plan != gatehouse.PlanUnlimited {
		t.Errorf("after migrate acme = %+v", got)
	}
}

// TestBaseURL checks that invitation links follow GATEHOUSE_BASE_URL and
// that --base-url beats it.
func TestBaseURL(t *testing.T) {
	tests := []struct {
		name       string
		env        string // GATEHOUSE_BASE_URL
		flag       string // --base-url
		wantPrefix string
	}{
		{name: "default", wantPrefix: "http://acme.localhost:8080/invite/"},
		{name: "environment", env: "https://portal.example.com", wantPrefix: "https://acme.portal.example.com/invite/"},
		{name: "environment with port and slash", env: "http://gh.test:9000/", wantPrefix: "http://acme.gh.test:9000/invite/"},
		{name: "flag", flag: "https://flag.example.com", wantPrefix: "https://acme.flag.example.com/invite/"},
		{name: "flag beats environment", env: "https://env.example.com", flag: "https://flag.example.com", wantPrefix: "https://acme.flag.example.com/invite/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, dir := newEnv(t)
			if tt.env != "" {
				env["GATEHOUSE_BASE_URL"] = tt.env
			}
			args := []string{"workspace", "create", "--slug", "acme", "--name", "Acme", "--plan", "pro", "--owner-email", "o@acme.test"}
			if tt.flag != "" {
				args = append(args, "--base-url", tt.flag)
			}
			r := mustRun(t, env, args...)
			if want := "at " + strings.TrimSuffix(tt.wantPrefix, "/invite/") + "\n"; !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q: %v", want, r)
			}
			s := openSQLite(t, dir)
			ws := mustWorkspace(t, s, "acme")
			checkInvite(t, s, r.stdout, tt.wantPrefix, ws, mustUser(t, s, ws, "o@acme.test"))

			// user create follows the same rule.
			args = []string{"user", "create", "--workspace", "acme", "--email", "c@acme.test", "--role", "client"}
			if tt.flag != "" {
				args = append(args, "--base-url", tt.flag)
			}
			r = mustRun(t, env, args...)
			checkInvite(t, s, r.stdout, tt.wantPrefix, ws, mustUser(t, s, ws, "c@acme.test"))
		})
	}
}

// TestFlagsBeatEnvironment checks where the database ends up.
func TestFlagsBeatEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		envDir  bool     // set GATEHOUSE_DATA_DIR to dir "env"
		extra   []string // flags
		env     map[string]string
		wantDir string // where gatehouse.db must appear: "env" or "flag"
	}{
		{name: "environment", envDir: true, wantDir: "env"},
		{name: "flag beats environment", envDir: true, extra: []string{"--data-dir", "{flag}"}, wantDir: "flag"},
		{name: "flag=value form", envDir: true, extra: []string{"--data-dir={flag}"}, wantDir: "flag"},
		{name: "flag without environment", extra: []string{"-data-dir", "{flag}"}, wantDir: "flag"},
		{name: "empty --database-url beats GATEHOUSE_DATABASE_URL", envDir: true,
			env:   map[string]string{"GATEHOUSE_DATABASE_URL": "mysql://must-not-be-used"},
			extra: []string{"--database-url="}, wantDir: "env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			dirs := map[string]string{"env": filepath.Join(root, "env"), "flag": filepath.Join(root, "flag")}
			env := map[string]string{}
			if tt.envDir {
				env["GATEHOUSE_DATA_DIR"] = dirs["env"]
			}
			for k, v := range tt.env {
				env[k] = v
			}
			args := []string{"migrate"}
			for _, a := range tt.extra {
				args = append(args, strings.ReplaceAll(a, "{flag}", dirs["flag"]))
			}
			mustRun(t, env, args...)
			for name, d := range dirs {
				_, err := os.Stat(filepath.Join(d, "gatehouse.db"))
				switch {
				case name == tt.wantDir && err != nil:
					t.Errorf("no database in the %s dir: %v", name, err)
				case name != tt.wantDir && !errors.Is(err, os.ErrNotExist):
					t.Errorf("a database appeared in the %s dir (stat: %v)", name, err)
				}
			}
		})
	}
}

// TestSecretsNotShown checks that --help and a mistyped flag, which print
// every flag's default, never print the password of a database or SMTP URL
// taken from the environment.
func TestSecretsNotShown(t *testing.T) {
	env, _ := newEnv(t)
	env["GATEHOUSE_DATABASE_URL"] = "postgres://gh:hunter2@db.invalid:5432/gh?sslmode=disable&password=hunter3"
	env["GATEHOUSE_SMTP_URL"] = "smtp://mailer:s3cr3t@mail.invalid:587"
	for _, args := range [][]string{
		{"serve", "--help"},
		{"serve", "--no-such-flag"},
		{"migrate", "-h"},
		{"user", "create", "--bogus"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := run(t, env, args...)
			if r.code != 0 && r.code != 2 {
				t.Fatalf("exit %d: %v", r.code, r)
			}
			out := r.stdout + r.stderr
			for _, secret := range []string{"hunter2", "hunter3", "s3cr3t"} {
				if strings.Contains(out, secret) {
					t.Errorf("output shows the secret %q:\n%s", secret, out)
				}
			}
			// The redacted default is still shown, so the operator can see
			// which database the environment selects.
			if !strings.Contains(out, "db.invalid") {
				t.Errorf("output does not show the (redacted) database URL:\n%s", out)
			}
		})
	}
}

// TestSecretKey checks where the server key comes from (SPEC §12): a key
// file created 0600 in the data dir, or GATEHOUSE_SECRET_KEY, in which case
// no file is written.
func TestSecretKey(t *testing.T) {
	tests := []struct {
		name     string
		key      string // GATEHOUSE_SECRET_KEY
		wantFile bool
	}{
		{name: "key file", wantFile: true},
		{name: "environment", key: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, dir := newEnv(t)
			if tt.key != "" {
				env["GATEHOUSE_SECRET_KEY"] = tt.key
			}
			path := filepath.Join(dir, secret.KeyFileName)
			var keys []string
			for _, slug := range []string{"acme", "beta"} {
				mustRun(t, env, "workspace", "create", "--slug", slug, "--name", slug, "--plan", "pro", "--owner-email", "o@"+slug+".test")
				b, _ := os.ReadFile(path)
				keys = append(keys, string(b))
			}
			if keys[0] != keys[1] {
				t.Errorf("the second command replaced the key file")
			}
			fi, err := os.Stat(path)
			switch {
			case tt.wantFile && err != nil:
				t.Fatalf("no key file: %v", err)
			case tt.wantFile && fi.Mode().Perm() != 0o600:
				t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
			case !tt.wantFile && !errors.Is(err, os.ErrNotExist):
				t.Errorf("a key file was written although GATEHOUSE_SECRET_KEY is set (stat: %v)", err)
			}
		})
	}
}

func TestUserReset2FA(t *testing.T) {
	env, dir := newEnv(t)
	seedAcme(t, env)
	s := openSQLite(t, dir).(*sqlite.DB)
	ws := mustWorkspace(t, s, "acme")
	u := mustUser(t, s, ws, "c@acme.test")
	ctx := context.Background()
	now := time.Now().UTC()
	if err := s.SaveFactor(ctx, ws.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, ws.ID, u.ID, [][]byte{[]byte("mac-1")}, now); err != nil {
		t.Fatal(err)
	}

	res := mustRun(t, env, "user", "reset-2fa", "--workspace", "acme", "--email", "C@acme.test", "--reason", "lost phone")
	if !strings.Contains(res.stdout, "reset two-step verification of c@acme.test") {
		t.Fatalf("stdout = %q", res.stdout)
	}
	if fs, err := s.FindFactors(ctx, ws.ID, u.ID); err != nil || len(fs) != 0 {
		t.Fatalf("factors after reset = %v, %v", fs, err)
	}
	if n, err := s.CountRecoveryCodes(ctx, ws.ID, u.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes after reset = %d, %v", n, err)
	}
	events, err := s.FindAuditEvents(ctx, ws.ID, gatehouse.AuditFilter{Type: "mfa.reset"})
	if err != nil || len(events) != 1 || events[0].TargetID != u.ID || events[0].ActorID != 0 || events[0].IP != "cli" ||
		!strings.Contains(events[0].Detail, "lost phone") {
		t.Fatalf("audit = %+v, %v", events, err)
	}
	if r := run(t, env, "user", "reset-2fa", "--workspace", "acme", "--email", "nobody@acme.test"); r.code == 0 || !strings.Contains(r.stderr, "no user") {
		t.Fatalf("unknown user: %+v", r)
	}
}
