package mfa_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/postgres"
	"github.com/gatehouse-dev/gatehouse/secret"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

// t0 is where every test clock starts: 10 s into a TOTP step, on whole
// seconds (PostgreSQL keeps microseconds, SQLite nanoseconds).
var t0 = time.Date(2039, time.June, 2, 9, 0, 10, 0, time.UTC)

// testIP is the client address every call in these tests comes from.
const testIP = "203.0.113.7"

// clock is a fixed clock the test moves by hand; the service reads it
// through Service.Now, also from several goroutines at once.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

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

// Set puts the clock at t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// sentMail is one e-mail handed to the fake mailer.
type sentMail struct {
	WorkspaceID int64
	To          string
	Subject     string
	Body        string
}

// mailer is a fake mfa.Mailer that records what it is given.
type mailer struct {
	mu   sync.Mutex
	sent []sentMail
}

func (m *mailer) Enqueue(_ context.Context, workspaceID int64, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{workspaceID, to, subject, body})
	return nil
}

// all returns a copy of every e-mail sent so far, oldest first.
func (m *mailer) all() []sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent)
}

// withSubject returns the e-mails whose subject starts with prefix.
func (m *mailer) withSubject(prefix string) []sentMail {
	var out []sentMail
	for _, s := range m.all() {
		if strings.HasPrefix(s.Subject, prefix) {
			out = append(out, s)
		}
	}
	return out
}

var mailedCodeRE = regexp.MustCompile(`code is (\d{6})\b`)

// codeMails returns the e-mails that carry a one-time code, with the codes.
func (m *mailer) codeMails() ([]sentMail, []string) {
	var mails []sentMail
	var codes []string
	for _, s := range m.all() {
		if c := mailedCodeRE.FindStringSubmatch(s.Body); c != nil {
			mails = append(mails, s)
			codes = append(codes, c[1])
		}
	}
	return mails, codes
}

// lastCode returns the code in the newest code e-mail, failing the test
// unless there is one.
func (m *mailer) lastCode(tb testing.TB) string {
	tb.Helper()
	_, codes := m.codeMails()
	if len(codes) == 0 {
		tb.Fatal("no code was e-mailed")
	}
	return codes[len(codes)-1]
}

// failOnError is a slog handler that fails the test on every error the
// service logs: a failed audit write or e-mail is a failure here.
type failOnError struct{ tb testing.TB }

func (h failOnError) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h failOnError) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h failOnError) WithGroup(string) slog.Handler                { return h }

func (h failOnError) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s", a); return true })
	h.tb.Errorf("service logged an error: %s%s", r.Message, b.String())
	return nil
}

// stores is a whole database as the tests see it: what the service calls
// and what the tests set up with.
type stores interface {
	mfa.Store
	gatehouse.Store
}

// backend opens stores of one kind.
type backend struct {
	name string
	// open returns n stores opened separately over one fresh, migrated
	// database, as n Gatehouse instances would have, closed when tb ends.
	open func(tb testing.TB, n int) []stores
}

var backends = []backend{{"sqlite", openSQLite}, {"postgres", openPostgres}}

// forEachBackend runs f as a subtest on every backend. PostgreSQL is
// skipped, loudly, when GATEHOUSE_TEST_DATABASE_URL is unset.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// openSQLite opens n stores on one SQLite file in a temp dir (not
// :memory:, where every pooled connection has its own database).
func openSQLite(tb testing.TB, n int) []stores {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "gatehouse.db")
	stores := make([]stores, n)
	for i := range n {
		db, err := sqlite.Open(path)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		if i == 0 {
			if err := db.Migrate(context.Background()); err != nil {
				tb.Fatal(err)
			}
		}
		stores[i] = db
	}
	return stores
}

// openPostgres opens n stores on one fresh schema of the test database.
func openPostgres(tb testing.TB, n int) []stores {
	tb.Helper()
	url := newPostgresSchema(tb)
	stores := make([]stores, n)
	for i := range n {
		db, err := postgres.Open(context.Background(), url)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		if i == 0 {
			if err := db.Migrate(context.Background()); err != nil {
				tb.Fatal(err)
			}
		}
		stores[i] = db
	}
	return stores
}

// newPostgresSchema creates an empty schema gh_test_<random> in the database
// GATEHOUSE_TEST_DATABASE_URL names, drops it when the test ends, and
// returns a connection string whose search_path is that schema. Without the
// variable the test is skipped loudly: a silent skip would let a broken
// PostgreSQL path pass unnoticed.
func newPostgresSchema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("GATEHOUSE_TEST_DATABASE_URL")
	if base == "" {
		tb.Skip("GATEHOUSE_TEST_DATABASE_URL is unset: PostgreSQL service tests SKIPPED; CI sets it " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "gh_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse GATEHOUSE_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// setup describes the workspace and user of a harness.
type setup struct {
	mode    gatehouse.MFAMode  // optional when empty
	methods []gatehouse.Method // allowed methods; TOTP and e-mail when nil
	// unverified leaves the user's mailbox unproven.
	unverified bool
}

// harness is a Service over one store with a fixed clock, a fake mailer,
// and a pro workspace with one user, made straight in the store.
type harness struct {
	store stores
	svc   *mfa.Service
	key   []byte
	clock *clock
	mail  *mailer
	// sms is the fake outbox for texts, once enableSMS has set it.
	sms  *smsQueue
	ws   *gatehouse.Workspace
	user *gatehouse.User
	tb   testing.TB
}

func newHarness(tb testing.TB, store stores, s setup) *harness {
	tb.Helper()
	if s.mode == "" {
		s.mode = gatehouse.MFAOptional
	}
	if s.methods == nil {
		s.methods = []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}
	}
	h := &harness{store: store, key: make([]byte, secret.KeySize), clock: &clock{now: t0}, mail: &mailer{}, tb: tb}
	rand.Read(h.key)
	h.svc = h.instance(store)
	ctx := context.Background()
	h.ws = gatehouse.NewWorkspace("acme", "Acme & Co", gatehouse.PlanPro, t0)
	h.ws.MFA = gatehouse.MFASettings{Mode: s.mode, Methods: s.methods, TrustedDeviceDays: 30, ModeChangedAt: t0.Add(-time.Hour)}
	if err := store.CreateWorkspace(ctx, h.ws); err != nil {
		tb.Fatal(err)
	}
	h.user = h.newUser(tb, "ann@example.com", !s.unverified)
	return h
}

// instance returns another Service over store that shares the harness's
// clock, mailer and server key, as a second instance would.
func (h *harness) instance(store stores) *mfa.Service {
	keys, err := secret.NewKeyring(h.key)
	if err != nil {
		h.tb.Fatal(err)
	}
	return &mfa.Service{Store: store, Keys: keys, Mailer: h.mail, Now: h.clock.Now,
		Logger: slog.New(failOnError{h.tb})}
}

// newUser creates an active client of the workspace.
func (h *harness) newUser(tb testing.TB, email string, verified bool) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{Email: email, Name: "User " + email, Role: gatehouse.RoleClient, PasswordHash: "$argon2id$not-checked-here",
		EmailVerified: verified, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour)}
	if err := h.store.CreateUser(context.Background(), h.ws.ID, u); err != nil {
		tb.Fatal(err)
	}
	return u
}

// pending creates a pending session of the harness's user, a login waiting
// for its second factor, and returns it as the session check reads it.
func (h *harness) pending(tb testing.TB) *gatehouse.Visit {
	tb.Helper()
	return h.session(tb, h.store, h.user, false)
}

// signedIn creates a session of the harness's user that has passed the gate.
func (h *harness) signedIn(tb testing.TB) *gatehouse.Visit {
	tb.Helper()
	return h.session(tb, h.store, h.user, true)
}

// proven returns a session of the harness's user whose login proved the
// mailbox, as one that an e-mailed link (invitation, sign-up, reset)
// started; verified as session's.
func (h *harness) proven(tb testing.TB, verified bool) *gatehouse.Visit {
	tb.Helper()
	return h.session(tb, h.store, h.user, verified, mailboxProven)
}

// mailboxProven marks a session as a login that proved the mailbox when it
// began.
func mailboxProven(s *gatehouse.Session) {
	at := s.CreatedAt
	s.MailboxProvenAt = &at
}

// session creates a session of u through store, adjusted by each of marks,
// and reads it back with FindVisit, so the visit's methods, settings and
// counters are the store's.
func (h *harness) session(tb testing.TB, store stores, u *gatehouse.User, verified bool, marks ...func(*gatehouse.Session)) *gatehouse.Visit {
	tb.Helper()
	token := make([]byte, 32)
	rand.Read(token)
	hash := sha256.Sum256(token)
	now := h.clock.Now()
	s := &gatehouse.Session{UserID: u.ID, TokenHash: hash[:], CreatedAt: now, LastSeenAt: now, ReauthAt: now,
		ExpiresAt: now.Add(10 * time.Minute), IdleTimeout: 10 * time.Minute, IP: testIP, UserAgent: "test"}
	if verified {
		s.MFAVerifiedAt = &now
		s.ExpiresAt, s.IdleTimeout = now.Add(12*time.Hour), time.Hour
	}
	for _, mark := range marks {
		mark(s)
	}
	if err := store.CreateSession(context.Background(), h.ws.ID, s, u.PasswordHash); err != nil {
		tb.Fatal(err)
	}
	return h.visit(tb, store, s.TokenHash)
}

// visit reads the session with the token hash through store.
func (h *harness) visit(tb testing.TB, store stores, tokenHash []byte) *gatehouse.Visit {
	tb.Helper()
	v, err := store.FindVisit(context.Background(), h.ws.ID, tokenHash)
	if err != nil {
		tb.Fatalf("find visit: %v", err)
	}
	return v
}

// reload reads v's session again, as the next request would.
func (h *harness) reload(tb testing.TB, v *gatehouse.Visit) *gatehouse.Visit {
	tb.Helper()
	return h.visit(tb, h.store, v.Session.TokenHash)
}

// exists reports whether v's session is still stored.
func (h *harness) exists(tb testing.TB, v *gatehouse.Visit) bool {
	tb.Helper()
	_, err := h.store.FindVisit(context.Background(), h.ws.ID, v.Session.TokenHash)
	if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		tb.Fatal(err)
	}
	return err == nil
}

// setMethods changes which methods the workspace allows.
func (h *harness) setMethods(tb testing.TB, ms ...gatehouse.Method) {
	tb.Helper()
	h.update(tb, gatehouse.WorkspaceUpdate{MFAMethods: &ms})
}

// setMode changes the workspace's two-factor mode.
func (h *harness) setMode(tb testing.TB, m gatehouse.MFAMode) {
	tb.Helper()
	h.update(tb, gatehouse.WorkspaceUpdate{MFAMode: &m})
}

// update writes the fields upd names and reads the workspace back.
func (h *harness) update(tb testing.TB, upd gatehouse.WorkspaceUpdate) {
	tb.Helper()
	ws, err := h.store.UpdateWorkspace(context.Background(), h.ws.ID, upd, h.clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	h.ws = ws
}

// stored reads u again from the store.
func (h *harness) stored(tb testing.TB, u *gatehouse.User) *gatehouse.User {
	tb.Helper()
	got, err := h.store.FindUserByID(context.Background(), h.ws.ID, u.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// checkUserUntouched checks that u's stored row is as it was made: proving
// the mailbox belongs to a login, not to the user.
func (h *harness) checkUserUntouched(tb testing.TB, u *gatehouse.User) {
	tb.Helper()
	got := h.stored(tb, u)
	if got.EmailVerified != u.EmailVerified || !got.UpdatedAt.Equal(u.UpdatedAt) {
		tb.Errorf("stored user = EmailVerified %v, UpdatedAt %v; want %v, %v (untouched)",
			got.EmailVerified, got.UpdatedAt, u.EmailVerified, u.UpdatedAt)
	}
}

// decision returns ChallengeFor's decision for v, failing the test on an
// error.
func (h *harness) decision(tb testing.TB, v *gatehouse.Visit) mfa.Decision {
	tb.Helper()
	ch, err := h.svc.ChallengeFor(context.Background(), v)
	if err != nil {
		tb.Fatal(err)
	}
	return ch.Decision
}

// addEmailFactor gives u an active e-mail factor straight in the store.
func (h *harness) addEmailFactor(tb testing.TB, u *gatehouse.User) {
	tb.Helper()
	now := h.clock.Now()
	f := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: now, ConfirmedAt: &now}
	if err := h.store.SaveFactor(context.Background(), h.ws.ID, f); err != nil {
		tb.Fatal(err)
	}
}

// enrollTOTP sets up TOTP for v's user through the service and returns the
// seed and the recovery codes ConfirmTOTP gave. The clock then moves on a
// step, so the next code is not a replay of the confirming one. Other
// sessions of the user end (SPEC §6): make them afterwards.
func (h *harness) enrollTOTP(tb testing.TB, v *gatehouse.Visit) (seed string, codes []string) {
	tb.Helper()
	ctx := context.Background()
	st, err := h.svc.StartTOTP(ctx, v)
	if err != nil {
		tb.Fatalf("StartTOTP: %v", err)
	}
	codes, err = h.svc.ConfirmTOTP(ctx, v, totpCode(tb, st.Secret, h.clock.Now()), testIP)
	if err != nil {
		tb.Fatalf("ConfirmTOTP: %v", err)
	}
	h.clock.Advance(mfa.TOTPPeriod)
	return st.Secret, codes
}

// throttle returns the user's second-factor failure counter.
func (h *harness) throttle(tb testing.TB, u *gatehouse.User) gatehouse.Throttle {
	tb.Helper()
	th, err := h.store.FindThrottle(context.Background(), h.ws.ID, fmt.Sprintf("mfa:%d", u.ID))
	if err != nil {
		tb.Fatal(err)
	}
	return th
}

// clearThrottle forgets the user's second-factor failures, as an admin
// reset would, so a subtest starts from none.
func (h *harness) clearThrottle(tb testing.TB, u *gatehouse.User) {
	tb.Helper()
	if err := h.store.ResetThrottle(context.Background(), h.ws.ID, fmt.Sprintf("mfa:%d", u.ID)); err != nil {
		tb.Fatal(err)
	}
}

// recoveryLeft returns how many unused recovery codes u has.
func (h *harness) recoveryLeft(tb testing.TB, u *gatehouse.User) int {
	tb.Helper()
	n, err := h.store.CountRecoveryCodes(context.Background(), h.ws.ID, u.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// events returns the workspace's audit events of the type, newest first.
func (h *harness) events(tb testing.TB, typ string) []gatehouse.AuditEvent {
	tb.Helper()
	all, err := h.store.ListAuditEvents(context.Background(), h.ws.ID, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	var out []gatehouse.AuditEvent
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// totpCode returns the seed's code at t.
func totpCode(tb testing.TB, seed string, t time.Time) string {
	tb.Helper()
	c, err := mfa.TOTPCode(seed, t)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// wrongTOTP returns a well-formed code that matches none of the steps
// accepted at t.
func wrongTOTP(tb testing.TB, seed string, t time.Time) string {
	tb.Helper()
	accepted := acceptedAt(tb, seed, t)
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i); !slices.Contains(accepted, c) {
			return c
		}
	}
}

// outsideCode returns the code of the step dir·2 steps from t, or, in the
// one-in-a-million case that it equals a code accepted at t, of the next
// step further out.
func outsideCode(tb testing.TB, seed string, t time.Time, dir int) string {
	tb.Helper()
	accepted := acceptedAt(tb, seed, t)
	for k := 2; ; k++ {
		if c := totpCode(tb, seed, t.Add(time.Duration(dir*k)*mfa.TOTPPeriod)); !slices.Contains(accepted, c) {
			return c
		}
	}
}

// acceptedAt returns the codes of the steps accepted at t.
func acceptedAt(tb testing.TB, seed string, t time.Time) []string {
	tb.Helper()
	var out []string
	for d := -mfa.TOTPSkew; d <= mfa.TOTPSkew; d++ {
		out = append(out, totpCode(tb, seed, t.Add(time.Duration(d)*mfa.TOTPPeriod)))
	}
	return out
}

// verify calls Verify and fails the test unless it succeeds.
func (h *harness) verify(tb testing.TB, v *gatehouse.Visit, method, code string) *mfa.Verified {
	tb.Helper()
	res, err := h.svc.Verify(context.Background(), v, method, code, testIP)
	if err != nil {
		tb.Fatalf("Verify(%s, %q) = %v; want success", method, code, err)
	}
	if res.Method != method {
		tb.Errorf("Verified.Method = %q, want %q", res.Method, method)
	}
	return res
}

// verifyErr calls Verify and fails the test unless the error is want.
func (h *harness) verifyErr(tb testing.TB, v *gatehouse.Visit, method, code string, want error) {
	tb.Helper()
	_, err := h.svc.Verify(context.Background(), v, method, code, testIP)
	if !errors.Is(err, want) {
		tb.Fatalf("Verify(%s, %q) = %v; want %v", method, code, err, want)
	}
}

var recoveryCodeRE = regexp.MustCompile(`^[` + mfa.RecoveryAlphabet + `]{4}(-[` + mfa.RecoveryAlphabet + `]{4}){3}$`)

// checkRecoveryCodes checks that codes are 8 distinct codes shown as
// xxxx-xxxx-xxxx-xxxx.
func checkRecoveryCodes(tb testing.TB, codes []string) {
	tb.Helper()
	if len(codes) != mfa.RecoveryCodeCount {
		tb.Fatalf("got %d recovery codes, want %d: %q", len(codes), mfa.RecoveryCodeCount, codes)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryCodeRE.MatchString(c) {
			tb.Errorf("recovery code %q is not xxxx-xxxx-xxxx-xxxx", c)
		}
		if seen[c] {
			tb.Errorf("recovery code %q given twice", c)
		}
		seen[c] = true
	}
}

func TestTOTPEnrollment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		ctx := t.Context()
		v := h.signedIn(t)

		if _, err := h.svc.PendingTOTP(ctx, v); !errors.Is(err, mfa.ErrNotPending) {
			t.Errorf("PendingTOTP before StartTOTP = %v; want ErrNotPending", err)
		}
		if _, err := h.svc.ConfirmTOTP(ctx, v, "123456", testIP); !errors.Is(err, mfa.ErrNotPending) {
			t.Errorf("ConfirmTOTP before StartTOTP = %v; want ErrNotPending", err)
		}

		first, err := h.svc.StartTOTP(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		// A second start replaces the first secret.
		st, err := h.svc.StartTOTP(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if st.Secret == first.Secret {
			t.Error("a second StartTOTP kept the first secret")
		}
		if len(st.Secret) != 32 || st.Grouped != mfa.GroupSecret(st.Secret) ||
			st.URI != mfa.TOTPURI(st.Secret, h.ws.Name, h.user.Email) {
			t.Errorf("StartTOTP = %+v", st)
		}
		again, err := h.svc.PendingTOTP(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if *again != *st {
			t.Errorf("PendingTOTP = %+v; want %+v", again, st)
		}

		now := h.clock.Now()
		if old := totpCode(t, first.Secret, now); !slices.Contains(acceptedAt(t, st.Secret, now), old) {
			if _, err := h.svc.ConfirmTOTP(ctx, v, old, testIP); !errors.Is(err, mfa.ErrMismatch) {
				t.Errorf("ConfirmTOTP with the replaced secret's code = %v; want ErrMismatch", err)
			}
		}
		if _, err := h.svc.ConfirmTOTP(ctx, v, wrongTOTP(t, st.Secret, now), testIP); !errors.Is(err, mfa.ErrMismatch) {
			t.Fatalf("ConfirmTOTP with a wrong code = %v; want ErrMismatch", err)
		}
		if _, err := h.svc.ConfirmTOTP(ctx, v, "12345", testIP); !errors.Is(err, mfa.ErrMismatch) {
			t.Fatalf("ConfirmTOTP with 5 digits = %v; want ErrMismatch", err)
		}
		if still, err := h.svc.PendingTOTP(ctx, v); err != nil || still.Secret != st.Secret {
			t.Errorf("after a wrong code PendingTOTP = %+v, %v; want the same secret", still, err)
		}
		if ms := h.reload(t, v).Methods; len(ms) != 0 {
			t.Errorf("after a wrong code the user's methods = %v; want none", ms)
		}

		codes, err := h.svc.ConfirmTOTP(ctx, v, totpCode(t, st.Secret, now), testIP)
		if err != nil {
			t.Fatalf("ConfirmTOTP with the right code: %v", err)
		}
		checkRecoveryCodes(t, codes)
		if n := h.recoveryLeft(t, h.user); n != 8 {
			t.Errorf("%d recovery codes stored, want 8", n)
		}
		if ms := h.reload(t, v).Methods; !slices.Equal(ms, []gatehouse.Method{gatehouse.MethodTOTP}) {
			t.Errorf("user's methods = %v; want [totp]", ms)
		}
		if got := h.mail.withSubject("Two-factor method added"); len(got) != 1 || got[0].To != h.user.Email ||
			!strings.Contains(got[0].Body, "added to your account at Acme & Co: Authenticator app.") {
			t.Errorf("method-added e-mails = %+v", got)
		}

		// Active now: nothing is pending, and it must be disabled before a
		// new start.
		if _, err := h.svc.PendingTOTP(ctx, v); !errors.Is(err, mfa.ErrNotPending) {
			t.Errorf("PendingTOTP when active = %v; want ErrNotPending", err)
		}
		if _, err := h.svc.ConfirmTOTP(ctx, v, totpCode(t, st.Secret, now.Add(mfa.TOTPPeriod)), testIP); !errors.Is(err, mfa.ErrNotPending) {
			t.Errorf("ConfirmTOTP when active = %v; want ErrNotPending", err)
		}
		if _, err := h.svc.StartTOTP(ctx, v); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("StartTOTP when active = %v; want ErrInvalid", err)
		}
		// The confirming code's step is used up.
		h.verifyErr(t, h.pending(t), "totp", totpCode(t, st.Secret, now), mfa.ErrReplay)
	})
}

func TestStartTOTPNotAllowed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodEmail}})
		if _, err := h.svc.StartTOTP(t.Context(), h.signedIn(t)); !errors.Is(err, mfa.ErrUnavailable) {
			t.Errorf("StartTOTP where TOTP is not allowed = %v; want ErrUnavailable", err)
		}
	})
}

// TestTOTPReenrollment checks which activations hand out recovery codes:
// ConfirmTOTP gives a new set only when the user has no unused codes.
func TestTOTPReenrollment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("only method", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			ctx := t.Context()
			v := h.signedIn(t)
			_, old := h.enrollTOTP(t, v)
			checkRecoveryCodes(t, old)
			if err := h.svc.Disable(ctx, h.reload(t, v), gatehouse.MethodTOTP, testIP); err != nil {
				t.Fatal(err)
			}
			if n := h.recoveryLeft(t, h.user); n != 0 {
				t.Fatalf("after disabling the only method %d recovery codes are left; want 0", n)
			}
			_, codes := h.enrollTOTP(t, h.reload(t, v))
			checkRecoveryCodes(t, codes)
			for _, c := range codes {
				if slices.Contains(old, c) {
					t.Errorf("re-enrollment gave the old code %s again", c)
				}
			}
			h.verifyErr(t, h.pending(t), "recovery", old[0], mfa.ErrMismatch)
			if res := h.verify(t, h.pending(t), "recovery", codes[0]); res.RecoveryLeft != 7 {
				t.Errorf("RecoveryLeft = %d, want 7", res.RecoveryLeft)
			}
		})
		t.Run("codes remain", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			ctx := t.Context()
			h.addEmailFactor(t, h.user)
			v := h.signedIn(t)
			_, old := h.enrollTOTP(t, v)
			checkRecoveryCodes(t, old)
			if err := h.svc.Disable(ctx, h.reload(t, v), gatehouse.MethodTOTP, testIP); err != nil {
				t.Fatal(err)
			}
			if n := h.recoveryLeft(t, h.user); n != 8 {
				t.Fatalf("after disabling TOTP with e-mail left %d recovery codes remain; want 8", n)
			}
			if _, codes := h.enrollTOTP(t, h.reload(t, v)); len(codes) != 0 {
				t.Errorf("second activation returned %d recovery codes; want none while codes remain", len(codes))
			}
			if n := h.recoveryLeft(t, h.user); n != 8 {
				t.Errorf("%d recovery codes after the second activation; want the 8 old ones", n)
			}
			h.verify(t, h.pending(t), "recovery", old[0])
		})
	})
}

func TestVerifyTOTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		seed, recovery := h.enrollTOTP(t, h.signedIn(t))
		period := mfa.TOTPPeriod

		t.Run("current code once", func(t *testing.T) {
			code := totpCode(t, seed, h.clock.Now())
			v := h.pending(t)
			if res := h.verify(t, v, "totp", code); res.RecoveryLeft != 0 {
				t.Errorf("RecoveryLeft after TOTP = %d, want 0", res.RecoveryLeft)
			}
			h.verifyErr(t, v, "totp", code, mfa.ErrReplay)
			// Replay is refused per user, not per login.
			h.verifyErr(t, h.pending(t), "totp", code, mfa.ErrReplay)
		})
		t.Run("previous step", func(t *testing.T) {
			h.clock.Advance(5 * period)
			h.verify(t, h.pending(t), "totp", totpCode(t, seed, h.clock.Now().Add(-period)))
		})
		t.Run("next step", func(t *testing.T) {
			h.clock.Advance(5 * period)
			now := h.clock.Now()
			v := h.pending(t)
			h.verify(t, v, "totp", totpCode(t, seed, now.Add(period)))
			// The next step is used, so the current one, earlier, is refused.
			h.verifyErr(t, v, "totp", totpCode(t, seed, now), mfa.ErrReplay)
		})
		t.Run("two steps off", func(t *testing.T) {
			h.clock.Advance(5 * period)
			now := h.clock.Now()
			v := h.pending(t)
			h.verifyErr(t, v, "totp", outsideCode(t, seed, now, -1), mfa.ErrMismatch)
			h.verifyErr(t, v, "totp", outsideCode(t, seed, now, +1), mfa.ErrMismatch)
			// Neither used up the current step.
			h.verify(t, v, "totp", totpCode(t, seed, now))
		})
		t.Run("spaces", func(t *testing.T) {
			h.clock.Advance(5 * period)
			code := totpCode(t, seed, h.clock.Now())
			v := h.pending(t)
			h.verify(t, v, "totp", code[:3]+" "+code[3:])
			// Normalising opens no replay.
			h.verifyErr(t, v, "totp", code, mfa.ErrReplay)
			h.verifyErr(t, v, "totp", " "+code[:3]+"\u00a0"+code[3:]+" ", mfa.ErrReplay)
		})
		t.Run("malformed", func(t *testing.T) {
			h.clock.Advance(5 * period)
			h.clearThrottle(t, h.user)
			v := h.pending(t)
			// Four of them: a fifth would end the login.
			for _, in := range []string{"12345", "1234567", "12a456", "１２３４５６"} {
				h.verifyErr(t, v, "totp", in, mfa.ErrMismatch)
			}
			h.verify(t, h.pending(t), "totp", totpCode(t, seed, h.clock.Now()))
		})
		t.Run("not allowed", func(t *testing.T) {
			// In a pending login only the decision's options count: with
			// TOTP no longer allowed and two-factor sign-in required, the
			// login has to prove the mailbox, and TOTP is refused.
			h.clock.Advance(5 * period)
			h.clearThrottle(t, h.user)
			code := totpCode(t, seed, h.clock.Now())
			h.setMethods(t, gatehouse.MethodEmail)
			h.setMode(t, gatehouse.MFARequired)
			v := h.pending(t)
			if d := h.decision(t, v); d.Next != mfa.ProveMailbox || !mfa.Pending(v, d) {
				t.Fatalf("decision = %+v, pending %v; want a pending prove-mailbox", d, mfa.Pending(v, d))
			}
			h.verifyErr(t, v, "totp", code, mfa.ErrUnavailable)
			h.verifyErr(t, v, "recovery", recovery[0], mfa.ErrUnavailable)
			// A method that is not offered is no wrong code: nothing is
			// counted and neither the step nor the recovery code is used.
			if th := h.throttle(t, h.user); th.Failures != 0 {
				t.Errorf("account failures = %d, want 0", th.Failures)
			}
			if n := h.reload(t, v).Session.MFAFailures; n != 0 {
				t.Errorf("session failures = %d, want 0", n)
			}
			if n := h.recoveryLeft(t, h.user); n != 8 {
				t.Errorf("%d recovery codes left, want 8", n)
			}
			h.setMode(t, gatehouse.MFAOptional)
			h.setMethods(t, gatehouse.MethodTOTP, gatehouse.MethodEmail)
			h.verify(t, h.pending(t), "totp", code)
		})
		t.Run("signed-in re-verify", func(t *testing.T) {
			// A signed-in session re-verifying (before a sensitive change)
			// may use any of the user's active methods, or a recovery code,
			// whatever the workspace now allows or its mode.
			defer h.setMode(t, gatehouse.MFAOptional)
			defer h.setMethods(t, gatehouse.MethodTOTP, gatehouse.MethodEmail)
			for _, c := range []struct {
				name    string
				mode    gatehouse.MFAMode
				allowed []gatehouse.Method
			}{
				{"optional, TOTP not allowed", gatehouse.MFAOptional, []gatehouse.Method{gatehouse.MethodEmail}},
				{"two-factor sign-in disabled", gatehouse.MFADisabled, []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}},
				{"required", gatehouse.MFARequired, []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}},
			} {
				h.clock.Advance(5 * period)
				h.setMode(t, c.mode)
				h.setMethods(t, c.allowed...)
				v := h.signedIn(t)
				if d := h.decision(t, v); mfa.Pending(v, d) {
					t.Fatalf("%s: a signed-in session is pending under %+v", c.name, d)
				}
				h.verify(t, v, "totp", totpCode(t, seed, h.clock.Now()))
				// Still no method the user does not have.
				h.verifyErr(t, v, "email", "123456", mfa.ErrUnavailable)
				h.verifyErr(t, v, "sms", "123456", mfa.ErrUnavailable)
			}
			v := h.signedIn(t)
			h.setMode(t, gatehouse.MFAOptional)
			h.setMethods(t, gatehouse.MethodEmail)
			if res := h.verify(t, h.reload(t, v), "recovery", recovery[1]); res.RecoveryLeft != 7 {
				t.Errorf("RecoveryLeft = %d, want 7", res.RecoveryLeft)
			}
			if th := h.throttle(t, h.user); th.Failures != 0 {
				t.Errorf("account failures = %d, want 0", th.Failures)
			}
		})
		t.Run("methods not enrolled", func(t *testing.T) {
			v := h.pending(t)
			h.verifyErr(t, v, "email", "123456", mfa.ErrUnavailable)
			h.verifyErr(t, v, "sms", "123456", mfa.ErrUnavailable)
			h.verifyErr(t, v, "passkey", "123456", mfa.ErrUnavailable)
		})
	})
}

func TestSendCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		ctx := t.Context()
		h.addEmailFactor(t, h.user)
		v := h.pending(t)
		send := func() error { return h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP) }
		tooSoon := func(want int) {
			t.Helper()
			var ts *mfa.TooSoonError
			if err := send(); !errors.As(err, &ts) {
				t.Fatalf("SendCode = %v; want *TooSoonError", err)
			}
			words := fmt.Sprintf("in %d seconds", want)
			if want == 1 {
				words = "in 1 second."
			}
			if ts.Seconds() != want || !strings.Contains(ts.Error(), words) {
				t.Errorf("TooSoonError = %v (%d s); want %d s", ts, ts.Seconds(), want)
			}
		}

		if err := send(); err != nil {
			t.Fatal(err)
		}
		mails, codes := h.mail.codeMails()
		if len(mails) != 1 {
			t.Fatalf("%d code e-mails, want 1", len(mails))
		}
		if m := mails[0]; m.To != h.user.Email || m.WorkspaceID != h.ws.ID || m.Subject != codes[0]+" is your Acme & Co code" {
			t.Errorf("code e-mail = %+v", m)
		}
		state := func(v *gatehouse.Visit, want mfa.CodeState) {
			t.Helper()
			if st, err := h.svc.CodeState(ctx, v, gatehouse.MethodEmail); err != nil || st != want {
				t.Errorf("CodeState = %+v, %v; want %+v", st, err, want)
			}
		}
		state(v, mfa.CodeState{Sent: true, ResendIn: mfa.ResendGap})

		h.clock.Advance(20 * time.Second)
		tooSoon(40)
		state(v, mfa.CodeState{Sent: true, ResendIn: 40 * time.Second})
		h.clock.Advance(39*time.Second + 500*time.Millisecond)
		tooSoon(1) // half a second is rounded up
		// The minute is per user, not per login: another login has no code
		// and must wait too.
		other := h.pending(t)
		state(other, mfa.CodeState{Sent: false, ResendIn: 500 * time.Millisecond})
		if err := h.svc.SendCode(ctx, other, gatehouse.MethodEmail, testIP); !errors.As(err, new(*mfa.TooSoonError)) {
			t.Errorf("SendCode from another login = %v; want *TooSoonError", err)
		}
		if _, codes := h.mail.codeMails(); len(codes) != 1 {
			t.Fatalf("%d codes e-mailed while too soon, want 1", len(codes))
		}

		h.clock.Advance(1500 * time.Millisecond) // 61 s after the first
		if err := send(); err != nil {
			t.Fatalf("SendCode after 61 s: %v", err)
		}
		if _, codes := h.mail.codeMails(); len(codes) != 2 {
			t.Fatalf("%d codes e-mailed, want 2", len(codes))
		}
		if err := h.svc.SendCode(ctx, v, gatehouse.Method("pigeon"), testIP); !errors.Is(err, mfa.ErrUnavailable) {
			t.Errorf("SendCode on an unknown channel = %v; want ErrUnavailable", err)
		}
		// A channel the workspace does not allow is refused, before the
		// send is counted.
		h.clock.Advance(61 * time.Second)
		if err := h.svc.SendCode(ctx, v, gatehouse.MethodSMS, testIP); !errors.Is(err, mfa.ErrUnavailable) {
			t.Errorf("SendCode on SMS, not allowed = %v; want ErrUnavailable", err)
		}
		// E-mail no longer allowed: refused for a user without it (as when
		// proving the mailbox), still sent for a user re-verifying with the
		// e-mail method they have active.
		h.setMethods(t, gatehouse.MethodTOTP)
		v = h.reload(t, v)
		without := *v
		without.Methods = nil
		if err := h.svc.SendCode(ctx, &without, gatehouse.MethodEmail, testIP); !errors.Is(err, mfa.ErrUnavailable) {
			t.Errorf("SendCode on e-mail, no longer allowed, no such method = %v; want ErrUnavailable", err)
		}
		if !slices.Contains(v.Methods, gatehouse.MethodEmail) {
			t.Fatalf("the test's user has methods %v, want e-mail active", v.Methods)
		}
		if err := send(); err != nil {
			t.Errorf("SendCode on e-mail for a user re-verifying with it = %v", err)
		}
	})
}

func TestSendCodeDailyCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		ctx := t.Context()
		h.addEmailFactor(t, h.user)
		v := h.pending(t)
		send := func() error { return h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP) }
		first := h.clock.Now()
		for i := range mfa.DailyCodeCap {
			if i > 0 {
				h.clock.Advance(61 * time.Second)
			}
			if err := send(); err != nil {
				t.Fatalf("send %d: %v", i+1, err)
			}
		}
		h.clock.Advance(61 * time.Second)
		if err := send(); !errors.Is(err, mfa.ErrDailyCap) {
			t.Fatalf("send 11 = %v; want ErrDailyCap", err)
		}
		es := h.events(t, "mfa.code.refused")
		if len(es) != 1 || es[0].ActorID != h.user.ID || es[0].TargetID != h.user.ID || es[0].IP != testIP || !es[0].At.Equal(h.clock.Now()) {
			t.Errorf("refusal audit events = %+v", es)
		}
		h.clock.Advance(2 * time.Hour)
		if err := send(); !errors.Is(err, mfa.ErrDailyCap) {
			t.Fatalf("send 2 h later = %v; want ErrDailyCap", err)
		}
		h.clock.Set(first.Add(mfa.CodeWindow - time.Second))
		if err := send(); !errors.Is(err, mfa.ErrDailyCap) {
			t.Fatalf("send 1 s before the window ends = %v; want ErrDailyCap", err)
		}
		if _, codes := h.mail.codeMails(); len(codes) != mfa.DailyCodeCap {
			t.Fatalf("%d codes e-mailed, want %d", len(codes), mfa.DailyCodeCap)
		}
		h.clock.Set(first.Add(mfa.CodeWindow))
		if err := send(); err != nil {
			t.Fatalf("send when the window has passed: %v", err)
		}
		if _, codes := h.mail.codeMails(); len(codes) != mfa.DailyCodeCap+1 {
			t.Fatalf("%d codes e-mailed, want %d", len(codes), mfa.DailyCodeCap+1)
		}
		// The new window counts from here.
		h.clock.Advance(61 * time.Second)
		if err := send(); err != nil {
			t.Fatalf("second send of the new window: %v", err)
		}
	})
}

func TestVerifyEmailCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("challenge", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			ctx := t.Context()
			h.addEmailFactor(t, h.user)
			send := func(v *gatehouse.Visit) string {
				t.Helper()
				if err := h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP); err != nil {
					t.Fatal(err)
				}
				return h.mail.lastCode(t)
			}

			a := h.pending(t)
			h.verifyErr(t, a, "email", "123456", mfa.ErrNoCode)
			codeA := send(a)
			other := h.pending(t)
			h.verifyErr(t, other, "email", codeA, mfa.ErrNoCode)
			h.verify(t, a, "email", codeA)
			h.verifyErr(t, a, "email", codeA, mfa.ErrLoginEnded) // used: the login went on with it
			h.verifyErr(t, other, "email", codeA, mfa.ErrNoCode)

			// Once the other login has a code of its own, A's code is just
			// a wrong one there.
			h.clock.Advance(61 * time.Second)
			vb := h.pending(t)
			codeB := send(vb)
			if codeB == codeA {
				t.Skip("two random codes coincided")
			}
			h.verifyErr(t, vb, "email", codeA, mfa.ErrMismatch)
			h.verify(t, vb, "email", codeB[:3]+" "+codeB[3:])
		})
		t.Run("expiry", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			ctx := t.Context()
			h.addEmailFactor(t, h.user)
			early, late := h.pending(t), h.pending(t)
			if err := h.svc.SendCode(ctx, early, gatehouse.MethodEmail, testIP); err != nil {
				t.Fatal(err)
			}
			codeEarly := h.mail.lastCode(t)
			h.clock.Advance(61 * time.Second)
			if err := h.svc.SendCode(ctx, late, gatehouse.MethodEmail, testIP); err != nil {
				t.Fatal(err)
			}
			codeLate := h.mail.lastCode(t)
			h.clock.Advance(mfa.CodeTTL - 61*time.Second) // exactly CodeTTL after the early send
			h.verifyErr(t, early, "email", codeEarly, mfa.ErrExpired)
			h.verify(t, late, "email", codeLate)
		})
		t.Run("prove mailbox", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{mode: gatehouse.MFARequired, unverified: true})
			ctx := t.Context()
			v := h.pending(t)
			ch, err := h.svc.ChallengeFor(ctx, v)
			if err != nil || ch.Decision.Next != mfa.ProveMailbox {
				t.Fatalf("ChallengeFor = %+v, %v; want prove-mailbox", ch, err)
			}
			if err := h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP); err != nil {
				t.Fatal(err)
			}
			h.verifyErr(t, v, "totp", "123456", mfa.ErrUnavailable)
			h.clock.Advance(time.Second)
			h.verify(t, v, "email", h.mail.lastCode(t))
			if at := v.Session.MailboxProvenAt; at == nil || !at.Equal(h.clock.Now()) {
				t.Errorf("the visit's session MailboxProvenAt = %v; want %v", at, h.clock.Now())
			}
			if at := h.reload(t, v).Session.MailboxProvenAt; at == nil || !at.Equal(h.clock.Now()) {
				t.Errorf("stored session MailboxProvenAt = %v; want %v", at, h.clock.Now())
			}
			// The proof is the login's: the user's row is not touched.
			h.checkUserUntouched(t, h.user)
			if ch, err := h.svc.ChallengeFor(ctx, h.reload(t, v)); err != nil || ch.Decision.Next != mfa.Enroll {
				t.Errorf("after proving the mailbox ChallengeFor = %+v, %v; want enroll", ch, err)
			}
			// The next login proves it again.
			if d := h.decision(t, h.pending(t)); d.Next != mfa.ProveMailbox {
				t.Errorf("a new login's decision = %+v; want prove-mailbox", d)
			}
		})
	})
}

// TestLoginFailures checks the per-login limit: wrong codes over all methods
// count, sending a new code resets nothing, and the fifth ends the login.
func TestLoginFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("pending", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			ctx := t.Context()
			h.addEmailFactor(t, h.user)
			seed, _ := h.enrollTOTP(t, h.signedIn(t))
			v := h.pending(t)
			now := h.clock.Now()
			h.verifyErr(t, v, "totp", wrongTOTP(t, seed, now), mfa.ErrMismatch)
			h.verifyErr(t, v, "recovery", "aaaa-bbbb-cccc-dddd", mfa.ErrMismatch)
			if err := h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP); err != nil {
				t.Fatal(err)
			}
			h.verifyErr(t, v, "email", wrongEmailCode(h.mail.lastCode(t)), mfa.ErrMismatch)
			h.clock.Advance(61 * time.Second)
			if err := h.svc.SendCode(ctx, v, gatehouse.MethodEmail, testIP); err != nil {
				t.Fatal(err)
			}
			h.verifyErr(t, v, "email", wrongEmailCode(h.mail.lastCode(t)), mfa.ErrMismatch)
			if n := h.reload(t, v).Session.MFAFailures; n != 4 {
				t.Errorf("session failures = %d, want 4", n)
			}
			h.verifyErr(t, v, "totp", wrongTOTP(t, seed, h.clock.Now()), mfa.ErrTooManyFailures)
			if n := h.reload(t, v).Session.MFAFailures; n != mfa.MaxLoginFailures {
				t.Errorf("session failures = %d, want %d", n, mfa.MaxLoginFailures)
			}
		})
		t.Run("burst", func(t *testing.T) {
			// 8 wrong guesses at once on one pending login: attempts are
			// counted before codes are checked, so at most MaxLoginFailures
			// codes are ever looked at, and the rest are refused.
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			seed, _ := h.enrollTOTP(t, h.signedIn(t))
			v := h.pending(t)
			wrong := wrongTOTP(t, seed, h.clock.Now())
			errs := make([]error, 8)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range errs {
				wg.Go(func() {
					<-start
					_, errs[i] = h.svc.Verify(t.Context(), h.visit(t, h.store, v.Session.TokenHash), "totp", wrong, testIP)
				})
			}
			close(start)
			wg.Wait()
			checked := 0
			for _, err := range errs {
				switch {
				case errors.Is(err, mfa.ErrMismatch), errors.Is(err, mfa.ErrTooManyFailures) && checked < mfa.MaxLoginFailures:
					checked++
				case errors.As(err, new(*mfa.ThrottledError)), errors.Is(err, mfa.ErrTooManyFailures), errors.Is(err, mfa.ErrLoginEnded):
				default:
					t.Errorf("burst guess: %v", err)
				}
			}
			if es := h.events(t, "mfa.challenge.failed"); len(es) > mfa.MaxLoginFailures {
				t.Errorf("%d codes checked in a burst of 8, want at most %d", len(es), mfa.MaxLoginFailures)
			}
		})
		t.Run("signed in", func(t *testing.T) {
			// Re-verifying in a signed-in session counts against the
			// account, but there is no login to end.
			h := newHarness(t, b.open(t, 1)[0], setup{})
			seed, _ := h.enrollTOTP(t, h.signedIn(t))
			v := h.signedIn(t)
			for range mfa.MaxLoginFailures {
				h.verifyErr(t, v, "totp", wrongTOTP(t, seed, h.clock.Now()), mfa.ErrMismatch)
			}
		})
	})
}

// wrongEmailCode returns a code other than code.
func wrongEmailCode(code string) string {
	if code == "999999" {
		return "000000"
	}
	return "999999"
}

func TestAccountThrottle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		seed, _ := h.enrollTOTP(t, h.signedIn(t))
		wrong := func(v *gatehouse.Visit) {
			t.Helper()
			h.verifyErr(t, v, "totp", wrongTOTP(t, seed, h.clock.Now()), mfa.ErrMismatch)
		}
		throttled := func(v *gatehouse.Visit, want time.Duration) {
			t.Helper()
			var th *mfa.ThrottledError
			_, err := h.svc.Verify(t.Context(), v, "totp", totpCode(t, seed, h.clock.Now()), testIP)
			if !errors.As(err, &th) || th.RetryAfter != want {
				t.Fatalf("Verify = %v; want *ThrottledError after %v", err, want)
			}
		}

		// Five failures over two logins.
		v1, v2 := h.pending(t), h.pending(t)
		for range 3 {
			wrong(v1)
		}
		wrong(v2)
		wrong(v2)
		v3 := h.pending(t)
		throttled(v3, time.Second) // even with the right code
		if n := h.reload(t, v3).Session.MFAFailures; n != 0 {
			t.Errorf("a throttled attempt counted against the login: %d failures", n)
		}
		h.clock.Advance(500 * time.Millisecond)
		throttled(v3, 500*time.Millisecond)
		h.clock.Advance(500 * time.Millisecond)
		wrong(v3)
		throttled(v3, 2*time.Second) // the pause doubles
		if th := h.throttle(t, h.user); th.Failures != 6 {
			t.Errorf("account failures = %d, want 6", th.Failures)
		}

		// A success clears the account's counter: four more wrong codes
		// come back to back again, and the fifth still gets its answer.
		h.clock.Advance(2 * time.Second)
		h.verify(t, v3, "totp", totpCode(t, seed, h.clock.Now()))
		if th := h.throttle(t, h.user); th.Failures != 0 {
			t.Errorf("after a success account failures = %d, want 0", th.Failures)
		}
		h.clock.Advance(mfa.TOTPPeriod)
		v4, v5 := h.pending(t), h.pending(t)
		for range 4 {
			wrong(v4)
		}
		wrong(v5)
		throttled(v5, time.Second)
	})
}

func TestAccountLock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		seed, _ := h.enrollTOTP(t, h.signedIn(t))
		var pauses int
		for failures := 0; failures < 100; {
			v := h.pending(t)
			_, err := h.svc.Verify(t.Context(), v, "totp", wrongTOTP(t, seed, h.clock.Now()), testIP)
			var th *mfa.ThrottledError
			switch {
			case errors.As(err, &th):
				if th.RetryAfter <= 0 || th.RetryAfter > 15*time.Minute {
					t.Fatalf("pause of %v after %d failures", th.RetryAfter, failures)
				}
				h.clock.Advance(th.RetryAfter)
				pauses++
			case errors.Is(err, mfa.ErrMismatch):
				failures++
			default:
				t.Fatalf("Verify after %d failures = %v", failures, err)
			}
		}
		if pauses < 90 {
			t.Errorf("only %d pauses in 100 failures", pauses)
		}
		last := h.clock.Now()
		if th := h.throttle(t, h.user); th.Failures != 100 || !th.LastFailureAt.Equal(last) {
			t.Fatalf("throttle = %+v; want 100 failures, the last at %v", th, last)
		}
		// Locked, even for the right code.
		h.verifyErr(t, h.pending(t), "totp", totpCode(t, seed, h.clock.Now()), mfa.ErrLocked)
		h.clock.Advance(24*time.Hour - time.Second)
		h.verifyErr(t, h.pending(t), "totp", totpCode(t, seed, h.clock.Now()), mfa.ErrLocked)
		h.clock.Advance(2 * time.Second)
		// The lock is over and the old failures are forgotten: a wrong code
		// is one failure again.
		h.verifyErr(t, h.pending(t), "totp", wrongTOTP(t, seed, h.clock.Now()), mfa.ErrMismatch)
		if th := h.throttle(t, h.user); th.Failures != 1 {
			t.Errorf("after the lock a wrong code leaves %d failures; want 1", th.Failures)
		}
		h.verify(t, h.pending(t), "totp", totpCode(t, seed, h.clock.Now()))
		if th := h.throttle(t, h.user); th.Failures != 0 {
			t.Errorf("after a success the account has %d failures; want 0", th.Failures)
		}
	})
}

func TestRecoveryCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		ctx := t.Context()
		security := h.signedIn(t)
		_, codes := h.enrollTOTP(t, security)
		checkRecoveryCodes(t, codes)

		v := h.pending(t)
		ch, err := h.svc.ChallengeFor(ctx, v)
		if err != nil || !ch.Decision.Recovery || ch.RecoveryLeft != 8 {
			t.Fatalf("ChallengeFor = %+v, %v; want recovery with 8 left", ch, err)
		}
		typed := strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))
		if res := h.verify(t, v, "recovery", typed); res.RecoveryLeft != 7 {
			t.Errorf("RecoveryLeft = %d, want 7", res.RecoveryLeft)
		}
		if got := h.mail.withSubject("A recovery code was used"); len(got) != 1 || got[0].To != h.user.Email ||
			!strings.Contains(got[0].Body, "7 codes are left") {
			t.Errorf("recovery e-mails = %+v", got)
		}
		es := h.events(t, "mfa.recovery.used")
		if len(es) != 1 || es[0].ActorID != h.user.ID || es[0].TargetID != h.user.ID || es[0].IP != testIP || es[0].Detail != "7 left" {
			t.Errorf("recovery audit events = %+v", es)
		}
		if es := h.events(t, "mfa.challenge.passed"); len(es) != 1 || es[0].Detail != "recovery" {
			t.Errorf("passed audit events = %+v", es)
		}

		v2 := h.pending(t)
		h.verifyErr(t, v2, "recovery", codes[0], mfa.ErrRecoveryUsed)
		h.verifyErr(t, v2, "recovery", "0000-0000-0000-0000", mfa.ErrMismatch)
		h.verifyErr(t, v2, "recovery", "not a code", mfa.ErrMismatch)
		if n := h.recoveryLeft(t, h.user); n != 7 {
			t.Errorf("%d codes left, want 7", n)
		}

		// Regenerating voids the old set.
		fresh, err := h.svc.RegenerateRecovery(ctx, h.reload(t, security), testIP)
		if err != nil {
			t.Fatal(err)
		}
		checkRecoveryCodes(t, fresh)
		for _, c := range fresh {
			if slices.Contains(codes, c) {
				t.Errorf("regenerated code %s is an old one", c)
			}
		}
		if n := h.recoveryLeft(t, h.user); n != 8 {
			t.Errorf("%d codes after regenerating, want 8", n)
		}
		if got := h.mail.withSubject("New recovery codes"); len(got) != 1 {
			t.Errorf("%d regeneration e-mails, want 1", len(got))
		}
		if es := h.events(t, "mfa.recovery.regenerated"); len(es) != 1 || es[0].ActorID != h.user.ID || es[0].IP != testIP {
			t.Errorf("regeneration audit events = %+v", es)
		}
		v3 := h.pending(t)
		h.verifyErr(t, v3, "recovery", codes[1], mfa.ErrMismatch)
		h.verifyErr(t, v3, "recovery", codes[0], mfa.ErrMismatch)
		h.clock.Advance(time.Second) // five failures since the last success: wait out the pause
		if res := h.verify(t, v3, "recovery", fresh[7]); res.RecoveryLeft != 7 {
			t.Errorf("RecoveryLeft = %d, want 7", res.RecoveryLeft)
		}

		// A user without methods has nothing to recover.
		bob := h.newUser(t, "bob@example.com", true)
		vb := h.session(t, h.store, bob, true)
		if _, err := h.svc.RegenerateRecovery(ctx, vb, testIP); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("RegenerateRecovery without methods = %v; want ErrInvalid", err)
		}
		if n := h.recoveryLeft(t, bob); n != 0 {
			t.Errorf("user without methods has %d codes", n)
		}
		// Nor may they try a recovery code.
		h.addEmailFactor(t, bob)
		h.verifyErr(t, h.session(t, h.store, bob, false), "recovery", fresh[0], mfa.ErrUnavailable)
	})
}

func TestEnableEmail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("mailbox proven", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			v := h.proven(t, true)
			needsCode, err := h.svc.EnableEmail(t.Context(), v, testIP)
			if err != nil || needsCode {
				t.Fatalf("EnableEmail = %v, %v; want false, nil", needsCode, err)
			}
			if ms := h.reload(t, v).Methods; !slices.Equal(ms, []gatehouse.Method{gatehouse.MethodEmail}) {
				t.Errorf("methods = %v; want [email]", ms)
			}
			if _, codes := h.mail.codeMails(); len(codes) != 0 {
				t.Errorf("%d codes e-mailed, want none", len(codes))
			}
			if got := h.mail.withSubject("Two-factor method added"); len(got) != 1 || !strings.Contains(got[0].Body, "was added to your account at Acme & Co: E-mail codes.") {
				t.Errorf("method-added e-mails = %+v", got)
			}
		})
		for _, verified := range []bool{false, true} {
			// User.EmailVerified makes no difference: only a proof in this
			// login counts.
			t.Run(fmt.Sprintf("mailbox unproven in this login, user EmailVerified %v", verified), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, b.open(t, 1)[0], setup{unverified: !verified})
				ctx := t.Context()
				v := h.signedIn(t)
				needsCode, err := h.svc.EnableEmail(ctx, v, testIP)
				if err != nil || !needsCode {
					t.Fatalf("EnableEmail = %v, %v; want true, nil", needsCode, err)
				}
				code := h.mail.lastCode(t)
				if ms := h.reload(t, v).Methods; len(ms) != 0 {
					t.Errorf("methods before confirming = %v; want none", ms)
				}
				if err := h.svc.ConfirmEmail(ctx, v, wrongEmailCode(code), testIP); !errors.Is(err, mfa.ErrMismatch) {
					t.Fatalf("ConfirmEmail with a wrong code = %v; want ErrMismatch", err)
				}
				// The wrong code counts against the account; a signed-in
				// session has no login limit.
				if th := h.throttle(t, h.user); th.Failures != 1 {
					t.Errorf("account failures after a wrong code = %d, want 1", th.Failures)
				}
				if n := h.reload(t, v).Session.MFAFailures; n != 0 {
					t.Errorf("session failures = %d, want 0 in a signed-in session", n)
				}
				if v.Session.MailboxProvenAt != nil {
					t.Error("a wrong code proved the mailbox")
				}
				if err := h.svc.ConfirmEmail(ctx, v, code, testIP); err != nil {
					t.Fatalf("ConfirmEmail: %v", err)
				}
				if th := h.throttle(t, h.user); th.Failures != 0 {
					t.Errorf("account failures after the right code = %d, want 0", th.Failures)
				}
				v = h.reload(t, v)
				if !slices.Equal(v.Methods, []gatehouse.Method{gatehouse.MethodEmail}) {
					t.Errorf("methods = %v; want [email]", v.Methods)
				}
				if at := v.Session.MailboxProvenAt; at == nil || !at.Equal(h.clock.Now()) {
					t.Errorf("session MailboxProvenAt = %v; want %v", at, h.clock.Now())
				}
				h.checkUserUntouched(t, h.user)
				if err := h.svc.ConfirmEmail(ctx, v, code, testIP); !errors.Is(err, mfa.ErrMismatch) {
					t.Errorf("ConfirmEmail with the used code = %v; want ErrMismatch", err)
				}
			})
		}
		t.Run("not allowed", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodTOTP}})
			if _, err := h.svc.EnableEmail(t.Context(), h.signedIn(t), testIP); !errors.Is(err, mfa.ErrUnavailable) {
				t.Errorf("EnableEmail = %v; want ErrUnavailable", err)
			}
		})
	})
}

func TestDisable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("optional, only method", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			v := h.signedIn(t)
			h.enrollTOTP(t, v)
			if err := h.svc.Disable(t.Context(), h.reload(t, v), gatehouse.MethodTOTP, testIP); err != nil {
				t.Fatal(err)
			}
			if ms := h.reload(t, v).Methods; len(ms) != 0 {
				t.Errorf("methods = %v; want none", ms)
			}
			fs, left, err := h.svc.Factors(t.Context(), v)
			if err != nil || len(fs) != 0 || left != 0 {
				t.Errorf("Factors = %v, %d, %v; want no factor and no recovery codes", fs, left, err)
			}
			if got := h.mail.withSubject("Two-factor method removed"); len(got) != 1 || !strings.Contains(got[0].Body, ": Authenticator app.") {
				t.Errorf("method-removed e-mails = %+v", got)
			}
			if ch, err := h.svc.ChallengeFor(t.Context(), h.pending(t)); err != nil || ch.Decision.Next != mfa.SignedIn {
				t.Errorf("ChallengeFor = %+v, %v; want signed-in", ch, err)
			}
		})
		t.Run("required, last method", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{mode: gatehouse.MFARequired})
			v := h.signedIn(t)
			h.enrollTOTP(t, v)
			if err := h.svc.Disable(t.Context(), h.reload(t, v), gatehouse.MethodTOTP, testIP); !errors.Is(err, mfa.ErrLastMethod) {
				t.Fatalf("Disable = %v; want ErrLastMethod", err)
			}
			if ms := h.reload(t, v).Methods; !slices.Equal(ms, []gatehouse.Method{gatehouse.MethodTOTP}) {
				t.Errorf("methods = %v; want [totp]", ms)
			}
			if n := h.recoveryLeft(t, h.user); n != 8 {
				t.Errorf("%d recovery codes, want 8", n)
			}
			if got := h.mail.withSubject("Two-factor method removed"); len(got) != 0 {
				t.Errorf("method-removed e-mails = %+v", got)
			}
		})
		t.Run("required, two methods", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{mode: gatehouse.MFARequired})
			h.addEmailFactor(t, h.user)
			v := h.signedIn(t)
			h.enrollTOTP(t, v)
			if err := h.svc.Disable(t.Context(), h.reload(t, v), gatehouse.MethodEmail, testIP); err != nil {
				t.Fatal(err)
			}
			v = h.reload(t, v)
			if !slices.Equal(v.Methods, []gatehouse.Method{gatehouse.MethodTOTP}) {
				t.Errorf("methods = %v; want [totp]", v.Methods)
			}
			if n := h.recoveryLeft(t, h.user); n != 8 {
				t.Errorf("%d recovery codes, want 8: a method remains", n)
			}
			if err := h.svc.Disable(t.Context(), v, gatehouse.MethodTOTP, testIP); !errors.Is(err, mfa.ErrLastMethod) {
				t.Errorf("disabling the last one = %v; want ErrLastMethod", err)
			}
		})
		t.Run("required, other method not allowed", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{mode: gatehouse.MFARequired})
			h.addEmailFactor(t, h.user)
			v := h.signedIn(t)
			h.enrollTOTP(t, v)
			h.setMethods(t, gatehouse.MethodTOTP)
			if err := h.svc.Disable(t.Context(), h.reload(t, v), gatehouse.MethodTOTP, testIP); !errors.Is(err, mfa.ErrLastMethod) {
				t.Errorf("Disable = %v; want ErrLastMethod", err)
			}
			// The disallowed one may go.
			if err := h.svc.Disable(t.Context(), h.reload(t, v), gatehouse.MethodEmail, testIP); err != nil {
				t.Errorf("disabling the disallowed method: %v", err)
			}
		})
	})
}

func TestCanDisable(t *testing.T) {
	var (
		totp, sms, email = gatehouse.MethodTOTP, gatehouse.MethodSMS, gatehouse.MethodEmail
		all              = []gatehouse.Method{totp, sms, email}
	)
	tests := []struct {
		name    string
		plan    gatehouse.Plan
		mode    gatehouse.MFAMode
		allowed []gatehouse.Method
		active  []gatehouse.Method
		disable gatehouse.Method
		want    bool
	}{
		{"optional, only method", gatehouse.PlanPro, gatehouse.MFAOptional, all, []gatehouse.Method{totp}, totp, true},
		{"disabled mode", gatehouse.PlanPro, gatehouse.MFADisabled, all, []gatehouse.Method{totp}, totp, true},
		{"required, only method", gatehouse.PlanPro, gatehouse.MFARequired, all, []gatehouse.Method{totp}, totp, false},
		{"required unlimited, only method", gatehouse.PlanUnlimited, gatehouse.MFARequired, all, []gatehouse.Method{email}, email, false},
		{"required on starter: nothing enforced", gatehouse.PlanStarter, gatehouse.MFARequired, all, []gatehouse.Method{totp}, totp, true},
		{"required, two methods, stronger", gatehouse.PlanPro, gatehouse.MFARequired, all, []gatehouse.Method{totp, email}, totp, true},
		{"required, two methods, weaker", gatehouse.PlanPro, gatehouse.MFARequired, all, []gatehouse.Method{totp, email}, email, true},
		{"required, the other not allowed", gatehouse.PlanPro, gatehouse.MFARequired, []gatehouse.Method{totp}, []gatehouse.Method{totp, email}, totp, false},
		{"required, disallowed one itself", gatehouse.PlanPro, gatehouse.MFARequired, []gatehouse.Method{totp}, []gatehouse.Method{totp, email}, email, true},
		{"required, method not held", gatehouse.PlanPro, gatehouse.MFARequired, all, []gatehouse.Method{email}, totp, true},
		{"required, no methods", gatehouse.PlanPro, gatehouse.MFARequired, all, nil, totp, false},
		{"required, three methods", gatehouse.PlanPro, gatehouse.MFARequired, all, all, sms, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &gatehouse.Visit{
				Workspace: gatehouse.Workspace{Plan: tt.plan, MFA: gatehouse.MFASettings{Mode: tt.mode, Methods: tt.allowed}},
				Methods:   tt.active,
			}
			if got := mfa.CanDisable(v, tt.disable); got != tt.want {
				t.Errorf("CanDisable(%s) = %v, want %v", tt.disable, got, tt.want)
			}
		})
	}
}

func TestAuditEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		ctx := t.Context()
		check := func(typ, detail string) {
			t.Helper()
			es := h.events(t, typ)
			if len(es) == 0 {
				t.Fatalf("no %s event", typ)
			}
			e := es[0] // the newest
			if e.ActorID != h.user.ID || e.TargetID != h.user.ID || e.IP != testIP || e.Detail != detail ||
				!e.At.Equal(h.clock.Now()) || e.WorkspaceID != h.ws.ID {
				t.Errorf("%s event = %+v; want actor and target %d, IP %s, detail %q at %v",
					typ, e, h.user.ID, testIP, detail, h.clock.Now())
			}
		}
		// A login that proved the mailbox, so e-mail codes are one click.
		v := h.proven(t, true)
		st, err := h.svc.StartTOTP(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.ConfirmTOTP(ctx, v, totpCode(t, st.Secret, h.clock.Now()), testIP); err != nil {
			t.Fatal(err)
		}
		check("mfa.method.added", "totp")

		h.clock.Advance(time.Minute)
		p := h.pending(t)
		h.verifyErr(t, p, "totp", wrongTOTP(t, st.Secret, h.clock.Now()), mfa.ErrMismatch)
		check("mfa.challenge.failed", "totp")
		h.clock.Advance(time.Second)
		h.verify(t, p, "totp", totpCode(t, st.Secret, h.clock.Now()))
		check("mfa.challenge.passed", "totp")

		h.clock.Advance(time.Minute)
		if _, err := h.svc.EnableEmail(ctx, h.reload(t, v), testIP); err != nil {
			t.Fatal(err)
		}
		check("mfa.method.added", "email")
		h.clock.Advance(time.Minute)
		if err := h.svc.Disable(ctx, h.reload(t, v), gatehouse.MethodEmail, testIP); err != nil {
			t.Fatal(err)
		}
		check("mfa.method.removed", "email")

		// Nothing else was recorded, and no secret went into a detail.
		all, err := h.store.ListAuditEvents(ctx, h.ws.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range all {
			types = append(types, e.Type)
			if strings.Contains(e.Detail, st.Secret) {
				t.Errorf("event %s carries the TOTP secret", e.Type)
			}
		}
		want := []string{"mfa.method.removed", "mfa.method.added", "mfa.challenge.passed", "mfa.challenge.failed", "mfa.method.added"}
		if !slices.Equal(types, want) {
			t.Errorf("events, newest first = %v; want %v", types, want)
		}
	})
}

// TestOtherSessionsEnd checks SPEC §6: after a method change or new recovery
// codes the user's other sessions end; the acting one and other users'
// sessions stay.
func TestOtherSessionsEnd(t *testing.T) {
	tests := []struct {
		name string
		// proven makes the acting login one that proved the mailbox.
		proven bool
		// prepare runs before the other sessions are made.
		prepare func(t *testing.T, h *harness, v *gatehouse.Visit)
		act     func(t *testing.T, h *harness, v *gatehouse.Visit) error
	}{
		{"ConfirmTOTP", false, nil, func(t *testing.T, h *harness, v *gatehouse.Visit) error {
			st, err := h.svc.StartTOTP(t.Context(), v)
			if err != nil {
				return err
			}
			_, err = h.svc.ConfirmTOTP(t.Context(), v, totpCode(t, st.Secret, h.clock.Now()), testIP)
			return err
		}},
		{"EnableEmail", true, nil, func(t *testing.T, h *harness, v *gatehouse.Visit) error {
			needsCode, err := h.svc.EnableEmail(t.Context(), v, testIP)
			if err == nil && needsCode {
				t.Fatal("EnableEmail in a login that proved the mailbox asked for a code")
			}
			return err
		}},
		{"ConfirmEmail", false, nil, func(t *testing.T, h *harness, v *gatehouse.Visit) error {
			needsCode, err := h.svc.EnableEmail(t.Context(), v, testIP)
			if err != nil || !needsCode {
				t.Fatalf("EnableEmail = %v, %v; want true, nil", needsCode, err)
			}
			return h.svc.ConfirmEmail(t.Context(), v, h.mail.lastCode(t), testIP)
		}},
		{"Disable", false, func(t *testing.T, h *harness, v *gatehouse.Visit) { h.enrollTOTP(t, v) },
			func(t *testing.T, h *harness, v *gatehouse.Visit) error {
				return h.svc.Disable(t.Context(), h.reload(t, v), gatehouse.MethodTOTP, testIP)
			}},
		{"RegenerateRecovery", false, func(t *testing.T, h *harness, v *gatehouse.Visit) { h.enrollTOTP(t, v) },
			func(t *testing.T, h *harness, v *gatehouse.Visit) error {
				_, err := h.svc.RegenerateRecovery(t.Context(), h.reload(t, v), testIP)
				return err
			}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, b.open(t, 1)[0], setup{})
				var marks []func(*gatehouse.Session)
				if tt.proven {
					marks = append(marks, mailboxProven)
				}
				acting := h.session(t, h.store, h.user, true, marks...)
				if tt.prepare != nil {
					tt.prepare(t, h, acting)
				}
				others := []*gatehouse.Visit{h.signedIn(t), h.pending(t)}
				bob := h.newUser(t, "bob@example.com", true)
				bobs := h.session(t, h.store, bob, true)
				if err := tt.act(t, h, acting); err != nil {
					t.Fatal(err)
				}
				if !h.exists(t, acting) {
					t.Error("the acting session ended")
				}
				for i, o := range others {
					if h.exists(t, o) {
						t.Errorf("other session %d of the user is still there", i)
					}
				}
				if !h.exists(t, bobs) {
					t.Error("another user's session ended")
				}
			})
		}
	})
}

// TestMailboxProofPerLogin is the regression test for a bypass: a user with
// no method whose row says EmailVerified (as after an invitation), in
// required mode with e-mail allowed, could turn on e-mail codes with one
// click after a password alone, and so pass the gate without ever showing
// the mailbox. The proof of the mailbox belongs to the login.
func TestMailboxProofPerLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{mode: gatehouse.MFARequired})
		ctx := t.Context()
		if !h.user.EmailVerified {
			t.Fatal("the user must be EmailVerified for this test")
		}
		v := h.pending(t) // a login with a password alone
		if d := h.decision(t, v); d.Next != mfa.ProveMailbox || !mfa.Pending(v, d) {
			t.Fatalf("a new login's decision = %+v (pending %v); want a pending prove-mailbox, not enroll", d, mfa.Pending(v, d))
		}
		needsCode, err := h.svc.EnableEmail(ctx, v, testIP)
		if err != nil || !needsCode {
			t.Fatalf("EnableEmail = %v, %v; want a code sent (true, nil)", needsCode, err)
		}
		if ms := h.reload(t, v).Methods; len(ms) != 0 {
			t.Fatalf("EnableEmail turned on %v without a code", ms)
		}
		if got := h.mail.withSubject("Two-factor method added"); len(got) != 0 {
			t.Errorf("method-added e-mails = %+v; want none", got)
		}
		code := h.mail.lastCode(t)
		// Another login neither has this login's code nor gets its proof.
		other := h.pending(t)
		h.verifyErr(t, other, "email", code, mfa.ErrNoCode)

		h.verify(t, v, "email", code)
		v = h.reload(t, v)
		if v.Session.MailboxProvenAt == nil {
			t.Fatal("the e-mailed code did not mark the session")
		}
		if d := h.decision(t, v); d.Next != mfa.Enroll {
			t.Errorf("after the e-mailed code the decision = %+v; want enroll", d)
		}
		if d := h.decision(t, h.reload(t, other)); d.Next != mfa.ProveMailbox {
			t.Errorf("the other login's decision = %+v; want prove-mailbox still", d)
		}
		h.checkUserUntouched(t, h.user)

		needsCode, err = h.svc.EnableEmail(ctx, v, testIP)
		if err != nil || needsCode {
			t.Fatalf("EnableEmail after the proof = %v, %v; want one click (false, nil)", needsCode, err)
		}
		if ms := h.reload(t, v).Methods; !slices.Equal(ms, []gatehouse.Method{gatehouse.MethodEmail}) {
			t.Errorf("methods = %v; want [email]", ms)
		}
		if _, codes := h.mail.codeMails(); len(codes) != 1 {
			t.Errorf("%d codes e-mailed, want 1: the one-click enable sent another", len(codes))
		}
	})
}

// TestOnlyNewestCode checks that a new code voids the login's older ones of
// the channel, so a resend does not multiply the odds of a guess, and leaves
// other logins' codes alone.
func TestOnlyNewestCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("challenge", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			h.addEmailFactor(t, h.user)
			send := func(v *gatehouse.Visit) string {
				t.Helper()
				if err := h.svc.SendCode(t.Context(), v, gatehouse.MethodEmail, testIP); err != nil {
					t.Fatal(err)
				}
				return h.mail.lastCode(t)
			}
			v, other := h.pending(t), h.pending(t)
			otherCode := send(other)
			h.clock.Advance(61 * time.Second)
			first := send(v)
			h.clock.Advance(61 * time.Second)
			second := send(v)
			if first == second {
				t.Skip("two random codes coincided")
			}
			h.verifyErr(t, v, "email", first, mfa.ErrMismatch)
			h.verify(t, v, "email", second)
			// The other login's code was not voided by this login's sends.
			h.verify(t, other, "email", otherCode)
		})
		t.Run("confirm", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b.open(t, 1)[0], setup{})
			ctx := t.Context()
			v := h.signedIn(t)
			enable := func() string {
				t.Helper()
				if needsCode, err := h.svc.EnableEmail(ctx, v, testIP); err != nil || !needsCode {
					t.Fatalf("EnableEmail = %v, %v; want true, nil", needsCode, err)
				}
				return h.mail.lastCode(t)
			}
			first := enable()
			h.clock.Advance(61 * time.Second)
			second := enable()
			if first == second {
				t.Skip("two random codes coincided")
			}
			if err := h.svc.ConfirmEmail(ctx, v, first, testIP); !errors.Is(err, mfa.ErrMismatch) {
				t.Fatalf("ConfirmEmail with the first code = %v; want ErrMismatch", err)
			}
			if err := h.svc.ConfirmEmail(ctx, v, second, testIP); err != nil {
				t.Fatalf("ConfirmEmail with the second code: %v", err)
			}
		})
	})
}

// smsQueue is a fake mfa.Queue: every message is delivered at once, texts
// are kept, and e-mails go to the harness's mailer.
type smsQueue struct {
	mail *mailer
	mu   sync.Mutex
	sent []sentMail // To and Body
	// refuse lists numbers whose texts fail for good, as Twilio's 21211.
	refuse map[string]bool
}

func (q *smsQueue) EnqueueEmail(ctx context.Context, workspaceID int64, to, subject, body string) (int64, error) {
	return 0, q.mail.Enqueue(ctx, workspaceID, to, subject, body)
}

func (q *smsQueue) EnqueueSMS(_ context.Context, workspaceID int64, to, body string) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, sentMail{WorkspaceID: workspaceID, To: to, Body: body})
	return int64(len(q.sent)), nil
}

func (q *smsQueue) Await(_ context.Context, id int64, _ time.Duration) (*gatehouse.Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if id > 0 && q.refuse[q.sent[id-1].To] {
		return &gatehouse.Message{ID: id, Channel: "sms", Status: gatehouse.MessageFailed, LastError: "That number cannot receive texts."}, nil
	}
	return &gatehouse.Message{ID: id, Channel: "sms", Status: gatehouse.MessageSent}, nil
}

// to returns how many texts went to the number.
func (q *smsQueue) to(number string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, m := range q.sent {
		if m.To == number {
			n++
		}
	}
	return n
}

var textedCodeRE = regexp.MustCompile(`^(\d{6}) is your `)

// lastCode returns the code in the newest text, failing the test unless
// there is one.
func (q *smsQueue) lastCode(tb testing.TB) string {
	tb.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.sent) > 0 {
		if c := textedCodeRE.FindStringSubmatch(q.sent[len(q.sent)-1].Body); c != nil {
			return c[1]
		}
	}
	tb.Fatal("no code was texted")
	return ""
}

// enableSMS gives the workspace a Twilio account and the default SMS guard,
// and the service a fake outbox. Visits read afterwards see it.
func (h *harness) enableSMS(tb testing.TB) *smsQueue {
	tb.Helper()
	q := &smsQueue{mail: h.mail}
	h.svc.Queue = q
	acct := gatehouse.TwilioAccount{AccountSID: "AC" + strings.Repeat("0", 32), AuthToken: []byte("sealed"), From: "+15017122661"}
	guard := gatehouse.DefaultSMSGuard()
	h.update(tb, gatehouse.WorkspaceUpdate{Twilio: &acct, SMSGuard: &guard})
	return q
}

// TestConfirmCountsAttempts checks that a confirmation code during
// enrollment is regulated like a challenge: each try counts against the
// pending login (MaxLoginFailures ends it, and a try past it is not even
// checked) and against the account (its pause holds even for the right
// code), and the right code clears the account's failures.
func TestConfirmCountsAttempts(t *testing.T) {
	type enrollment struct {
		method gatehouse.Method
		// start begins enrolling in v and returns the right code (read
		// when called) and a wrong one.
		start   func(t *testing.T, h *harness, v *gatehouse.Visit) (right func() string, wrong string)
		confirm func(h *harness, v *gatehouse.Visit, code string) error
	}
	enrollments := []enrollment{
		{gatehouse.MethodEmail, func(t *testing.T, h *harness, v *gatehouse.Visit) (func() string, string) {
			if needsCode, err := h.svc.EnableEmail(t.Context(), v, testIP); err != nil || !needsCode {
				t.Fatalf("EnableEmail = %v, %v; want true, nil", needsCode, err)
			}
			c := h.mail.lastCode(t)
			return func() string { return c }, wrongEmailCode(c)
		}, func(h *harness, v *gatehouse.Visit, code string) error {
			return h.svc.ConfirmEmail(context.Background(), v, code, testIP)
		}},
		{gatehouse.MethodTOTP, func(t *testing.T, h *harness, v *gatehouse.Visit) (func() string, string) {
			st, err := h.svc.StartTOTP(t.Context(), v)
			if err != nil {
				t.Fatal(err)
			}
			return func() string { return totpCode(t, st.Secret, h.clock.Now()) }, wrongTOTP(t, st.Secret, h.clock.Now())
		}, func(h *harness, v *gatehouse.Visit, code string) error {
			_, err := h.svc.ConfirmTOTP(context.Background(), v, code, testIP)
			return err
		}},
		{gatehouse.MethodSMS, func(t *testing.T, h *harness, v *gatehouse.Visit) (func() string, string) {
			if _, err := h.svc.StartSMS(t.Context(), v, "GB", "07700 900123", testIP); err != nil {
				t.Fatalf("StartSMS: %v", err)
			}
			c := h.sms.lastCode(t)
			return func() string { return c }, wrongEmailCode(c)
		}, func(h *harness, v *gatehouse.Visit, code string) error {
			return h.svc.ConfirmSMS(context.Background(), v, code, testIP)
		}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, e := range enrollments {
			open := func(t *testing.T, mode gatehouse.MFAMode) *harness {
				h := newHarness(t, b.open(t, 1)[0], setup{mode: mode, methods: []gatehouse.Method{e.method}})
				if e.method == gatehouse.MethodSMS {
					h.sms = h.enableSMS(t)
				}
				return h
			}
			t.Run(string(e.method)+"/pending login", func(t *testing.T) {
				t.Parallel()
				h := open(t, gatehouse.MFARequired)
				v := h.pending(t)
				if d := h.decision(t, v); !mfa.Pending(v, d) {
					t.Fatalf("the login is not pending: %+v", d)
				}
				right, wrong := e.start(t, h, v)
				for i := 1; i < mfa.MaxLoginFailures; i++ {
					if err := e.confirm(h, v, wrong); !errors.Is(err, mfa.ErrMismatch) {
						t.Fatalf("wrong code %d = %v; want ErrMismatch", i, err)
					}
				}
				if n := h.reload(t, v).Session.MFAFailures; n != mfa.MaxLoginFailures-1 {
					t.Errorf("session failures = %d, want %d", n, mfa.MaxLoginFailures-1)
				}
				if err := e.confirm(h, v, wrong); !errors.Is(err, mfa.ErrTooManyFailures) {
					t.Fatalf("wrong code %d = %v; want ErrTooManyFailures", mfa.MaxLoginFailures, err)
				}
				if th := h.throttle(t, h.user); th.Failures != mfa.MaxLoginFailures {
					t.Errorf("account failures = %d, want %d", th.Failures, mfa.MaxLoginFailures)
				}
				// Past the limit even the right code is not looked at: the
				// login is over (the web layer ended it on the fifth).
				h.clock.Advance(time.Second) // the account's pause after five failures
				if err := e.confirm(h, v, right()); !errors.Is(err, mfa.ErrLoginEnded) {
					t.Fatalf("the right code after the limit = %v; want ErrLoginEnded", err)
				}
				v = h.reload(t, v)
				if len(v.Methods) != 0 {
					t.Errorf("methods = %v; want none", v.Methods)
				}
				if e.method == gatehouse.MethodEmail && v.Session.MailboxProvenAt != nil {
					t.Error("a refused code proved the mailbox")
				}
			})
			t.Run(string(e.method)+"/account", func(t *testing.T) {
				t.Parallel()
				h := open(t, gatehouse.MFAOptional)
				v := h.signedIn(t)
				right, wrong := e.start(t, h, v)
				// A signed-in session has no login limit...
				for i := 1; i <= mfa.MaxLoginFailures; i++ {
					if err := e.confirm(h, v, wrong); !errors.Is(err, mfa.ErrMismatch) {
						t.Fatalf("wrong code %d = %v; want ErrMismatch", i, err)
					}
				}
				if n := h.reload(t, v).Session.MFAFailures; n != 0 {
					t.Errorf("session failures = %d, want 0", n)
				}
				// ...but the account pauses, even for the right code.
				var th *mfa.ThrottledError
				if err := e.confirm(h, v, right()); !errors.As(err, &th) || th.RetryAfter != time.Second {
					t.Fatalf("the right code during the pause = %v; want *ThrottledError after 1s", err)
				}
				if ms := h.reload(t, v).Methods; len(ms) != 0 {
					t.Errorf("methods = %v; want none", ms)
				}
				h.clock.Advance(time.Second)
				if err := e.confirm(h, v, right()); err != nil {
					t.Fatalf("the right code after the pause: %v", err)
				}
				if th := h.throttle(t, h.user); th.Failures != 0 {
					t.Errorf("account failures after the right code = %d, want 0", th.Failures)
				}
				if ms := h.reload(t, v).Methods; !slices.Equal(ms, []gatehouse.Method{e.method}) {
					t.Errorf("methods = %v; want [%s]", ms, e.method)
				}
			})
		}
	})
}

// TestPending checks which sessions are pending logins: a grace skip lets
// a session through an enrollment it may skip, and is no verification.
func TestPending(t *testing.T) {
	verified := func(s *gatehouse.Session) { s.MFAVerifiedAt = &t0 }
	skipped := func(s *gatehouse.Session) { s.EnrollSkippedAt = &t0 }
	grace := mfa.Decision{Next: mfa.Enroll, CanSkip: true}
	tests := []struct {
		name string
		d    mfa.Decision
		mark func(*gatehouse.Session)
		want bool
	}{
		{"signed in", mfa.Decision{Next: mfa.SignedIn}, nil, false},
		{"challenge, new login", mfa.Decision{Next: mfa.Challenge}, nil, true},
		{"challenge, verified", mfa.Decision{Next: mfa.Challenge}, verified, false},
		{"challenge, only skipped enrollment", mfa.Decision{Next: mfa.Challenge}, skipped, true},
		{"prove mailbox, verified", mfa.Decision{Next: mfa.ProveMailbox}, verified, true},
		{"grace, new login", grace, nil, true},
		{"grace, skipped", grace, skipped, false},
		{"grace, verified", grace, verified, false},
		{"forced enrollment, skipped in the grace period", mfa.Decision{Next: mfa.Enroll}, skipped, true},
		{"forced enrollment, verified", mfa.Decision{Next: mfa.Enroll}, verified, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &gatehouse.Visit{}
			if tt.mark != nil {
				tt.mark(&v.Session)
			}
			if got := mfa.Pending(v, tt.d); got != tt.want {
				t.Errorf("Pending = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDeviceTrusted checks that a trusted device skips the second step only
// within the workspace's current lifetime, and only for its user and
// workspace.
func TestDeviceTrusted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{})
		ctx := t.Context()
		v := h.signedIn(t)
		created := h.clock.Now()
		nd, err := h.svc.TrustDevice(ctx, v, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", testIP)
		if err != nil || nd == nil {
			t.Fatalf("TrustDevice = %+v, %v", nd, err)
		}
		if want := created.Add(30 * 24 * time.Hour); !nd.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v; want %v", nd.ExpiresAt, want)
		}
		trusted := func(ws *gatehouse.Workspace, userID int64, token string) bool {
			t.Helper()
			ok, err := h.svc.DeviceTrusted(ctx, ws, userID, token)
			if err != nil {
				t.Fatalf("DeviceTrusted: %v", err)
			}
			return ok
		}
		lifetime := func(days int) *gatehouse.Workspace {
			t.Helper()
			h.update(t, gatehouse.WorkspaceUpdate{TrustedDeviceDays: &days})
			return h.ws
		}
		lastUsed := func() time.Time {
			t.Helper()
			ds, err := h.svc.Devices(ctx, v)
			if err != nil || len(ds) != 1 {
				t.Fatalf("Devices = %+v, %v; want one", ds, err)
			}
			return ds[0].LastUsedAt
		}

		if !trusted(h.ws, h.user.ID, nd.Token) {
			t.Fatal("a new device is not trusted")
		}
		bob := h.newUser(t, "bob@example.com", true)
		elsewhere := *h.ws
		elsewhere.ID++
		for _, c := range []struct {
			name   string
			ws     *gatehouse.Workspace
			userID int64
			token  string
		}{
			{"another user", h.ws, bob.ID, nd.Token},
			{"another workspace", &elsewhere, h.user.ID, nd.Token},
			{"no token", h.ws, h.user.ID, ""},
			{"another token", h.ws, h.user.ID, nd.Token[1:] + "A"},
			{"too long", h.ws, h.user.ID, strings.Repeat("A", 65)},
		} {
			if trusted(c.ws, c.userID, c.token) {
				t.Errorf("%s: trusted", c.name)
			}
		}

		h.clock.Advance(3 * 24 * time.Hour)
		if !trusted(lifetime(4), h.user.ID, nd.Token) {
			t.Error("a 3-day-old device is not trusted under a 4-day lifetime")
		}
		if got := lastUsed(); !got.Equal(h.clock.Now()) {
			t.Errorf("LastUsedAt = %v; want %v", got, h.clock.Now())
		}
		touched := h.clock.Now()
		h.clock.Advance(time.Minute)
		// A lifetime lowered below the device's age ends it.
		if trusted(lifetime(3), h.user.ID, nd.Token) {
			t.Error("a 3-day-old device is trusted under a 3-day lifetime")
		}
		if trusted(lifetime(2), h.user.ID, nd.Token) {
			t.Error("a 3-day-old device is trusted under a 2-day lifetime")
		}
		// Lifetime 0 stops every device.
		if trusted(lifetime(0), h.user.ID, nd.Token) {
			t.Error("a device is trusted under lifetime 0")
		}
		if got := lastUsed(); !got.Equal(touched) {
			t.Errorf("a refused device was touched: LastUsedAt = %v; want %v", got, touched)
		}
		// A longer lifetime does not stretch the device's own expiry.
		h.clock.Set(nd.ExpiresAt)
		if trusted(lifetime(90), h.user.ID, nd.Token) {
			t.Error("a device is trusted past its own expiry")
		}
	})
}

// smsNumbers are two mobile numbers as typed and in E.164.
const (
	firstNumber, firstE164   = "07700 900123", "+447700900123"
	secondNumber, secondE164 = "07700 900456", "+447700900456"
)

// TestSMSNumberChange: a code belongs to the number it was texted to.
// Starting again with a corrected number voids the old code and texts the
// new number at once; the old code never confirms the new number.
func TestSMSNumberChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodSMS}})
		h.sms = h.enableSMS(t)
		ctx := t.Context()
		v := h.signedIn(t)
		if _, err := h.svc.StartSMS(ctx, v, "GB", firstNumber, testIP); err != nil {
			t.Fatal(err)
		}
		first := h.sms.lastCode(t)
		if _, err := h.svc.StartSMS(ctx, v, "GB", secondNumber, testIP); err != nil {
			t.Fatalf("StartSMS with a corrected number at once = %v; want a text to it", err)
		}
		if n := h.sms.to(secondE164); n != 1 {
			t.Fatalf("%d texts to the corrected number, want 1", n)
		}
		second := h.sms.lastCode(t)
		if st, err := h.svc.CodeState(ctx, v, gatehouse.MethodSMS); err != nil || !st.Sent {
			t.Errorf("CodeState = %+v, %v; want a code sent", st, err)
		}
		if first != second {
			if err := h.svc.ConfirmSMS(ctx, v, first, testIP); !errors.Is(err, mfa.ErrMismatch) {
				t.Errorf("ConfirmSMS with the first number's code = %v; want ErrMismatch", err)
			}
		}
		if err := h.svc.ConfirmSMS(ctx, v, second, testIP); err != nil {
			t.Fatalf("ConfirmSMS with the corrected number's code: %v", err)
		}
		fs, err := h.store.FindFactors(ctx, h.ws.ID, h.user.ID)
		if err != nil || len(fs) != 1 || fs[0].Phone != secondE164 || !fs[0].Active {
			t.Fatalf("factors = %+v, %v; want %s active", fs, err, secondE164)
		}
	})
}

// TestSMSCodeBoundToNumber: a live code texted to one number does not
// confirm another that became the pending number without it (its MAC names
// the number).
func TestSMSCodeBoundToNumber(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodSMS}})
		h.sms = h.enableSMS(t)
		ctx := t.Context()
		v := h.signedIn(t)
		if _, err := h.svc.StartSMS(ctx, v, "GB", firstNumber, testIP); err != nil {
			t.Fatal(err)
		}
		code := h.sms.lastCode(t)
		f := &mfa.Factor{UserID: h.user.ID, Method: gatehouse.MethodSMS, Phone: secondE164, CreatedAt: h.clock.Now()}
		if err := h.store.SaveFactor(ctx, h.ws.ID, f); err != nil {
			t.Fatal(err)
		}
		if err := h.svc.ConfirmSMS(ctx, v, code, testIP); !errors.Is(err, mfa.ErrMismatch) {
			t.Errorf("ConfirmSMS of another number with the code = %v; want ErrMismatch", err)
		}
		if ms := h.reload(t, v).Methods; len(ms) != 0 {
			t.Errorf("methods = %v; want none", ms)
		}
	})
}

// TestSMSActivationNamesNumber: a number changed while its code was being
// checked is not the one activated.
func TestSMSActivationNamesNumber(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodSMS}})
		h.sms = h.enableSMS(t)
		ctx := t.Context()
		v := h.signedIn(t)
		if _, err := h.svc.StartSMS(ctx, v, "GB", firstNumber, testIP); err != nil {
			t.Fatal(err)
		}
		code := h.sms.lastCode(t)
		hooked := &hookStore{stores: h.store, beforeConsume: func() {
			f := &mfa.Factor{UserID: h.user.ID, Method: gatehouse.MethodSMS, Phone: secondE164, CreatedAt: h.clock.Now()}
			if err := h.store.SaveFactor(ctx, h.ws.ID, f); err != nil {
				t.Error(err)
			}
		}}
		if err := h.instance(hooked).ConfirmSMS(ctx, v, code, testIP); !errors.Is(err, mfa.ErrNotPending) {
			t.Errorf("ConfirmSMS while the number changed = %v; want ErrNotPending", err)
		}
		if ms := h.reload(t, v).Methods; len(ms) != 0 {
			t.Errorf("methods = %v; want none", ms)
		}
	})
}

// TestRefusedDeliveryLiftsWait: a text the number refuses leaves no live
// code and no wait: the user may try again at once.
func TestRefusedDeliveryLiftsWait(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodSMS}})
		h.sms = h.enableSMS(t)
		h.sms.refuse = map[string]bool{firstE164: true}
		ctx := t.Context()
		v := h.signedIn(t)
		var de *mfa.DeliveryError
		if _, err := h.svc.StartSMS(ctx, v, "GB", firstNumber, testIP); !errors.As(err, &de) {
			t.Fatalf("StartSMS to a refusing number = %v; want *DeliveryError", err)
		}
		if st, err := h.svc.CodeState(ctx, v, gatehouse.MethodSMS); err != nil || st != (mfa.CodeState{}) {
			t.Errorf("CodeState after a refused text = %+v, %v; want no code and no wait", st, err)
		}
		h.sms.refuse = nil // the number works now (say, the user fixed their phone)
		if err := h.svc.SendCode(ctx, v, gatehouse.MethodSMS, testIP); err != nil {
			t.Fatalf("SendCode at once after a refused text = %v; want a text", err)
		}
		if err := h.svc.ConfirmSMS(ctx, v, h.sms.lastCode(t), testIP); err != nil {
			t.Fatalf("ConfirmSMS: %v", err)
		}
	})
}

// hangUpQueue queues codes like the outbox (they will go out) but its
// Await reports the request's context as cancelled: the client hung up
// while the page waited for the first delivery attempt.
type hangUpQueue struct{ *smsQueue }

func (hangUpQueue) Await(context.Context, int64, time.Duration) (*gatehouse.Message, error) {
	return nil, context.Canceled
}

// TestHangUpDuringDeliveryKeepsCodeAndWait: a code that was queued goes
// out whether or not the client waits for it, so hanging up keeps the code
// live and the 60-second wait in force (a script that hangs up may not
// send codes back to back).
func TestHangUpDuringDeliveryKeepsCodeAndWait(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("email", func(t *testing.T) {
			h := newHarness(t, b.open(t, 1)[0], setup{})
			h.addEmailFactor(t, h.user)
			svc := h.instance(h.store)
			svc.Queue = hangUpQueue{&smsQueue{mail: h.mail}}
			v := h.pending(t)
			if err := svc.SendCode(t.Context(), h.reload(t, v), gatehouse.MethodEmail, testIP); !errors.Is(err, context.Canceled) {
				t.Fatalf("SendCode with the client gone = %v; want context.Canceled", err)
			}
			st, err := svc.CodeState(t.Context(), h.reload(t, v), gatehouse.MethodEmail)
			if err != nil || !st.Sent || st.ResendIn != mfa.ResendGap {
				t.Errorf("CodeState after hanging up = %+v, %v; want the queued code live and a %v wait", st, err, mfa.ResendGap)
			}
			var tooSoon *mfa.TooSoonError
			if err := svc.SendCode(t.Context(), h.reload(t, v), gatehouse.MethodEmail, testIP); !errors.As(err, &tooSoon) {
				t.Errorf("second SendCode at once = %v; want *TooSoonError", err)
			}
			if n := len(h.mail.all()); n != 1 {
				t.Errorf("%d code e-mails queued; want 1", n)
			}
			if _, err := svc.Verify(t.Context(), h.reload(t, v), string(gatehouse.MethodEmail), h.mail.lastCode(t), testIP); err != nil {
				t.Errorf("the queued code does not work: %v", err)
			}
		})
		t.Run("sms", func(t *testing.T) {
			h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodSMS}})
			q := h.enableSMS(t)
			svc := h.instance(h.store)
			svc.Queue = hangUpQueue{q}
			v := h.signedIn(t)
			if _, err := svc.StartSMS(t.Context(), v, "GB", firstNumber, testIP); !errors.Is(err, context.Canceled) {
				t.Fatalf("StartSMS with the client gone = %v; want context.Canceled", err)
			}
			v = h.reload(t, v)
			st, err := svc.CodeState(t.Context(), v, gatehouse.MethodSMS)
			if err != nil || !st.Sent || st.ResendIn != mfa.ResendGap {
				t.Errorf("CodeState after hanging up = %+v, %v; want the queued code live and a %v wait", st, err, mfa.ResendGap)
			}
			var tooSoon *mfa.TooSoonError
			if err := svc.SendCode(t.Context(), v, gatehouse.MethodSMS, testIP); !errors.As(err, &tooSoon) {
				t.Errorf("second SendCode at once = %v; want *TooSoonError", err)
			}
			if n := q.to(firstE164); n != 1 {
				t.Errorf("%d code texts queued; want 1", n)
			}
			if err := svc.ConfirmSMS(t.Context(), v, q.lastCode(t), testIP); err != nil {
				t.Errorf("the queued code does not work: %v", err)
			}
		})
	})
}

// TestCodeStateNamesDestination: after the number changed with no code
// sent to the new one (the guard refused it), the page may not say a code
// was sent, though the old number's code is live.
func TestCodeStateNamesDestination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t, 1)[0], setup{methods: []gatehouse.Method{gatehouse.MethodSMS}})
		h.sms = h.enableSMS(t)
		guard := h.ws.SMSGuard
		guard.Countries = []string{"GB"}
		h.update(t, gatehouse.WorkspaceUpdate{SMSGuard: &guard})
		ctx := t.Context()
		v := h.signedIn(t)
		if _, err := h.svc.StartSMS(ctx, v, "GB", firstNumber, testIP); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.StartSMS(ctx, v, "IE", "085 123 4567", testIP); !errors.Is(err, mfa.ErrSMSCountry) {
			t.Fatalf("StartSMS off the country list = %v; want ErrSMSCountry", err)
		}
		if st, err := h.svc.CodeState(ctx, v, gatehouse.MethodSMS); err != nil || st.Sent {
			t.Errorf("CodeState = %+v, %v; want no code sent to the new number", st, err)
		}
	})
}
