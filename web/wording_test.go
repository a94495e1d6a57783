package web

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/mfa"
)

// TestMFAWording: the web words every error of the 2FA service a visitor
// can act on, wrapped or not, with a status and one sentence of its own;
// anything else is a server error, whose text never reaches the page.
func TestMFAWording(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"mismatch", mfa.ErrMismatch, http.StatusUnauthorized, "That code does not match."},
		{"wrapped", fmt.Errorf("verify: %w", mfa.ErrExpired), http.StatusUnauthorized, "That code has expired — send a new one."},
		{"sms cap", mfa.ErrSMSCap, http.StatusTooManyRequests, "This workspace has sent too many text messages for now. Try another method, or try again later."},
		{"too soon", &mfa.TooSoonError{RetryAfter: 1500 * time.Millisecond}, http.StatusTooManyRequests, "Codes can only be sent every minute. Try again in 2 seconds."},
		{"throttled", &mfa.ThrottledError{RetryAfter: time.Second}, http.StatusTooManyRequests, "Too many wrong codes. Try again in 1 second."},
		{"delivery", &mfa.DeliveryError{Reason: "That number is not valid."}, http.StatusUnprocessableEntity, "That number is not valid."},
		{"locked", mfa.ErrLocked, http.StatusForbidden, "This account is locked after too many wrong codes. Ask an admin to reset it, or try again tomorrow."},
		{"login ended", mfa.ErrLoginEnded, http.StatusUnauthorized, "This sign-in has ended. Sign in again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ue, ok := mfaUserError(tt.err)
			if !ok || ue.status != tt.status || ue.sentence != tt.want {
				t.Errorf("mfaUserError(%v) = %+v, %v; want %d %q", tt.err, ue, ok, tt.status, tt.want)
			}
		})
	}
	for target, ue := range mfaFormErrors {
		if ue.sentence == "" || ue.status < 400 || !isFormMFAError(fmt.Errorf("wrapped: %w", target)) {
			t.Errorf("%v is worded %+v", target, ue)
		}
	}
	for _, err := range []error{nil, errors.New("pq: relation \"codes\" does not exist")} {
		if ue, ok := mfaUserError(err); ok || isFormMFAError(err) {
			t.Errorf("mfaUserError(%v) = %+v, true; want a server error", err, ue)
		}
	}
}
