package account_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/password"
)

// badPasswords are refused for workspace "Acme Corp" with the given error.
var badPasswords = []struct {
	name     string
	password string
	want     error
}{
	{name: "too short", password: "k7#pQ2z", want: password.ErrTooShort},
	{name: "common", password: "password123", want: password.ErrCommon},
	{name: "common, other case", password: "IloveYou", want: password.ErrCommon},
	{name: "workspace name", password: "AcmeCorp2024!", want: password.ErrWorkspaceName},
	{name: "workspace slug", password: "acme-1234-5678", want: password.ErrWorkspaceName},
	{name: "too long", password: strings.Repeat("x", 300), want: password.ErrTooLong},
}

func TestInvite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	u, link, err := e.svc.Invite(ctx, e.ws, nil, "  New.Person@Example.COM ", gatehouse.RoleMember)
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	if u.Email != "new.person@example.com" || u.Role != gatehouse.RoleMember || u.PasswordHash != "" || u.WorkspaceID != e.ws.ID {
		t.Errorf("invited user = %+v", u)
	}
	token := tokenOf(t, e.ws, link, "/invite/")
	msgs := e.mail.to("new.person@example.com")
	if len(msgs) != 1 {
		t.Fatalf("sent %d e-mails to the invitee, want 1", len(msgs))
	}
	if m := msgs[0]; m.WorkspaceID != e.ws.ID || !strings.Contains(m.Subject, "Acme Corp") || !strings.Contains(m.Body, link) {
		t.Errorf("invitation e-mail = %+v, want it in workspace %d, naming Acme Corp and carrying %s", m, e.ws.ID, link)
	}
	if got := e.mail.lastLink(t, "new.person@example.com"); got != link {
		t.Errorf("e-mailed link %q, returned link %q", got, link)
	}

	got, err := e.svc.LinkUser(ctx, e.ws, gatehouse.TokenInvite, token)
	if err != nil || got.ID != u.ID {
		t.Fatalf("LinkUser = %v, %v; want user %d", got, err, u.ID)
	}
	// The link is for invitations only, and only in its workspace.
	_, err = e.svc.LinkUser(ctx, e.ws, gatehouse.TokenPasswordReset, token)
	wantErr(t, "invitation link used as a reset link", err, account.ErrLinkInvalid)
	globex := e.mustWorkspace(t, "globex", "Globex", nil)
	_, err = e.svc.LinkUser(ctx, globex, gatehouse.TokenInvite, token)
	wantErr(t, "invitation link at another workspace", err, account.ErrLinkInvalid)
	_, err = e.svc.AcceptInvite(ctx, globex, token, "Mallory", goodPassword)
	wantErr(t, "accept at another workspace", err, account.ErrLinkInvalid)

	// Until accepted, the invitee cannot sign in.
	_, err = e.auth("new.person@example.com", goodPassword, "192.0.2.1")
	wantErr(t, "sign in before accepting", err, account.ErrBadCredentials)
}

func TestAcceptInvite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, token := e.mustInvited(t, e.ws, "bob@example.com", gatehouse.RoleAdmin)

	for _, tt := range badPasswords {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.AcceptInvite(ctx, e.ws, token, "Bob", tt.password)
			wantErr(t, "accept", err, tt.want)
			// Bad input must not burn the link.
			if _, err := e.svc.LinkUser(ctx, e.ws, gatehouse.TokenInvite, token); err != nil {
				t.Fatalf("link after a refused password: %v", err)
			}
			if got := e.mustFindUser(t, e.ws, "bob@example.com"); got.PasswordHash != "" || got.Name != "" {
				t.Errorf("refused password changed the user: %+v", got)
			}
		})
	}

	e.clock.Advance(time.Hour)
	got, err := e.svc.AcceptInvite(ctx, e.ws, token, "  Bob Builder ", goodPassword)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if got.ID != u.ID || got.Name != "Bob Builder" || got.Role != gatehouse.RoleAdmin || !got.Active() {
		t.Errorf("accepted user = %+v", got)
	}
	stored := e.mustFindUser(t, e.ws, "bob@example.com")
	if stored.Name != "Bob Builder" || !stored.UpdatedAt.Equal(e.clock.Now()) {
		t.Errorf("stored user = %+v", stored)
	}
	if a := e.mustAuth(t, "bob@example.com", goodPassword, "192.0.2.1"); a.ID != u.ID {
		t.Errorf("authenticated as %d, want %d", a.ID, u.ID)
	}
	e.mustSignIn(t, e.ws, got, account.SignInOptions{})

	// Single use.
	_, err = e.svc.AcceptInvite(ctx, e.ws, token, "Mallory", otherPassword)
	wantErr(t, "second use", err, account.ErrLinkInvalid)
	_, err = e.svc.LinkUser(ctx, e.ws, gatehouse.TokenInvite, token)
	wantErr(t, "LinkUser after use", err, account.ErrLinkInvalid)
	if got := e.mustFindUser(t, e.ws, "bob@example.com"); got.PasswordHash != stored.PasswordHash || got.Name != "Bob Builder" {
		t.Error("a second use changed the user")
	}
	e.mustAuth(t, "bob@example.com", goodPassword, "192.0.2.1")
}

func TestAcceptInviteUnknownToken(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "garbage", strings.Repeat("A", 43)} {
		_, err := e.svc.AcceptInvite(context.Background(), e.ws, tok, "X", goodPassword)
		wantErr(t, fmt.Sprintf("accept %q", tok), err, account.ErrLinkInvalid)
	}
}

func TestInviteExpiry(t *testing.T) {
	tests := []struct {
		name    string
		after   time.Duration
		wantErr error
	}{
		{name: "a second before 7 days", after: 7*24*time.Hour - time.Second},
		{name: "at 7 days", after: 7 * 24 * time.Hour, wantErr: account.ErrLinkInvalid},
		{name: "after 8 days", after: 8 * 24 * time.Hour, wantErr: account.ErrLinkInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, token := e.mustInvited(t, e.ws, "bob@example.com", gatehouse.RoleMember)
			e.clock.Advance(tt.after)
			_, err := e.svc.AcceptInvite(context.Background(), e.ws, token, "Bob", goodPassword)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("accept: %v", err)
				}
				e.mustAuth(t, "bob@example.com", goodPassword, "192.0.2.1")
				return
			}
			wantErr(t, "accept", err, tt.wantErr)
		})
	}
}

func TestReinviteVoidsOldLink(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, oldToken := e.mustInvited(t, e.ws, "bob@example.com", gatehouse.RoleClient)
	e.clock.Advance(time.Hour)
	second, newToken := e.mustInvited(t, e.ws, "BOB@example.com", gatehouse.RoleMember)

	if second.ID != first.ID {
		t.Errorf("re-invitation made user %d, want the same user %d", second.ID, first.ID)
	}
	if second.Role != gatehouse.RoleMember || e.mustFindUser(t, e.ws, "bob@example.com").Role != gatehouse.RoleMember {
		t.Error("re-invitation did not change the role")
	}
	if n := len(e.mail.to("bob@example.com")); n != 2 {
		t.Errorf("sent %d e-mails, want 2", n)
	}
	if got := e.lastToken(t, e.ws, "bob@example.com", "/invite/"); got != newToken {
		t.Error("last e-mail does not carry the new link")
	}

	_, err := e.svc.LinkUser(ctx, e.ws, gatehouse.TokenInvite, oldToken)
	wantErr(t, "old link", err, account.ErrLinkInvalid)
	_, err = e.svc.AcceptInvite(ctx, e.ws, oldToken, "Bob", goodPassword)
	wantErr(t, "accept with old link", err, account.ErrLinkInvalid)

	// The new link lives its full 7 days from the re-invitation.
	e.clock.Advance(7*24*time.Hour - time.Minute)
	if _, err := e.svc.AcceptInvite(ctx, e.ws, newToken, "Bob", goodPassword); err != nil {
		t.Fatalf("accept with new link: %v", err)
	}
}

func TestInviteRefused(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	dave := e.mustUser(t, e.ws, "dave@example.com", goodPassword, gatehouse.RoleMember)
	e.mustDisable(t, dave)

	tests := []struct {
		name  string
		email string
		role  gatehouse.Role
		want  error
	}{
		{name: "active member", email: "alice@example.com", role: gatehouse.RoleMember, want: account.ErrAlreadyMember},
		{name: "active member, other case", email: " ALICE@example.com", role: gatehouse.RoleAdmin, want: account.ErrAlreadyMember},
		{name: "disabled member", email: "dave@example.com", role: gatehouse.RoleMember, want: account.ErrAlreadyMember},
		{name: "as owner", email: "carol@example.com", role: gatehouse.RoleOwner, want: gatehouse.ErrInvalid},
		{name: "bad e-mail", email: "not an address", role: gatehouse.RoleMember, want: account.ErrBadEmail},
		{name: "display-name form", email: "Carol <carol@example.com>", role: gatehouse.RoleMember, want: account.ErrBadEmail},
		{name: "255 bytes", email: strings.Repeat("c", 64) + "@" + strings.Repeat("d", 186) + ".com", role: gatehouse.RoleMember, want: account.ErrEmailTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.mail.all())
			u, link, err := e.svc.Invite(context.Background(), e.ws, nil, tt.email, tt.role)
			wantErr(t, "invite", err, tt.want)
			if u != nil || link != "" {
				t.Errorf("got user %v and link %q with the error", u, link)
			}
			if n := len(e.mail.all()) - before; n != 0 {
				t.Errorf("sent %d e-mails", n)
			}
		})
	}
	if _, err := e.db.FindUserByEmail(context.Background(), e.ws.ID, "carol@example.com"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("a refused invitation created carol: %v", err)
	}
	e.mustAuth(t, "alice@example.com", goodPassword, "192.0.2.1")
	if got := e.mustFindUser(t, e.ws, "alice@example.com"); got.Role != gatehouse.RoleMember {
		t.Errorf("a refused invitation changed alice's role to %s", got.Role)
	}
}

// race runs f from n goroutines released at once and returns their errors.
func race(tb testing.TB, n int, f func(i int) error) []error {
	tb.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			errs[i] = f(i)
		})
	}
	close(gate)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and the rest are
// ErrLinkInvalid, and returns the winner's index.
func oneWinner(tb testing.TB, errs []error) int {
	tb.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			tb.Errorf("goroutines %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, account.ErrLinkInvalid):
			tb.Errorf("goroutine %d: got %v, want ErrLinkInvalid", i, err)
		}
	}
	if winner < 0 {
		tb.Fatalf("no goroutine succeeded: %v", errs)
	}
	return winner
}

func TestAcceptInviteRace(t *testing.T) {
	e := newEnv(t)
	_, token := e.mustInvited(t, e.ws, "bob@example.com", gatehouse.RoleMember)
	pw := func(i int) string { return fmt.Sprintf("invite-race-%d-Quokka", i) }

	errs := race(t, 8, func(i int) error {
		_, err := e.svc.AcceptInvite(context.Background(), e.ws, token, fmt.Sprintf("Bob %d", i), pw(i))
		return err
	})
	w := oneWinner(t, errs)

	u := e.mustFindUser(t, e.ws, "bob@example.com")
	if want := fmt.Sprintf("Bob %d", w); u.Name != want {
		t.Errorf("name = %q, want the winner's %q", u.Name, want)
	}
	e.mustAuth(t, "bob@example.com", pw(w), "192.0.2.1")
	for i := range errs {
		if ok, _, err := e.svc.Hasher.Verify(context.Background(), pw(i), u.PasswordHash); i != w && (ok || err != nil) {
			t.Errorf("loser %d's password: Verify = %v, %v; want false, nil", i, ok, err)
		}
	}
}

func TestResetPasswordRace(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	if err := e.svc.RequestReset(context.Background(), e.ws, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	token := e.lastToken(t, e.ws, "alice@example.com", "/password/reset/")
	pw := func(i int) string { return fmt.Sprintf("reset-race-%d-Pangolin", i) }

	errs := race(t, 8, func(i int) error {
		_, err := e.svc.ResetPassword(context.Background(), e.ws, token, pw(i))
		return err
	})
	w := oneWinner(t, errs)
	e.mustAuth(t, "alice@example.com", pw(w), "192.0.2.1")
	_, err := e.auth("alice@example.com", goodPassword, "192.0.2.2")
	wantErr(t, "old password", err, account.ErrBadCredentials)
}

func TestRequestResetSendsNothing(t *testing.T) {
	e := newEnv(t)
	dave := e.mustUser(t, e.ws, "dave@example.com", goodPassword, gatehouse.RoleMember)
	e.mustDisable(t, dave)
	e.mustInvited(t, e.ws, "ivy@example.com", gatehouse.RoleMember)
	if err := e.svc.SignUp(context.Background(), e.ws, "Pat", "pending@example.com", goodPassword); err != nil {
		t.Fatal(err)
	}
	globex := e.mustWorkspace(t, "globex", "Globex", nil)
	e.mustUser(t, globex, "gina@example.com", goodPassword, gatehouse.RoleMember)

	tests := []struct {
		name  string
		email string
	}{
		{name: "unknown", email: "nobody@example.com"},
		{name: "disabled", email: "dave@example.com"},
		{name: "invited only", email: "ivy@example.com"},
		{name: "sign-up not confirmed", email: "pending@example.com"},
		{name: "member of another workspace", email: "gina@example.com"},
		{name: "not an address", email: "<script>"},
		{name: "empty", email: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.mail.all())
			if err := e.svc.RequestReset(context.Background(), e.ws, tt.email); err != nil {
				t.Fatalf("request reset: %v", err)
			}
			if n := len(e.mail.all()) - before; n != 0 {
				t.Errorf("sent %d e-mails", n)
			}
		})
	}
}

func TestRequestResetExpiry(t *testing.T) {
	tests := []struct {
		name    string
		after   time.Duration
		wantErr error
	}{
		{name: "59 minutes", after: 59 * time.Minute},
		{name: "at 1 hour", after: time.Hour, wantErr: account.ErrLinkInvalid},
		{name: "a day", after: 24 * time.Hour, wantErr: account.ErrLinkInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
			if err := e.svc.RequestReset(ctx, e.ws, "  Alice@Example.com "); err != nil {
				t.Fatal(err)
			}
			msgs := e.mail.to("alice@example.com")
			if len(msgs) != 1 || msgs[0].WorkspaceID != e.ws.ID || !strings.Contains(msgs[0].Subject, "Acme Corp") {
				t.Fatalf("reset e-mails = %+v", msgs)
			}
			token := e.lastToken(t, e.ws, "alice@example.com", "/password/reset/")

			e.clock.Advance(tt.after)
			got, err := e.svc.LinkUser(ctx, e.ws, gatehouse.TokenPasswordReset, token)
			if tt.wantErr != nil {
				wantErr(t, "LinkUser", err, tt.wantErr)
				_, err = e.svc.ResetPassword(ctx, e.ws, token, otherPassword)
				wantErr(t, "reset", err, tt.wantErr)
				e.mustAuth(t, "alice@example.com", goodPassword, "192.0.2.1")
				return
			}
			if err != nil || got.ID != u.ID {
				t.Fatalf("LinkUser = %v, %v; want user %d", got, err, u.ID)
			}
			if _, err := e.svc.ResetPassword(ctx, e.ws, token, otherPassword); err != nil {
				t.Fatalf("reset: %v", err)
			}
		})
	}
}

func TestRequestResetVoidsOlderLink(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	if err := e.svc.RequestReset(ctx, e.ws, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	first := e.lastToken(t, e.ws, "alice@example.com", "/password/reset/")
	if err := e.svc.RequestReset(ctx, e.ws, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	second := e.lastToken(t, e.ws, "alice@example.com", "/password/reset/")
	if first == second {
		t.Fatal("two requests got the same link")
	}
	_, err := e.svc.ResetPassword(ctx, e.ws, first, otherPassword)
	wantErr(t, "older link", err, account.ErrLinkInvalid)
	if _, err := e.svc.ResetPassword(ctx, e.ws, second, otherPassword); err != nil {
		t.Fatalf("newer link: %v", err)
	}
}

func TestResetPassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	bob := e.mustUser(t, e.ws, "bob@example.com", goodPassword, gatehouse.RoleMember)
	s1 := e.mustSignIn(t, e.ws, u, account.SignInOptions{})
	s2 := e.mustSignIn(t, e.ws, u, account.SignInOptions{Remember: true})
	bobs := e.mustSignIn(t, e.ws, bob, account.SignInOptions{})

	// Someone has been guessing: the account is paused.
	for i := range 6 {
		e.auth("alice@example.com", fmt.Sprintf("guess-%d", i), fmt.Sprintf("203.0.113.%d", i))
	}
	_, err := e.auth("alice@example.com", goodPassword, "192.0.2.1")
	wantThrottled(t, "before the reset", err)

	if err := e.svc.RequestReset(ctx, e.ws, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	token := e.lastToken(t, e.ws, "alice@example.com", "/password/reset/")

	for _, tt := range badPasswords {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.ResetPassword(ctx, e.ws, token, tt.password)
			wantErr(t, "reset", err, tt.want)
			if _, err := e.svc.LinkUser(ctx, e.ws, gatehouse.TokenPasswordReset, token); err != nil {
				t.Fatalf("link after a refused password: %v", err)
			}
			// A refused password ends nothing.
			if _, err := e.svc.Visit(ctx, e.ws.ID, s1.Token); err != nil {
				t.Errorf("session after a refused password: %v", err)
			}
		})
	}

	e.clock.Advance(time.Minute)
	got, err := e.svc.ResetPassword(ctx, e.ws, token, otherPassword)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	if got.ID != u.ID {
		t.Errorf("reset user %d, want %d", got.ID, u.ID)
	}
	for name, tok := range map[string]string{"first session": s1.Token, "remembered session": s2.Token} {
		_, err := e.svc.Visit(ctx, e.ws.ID, tok)
		wantErr(t, name+" after reset", err, account.ErrNoSession)
	}
	if _, err := e.svc.Visit(ctx, e.ws.ID, bobs.Token); err != nil {
		t.Errorf("another user's session after reset: %v", err)
	}

	th, err := e.db.FindThrottle(ctx, e.ws.ID, "acct:alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if th.Failures != 0 {
		t.Errorf("account throttle after reset has %d failures, want 0", th.Failures)
	}
	// Not throttled any more, and only the new password works.
	_, err = e.auth("alice@example.com", goodPassword, "192.0.2.1")
	wantErr(t, "old password", err, account.ErrBadCredentials)
	e.mustAuth(t, "alice@example.com", otherPassword, "192.0.2.1")

	// Single use.
	_, err = e.svc.ResetPassword(ctx, e.ws, token, "third-Password-99")
	wantErr(t, "second use", err, account.ErrLinkInvalid)
	e.mustAuth(t, "alice@example.com", otherPassword, "192.0.2.1")
}

func TestSignUpClosed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	off := false
	ws, err := e.db.UpdateWorkspace(ctx, e.ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &off}, e.ws.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	e.ws = ws
	err = e.svc.SignUp(ctx, e.ws, "Carol", "carol@example.com", goodPassword)
	wantErr(t, "sign up", err, account.ErrSignupClosed)
	if n := len(e.mail.all()); n != 0 {
		t.Errorf("sent %d e-mails", n)
	}
	if _, err := e.db.FindUserByEmail(ctx, e.ws.ID, "carol@example.com"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("closed sign-up created a user: %v", err)
	}
}

func TestSignUp(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	if err := e.svc.SignUp(ctx, e.ws, "  Carol  ", " Carol@Example.com ", goodPassword); err != nil {
		t.Fatalf("sign up: %v", err)
	}
	msgs := e.mail.to("carol@example.com")
	if len(msgs) != 1 || msgs[0].WorkspaceID != e.ws.ID {
		t.Fatalf("sign-up e-mails = %+v", msgs)
	}
	token := e.lastToken(t, e.ws, "carol@example.com", "/signup/confirm/")

	// Nobody can sign in with it before the mailbox is proven.
	_, err := e.auth("carol@example.com", goodPassword, "192.0.2.1")
	wantErr(t, "sign in before confirming", err, account.ErrBadCredentials)
	pending := e.mustFindUser(t, e.ws, "carol@example.com")
	if pending.PasswordHash != "" || pending.Active() {
		t.Errorf("unconfirmed user = %+v, want no password", pending)
	}
	_, err = e.svc.SignIn(ctx, e.ws, pending, account.SignInOptions{})
	wantErr(t, "SignIn before confirming", err, account.ErrBadCredentials)

	// The link is not an invitation or a reset link.
	_, err = e.svc.AcceptInvite(ctx, e.ws, token, "Mallory", otherPassword)
	wantErr(t, "sign-up link as an invitation", err, account.ErrLinkInvalid)
	_, err = e.svc.ResetPassword(ctx, e.ws, token, otherPassword)
	wantErr(t, "sign-up link as a reset link", err, account.ErrLinkInvalid)

	e.clock.Advance(time.Hour)
	u, err := e.svc.ConfirmSignUp(ctx, e.ws, token, goodPassword)
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if u.ID != pending.ID || u.Role != gatehouse.RoleClient || u.Name != "Carol" || u.Email != "carol@example.com" {
		t.Errorf("confirmed user = %+v", u)
	}
	stored := e.mustFindUser(t, e.ws, "carol@example.com")
	if stored.Role != gatehouse.RoleClient || !stored.Active() {
		t.Errorf("stored user = %+v", stored)
	}
	e.mustAuth(t, "carol@example.com", goodPassword, "192.0.2.1")
	e.mustSignIn(t, e.ws, u, account.SignInOptions{})

	_, err = e.svc.ConfirmSignUp(ctx, e.ws, token, goodPassword)
	wantErr(t, "second confirmation", err, account.ErrLinkInvalid)
}

func TestSignUpExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.svc.SignUp(ctx, e.ws, "Carol", "carol@example.com", goodPassword); err != nil {
		t.Fatal(err)
	}
	token := e.lastToken(t, e.ws, "carol@example.com", "/signup/confirm/")
	e.clock.Advance(24 * time.Hour)
	_, err := e.svc.ConfirmSignUp(ctx, e.ws, token, goodPassword)
	wantErr(t, "confirm after 24h", err, account.ErrLinkInvalid)

	// Signing up again sends a fresh link.
	if err := e.svc.SignUp(ctx, e.ws, "Carol", "carol@example.com", otherPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmSignUp(ctx, e.ws, e.lastToken(t, e.ws, "carol@example.com", "/signup/confirm/"), otherPassword); err != nil {
		t.Fatalf("confirm the second link: %v", err)
	}
	e.mustAuth(t, "carol@example.com", otherPassword, "192.0.2.1")
}

func TestSignUpExistingMember(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleAdmin)
	before := e.mustFindUser(t, e.ws, "alice@example.com")
	if err := e.svc.SignUp(ctx, e.ws, "Carol", "carol@example.com", goodPassword); err != nil {
		t.Fatal(err)
	}
	newcomer := e.mail.to("carol@example.com")[0]

	e.clock.Advance(time.Minute)
	if err := e.svc.SignUp(ctx, e.ws, "Mallory", "ALICE@example.com", otherPassword); err != nil {
		t.Fatalf("sign up with a member's address: %v", err)
	}
	msgs := e.mail.to("alice@example.com")
	if len(msgs) != 1 {
		t.Fatalf("sent %d e-mails to the member, want 1", len(msgs))
	}
	m := msgs[0]
	if !strings.Contains(m.Body, "already has an account") || m.Subject == newcomer.Subject {
		t.Errorf("member's e-mail = %q / %q, want a distinct \"already has an account\" note", m.Subject, m.Body)
	}
	for _, l := range linkRE.FindAllString(m.Body, -1) {
		if strings.Contains(l, "/signup/confirm/") || strings.Contains(l, "/password/reset/") {
			t.Errorf("member's e-mail carries a token link %s", l)
		}
	}
	if !strings.Contains(m.Body, workspaceURL("acme")+"/login") || !strings.Contains(m.Body, workspaceURL("acme")+"/password/forgot") {
		t.Errorf("member's e-mail does not point to sign-in and reset:\n%s", m.Body)
	}

	after := e.mustFindUser(t, e.ws, "alice@example.com")
	if *after != *before {
		t.Errorf("member changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if a := e.mustAuth(t, "alice@example.com", goodPassword, "192.0.2.1"); a.ID != alice.ID {
		t.Errorf("authenticated as %d", a.ID)
	}
	_, err := e.auth("alice@example.com", otherPassword, "192.0.2.2")
	wantErr(t, "the sign-up form's password", err, account.ErrBadCredentials)
}

func TestSignUpRefused(t *testing.T) {
	tests := []struct {
		name     string
		email    string
		password string
		want     error
	}{
		{name: "bad e-mail", email: "carol@", password: goodPassword, want: account.ErrBadEmail},
		{name: "empty e-mail", email: "", password: goodPassword, want: account.ErrBadEmail},
		{name: "two addresses", email: "carol@example.com, dan@example.com", password: goodPassword, want: account.ErrBadEmail},
	}
	for _, bp := range badPasswords {
		tests = append(tests, struct {
			name     string
			email    string
			password string
			want     error
		}{name: "password " + bp.name, email: "carol@example.com", password: bp.password, want: bp.want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			err := e.svc.SignUp(ctx, e.ws, "Carol", tt.email, tt.password)
			wantErr(t, "sign up", err, tt.want)
			if n := len(e.mail.all()); n != 0 {
				t.Errorf("sent %d e-mails", n)
			}
			users, err := e.db.ListUsers(ctx, e.ws.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != 0 {
				t.Errorf("refused sign-up created %d users", len(users))
			}
		})
	}
}

func TestCreateUserWithPassword(t *testing.T) {
	e := newEnv(t)
	u, link, err := e.svc.CreateUser(context.Background(), e.ws, account.NewUser{
		Email: " Owner@Example.com ", Name: " Olga ", Role: gatehouse.RoleOwner, Password: goodPassword,
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if link != "" {
		t.Errorf("got invitation link %q for a user with a password", link)
	}
	if n := len(e.mail.all()); n != 0 {
		t.Errorf("sent %d e-mails", n)
	}
	if u.Email != "owner@example.com" || u.Name != "Olga" || u.Role != gatehouse.RoleOwner || !u.Active() || u.WorkspaceID != e.ws.ID {
		t.Errorf("user = %+v", u)
	}
	if a := e.mustAuth(t, "owner@example.com", goodPassword, "192.0.2.1"); a.ID != u.ID {
		t.Errorf("authenticated as %d, want %d", a.ID, u.ID)
	}
}

func TestCreateUserWithoutPassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, link, err := e.svc.CreateUser(ctx, e.ws, account.NewUser{Email: "mia@example.com", Name: "Mia", Role: gatehouse.RoleMember})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if u.PasswordHash != "" || u.Active() {
		t.Errorf("user without a password = %+v", u)
	}
	token := tokenOf(t, e.ws, link, "/invite/")
	if got := e.mail.lastLink(t, "mia@example.com"); got != link {
		t.Errorf("e-mailed link %q, returned %q", got, link)
	}
	if _, err := e.svc.AcceptInvite(ctx, e.ws, token, "Mia", goodPassword); err != nil {
		t.Fatalf("accept: %v", err)
	}
	e.mustAuth(t, "mia@example.com", goodPassword, "192.0.2.1")
}

func TestCreateUserRefused(t *testing.T) {
	e := newEnv(t)
	e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	e.mustInvited(t, e.ws, "ivy@example.com", gatehouse.RoleMember)

	tests := []struct {
		name string
		nu   account.NewUser
		want error
	}{
		{name: "duplicate with password", nu: account.NewUser{Email: "alice@example.com", Role: gatehouse.RoleMember, Password: otherPassword}, want: account.ErrAlreadyMember},
		{name: "duplicate without password", nu: account.NewUser{Email: "alice@example.com", Role: gatehouse.RoleMember}, want: account.ErrAlreadyMember},
		{name: "duplicate in other case", nu: account.NewUser{Email: " ALICE@EXAMPLE.COM", Role: gatehouse.RoleMember}, want: account.ErrAlreadyMember},
		{name: "duplicate of an invitee", nu: account.NewUser{Email: "ivy@example.com", Role: gatehouse.RoleMember, Password: otherPassword}, want: account.ErrAlreadyMember},
		{name: "bad e-mail", nu: account.NewUser{Email: "alice", Role: gatehouse.RoleMember, Password: otherPassword}, want: account.ErrBadEmail},
		{name: "common password", nu: account.NewUser{Email: "bob@example.com", Role: gatehouse.RoleMember, Password: "password123"}, want: password.ErrCommon},
		{name: "short password", nu: account.NewUser{Email: "bob@example.com", Role: gatehouse.RoleMember, Password: "short"}, want: password.ErrTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.mail.all())
			u, link, err := e.svc.CreateUser(context.Background(), e.ws, tt.nu)
			wantErr(t, "create", err, tt.want)
			if u != nil || link != "" {
				t.Errorf("got user %v, link %q with the error", u, link)
			}
			if n := len(e.mail.all()) - before; n != 0 {
				t.Errorf("sent %d e-mails", n)
			}
		})
	}
	e.mustAuth(t, "alice@example.com", goodPassword, "192.0.2.1")
	if _, err := e.db.FindUserByEmail(context.Background(), e.ws.ID, "bob@example.com"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("a refused password created bob: %v", err)
	}
}

func TestCreateUserSameEmailTwoWorkspaces(t *testing.T) {
	e := newEnv(t)
	globex := e.mustWorkspace(t, "globex", "Globex", nil)
	a := e.mustUser(t, e.ws, "alice@example.com", goodPassword, gatehouse.RoleMember)
	b := e.mustUser(t, globex, "alice@example.com", otherPassword, gatehouse.RoleClient)
	if a.ID == b.ID {
		t.Fatal("one user for two workspaces")
	}
	// Each workspace knows only its own account and password.
	e.mustAuth(t, "alice@example.com", goodPassword, "192.0.2.1")
	_, err := e.auth("alice@example.com", otherPassword, "192.0.2.1")
	wantErr(t, "the other workspace's password", err, account.ErrBadCredentials)
	got, err := e.svc.Authenticate(context.Background(), globex, account.Credentials{Email: "alice@example.com", Password: otherPassword, IP: "192.0.2.1"})
	if err != nil || got.ID != b.ID {
		t.Errorf("authenticate at globex = %v, %v; want user %d", got, err, b.ID)
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string // empty: want err
		err  error  // the error when want is empty; nil: ErrBadEmail
	}{
		{name: "plain", raw: "alice@example.com", want: "alice@example.com"},
		{name: "upper case", raw: "Alice@Example.COM", want: "alice@example.com"},
		{name: "spaces around", raw: " \t alice@example.com \n", want: "alice@example.com"},
		{name: "plus and dots", raw: "a.b+tag@mail.example.co.uk", want: "a.b+tag@mail.example.co.uk"},
		{name: "no dot in domain", raw: "root@localhost", want: "root@localhost"},
		{name: "empty", raw: ""},
		{name: "only spaces", raw: "   "},
		{name: "no at", raw: "alice.example.com"},
		{name: "no local part", raw: "@example.com"},
		{name: "no domain", raw: "alice@"},
		{name: "two ats", raw: "a@b@example.com"},
		{name: "space inside", raw: "ali ce@example.com"},
		{name: "display name", raw: "Alice <alice@example.com>"},
		{name: "angle brackets", raw: "<alice@example.com>"},
		{name: "comment", raw: "alice@example.com (Alice)"},
		{name: "two addresses", raw: "alice@example.com,bob@example.com"},
		{name: "newline inside", raw: "alice@example.com\nBcc: x@example.com"},
		{name: "too long", raw: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", err: account.ErrEmailTooLong},
		{name: "longest allowed", raw: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", want: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := account.NormalizeEmail(tt.raw)
			if tt.want == "" {
				want := account.ErrBadEmail
				if tt.err != nil {
					want = tt.err
				}
				if !errors.Is(err, want) || got != "" {
					t.Errorf("NormalizeEmail(%q) = %q, %v; want %v", tt.raw, got, err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

// TestSignUpCannotHijack: a stranger who signs up with someone else's
// address (here an invited admin's) chose the password the link carries, so
// the owner of the mailbox cannot confirm it with their own password, and a
// wrong password does not burn the link.
func TestSignUpCannotHijack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.svc.Invite(ctx, e.ws, nil, "bob@example.com", gatehouse.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SignUp(ctx, e.ws, "Mallory", "bob@example.com", otherPassword); err != nil {
		t.Fatal(err)
	}
	token := e.lastToken(t, e.ws, "bob@example.com", "/signup/confirm/")
	_, err := e.svc.ConfirmSignUp(ctx, e.ws, token, goodPassword)
	wantErr(t, "confirm a stranger's sign-up", err, account.ErrSignupPassword)
	if u := e.mustFindUser(t, e.ws, "bob@example.com"); u.PasswordHash != "" {
		t.Fatal("the stranger's password was set")
	}
	// The link is still good for whoever knows both the mailbox and the password.
	if _, err := e.svc.ConfirmSignUp(ctx, e.ws, token, otherPassword); err != nil {
		t.Fatalf("confirm with the chosen password: %v", err)
	}
}

// TestCreateUserNameLimit: the operator's and the owner's path refuse a
// name over MaxNameRunes characters (counted as characters, not bytes).
func TestCreateUserNameLimit(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.svc.CreateUser(context.Background(), e.ws, account.NewUser{Email: "long@example.com", Name: strings.Repeat("é", account.MaxNameRunes+1), Role: gatehouse.RoleMember, Password: goodPassword})
	wantErr(t, "create, 101 characters", err, account.ErrNameTooLong)
	u, _, err := e.svc.CreateUser(context.Background(), e.ws, account.NewUser{Email: "ok@example.com", Name: " " + strings.Repeat("é", account.MaxNameRunes) + " ", Role: gatehouse.RoleMember, Password: goodPassword})
	if err != nil || u.Name != strings.Repeat("é", account.MaxNameRunes) {
		t.Fatalf("create, 100 characters: %v, name %q", err, u.Name)
	}
}
