package sqlite_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// BenchmarkFindVisit measures the per-request session check: one read of
// session, user, workspace and active methods.
func BenchmarkFindVisit(b *testing.B) {
	ctx := context.Background()
	db := MustOpen(b)
	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	w := storetest.MustCreateWorkspace(b, db, "acme")
	u := storetest.MustCreateUser(b, db, w.ID, "ann@example.com", gatehouse.RoleClient)
	hash := sha256.Sum256([]byte("token"))
	s := &gatehouse.Session{UserID: u.ID, TokenHash: hash[:], CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleTimeout: time.Hour}
	if err := db.CreateSession(ctx, w.ID, s, u.PasswordHash); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.FindVisit(ctx, w.ID, hash[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReadSpace: see storetest.BenchReadSpace.
func BenchmarkReadSpace(b *testing.B) {
	storetest.BenchReadSpace(b, func(tb testing.TB) storetest.PortalStore { return MustOpen(tb) })
}
