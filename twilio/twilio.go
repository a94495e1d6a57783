// Package twilio sends Gatehouse's SMS codes through a workspace's own Twilio
// account, using one call of Twilio's REST API: create a Message
// (POST /2010-04-01/Accounts/{AccountSid}/Messages.json).
//
// It is a small client of our own rather than the official
// github.com/twilio/twilio-go SDK. The SDK is generated code for hundreds of
// endpoints and pulls in many dependencies, all of which we would have to
// audit and keep up to date, while Gatehouse needs a single form POST with
// Basic auth and a JSON reply. Owning those hundred lines also lets us decide
// what matters for a login code: a ValidityPeriod on every message, a bounded
// timeout, errors that say whether a retry can help (IsTemporary) and what to
// tell the user (FormMessage), and an Auth Token that never reaches a log.
//
// The API base is configurable (GATEHOUSE_TWILIO_API_BASE) so that tests and
// Twilio-compatible gateways can stand in for api.twilio.com; package
// twiliotest is such a stand-in for tests.
package twilio

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// DefaultAPIBase is Twilio's production API, used when Client.APIBase is empty.
const DefaultAPIBase = "https://api.twilio.com"

// DefaultTimeout bounds one Send whose context has no deadline of its own.
const DefaultTimeout = 15 * time.Second

// MaxValidity is the longest ValidityPeriod Twilio accepts (10 hours).
const MaxValidity = 36000 * time.Second

// maxReply caps how much of a reply is read; Twilio's are a few hundred bytes.
const maxReply = 64 << 10

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDPattern = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	e164Pattern       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// ValidE164 reports whether number is a phone number in E.164 form: a plus
// sign, a country code not starting with 0, and 7 to 15 digits in all.
func ValidE164(number string) bool { return e164Pattern.MatchString(number) }

// Account is a workspace's Twilio account. Exactly one of From and
// MessagingServiceSID is set.
//
// AuthToken is a secret: Account's String, GoString and LogValue leave it
// out, so printing or logging an Account does not leak it.
type Account struct {
	SID                 string // Account SID, "AC" + 32 hex digits
	AuthToken           string
	From                string // sender number in E.164 form, e.g. +14155550100
	MessagingServiceSID string // "MG" + 32 hex digits
}

// Validate reports the first thing wrong with a, as an error wrapping
// gatehouse.ErrInvalid. Its messages never repeat the values given, so that
// a token pasted into the wrong field does not end up in an error or a log.
func (a Account) Validate() error {
	invalid := func(msg string) error {
		return fmt.Errorf("%w: twilio account: %s", gatehouse.ErrInvalid, msg)
	}
	switch {
	case a.SID == "":
		return invalid("the Account SID is required")
	case !accountSIDPattern.MatchString(a.SID):
		return invalid(`the Account SID must be "AC" followed by 32 hexadecimal digits`)
	case a.AuthToken == "":
		return invalid("the Auth Token is required")
	case a.From == "" && a.MessagingServiceSID == "":
		return invalid("a From number or a Messaging Service SID is required")
	case a.From != "" && a.MessagingServiceSID != "":
		return invalid("set either a From number or a Messaging Service SID, not both")
	case a.From != "" && !ValidE164(a.From):
		return invalid("the From number must be in international E.164 form, like +14155550100")
	case a.MessagingServiceSID != "" && !serviceSIDPattern.MatchString(a.MessagingServiceSID):
		return invalid(`the Messaging Service SID must be "MG" followed by 32 hexadecimal digits`)
	}
	return nil
}

// String describes a without its Auth Token.
func (a Account) String() string {
	if a.MessagingServiceSID != "" {
		return fmt.Sprintf("twilio account %s (messaging service %s)", a.SID, a.MessagingServiceSID)
	}
	return fmt.Sprintf("twilio account %s (from %s)", a.SID, a.From)
}

// GoString keeps the Auth Token out of %#v.
func (a Account) GoString() string {
	return fmt.Sprintf("twilio.Account{SID: %q, AuthToken: \"[redacted]\", From: %q, MessagingServiceSID: %q}",
		a.SID, a.From, a.MessagingServiceSID)
}

// LogValue keeps the Auth Token out of slog output.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("sid", a.SID),
		slog.String("from", a.From),
		slog.String("messaging_service_sid", a.MessagingServiceSID),
	)
}

// Client sends messages through Twilio's REST API. The zero Client is ready
// to use against DefaultAPIBase.
type Client struct {
	APIBase string       // e.g. "https://api.twilio.com"; empty means DefaultAPIBase
	HTTP    *http.Client // nil means http.DefaultClient
	// Timeout bounds a Send whose context has no deadline; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// Send asks Twilio to text body to the E.164 number to from acct, and
// returns the new message's SID ("SM…"). Twilio accepting the message
// (HTTP 201, status queued or accepted) is success; delivery to the handset
// happens later.
//
// A positive validity becomes the message's ValidityPeriod, in whole seconds
// rounded up and capped at 10 hours, so that a text stuck in Twilio's queue
// past the code's lifetime is dropped instead of delivered late. Zero or less
// sends none (Twilio's default is 10 hours).
//
// If ctx has no deadline, the call is bounded by c.Timeout (default 15 s).
//
// A refusal by Twilio is an *Error. IsTemporary tells whether trying again
// later may succeed, and FormMessage gives the sentence to show the user. The
// Auth Token never appears in the error.
func (c *Client) Send(ctx context.Context, acct Account, to, body string, validity time.Duration) (sid string, err error) {
	defer func() {
		if err != nil {
			err = redact(err, acct)
		}
	}()
	if err := acct.Validate(); err != nil {
		return "", fmt.Errorf("twilio: send message: %w", err)
	}
	if !ValidE164(to) {
		return "", fmt.Errorf("twilio: send message to %q: %w", to, ErrInvalidNumber)
	}
	if body == "" {
		return "", fmt.Errorf("%w: twilio: send message to %s: empty body", gatehouse.ErrInvalid, to)
	}
	endpoint, err := c.endpoint(acct.SID)
	if err != nil {
		return "", err
	}

	form := url.Values{"To": {to}, "Body": {body}}
	if acct.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", acct.MessagingServiceSID)
	} else {
		form.Set("From", acct.From)
	}
	if validity > 0 {
		form.Set("ValidityPeriod", strconv.FormatInt(validitySeconds(validity), 10))
	}

	if _, ok := ctx.Deadline(); !ok {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("twilio: send message to %s: %w", to, err)
	}
	req.SetBasicAuth(acct.SID, acct.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gatehouse")

	hc := http.DefaultClient
	if c.HTTP != nil {
		hc = c.HTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The request may not have reached Twilio: a network error, a
		// timeout or cancellation. IsTemporary reports true for these.
		return "", fmt.Errorf("twilio: send message to %s: %w", to, err)
	}
	defer resp.Body.Close()
	reply, readErr := io.ReadAll(io.LimitReader(resp.Body, maxReply))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("twilio: send message to %s: %w", to, parseError(resp.StatusCode, reply))
	}
	// Twilio took the message. From here on an error must not be temporary:
	// retrying would text the user a second time.
	if readErr != nil {
		return "", fmt.Errorf("twilio: send message to %s: HTTP %d but the reply could not be read: %w",
			to, resp.StatusCode, errors.Join(ErrUnexpectedReply, readErr))
	}
	var msg struct {
		SID          string          `json:"sid"`
		Status       string          `json:"status"`
		ErrorCode    json.RawMessage `json:"error_code"`
		ErrorMessage string          `json:"error_message"`
	}
	if err := json.Unmarshal(reply, &msg); err != nil || msg.SID == "" {
		return "", fmt.Errorf("twilio: send message to %s: HTTP %d without a message SID: %w",
			to, resp.StatusCode, ErrUnexpectedReply)
	}
	if msg.Status == "failed" || msg.Status == "undelivered" {
		e := &Error{Status: resp.StatusCode, Code: jsonInt(msg.ErrorCode), Message: msg.ErrorMessage}
		if e.Message == "" {
			e.Message = "message " + msg.Status
		}
		return "", fmt.Errorf("twilio: send message %s to %s: %w", msg.SID, to, e)
	}
	return msg.SID, nil
}

// endpoint returns the Messages URL of account sid under c's API base.
func (c *Client) endpoint(sid string) (string, error) {
	base := DefaultAPIBase
	if c != nil && c.APIBase != "" {
		base = c.APIBase
	}
	// A bad base is configuration, not a passing failure: the error is not
	// temporary, since retrying cannot fix it. It does not repeat the base,
	// which might carry a gateway's password.
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: twilio: the API base is not an http(s) URL", gatehouse.ErrInvalid)
	}
	// sid was validated ("AC" + hex), so it needs no escaping.
	return strings.TrimRight(base, "/") + "/2010-04-01/Accounts/" + sid + "/Messages.json", nil
}

// validitySeconds converts d to Twilio's ValidityPeriod: whole seconds,
// rounded up so a code is never cut short, within 1..36000.
func validitySeconds(d time.Duration) int64 {
	d = min(d, MaxValidity)
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// redact removes acct's Auth Token, alone or inside a Basic credential, from
// err's text. Send never puts the token into an error, but a server or a
// proxy could echo it back; this is the last line of defence.
func redact(err error, acct Account) error {
	if len(acct.AuthToken) < 4 {
		return err // too short to replace without mangling the text
	}
	msg := err.Error()
	clean := strings.ReplaceAll(msg, acct.AuthToken, "[redacted]")
	basic := base64.StdEncoding.EncodeToString([]byte(acct.SID + ":" + acct.AuthToken))
	clean = strings.ReplaceAll(clean, basic, "[redacted]")
	if clean == msg {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		e.Message = strings.ReplaceAll(strings.ReplaceAll(e.Message, acct.AuthToken, "[redacted]"), basic, "[redacted]")
	}
	return &redactedError{msg: clean, err: err}
}

// redactedError shows a cleaned message while errors.Is and errors.As still
// reach the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// parseError builds the *Error for a non-2xx reply. Twilio's body is
// {"code": 21211, "message": "...", "more_info": "...", "status": 400}; a
// gateway or proxy may answer with anything, so a body that is not that
// still gives an *Error with the HTTP status.
func parseError(status int, body []byte) *Error {
	e := &Error{Status: status}
	var tw struct {
		Code     json.RawMessage `json:"code"`
		Message  string          `json:"message"`
		MoreInfo string          `json:"more_info"`
	}
	if json.Unmarshal(body, &tw) == nil && (len(tw.Code) > 0 || tw.Message != "") {
		e.Code, e.Message, e.MoreInfo = jsonInt(tw.Code), tw.Message, tw.MoreInfo
	} else if text := strings.TrimSpace(string(body)); text != "" && !bytes.ContainsRune(body, '<') {
		e.Message = text // a short plain-text reply; HTML pages are left out
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if msg := gatehouse.Truncate(e.Message, 300); len(e.Message) > 300 {
		e.Message = msg + "…"
	} else {
		e.Message = msg
	}
	return e
}

// jsonInt reads a JSON number or numeric string, or returns 0.
func jsonInt(raw json.RawMessage) int {
	n, err := strconv.Atoi(strings.Trim(string(raw), `"`))
	if err != nil {
		return 0
	}
	return n
}
