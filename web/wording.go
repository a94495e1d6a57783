package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/mfa"
)

// userError is how the web answers an error the visitor can act on: a
// status and one sentence. The web owns the wording; the domain's errors
// are sentinels to tell apart, and their own text is for logs.
type userError struct {
	status   int
	sentence string
}

// mfaFormErrors words the 2FA service's errors that a form shows next to
// what caused them.
var mfaFormErrors = map[error]userError{
	mfa.ErrMismatch:        {http.StatusUnauthorized, "That code does not match."},
	mfa.ErrExpired:         {http.StatusUnauthorized, "That code has expired — send a new one."},
	mfa.ErrReplay:          {http.StatusUnauthorized, "That code was already used — wait for the next one."},
	mfa.ErrRecoveryUsed:    {http.StatusUnauthorized, "That recovery code was already used."},
	mfa.ErrNoCode:          {http.StatusUnauthorized, "Send a code first."},
	mfa.ErrUnavailable:     {http.StatusUnprocessableEntity, "That method is not available for this sign-in."},
	mfa.ErrDailyCap:        {http.StatusTooManyRequests, "Too many codes were sent today. Try another way, or come back tomorrow."},
	mfa.ErrNotPending:      {http.StatusConflict, "Start again: set up the method first."},
	mfa.ErrLastMethod:      {http.StatusConflict, "Two-factor sign-in is required here: keep at least one method."},
	mfa.ErrForbidden:       {http.StatusForbidden, "You are not allowed to do that."},
	mfa.ErrPasskeyLimit:    {http.StatusUnprocessableEntity, "You already have 10 passkeys. Remove one before adding another."},
	mfa.ErrPasskeyName:     {http.StatusUnprocessableEntity, "Give the passkey a name of up to 60 characters, such as \"Work laptop\"."},
	mfa.ErrPasskeyFailed:   {http.StatusUnauthorized, "That passkey could not be checked. Try again, or try another way."},
	mfa.ErrPasskeyCeremony: {http.StatusUnprocessableEntity, "That passkey request has expired. Try again."},
	mfa.ErrPasskeyUV:       {http.StatusUnauthorized, "Signing in with a passkey needs your device's PIN, fingerprint or face check."},
	mfa.ErrPasskeyCloned:   {http.StatusUnauthorized, "That passkey was refused: its counter went backwards, which can mean it was copied. Try another way and tell your workspace admin."},
	mfa.ErrPasskeyUnknown:  {http.StatusUnauthorized, "That passkey is not registered in this workspace."},
	mfa.ErrPhoneInvalid:    {http.StatusUnprocessableEntity, "Enter a valid mobile number for the country you chose."},
	mfa.ErrPhoneNotSMS:     {http.StatusUnprocessableEntity, "That number cannot receive text messages (it looks like a landline or a service number)."},
	mfa.ErrSMSCountry:      {http.StatusUnprocessableEntity, "Text messages to that country are not allowed by this workspace. Choose another method."},
	mfa.ErrSMSCap:          {http.StatusTooManyRequests, "This workspace has sent too many text messages for now. Try another method, or try again later."},
	mfa.ErrSMSIPCap:        {http.StatusTooManyRequests, "Too many text messages were asked for from your network. Try another method, or try again later."},
	mfa.ErrSMSNotReady:     {http.StatusUnprocessableEntity, "Text messages are not set up for this workspace."},
	mfa.ErrSMSNoPhone:      {http.StatusUnprocessableEntity, "Add a phone number first."},
}

// mfaUserError returns how to answer err from the 2FA service: a form
// error, a pause or lock, a refused delivery or a send asked for too soon.
// ok is false for anything else, which is a server error.
func mfaUserError(err error) (ue userError, ok bool) {
	var (
		tooSoon   *mfa.TooSoonError
		throttled *mfa.ThrottledError
		delivery  *mfa.DeliveryError
	)
	switch {
	case err == nil:
		return userError{}, false
	case errors.As(err, &tooSoon):
		return userError{http.StatusTooManyRequests, "Codes can only be sent every minute. Try again in " + inSeconds(tooSoon.RetryAfter) + "."}, true
	case errors.As(err, &throttled):
		return userError{http.StatusTooManyRequests, "Too many wrong codes. Try again in " + inSeconds(throttled.RetryAfter) + "."}, true
	case errors.As(err, &delivery):
		// The service words a refused delivery from the mail server's or
		// Twilio's answer (the part meant for people).
		return userError{http.StatusUnprocessableEntity, delivery.Reason}, true
	case errors.Is(err, mfa.ErrLocked):
		return userError{http.StatusForbidden, "This account is locked after too many wrong codes. Ask an admin to reset it, or try again tomorrow."}, true
	case errors.Is(err, mfa.ErrTooManyFailures):
		return userError{http.StatusUnauthorized, "Too many wrong codes. Sign in again."}, true
	case errors.Is(err, mfa.ErrLoginEnded):
		return userError{http.StatusUnauthorized, "This sign-in has ended. Sign in again."}, true
	}
	for target, ue := range mfaFormErrors {
		if errors.Is(err, target) {
			return ue, true
		}
	}
	return userError{}, false
}

// isFormMFAError reports an error a form shows next to what caused it (not
// a pause, a lock or the end of the login, which callers handle first).
func isFormMFAError(err error) bool {
	if errors.As(err, new(*mfa.DeliveryError)) {
		return true
	}
	for target := range mfaFormErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// mfaSentence is the sentence for an error mfaUserError words.
func mfaSentence(err error) string {
	ue, _ := mfaUserError(err)
	return ue.sentence
}

// inSeconds says a wait in whole seconds, rounded up.
func inSeconds(d time.Duration) string {
	n := int((d + time.Second - 1) / time.Second)
	if n == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", n)
}
