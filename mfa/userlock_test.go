package mfa_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// TestAddMethodsAtOnceIssueOneCodeSet: two methods turned on at the same
// moment on two instances issue one set of recovery codes, not two (the
// second would void the codes the first just showed).
func TestAddMethodsAtOnceIssueOneCodeSet(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ss := b.open(t, 2)
		h := newHarness(t, ss[0], setup{})
		for round := range 10 {
			u := h.newUser(t, "u"+strconv.Itoa(round)+"@example.com", true)
			var wg sync.WaitGroup
			for i, m := range []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodSMS} {
				wg.Go(func() {
					now := h.clock.Now()
					f := &mfa.Factor{UserID: u.ID, Method: m, Phone: "+15005550006", Secret: []byte("s"), Active: true, CreatedAt: now, ConfirmedAt: &now}
					macs := make([][]byte, 8)
					for j := range macs {
						macs[j] = []byte{byte(round), byte(i), byte(j)}
					}
					if _, err := ss[i].AddMethod(context.Background(), h.ws.ID, f, macs, nil, now, nil); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if n := h.recoveryLeft(t, u); n != 8 {
				t.Fatalf("round %d: %d unused recovery codes after two methods added at once, want 8", round, n)
			}
		}
	})
}

// TestResetRacingAddMethodLeavesCodes: an admin reset and a method turned
// on at the same moment, on two instances, take turns: the user ends with
// no method, or with the new method and its recovery codes, never with a
// method and no codes.
func TestResetRacingAddMethodLeavesCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ss := b.open(t, 2)
		h := newHarness(t, ss[0], setup{})
		ctx := context.Background()
		for round := range 10 {
			u := h.newUser(t, "u"+strconv.Itoa(round)+"@example.com", true)
			now := h.clock.Now()
			totp := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodTOTP, Secret: []byte("s"), Active: true, CreatedAt: now, ConfirmedAt: &now}
			old := [][]byte{{byte(round), 9}}
			if _, err := ss[0].AddMethod(ctx, h.ws.ID, totp, old, nil, now, nil); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := ss[0].ResetMFA(ctx, h.ws.ID, u.ID, "mfa:"+strconv.FormatInt(u.ID, 10), nil); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				email := &mfa.Factor{UserID: u.ID, Method: gatehouse.MethodEmail, Active: true, CreatedAt: now, ConfirmedAt: &now}
				if _, err := ss[1].AddMethod(ctx, h.ws.ID, email, [][]byte{{byte(round), 1}}, nil, now, nil); err != nil {
					t.Error(err)
				}
			})
			wg.Wait()
			fs, err := ss[0].FindFactors(ctx, h.ws.ID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := h.recoveryLeft(t, u); len(fs) > 0 && n == 0 {
				t.Fatalf("round %d: %d methods left after the reset and the add, and no recovery code", round, len(fs))
			}
		}
	})
}
