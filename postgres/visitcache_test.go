package postgres_test

import (
	"context"
	"crypto/sha256"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/postgres"
	"github.com/gatehouse-dev/gatehouse/storetest"
)

// twoInstances opens two stores on one fresh schema, as two Gatehouse
// processes on one PostgreSQL.
func twoInstances(tb testing.TB) *storetest.Pair {
	tb.Helper()
	url := newSchema(tb)
	da := open(tb, url)
	if err := da.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	db := open(tb, url)
	return &storetest.Pair{
		A: da, B: db,
		Hits: func(s storetest.Store) uint64 {
			h, _ := s.(*postgres.DB).VisitCacheStats()
			return h
		},
		SpaceHits: func(s storetest.Store) uint64 {
			h, _ := s.(*postgres.DB).SpaceCacheStats()
			return h
		},
		Deafen: func(s storetest.Store) func() { return s.(*postgres.DB).HoldNotices() },
	}
}

func TestVisitCacheInstances(t *testing.T) {
	storetest.RunVisitCache(t, twoInstances)
}

func TestSpaceCacheInstances(t *testing.T) {
	storetest.RunSpaceCache(t, twoInstances)
}

// TestVisitCacheListenerLost checks that a store whose listening connection
// is gone stops serving visits from memory: it could not hear of a change.
// The change is made with triggers off (session_replication_role = replica),
// so no notice is sent and only a cache that is off can show it.
func TestVisitCacheListenerLost(t *testing.T) {
	ctx := context.Background()
	p := twoInstances(t)
	a, b, hits := p.A, p.B.(*postgres.DB), p.Hits
	ws := storetest.MustCreateWorkspace(t, a, "acme")
	u := storetest.MustCreateUser(t, a, ws.ID, "ann@example.com", gatehouse.RoleClient)
	h := sha256.Sum256([]byte("tok"))
	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &gatehouse.Session{UserID: u.ID, TokenHash: h[:], CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleTimeout: time.Hour}
	if err := a.CreateSession(ctx, ws.ID, s, u.PasswordHash); err != nil {
		t.Fatal(err)
	}
	find := func() (*gatehouse.Visit, bool) {
		t.Helper()
		h0 := hits(b)
		v, err := b.FindVisit(ctx, ws.ID, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return v, hits(b) > h0
	}
	deadline := time.Now().Add(30 * time.Second) // only a hang reaches it
	for _, hit := find(); !hit; _, hit = find() {
		if time.Now().After(deadline) {
			t.Fatal("the visit was never served from memory")
		}
		time.Sleep(time.Millisecond)
	}

	release := b.HoldListener()
	defer release()
	if err := a.(*postgres.DB).Exec(ctx, `SELECT pg_terminate_backend($1)`, int32(b.ListenerPID())); err != nil {
		t.Fatal(err)
	}
	for b.VisitCacheOn() {
		if time.Now().After(deadline) {
			t.Fatal("the cache is still on after its listener was lost")
		}
		time.Sleep(time.Millisecond)
	}
	if err := a.(*postgres.DB).Exec(ctx, `
		BEGIN;
		SET LOCAL session_replication_role = replica;
		UPDATE users SET name = 'silent' WHERE id = `+strconv.FormatInt(u.ID, 10)+`;
		COMMIT`); err != nil {
		t.Fatal(err)
	}
	if v, hit := find(); hit || v.User.Name != "silent" {
		t.Fatalf("without a listener: served from memory %t, name %q; want a read of the new name", hit, v.User.Name)
	}
	if v, hit := find(); hit || v.User.Name != "silent" {
		t.Fatalf("without a listener, again: served from memory %t, name %q", hit, v.User.Name)
	}

	// Listening again, the cache serves again.
	release()
	for _, hit := find(); !hit; _, hit = find() {
		if time.Now().After(deadline) {
			t.Fatal("the cache never came back")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestVisitCacheDeafListener checks that a listener whose connection
// answers queries but hears no notices (as through a pooler in transaction
// mode, where LISTEN lands on one server connection and the query on
// another) turns the cache off: only its own notice heard back proves it
// current, never an answer alone.
func TestVisitCacheDeafListener(t *testing.T) {
	p := twoInstances(t)
	b := p.B.(*postgres.DB)
	deadline := time.Now().Add(30 * time.Second) // only a hang reaches it
	for !b.VisitCacheOn() {
		if time.Now().After(deadline) {
			t.Fatal("the cache never came on")
		}
		time.Sleep(time.Millisecond)
	}
	hear := b.LoseNotices()
	defer hear()
	for b.VisitCacheOn() {
		if time.Now().After(deadline) {
			t.Fatal("the cache stayed on while its listener heard nothing")
		}
		time.Sleep(time.Millisecond)
	}
	hear()
	for !b.VisitCacheOn() {
		if time.Now().After(deadline) {
			t.Fatal("the cache never came back")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestVisitCacheAudit checks that audit events (every download writes
// one), alone or committed together, leave the cached visits in place,
// while any other write of this process still empties them.
func TestVisitCacheAudit(t *testing.T) {
	ctx := context.Background()
	p := twoInstances(t)
	a := p.A.(*postgres.DB)
	ws := storetest.MustCreateWorkspace(t, a, "acme")
	u := storetest.MustCreateUser(t, a, ws.ID, "ann@example.com", gatehouse.RoleClient)
	h := sha256.Sum256([]byte("tok"))
	now := time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &gatehouse.Session{UserID: u.ID, TokenHash: h[:], CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleTimeout: time.Hour}
	if err := a.CreateSession(ctx, ws.ID, s, u.PasswordHash); err != nil {
		t.Fatal(err)
	}
	find := func() bool {
		t.Helper()
		h0 := p.Hits(a)
		if _, err := a.FindVisit(ctx, ws.ID, h[:]); err != nil {
			t.Fatal(err)
		}
		return p.Hits(a) > h0
	}
	audit := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				e := &gatehouse.AuditEvent{At: now, ActorID: u.ID, Type: "portal.document.downloaded"}
				if err := a.AddAuditEvent(ctx, ws.ID, e); err != nil || e.ID == 0 {
					t.Errorf("audit event %d: %v", e.ID, err)
				}
			})
		}
		wg.Wait()
	}
	deadline := time.Now().Add(30 * time.Second) // only a hang reaches it
	// The cache may be emptied now and then for reasons of its own (a
	// listener slow to prove itself on a loaded machine); an audit event
	// must leave it in place at least once in a while.
	kept := false
	for !kept {
		if time.Now().After(deadline) {
			t.Fatal("audit events empty the visit cache")
		}
		for !find() {
			time.Sleep(time.Millisecond)
		}
		audit(1)
		audit(8)
		kept = find()
	}
	// Any other write empties it.
	if err := a.TouchSession(ctx, ws.ID, s.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if find() {
		t.Fatal("a write other than an audit event left the visit cache in place")
	}
}
