package account_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// visitOf signs u in and returns the session check's view of it.
func (e *env) visitOf(tb testing.TB, u *gatehouse.User) (*gatehouse.Visit, string) {
	tb.Helper()
	si := e.mustSignIn(tb, e.ws, u, account.SignInOptions{})
	v, err := e.svc.Visit(context.Background(), e.ws.ID, si.Token)
	if err != nil {
		tb.Fatal(err)
	}
	return v, si.Token
}

// TestPasswordChangeKeepsDisable: the owner disables an account while its
// user's password change is in flight; the account stays disabled.
func TestPasswordChangeKeepsDisable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	owner := e.mustUser(t, e.ws, "owner@example.com", goodPassword, gatehouse.RoleOwner)
	carol := e.mustUser(t, e.ws, "carol@example.com", goodPassword, gatehouse.RoleClient)
	ov, _ := e.visitOf(t, owner)
	cv, _ := e.visitOf(t, carol) // the password change request has read its visit

	target := e.mustFindUser(t, e.ws, "carol@example.com")
	if err := e.svc.SetDisabled(ctx, ov, target, true, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ChangePassword(ctx, cv, otherPassword, "192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	if u := e.mustFindUser(t, e.ws, "carol@example.com"); !u.Disabled {
		t.Fatal("the password change enabled the account the owner disabled meanwhile")
	}
	_, err := e.auth("carol@example.com", otherPassword, "192.0.2.3")
	wantErr(t, "sign in to the disabled account", err, account.ErrBadCredentials)
}

// TestPasswordChangeSignsOut: a password change ends the user's other
// sessions and forgets their trusted devices, and keeps the session that
// made it.
func TestPasswordChangeSignsOut(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	carol := e.mustUser(t, e.ws, "carol@example.com", goodPassword, gatehouse.RoleClient)
	v, token := e.visitOf(t, carol)
	_, other := e.visitOf(t, carol)
	d := &mfa.Device{UserID: carol.ID, TokenHash: account.HashToken("device"), CreatedAt: e.clock.Now(), LastUsedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(mfa.ReauthWindow * 1000)}
	if err := e.db.CreateDevice(ctx, e.ws.ID, d, 5); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ChangePassword(ctx, v, otherPassword, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if ds, err := e.db.ListDevices(ctx, e.ws.ID, carol.ID, e.clock.Now()); err != nil || len(ds) != 0 {
		t.Fatalf("trusted devices after a password change = %d, %v; want none", len(ds), err)
	}
	if _, err := e.svc.Visit(ctx, e.ws.ID, other); !errors.Is(err, account.ErrNoSession) {
		t.Fatalf("another session after a password change: %v, want ErrNoSession", err)
	}
	if _, err := e.svc.Visit(ctx, e.ws.ID, token); err != nil {
		t.Fatalf("the session that changed the password: %v", err)
	}
}

// TestPromoteEndsPending: passing the gate replaces the pending session;
// its cookie is worth nothing afterwards, and a second pass with it finds
// the login ended.
func TestPromoteEndsPending(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	carol := e.mustUser(t, e.ws, "carol@example.com", goodPassword, gatehouse.RoleClient)
	v, pending := e.visitOf(t, carol)
	in, err := e.svc.Promote(ctx, v, "Browser", "192.0.2.1", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Visit(ctx, e.ws.ID, pending); !errors.Is(err, account.ErrNoSession) {
		t.Fatalf("the pending session after passing the gate: %v, want ErrNoSession", err)
	}
	if _, err := e.svc.Visit(ctx, e.ws.ID, in.Token); err != nil {
		t.Fatalf("the new session: %v", err)
	}
	_, err = e.svc.Promote(ctx, v, "Browser", "192.0.2.1", false)
	wantErr(t, "pass the gate twice with one pending session", err, account.ErrNoSession)
}

// TestSignUpActivatedMeanwhile: an account activated through an invitation
// after its sign-up is not taken over by the sign-up link.
func TestSignUpActivatedMeanwhile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.svc.SignUp(ctx, e.ws, "Carol", "carol@example.com", goodPassword); err != nil {
		t.Fatal(err)
	}
	signup := e.lastToken(t, e.ws, "carol@example.com", "/signup/confirm/")
	_, invite := e.mustInvited(t, e.ws, "carol@example.com", gatehouse.RoleClient)
	if _, err := e.svc.AcceptInvite(ctx, e.ws, invite, "Carol", otherPassword); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.ConfirmSignUp(ctx, e.ws, signup, goodPassword)
	wantErr(t, "confirm the sign-up of an activated account", err, account.ErrLinkInvalid)
	e.mustAuth(t, "carol@example.com", otherPassword, "192.0.2.1")
	_, err = e.auth("carol@example.com", goodPassword, "192.0.2.1")
	wantErr(t, "the sign-up password", err, account.ErrBadCredentials)
}

// TestConcurrentResetRequests: many reset requests at once leave exactly
// one live link.
func TestConcurrentResetRequests(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustUser(t, e.ws, "carol@example.com", goodPassword, gatehouse.RoleClient)
	const n = 3 // the most reset e-mails one address gets in an hour
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if err := e.svc.RequestReset(ctx, e.ws, "carol@example.com"); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	msgs := e.mail.to("carol@example.com")
	if len(msgs) != n {
		t.Fatalf("%d reset e-mails, want %d", len(msgs), n)
	}
	live := 0
	for _, m := range msgs {
		token := tokenOf(t, e.ws, linkRE.FindString(m.Body), "/password/reset/")
		if _, err := e.svc.LinkUser(ctx, e.ws, gatehouse.TokenPasswordReset, token); err == nil {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live reset links after %d requests at once, want 1", live, n)
	}
}

// TestSessionMarksKept: two requests of one session mark it at once (a
// re-verification with a code in one tab, the password in another); the
// second does not undo the first.
func TestSessionMarksKept(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	carol := e.mustUser(t, e.ws, "carol@example.com", goodPassword, gatehouse.RoleClient)
	v1, token := e.visitOf(t, carol)
	v2, err := e.svc.Visit(ctx, e.ws.ID, token)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.MarkVerified(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Reauthenticate(ctx, v2, goodPassword, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Visit(ctx, e.ws.ID, token)
	if err != nil {
		t.Fatal(err)
	}
	if v.Session.MFAVerifiedAt == nil {
		t.Fatal("a password re-verification undid the second-factor verification made meanwhile")
	}
}
