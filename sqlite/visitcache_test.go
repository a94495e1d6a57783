package sqlite_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/sqlite"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// visitFixture is a store on a file, a second handle on the same file (as
// the CLI opens it), and a signed-in session.
type visitFixture struct {
	db, cli *sqlite.DB
	ws      *gatehouse.Workspace
	user    *gatehouse.User
	hash    []byte
}

// openPair opens a migrated store on a new file and a second handle on it.
func openPair(t testing.TB) (db, cli *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cli, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return db, cli
}

func newVisitFixture(t *testing.T) *visitFixture {
	t.Helper()
	ctx := context.Background()
	db, cli := openPair(t)
	f := &visitFixture{db: db, cli: cli}
	f.ws = storetest.MustCreateWorkspace(t, db, "acme")
	f.user = storetest.MustCreateUser(t, db, f.ws.ID, "ann@example.com", gatehouse.RoleClient)
	h := sha256.Sum256([]byte("token"))
	f.hash = h[:]
	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &gatehouse.Session{UserID: f.user.ID, TokenHash: f.hash, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleTimeout: time.Hour}
	if err := db.CreateSession(ctx, f.ws.ID, s, f.user.PasswordHash); err != nil {
		t.Fatal(err)
	}
	return f
}

// visit reads the visit and reports whether it came from the cache.
func (f *visitFixture) visit(t *testing.T) (*gatehouse.Visit, error, bool) {
	t.Helper()
	h0, _ := f.db.VisitCacheStats()
	v, err := f.db.FindVisit(context.Background(), f.ws.ID, f.hash)
	h1, _ := f.db.VisitCacheStats()
	return v, err, h1 > h0
}

// TestVisitCacheExact checks that the visit cache serves a repeated check
// from memory and that every write — by this store or by another
// connection, as the CLI makes — is seen by the very next check.
func TestVisitCacheExact(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		write func(f *visitFixture, s *sqlite.DB) error
		check func(v *gatehouse.Visit, err error) string
	}{
		{
			name: "disable",
			write: func(f *visitFixture, s *sqlite.DB) error {
				return s.Exec(ctx, `UPDATE users SET disabled = 1 WHERE id = ?`, f.user.ID)
			},
			check: func(v *gatehouse.Visit, err error) string {
				if err != nil || !v.User.Disabled {
					return "the user is not disabled"
				}
				return ""
			},
		},
		{
			name: "plan",
			write: func(f *visitFixture, s *sqlite.DB) error {
				return s.Exec(ctx, `UPDATE workspaces SET plan = 'starter' WHERE id = ?`, f.ws.ID)
			},
			check: func(v *gatehouse.Visit, err error) string {
				if err != nil || v.Workspace.Plan != gatehouse.PlanStarter {
					return "the plan did not change"
				}
				return ""
			},
		},
		{
			name: "logout",
			write: func(f *visitFixture, s *sqlite.DB) error {
				return s.DeleteSession(ctx, f.ws.ID, f.hash)
			},
			check: func(v *gatehouse.Visit, err error) string {
				if err == nil {
					return "the session is still found"
				}
				return ""
			},
		},
		{
			name: "password",
			write: func(f *visitFixture, s *sqlite.DB) error {
				return s.Exec(ctx, `UPDATE users SET password_hash = '' WHERE id = ?`, f.user.ID)
			},
			check: func(v *gatehouse.Visit, err error) string {
				if err != nil || v.User.Active() {
					return "the password is still there"
				}
				return ""
			},
		},
	}
	for _, c := range cases {
		for _, by := range []string{"this store", "another connection"} {
			t.Run(c.name+" by "+by, func(t *testing.T) {
				f := newVisitFixture(t)
				if _, err, _ := f.visit(t); err != nil {
					t.Fatal(err)
				}
				if _, err, hit := f.visit(t); err != nil || !hit {
					t.Fatalf("a repeated check was not served from the cache (err %v)", err)
				}
				if runtime.GOOS != "windows" && !f.db.WatchesWalIndex() {
					t.Fatal("the cache does not watch the wal-index")
				}
				s := f.db
				if by == "another connection" {
					s = f.cli
				}
				if err := c.write(f, s); err != nil {
					t.Fatal(err)
				}
				v, err, hit := f.visit(t)
				if hit {
					t.Error("the check after a write was served from the cache")
				}
				if msg := c.check(v, err); msg != "" {
					t.Error(msg)
				}
			})
		}
	}
}

// TestVisitCacheCopies checks that a caller changing the visit it got does
// not change what the next caller gets.
func TestVisitCacheCopies(t *testing.T) {
	f := newVisitFixture(t)
	first, err, _ := f.visit(t)
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	want.Session.TokenHash = append([]byte(nil), first.Session.TokenHash...)
	want.Workspace.MFA.Methods = append([]gatehouse.Method(nil), first.Workspace.MFA.Methods...)
	change := func(v *gatehouse.Visit) {
		v.Session.LastSeenAt = v.Session.LastSeenAt.Add(time.Hour)
		v.Session.TokenHash[0] ^= 0xff
		v.Workspace.MFA.Methods[0] = "changed"
		v.User.Name = "changed"
	}
	change(first) // the visit read (and kept) on a miss
	for i := range 2 {
		v, err, hit := f.visit(t)
		if err != nil || !hit {
			t.Fatalf("not served from the cache (err %v)", err)
		}
		if !reflect.DeepEqual(*v, want) {
			t.Fatalf("check %d: a change to a visit reached the cache:\n%+v\nwant\n%+v", i+2, *v, want)
		}
		change(v) // a visit served from the cache
	}
}

// TestVisitCacheInstances runs the cross-instance visit checks with a CLI
// handle on the file writing and the server's reading.
func TestVisitCacheInstances(t *testing.T) {
	storetest.RunVisitCache(t, func(tb testing.TB) *storetest.Pair {
		db, cli := openPair(tb)
		return &storetest.Pair{A: cli, B: db, Hits: func(s storetest.Store) uint64 {
			h, _ := s.(*sqlite.DB).VisitCacheStats()
			return h
		}}
	})
}

// TestVisitCacheAudit checks that an audit event (which every download
// commits) leaves the cached visits in place, and that a change another
// connection commits just after it is still seen.
func TestVisitCacheAudit(t *testing.T) {
	ctx := context.Background()
	f := newVisitFixture(t)
	f.visit(t)
	if _, _, hit := f.visit(t); !hit {
		t.Fatal("a repeated check missed the cache")
	}
	if runtime.GOOS != "windows" && !f.db.WatchesWalIndex() {
		t.Fatal("the wal-index is not watched")
	}
	audit := func() {
		t.Helper()
		e := &gatehouse.AuditEvent{At: time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC), ActorID: f.user.ID, Type: "portal.document.downloaded"}
		if err := f.db.AddAuditEvent(ctx, f.ws.ID, e); err != nil {
			t.Fatal(err)
		}
	}
	audit()
	if _, _, hit := f.visit(t); !hit && runtime.GOOS != "windows" {
		t.Error("an audit event emptied the visit cache")
	}
	// Another process signs the user out of every session and an audit
	// event follows before any check: the cache was stale before the
	// audit, and must not be kept for it.
	if _, err := f.cli.DeleteUserSessions(ctx, f.ws.ID, f.user.ID, nil); err != nil {
		t.Fatal(err)
	}
	audit()
	if v, err, hit := f.visit(t); hit || err == nil {
		t.Fatalf("after a sign-out by another process and an audit event: visit %v, err %v, from the cache %v", v, err, hit)
	}
	f = newVisitFixture(t)
	f.visit(t)
	// Another process logs the session out between the audit's commit and
	// the cache hearing of it: the cache must not take that as unchanged.
	sqlite.SetAfterAuditCommit(t, func() {
		if err := f.cli.DeleteSession(ctx, f.ws.ID, f.hash); err != nil {
			t.Fatal(err)
		}
	})
	audit()
	if v, err, hit := f.visit(t); hit || err == nil {
		t.Fatalf("after a logout by another process: visit %v, err %v, from the cache %v", v, err, hit)
	}
}

// TestSpaceCacheInstances runs the cross-instance space checks the same
// way: the CLI's handle writes, the server's reads.
func TestSpaceCacheInstances(t *testing.T) {
	storetest.RunSpaceCache(t, func(tb testing.TB) *storetest.Pair {
		db, cli := openPair(tb)
		return &storetest.Pair{A: cli, B: db, SpaceHits: func(s storetest.Store) uint64 {
			h, _ := s.(*sqlite.DB).SpaceCacheStats()
			return h
		}}
	})
}
