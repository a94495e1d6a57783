package account_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
)

// TestMailFormLimitKeysIPv6By64: one IPv6 client holds a whole /64, so the
// per-address limit of the mail forms counts the /64, not each address.
func TestMailFormLimitKeysIPv6By64(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	allowed := 0
	for i := range 40 {
		err := e.svc.AllowMailForm(ctx, e.ws, fmt.Sprintf("2001:db8::%x", i+1))
		switch {
		case err == nil:
			allowed++
		case !errors.Is(err, account.ErrTooManyRequests):
			t.Fatal(err)
		}
	}
	if allowed != 10 {
		t.Errorf("%d mail-form uses allowed from one /64 within the hour; want 10", allowed)
	}
	if err := e.svc.AllowMailForm(ctx, e.ws, "2001:db8:0:1::1"); err != nil {
		t.Errorf("the next /64 is refused too: %v", err)
	}
}

// TestResetAndSignupMailCappedPerRecipient: requests from many networks
// still mail one address at most 3 times an hour.
func TestResetAndSignupMailCappedPerRecipient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustUser(t, e.ws, "carol@example.com", goodPassword, gatehouse.RoleClient)
	for i := range 10 {
		if err := e.svc.AllowMailForm(ctx, e.ws, fmt.Sprintf("2001:db8:%x::1", i+1)); err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
		if err := e.svc.RequestReset(ctx, e.ws, "carol@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SignUp(ctx, e.ws, "Someone", "carol@example.com", goodPassword); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SignUp(ctx, e.ws, "Someone", "new@example.com", goodPassword); err != nil {
			t.Fatal(err)
		}
	}
	e.runJobs(t)
	if n := len(e.mail.to("carol@example.com")); n != 3 {
		t.Errorf("%d e-mails to carol within the hour; want 3", n)
	}
	if n := len(e.mail.to("new@example.com")); n != 3 {
		t.Errorf("%d sign-up e-mails to a new address within the hour; want 3", n)
	}
	e.clock.Advance(time.Hour)
	if err := e.svc.RequestReset(ctx, e.ws, "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t)
	if n := len(e.mail.to("carol@example.com")); n != 4 {
		t.Errorf("%d e-mails to carol an hour later; want 4 (the hour's cap renewed)", n)
	}
}
