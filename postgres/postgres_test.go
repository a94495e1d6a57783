package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/postgres"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// databaseURL returns the test database's URL, or skips the test loudly:
// a silent skip would let a broken PostgreSQL store pass unnoticed.
func databaseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("GATEHOUSE_TEST_DATABASE_URL")
	if u == "" {
		tb.Skip("GATEHOUSE_TEST_DATABASE_URL is unset: PostgreSQL store tests SKIPPED; CI sets it " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return u
}

// newSchema creates an empty schema named gh_test_<random>, drops it (with
// everything in it) when the test ends, and returns a connection string whose
// search_path is that schema, so each test has a database of its own.
func newSchema(tb testing.TB) string {
	tb.Helper()
	base := databaseURL(tb)
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
		// The test's context is already cancelled when cleanups run.
		ctx := context.Background()
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

	u, err := withSearchPath(base, schema)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// withSearchPath adds search_path=schema to a connection string, in URL or
// keyword/value form; pgx sends it to the server as a run-time parameter.
func withSearchPath(conn, schema string) (string, error) {
	if !strings.HasPrefix(conn, "postgres://") && !strings.HasPrefix(conn, "postgresql://") {
		return conn + " search_path=" + schema, nil
	}
	u, err := url.Parse(conn)
	if err != nil {
		return "", fmt.Errorf("parse GATEHOUSE_TEST_DATABASE_URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// open opens the database at url and closes it when the test ends.
func open(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// mustOpen returns a migrated store in a fresh schema of its own.
func mustOpen(tb testing.TB) *postgres.DB {
	tb.Helper()
	db := open(tb, newSchema(tb))
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestWithSearchPath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"url without query", "postgres://u@h:5432/db", "postgres://u@h:5432/db?search_path=s"},
		{"url with query", "postgres://u@h/db?sslmode=disable", "postgres://u@h/db?search_path=s&sslmode=disable"},
		{"url with search_path", "postgresql://u@h/db?search_path=public", "postgresql://u@h/db?search_path=s"},
		{"keyword/value", "host=h dbname=db", "host=h dbname=db search_path=s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := withSearchPath(tt.in, "s")
			if err != nil || got != tt.want {
				t.Errorf("withSearchPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on localhost refuses connections at once.
	_, err := postgres.Open(ctx, "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("Open's error leaks the password: %v", err)
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	t.Run("twice", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if n, err := db.CountWorkspaces(ctx); err != nil || n != 0 {
			t.Fatalf("CountWorkspaces = %d, %v; want 0, nil", n, err)
		}
	})
	t.Run("concurrently", func(t *testing.T) {
		// Several processes starting at once against one empty schema.
		url := newSchema(t)
		dbs := []*postgres.DB{open(t, url), open(t, url), open(t, url)}
		migrateAll(t, dbs)
	})
	t.Run("concurrently with a pending migration", func(t *testing.T) {
		// Several processes of a new release starting at once against a
		// database that has goose's version table but not the newest
		// migration. (On an empty schema goose's own retry around creating
		// its version table hides a missing lock.)
		url := newSchema(t)
		dbs := []*postgres.DB{open(t, url), open(t, url), open(t, url), open(t, url)}
		if err := dbs[0].Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `
			DROP TABLE server_keys;
			DROP TABLE limits, portal_mail_off, message_reads, client_messages, document_requests, document_chunks, documents;
			DROP TABLE passkey_ceremonies, passkeys, trusted_devices, audit_events, codes, send_clocks, recovery_codes, factors,
				outbox, throttles, tokens, sessions, users, clients, workspace_logos, workspaces;
			DROP FUNCTION gatehouse_visit_notify(), gatehouse_space_notify();
			DELETE FROM goose_db_version WHERE version_id > 0`); err != nil {
			t.Fatal(err)
		}
		migrateAll(t, dbs)
	})
}

// migrateAll runs Migrate on every db at once and checks that all succeed
// and leave a usable schema.
func migrateAll(t *testing.T, dbs []*postgres.DB) {
	t.Helper()
	ctx := context.Background()
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if n, err := dbs[0].CountWorkspaces(ctx); err != nil || n != 0 {
		t.Fatalf("CountWorkspaces = %d, %v; want 0, nil", n, err)
	}
}

var now = time.Date(2039, 3, 4, 5, 6, 7, 0, time.UTC)

// TestClaimMessagesConcurrently goes beyond storetest's single round: senders
// on several pools claim small batches until nothing is due, and every batch
// must come oldest first (UPDATE … RETURNING alone has no order).
func TestClaimMessagesConcurrently(t *testing.T) {
	ctx := context.Background()
	url := newSchema(t)
	dbs := []*postgres.DB{open(t, url), open(t, url), open(t, url)}
	if err := dbs[0].Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const total = 60
	for i := range total {
		m := &gatehouse.Message{Channel: "email", To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Body: "b",
			CreatedAt: now, NextAttempt: now.Add(-time.Duration(i) * time.Second)}
		if err := dbs[0].EnqueueMessage(ctx, 1, m); err != nil {
			t.Fatal(err)
		}
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[int64]int{}
	)
	start := make(chan struct{})
	for i := range 6 {
		wg.Go(func() {
			<-start
			for {
				ms, err := dbs[i%3].ClaimMessages(ctx, now, now.Add(time.Minute), 4)
				if err != nil {
					t.Errorf("ClaimMessages: %v", err)
					return
				}
				if len(ms) == 0 {
					return
				}
				for j := 1; j < len(ms); j++ {
					if !ms[j-1].NextAttempt.Before(ms[j].NextAttempt) {
						t.Errorf("ClaimMessages returned %v before %v; want the oldest due first", ms[j-1].NextAttempt, ms[j].NextAttempt)
					}
				}
				mu.Lock()
				for _, m := range ms {
					claimed[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(claimed) != total {
		t.Errorf("%d distinct messages claimed, want %d", len(claimed), total)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("message %d claimed %d times", id, n)
		}
	}
}

func TestStore(t *testing.T) {
	databaseURL(t)
	storetest.Run(t, func(tb testing.TB) storetest.Store { return mustOpen(tb) })
}

// TestAtomic injects a failure into each business operation with a
// trigger that refuses inserts into one table.
func TestAtomic(t *testing.T) {
	databaseURL(t)
	storetest.RunAtomic(t, func(tb testing.TB) storetest.Store { return mustOpen(tb) }, func(tb testing.TB, s storetest.Store, table string) {
		tb.Helper()
		err := s.(*postgres.DB).Exec(context.Background(), `
			CREATE FUNCTION break_insert() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'injected failure'; END $$;
			CREATE TRIGGER break_`+table+` BEFORE INSERT ON `+table+` FOR EACH ROW EXECUTE FUNCTION break_insert()`)
		if err != nil {
			tb.Fatal(err)
		}
	})
}

// TestMigrateUpgrade brings a database holding rows from before two-factor
// authentication up to date: the old rows read back with the defaults (no
// Twilio account, the default SMS guard, no session marks), and the
// two-factor, trusted-device, SMS and session-mark migrations roll back and
// forth cleanly.
func TestMigrateUpgrade(t *testing.T) {
	ctx := context.Background()
	old := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	db := open(t, newSchema(t))
	if err := db.MigrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	token := sha256.Sum256([]byte("old session"))
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO workspaces (slug, name, plan, created_at, updated_at) VALUES ('old', 'Old', 'pro', $1, $1)`, []any{old}},
		{`INSERT INTO users (workspace_id, email, role, created_at, updated_at) VALUES (1, 'ann@example.com', 'owner', $1, $1)`, []any{old}},
		{`INSERT INTO sessions (workspace_id, user_id, token_hash, created_at, last_seen_at, expires_at, idle_seconds)
			VALUES (1, 1, $1, $2, $2, $2, 3600)`, []any{token[:], old}},
	} {
		if err := db.Exec(ctx, q.query, q.args...); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := db.FindVisit(ctx, 1, token[:])
	if err != nil {
		t.Fatal(err)
	}
	m := v.Workspace.MFA
	if m.Mode != gatehouse.MFADisabled || !slices.Equal(m.Methods, []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}) ||
		m.TrustedDeviceDays != 30 || m.GraceDays != 0 || !m.ModeChangedAt.IsZero() {
		t.Errorf("old workspace's MFA settings = %+v", m)
	}
	if v.User.EmailVerified {
		t.Error("old user's e-mail reads as verified")
	}
	if s := v.Session; s.MFAVerifiedAt != nil || !s.ReauthAt.IsZero() || s.MFAFailures != 0 || s.AfterReset || s.Next != "" ||
		s.MailboxProvenAt != nil || s.EnrollSkippedAt != nil {
		t.Errorf("old session = %+v", s)
	}
	if len(v.Methods) != 0 {
		t.Errorf("old user's methods = %v", v.Methods)
	}
	if tw := v.Workspace.Twilio; tw.AccountSID != "" || tw.AuthToken != nil || tw.From != "" || tw.MessagingServiceSID != "" {
		t.Errorf("old workspace's Twilio account = %#v", tw)
	}
	if g, want := v.Workspace.SMSGuard, gatehouse.DefaultSMSGuard(); g.Countries != nil || g.HourlyCap != want.HourlyCap || g.DailyCap != want.DailyCap {
		t.Errorf("old workspace's SMS guard = %#v, want %#v", g, want)
	}

	if err := db.MigrateTo(ctx, 4); err != nil {
		t.Fatalf("roll back session marks: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate session marks again: %v", err)
	}
	if err := db.MigrateTo(ctx, 3); err != nil {
		t.Fatalf("roll back SMS: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate SMS again: %v", err)
	}
	if err := db.MigrateTo(ctx, 2); err != nil {
		t.Fatalf("roll back devices: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate devices again: %v", err)
	}
	if err := db.MigrateTo(ctx, 1); err != nil {
		t.Fatalf("roll back two-factor: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if err := db.MigrateTo(ctx, 0); err != nil {
		t.Fatalf("roll back everything: %v", err)
	}
}
