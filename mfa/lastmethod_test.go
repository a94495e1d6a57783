package mfa_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// TestParallelDisablesKeepOneMethod: in required mode, two disables of a
// user's two methods at once, on two instances, each from a request that
// read both methods: one passes, the other gets ErrLastMethod, and the
// user keeps a method (and their recovery codes).
func TestParallelDisablesKeepOneMethod(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ss := b.open(t, 2)
		h := newHarness(t, ss[0], setup{mode: gatehouse.MFARequired})
		other := h.instance(ss[1])
		h.addEmailFactor(t, h.user)
		v := h.signedIn(t)
		h.enrollTOTP(t, v)
		v1, v2 := h.reload(t, v), h.reload(t, v) // two requests, both read [totp email]
		if len(v1.Methods) != 2 {
			t.Fatalf("methods %v, want totp and email", v1.Methods)
		}
		var wg sync.WaitGroup
		var e1, e2 error
		wg.Go(func() { e1 = h.svc.Disable(t.Context(), v1, gatehouse.MethodTOTP, testIP) })
		wg.Go(func() { e2 = other.Disable(t.Context(), v2, gatehouse.MethodEmail, testIP) })
		wg.Wait()
		if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), mfa.ErrLastMethod) {
			t.Errorf("disables: totp %v, email %v; want one to pass and one ErrLastMethod", e1, e2)
		}
		if left := h.reload(t, v).Methods; len(left) != 1 {
			t.Errorf("methods left %v, want one", left)
		}
		if n := h.recoveryLeft(t, h.user); n != 8 {
			t.Errorf("recovery codes left %d, want 8", n)
		}
	})
}

// TestNumberChangeRacingDisableKeepsOneMethod: in required mode, a new phone
// number (which makes SMS pending) and disabling the user's other method,
// at once on two instances from requests that read both methods active:
// one passes, the other gets ErrLastMethod, and the user keeps an active
// method.
func TestNumberChangeRacingDisableKeepsOneMethod(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ss := b.open(t, 2)
		h := newHarness(t, ss[0], setup{mode: gatehouse.MFARequired,
			methods: []gatehouse.Method{gatehouse.MethodTOTP, gatehouse.MethodSMS}})
		h.sms = h.enableSMS(t)
		other := h.instance(ss[1])
		other.Queue = h.sms
		now := h.clock.Now()
		sms := &mfa.Factor{UserID: h.user.ID, Method: gatehouse.MethodSMS, Phone: "+447700900111", Active: true, CreatedAt: now, ConfirmedAt: &now}
		if err := h.store.SaveFactor(t.Context(), h.ws.ID, sms); err != nil {
			t.Fatal(err)
		}
		v := h.signedIn(t)
		h.enrollTOTP(t, v)
		v1, v2 := h.reload(t, v), h.reload(t, v)
		if len(v1.Methods) != 2 {
			t.Fatalf("methods %v, want totp and sms", v1.Methods)
		}
		var wg sync.WaitGroup
		var e1, e2 error
		wg.Go(func() { e1 = h.svc.Disable(t.Context(), v1, gatehouse.MethodTOTP, testIP) })
		wg.Go(func() { _, e2 = other.StartSMS(t.Context(), v2, "GB", "07700 900222", testIP) })
		wg.Wait()
		if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), mfa.ErrLastMethod) {
			t.Errorf("disable totp %v, new number %v; want one to pass and one ErrLastMethod", e1, e2)
		}
		if left := h.reload(t, v).Methods; len(left) != 1 {
			t.Errorf("active methods left %v, want one", left)
		}
	})
}
