package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/sqlite"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestOps(t *testing.T) {
	storetest.RunOps(t, func(tb testing.TB) storetest.OpsStore { return MustOpen(tb) })
}

// TestBackup copies a database that is being written: the copy opens on its
// own, holds every workspace committed before the backup began, is private
// to its owner and is never written over.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	storetest.MustCreateWorkspace(t, db, "before")

	// Writes go on while the copy is taken.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ws := gatehouse.NewWorkspace(fmt.Sprintf("during-%d", i), "During", gatehouse.PlanPro, backupTime)
			if err := db.CreateWorkspace(ctx, ws); err != nil {
				t.Errorf("write during the backup: %v", err)
				return
			}
		}
	}()
	out := filepath.Join(t.TempDir(), "copy.db")
	err := db.Backup(ctx, out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup mode %04o, want 0600", perm)
	}
	cp, err := sqlite.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if err := cp.Migrate(ctx); err != nil {
		t.Fatalf("the copy does not migrate: %v", err)
	}
	if _, err := cp.FindWorkspaceBySlug(ctx, "before"); err != nil {
		t.Errorf("the copy lacks a workspace made before the backup: %v", err)
	}

	if err := db.Backup(ctx, out); !errors.Is(err, sqlite.ErrBackupExists) {
		t.Errorf("second backup to the same file = %v, want ErrBackupExists", err)
	}
	if _, err := cp.FindWorkspaceBySlug(ctx, "before"); err != nil {
		t.Errorf("the refused backup damaged the first: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".gatehouse-backup-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

var backupTime = time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)

// TestPageSize: a new database has PageSize pages, an older one keeps its
// own, and a backup of it has PageSize pages again.
func TestPageSize(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := db.PageSize(ctx); err != nil || got != sqlite.PageSize {
		t.Fatalf("new database: page size %d (%v), want %d", got, err, sqlite.PageSize)
	}

	// A database created with SQLite's default page size, as releases
	// before PageSize did.
	dir := t.TempDir()
	oldPath := filepath.Join(dir, "old.db")
	raw, err := sql.Open("sqlite", "file:"+oldPath+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	old, err := sqlite.Open(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.MustCreateWorkspace(t, old, "older")
	if got, _ := old.PageSize(ctx); got != 4096 {
		t.Fatalf("older database: page size %d, want it kept at 4096", got)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := old.Backup(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	cp, err := sqlite.Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if got, err := cp.PageSize(ctx); err != nil || got != sqlite.PageSize {
		t.Fatalf("backup of the older database: page size %d (%v), want %d", got, err, sqlite.PageSize)
	}
	if _, err := cp.FindWorkspaceBySlug(ctx, "older"); err != nil {
		t.Fatalf("backup lost the workspace: %v", err)
	}
}
