package account_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
)

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)

	si := e.mustSignIn(t, e.ws, u, account.SignInOptions{UserAgent: "Firefox", IP: "192.0.2.1"})
	if len(si.Token) < 43 { // 256 bits in unpadded base64url
		t.Errorf("token %q is shorter than 256 bits", si.Token)
	}
	if !bytes.Equal(si.Session.TokenHash, account.HashToken(si.Token)) {
		t.Error("session's TokenHash is not HashToken(token)")
	}
	if bytes.Contains(si.Session.TokenHash, []byte(si.Token)) {
		t.Error("session stores the token itself")
	}

	v, err := e.svc.Visit(ctx, e.ws.ID, si.Token)
	if err != nil {
		t.Fatalf("visit: %v", err)
	}
	if v.Session.ID != si.Session.ID || v.User.ID != u.ID || v.Workspace.ID != e.ws.ID {
		t.Errorf("visit = session %d user %d workspace %d, want %d %d %d",
			v.Session.ID, v.User.ID, v.Workspace.ID, si.Session.ID, u.ID, e.ws.ID)
	}
	if v.Session.UserAgent != "Firefox" || v.Session.IP != "192.0.2.1" {
		t.Errorf("session user agent %q, IP %q", v.Session.UserAgent, v.Session.IP)
	}

	// The store finds it under the token's hash, not under the token.
	if _, err := e.db.FindVisit(ctx, e.ws.ID, account.HashToken(si.Token)); err != nil {
		t.Errorf("store lookup by the token's hash: %v", err)
	}
	if _, err := e.db.FindVisit(ctx, e.ws.ID, []byte(si.Token)); err == nil {
		t.Error("store found the session under the plain token")
	}

	// Two sign-ins make two different tokens.
	other := e.mustSignIn(t, e.ws, u, account.SignInOptions{})
	if other.Token == si.Token {
		t.Error("two sign-ins got the same token")
	}

	// A long user agent is cut to 256 bytes.
	long := e.mustSignIn(t, e.ws, u, account.SignInOptions{UserAgent: strings.Repeat("x", 1000)})
	if n := len(long.Session.UserAgent); n != 256 {
		t.Errorf("stored user agent is %d bytes, want 256", n)
	}
}

func TestSignInLifetimes(t *testing.T) {
	tests := []struct {
		name         string
		wsRemember   bool
		remember     bool
		wantRemember bool
		wantIdle     time.Duration
		wantAbsolute time.Duration
	}{
		{name: "remember me", wsRemember: true, remember: true, wantRemember: true, wantIdle: 7 * 24 * time.Hour, wantAbsolute: 30 * 24 * time.Hour},
		{name: "not asked", wsRemember: true, remember: false, wantIdle: time.Hour, wantAbsolute: 12 * time.Hour},
		{name: "asked but turned off by the owner", wsRemember: false, remember: true, wantIdle: time.Hour, wantAbsolute: 12 * time.Hour},
		{name: "neither", wsRemember: false, remember: false, wantIdle: time.Hour, wantAbsolute: 12 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			ws, err := e.db.UpdateWorkspace(ctx, e.ws.ID, gatehouse.WorkspaceUpdate{RememberMeEnabled: &tt.wsRemember}, e.ws.UpdatedAt)
			if err != nil {
				t.Fatal(err)
			}
			e.ws = ws
			u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleClient)
			si := e.mustSignIn(t, e.ws, u, account.SignInOptions{Remember: tt.remember})

			v, err := e.svc.Visit(ctx, e.ws.ID, si.Token)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []*gatehouse.Session{si.Session, &v.Session} {
				if s.Remember != tt.wantRemember || s.IdleTimeout != tt.wantIdle || !s.ExpiresAt.Equal(start.Add(tt.wantAbsolute)) {
					t.Errorf("session remember %v idle %v expires %v, want %v %v %v",
						s.Remember, s.IdleTimeout, s.ExpiresAt, tt.wantRemember, tt.wantIdle, start.Add(tt.wantAbsolute))
				}
			}

			// Just inside the idle timeout the session lives; then, untouched
			// for the whole timeout, it ends.
			e.clock.Advance(tt.wantIdle - time.Minute)
			if _, err := e.svc.Visit(ctx, e.ws.ID, si.Token); err != nil {
				t.Fatalf("visit after %v: %v", tt.wantIdle-time.Minute, err)
			}
			e.clock.Advance(tt.wantIdle)
			_, err = e.svc.Visit(ctx, e.ws.ID, si.Token)
			wantErr(t, "visit after the idle timeout", err, account.ErrNoSession)
		})
	}
}

func TestSignInReplaces(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	old := e.mustSignIn(t, e.ws, u, account.SignInOptions{})
	keep := e.mustSignIn(t, e.ws, u, account.SignInOptions{}) // another browser

	fresh := e.mustSignIn(t, e.ws, u, account.SignInOptions{Replaces: old.Token})
	_, err := e.svc.Visit(ctx, e.ws.ID, old.Token)
	wantErr(t, "replaced session", err, account.ErrNoSession)
	for name, tok := range map[string]string{"new session": fresh.Token, "other browser": keep.Token} {
		if _, err := e.svc.Visit(ctx, e.ws.ID, tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Replacing a token that is already gone is fine.
	e.mustSignIn(t, e.ws, u, account.SignInOptions{Replaces: old.Token})
}

func TestSignInRefused(t *testing.T) {
	e := newEnv(t)
	other := e.mustWorkspace(t, "globex", "Globex", nil)
	disabled := e.mustUser(t, e.ws, "dave@example.com", goodPassword, gatehouse.RoleMember)
	e.mustDisable(t, disabled)
	invited, _ := e.mustInvited(t, e.ws, "ivy@example.com", gatehouse.RoleMember)
	foreign := e.mustUser(t, other, "alice@example.com", goodPassword, gatehouse.RoleMember)

	tests := []struct {
		name string
		u    *gatehouse.User
	}{
		{name: "disabled user", u: disabled},
		{name: "invited user without a password", u: invited},
		{name: "user of another workspace", u: foreign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			si, err := e.svc.SignIn(context.Background(), e.ws, tt.u, account.SignInOptions{})
			wantErr(t, "sign in", err, account.ErrBadCredentials)
			if si != nil {
				t.Error("got a session with the error")
			}
		})
	}
}

func TestVisitIdleTimeout(t *testing.T) {
	tests := []struct {
		name    string
		idle    time.Duration
		wantErr error
	}{
		{name: "59 minutes", idle: 59 * time.Minute},
		{name: "exactly 60 minutes", idle: 60 * time.Minute, wantErr: account.ErrNoSession},
		{name: "61 minutes", idle: 61 * time.Minute, wantErr: account.ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
			si := e.mustSignIn(t, e.ws, u, account.SignInOptions{})
			e.clock.Advance(tt.idle)
			_, err := e.svc.Visit(context.Background(), e.ws.ID, si.Token)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("visit: %v", err)
			}
			wantErr(t, "visit", err, tt.wantErr)
		})
	}
}

func TestVisitAbsoluteTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	si := e.mustSignIn(t, e.ws, u, account.SignInOptions{})

	// Busy all day: a visit every 30 minutes keeps the idle timer fresh…
	for elapsed := 30 * time.Minute; elapsed < 12*time.Hour; elapsed += 30 * time.Minute {
		e.clock.Advance(30 * time.Minute)
		if _, err := e.svc.Visit(ctx, e.ws.ID, si.Token); err != nil {
			t.Fatalf("visit after %v: %v", elapsed, err)
		}
	}
	// …but 12 hours after sign-in the session ends anyway.
	e.clock.Advance(30 * time.Minute)
	_, err := e.svc.Visit(ctx, e.ws.ID, si.Token)
	wantErr(t, "visit at 12h", err, account.ErrNoSession)
}

func TestVisitTouchesOncePerMinute(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	si := e.mustSignIn(t, e.ws, u, account.SignInOptions{})
	storedLastSeen := func() time.Time {
		t.Helper()
		v, err := e.db.FindVisit(ctx, e.ws.ID, account.HashToken(si.Token))
		if err != nil {
			t.Fatal(err)
		}
		return v.Session.LastSeenAt
	}

	e.clock.Advance(30 * time.Second)
	v, err := e.svc.Visit(ctx, e.ws.ID, si.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got := storedLastSeen(); !got.Equal(start) || !v.Session.LastSeenAt.Equal(start) {
		t.Errorf("after 30s LastSeenAt = %v (returned %v), want unchanged %v", got, v.Session.LastSeenAt, start)
	}

	e.clock.Advance(31 * time.Second)
	v, err = e.svc.Visit(ctx, e.ws.ID, si.Token)
	if err != nil {
		t.Fatal(err)
	}
	want := start.Add(61 * time.Second)
	if got := storedLastSeen(); !got.Equal(want) || !v.Session.LastSeenAt.Equal(want) {
		t.Errorf("after 61s LastSeenAt = %v (returned %v), want %v", got, v.Session.LastSeenAt, want)
	}
}

func TestVisitRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	si := e.mustSignIn(t, e.ws, u, account.SignInOptions{})
	globex := e.mustWorkspace(t, "globex", "Globex", nil)
	changed := []byte(si.Token)
	changed[0] = map[bool]byte{true: 'B', false: 'A'}[changed[0] == 'A']

	tests := []struct {
		name        string
		workspaceID int64
		token       string
	}{
		{name: "empty token", workspaceID: e.ws.ID, token: ""},
		{name: "garbage token", workspaceID: e.ws.ID, token: "not-a-token"},
		{name: "token with a character changed", workspaceID: e.ws.ID, token: string(changed)},
		{name: "oversized token", workspaceID: e.ws.ID, token: si.Token + strings.Repeat("x", 1<<16)},
		{name: "token of workspace A at workspace B", workspaceID: globex.ID, token: si.Token},
		{name: "unknown workspace", workspaceID: 9999, token: si.Token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := e.svc.Visit(ctx, tt.workspaceID, tt.token)
			wantErr(t, "visit", err, account.ErrNoSession)
			if v != nil {
				t.Error("got a visit with the error")
			}
		})
	}
	// None of that harmed the real session.
	if _, err := e.svc.Visit(ctx, e.ws.ID, si.Token); err != nil {
		t.Fatalf("visit with the real token: %v", err)
	}
}

func TestVisitDisabledUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	si := e.mustSignIn(t, e.ws, u, account.SignInOptions{Remember: true})
	if _, err := e.svc.Visit(ctx, e.ws.ID, si.Token); err != nil {
		t.Fatal(err)
	}
	e.mustDisable(t, u)
	_, err := e.svc.Visit(ctx, e.ws.ID, si.Token)
	wantErr(t, "visit by a disabled user", err, account.ErrNoSession)
}

func TestSignOut(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	si := e.mustSignIn(t, e.ws, u, account.SignInOptions{})
	other := e.mustSignIn(t, e.ws, u, account.SignInOptions{})

	if err := e.svc.SignOut(ctx, e.ws.ID, si.Token); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Visit(ctx, e.ws.ID, si.Token)
	wantErr(t, "visit after sign-out", err, account.ErrNoSession)
	if _, err := e.svc.Visit(ctx, e.ws.ID, other.Token); err != nil {
		t.Errorf("other session after sign-out: %v", err)
	}
	for _, tok := range []string{"", si.Token, "garbage"} {
		if err := e.svc.SignOut(ctx, e.ws.ID, tok); err != nil {
			t.Errorf("sign out %q again: %v", tok, err)
		}
	}
}

// A sign-in whose password check passed just before a password change, a
// reset or a disable lands its session after that change's sign-out: the
// session is made only while the user still has the password that was
// checked and is enabled, so it is refused, not kept.
func TestSignInAfterPasswordChangeOrDisableIsRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, e *env, u *gatehouse.User)
	}{
		{"password changed", func(t *testing.T, e *env, u *gatehouse.User) {
			v, _ := e.visitOf(t, u)
			if err := e.svc.ChangePassword(ctx, v, otherPassword, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"disabled", func(t *testing.T, e *env, u *gatehouse.User) { e.mustDisable(t, u) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			carol := e.mustUser(t, e.ws, "carol@example.com", goodPassword, gatehouse.RoleClient)
			checked := e.mustAuth(t, "carol@example.com", goodPassword, "198.51.100.9")
			tt.change(t, e, carol)
			si, err := e.svc.SignIn(ctx, e.ws, checked, account.SignInOptions{IP: "198.51.100.9"})
			wantErr(t, "sign in", err, account.ErrBadCredentials)
			if si != nil {
				if _, err := e.svc.Visit(ctx, e.ws.ID, si.Token); err == nil {
					t.Error("a session made with the old password outlives the change")
				}
			}
		})
	}
}
