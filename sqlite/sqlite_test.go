package sqlite_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/sqlite"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// MustOpen opens a migrated SQLite store in a temp file (not :memory:, where
// every pooled connection would see its own empty database).
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db := open(tb)
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// open opens a SQLite database in a temp file without migrating it.
func open(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) storetest.Store { return MustOpen(tb) })
}

// TestAtomic injects a failure into each business operation with a
// trigger that refuses inserts into one table.
func TestAtomic(t *testing.T) {
	storetest.RunAtomic(t, func(tb testing.TB) storetest.Store { return MustOpen(tb) }, func(tb testing.TB, s storetest.Store, table string) {
		tb.Helper()
		err := s.(*sqlite.DB).Exec(context.Background(), `CREATE TRIGGER break_`+table+` BEFORE INSERT ON `+table+`
			BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
		if err != nil {
			tb.Fatal(err)
		}
	})
}

func TestMigrateTwice(t *testing.T) {
	db := MustOpen(t)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
}

// TestMigrateUpgrade brings a database holding rows from before two-factor
// authentication up to date: the old rows read back with the defaults (no
// Twilio account, the default SMS guard, no session marks), and the
// two-factor, trusted-device, SMS and session-mark migrations roll back and
// forth cleanly.
func TestMigrateUpgrade(t *testing.T) {
	ctx := context.Background()
	old := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	db := open(t)
	if err := db.MigrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	token := sha256.Sum256([]byte("old session"))
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO workspaces (slug, name, plan, created_at, updated_at) VALUES ('old', 'Old', 'pro', ?1, ?1)`, []any{old}},
		{`INSERT INTO users (workspace_id, email, role, created_at, updated_at) VALUES (1, 'ann@example.com', 'owner', ?1, ?1)`, []any{old}},
		{`INSERT INTO sessions (workspace_id, user_id, token_hash, created_at, last_seen_at, expires_at, idle_seconds)
			VALUES (1, 1, ?1, ?2, ?2, ?2, 3600)`, []any{token[:], old}},
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
