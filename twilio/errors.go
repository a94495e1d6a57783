package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
)

var (
	// ErrInvalidNumber is returned by Send, before any request, for a
	// recipient that is not an E.164 number. FormMessage treats it like
	// Twilio's 21211.
	ErrInvalidNumber = errors.New("not an E.164 phone number")

	// ErrUnexpectedReply means Twilio (or whatever answers at the API base)
	// took the message with a 2xx status but its reply made no sense. The
	// message may well be on its way, so the error is not temporary:
	// retrying could text the user twice.
	ErrUnexpectedReply = errors.New("unexpected reply")
)

// Error is Twilio refusing a request, from its error body
// {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
type Error struct {
	Status   int    // HTTP status of the reply
	Code     int    // Twilio's error code (https://www.twilio.com/docs/errors/<code>); 0 if none was given
	Message  string // Twilio's own text, for logs; show users FormMessage instead
	MoreInfo string // Twilio's link about the code, if given
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("twilio: HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("twilio: error %d (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Temporary reports whether the same request may succeed later: Twilio's
// rate limit (HTTP 429 or code 20429) or a server error (HTTP 5xx).
func (e *Error) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Code == 20429 || e.Status >= 500
}

// IsTemporary reports whether err is a failure that trying again later may
// fix: a temporary *Error, a network error, or a timeout or cancellation
// before Twilio answered. It reports false for nil, for Twilio refusing the
// message itself (an invalid number, bad credentials, …), for invalid input
// or configuration, and for ErrUnexpectedReply.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Temporary()
	}
	if errors.Is(err, ErrUnexpectedReply) || errors.Is(err, ErrInvalidNumber) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	// Every error of http.Client.Do is a *url.Error, which is a net.Error:
	// the request failed on the way and may not have reached Twilio.
	_, ok := errors.AsType[net.Error](err)
	return ok
}

// IsPermanent reports whether err is a failure that retrying cannot fix; it
// is !IsTemporary(err) for a non-nil err, and false for nil.
func IsPermanent(err error) bool { return err != nil && !IsTemporary(err) }

// Sentences for FormMessage.
const (
	msgInvalidNumber = "That number is not valid or cannot receive text messages. Check it, or use another method."
	msgRegion        = "Text messages to that country are not enabled for this workspace."
	msgOptedOut      = "That number has opted out of text messages from this workspace (reply START to opt back in)."
	msgCredentials   = "The workspace's Twilio account was refused (check the Account SID and Auth Token)."
	msgSender        = "The workspace's Twilio sender number is not valid."
	msgBusy          = "The text message service is busy. Try again in a minute."
	msgFailed        = "The text message could not be sent."
)

// FormMessage returns the sentence to show a user for err from Send, or ""
// for nil. It never includes Twilio's own text, which is meant for logs.
func FormMessage(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, ErrInvalidNumber) {
		return msgInvalidNumber
	}
	if e, ok := errors.AsType[*Error](err); ok {
		switch e.Code {
		case 21211, 21614: // invalid 'To' number; not a mobile number
			return msgInvalidNumber
		case 21408: // geo permission for the region not enabled
			return msgRegion
		case 21610: // recipient replied STOP
			return msgOptedOut
		case 20003: // authentication failed
			return msgCredentials
		case 21606, 21659, 21212: // 'From' not usable, not a Twilio number, invalid
			return msgSender
		}
		if e.Status == http.StatusUnauthorized {
			return msgCredentials
		}
	}
	if IsTemporary(err) {
		return msgBusy
	}
	return msgFailed
}
