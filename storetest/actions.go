package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// testWorkspaceUpdate: an update writes the fields it names and nothing
// else, so writers of different fields never undo each other, and the
// grace clock restarts only when the mode changes.
func testWorkspaceUpdate(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "writes")
	// The operator's set-plan, then an owner's settings save made from a
	// page read before it: the plan stays.
	plan := gatehouse.PlanUnlimited
	got, err := s.UpdateWorkspace(ctx, w.ID, gatehouse.WorkspaceUpdate{Plan: &plan}, t0.Add(time.Minute))
	must(t, "set plan", err)
	w.Plan, w.UpdatedAt = plan, t0.Add(time.Minute)
	if !equalWorkspace(got, w) {
		t.Fatalf("after set plan = %+v, want %+v", got, w)
	}
	settings := w.MFA
	settings.Methods, settings.GraceDays = []gatehouse.Method{gatehouse.MethodTOTP}, 9
	guard := gatehouse.SMSGuard{Countries: []string{"GB"}, HourlyCap: 7, DailyCap: 70}
	upd := gatehouse.MFASettingsUpdate(settings)
	upd.SMSGuard = &guard
	got, err = s.UpdateWorkspace(ctx, w.ID, upd, t0.Add(2*time.Minute))
	must(t, "save settings", err)
	w.MFA.Methods, w.MFA.GraceDays, w.SMSGuard, w.UpdatedAt = settings.Methods, 9, guard, t0.Add(2*time.Minute)
	if !equalWorkspace(got, w) {
		t.Fatalf("after settings save = %+v, want %+v", got, w)
	}
	if got.Plan != gatehouse.PlanUnlimited || got.MFA.Mode != gatehouse.MFAOptional {
		t.Fatalf("settings save changed plan %s or mode %s", got.Plan, got.MFA.Mode)
	}

	// Saving the same mode keeps the grace clock; another mode restarts it.
	same := gatehouse.MFAOptional
	got, err = s.UpdateWorkspace(ctx, w.ID, gatehouse.WorkspaceUpdate{MFAMode: &same}, t0.Add(time.Hour))
	must(t, "same mode", err)
	if !got.MFA.ModeChangedAt.Equal(t0) {
		t.Fatalf("saving the same mode moved the grace clock to %v, want %v", got.MFA.ModeChangedAt, t0)
	}
	required := gatehouse.MFARequired
	got, err = s.UpdateWorkspace(ctx, w.ID, gatehouse.WorkspaceUpdate{MFAMode: &required}, t0.Add(2*time.Hour))
	must(t, "new mode", err)
	if got.MFA.Mode != required || !got.MFA.ModeChangedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after a mode change: mode %s changed at %v, want required at %v", got.MFA.Mode, got.MFA.ModeChangedAt, t0.Add(2*time.Hour))
	}
	if found, err := s.FindWorkspaceByID(ctx, w.ID); err != nil || !equalWorkspace(found, got) {
		t.Fatalf("found %+v, %v; want %+v", found, err, got)
	}

	// Branding writes only the brand, and a later settings save keeps it.
	brand := gatehouse.Brand{DisplayName: "Acme & Co — Clients", Accent: "#0b5cad"}
	got, err = s.SetBrand(ctx, w.ID, brand, nil, t0.Add(3*time.Hour), nil)
	must(t, "set brand", err)
	if got.Brand != brand || got.MFA.Mode != required || got.Plan != gatehouse.PlanUnlimited {
		t.Fatalf("after set brand = %+v", got)
	}
	got, err = s.UpdateWorkspace(ctx, w.ID, gatehouse.MFASettingsUpdate(got.MFA), t0.Add(4*time.Hour))
	must(t, "settings after brand", err)
	if found, err := s.FindWorkspaceBySlug(ctx, w.Slug); err != nil || found.Brand != brand || !equalWorkspace(found, got) {
		t.Fatalf("brand after a settings save: %+v, %v; want %+v", found, err, brand)
	}
}

// signedIn gives the user a session under token and a trusted device.
func signedIn(tb testing.TB, s Store, wsID, userID int64, token string) {
	tb.Helper()
	u, err := s.FindUserByID(context.Background(), wsID, userID)
	must(tb, "user of "+token, err)
	must(tb, "session "+token, s.CreateSession(context.Background(), wsID, newSession(userID, token, t0), u.PasswordHash))
	must(tb, "device "+token, s.CreateDevice(context.Background(), wsID, newDevice(userID, "dev-"+token, t0), 5))
}

// state is what a user's security rows look like, for before/after checks.
type state struct {
	user                               gatehouse.User
	sessions, devices, factors, unused int
	throttle                           int
	audit                              int
}

func stateOf(tb testing.TB, s Store, wsID, userID int64, tokens ...string) state {
	tb.Helper()
	ctx := context.Background()
	u, err := s.FindUserByID(ctx, wsID, userID)
	must(tb, "find user", err)
	st := state{user: *u}
	for _, tok := range tokens {
		if _, err := s.FindVisit(ctx, wsID, hash(tok)); err == nil {
			st.sessions++
		}
	}
	ds, err := s.ListDevices(ctx, wsID, userID, t0)
	must(tb, "devices", err)
	fs, err := s.FindFactors(ctx, wsID, userID)
	must(tb, "factors", err)
	st.devices, st.factors = len(ds), len(fs)
	st.unused, err = s.CountRecoveryCodes(ctx, wsID, userID)
	must(tb, "recovery codes", err)
	th, err := s.FindThrottle(ctx, wsID, fmt.Sprint("mfa:", userID))
	must(tb, "throttle", err)
	st.throttle = th.Failures
	es, err := s.ListAuditEvents(ctx, wsID, 100)
	must(tb, "audit", err)
	st.audit = len(es)
	return st
}

// testUserWrites: each user write changes what it says and nothing else.
func testUserWrites(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	other := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleClient)
	signedIn(t, s, w.ID, u.ID, "here")
	signedIn(t, s, w.ID, u.ID, "there")
	signedIn(t, s, w.ID, other.ID, "bob")

	// A rehash writes only while the hash is the one verified.
	wantNotFound(t, "rehash a changed hash", s.RehashPassword(ctx, w.ID, u.ID, "$argon2id$other", "$argon2id$new", t0))
	must(t, "rehash", s.RehashPassword(ctx, w.ID, u.ID, u.PasswordHash, "$argon2id$rehashed", t0.Add(time.Second)))
	if st := stateOf(t, s, w.ID, u.ID); st.user.PasswordHash != "$argon2id$rehashed" || !st.user.UpdatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("after rehash: %+v", st.user)
	}

	// The owner disables the account while its password change is in
	// flight: it stays disabled.
	must(t, "disable", s.SetUserDisabled(ctx, w.ID, u.ID, true, t0.Add(time.Minute), &gatehouse.AuditEvent{At: t0, Type: "user.disabled", TargetID: u.ID}))
	st := stateOf(t, s, w.ID, u.ID, "here", "there")
	if !st.user.Disabled || st.sessions != 0 || st.devices != 0 || st.audit != 1 {
		t.Fatalf("after disabling: %+v, want disabled, no sessions or devices, one event", st)
	}
	// A disabled user gets no session.
	wantNotFound(t, "session of a disabled user", s.CreateSession(ctx, w.ID, newSession(u.ID, "here", t0), st.user.PasswordHash))
	e := &gatehouse.AuditEvent{At: t0, ActorID: u.ID, TargetID: u.ID, Type: "password.changed"}
	must(t, "set password", s.SetPassword(ctx, w.ID, u.ID, "$argon2id$changed", nil, t0.Add(2*time.Minute), e))
	st = stateOf(t, s, w.ID, u.ID)
	if !st.user.Disabled || st.user.PasswordHash != "$argon2id$changed" || st.user.Role != gatehouse.RoleClient {
		t.Fatalf("after the password change: %+v, want still disabled with the new hash", st.user)
	}
	if st.audit != 2 || e.ID == 0 {
		t.Fatalf("after the password change: %+v, want two events", st)
	}
	// Re-enabling; a password change keeps the session that made it.
	must(t, "enable", s.SetUserDisabled(ctx, w.ID, u.ID, false, t0.Add(3*time.Minute), nil))
	signedIn(t, s, w.ID, u.ID, "here")
	signedIn(t, s, w.ID, u.ID, "there")
	must(t, "set password again", s.SetPassword(ctx, w.ID, u.ID, "$argon2id$changed", hash("here"), t0.Add(3*time.Minute), nil))
	st = stateOf(t, s, w.ID, u.ID, "here", "there")
	if st.sessions != 1 || st.devices != 0 {
		t.Fatalf("after the password change: %+v, want the one kept session, no devices", st)
	}
	if _, err := s.FindVisit(ctx, w.ID, hash("here")); err != nil {
		t.Fatalf("the session that changed the password: %v", err)
	}
	if ob := stateOf(t, s, w.ID, other.ID, "bob"); ob.sessions != 1 || ob.devices != 1 {
		t.Fatalf("another user's sessions and devices: %+v", ob)
	}
	// The role is its own write.
	must(t, "role", s.SetUserRole(ctx, w.ID, u.ID, gatehouse.RoleMember, t0.Add(4*time.Minute)))
	st = stateOf(t, s, w.ID, u.ID, "here", "there")
	if st.user.Disabled || st.user.Role != gatehouse.RoleMember || st.user.PasswordHash != "$argon2id$changed" || st.sessions != 1 {
		t.Fatalf("after enabling and a role change: %+v", st)
	}

	t.Run("UseLink", func(t *testing.T) { testUseLink(t, s, w) })
	t.Run("Promote", func(t *testing.T) { testPromote(t, s, w) })
}

func testUseLink(t *testing.T, s Store, w *gatehouse.Workspace) {
	ctx := context.Background()
	invited := &gatehouse.User{Email: "new@example.com", Role: gatehouse.RoleClient, CreatedAt: t0, UpdatedAt: t0}
	must(t, "invited user", s.CreateUser(ctx, w.ID, invited))
	link := func(u *gatehouse.User, kind gatehouse.TokenKind, token string) {
		t.Helper()
		must(t, "issue "+token, s.IssueToken(ctx, w.ID, &gatehouse.Token{UserID: u.ID, Kind: kind, Hash: hash(token), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	link(invited, gatehouse.TokenInvite, "invite")
	link(invited, gatehouse.TokenSignup, "signup")
	name := "Nia"
	got, err := s.UseLink(ctx, w.ID, gatehouse.LinkUse{Kind: gatehouse.TokenInvite, Hash: hash("invite"), PasswordHash: "$argon2id$nia", Name: &name, FirstPassword: true}, t0.Add(time.Minute))
	must(t, "accept invitation", err)
	if got.ID != invited.ID || got.Name != "Nia" || got.PasswordHash != "$argon2id$nia" || !got.EmailVerified || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after accepting: %+v", got)
	}
	_, err = s.UseLink(ctx, w.ID, gatehouse.LinkUse{Kind: gatehouse.TokenInvite, Hash: hash("invite"), PasswordHash: "$argon2id$again"}, t0.Add(time.Minute))
	wantNotFound(t, "use a link twice", err)
	// The sign-up link of an account activated meanwhile signs nobody in,
	// and changes nothing.
	_, err = s.UseLink(ctx, w.ID, gatehouse.LinkUse{Kind: gatehouse.TokenSignup, Hash: hash("signup"), PasswordHash: "$argon2id$stranger", FirstPassword: true}, t0.Add(2*time.Minute))
	wantNotFound(t, "sign-up link of an active account", err)
	if st := stateOf(t, s, w.ID, invited.ID); st.user != *got {
		t.Fatalf("a refused link changed the user: %+v, want %+v", st.user, *got)
	}
	if _, err := s.FindToken(ctx, w.ID, gatehouse.TokenSignup, hash("signup"), t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("a refused link was spent: %v", err)
	}

	// A reset signs out everywhere, forgets devices, clears the throttle
	// and records the event against the link's user; the name stays.
	signedIn(t, s, w.ID, invited.ID, "nia1")
	_, err = s.AddFailure(ctx, w.ID, "acct:new@example.com", t0, t0.Add(-time.Hour))
	must(t, "failure", err)
	link(invited, gatehouse.TokenPasswordReset, "reset")
	e := &gatehouse.AuditEvent{At: t0, Type: "password.reset"}
	got, err = s.UseLink(ctx, w.ID, gatehouse.LinkUse{Kind: gatehouse.TokenPasswordReset, Hash: hash("reset"), PasswordHash: "$argon2id$reset",
		SignOut: true, ClearThrottle: "acct:new@example.com", Audit: e}, t0.Add(3*time.Minute))
	must(t, "reset", err)
	st := stateOf(t, s, w.ID, invited.ID, "nia1")
	if got.PasswordHash != "$argon2id$reset" || got.Name != "Nia" || st.sessions != 0 || st.devices != 0 {
		t.Fatalf("after reset: %+v, %+v", got, st)
	}
	if th, err := s.FindThrottle(ctx, w.ID, "acct:new@example.com"); err != nil || th.Failures != 0 {
		t.Fatalf("throttle after reset = %+v, %v", th, err)
	}
	if e.ID == 0 || e.TargetID != invited.ID || e.ActorID != invited.ID {
		t.Fatalf("reset event = %+v", e)
	}
}

func testPromote(t *testing.T, s Store, w *gatehouse.Workspace) {
	ctx := context.Background()
	u := MustCreateUser(t, s, w.ID, "pat@example.com", gatehouse.RoleClient)
	must(t, "pending", s.CreateSession(ctx, w.ID, newSession(u.ID, "pending", t0), fakeHash))
	next := newSession(u.ID, "promoted", t0)
	now := t0.Add(time.Minute)
	next.MFAVerifiedAt = &now
	must(t, "promote", s.PromoteSession(ctx, w.ID, hash("pending"), next))
	if next.ID == 0 {
		t.Fatal("PromoteSession did not set ID")
	}
	if _, err := s.FindVisit(ctx, w.ID, hash("pending")); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("the pending session survived its promotion: %v", err)
	}
	v, err := s.FindVisit(ctx, w.ID, hash("promoted"))
	must(t, "promoted session", err)
	if v.Session.MFAVerifiedAt == nil || !v.Session.MFAVerifiedAt.Equal(now) {
		t.Fatalf("promoted session = %+v", v.Session)
	}
	wantNotFound(t, "promote again", s.PromoteSession(ctx, w.ID, hash("pending"), newSession(u.ID, "second", t0)))
	if _, err := s.FindVisit(ctx, w.ID, hash("second")); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("a refused promotion stored a session: %v", err)
	}

	// Many requests pass the gate with one pending session at once:
	// exactly one gets a session.
	must(t, "pending 2", s.CreateSession(ctx, w.ID, newSession(u.ID, "pending2", t0), fakeHash))
	made := 0
	tokens := make([]string, 8)
	for i := range tokens {
		tokens[i] = fmt.Sprint("racer", i)
	}
	idx := make(chan int, len(tokens))
	for i := range tokens {
		idx <- i
	}
	if got := race(t, len(tokens), func() error {
		i := <-idx
		return s.PromoteSession(ctx, w.ID, hash("pending2"), newSession(u.ID, tokens[i], t0))
	}); got != 1 {
		t.Fatalf("%d of %d promotions of one pending session succeeded, want 1", got, len(tokens))
	}
	for _, tok := range tokens {
		if _, err := s.FindVisit(ctx, w.ID, hash(tok)); err == nil {
			made++
		}
	}
	if made != 1 {
		t.Fatalf("%d sessions made from one pending session, want 1", made)
	}
}

// testIssueTokenRace: two (or more) link requests at once leave exactly
// one live link.
func testIssueTokenRace(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	const n = 8
	for round := range 3 {
		idx := make(chan int, n)
		for i := range n {
			idx <- i
		}
		tok := func(i int) []byte { return hash(fmt.Sprint("link", round, "-", i)) }
		if got := race(t, n, func() error {
			i := <-idx
			return s.IssueToken(ctx, w.ID, &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenPasswordReset, Hash: tok(i), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		}); got != n {
			t.Fatalf("round %d: %d of %d issues succeeded", round, got, n)
		}
		live := 0
		for i := range n {
			if _, err := s.FindToken(ctx, w.ID, gatehouse.TokenPasswordReset, tok(i), t0); err == nil {
				live++
			}
		}
		if live != 1 {
			t.Fatalf("round %d: %d live links after %d requests at once, want 1", round, live, n)
		}
	}
}

// Breaker makes every later INSERT into the table fail, to inject a
// failure into the middle of an operation.
type Breaker func(tb testing.TB, s Store, table string)

// RunAtomic checks that each business operation happens whole or not at
// all: with its last write made to fail, none of its earlier writes stays.
func RunAtomic(t *testing.T, open Opener, breakInserts Breaker) {
	ctx := context.Background()
	setup := func(t *testing.T) (Store, *gatehouse.Workspace, *gatehouse.User, state) {
		s := open(t)
		w := MustCreateWorkspace(t, s, "acme")
		u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
		signedIn(t, s, w.ID, u.ID, "here")
		signedIn(t, s, w.ID, u.ID, "there")
		must(t, "factor", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: t0}))
		must(t, "pending factor", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Secret: []byte("s"), CreatedAt: t0}))
		must(t, "codes", s.ReplaceRecoveryCodes(ctx, w.ID, u.ID, [][]byte{hash("r1")}, t0))
		_, err := s.AddFailure(ctx, w.ID, fmt.Sprint("mfa:", u.ID), t0, t0.Add(-time.Hour))
		must(t, "failure", err)
		must(t, "reset link", s.IssueToken(ctx, w.ID, &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenPasswordReset, Hash: hash("reset"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		return s, w, u, stateOf(t, s, w.ID, u.ID, "here", "there")
	}
	event := func(typ string) *gatehouse.AuditEvent { return &gatehouse.AuditEvent{At: t0, Type: typ} }
	tests := []struct {
		name  string
		table string
		op    func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error
	}{
		{"admin reset", "audit_events", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			return s.ResetMFA(ctx, w.ID, u.ID, fmt.Sprint("mfa:", u.ID), event("mfa.reset"))
		}},
		{"password change", "audit_events", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			return s.SetPassword(ctx, w.ID, u.ID, "$argon2id$new", hash("here"), t0, event("password.changed"))
		}},
		{"password reset", "audit_events", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			_, err := s.UseLink(ctx, w.ID, gatehouse.LinkUse{Kind: gatehouse.TokenPasswordReset, Hash: hash("reset"), PasswordHash: "$argon2id$new",
				SignOut: true, ClearThrottle: fmt.Sprint("mfa:", u.ID), Audit: event("password.reset")}, t0)
			return err
		}},
		{"disabling", "audit_events", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			return s.SetUserDisabled(ctx, w.ID, u.ID, true, t0, event("user.disabled"))
		}},
		{"adding a method", "audit_events", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			fs, err := s.FindFactors(ctx, w.ID, u.ID)
			must(t, "factors", err)
			for _, f := range fs {
				if !f.Active {
					_, err := s.AddMethod(ctx, w.ID, &f, [][]byte{hash("r9")}, hash("here"), t0, event("mfa.method.added"))
					return err
				}
			}
			t.Fatal("no pending factor")
			return nil
		}},
		{"disabling a method", "audit_events", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			return s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodEmail, nil, hash("here"), event("mfa.method.removed"))
		}},
		{"passing the gate", "sessions", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			return s.PromoteSession(ctx, w.ID, hash("here"), newSession(u.ID, "next", t0))
		}},
		{"issuing a link", "tokens", func(s Store, w *gatehouse.Workspace, u *gatehouse.User) error {
			return s.IssueToken(ctx, w.ID, &gatehouse.Token{UserID: u.ID, Kind: gatehouse.TokenPasswordReset, Hash: hash("reset2"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, w, u, before := setup(t)
			breakInserts(t, s, tt.table)
			if err := tt.op(s, w, u); err == nil {
				t.Fatalf("%s succeeded with inserts into %s failing", tt.name, tt.table)
			}
			if after := stateOf(t, s, w.ID, u.ID, "here", "there"); after != before {
				t.Errorf("a failed %s left %+v, want %+v as before", tt.name, after, before)
			}
			if _, err := s.FindToken(ctx, w.ID, gatehouse.TokenPasswordReset, hash("reset"), t0); err != nil {
				t.Errorf("a failed %s spent or voided the reset link: %v", tt.name, err)
			}
		})
	}
}

// activate turns the pending factor f on through AddMethod, keeping the
// session "ann" and storing no recovery codes.
func activate(s Store, workspaceID int64, f *mfa.Factor, at time.Time) error {
	_, err := s.AddMethod(context.Background(), workspaceID, f, nil, hash("ann"), at, nil)
	return err
}

// testAddMethod: turning a method on ends the user's other sessions and
// stores recovery codes only when the user has none left.
func testAddMethod(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	totp := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Secret: []byte("sealed"), CreatedAt: t0}
	must(t, "pending totp", s.SaveFactor(ctx, w.ID, totp))
	signedIn(t, s, w.ID, u.ID, "here")
	signedIn(t, s, w.ID, u.ID, "there")
	e := &gatehouse.AuditEvent{At: t0, ActorID: u.ID, TargetID: u.ID, Type: "mfa.method.added", Detail: "totp"}
	issued, err := s.AddMethod(ctx, w.ID, totp, [][]byte{hash("r1"), hash("r2")}, hash("here"), t0.Add(time.Minute), e)
	must(t, "add totp", err)
	st := stateOf(t, s, w.ID, u.ID, "here", "there")
	if !issued || st.unused != 2 || st.sessions != 1 || st.devices != 2 || st.audit != 1 || e.ID == 0 {
		t.Fatalf("after the first method: issued %t, %+v; want codes issued, 2 codes, the kept session, devices kept, 1 event", issued, st)
	}
	if _, err := s.FindVisit(ctx, w.ID, hash("here")); err != nil {
		t.Fatalf("the session that added the method: %v", err)
	}
	// A method with nothing to confirm is saved active; the user has codes,
	// so none are stored.
	email := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: t0, ConfirmedAt: &t0}
	issued, err = s.AddMethod(ctx, w.ID, email, [][]byte{hash("r3")}, hash("here"), t0.Add(2*time.Minute), nil)
	must(t, "add email", err)
	fs, err := s.FindFactors(ctx, w.ID, u.ID)
	must(t, "factors", err)
	if issued || len(fs) != 2 || !fs[0].Active || !fs[1].Active || email.ID == 0 {
		t.Fatalf("after the second method: issued %t, factors %+v", issued, fs)
	}
	if n, err := s.CountRecoveryCodes(ctx, w.ID, u.ID); err != nil || n != 2 {
		t.Fatalf("recovery codes = %d, %v; want the first 2", n, err)
	}
	_, err = s.AddMethod(ctx, w.ID, totp, nil, hash("here"), t0, nil)
	wantNotFound(t, "add an active method again", err)
}

// testRemoveMethod: disabling a method ends the user's other sessions, and
// voids the recovery codes only with the last active method.
func testRemoveMethod(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	for _, m := range []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail} {
		must(t, "factor", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: m, Active: true, CreatedAt: t0}))
	}
	must(t, "pending sms", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodSMS, Phone: "+15551234567", CreatedAt: t0}))
	must(t, "codes", s.ReplaceRecoveryCodes(ctx, w.ID, u.ID, [][]byte{hash("r1"), hash("r2")}, t0))
	signedIn(t, s, w.ID, u.ID, "here")
	signedIn(t, s, w.ID, u.ID, "there")

	e := &gatehouse.AuditEvent{At: t0, ActorID: u.ID, TargetID: u.ID, Type: "mfa.method.removed", Detail: "totp"}
	must(t, "remove totp", s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodTOTP, nil, hash("here"), e))
	st := stateOf(t, s, w.ID, u.ID, "here", "there")
	if st.factors != 2 || st.unused != 2 || st.sessions != 1 || st.devices != 2 || st.audit != 1 || e.ID == 0 {
		t.Fatalf("after removing one of two active methods: %+v, want 2 factors, 2 codes, 1 session, devices kept, 1 event", st)
	}
	// A pending factor is no active method: removing the last active one
	// voids the codes.
	must(t, "remove email", s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodEmail, nil, hash("here"), nil))
	if st := stateOf(t, s, w.ID, u.ID, "here"); st.factors != 1 || st.unused != 0 || st.sessions != 1 {
		t.Fatalf("after removing the last active method: %+v, want the pending factor, no codes, the kept session", st)
	}
}

// both runs a and b at once and returns their errors.
func both(a, b func() error) (error, error) {
	var wg sync.WaitGroup
	var ea, eb error
	start := make(chan struct{})
	wg.Go(func() { <-start; ea = a() })
	wg.Go(func() { <-start; eb = b() })
	close(start)
	wg.Wait()
	return ea, eb
}

// wantOneLastMethod fails tb unless exactly one of ea, eb is nil and the
// other mfa.ErrLastMethod.
func wantOneLastMethod(tb testing.TB, what string, ea, eb error) {
	tb.Helper()
	if (ea == nil) == (eb == nil) || !errors.Is(errors.Join(ea, eb), mfa.ErrLastMethod) {
		tb.Errorf("%s: %v and %v; want one to pass and one ErrLastMethod", what, ea, eb)
	}
}

// testRemoveKeepsOne: with keepOneOf, the last active method of those is
// refused with nothing changed, judged in the transaction: of two removals
// at once of a user's two methods, one passes.
func testRemoveKeepsOne(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	keep := []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodEmail}
	for round := range 5 {
		u := MustCreateUser(t, s, w.ID, fmt.Sprintf("u%d@example.com", round), gatehouse.RoleClient)
		for _, m := range keep {
			must(t, "factor", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: m, Active: true, CreatedAt: t0}))
		}
		must(t, "codes", s.ReplaceRecoveryCodes(ctx, w.ID, u.ID, [][]byte{hash("r1"), hash("r2")}, t0))
		ea, eb := both(
			func() error { return s.RemoveMethod(ctx, w.ID, u.ID, keep[0], keep, nil, nil) },
			func() error { return s.RemoveMethod(ctx, w.ID, u.ID, keep[1], keep, nil, nil) })
		wantOneLastMethod(t, "two removals at once", ea, eb)
		if st := stateOf(t, s, w.ID, u.ID); st.factors != 1 || st.unused != 2 {
			t.Fatalf("round %d: %+v, want one method and the 2 codes", round, st)
		}
	}
	// An active method that is not allowed does not count.
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	for _, m := range []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodSMS} {
		must(t, "factor", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: m, Phone: "+15551234567", Active: true, CreatedAt: t0}))
	}
	signedIn(t, s, w.ID, u.ID, "here")
	signedIn(t, s, w.ID, u.ID, "there")
	before := stateOf(t, s, w.ID, u.ID, "here", "there")
	err := s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodTOTP, keep, hash("here"), &gatehouse.AuditEvent{At: t0, Type: "mfa.method.removed"})
	if !errors.Is(err, mfa.ErrLastMethod) {
		t.Errorf("removing the last allowed method: %v, want ErrLastMethod", err)
	}
	if after := stateOf(t, s, w.ID, u.ID, "here", "there"); after != before {
		t.Errorf("a refused removal left %+v, want %+v", after, before)
	}
	must(t, "remove the method not allowed", s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodSMS, keep, hash("here"), nil))
}

// testInviteeRole: an invitee's role changes only while they have no
// password; a member's stays, with ErrNotFound.
func testInviteeRole(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	inv := &gatehouse.User{Email: "inv@example.com", Role: gatehouse.RoleClient, CreatedAt: t0, UpdatedAt: t0}
	must(t, "invitee", s.CreateUser(ctx, w.ID, inv))
	member := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	must(t, "invitee role", s.SetInviteeRole(ctx, w.ID, inv.ID, gatehouse.RoleAdmin, 0, t0.Add(time.Minute)))
	if u, err := s.FindUserByID(ctx, w.ID, inv.ID); err != nil || u.Role != gatehouse.RoleAdmin || !u.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("invitee after the change: %+v, %v", u, err)
	}
	wantNotFound(t, "member role", s.SetInviteeRole(ctx, w.ID, member.ID, gatehouse.RoleAdmin, 0, t0.Add(time.Minute)))
	if u, err := s.FindUserByID(ctx, w.ID, member.ID); err != nil || u.Role != gatehouse.RoleClient || !u.UpdatedAt.Equal(member.UpdatedAt) {
		t.Fatalf("member after a refused change: %+v, %v", u, err)
	}
}

// testChangePhone: a new number replaces the SMS factor with a pending one
// and lifts the minute between texts, in one transaction; with keepOneOf it
// is refused, with nothing changed, when no active method of those would
// remain, also when a removal runs at the same moment.
func testChangePhone(t *testing.T, s Store) {
	ctx := context.Background()
	w := MustCreateWorkspace(t, s, "acme")
	keep := []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodSMS}
	oldPhone, newPhone := "+15551230001", "+15551230002"
	u := MustCreateUser(t, s, w.ID, "ann@example.com", gatehouse.RoleClient)
	for _, m := range keep {
		must(t, "factor", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: m, Phone: oldPhone, Active: true, CreatedAt: t0}))
	}
	sent := t0.Add(time.Minute)
	if ok, _, err := s.ReserveSend(ctx, w.ID, u.ID, gatehouse.MethodSMS, sent, sent.Add(-time.Minute), sent.Add(-time.Hour), 10); err != nil || !ok {
		t.Fatalf("reserve a text: %v %v", ok, err)
	}
	f := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodSMS, Phone: newPhone, CreatedAt: sent}
	must(t, "change phone", s.ChangePhone(ctx, w.ID, f, keep, sent.Add(-time.Minute)))
	fs, err := s.FindFactors(ctx, w.ID, u.ID)
	must(t, "factors", err)
	var got *mfa.Factor
	for i := range fs {
		if fs[i].Method == gatehouse.MethodSMS {
			got = &fs[i]
		}
	}
	if got == nil || got.Active || got.Phone != newPhone || got.ID != f.ID || f.ID == 0 {
		t.Fatalf("SMS factor after the change: %+v (saved ID %d); want pending with %s", got, f.ID, newPhone)
	}
	if c, err := s.FindSendClock(ctx, w.ID, u.ID, gatehouse.MethodSMS); err != nil || !c.LastSentAt.Equal(sent.Add(-time.Minute)) {
		t.Fatalf("send clock after the change: %+v, %v; want the last send moved back a minute", c, err)
	}

	// With SMS the only active allowed method, a new number is refused.
	only := MustCreateUser(t, s, w.ID, "bob@example.com", gatehouse.RoleClient)
	must(t, "sms", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: only.ID, Method: gatehouse.MethodSMS, Phone: oldPhone, Active: true, CreatedAt: t0}))
	before := stateOf(t, s, w.ID, only.ID)
	err = s.ChangePhone(ctx, w.ID, &mfa.Factor{UserID: only.ID, Method: gatehouse.MethodSMS, Phone: newPhone, CreatedAt: sent}, keep, sent)
	if !errors.Is(err, mfa.ErrLastMethod) {
		t.Errorf("new number for the last method: %v, want ErrLastMethod", err)
	}
	if fs, _ := s.FindFactors(ctx, w.ID, only.ID); len(fs) != 1 || !fs[0].Active || fs[0].Phone != oldPhone {
		t.Errorf("a refused change left %+v", fs)
	}
	if after := stateOf(t, s, w.ID, only.ID); after != before {
		t.Errorf("a refused change left %+v, want %+v", after, before)
	}
	// A user enrolling (no active method) may change a pending number.
	enrolling := MustCreateUser(t, s, w.ID, "cy@example.com", gatehouse.RoleClient)
	must(t, "pending sms", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: enrolling.ID, Method: gatehouse.MethodSMS, Phone: oldPhone, CreatedAt: t0}))
	must(t, "change a pending number", s.ChangePhone(ctx, w.ID, &mfa.Factor{UserID: enrolling.ID, Method: gatehouse.MethodSMS, Phone: newPhone, CreatedAt: sent}, keep, sent))
	// Outside required mode it goes through.
	must(t, "change phone, no rule", s.ChangePhone(ctx, w.ID, &mfa.Factor{UserID: only.ID, Method: gatehouse.MethodSMS, Phone: newPhone, CreatedAt: sent}, nil, sent))
	// Another workspace's user is not found.
	other := MustCreateWorkspace(t, s, "beta")
	wantNotFound(t, "change phone across workspaces", s.ChangePhone(ctx, other.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodSMS, Phone: newPhone, CreatedAt: sent}, nil, sent))

	// A removal of the other method and a new number at once: one passes.
	for round := range 5 {
		u := MustCreateUser(t, s, w.ID, fmt.Sprintf("race%d@example.com", round), gatehouse.RoleClient)
		for _, m := range keep {
			must(t, "factor", s.SaveFactor(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: m, Phone: oldPhone, Active: true, CreatedAt: t0}))
		}
		ea, eb := both(
			func() error { return s.RemoveMethod(ctx, w.ID, u.ID, gatehouse.MethodTOTP, keep, nil, nil) },
			func() error {
				return s.ChangePhone(ctx, w.ID, &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodSMS, Phone: newPhone, CreatedAt: sent}, keep, sent)
			})
		wantOneLastMethod(t, "a removal and a new number at once", ea, eb)
	}
}
