package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/sqlite"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// MustOpen opens a migrated SQLite store in a temp file (not :memory:, where
// every pooled connection would see its own empty database).
func MustOpen(tb testing.TB) *sqlite.DB {
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

func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) gatehouse.Store { return MustOpen(tb) })
}

func TestMigrateTwice(t *testing.T) {
	db := MustOpen(t)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
}
