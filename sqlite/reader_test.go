package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

// TestReaderPreparesOnce checks that reads run as cached prepared
// statements (a query text is prepared once, not per call) and that a
// cached statement still sees every later write.
func TestReaderPreparesOnce(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	ws := gatehouse.NewWorkspace("acme", "Acme", gatehouse.PlanPro, now)
	if err := db.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	before := db.CachedStatements()
	if _, err := db.FindWorkspaceBySlug(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	after := db.CachedStatements()
	if after != before+1 {
		t.Fatalf("cached statements %d → %d after one read, want one more", before, after)
	}
	for range 5 {
		if _, err := db.FindWorkspaceBySlug(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	if n := db.CachedStatements(); n != after {
		t.Errorf("cached statements %d after repeating the read, want %d", n, after)
	}
	// A write after the statement was prepared is seen by it.
	if err := db.CreateWorkspace(ctx, gatehouse.NewWorkspace("beta", "Beta", gatehouse.PlanPro, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindWorkspaceBySlug(ctx, "beta"); err != nil {
		t.Errorf("the cached statement missed a later write: %v", err)
	}
}

// TestReaderCacheBounded checks the cap: query texts past it still answer,
// unprepared, and the cache stops growing.
func TestReaderCacheBounded(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	for i := range sqlite.MaxCachedStatements + 20 {
		n, err := db.ReadInt(ctx, fmt.Sprintf("SELECT %d + ?", i), 1)
		if err != nil || n != int64(i)+1 {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	if n := db.CachedStatements(); n > sqlite.MaxCachedStatements {
		t.Errorf("%d cached statements, cap %d", n, sqlite.MaxCachedStatements)
	}
	// A bad query reports its error through the plain path.
	if _, err := db.ReadInt(ctx, "SELECT nope FROM nowhere"); err == nil {
		t.Error("a broken query answered")
	}
}
