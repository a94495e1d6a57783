// Package storetest is the conformance suite every Gatehouse store passes.
// Import it only from _test.go files:
//
//	func TestStore(t *testing.T) { storetest.Run(t, openTestDB) }
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// Store is what every Gatehouse database keeps: the core store and the
// two-factor port.
type Store interface {
	gatehouse.Store
	mfa.Store
}

// Opener returns a fresh, migrated, empty store and arranges its cleanup.
type Opener func(tb testing.TB) Store

// t0 is the fixed clock of the suite: stores must keep the times they are given.
var t0 = time.Date(2039, 11, 22, 12, 0, 0, 0, time.UTC)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Workspaces", testWorkspaces},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"VisitSMS", testVisitSMS},
		{"UserWrites", testUserWrites},
		{"InviteeRole", testInviteeRole},
		{"Tokens", testTokens},
		{"IssueTokenRace", testIssueTokenRace},
		{"AddMethod", testAddMethod},
		{"RemoveMethod", testRemoveMethod},
		{"RemoveKeepsOne", testRemoveKeepsOne},
		{"ChangePhone", testChangePhone},
		{"TokenRace", testTokenRace},
		{"Throttles", testThrottles},
		{"Limits", testLimits},
		{"LimitsRace", testLimitsRace},
		{"StaleCounters", testStaleCounters},
		{"Outbox", testOutbox},
		{"SessionMFA", testSessionMFA},
		{"Factors", testFactors},
		{"TOTPReplay", testTOTPReplay},
		{"RecoveryCodes", testRecoveryCodes},
		{"SendClock", testSendClock},
		{"ReopenSendGap", testReopenSendGap},
		{"Codes", testCodes},
		{"Devices", testDevices},
		{"UserMFA", testUserMFA},
		{"Audit", testAudit},
		{"AuditFilter", testAuditFilter},
		{"Tenancy", testTenancy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// MustCreateWorkspace creates a pro workspace with the slug and two-factor
// settings that differ from every default.
func MustCreateWorkspace(tb testing.TB, s gatehouse.Store, slug string) *gatehouse.Workspace {
	tb.Helper()
	w := &gatehouse.Workspace{Slug: slug, Name: "WS " + slug, Plan: gatehouse.PlanPro, RememberMeEnabled: true,
		MFA: gatehouse.MFASettings{
			Mode:              gatehouse.MFAOptional,
			Methods:           []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodSMS, gatehouse.MethodEmail},
			TrustedDeviceDays: 14,
			GraceDays:         3,
			ModeChangedAt:     t0,
		},
		CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateWorkspace(context.Background(), w); err != nil {
		tb.Fatalf("create workspace %s: %v", slug, err)
	}
	return w
}

// MustCreateUser creates a user with the e-mail and role in the workspace.
func MustCreateUser(tb testing.TB, s gatehouse.Store, wsID int64, email string, role gatehouse.Role) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{Email: email, Name: "N " + email, Role: role, PasswordHash: fakeHash, CreatedAt: t0, UpdatedAt: t0}
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

// equalWorkspace reports whether a and b are equal field by field, times
// included exactly; a nil and an empty list (of methods or countries) or
// auth token are equal.
func equalWorkspace(a, b *gatehouse.Workspace) bool {
	if !slices.Equal(a.MFA.Methods, b.MFA.Methods) || !slices.Equal(a.SMSGuard.Countries, b.SMSGuard.Countries) ||
		!bytes.Equal(a.Twilio.AuthToken, b.Twilio.AuthToken) {
		return false
	}
	ac, bc := *a, *b
	ac.MFA.Methods, bc.MFA.Methods = nil, nil
	ac.SMSGuard.Countries, bc.SMSGuard.Countries = nil, nil
	ac.Twilio.AuthToken, bc.Twilio.AuthToken = nil, nil
	return reflect.DeepEqual(ac, bc)
}

// sealedToken stands for an auth token sealed by package secret: opaque
// bytes, NUL and invalid UTF-8 included, that must come back unchanged.
var sealedToken = []byte{0x00, 0x01, 0xfe, 0xff, 'g', 'h', 0x00, 0x80, 0xc3, 0x28, 0x7f}

// newSMSWorkspace returns a workspace (not yet created) with a Twilio
// account and an SMS guard that differ from every default.
func newSMSWorkspace(slug string) *gatehouse.Workspace {
	return &gatehouse.Workspace{Slug: slug, Name: "WS " + slug, Plan: gatehouse.PlanUnlimited,
		MFA: gatehouse.MFASettings{
			Mode:              gatehouse.MFARequired,
			Methods:           []gatehouse.Method{gatehouse.MethodSMS},
			TrustedDeviceDays: 7,
			ModeChangedAt:     t0,
		},
		Twilio: gatehouse.TwilioAccount{
			AccountSID: "AC0123456789abcdef0123456789abcdef",
			AuthToken:  slices.Clone(sealedToken),
			From:       "+447700900123",
		},
		SMSGuard:  gatehouse.SMSGuard{Countries: []string{"GB", "IE"}, HourlyCap: 5, DailyCap: 50},
		CreatedAt: t0, UpdatedAt: t0}
}

// race runs fn from n goroutines at once and returns how many succeeded;
// every other call must fail with ErrNotFound.
func race(tb testing.TB, n int, fn func() error) int {
	tb.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			err := fn()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, gatehouse.ErrNotFound):
				tb.Errorf("racing call: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	return wins
}

func testWorkspaces(t *testing.T, s Store) {
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
	dup := gatehouse.NewWorkspace("acme", "Other", gatehouse.PlanStarter, t0)
	if err := s.CreateWorkspace(ctx, dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("duplicate slug: got %v, want ErrConflict", err)
	}
	got, err := s.FindWorkspaceBySlug(ctx, "acme")
	must(t, "find by slug", err)
	if !equalWorkspace(got, w) {
		t.Fatalf("find by slug = %+v, want %+v", got, w)
	}
	got, err = s.FindWorkspaceByID(ctx, w.ID)
	must(t, "find by id", err)
	if !equalWorkspace(got, w) {
		t.Fatalf("find by id = %+v, want %+v", got, w)
	}
	_, err = s.FindWorkspaceBySlug(ctx, "nope")
	wantNotFound(t, "find unknown slug", err)
	_, err = s.FindWorkspaceByID(ctx, w.ID+1000)
	wantNotFound(t, "find unknown id", err)

	w.Name, w.Plan, w.SignupEnabled, w.RememberMeEnabled = "Acme Ltd", gatehouse.PlanStarter, true, false
	w.MFA = gatehouse.MFASettings{
		Mode:              gatehouse.MFARequired,
		Methods:           []gatehouse.Method{gatehouse.MethodSMS, gatehouse.MethodEmail},
		TrustedDeviceDays: 0,
		GraceDays:         7,
		ModeChangedAt:     t0.Add(time.Hour),
	}
	w.UpdatedAt = t0.Add(time.Hour)
	upd := gatehouse.MFASettingsUpdate(w.MFA)
	upd.Name, upd.Plan, upd.SignupEnabled, upd.RememberMeEnabled = &w.Name, &w.Plan, &w.SignupEnabled, &w.RememberMeEnabled
	updated, err := s.UpdateWorkspace(ctx, w.ID, upd, t0.Add(time.Hour))
	must(t, "update", err)
	if !equalWorkspace(updated, w) {
		t.Fatalf("update returned %+v, want %+v", updated, w)
	}
	got, err = s.FindWorkspaceByID(ctx, w.ID)
	must(t, "find after update", err)
	if !equalWorkspace(got, w) {
		t.Fatalf("after update = %+v, want %+v", got, w)
	}
	pro := gatehouse.PlanPro
	_, err = s.UpdateWorkspace(ctx, w.ID+1000, gatehouse.WorkspaceUpdate{Plan: &pro}, t0)
	wantNotFound(t, "update unknown", err)
	bad := gatehouse.MFAMode("sometimes")
	if _, err := s.UpdateWorkspace(ctx, w.ID, gatehouse.WorkspaceUpdate{MFAMode: &bad}, t0); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("update with an unknown mode: got %v, want ErrInvalid", err)
	}

	// A workspace with the domain's defaults keeps them (the store adds
	// none of its own: defaults belong to gatehouse.NewWorkspace).
	plain := gatehouse.NewWorkspace("plain", "Plain", gatehouse.PlanStarter, t0.Add(time.Minute))
	must(t, "create with the defaults", s.CreateWorkspace(ctx, plain))
	got, err = s.FindWorkspaceBySlug(ctx, "plain")
	must(t, "find plain", err)
	if !equalWorkspace(got, plain) || !reflect.DeepEqual(got.SMSGuard, gatehouse.DefaultSMSGuard()) ||
		!reflect.DeepEqual(got.Twilio, gatehouse.TwilioAccount{}) {
		t.Fatalf("workspace with the defaults = %+v, want %+v", got, plain)
	}
	n, err = s.CountWorkspaces(ctx)
	must(t, "count", err)
	if n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}

	t.Run("SMS", func(t *testing.T) { testWorkspaceSMS(t, s) })
	t.Run("Update", func(t *testing.T) { testWorkspaceUpdate(t, s) })
	t.Run("Brand", func(t *testing.T) { testSetBrand(t, s) })
}

// testWorkspaceSMS checks that a workspace's Twilio account and SMS guard
// are kept.
func testWorkspaceSMS(t *testing.T, s Store) {
	ctx := context.Background()
	w := newSMSWorkspace("texts")
	must(t, "create", s.CreateWorkspace(ctx, w))
	if !bytes.Equal(w.Twilio.AuthToken, sealedToken) || !slices.Equal(w.SMSGuard.Countries, []string{"GB", "IE"}) ||
		w.SMSGuard.HourlyCap != 5 || w.SMSGuard.DailyCap != 50 {
		t.Fatalf("CreateWorkspace changed a given account or guard: %+v, %+v", w.Twilio, w.SMSGuard)
	}
	find := func(what string) *gatehouse.Workspace {
		t.Helper()
		byID, err := s.FindWorkspaceByID(ctx, w.ID)
		must(t, what+": find by id", err)
		bySlug, err := s.FindWorkspaceBySlug(ctx, w.Slug)
		must(t, what+": find by slug", err)
		if !equalWorkspace(byID, w) || !equalWorkspace(bySlug, w) {
			t.Fatalf("%s: found %+v by id and %+v by slug, want %+v", what, byID, bySlug, w)
		}
		return byID
	}
	got := find("created")
	if !bytes.Equal(got.Twilio.AuthToken, sealedToken) || !slices.Equal(got.SMSGuard.Countries, []string{"GB", "IE"}) {
		t.Fatalf("found token %x and countries %q, want %x and [GB IE]", got.Twilio.AuthToken, got.SMSGuard.Countries, sealedToken)
	}
	if !got.Twilio.Ready() {
		t.Fatal("a complete Twilio account does not read back as ready")
	}

	// The owner allows any country and switches to a messaging service.
	w.Twilio.From, w.Twilio.MessagingServiceSID = "", "MG0123456789abcdef0123456789abcdef"
	w.SMSGuard = gatehouse.SMSGuard{Countries: []string{}, HourlyCap: 1, DailyCap: 2}
	w.UpdatedAt = t0.Add(time.Hour)
	_, err := s.UpdateWorkspace(ctx, w.ID, gatehouse.WorkspaceUpdate{Twilio: &w.Twilio, SMSGuard: &w.SMSGuard}, w.UpdatedAt)
	must(t, "update", err)
	got = find("updated")
	if got.SMSGuard.Countries != nil {
		t.Fatalf("no countries read back as %#v, want nil", got.SMSGuard.Countries)
	}
	if !got.SMSGuard.AllowsCountry("US") {
		t.Fatal("a guard without countries refuses one")
	}

	// The account is removed; an unset token reads back as nil. Zero caps
	// on update are the owner's choice, not a missing guard.
	w.Twilio = gatehouse.TwilioAccount{AuthToken: []byte{}}
	w.SMSGuard = gatehouse.SMSGuard{Countries: []string{"FR"}}
	w.UpdatedAt = t0.Add(2 * time.Hour)
	_, err = s.UpdateWorkspace(ctx, w.ID, gatehouse.WorkspaceUpdate{Twilio: &w.Twilio, SMSGuard: &w.SMSGuard}, w.UpdatedAt)
	must(t, "remove account", err)
	got = find("account removed")
	if got.Twilio.AuthToken != nil || got.Twilio.Ready() {
		t.Fatalf("removed account read back as %#v", got.Twilio)
	}
	if got.SMSGuard.HourlyCap != 0 || got.SMSGuard.DailyCap != 0 || !slices.Equal(got.SMSGuard.Countries, []string{"FR"}) {
		t.Fatalf("guard after update = %+v, want FR with zero caps", got.SMSGuard)
	}
}

func testUsers(t *testing.T, s Store) {
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

	if got.EmailVerified {
		t.Fatal("a new user's e-mail is verified")
	}

	b := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleClient)
	b.Role, b.Disabled, b.UpdatedAt = gatehouse.RoleMember, true, t0.Add(time.Minute)
	must(t, "set role", s.SetUserRole(ctx, w.ID, b.ID, b.Role, b.UpdatedAt))
	must(t, "disable", s.SetUserDisabled(ctx, w.ID, b.ID, true, b.UpdatedAt, nil))
	c := &gatehouse.User{Email: "cat@example.com", Role: gatehouse.RoleClient, EmailVerified: true, CreatedAt: t0, UpdatedAt: t0}
	must(t, "create verified", s.CreateUser(ctx, w.ID, c))
	users, err := s.ListUsers(ctx, w.ID)
	must(t, "list", err)
	if len(users) != 3 || users[0] != *u || users[1] != *b || users[2] != *c {
		t.Fatalf("list = %+v, want [%+v %+v %+v]", users, *u, *b, *c)
	}
	got, err = s.FindUserByEmail(ctx, w.ID, "cat@example.com")
	must(t, "find verified", err)
	if *got != *c {
		t.Fatalf("find verified = %+v, want %+v", got, c)
	}
	wantNotFound(t, "set role of unknown", s.SetUserRole(ctx, w.ID, b.ID+1000, gatehouse.RoleClient, t0))
	wantNotFound(t, "disable unknown", s.SetUserDisabled(ctx, w.ID, b.ID+1000, true, t0, nil))
	wantNotFound(t, "set password of unknown", s.SetPassword(ctx, w.ID, b.ID+1000, "h", nil, t0, nil))
	wantNotFound(t, "rehash unknown", s.RehashPassword(ctx, w.ID, b.ID+1000, "", "h", t0))
}

// fakeHash is the password hash of the users MustCreateUser makes.
const fakeHash = "$argon2id$fake"

func newSession(userID int64, token string, now time.Time) *gatehouse.Session {
	return &gatehouse.Session{
		UserID: userID, TokenHash: hash(token), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleTimeout: time.Hour, UserAgent: "test-agent", IP: "127.0.0.1",
	}
}

func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	other := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleClient)

	s1 := newSession(u.ID, "one", t0)
	s1.Remember = true
	must(t, "create", s.CreateSession(ctx, w.ID, s1, fakeHash))
	if s1.ID == 0 || s1.WorkspaceID != w.ID {
		t.Fatalf("CreateSession set ID %d, WorkspaceID %d", s1.ID, s1.WorkspaceID)
	}
	v, err := s.FindVisit(ctx, w.ID, hash("one"))
	must(t, "find visit", err)
	// The session check never reads the password hash (SPEC §11), only
	// whether there is one.
	withheld := *u
	withheld.PasswordHash = gatehouse.PasswordWithheld
	if v.User != withheld || !equalWorkspace(&v.Workspace, w) {
		t.Fatalf("visit user/workspace = %+v / %+v", v.User, v.Workspace)
	}
	if v.Session.ID != s1.ID || !v.Session.Remember || v.Session.IdleTimeout != time.Hour ||
		!v.Session.ExpiresAt.Equal(s1.ExpiresAt) || !v.Session.LastSeenAt.Equal(t0) || v.Session.UserAgent != "test-agent" {
		t.Fatalf("visit session = %+v, want %+v", v.Session, s1)
	}
	_, err = s.FindVisit(ctx, w.ID, hash("unknown"))
	wantNotFound(t, "find unknown token", err)

	// A session is made only while its user has the password hash its
	// sign-in checked and is enabled (a change or disable since wins).
	wantNotFound(t, "create with a stale password hash", s.CreateSession(ctx, w.ID, newSession(u.ID, "stale", t0), "$argon2id$old"))
	wantNotFound(t, "create for another workspace's user", s.CreateSession(ctx, w.ID+1000, newSession(u.ID, "foreign", t0), fakeHash))
	gone := MustCreateUser(t, s, w.ID, "gone@example.com", gatehouse.RoleClient)
	must(t, "disable", s.SetUserDisabled(ctx, w.ID, gone.ID, true, t0, nil))
	wantNotFound(t, "create for a disabled user", s.CreateSession(ctx, w.ID, newSession(gone.ID, "gone", t0), fakeHash))
	for _, token := range []string{"stale", "foreign", "gone"} {
		_, err = s.FindVisit(ctx, w.ID, hash(token))
		wantNotFound(t, "find refused session "+token, err)
	}

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

	must(t, "create two", s.CreateSession(ctx, w.ID, newSession(u.ID, "two", t0), fakeHash))
	must(t, "create three", s.CreateSession(ctx, w.ID, newSession(u.ID, "three", t0), fakeHash))
	must(t, "create other", s.CreateSession(ctx, w.ID, newSession(other.ID, "other", t0), fakeHash))
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
	must(t, "create old", s.CreateSession(ctx, w.ID, old, fakeHash))
	must(t, "create new", s.CreateSession(ctx, w.ID, newSession(u.ID, "new", t0), fakeHash))
	n, err = s.DeleteExpiredSessions(ctx, t0)
	must(t, "delete expired", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredSessions removed %d, want 1", n)
	}
	_, err = s.FindVisit(ctx, w.ID, hash("new"))
	must(t, "unexpired kept", err)
}

// testVisitSMS checks that the workspace FindVisit joins in carries its
// Twilio account and SMS guard, and that an unset one reads as unset.
func testVisitSMS(t *testing.T, s Store) {
	ctx := context.Background()
	for _, w := range []*gatehouse.Workspace{newSMSWorkspace("texts"), MustCreateWorkspace(t, s, "plain")} {
		if w.ID == 0 {
			must(t, "create workspace", s.CreateWorkspace(ctx, w))
		}
		u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
		token := w.Slug + "-token"
		must(t, "create session", s.CreateSession(ctx, w.ID, newSession(u.ID, token, t0), fakeHash))
		v, err := s.FindVisit(ctx, w.ID, hash(token))
		must(t, "find visit", err)
		// The session check never reads the sealed token (SPEC §11), only
		// whether there is one.
		want := *w
		if w.Twilio.AuthToken != nil {
			want.Twilio.AuthToken = []byte(gatehouse.TokenWithheld)
		}
		if !equalWorkspace(&v.Workspace, &want) {
			t.Fatalf("visit workspace = %+v, want %+v", v.Workspace, want)
		}
		if (w.Twilio.AuthToken == nil) != (v.Workspace.Twilio.AuthToken == nil) || v.Workspace.Twilio.Ready() != w.Twilio.Ready() {
			t.Fatalf("visit auth token = %#v, want one only when %#v is set", v.Workspace.Twilio.AuthToken, w.Twilio.AuthToken)
		}
		// An update that carries the visit's account back (a settings
		// form with the token left blank) keeps the stored token.
		_, err = s.UpdateWorkspace(ctx, w.ID, gatehouse.WorkspaceUpdate{Twilio: &v.Workspace.Twilio}, t0)
		must(t, "update with the visit's account", err)
		got, err := s.FindWorkspaceByID(ctx, w.ID)
		must(t, "find workspace", err)
		if !bytes.Equal(got.Twilio.AuthToken, w.Twilio.AuthToken) {
			t.Fatalf("after an update with the withheld token, token = %#v, want %#v", got.Twilio.AuthToken, w.Twilio.AuthToken)
		}
		if !slices.Equal(v.Workspace.SMSGuard.Countries, w.SMSGuard.Countries) || (w.SMSGuard.Countries == nil) != (v.Workspace.SMSGuard.Countries == nil) {
			t.Fatalf("visit countries = %#v, want %#v", v.Workspace.SMSGuard.Countries, w.SMSGuard.Countries)
		}
	}
}

func testTokens(t *testing.T, s Store) {
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

	// Issuing a link voids the user's older links of its kind, and only those.
	inv := &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenInvite, Hash: hash("inv"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "create invite", s.CreateToken(ctx, w.ID, inv))
	must(t, "create reset", s.CreateToken(ctx, w.ID, &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenPasswordReset, Hash: hash("reset2"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	reset3 := &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenPasswordReset, Hash: hash("reset3"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, "issue reset", s.IssueToken(ctx, w.ID, reset3))
	if reset3.ID == 0 {
		t.Fatal("IssueToken did not set ID")
	}
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset2"), t0)
	wantNotFound(t, "older reset link after a new one", err)
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset3"), t0)
	must(t, "new reset link", err)
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenInvite, hash("inv"), t0)
	must(t, "invite kept after issuing a reset link", err)
	must(t, "issue invite", s.IssueToken(ctx, w.ID, &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenInvite, Hash: hash("inv2"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	_, err = s.FindToken(ctx, w.ID, gatehouse.TokenInvite, hash("inv"), t0)
	wantNotFound(t, "find voided invite", err)
}

// testTokenRace spends one token from many goroutines: exactly one wins.
func testTokenRace(t *testing.T, s Store) {
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

func testThrottles(t *testing.T, s Store) {
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

	// ListThrottles takes its prefix literally: LIKE's wildcards and escape
	// character in it match only themselves, and case counts.
	keys := []string{"mfa:totp:1", "mfa:sms:2", "MFA:upper", "mfa_x:3", "mfaqx:4", "50%off", "500", `a\b:5`, "ab:6", "ip:192.0.2.1"}
	all := make(map[string]gatehouse.Throttle)
	for i, k := range keys {
		th, err := s.AddFailure(ctx, w.ID, k, t0.Add(time.Duration(i)*time.Second), t0.Add(-time.Hour))
		must(t, "add "+k, err)
		all[k] = th
	}
	for _, tt := range []struct {
		name, prefix string
		want         []string
	}{
		{"prefix", "mfa:", []string{"mfa:totp:1", "mfa:sms:2"}},
		{"underscore", "mfa_", []string{"mfa_x:3"}},
		{"percent", "50%", []string{"50%off"}},
		{"backslash", `a\b`, []string{`a\b:5`}},
		{"whole key", "ip:192.0.2.1", []string{"ip:192.0.2.1"}},
		{"no match", "zz", nil},
		{"empty prefix", "", keys}, // acct:ann was reset
	} {
		t.Run("ListThrottles "+tt.name, func(t *testing.T) {
			want := make(map[string]gatehouse.Throttle)
			for _, k := range tt.want {
				want[k] = all[k]
			}
			got, err := s.ListThrottles(ctx, w.ID, tt.prefix)
			must(t, "list", err)
			if !maps.Equal(got, want) {
				t.Fatalf("ListThrottles(%q) = %+v, want %+v", tt.prefix, got, want)
			}
		})
	}
}

func testOutbox(t *testing.T, s Store) {
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
	for _, m := range []*gatehouse.Message{a, b} {
		got, err := s.FindMessage(ctx, m.ID)
		must(t, "find enqueued", err)
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("FindMessage(%d) = %+v, want %+v", m.ID, got, m)
		}
	}

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
	for _, m := range list {
		got, err := s.FindMessage(ctx, m.ID)
		must(t, "find marked", err)
		if !reflect.DeepEqual(*got, m) {
			t.Fatalf("FindMessage(%d) = %+v, want %+v", m.ID, got, m)
		}
	}
	_, err = s.FindMessage(ctx, b.ID+1000)
	wantNotFound(t, "find unknown message", err)
	wantNotFound(t, "mark unknown sent", s.MarkMessageSent(ctx, b.ID+1000, t0))
	wantNotFound(t, "mark unknown failed", s.MarkMessageFailed(ctx, b.ID+1000, "x", t0, true))

	// ScrubMessage blanks the subject and body and keeps everything else.
	for _, m := range list {
		must(t, "scrub", s.ScrubMessage(ctx, m.ID))
		got, err := s.FindMessage(ctx, m.ID)
		must(t, "find scrubbed", err)
		want := m
		want.Subject, want.Body = "", ""
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("scrubbed message = %+v, want %+v", got, want)
		}
	}
	must(t, "scrub twice", s.ScrubMessage(ctx, a.ID))
	wantNotFound(t, "scrub unknown message", s.ScrubMessage(ctx, b.ID+1000))
	ms, err = s.ClaimMessages(ctx, t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10)
	must(t, "claim after scrub", err)
	if len(ms) != 0 {
		t.Fatalf("claimed %+v after scrubbing", ms)
	}

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

	t.Run("CountMessages", func(t *testing.T) { testCountMessages(t, s) })
}

// testCountMessages checks the count behind the SMS caps: per workspace and
// channel, from since inclusive, whatever the messages' status.
func testCountMessages(t *testing.T, s Store) {
	ctx := context.Background()
	wa := MustCreateWorkspace(t, s, "count-a")
	wb := MustCreateWorkspace(t, s, "count-b")
	enqueue := func(wsID int64, channel string, created time.Time) *gatehouse.Message {
		m := &gatehouse.Message{Channel: channel, To: "+447700900123", Subject: "", Body: "Your code is 123456",
			CreatedAt: created, NextAttempt: created}
		must(t, "enqueue", s.EnqueueMessage(ctx, wsID, m))
		return m
	}
	enqueue(wa.ID, "sms", t0.Add(-25*time.Hour))
	enqueue(wa.ID, "sms", t0.Add(-2*time.Hour))
	sent := enqueue(wa.ID, "sms", t0.Add(-time.Hour))
	failed := enqueue(wa.ID, "sms", t0.Add(-30*time.Minute))
	enqueue(wa.ID, "sms", t0)
	enqueue(wa.ID, "email", t0.Add(-30*time.Minute))
	enqueue(wa.ID, "email", t0)
	enqueue(wb.ID, "sms", t0.Add(-30*time.Minute))
	must(t, "sent", s.MarkMessageSent(ctx, sent.ID, t0))
	must(t, "failed", s.MarkMessageFailed(ctx, failed.ID, "21610 unsubscribed", t0, true))

	tests := []struct {
		name    string
		wsID    int64
		channel string
		since   time.Time
		want    int
	}{
		{"last hour, from since inclusive", wa.ID, "sms", t0.Add(-time.Hour), 3},
		{"just after since", wa.ID, "sms", t0.Add(-time.Hour + time.Microsecond), 2},
		{"last day", wa.ID, "sms", t0.Add(-24 * time.Hour), 4},
		{"everything", wa.ID, "sms", t0.Add(-48 * time.Hour), 5},
		{"only the newest", wa.ID, "sms", t0, 1},
		{"after the newest", wa.ID, "sms", t0.Add(time.Microsecond), 0},
		{"the other channel", wa.ID, "email", t0.Add(-time.Hour), 2},
		{"an unknown channel", wa.ID, "push", t0.Add(-48 * time.Hour), 0},
		{"the other workspace", wb.ID, "sms", t0.Add(-time.Hour), 1},
		{"the other workspace's e-mail", wb.ID, "email", t0.Add(-time.Hour), 0},
		{"an unknown workspace", wb.ID + 1000, "sms", t0.Add(-48 * time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.CountMessages(ctx, tt.wsID, tt.channel, tt.since)
			must(t, "count", err)
			if n != tt.want {
				t.Fatalf("CountMessages(%d, %q, %v) = %d, want %d", tt.wsID, tt.channel, tt.since, n, tt.want)
			}
		})
	}
}

func testSessionMFA(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)

	// A pending login through a password reset (which proved the mailbox),
	// with failures carried over.
	p := newSession(u.ID, "pending", t0)
	proven := t0.Add(-time.Second)
	p.ReauthAt, p.MFAFailures, p.AfterReset, p.Next, p.MailboxProvenAt = t0, 2, true, "/invoices/7", &proven
	must(t, "create pending", s.CreateSession(ctx, w.ID, p, fakeHash))
	v, err := s.FindVisit(ctx, w.ID, hash("pending"))
	must(t, "find pending", err)
	if got := v.Session; got.MFAVerifiedAt != nil || !got.ReauthAt.Equal(t0) || got.MFAFailures != 2 || !got.AfterReset || got.Next != "/invoices/7" ||
		!equalTimePtr(got.MailboxProvenAt, &proven) || got.EnrollSkippedAt != nil {
		t.Fatalf("pending session = %+v, want %+v", got, p)
	}
	if len(v.Methods) != 0 {
		t.Fatalf("Methods of a user without factors = %v", v.Methods)
	}

	// A session created with every MFA field zero reads back zero.
	fresh := newSession(u.ID, "fresh", t0)
	must(t, "create fresh", s.CreateSession(ctx, w.ID, fresh, fakeHash))
	v, err = s.FindVisit(ctx, w.ID, hash("fresh"))
	must(t, "find fresh", err)
	if got := v.Session; got.MFAVerifiedAt != nil || !got.ReauthAt.IsZero() || got.MFAFailures != 0 || got.AfterReset || got.Next != "" ||
		got.MailboxProvenAt != nil || got.EnrollSkippedAt != nil {
		t.Fatalf("fresh session = %+v, want zero MFA fields", got)
	}
	for want := 1; want <= 3; want++ {
		n, err := s.AddSessionFailure(ctx, w.ID, fresh.ID)
		must(t, "add failure", err)
		if n != want {
			t.Fatalf("AddSessionFailure = %d, want %d", n, want)
		}
	}
	// Concurrent wrong codes are all counted.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.AddSessionFailure(ctx, w.ID, fresh.ID); err != nil {
				t.Errorf("add failure: %v", err)
			}
		})
	}
	wg.Wait()
	n, err := s.AddSessionFailure(ctx, w.ID, fresh.ID)
	must(t, "add failure", err)
	if n != 12 {
		t.Fatalf("after 3 + 8 + 1 failures the count is %d", n)
	}
	_, err = s.AddSessionFailure(ctx, w.ID, fresh.ID+1000)
	wantNotFound(t, "add failure to unknown session", err)

	// MarkSession sets the marks it names and nothing else: the failure
	// count, Next, the other marks, and a mark another request made
	// meanwhile all stay.
	verified, reproven := t0.Add(time.Minute), t0.Add(30*time.Second)
	must(t, "mark verified", s.MarkSession(ctx, w.ID, p.ID, gatehouse.SessionMarks{MFAVerifiedAt: &verified, ReauthAt: &verified}))
	must(t, "mark mailbox", s.MarkSession(ctx, w.ID, p.ID, gatehouse.SessionMarks{MailboxProvenAt: &reproven}))
	must(t, "mark nothing", s.MarkSession(ctx, w.ID, p.ID, gatehouse.SessionMarks{}))
	v, err = s.FindVisit(ctx, w.ID, hash("pending"))
	must(t, "find after marks", err)
	if got := v.Session; got.MFAVerifiedAt == nil || !got.MFAVerifiedAt.Equal(verified) || !got.ReauthAt.Equal(verified) ||
		got.Next != "/invoices/7" || got.MFAFailures != 2 || !got.AfterReset ||
		!equalTimePtr(got.MailboxProvenAt, &reproven) || got.EnrollSkippedAt != nil {
		t.Fatalf("after marks = %+v", got)
	}
	wantNotFound(t, "mark unknown", s.MarkSession(ctx, w.ID, p.ID+1000, gatehouse.SessionMarks{ReauthAt: &verified}))
}

// equalTimePtr reports whether a and b are both nil or the same instant,
// kept exactly and in UTC.
func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b) && a.Location() == time.UTC
}

func testFactors(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	o := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleMember)
	must(t, "session", s.CreateSession(ctx, w.ID, newSession(u.ID, "ann", t0), fakeHash))
	methods := func() []gatehouse.Method {
		t.Helper()
		v, err := s.FindVisit(ctx, w.ID, hash("ann"))
		must(t, "find visit", err)
		return v.Methods
	}

	fs, err := s.FindFactors(ctx, w.ID, u.ID)
	must(t, "find none", err)
	if len(fs) != 0 {
		t.Fatalf("factors of a new user = %+v", fs)
	}

	totp := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Secret: []byte("sealed-1"), CreatedAt: t0}
	must(t, "save pending totp", s.SaveFactor(ctx, w.ID, totp))
	if totp.ID == 0 || totp.WorkspaceID != w.ID {
		t.Fatalf("SaveFactor set ID %d, WorkspaceID %d", totp.ID, totp.WorkspaceID)
	}
	// Enrolling again replaces the pending factor.
	again := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Secret: []byte("sealed-2"), LastStep: 5, CreatedAt: t0.Add(time.Minute)}
	must(t, "save totp again", s.SaveFactor(ctx, w.ID, again))
	fs, err = s.FindFactors(ctx, w.ID, u.ID)
	must(t, "find replaced", err)
	if len(fs) != 1 || !reflect.DeepEqual(fs[0], *again) {
		t.Fatalf("after a second save = %+v, want [%+v]", fs, *again)
	}

	confirmed := t0.Add(2 * time.Minute)
	email := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: t0, ConfirmedAt: &confirmed}
	must(t, "save active email", s.SaveFactor(ctx, w.ID, email))
	sms := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodSMS, Phone: "+15551234567", CreatedAt: t0}
	must(t, "save pending sms", s.SaveFactor(ctx, w.ID, sms))
	must(t, "save other user's totp", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: o.ID, Method: gatehouse.MethodTOTP,
		Secret: []byte("other"), Active: true, CreatedAt: t0, ConfirmedAt: &confirmed}))
	wantNotFound(t, "save for unknown user", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: o.ID + 1000, Method: gatehouse.MethodEmail, CreatedAt: t0}))

	fs, err = s.FindFactors(ctx, w.ID, u.ID)
	must(t, "find three", err)
	if len(fs) != 3 || fs[0].Method != gatehouse.MethodTOTP || fs[1].Method != gatehouse.MethodSMS || fs[2].Method != gatehouse.MethodEmail {
		t.Fatalf("factors = %+v, want totp, sms, email", fs)
	}
	if fs[1].ID != sms.ID || fs[1].UserID != u.ID || fs[1].WorkspaceID != w.ID || fs[1].Phone != "+15551234567" || fs[1].Active ||
		len(fs[1].Secret) != 0 || fs[1].ConfirmedAt != nil || !fs[1].CreatedAt.Equal(t0) {
		t.Fatalf("sms factor = %+v, want %+v", fs[1], *sms)
	}
	if !fs[2].Active || fs[2].ConfirmedAt == nil || !fs[2].ConfirmedAt.Equal(confirmed) {
		t.Fatalf("email factor = %+v, want %+v", fs[2], *email)
	}
	// Only active factors count, strongest first.
	if got := methods(); !slices.Equal(got, []gatehouse.Method{gatehouse.MethodEmail}) {
		t.Fatalf("Visit.Methods = %v, want [email]", got)
	}

	activated := t0.Add(3 * time.Minute)
	// Activation names the factor as it was read: a changed number or
	// secret, another user's factor or an active one is not activated.
	changed := fs[1]
	changed.Phone = "+15557654321"
	wantNotFound(t, "activate another number", activate(s, w.ID, &changed, activated))
	changed = fs[0]
	changed.Secret = []byte("sealed-1")
	wantNotFound(t, "activate another secret", activate(s, w.ID, &changed, activated))
	changed = fs[1]
	changed.UserID = o.ID
	wantNotFound(t, "activate as another user", activate(s, w.ID, &changed, activated))
	wantNotFound(t, "activate an active factor", activate(s, w.ID, &fs[2], activated))
	if got := methods(); !slices.Equal(got, []gatehouse.Method{gatehouse.MethodEmail}) {
		t.Fatalf("Visit.Methods after refused activations = %v, want [email]", got)
	}
	must(t, "activate totp", activate(s, w.ID, &fs[0], activated))
	fs, err = s.FindFactors(ctx, w.ID, u.ID)
	must(t, "find after activate", err)
	if !fs[0].Active || fs[0].ConfirmedAt == nil || !fs[0].ConfirmedAt.Equal(activated) || string(fs[0].Secret) != "sealed-2" || fs[0].LastStep != 5 {
		t.Fatalf("activated totp = %+v", fs[0])
	}
	must(t, "activate sms", activate(s, w.ID, &fs[1], activated))
	if want := []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodSMS, gatehouse.MethodEmail}; !slices.Equal(methods(), want) {
		t.Fatalf("Visit.Methods = %v, want %v", methods(), want)
	}
	wantNotFound(t, "activate again", activate(s, w.ID, &fs[1], activated))

	must(t, "remove sms", s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodSMS, nil, hash("ann"), nil))
	wantNotFound(t, "remove missing", s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodSMS, nil, hash("ann"), nil))
	fs, err = s.FindFactors(ctx, w.ID, u.ID)
	must(t, "find after delete", err)
	if len(fs) != 2 || fs[0].Method != gatehouse.MethodTOTP || fs[1].Method != gatehouse.MethodEmail {
		t.Fatalf("after deleting sms = %+v", fs)
	}
	if got := methods(); !slices.Equal(got, []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}) {
		t.Fatalf("Visit.Methods = %v, want [totp email]", got)
	}

	// An admin reset removes every factor and recovery code of the user, and
	// nobody else's.
	must(t, "recovery codes", s.ReplaceRecoveryCodes(ctx, w.ID, u.ID, [][]byte{hash("r1"), hash("r2")}, t0))
	must(t, "other's recovery codes", s.ReplaceRecoveryCodes(ctx, w.ID, o.ID, [][]byte{hash("r1")}, t0))
	must(t, "reset", s.ResetMFA(ctx, w.ID, u.ID, "mfa:reset", nil))
	if _, err := s.FindVisit(ctx, w.ID, hash("ann")); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("a session survived the reset: %v", err)
	}
	must(t, "sign in again", s.CreateSession(ctx, w.ID, newSession(u.ID, "ann", t0), fakeHash))
	fs, err = s.FindFactors(ctx, w.ID, u.ID)
	must(t, "find after reset", err)
	if len(fs) != 0 {
		t.Fatalf("after reset = %+v", fs)
	}
	if n, err := s.CountRecoveryCodes(ctx, w.ID, u.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes after reset = %d, %v; want 0", n, err)
	}
	if got := methods(); len(got) != 0 {
		t.Fatalf("Visit.Methods after reset = %v", got)
	}
	if fs, err := s.FindFactors(ctx, w.ID, o.ID); err != nil || len(fs) != 1 {
		t.Fatalf("other user's factors = %+v, %v; want one", fs, err)
	}
	if n, err := s.CountRecoveryCodes(ctx, w.ID, o.ID); err != nil || n != 1 {
		t.Fatalf("other user's recovery codes = %d, %v; want 1", n, err)
	}
}

func testTOTPReplay(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	o := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleMember)
	must(t, "save", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Secret: []byte("s"),
		Active: true, CreatedAt: t0}))
	must(t, "save other's email", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: o.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: t0}))

	const step = 59_000_000
	must(t, "first step", s.UseTOTPStep(ctx, w.ID, u.ID, step))
	wantNotFound(t, "same step again", s.UseTOTPStep(ctx, w.ID, u.ID, step))
	wantNotFound(t, "earlier step", s.UseTOTPStep(ctx, w.ID, u.ID, step-1))
	must(t, "next step", s.UseTOTPStep(ctx, w.ID, u.ID, step+1))
	fs, err := s.FindFactors(ctx, w.ID, u.ID)
	must(t, "find", err)
	if fs[0].LastStep != step+1 {
		t.Fatalf("LastStep = %d, want %d", fs[0].LastStep, step+1)
	}
	wantNotFound(t, "user without TOTP", s.UseTOTPStep(ctx, w.ID, o.ID, step))

	for round := range 5 {
		st := int64(step + 10 + round)
		if wins := race(t, 8, func() error { return s.UseTOTPStep(ctx, w.ID, u.ID, st) }); wins != 1 {
			t.Fatalf("round %d: step %d accepted %d times, want once", round, st, wins)
		}
	}
}

func testRecoveryCodes(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	o := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleMember)
	macs := func(set string) [][]byte {
		var ms [][]byte
		for i := range 8 {
			ms = append(ms, hash(fmt.Sprint(set, i)))
		}
		return ms
	}
	old := macs("old")
	must(t, "replace", s.ReplaceRecoveryCodes(ctx, w.ID, u.ID, old, t0))
	must(t, "replace other's", s.ReplaceRecoveryCodes(ctx, w.ID, o.ID, macs("other"), t0))
	if n, err := s.CountRecoveryCodes(ctx, w.ID, u.ID); err != nil || n != 8 {
		t.Fatalf("count = %d, %v; want 8", n, err)
	}

	must(t, "consume", s.ConsumeRecoveryCode(ctx, w.ID, u.ID, old[0], t0.Add(time.Minute)))
	wantNotFound(t, "consume twice", s.ConsumeRecoveryCode(ctx, w.ID, u.ID, old[0], t0.Add(2*time.Minute)))
	wantNotFound(t, "consume unknown", s.ConsumeRecoveryCode(ctx, w.ID, u.ID, hash("nope"), t0))
	wantNotFound(t, "consume another user's", s.ConsumeRecoveryCode(ctx, w.ID, u.ID, macs("other")[0], t0))
	for _, c := range []struct {
		name string
		mac  []byte
		want bool
	}{
		{"used", old[0], true},
		{"unused", old[1], false},
		{"unknown", hash("nope"), false},
	} {
		used, err := s.IsRecoveryCodeUsed(ctx, w.ID, u.ID, c.mac)
		must(t, "is used "+c.name, err)
		if used != c.want {
			t.Fatalf("IsRecoveryCodeUsed(%s) = %v, want %v", c.name, used, c.want)
		}
	}
	if n, err := s.CountRecoveryCodes(ctx, w.ID, u.ID); err != nil || n != 7 {
		t.Fatalf("count after a use = %d, %v; want 7", n, err)
	}

	// New codes void the old ones.
	fresh := macs("new")
	must(t, "replace again", s.ReplaceRecoveryCodes(ctx, w.ID, u.ID, fresh, t0.Add(time.Hour)))
	if n, err := s.CountRecoveryCodes(ctx, w.ID, u.ID); err != nil || n != 8 {
		t.Fatalf("count after replace = %d, %v; want 8", n, err)
	}
	wantNotFound(t, "consume a voided code", s.ConsumeRecoveryCode(ctx, w.ID, u.ID, old[1], t0.Add(time.Hour)))
	if n, err := s.CountRecoveryCodes(ctx, w.ID, o.ID); err != nil || n != 8 {
		t.Fatalf("other user's count = %d, %v; want 8", n, err)
	}

	if wins := race(t, 8, func() error { return s.ConsumeRecoveryCode(ctx, w.ID, u.ID, fresh[0], t0.Add(2*time.Hour)) }); wins != 1 {
		t.Fatalf("one recovery code spent %d times, want once", wins)
	}
	if n, err := s.CountRecoveryCodes(ctx, w.ID, u.ID); err != nil || n != 7 {
		t.Fatalf("count after the race = %d, %v; want 7", n, err)
	}
	wantNotFound(t, "replace for unknown user", s.ReplaceRecoveryCodes(ctx, w.ID, o.ID+1000, fresh, t0))
}

// testReopenSendGap: a used code lets the next one go out at once; the
// clock only ever moves back, and the daily window is untouched.
func testReopenSendGap(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	other := MustCreateWorkspace(t, s, "beta")
	reserve := func(now time.Time) (bool, mfa.SendClock) {
		t.Helper()
		ok, c, err := s.ReserveSend(ctx, w.ID, u.ID, gatehouse.MethodEmail, now, now.Add(-time.Minute), now.Add(-time.Hour), 10)
		must(t, "reserve", err)
		return ok, c
	}
	must(t, "reopen with no clock", s.ReopenSendGap(ctx, w.ID, u.ID, gatehouse.MethodEmail, t0))
	if ok, _ := reserve(t0); !ok {
		t.Fatal("first send refused")
	}
	now := t0.Add(10 * time.Second)
	if ok, _ := reserve(now); ok {
		t.Fatal("second send within the gap granted")
	}
	// Another workspace's ID and another channel reopen nothing.
	must(t, "reopen across workspaces", s.ReopenSendGap(ctx, other.ID, u.ID, gatehouse.MethodEmail, now.Add(-time.Minute)))
	must(t, "reopen another channel", s.ReopenSendGap(ctx, w.ID, u.ID, gatehouse.MethodSMS, now.Add(-time.Minute)))
	if ok, _ := reserve(now); ok {
		t.Fatal("reopening elsewhere opened this clock")
	}
	find := func(ws int64, ch gatehouse.Method) mfa.SendClock {
		t.Helper()
		c, err := s.FindSendClock(ctx, ws, u.ID, ch)
		must(t, "find send clock", err)
		return c
	}
	if c := find(w.ID, gatehouse.MethodEmail); !c.LastSentAt.Equal(t0) || !c.WindowStart.Equal(t0) || c.WindowCount != 1 {
		t.Fatalf("FindSendClock = %+v; want the first send at t0", c)
	}
	if c := find(w.ID, gatehouse.MethodSMS); c != (mfa.SendClock{}) {
		t.Fatalf("FindSendClock of an unused channel = %+v; want zero", c)
	}
	if c := find(other.ID, gatehouse.MethodEmail); c != (mfa.SendClock{}) {
		t.Fatalf("FindSendClock across workspaces = %+v; want zero", c)
	}
	must(t, "reopen", s.ReopenSendGap(ctx, w.ID, u.ID, gatehouse.MethodEmail, now.Add(-time.Minute)))
	if c := find(w.ID, gatehouse.MethodEmail); !c.LastSentAt.Equal(now.Add(-time.Minute)) {
		t.Fatalf("FindSendClock after reopening = %+v; want the last send moved to %v", c, now.Add(-time.Minute))
	}
	ok, c := reserve(now)
	if !ok || c.WindowCount != 2 || !c.WindowStart.Equal(t0) {
		t.Fatalf("after reopening: granted %v, clock %+v; want granted, window from t0 with 2 sends", ok, c)
	}
	// Reopening never moves the clock forward.
	must(t, "reopen to the future", s.ReopenSendGap(ctx, w.ID, u.ID, gatehouse.MethodEmail, now.Add(time.Hour)))
	if ok, c := reserve(now.Add(time.Minute)); !ok || !c.LastSentAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("a reopen to the future moved the clock: %v %+v", ok, c)
	}
}

func testSendClock(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	const (
		gap       = time.Minute
		window    = time.Hour
		perWindow = 3
	)
	reserve := func(userID int64, ch gatehouse.Method, now time.Time) (bool, mfa.SendClock) {
		t.Helper()
		ok, c, err := s.ReserveSend(ctx, w.ID, userID, ch, now, now.Add(-gap), now.Add(-window), perWindow)
		must(t, "reserve", err)
		return ok, c
	}
	tests := []struct {
		name  string
		now   time.Time
		want  bool
		clock mfa.SendClock
	}{
		{"first send", t0, true, mfa.SendClock{LastSentAt: t0, WindowStart: t0, WindowCount: 1}},
		{"within the gap", t0.Add(30 * time.Second), false, mfa.SendClock{LastSentAt: t0, WindowStart: t0, WindowCount: 1}},
		{"gap passed", t0.Add(gap), true, mfa.SendClock{LastSentAt: t0.Add(gap), WindowStart: t0, WindowCount: 2}},
		{"third in window", t0.Add(5 * gap), true, mfa.SendClock{LastSentAt: t0.Add(5 * gap), WindowStart: t0, WindowCount: 3}},
		{"window full", t0.Add(10 * gap), false, mfa.SendClock{LastSentAt: t0.Add(5 * gap), WindowStart: t0, WindowCount: 3}},
		{"window full, later", t0.Add(window - time.Second), false, mfa.SendClock{LastSentAt: t0.Add(5 * gap), WindowStart: t0, WindowCount: 3}},
		{"window over", t0.Add(window), true, mfa.SendClock{LastSentAt: t0.Add(window), WindowStart: t0.Add(window), WindowCount: 1}},
		{"new window, within the gap", t0.Add(window + time.Second), false, mfa.SendClock{LastSentAt: t0.Add(window), WindowStart: t0.Add(window), WindowCount: 1}},
	}
	for _, tt := range tests {
		ok, c := reserve(u.ID, gatehouse.MethodEmail, tt.now)
		if ok != tt.want || c != tt.clock {
			t.Fatalf("%s: ReserveSend = %v, %+v; want %v, %+v", tt.name, ok, c, tt.want, tt.clock)
		}
	}
	// Each channel and each user has a clock of its own.
	if ok, c := reserve(u.ID, gatehouse.MethodSMS, t0.Add(window+time.Second)); !ok || c.WindowCount != 1 {
		t.Fatalf("first SMS: %v, %+v; want granted", ok, c)
	}
	o := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleMember)
	if ok, _ := reserve(o.ID, gatehouse.MethodEmail, t0.Add(window+time.Second)); !ok {
		t.Fatal("another user's first send refused")
	}

	// Many requests at once: exactly one send goes out.
	r := MustCreateUser(t, s, w.ID, "race@example.com", gatehouse.RoleMember)
	for round := range 3 {
		now := t0.Add(time.Duration(round) * gap)
		wins := race(t, 8, func() error {
			ok, _, err := s.ReserveSend(ctx, w.ID, r.ID, gatehouse.MethodEmail, now, now.Add(-gap), now.Add(-window), 10)
			if err == nil && !ok {
				return gatehouse.ErrNotFound
			}
			return err
		})
		if wins != 1 {
			t.Fatalf("round %d: %d sends granted at once, want 1", round, wins)
		}
	}
	if ok, c := reserve(r.ID, gatehouse.MethodEmail, t0.Add(2*gap+time.Second)); ok || c.WindowCount != 3 {
		t.Fatalf("after the races: %v, %+v; want refused with 3 sends", ok, c)
	}
}

func testCodes(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	sess := newSession(u.ID, "pending", t0)
	must(t, "session", s.CreateSession(ctx, w.ID, sess, fakeHash))
	other := newSession(u.ID, "other", t0)
	must(t, "other session", s.CreateSession(ctx, w.ID, other, fakeHash))

	_, err := s.FindLatestCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail)
	wantNotFound(t, "latest of none", err)

	newCode := func(code string, at time.Time) *mfa.Code {
		t.Helper()
		c := &mfa.Code{UserID: u.ID, SessionID: sess.ID, Channel: gatehouse.MethodEmail, MAC: hash(code),
			Destination: "ann@example.com", CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
		must(t, "create code", s.CreateCode(ctx, w.ID, c))
		if c.ID == 0 || c.WorkspaceID != w.ID {
			t.Fatalf("CreateCode set ID %d, WorkspaceID %d", c.ID, c.WorkspaceID)
		}
		return c
	}
	c1 := newCode("111111", t0)
	c2 := newCode("222222", t0.Add(time.Minute))
	c3 := newCode("333333", t0.Add(time.Minute)) // same time: the later ID is newer
	latest, err := s.FindLatestCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail)
	must(t, "latest", err)
	if !reflect.DeepEqual(latest, c3) {
		t.Fatalf("latest = %+v, want %+v", latest, c3)
	}
	_, err = s.FindLatestCode(ctx, w.ID, sess.ID, gatehouse.MethodSMS)
	wantNotFound(t, "latest on another channel", err)
	_, err = s.FindLatestCode(ctx, w.ID, other.ID, gatehouse.MethodEmail)
	wantNotFound(t, "latest of another session", err)

	for _, tt := range []struct {
		name    string
		session int64
		channel gatehouse.Method
		mac     []byte
		now     time.Time
	}{
		{"wrong code", sess.ID, gatehouse.MethodEmail, hash("999999"), t0.Add(2 * time.Minute)},
		{"wrong session", other.ID, gatehouse.MethodEmail, c1.MAC, t0.Add(2 * time.Minute)},
		{"wrong channel", sess.ID, gatehouse.MethodSMS, c1.MAC, t0.Add(2 * time.Minute)},
		{"expired", sess.ID, gatehouse.MethodEmail, c1.MAC, c1.ExpiresAt},
	} {
		_, err := s.ConsumeCode(ctx, w.ID, tt.session, tt.channel, tt.mac, tt.now)
		wantNotFound(t, "consume with "+tt.name, err)
	}

	usedAt := t0.Add(2 * time.Minute)
	used, err := s.ConsumeCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail, c2.MAC, usedAt)
	must(t, "consume", err)
	want := *c2
	want.UsedAt = &usedAt
	if !reflect.DeepEqual(*used, want) {
		t.Fatalf("consumed %+v, want %+v", used, want)
	}
	_, err = s.ConsumeCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail, c2.MAC, usedAt)
	wantNotFound(t, "consume twice", err)
	_, err = s.ConsumeCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail, c1.MAC, usedAt)
	must(t, "an older unused code still works", err)

	// The latest code is found used or not.
	_, err = s.ConsumeCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail, c3.MAC, usedAt)
	must(t, "consume latest", err)
	latest, err = s.FindLatestCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail)
	must(t, "latest used", err)
	if latest.ID != c3.ID || latest.UsedAt == nil || !latest.UsedAt.Equal(usedAt) {
		t.Fatalf("latest after use = %+v", latest)
	}

	for round := range 5 {
		c := newCode(fmt.Sprint("race", round), t0.Add(time.Hour))
		wins := race(t, 8, func() error {
			_, err := s.ConsumeCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail, c.MAC, t0.Add(time.Hour+time.Second))
			return err
		})
		if wins != 1 {
			t.Fatalf("round %d: one code used %d times, want once", round, wins)
		}
	}
	err = s.CreateCode(ctx, w.ID, &mfa.Code{UserID: u.ID + 1000, SessionID: sess.ID, Channel: gatehouse.MethodEmail,
		MAC: hash("x"), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)})
	wantNotFound(t, "create for unknown user", err)

	t.Run("VoidCodes", func(t *testing.T) {
		tv := t0.Add(2 * time.Hour)
		code := func(sessionID int64, channel gatehouse.Method, mac string, at time.Time) *mfa.Code {
			t.Helper()
			c := &mfa.Code{UserID: u.ID, SessionID: sessionID, Channel: channel, MAC: hash(mac),
				Destination: "ann@example.com", CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
			must(t, "create code", s.CreateCode(ctx, w.ID, c))
			return c
		}
		older := code(sess.ID, gatehouse.MethodEmail, "older", tv)
		newer := code(sess.ID, gatehouse.MethodEmail, "newer", tv.Add(time.Second))
		otherSession := code(other.ID, gatehouse.MethodEmail, "other session", tv)
		otherChannel := code(sess.ID, gatehouse.MethodSMS, "other channel", tv)
		usedAt := tv.Add(2 * time.Second)
		_, err := s.ConsumeCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail, newer.MAC, usedAt)
		must(t, "consume newer", err)

		voidAt := tv.Add(3 * time.Second)
		must(t, "void", s.VoidCodes(ctx, w.ID, sess.ID, gatehouse.MethodEmail, voidAt))
		_, err = s.ConsumeCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail, older.MAC, tv.Add(4*time.Second))
		wantNotFound(t, "consume a voided code", err)
		// A code used before the void keeps its time of use.
		latest, err := s.FindLatestCode(ctx, w.ID, sess.ID, gatehouse.MethodEmail)
		must(t, "latest after void", err)
		if latest.ID != newer.ID || latest.UsedAt == nil || !latest.UsedAt.Equal(usedAt) {
			t.Fatalf("latest after void = %+v, want used at %v", latest, usedAt)
		}
		must(t, "void nothing", s.VoidCodes(ctx, w.ID, sess.ID, gatehouse.MethodEmail, voidAt))
		must(t, "void an unknown session", s.VoidCodes(ctx, w.ID, sess.ID+1000, gatehouse.MethodEmail, voidAt))

		// The code sent after the void works; other sessions and channels
		// were left alone.
		fresh := code(sess.ID, gatehouse.MethodEmail, "fresh", tv.Add(5*time.Second))
		for _, c := range []*mfa.Code{fresh, otherSession, otherChannel} {
			got, err := s.ConsumeCode(ctx, w.ID, c.SessionID, c.Channel, c.MAC, tv.Add(6*time.Second))
			must(t, "consume a code that was not voided", err)
			if got.ID != c.ID {
				t.Fatalf("consumed code %d, want %d", got.ID, c.ID)
			}
		}
	})
}

// newDevice returns a trusted device of the user for the token, last used at
// used and expiring 30 days after t0.
func newDevice(userID int64, token string, used time.Time) *mfa.Device {
	return &mfa.Device{UserID: userID, TokenHash: hash(token), UserAgent: "Browser " + token,
		CreatedAt: used, LastUsedAt: used, ExpiresAt: t0.Add(30 * 24 * time.Hour)}
}

// agents returns the devices' user agents, to tell devices apart in failures.
func agents(ds []mfa.Device) []string {
	var as []string
	for _, d := range ds {
		as = append(as, d.UserAgent)
	}
	return as
}

func testDevices(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	ann := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleMember)
	bob := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleMember)
	const keep = 5
	create := func(d *mfa.Device) *mfa.Device {
		t.Helper()
		must(t, "create "+d.UserAgent, s.CreateDevice(ctx, w.ID, d, keep))
		if d.ID == 0 || d.WorkspaceID != w.ID {
			t.Fatalf("CreateDevice set ID %d, WorkspaceID %d", d.ID, d.WorkspaceID)
		}
		return d
	}
	wantDevices := func(userID int64, now time.Time, want ...*mfa.Device) {
		t.Helper()
		got, err := s.ListDevices(ctx, w.ID, userID, now)
		must(t, "list devices", err)
		var ws []mfa.Device
		for _, d := range want {
			ws = append(ws, *d)
		}
		if !reflect.DeepEqual(got, ws) {
			t.Fatalf("devices of user %d at %v = %v, want %v\ngot  %+v\nwant %+v", userID, now, agents(got), agents(ws), got, ws)
		}
	}

	// Five devices fit; the sixth evicts the least recently used.
	var d [9]*mfa.Device
	for i := 1; i <= 5; i++ {
		d[i] = create(newDevice(ann.ID, fmt.Sprint("ann-", i), t0.Add(time.Duration(i)*time.Minute)))
	}
	wantDevices(ann.ID, t0, d[5], d[4], d[3], d[2], d[1])
	d[6] = create(newDevice(ann.ID, "ann-6", t0.Add(6*time.Minute)))
	wantDevices(ann.ID, t0, d[6], d[5], d[4], d[3], d[2])
	_, err := s.FindDevice(ctx, w.ID, ann.ID, d[1].TokenHash, t0)
	wantNotFound(t, "find evicted device", err)
	wantNotFound(t, "touch evicted device", s.TouchDevice(ctx, w.ID, d[1].ID, t0))

	// Using a device makes it the most recent: the next eviction passes it by.
	must(t, "touch", s.TouchDevice(ctx, w.ID, d[2].ID, t0.Add(10*time.Minute)))
	d[2].LastUsedAt = t0.Add(10 * time.Minute)
	d[7] = create(newDevice(ann.ID, "ann-7", t0.Add(11*time.Minute)))
	wantDevices(ann.ID, t0, d[7], d[2], d[6], d[5], d[4])

	// The browser just trusted survives its own eviction even when it reads
	// as less recently used than every other.
	d[8] = create(newDevice(ann.ID, "ann-8", t0))
	wantDevices(ann.ID, t0, d[7], d[2], d[6], d[5], d[8])

	got, err := s.FindDevice(ctx, w.ID, ann.ID, hash("ann-7"), t0)
	must(t, "find", err)
	if !reflect.DeepEqual(got, d[7]) {
		t.Fatalf("find = %+v, want %+v", got, d[7])
	}
	_, err = s.FindDevice(ctx, w.ID, bob.ID, hash("ann-7"), t0)
	wantNotFound(t, "find another user's device", err)
	_, err = s.FindDevice(ctx, w.ID, ann.ID, hash("nope"), t0)
	wantNotFound(t, "find unknown device", err)
	wantNotFound(t, "touch unknown device", s.TouchDevice(ctx, w.ID, d[8].ID+1000, t0))
	if err := s.CreateDevice(ctx, w.ID, newDevice(bob.ID, "ann-7", t0), keep); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("create with a taken token: got %v, want ErrConflict", err)
	}
	wantNotFound(t, "create for an unknown user", s.CreateDevice(ctx, w.ID, newDevice(bob.ID+1000, "ghost", t0), keep))

	// Expiry: a device expiring at now is gone; ties in use go to the newer.
	b1 := newDevice(bob.ID, "bob-1", t0.Add(time.Minute))
	b1.ExpiresAt = t0.Add(time.Hour)
	create(b1)
	b2 := create(newDevice(bob.ID, "bob-2", t0.Add(2*time.Minute)))
	b3 := create(newDevice(bob.ID, "bob-3", t0.Add(2*time.Minute)))
	_, err = s.FindDevice(ctx, w.ID, bob.ID, b1.TokenHash, t0.Add(time.Hour-time.Microsecond))
	must(t, "find before expiry", err)
	_, err = s.FindDevice(ctx, w.ID, bob.ID, b1.TokenHash, t0.Add(time.Hour))
	wantNotFound(t, "find expired device", err)
	wantDevices(bob.ID, t0, b3, b2, b1)
	wantDevices(bob.ID, t0.Add(time.Hour), b3, b2)

	wantNotFound(t, "delete another user's device", s.DeleteDevice(ctx, w.ID, bob.ID, d[7].ID))
	must(t, "delete", s.DeleteDevice(ctx, w.ID, ann.ID, d[7].ID))
	wantNotFound(t, "delete twice", s.DeleteDevice(ctx, w.ID, ann.ID, d[7].ID))
	wantDevices(ann.ID, t0, d[2], d[6], d[5], d[8])

	n, err := s.DeleteDevices(ctx, w.ID, ann.ID)
	must(t, "delete all", err)
	if n != 4 {
		t.Fatalf("deleted %d devices, want 4", n)
	}
	n, err = s.DeleteDevices(ctx, w.ID, ann.ID)
	must(t, "delete all again", err)
	if n != 0 {
		t.Fatalf("deleted %d devices again, want 0", n)
	}
	wantDevices(ann.ID, t0)
	wantDevices(bob.ID, t0, b3, b2, b1)
	n, err = s.DeleteDevices(ctx, w.ID, bob.ID)
	must(t, "delete bob's", err)
	if n != 3 {
		t.Fatalf("deleted %d of bob's devices, want 3 (the expired one too)", n)
	}

	// Devices trusted at once still leave no more than the limit.
	cat := MustCreateUser(t, s, w.ID, "cat@example.com", gatehouse.RoleMember)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if err := s.CreateDevice(ctx, w.ID, newDevice(cat.ID, fmt.Sprint("cat-", i), t0.Add(time.Duration(i)*time.Minute)), keep); err != nil {
				t.Errorf("create device concurrently: %v", err)
			}
		})
	}
	wg.Wait()
	if ds, err := s.ListDevices(ctx, w.ID, cat.ID, t0); err != nil || len(ds) != keep {
		t.Fatalf("after concurrent creates: %d devices, %v; want %d", len(ds), err, keep)
	}

	// A limit of one keeps only the new device.
	must(t, "create first", s.CreateDevice(ctx, w.ID, newDevice(bob.ID, "one-1", t0), 1))
	only := newDevice(bob.ID, "one-2", t0.Add(time.Minute))
	must(t, "create second", s.CreateDevice(ctx, w.ID, only, 1))
	wantDevices(bob.ID, t0, only)
}

// equalUserMFA reports whether a and b are equal; a nil and an empty method
// list are equal.
func equalUserMFA(a, b []mfa.UserMFA) bool {
	return slices.EqualFunc(a, b, func(x, y mfa.UserMFA) bool {
		return x.UserID == y.UserID && slices.Equal(x.Methods, y.Methods) && x.RecoveryLeft == y.RecoveryLeft && x.Devices == y.Devices
	})
}

func testUserMFA(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	now := t0.Add(time.Hour)
	got, err := s.ListUserMFA(ctx, w.ID, now)
	must(t, "list empty workspace", err)
	if len(got) != 0 {
		t.Fatalf("empty workspace = %+v", got)
	}

	none := MustCreateUser(t, s, w.ID, "none@example.com", gatehouse.RoleClient)
	full := MustCreateUser(t, s, w.ID, "full@example.com", gatehouse.RoleOwner)
	sms := MustCreateUser(t, s, w.ID, "sms@example.com", gatehouse.RoleMember)

	// full has two active methods saved weakest first, a pending one, four
	// recovery codes of which one is used and three devices of which one has
	// expired: counted together in a plain join they would multiply.
	confirmed := t0
	must(t, "email", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: full.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: t0, ConfirmedAt: &confirmed}))
	must(t, "totp", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: full.ID, Method: gatehouse.MethodTOTP, Secret: []byte("s"), Active: true, CreatedAt: t0, ConfirmedAt: &confirmed}))
	must(t, "pending sms", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: full.ID, Method: gatehouse.MethodSMS, Phone: "+15551234567", CreatedAt: t0}))
	codes := [][]byte{hash("rc1"), hash("rc2"), hash("rc3"), hash("rc4")}
	must(t, "recovery codes", s.ReplaceRecoveryCodes(ctx, w.ID, full.ID, codes, t0))
	must(t, "use a code", s.ConsumeRecoveryCode(ctx, w.ID, full.ID, codes[2], t0))
	for i, token := range []string{"full-1", "full-2", "full-3"} {
		d := newDevice(full.ID, token, t0.Add(time.Duration(i)*time.Minute))
		if i == 0 {
			d.ExpiresAt = now // expired at now
		}
		must(t, "device "+token, s.CreateDevice(ctx, w.ID, d, 5))
	}

	must(t, "sms", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: sms.ID, Method: gatehouse.MethodSMS, Phone: "+15557654321", Active: true, CreatedAt: t0, ConfirmedAt: &confirmed}))
	must(t, "sms device", s.CreateDevice(ctx, w.ID, newDevice(sms.ID, "sms-1", t0), 5))

	got, err = s.ListUserMFA(ctx, w.ID, now)
	must(t, "list", err)
	want := []mfa.UserMFA{
		{UserID: none.ID},
		{UserID: full.ID, Methods: []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}, RecoveryLeft: 3, Devices: 2},
		{UserID: sms.ID, Methods: []gatehouse.Method{gatehouse.MethodSMS}, Devices: 1},
	}
	if !equalUserMFA(got, want) {
		t.Fatalf("ListUserMFA = %+v, want %+v", got, want)
	}
}

func testAudit(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	es, err := s.ListAuditEvents(ctx, w.ID, 10)
	must(t, "list none", err)
	if len(es) != 0 {
		t.Fatalf("new workspace's events = %+v", es)
	}
	add := func(at time.Time, actor, target int64, typ, ip, detail string) gatehouse.AuditEvent {
		t.Helper()
		e := &gatehouse.AuditEvent{At: at, ActorID: actor, TargetID: target, Type: typ, IP: ip, Detail: detail}
		must(t, "add", s.AddAuditEvent(ctx, w.ID, e))
		if e.ID == 0 || e.WorkspaceID != w.ID {
			t.Fatalf("AddAuditEvent set ID %d, WorkspaceID %d", e.ID, e.WorkspaceID)
		}
		return *e
	}
	e1 := add(t0, u.ID, u.ID, "signin.ok", "192.0.2.1", "password")
	e2 := add(t0.Add(time.Minute), 0, u.ID, "mfa.challenge.failed", "192.0.2.2", "totp")
	e3 := add(t0.Add(time.Minute), u.ID, 0, "mfa.enrolled", "", "")  // same time: the later ID is newer
	e0 := add(t0.Add(-time.Hour), 0, 0, "workspace.created", "", "") // added last, happened first

	es, err = s.ListAuditEvents(ctx, w.ID, 10)
	must(t, "list", err)
	if want := []gatehouse.AuditEvent{e3, e2, e1, e0}; !reflect.DeepEqual(es, want) {
		t.Fatalf("list = %+v, want %+v", es, want)
	}
	es, err = s.ListAuditEvents(ctx, w.ID, 2)
	must(t, "list 2", err)
	if want := []gatehouse.AuditEvent{e3, e2}; !reflect.DeepEqual(es, want) {
		t.Fatalf("list 2 = %+v, want %+v", es, want)
	}
	es, err = s.ListAuditEvents(ctx, w.ID, 0)
	must(t, "list 0", err)
	if len(es) != 0 {
		t.Fatalf("list 0 = %+v", es)
	}
}

// testTenancy proves that another workspace's ID finds nothing.
// equalEvents reports whether a and b hold equal events in the same order;
// nil and empty are equal.
func equalEvents(a, b []gatehouse.AuditEvent) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func testAuditFilter(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	ann := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleOwner)
	bob := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleMember)
	cat := MustCreateUser(t, s, w.ID, "cat@example.com", gatehouse.RoleMember)
	add := func(at time.Time, actor, target int64, typ string) gatehouse.AuditEvent {
		t.Helper()
		e := &gatehouse.AuditEvent{At: at, ActorID: actor, TargetID: target, Type: typ, IP: "192.0.2.1", Detail: typ}
		must(t, "add", s.AddAuditEvent(ctx, w.ID, e))
		return *e
	}
	e1 := add(t0, ann.ID, ann.ID, "signin.ok")
	e2 := add(t0.Add(time.Minute), 0, bob.ID, "signin.password.failed")
	e3 := add(t0.Add(2*time.Minute), ann.ID, bob.ID, "user.disabled")
	e4 := add(t0.Add(3*time.Minute), bob.ID, bob.ID, "mfa.enrolled")
	e5 := add(t0.Add(4*time.Minute), 0, ann.ID, "mfa.challenge.failed")
	e6 := add(t0.Add(5*time.Minute), cat.ID, 0, "mfa_x.odd")
	e7 := add(t0.Add(6*time.Minute), ann.ID, cat.ID, "signin.ok")
	e8 := add(t0.Add(-time.Hour), bob.ID, 0, "SIGNIN.legacy") // added last, happened first: highest ID all the same
	events := func(es ...gatehouse.AuditEvent) []gatehouse.AuditEvent { return es }

	for _, tt := range []struct {
		name string
		f    gatehouse.AuditFilter
		want []gatehouse.AuditEvent
	}{
		{"everything by ID", gatehouse.AuditFilter{}, events(e8, e7, e6, e5, e4, e3, e2, e1)},
		{"actor or target", gatehouse.AuditFilter{UserID: ann.ID}, events(e7, e5, e3, e1)},
		{"actor or target bob", gatehouse.AuditFilter{UserID: bob.ID}, events(e8, e4, e3, e2)},
		{"unknown user", gatehouse.AuditFilter{UserID: cat.ID + 1000}, nil},
		{"type prefix", gatehouse.AuditFilter{Type: "mfa."}, events(e5, e4)},
		{"whole type", gatehouse.AuditFilter{Type: "signin.password.failed"}, events(e2)},
		{"type prefix keeps case", gatehouse.AuditFilter{Type: "signin."}, events(e7, e2, e1)},
		{"underscore in type", gatehouse.AuditFilter{Type: "mfa_"}, events(e6)},
		{"percent in type", gatehouse.AuditFilter{Type: "signin%"}, nil},
		{"from is inclusive", gatehouse.AuditFilter{From: t0.Add(2 * time.Minute)}, events(e7, e6, e5, e4, e3)},
		{"to is exclusive", gatehouse.AuditFilter{To: t0.Add(2 * time.Minute)}, events(e8, e2, e1)},
		{"from and to", gatehouse.AuditFilter{From: t0.Add(time.Minute), To: t0.Add(4 * time.Minute)}, events(e4, e3, e2)},
		{"before ID is exclusive", gatehouse.AuditFilter{BeforeID: e5.ID}, events(e4, e3, e2, e1)},
		{"user, type and from", gatehouse.AuditFilter{UserID: ann.ID, Type: "signin.", From: t0.Add(time.Minute)}, events(e7)},
		{"user, type and to", gatehouse.AuditFilter{UserID: bob.ID, Type: "mfa.", To: t0.Add(3 * time.Minute)}, nil},
		{"user and before ID", gatehouse.AuditFilter{UserID: ann.ID, BeforeID: e7.ID}, events(e5, e3, e1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindAuditEvents(ctx, w.ID, tt.f)
			must(t, "find", err)
			if !equalEvents(got, tt.want) {
				t.Fatalf("FindAuditEvents(%+v) = %+v, want %+v", tt.f, got, tt.want)
			}
			var each []gatehouse.AuditEvent
			must(t, "each", s.EachAuditEvent(ctx, w.ID, tt.f, func(e gatehouse.AuditEvent) error {
				each = append(each, e)
				return nil
			}))
			if !equalEvents(each, tt.want) {
				t.Fatalf("EachAuditEvent(%+v) = %+v, want %+v", tt.f, each, tt.want)
			}
		})
	}

	es, err := s.FindAuditEvents(ctx, w.ID, gatehouse.AuditFilter{UserID: ann.ID, Limit: 2})
	must(t, "find 2", err)
	if want := events(e7, e5); !equalEvents(es, want) {
		t.Fatalf("limit 2 = %+v, want %+v", es, want)
	}

	// No limit means 50; Each ignores the limit.
	for i := range 60 {
		add(t0.Add(time.Duration(i)*time.Second), cat.ID, bob.ID, fmt.Sprint("bulk.", i))
	}
	es, err = s.FindAuditEvents(ctx, w.ID, gatehouse.AuditFilter{Type: "bulk."})
	must(t, "find without limit", err)
	if len(es) != 50 || es[0].Type != "bulk.59" {
		t.Fatalf("without a limit: %d events from %+v, want 50 from bulk.59", len(es), es[0])
	}
	var all []gatehouse.AuditEvent
	must(t, "each", s.EachAuditEvent(ctx, w.ID, gatehouse.AuditFilter{Limit: 3}, func(e gatehouse.AuditEvent) error {
		all = append(all, e)
		return nil
	}))
	if len(all) != 68 {
		t.Fatalf("Each gave %d events, want all 68", len(all))
	}

	// Keyset pages, unfiltered and filtered, give every event once, in order.
	for _, f := range []gatehouse.AuditFilter{{}, {UserID: bob.ID}, {Type: "bulk.", From: t0.Add(10 * time.Second)}} {
		var want []gatehouse.AuditEvent
		must(t, "each", s.EachAuditEvent(ctx, w.ID, f, func(e gatehouse.AuditEvent) error {
			want = append(want, e)
			return nil
		}))
		var paged []gatehouse.AuditEvent
		page := f
		page.Limit = 7
		for range 100 {
			es, err := s.FindAuditEvents(ctx, w.ID, page)
			must(t, "page", err)
			if len(es) > page.Limit {
				t.Fatalf("page of %d events, limit %d", len(es), page.Limit)
			}
			if len(es) == 0 {
				break
			}
			paged = append(paged, es...)
			page.BeforeID = es[len(es)-1].ID
		}
		if len(want) == 0 || !equalEvents(paged, want) {
			t.Fatalf("pages of %+v gave %d events, want the %d Each gives, in the same order", f, len(paged), len(want))
		}
		for i := 1; i < len(paged); i++ {
			if paged[i].ID >= paged[i-1].ID {
				t.Fatalf("pages of %+v: event %d after %d; want descending IDs", f, paged[i].ID, paged[i-1].ID)
			}
		}
	}

	// Each stops at fn's first error and hands it back.
	errStop := errors.New("stop")
	calls := 0
	err = s.EachAuditEvent(ctx, w.ID, gatehouse.AuditFilter{}, func(e gatehouse.AuditEvent) error {
		calls++
		if calls == 3 {
			return fmt.Errorf("write event %d: %w", e.ID, errStop)
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Each returned %v, want fn's error", err)
	}
	if calls != 3 {
		t.Fatalf("Each called fn %d times after its error at the 3rd", calls)
	}
	calls = 0
	must(t, "each of none", s.EachAuditEvent(ctx, w.ID, gatehouse.AuditFilter{Type: "nope"}, func(gatehouse.AuditEvent) error {
		calls++
		return nil
	}))
	if calls != 0 {
		t.Fatalf("Each called fn %d times for no events", calls)
	}
}

func testTenancy(t *testing.T, s Store) {
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
	wantNotFound(t, "set role across workspaces", s.SetUserRole(ctx, b.ID, ua.ID, gatehouse.RoleAdmin, t0))
	wantNotFound(t, "disable across workspaces", s.SetUserDisabled(ctx, b.ID, ua.ID, true, t0, nil))
	wantNotFound(t, "set password across workspaces", s.SetPassword(ctx, b.ID, ua.ID, "h", nil, t0, nil))
	wantNotFound(t, "rehash across workspaces", s.RehashPassword(ctx, b.ID, ua.ID, ua.PasswordHash, "h", t0))
	if got, err := s.FindUserByID(ctx, a.ID, ua.ID); err != nil || *got != *ua {
		t.Fatalf("user after writes across workspaces = %+v, %v; want %+v", got, err, ua)
	}

	must(t, "session", s.CreateSession(ctx, a.ID, newSession(ua.ID, "a-token", t0), fakeHash))
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
	wantNotFound(t, "issue token across", s.IssueToken(ctx, b.ID, &gatehouse.Token{UserID: ua.ID, Kind: gatehouse.TokenInvite, Hash: hash("b-inv"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	_, err = s.UseLink(ctx, b.ID, gatehouse.LinkUse{Kind: gatehouse.TokenInvite, Hash: hash("a-inv"), PasswordHash: "h"}, t0)
	wantNotFound(t, "use link across", err)
	_, err = s.ConsumeToken(ctx, a.ID, gatehouse.TokenInvite, hash("a-inv"), t0)
	must(t, "token survives", err)

	_, err = s.AddFailure(ctx, a.ID, "ip:1.2.3.4", t0, t0.Add(-time.Hour))
	must(t, "failure", err)
	th, err := s.FindThrottle(ctx, b.ID, "ip:1.2.3.4")
	must(t, "throttle across", err)
	if th.Failures != 0 {
		t.Fatalf("throttle leaked across workspaces: %+v", th)
	}

	// The outbox's SMS count.
	sms := &gatehouse.Message{Channel: "sms", To: "+447700900123", Body: "Your code is 123456", CreatedAt: t0, NextAttempt: t0}
	must(t, "enqueue SMS", s.EnqueueMessage(ctx, a.ID, sms))
	if n, err := s.CountMessages(ctx, b.ID, "sms", t0.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("SMS counted across workspaces = %d, %v; want 0", n, err)
	}
	if n, err := s.CountMessages(ctx, a.ID, "sms", t0.Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("SMS counted in a = %d, %v; want 1", n, err)
	}
	// ScrubMessage is not scoped: the sender works for every workspace. The
	// scrubbed message still counts towards a's caps.
	must(t, "scrub SMS", s.ScrubMessage(ctx, sms.ID))
	if m, err := s.FindMessage(ctx, sms.ID); err != nil || m.Body != "" || m.WorkspaceID != a.ID || m.To != sms.To {
		t.Fatalf("scrubbed SMS = %+v, %v", m, err)
	}
	if n, err := s.CountMessages(ctx, a.ID, "sms", t0.Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("SMS counted in a after scrubbing = %d, %v; want 1", n, err)
	}

	// Sessions' two-factor state.
	sess := &v.Session
	wantNotFound(t, "mark session across", s.MarkSession(ctx, b.ID, sess.ID, gatehouse.SessionMarks{ReauthAt: &t0}))
	_, err = s.AddSessionFailure(ctx, b.ID, sess.ID)
	wantNotFound(t, "session failure across", err)

	// Factors.
	must(t, "factor", s.SaveFactor(ctx, a.ID, &mfa.Factor{UserID: ua.ID, Method: gatehouse.MethodTOTP, Secret: []byte("s"), Active: true, CreatedAt: t0}))
	must(t, "pending factor", s.SaveFactor(ctx, a.ID, &mfa.Factor{UserID: ua.ID, Method: gatehouse.MethodSMS, Phone: "+15551234567", CreatedAt: t0}))
	wantNotFound(t, "save factor across", s.SaveFactor(ctx, b.ID, &mfa.Factor{UserID: ua.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: t0}))
	fs, err := s.FindFactors(ctx, b.ID, ua.ID)
	must(t, "find factors across", err)
	if len(fs) != 0 {
		t.Fatalf("factors across workspaces: %+v", fs)
	}
	own, err := s.FindFactors(ctx, a.ID, ua.ID)
	must(t, "find own factors", err)
	if len(own) != 2 || own[1].Method != gatehouse.MethodSMS {
		t.Fatalf("own factors = %+v, want totp and sms", own)
	}
	wantNotFound(t, "activate across", activate(s, b.ID, &own[1], t0))
	wantNotFound(t, "TOTP step across", s.UseTOTPStep(ctx, b.ID, ua.ID, 59_000_000))
	wantNotFound(t, "remove method across", s.RemoveMethod(ctx, b.ID, ua.ID, gatehouse.MethodTOTP, nil, nil, nil))
	wantNotFound(t, "reset across", s.ResetMFA(ctx, b.ID, ua.ID, "mfa:x", nil))
	fs, err = s.FindFactors(ctx, a.ID, ua.ID)
	must(t, "factors survive", err)
	if len(fs) != 2 || fs[0].Active != true || fs[1].Active != false {
		t.Fatalf("factors after changes across workspaces = %+v", fs)
	}
	must(t, "TOTP step", s.UseTOTPStep(ctx, a.ID, ua.ID, 59_000_000))

	// Recovery codes.
	codes := [][]byte{hash("rc1"), hash("rc2")}
	must(t, "recovery codes", s.ReplaceRecoveryCodes(ctx, a.ID, ua.ID, codes, t0))
	wantNotFound(t, "replace recovery codes across", s.ReplaceRecoveryCodes(ctx, b.ID, ua.ID, [][]byte{hash("rc3")}, t0))
	if n, err := s.CountRecoveryCodes(ctx, b.ID, ua.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes across = %d, %v; want 0", n, err)
	}
	wantNotFound(t, "consume recovery code across", s.ConsumeRecoveryCode(ctx, b.ID, ua.ID, codes[0], t0))
	must(t, "consume recovery code", s.ConsumeRecoveryCode(ctx, a.ID, ua.ID, codes[0], t0))
	if used, err := s.IsRecoveryCodeUsed(ctx, b.ID, ua.ID, codes[0]); err != nil || used {
		t.Fatalf("recovery code used across = %v, %v; want false", used, err)
	}
	if n, err := s.CountRecoveryCodes(ctx, a.ID, ua.ID); err != nil || n != 1 {
		t.Fatalf("recovery codes after changes across workspaces = %d, %v; want 1", n, err)
	}

	// One-time codes.
	code := &mfa.Code{UserID: ua.ID, SessionID: sess.ID, Channel: gatehouse.MethodSMS, MAC: hash("123456"),
		Destination: "+15551234567", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	must(t, "code", s.CreateCode(ctx, a.ID, code))
	wantNotFound(t, "create code across", s.CreateCode(ctx, b.ID, &mfa.Code{UserID: ua.ID, SessionID: sess.ID,
		Channel: gatehouse.MethodSMS, MAC: hash("654321"), CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}))
	_, err = s.FindLatestCode(ctx, b.ID, sess.ID, gatehouse.MethodSMS)
	wantNotFound(t, "find code across", err)
	_, err = s.ConsumeCode(ctx, b.ID, sess.ID, gatehouse.MethodSMS, code.MAC, t0)
	wantNotFound(t, "consume code across", err)
	must(t, "void codes across", s.VoidCodes(ctx, b.ID, sess.ID, gatehouse.MethodSMS, t0))
	if c, err := s.FindLatestCode(ctx, a.ID, sess.ID, gatehouse.MethodSMS); err != nil || c.UsedAt != nil {
		t.Fatalf("code after a void across workspaces = %+v, %v; want unused", c, err)
	}
	_, err = s.ConsumeCode(ctx, a.ID, sess.ID, gatehouse.MethodSMS, code.MAC, t0)
	must(t, "code survives", err)

	// Send clocks.
	ok, _, err := s.ReserveSend(ctx, a.ID, ua.ID, gatehouse.MethodSMS, t0, t0.Add(-time.Minute), t0.Add(-time.Hour), 3)
	must(t, "reserve", err)
	if !ok {
		t.Fatal("first send refused")
	}
	ok, c, err := s.ReserveSend(ctx, b.ID, ua.ID, gatehouse.MethodSMS, t0, t0.Add(-time.Minute), t0.Add(-time.Hour), 3)
	must(t, "reserve across", err)
	if !ok || c.WindowCount != 1 {
		t.Fatalf("send in another workspace = %v, %+v; want a clock of its own", ok, c)
	}

	// Audit events.
	must(t, "audit", s.AddAuditEvent(ctx, a.ID, &gatehouse.AuditEvent{At: t0, ActorID: ua.ID, Type: "signin.ok"}))
	es, err := s.ListAuditEvents(ctx, b.ID, 10)
	must(t, "audit across", err)
	if len(es) != 0 {
		t.Fatalf("audit events across workspaces: %+v", es)
	}
	for _, f := range []gatehouse.AuditFilter{{}, {UserID: ua.ID}, {Type: "signin."}, {From: t0, To: t0.Add(time.Hour)}} {
		es, err := s.FindAuditEvents(ctx, b.ID, f)
		must(t, "find audit across", err)
		if len(es) != 0 {
			t.Fatalf("FindAuditEvents(%+v) across workspaces: %+v", f, es)
		}
		must(t, "each audit across", s.EachAuditEvent(ctx, b.ID, f, func(e gatehouse.AuditEvent) error {
			t.Errorf("EachAuditEvent(%+v) across workspaces: %+v", f, e)
			return nil
		}))
		es, err = s.FindAuditEvents(ctx, a.ID, f)
		must(t, "find audit", err)
		if len(es) != 1 {
			t.Fatalf("FindAuditEvents(%+v) = %+v, want the one event", f, es)
		}
	}

	// Trusted devices.
	dev := newDevice(ua.ID, "a-device", t0)
	wantNotFound(t, "create device across", s.CreateDevice(ctx, b.ID, newDevice(ua.ID, "b-device", t0), 5))
	must(t, "device", s.CreateDevice(ctx, a.ID, dev, 5))
	_, err = s.FindDevice(ctx, b.ID, ua.ID, dev.TokenHash, t0)
	wantNotFound(t, "find device across", err)
	ds, err := s.ListDevices(ctx, b.ID, ua.ID, t0)
	must(t, "list devices across", err)
	if len(ds) != 0 {
		t.Fatalf("devices across workspaces: %+v", ds)
	}
	wantNotFound(t, "touch device across", s.TouchDevice(ctx, b.ID, dev.ID, t0.Add(time.Minute)))
	wantNotFound(t, "delete device across", s.DeleteDevice(ctx, b.ID, ua.ID, dev.ID))
	if n, err := s.DeleteDevices(ctx, b.ID, ua.ID); err != nil || n != 0 {
		t.Fatalf("delete devices across = %d, %v; want 0", n, err)
	}
	found2, err := s.FindDevice(ctx, a.ID, ua.ID, dev.TokenHash, t0)
	must(t, "device survives", err)
	if !reflect.DeepEqual(found2, dev) {
		t.Fatalf("device after changes across workspaces = %+v, want %+v", found2, dev)
	}

	// Two-factor overview: b sees its own user, with nothing of a's.
	ms, err := s.ListUserMFA(ctx, b.ID, t0)
	must(t, "user MFA across", err)
	if want := []mfa.UserMFA{{UserID: ub.ID}}; !equalUserMFA(ms, want) {
		t.Fatalf("ListUserMFA in b = %+v, want %+v", ms, want)
	}
	ms, err = s.ListUserMFA(ctx, a.ID, t0)
	must(t, "user MFA", err)
	if want := []mfa.UserMFA{{UserID: ua.ID, Methods: []gatehouse.Method{gatehouse.MethodTOTP}, RecoveryLeft: 1, Devices: 1}}; !equalUserMFA(ms, want) {
		t.Fatalf("ListUserMFA in a = %+v, want %+v", ms, want)
	}

	// Throttles by prefix.
	for _, prefix := range []string{"", "ip:"} {
		ts, err := s.ListThrottles(ctx, b.ID, prefix)
		must(t, "list throttles across", err)
		if len(ts) != 0 {
			t.Fatalf("ListThrottles(%q) across workspaces: %+v", prefix, ts)
		}
	}
	ts, err := s.ListThrottles(ctx, a.ID, "ip:")
	must(t, "list throttles", err)
	if len(ts) != 1 || ts["ip:1.2.3.4"].Failures != 1 {
		t.Fatalf("ListThrottles in a = %+v", ts)
	}
}

// testLimits: a limit grants Max uses per window, then refuses without
// counting; several limits are taken all or none; windows and workspaces
// are apart.
func testLimits(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	other := MustCreateWorkspace(t, s, "beta")
	take := func(ws int64, now time.Time, ls ...gatehouse.Limit) int {
		t.Helper()
		full, err := s.TakeLimits(ctx, ws, now, ls...)
		must(t, "take limits", err)
		return full
	}
	three := gatehouse.Limit{Key: "ip:1", Max: 3, Window: time.Hour}
	for i := range 3 {
		if full := take(w.ID, t0.Add(time.Duration(i)*time.Minute), three); full != -1 {
			t.Fatalf("use %d refused (%d)", i+1, full)
		}
	}
	if full := take(w.ID, t0.Add(59*time.Minute), three); full != 0 {
		t.Fatalf("the 4th use in the window = %d, want 0 (full)", full)
	}
	if full := take(other.ID, t0.Add(59*time.Minute), three); full != -1 {
		t.Fatal("another workspace's limit of the same key is full")
	}
	if full := take(w.ID, t0.Add(59*time.Minute), gatehouse.Limit{Key: "ip:2", Max: 3, Window: time.Hour}); full != -1 {
		t.Fatal("another key is full")
	}
	// The window opened at t0 ends an hour later; the next use opens a new one.
	if full := take(w.ID, t0.Add(time.Hour), three); full != -1 {
		t.Fatal("the first use of a new window refused")
	}
	for range 2 {
		take(w.ID, t0.Add(time.Hour+time.Minute), three)
	}
	if full := take(w.ID, t0.Add(2*time.Hour-time.Second), three); full != 0 {
		t.Fatal("a fourth use in the second window granted")
	}

	// All or none: the second limit is full, so the first is not counted.
	hourly := gatehouse.Limit{Key: "sms:hour", Max: 2, Window: time.Hour}
	daily := gatehouse.Limit{Key: "sms:day", Max: 1, Window: 24 * time.Hour}
	if full := take(w.ID, t0, hourly, daily); full != -1 {
		t.Fatalf("first send = %d", full)
	}
	if full := take(w.ID, t0, hourly, daily); full != 1 {
		t.Fatalf("second send = %d, want 1 (the daily limit)", full)
	}
	if full := take(w.ID, t0, hourly); full != -1 {
		t.Fatal("the refused take counted against the hourly limit")
	}
	if full := take(w.ID, t0, hourly); full != 0 {
		t.Fatal("the hourly limit let a third use through")
	}
	if full := take(w.ID, t0, gatehouse.Limit{Key: "none", Max: 0, Window: time.Hour}); full != 0 {
		t.Fatal("a limit of 0 granted a use")
	}
}

// testLimitsRace: 40 simultaneous takes of a limit of 5 grant exactly 5.
func testLimitsRace(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	const racers, max = 40, 5
	l := gatehouse.Limit{Key: "sms:hour", Max: max, Window: time.Hour}
	var granted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range racers {
		wg.Go(func() {
			<-start
			full, err := s.TakeLimits(ctx, w.ID, t0, l, gatehouse.Limit{Key: "sms:day", Max: 100, Window: 24 * time.Hour})
			if err != nil {
				t.Error(err)
				return
			}
			if full == -1 {
				granted.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := granted.Load(); n != max {
		t.Fatalf("%d of %d simultaneous takes granted, want %d", n, racers, max)
	}
}

// testStaleCounters: the sweep deletes, in every workspace, the limits whose
// window opened before the cut and the failure counters last hit before it,
// and nothing newer: a swept limit starts afresh, a kept one stays full.
func testStaleCounters(t *testing.T, s Store) {
	ctx := context.Background()
	a := MustCreateWorkspace(t, s, "acme")
	b := MustCreateWorkspace(t, s, "beta")
	one := gatehouse.Limit{Key: "ip:1", Max: 1, Window: 24 * time.Hour}
	for _, ws := range []int64{a.ID, b.ID} {
		if full, err := s.TakeLimits(ctx, ws, t0, one); err != nil || full != -1 {
			t.Fatalf("take: %d %v", full, err)
		}
		_, err := s.AddFailure(ctx, ws, "ip:1", t0, t0.Add(-time.Hour))
		must(t, "failure", err)
	}
	_, err := s.TakeLimits(ctx, a.ID, t0.Add(time.Hour), gatehouse.Limit{Key: "ip:2", Max: 1, Window: 24 * time.Hour})
	must(t, "newer limit", err)
	_, err = s.AddFailure(ctx, a.ID, "ip:2", t0.Add(time.Hour), t0)
	must(t, "newer failure", err)

	n, err := s.DeleteStaleCounters(ctx, t0)
	if err != nil || n != 0 {
		t.Fatalf("DeleteStaleCounters at the oldest row's time = %d, %v; want 0 (only older rows go)", n, err)
	}
	if n, err = s.DeleteStaleCounters(ctx, t0.Add(time.Minute)); err != nil || n != 4 {
		t.Fatalf("DeleteStaleCounters = %d, %v; want the 2 limits and 2 counters of both workspaces", n, err)
	}
	for _, ws := range []int64{a.ID, b.ID} {
		if th, err := s.FindThrottle(ctx, ws, "ip:1"); err != nil || th.Failures != 0 {
			t.Errorf("swept counter = %+v, %v; want none", th, err)
		}
		// Swept, the limit starts afresh within what was its window.
		if full, err := s.TakeLimits(ctx, ws, t0.Add(2*time.Hour), one); err != nil || full != -1 {
			t.Errorf("swept limit: %d %v; want a fresh window", full, err)
		}
	}
	if th, err := s.FindThrottle(ctx, a.ID, "ip:2"); err != nil || th.Failures != 1 {
		t.Errorf("newer counter = %+v, %v; want kept", th, err)
	}
	if full, err := s.TakeLimits(ctx, a.ID, t0.Add(2*time.Hour), gatehouse.Limit{Key: "ip:2", Max: 1, Window: 24 * time.Hour}); err != nil || full != 0 {
		t.Errorf("newer limit: %d %v; want still full", full, err)
	}
}
