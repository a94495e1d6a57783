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
