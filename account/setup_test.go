package account_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/password"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

// Passwords that pass password.Check for the test workspaces.
const (
	goodPassword  = "tangerine-Octopus-42"
	otherPassword = "marmalade-Walrus-77"
)

// cheapParams keep the tests fast; the service under test hashes with them.
var cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// start is where every test clock begins.
var start = time.Date(2039, time.March, 4, 9, 30, 0, 0, time.UTC)

// clock is a fixed clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: start} }

// Now returns the current fixed time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sentMail is one e-mail handed to the fake mailer.
type sentMail struct {
	WorkspaceID int64
	To          string
	Subject     string
	Body        string
}

// mailer is a fake account.Mailer that records what it is given.
type mailer struct {
	mu   sync.Mutex
	sent []sentMail
	// worker, if set, runs before every read: the queued jobs, which may
	// mail, have their turn, as the outbox worker would take it.
	worker func()
}

func (m *mailer) Enqueue(_ context.Context, workspaceID int64, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{workspaceID, to, subject, body})
	return nil
}

// all returns a copy of every e-mail sent so far.
func (m *mailer) all() []sentMail {
	if m.worker != nil {
		m.worker()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sentMail(nil), m.sent...)
}

// to returns the e-mails sent to the address, oldest first.
func (m *mailer) to(addr string) []sentMail {
	var out []sentMail
	for _, s := range m.all() {
		if s.To == addr {
			out = append(out, s)
		}
	}
	return out
}

var linkRE = regexp.MustCompile(`https?://\S+`)

// lastLink returns the link in the last e-mail to addr, failing the test
// unless there is one.
func (m *mailer) lastLink(tb testing.TB, addr string) string {
	tb.Helper()
	msgs := m.to(addr)
	if len(msgs) == 0 {
		tb.Fatalf("no e-mail to %s", addr)
	}
	links := linkRE.FindAllString(msgs[len(msgs)-1].Body, -1)
	if len(links) == 0 {
		tb.Fatalf("last e-mail to %s has no link:\n%s", addr, msgs[len(msgs)-1].Body)
	}
	return links[len(links)-1]
}

// lastToken returns the token of the link in the last e-mail to addr, after
// checking that the link is <workspace URL><prefix><token>.
func (e *env) lastToken(tb testing.TB, ws *gatehouse.Workspace, addr, prefix string) string {
	tb.Helper()
	return tokenOf(tb, ws, e.mail.lastLink(tb, addr), prefix)
}

// tokenOf checks that link is <workspace URL><prefix><token> and returns the token.
func tokenOf(tb testing.TB, ws *gatehouse.Workspace, link, prefix string) string {
	tb.Helper()
	token, ok := strings.CutPrefix(link, workspaceURL(ws.Slug)+prefix)
	if !ok || token == "" || strings.Contains(token, "/") {
		tb.Fatalf("link %q is not %s%s<token>", link, workspaceURL(ws.Slug), prefix)
	}
	return token
}

func workspaceURL(slug string) string { return "http://" + slug + ".localhost:8080" }

// jobQueue is a fake account.Jobs that keeps what is queued until run.
type jobQueue struct {
	mu   sync.Mutex
	jobs []queuedJob
}

type queuedJob struct {
	workspaceID   int64
	kind, payload string
}

func (q *jobQueue) EnqueueJob(_ context.Context, workspaceID int64, kind, payload string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, queuedJob{workspaceID, kind, payload})
	return nil
}

// take removes and returns the queued jobs.
func (q *jobQueue) take() []queuedJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs
	q.jobs = nil
	return j
}

// env is a Service on a fresh SQLite store with a fixed clock, a fake mailer
// and job queue, and one workspace.
type env struct {
	svc   *account.Service
	db    *sqlite.DB
	clock *clock
	mail  *mailer
	jobs  *jobQueue
	ws    *gatehouse.Workspace
}

// runJobs runs the queued jobs, as the outbox worker does after the answer.
func (e *env) runJobs(tb testing.TB) {
	tb.Helper()
	for _, j := range e.jobs.take() {
		if err := e.svc.RunJob(context.Background(), j.workspaceID, j.kind, j.payload); err != nil {
			tb.Fatalf("run %s job: %v", j.kind, err)
		}
	}
}

// mustOpen opens a migrated SQLite store in a temp file.
func mustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// newEnv returns an env whose workspace "acme" ("Acme Corp") has sign-up and
// remember-me enabled.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	c := newClock()
	m := &mailer{}
	q := &jobQueue{}
	db := mustOpen(tb)
	e := &env{
		svc: &account.Service{
			Store:        db,
			Hasher:       password.NewHasher(cheapParams, 0),
			Mailer:       m,
			Jobs:         q,
			WorkspaceURL: workspaceURL,
			Now:          c.Now,
			Logger:       slog.New(slog.DiscardHandler),
		},
		db:    db,
		clock: c,
		mail:  m,
		jobs:  q,
	}
	m.worker = func() { e.runJobs(tb) }
	e.ws = e.mustWorkspace(tb, "acme", "Acme Corp", func(w *gatehouse.Workspace) {
		w.SignupEnabled, w.RememberMeEnabled = true, true
	})
	return e
}

// mustWorkspace creates a workspace on plan pro; edit may change it first.
func (e *env) mustWorkspace(tb testing.TB, slug, name string, edit func(*gatehouse.Workspace)) *gatehouse.Workspace {
	tb.Helper()
	now := e.clock.Now()
	w := gatehouse.NewWorkspace(slug, name, gatehouse.PlanPro, now)
	w.RememberMeEnabled = false // the tests turn it on where they need it
	if edit != nil {
		edit(w)
	}
	if err := e.db.CreateWorkspace(context.Background(), w); err != nil {
		tb.Fatalf("create workspace %s: %v", slug, err)
	}
	return w
}

// mustUser creates an active user with the password in ws through the service.
func (e *env) mustUser(tb testing.TB, ws *gatehouse.Workspace, email, plain string, role gatehouse.Role) *gatehouse.User {
	tb.Helper()
	u, link, err := e.svc.CreateUser(context.Background(), ws, account.NewUser{Email: email, Name: "Test User", Role: role, Password: plain})
	if err != nil {
		tb.Fatalf("create user %s: %v", email, err)
	}
	if link != "" {
		tb.Fatalf("create user %s with a password returned an invitation link %q", email, link)
	}
	return u
}

// mustInvited creates a user who has been invited but has not accepted.
func (e *env) mustInvited(tb testing.TB, ws *gatehouse.Workspace, email string, role gatehouse.Role) (*gatehouse.User, string) {
	tb.Helper()
	u, link, err := e.svc.Invite(context.Background(), ws, nil, email, role)
	if err != nil {
		tb.Fatalf("invite %s: %v", email, err)
	}
	return u, tokenOf(tb, ws, link, "/invite/")
}

// mustDisable marks the user disabled in the store.
func (e *env) mustDisable(tb testing.TB, u *gatehouse.User) {
	tb.Helper()
	if err := e.db.SetUserDisabled(context.Background(), u.WorkspaceID, u.ID, true, u.UpdatedAt, nil); err != nil {
		tb.Fatalf("disable user %d: %v", u.ID, err)
	}
	u.Disabled = true
}

// mustFindUser reloads a user by e-mail from the store.
func (e *env) mustFindUser(tb testing.TB, ws *gatehouse.Workspace, email string) *gatehouse.User {
	tb.Helper()
	u, err := e.db.FindUserByEmail(context.Background(), ws.ID, email)
	if err != nil {
		tb.Fatalf("find user %s: %v", email, err)
	}
	return u
}

// mustSignIn makes a session for u through SignIn, without a password check.
func (e *env) mustSignIn(tb testing.TB, ws *gatehouse.Workspace, u *gatehouse.User, o account.SignInOptions) *account.SignedIn {
	tb.Helper()
	si, err := e.svc.SignIn(context.Background(), ws, u, o)
	if err != nil {
		tb.Fatalf("sign in user %d: %v", u.ID, err)
	}
	return si
}

// auth calls Authenticate in e's workspace.
func (e *env) auth(email, plain, ip string) (*gatehouse.User, error) {
	return e.svc.Authenticate(context.Background(), e.ws, account.Credentials{Email: email, Password: plain, IP: ip})
}

// mustAuth fails the test unless the credentials are accepted.
func (e *env) mustAuth(tb testing.TB, email, plain, ip string) *gatehouse.User {
	tb.Helper()
	u, err := e.auth(email, plain, ip)
	if err != nil {
		tb.Fatalf("authenticate %s: %v", email, err)
	}
	return u
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// wantThrottled fails the test unless err is a *account.ThrottledError with a
// positive RetryAfter, which it returns.
func wantThrottled(tb testing.TB, what string, err error) time.Duration {
	tb.Helper()
	var te *account.ThrottledError
	if !errors.As(err, &te) {
		tb.Fatalf("%s: got error %v, want *account.ThrottledError", what, err)
	}
	if te.RetryAfter <= 0 {
		tb.Fatalf("%s: RetryAfter = %v, want > 0", what, te.RetryAfter)
	}
	return te.RetryAfter
}
