package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// A sign-in that checked the old password creates its session while a
// password change is in flight (its UPDATE done, its sign-out and commit
// to come): the session must wait for the change and then be refused, or
// it would be inserted after the change's sign-out and outlive it.
func TestCreateSessionWaitsForPasswordChange(t *testing.T) {
	ctx := context.Background()
	url := newSchema(t)
	db := open(t, url)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := storetest.MustCreateWorkspace(t, db, "acme")
	u := storetest.MustCreateUser(t, db, w.ID, "ann@example.com", gatehouse.RoleClient)

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = 'changed' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}

	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	token := sha256.Sum256([]byte("late"))
	done := make(chan error, 1)
	go func() {
		done <- db.CreateSession(ctx, w.ID, &gatehouse.Session{UserID: u.ID, TokenHash: token[:], CreatedAt: now,
			LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour}, u.PasswordHash)
	}()
	// Wait until the insert is blocked by the change's transaction.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("CreateSession did not wait for the password change in flight (err %v)", err)
		default:
		}
		var waiting int
		if err := db.QueryRowForTest(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
			conn.PgConn().PID()).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("CreateSession neither returned nor waited within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("CreateSession with the old hash after the change committed: %v, want ErrNotFound", err)
	}
}
