// Package storetest is the conformance suite every Gatehouse store passes.
// Import it only from _test.go files:
//
//	func TestStore(t *testing.T) { storetest.Run(t, openTestDB) }
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Opener returns a fresh, migrated, empty store and arranges its cleanup.
type Opener func(tb testing.TB) gatehouse.Store

// t0 is the fixed clock of the suite: stores must keep the times they are given.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s gatehouse.Store)
	}{
		{"Workspaces", testWorkspaces},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"Tokens", testTokens},
		{"TokenRace", testTokenRace},
		{"Throttles", testThrottles},
		{"Outbox", testOutbox},
		{"Tenancy", testTenancy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// MustCreateWorkspace creates a pro workspace with the slug.
func MustCreateWorkspace(tb testing.TB, s gatehouse.Store, slug string) *gatehouse.Workspace {
	tb.Helper()
	w := &gatehouse.Workspace{Slug: slug, Name: "WS " + slug, Plan: gatehouse.PlanPro, RememberMeEnabled: true, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateWorkspace(context.Background(), w); err != nil {
		tb.Fatalf("create workspace %s: %v", slug, err)
	}
	return w
}

// MustCreateUser creates a user with the e-mail and role in the workspace.
func MustCreateUser(tb testing.TB, s gatehouse.Store, wsID int64, email string, role gatehouse.Role) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{Email: email, Name: "N " + email, Role: role, PasswordHash: "$argon2id$fake", CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateUser(context.Background(), wsID, u); err != nil {
		tb.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func wantNotFound(tb testing.TB, what string, err error) {
	tb.Helper()
	if !errors.Is(err, gatehouse.ErrNotFound) {
		tb.Fatalf("%s: got error %v, want ErrNotFound", what, err)
	}
}

func must(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

func testWorkspaces(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	n, err := s.CountWorkspaces(ctx)
	must(t, "count", err)
	if n != 0 {
		t.Fatalf("fresh store has %d workspaces", n)
	}
	w := MustCreateWorkspace(t, s, "acme")
	if w.ID == 0 {
		t.Fatal("CreateWorkspace did not set ID")
	}
	dup := &gatehouse.Workspace{Slug: "acme", Name: "Other", Plan: gatehouse.PlanStarter, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateWorkspace(ctx, dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("duplicate slug: got %v, want ErrConflict", err)
	}
	got, err := s.FindWorkspaceBySlug(ctx, "acme")
	must(t, "find by slug", err)
	if *got != *w {
		t.Fatalf("find by slug = %+v, want %+v", got, w)
	}
	got, err = s.FindWorkspaceByID(ctx, w.ID)
	must(t, "find by id", err)
	if *got != *w {
		t.Fatalf("find by id = %+v, want %+v", got, w)
	}
	_, err = s.FindWorkspaceBySlug(ctx, "nope")
	wantNotFound(t, "find unknown slug", err)
	_, err = s.FindWorkspaceByID(ctx, w.ID+1000)
	wantNotFound(t, "find unknown id", err)

	w.Name, w.Plan, w.SignupEnabled, w.RememberMeEnabled = "Acme Ltd", gatehouse.PlanStarter, true, false
	w.UpdatedAt = t0.Add(time.Hour)
	must(t, "update", s.UpdateWorkspace(ctx, w))
	got, err = s.FindWorkspaceByID(ctx, w.ID)
	must(t, "find after update", err)
	if *got != *w {
		t.Fatalf("after update = %+v, want %+v", got, w)
	}
	wantNotFound(t, "update unknown", s.UpdateWorkspace(ctx, &gatehouse.Workspace{ID: w.ID + 1000, Plan: gatehouse.PlanPro}))
	n, err = s.CountWorkspaces(ctx)
	must(t, "count", err)
	if n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}
}

func testUsers(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	if u.ID == 0 || u.WorkspaceID != w.ID {
		t.Fatalf("CreateUser set ID %d, WorkspaceID %d", u.ID, u.WorkspaceID)
	}
	dup := &gatehouse.User{Email: "ann@example.com", Role: gatehouse.RoleClient, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateUser(ctx, w.ID, dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("duplicate e-mail: got %v, want ErrConflict", err)
	}
	got, err := s.FindUserByEmail(ctx, w.ID, "ann@example.com")
	must(t, "find by email", err)
	if *got != *u {
		t.Fatalf("find by email = %+v, want %+v", got, u)
	}
	got, err = s.FindUserByID(ctx, w.ID, u.ID)
	must(t, "find by id", err)
	if *got != *u {
		t.Fatalf("find by id = %+v, want %+v", got, u)
	}
	_, err = s.FindUserByEmail(ctx, w.ID, "bob@example.com")
	wantNotFound(t, "find unknown email", err)

	b := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleClient)
	b.Name, b.Role, b.PasswordHash, b.Disabled, b.UpdatedAt = "Bob", gatehouse.RoleMember, "", true, t0.Add(time.Minute)
	must(t, "update", s.UpdateUser(ctx, w.ID, b))
	users, err := s.ListUsers(ctx, w.ID)
	must(t, "list", err)
	if len(users) != 2 || users[0] != *u || users[1] != *b {
		t.Fatalf("list = %+v, want [%+v %+v]", users, *u, *b)
	}
	wantNotFound(t, "update unknown", s.UpdateUser(ctx, w.ID, &gatehouse.User{ID: b.ID + 1000, Role: gatehouse.RoleClient}))
}

func newSession(userID int64, token string, now time.Time) *gatehouse.Session {
	return &gatehouse.Session{
		UserID: userID, TokenHash: hash(token), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleTimeout: time.Hour, UserAgent: "test-agent", IP: "127.0.0.1",
	}
}

func testSessions(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	other := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleClient)

	s1 := newSession(u.ID, "one", t0)
	s1.Remember = true
	must(t, "create", s.CreateSession(ctx, w.ID, s1))
	if s1.ID == 0 || s1.WorkspaceID != w.ID {
		t.Fatalf("CreateSession set ID %d, WorkspaceID %d", s1.ID, s1.WorkspaceID)
	}
	v, err := s.FindVisit(ctx, w.ID, hash("one"))
	must(t, "find visit", err)
	if v.User != *u || v.Workspace != *w {
		t.Fatalf("visit user/workspace = %+v / %+v", v.User, v.Workspace)
	}
	if v.Session.ID != s1.ID || !v.Session.Remember || v.Session.IdleTimeout != time.Hour ||
		!v.Session.ExpiresAt.Equal(s1.ExpiresAt) || !v.Session.LastSeenAt.Equal(t0) || v.Session.UserAgent != "test-agent" {
		t.Fatalf("visit session = %+v, want %+v", v.Session, s1)
	}
	_, err = s.FindVisit(ctx, w.ID, hash("unknown"))
	wantNotFound(t, "find unknown token", err)

	later := t0.Add(30 * time.Minute)
	must(t, "touch", s.TouchSession(ctx, w.ID, s1.ID, later))
	v, err = s.FindVisit(ctx, w.ID, hash("one"))
	must(t, "find after touch", err)
	if !v.Session.LastSeenAt.Equal(later) {
		t.Fatalf("LastSeenAt = %v, want %v", v.Session.LastSeenAt, later)
	}
	if v.Session.Expired(later) || !v.Session.Expired(later.Add(time.Hour)) {
		t.Fatal("idle expiry misjudged")
	}

	must(t, "create two", s.CreateSession(ctx, w.ID, newSession(u.ID, "two", t0)))
	must(t, "create three", s.CreateSession(ctx, w.ID, newSession(u.ID, "three", t0)))
	must(t, "create other", s.CreateSession(ctx, w.ID, newSession(other.ID, "other", t0)))
	n, err := s.DeleteUserSessions(ctx, w.ID, u.ID, hash("two"))
	must(t, "delete others", err)
	if n != 2 {
		t.Fatalf("DeleteUserSessions removed %d, want 2", n)
	}
	_, err = s.FindVisit(ctx, w.ID, hash("one"))
	wantNotFound(t, "find deleted", err)
	_, err = s.FindVisit(ctx, w.ID, hash("two"))
	must(t, "kept session", err)
	_, err = s.FindVisit(ctx, w.ID, hash("other"))
	must(t, "other user's session", err)
	n, err = s.DeleteUserSessions(ctx, w.ID, u.ID, nil)
	must(t, "delete all", err)
	if n != 1 {
		t.Fatalf("DeleteUserSessions(nil) removed %d, want 1", n)
	}

	must(t, "delete", s.DeleteSession(ctx, w.ID, hash("other")))
	_, err = s.FindVisit(ctx, w.ID, hash("other"))
	wantNotFound(t, "find after delete", err)

	old := newSession(u.ID, "old", t0.Add(-24*time.Hour))
	must(t, "create old", s.CreateSession(ctx, w.ID, old))
	must(t, "create new", s.CreateSession(ctx, w.ID, newSession(u.ID, "new", t0)))
	n, err = s.DeleteExpiredSessions(ctx, t0)
	must(t, "delete expired", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredSessions removed %d, want 1", n)
	}
	_, err = s.FindVisit(ctx, w.ID, hash("new"))
	must(t, "unexpired kept", err)
}

func testTokens(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	tok := &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenPasswordReset, Hash: hash("reset"), Payload: "carried", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "create", s.CreateToken(ctx, w.ID, tok))
	if tok.ID == 0 {
		t.Fatal("CreateToken did not set ID")
	}

	found, err := s.FindToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset"), t0)
	must(t, "find", err)
	if found.UserID != u.ID || found.UsedAt != nil || !found.ExpiresAt.Equal(tok.ExpiresAt) || found.Payload != "carried" {
		t.Fatalf("found %+v", found)
	}
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenInvite, hash("reset"), t0)
	wantNotFound(t, "find with other kind", err)
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset"), t0.Add(time.Hour))
	wantNotFound(t, "find expired", err)
	_, err = s.ConsumeToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset"), t0.Add(time.Hour))
	wantNotFound(t, "consume expired", err)

	used, err := s.ConsumeToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset"), t0.Add(time.Minute))
	must(t, "consume", err)
	if used.UserID != u.ID || used.UsedAt == nil || !used.UsedAt.Equal(t0.Add(time.Minute)) || used.Payload != "carried" {
		t.Fatalf("consumed %+v", used)
	}
	_, err = s.ConsumeToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset"), t0.Add(2*time.Minute))
	wantNotFound(t, "consume twice", err)
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset"), t0.Add(2*time.Minute))
	wantNotFound(t, "find used", err)

	inv := &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenInvite, Hash: hash("inv"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "create invite", s.CreateToken(ctx, w.ID, inv))
	must(t, "delete reset tokens", s.DeleteUserTokens(ctx, w.ID, u.ID, gatehouse.TokenPasswordReset))
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenInvite, hash("inv"), t0)
	must(t, "invite kept after deleting reset tokens", err)
	must(t, "delete invite tokens", s.DeleteUserTokens(ctx, w.ID, u.ID, gatehouse.TokenInvite))
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenInvite, hash("inv"), t0)
	wantNotFound(t, "find deleted invite", err)
}

// testTokenRace spends one token from many goroutines: exactly one wins.
func testTokenRace(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	for round := range 5 {
		h := hash(fmt.Sprint("race", round))
		must(t, "create", s.CreateToken(ctx, w.ID, &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenInvite, Hash: h, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, losses := 0, 0
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				_, err := s.ConsumeToken(ctx, w.ID, gatehouse.TokenInvite, h, t0.Add(time.Second))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, gatehouse.ErrNotFound):
					losses++
				default:
					t.Errorf("consume: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 || losses != n-1 {
			t.Fatalf("round %d: %d wins and %d losses, want 1 and %d", round, wins, losses, n-1)
		}
	}
}

func testThrottles(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	th, err := s.FindThrottle(ctx, w.ID, "acct:ann")
	must(t, "find unknown", err)
	if th != (gatehouse.Throttle{}) {
		t.Fatalf("unknown key = %+v, want zero", th)
	}
	// Concurrent failures are all counted.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := s.AddFailure(ctx, w.ID, "acct:ann", t0, t0.Add(-time.Hour)); err != nil {
				t.Errorf("add failure: %v", err)
			}
		})
	}
	wg.Wait()
	th, err = s.AddFailure(ctx, w.ID, "acct:ann", t0.Add(time.Minute), t0.Add(-time.Hour))
	must(t, "add", err)
	if th.Failures != 11 || !th.LastFailureAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after 11 failures = %+v", th)
	}
	got, err := s.FindThrottle(ctx, w.ID, "acct:ann")
	must(t, "find", err)
	if got != th {
		t.Fatalf("find = %+v, want %+v", got, th)
	}
	// A failure after a long quiet spell starts the count again.
	th, err = s.AddFailure(ctx, w.ID, "acct:ann", t0.Add(3*time.Hour), t0.Add(2*time.Hour))
	must(t, "add after quiet spell", err)
	if th.Failures != 1 || !th.LastFailureAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("after a quiet spell = %+v, want 1 failure", th)
	}
	_, err = s.AddFailure(ctx, w.ID, "acct:ann", t0.Add(3*time.Hour+time.Second), t0.Add(2*time.Hour))
	must(t, "add", err)
	must(t, "reset", s.ResetThrottle(ctx, w.ID, "acct:ann"))
	got, err = s.FindThrottle(ctx, w.ID, "acct:ann")
	must(t, "find after reset", err)
	if got.Failures != 0 {
		t.Fatalf("after reset = %+v", got)
	}
}

func testOutbox(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	enqueue := func(to string, due time.Time) *gatehouse.Message {
		m := &gatehouse.Message{Channel: "email", To: to, Subject: "Hi " + to, Body: "Body", CreatedAt: t0, NextAttempt: due}
		must(t, "enqueue", s.EnqueueMessage(ctx, w.ID, m))
		if m.ID == 0 || m.Status != gatehouse.MessagePending {
			t.Fatalf("enqueued %+v", m)
		}
		return m
	}
	a := enqueue("a@example.com", t0)
	b := enqueue("b@example.com", t0.Add(time.Minute))

	ms, err := s.ClaimMessages(ctx, t0, t0.Add(2*time.Minute), 10)
	must(t, "claim", err)
	if len(ms) != 1 || ms[0].ID != a.ID || ms[0].To != "a@example.com" || ms[0].Subject != "Hi a@example.com" || ms[0].Body != "Body" {
		t.Fatalf("claimed %+v, want only a", ms)
	}
	// a is leased: a second sender finds nothing until the lease runs out.
	ms, err = s.ClaimMessages(ctx, t0.Add(30*time.Second), t0.Add(3*time.Minute), 10)
	must(t, "claim leased", err)
	if len(ms) != 0 {
		t.Fatalf("claimed a leased message: %+v", ms)
	}
	ms, err = s.ClaimMessages(ctx, t0.Add(2*time.Minute), t0.Add(4*time.Minute), 10)
	must(t, "claim after lease", err)
	if len(ms) != 2 || ms[0].ID != a.ID || ms[1].ID != b.ID {
		t.Fatalf("after the lease claimed %+v, want a and b", ms)
	}

	must(t, "sent", s.MarkMessageSent(ctx, a.ID, t0.Add(2*time.Minute)))
	must(t, "failed", s.MarkMessageFailed(ctx, b.ID, "451 try later", t0.Add(10*time.Minute), false))
	ms, err = s.ClaimMessages(ctx, t0.Add(5*time.Minute), t0.Add(6*time.Minute), 10)
	must(t, "claim before retry", err)
	if len(ms) != 0 {
		t.Fatalf("claimed %+v before the retry time", ms)
	}
	ms, err = s.ClaimMessages(ctx, t0.Add(10*time.Minute), t0.Add(11*time.Minute), 10)
	must(t, "claim retry", err)
	if len(ms) != 1 || ms[0].ID != b.ID || ms[0].Attempts != 1 || ms[0].LastError != "451 try later" {
		t.Fatalf("retry claimed %+v", ms)
	}
	must(t, "give up", s.MarkMessageFailed(ctx, b.ID, "550 no such user", t0.Add(time.Hour), true))
	ms, err = s.ClaimMessages(ctx, t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10)
	must(t, "claim after give up", err)
	if len(ms) != 0 {
		t.Fatalf("claimed %+v after give up and send", ms)
	}

	list, err := s.ListMessages(ctx, 10)
	must(t, "list", err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("list = %+v, want b then a", list)
	}
	if list[0].Status != gatehouse.MessageFailed || list[0].Attempts != 2 || list[0].LastError != "550 no such user" {
		t.Fatalf("failed message = %+v", list[0])
	}
	if list[1].Status != gatehouse.MessageSent || list[1].SentAt == nil || !list[1].SentAt.Equal(t0.Add(2*time.Minute)) || list[1].Attempts != 1 {
		t.Fatalf("sent message = %+v", list[1])
	}
	wantNotFound(t, "mark unknown sent", s.MarkMessageSent(ctx, b.ID+1000, t0))
	wantNotFound(t, "mark unknown failed", s.MarkMessageFailed(ctx, b.ID+1000, "x", t0, true))

	// Many concurrent claimers never get the same message twice.
	for i := range 20 {
		enqueue(fmt.Sprintf("c%d@example.com", i), t0)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			ms, err := s.ClaimMessages(ctx, t0.Add(3*time.Hour), t0.Add(4*time.Hour), 7)
			if err != nil {
				t.Errorf("claim: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range ms {
				seen[m.ID]++
			}
		})
	}
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("message %d claimed %d times", id, n)
		}
	}
	if len(seen) != 20 {
		t.Fatalf("claimed %d distinct messages, want 20", len(seen))
	}
}

// testTenancy proves that another workspace's ID finds nothing.
func testTenancy(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	a := MustCreateWorkspace(t, s, "alpha")
	b := MustCreateWorkspace(t, s, "beta")
	ua := MustCreateUser(t, s, a.ID, "same@example.com", gatehouse.RoleClient)
	ub := MustCreateUser(t, s, b.ID, "same@example.com", gatehouse.RoleClient) // same e-mail: a separate account
	if ua.ID == ub.ID {
		t.Fatal("same e-mail in two workspaces shares one user")
	}
	_, err := s.FindUserByID(ctx, b.ID, ua.ID)
	wantNotFound(t, "user by id across workspaces", err)
	found, err := s.FindUserByEmail(ctx, b.ID, "same@example.com")
	must(t, "find in b", err)
	if found.ID != ub.ID {
		t.Fatalf("found user %d in b, want %d", found.ID, ub.ID)
	}
	users, err := s.ListUsers(ctx, b.ID)
	must(t, "list b", err)
	if len(users) != 1 || users[0].ID != ub.ID {
		t.Fatalf("list b = %+v", users)
	}
	wantNotFound(t, "update across workspaces", s.UpdateUser(ctx, b.ID, ua))

	must(t, "session", s.CreateSession(ctx, a.ID, newSession(ua.ID, "a-token", t0)))
	_, err = s.FindVisit(ctx, b.ID, hash("a-token"))
	wantNotFound(t, "session across workspaces", err)
	n, err := s.DeleteUserSessions(ctx, b.ID, ua.ID, nil)
	must(t, "delete across", err)
	if n != 0 {
		t.Fatalf("deleted %d sessions across workspaces", n)
	}
	must(t, "delete session across", s.DeleteSession(ctx, b.ID, hash("a-token")))
	v, err := s.FindVisit(ctx, a.ID, hash("a-token"))
	must(t, "session survives", err)
	wantNotFound(t, "touch across workspaces", s.TouchSession(ctx, b.ID, v.Session.ID, t0))

	must(t, "token", s.CreateToken(ctx, a.ID, &gatehouse.Token{UserID: ua.ID, Kind: gatehouse.TokenInvite, Hash: hash("a-inv"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	_, err = s.FindToken(ctx, b.ID, gatehouse.TokenInvite, hash("a-inv"), t0)
	wantNotFound(t, "find token across", err)
	_, err = s.ConsumeToken(ctx, b.ID, gatehouse.TokenInvite, hash("a-inv"), t0)
	wantNotFound(t, "consume token across", err)
	must(t, "delete tokens across", s.DeleteUserTokens(ctx, b.ID, ua.ID, gatehouse.TokenInvite))
	_, err = s.ConsumeToken(ctx, a.ID, gatehouse.TokenInvite, hash("a-inv"), t0)
	must(t, "token survives", err)

	_, err = s.AddFailure(ctx, a.ID, "ip:1.2.3.4", t0, t0.Add(-time.Hour))
	must(t, "failure", err)
	th, err := s.FindThrottle(ctx, b.ID, "ip:1.2.3.4")
	must(t, "throttle across", err)
	if th.Failures != 0 {
		t.Fatalf("throttle leaked across workspaces: %+v", th)
	}
}
