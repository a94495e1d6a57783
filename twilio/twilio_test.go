package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/twilio"
	"github.com/gatehouse-dev/gatehouse/twilio/twiliotest"
)

const (
	testSID     = "AC0123456789abcdef0123456789abcdef"
	testToken   = "f00dfeedc0ffee00deadbeef12345678"
	testFrom    = "+15005550006"
	testService = "MG0123456789abcdef0123456789abcdef"
	testTo      = "+447700900123"
)

var smSID = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

// fromAccount returns the test account sending from a number.
func fromAccount() twilio.Account {
	return twilio.Account{SID: testSID, AuthToken: testToken, From: testFrom}
}

// newFake starts a fake Twilio and a client pointed at it.
func newFake(tb testing.TB) (*twiliotest.Server, *twilio.Client) {
	tb.Helper()
	tw := twiliotest.NewServer(tb, testSID, testToken)
	return tw, &twilio.Client{APIBase: tw.URL()}
}

// assertNoToken fails if the auth token shows in err's text.
func assertNoToken(tb testing.TB, err error) {
	tb.Helper()
	if err != nil && strings.Contains(err.Error(), testToken) {
		tb.Errorf("error leaks the auth token: %v", err)
	}
}

func TestSendFrom(t *testing.T) {
	tw, c := newFake(t)
	sid, err := c.Send(t.Context(), fromAccount(), testTo, "Your code is 123456", 10*time.Minute)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !smSID.MatchString(sid) {
		t.Errorf("sid = %q, want SM + 32 hex", sid)
	}
	want := twiliotest.Message{SID: sid, To: testTo, From: testFrom, Body: "Your code is 123456", ValidityPeriod: "600"}
	if got := tw.Last(); got != want {
		t.Errorf("fake recorded %+v, want %+v", got, want)
	}
	if n := tw.Requests(); n != 1 {
		t.Errorf("Requests() = %d, want 1", n)
	}
}

func TestSendMessagingService(t *testing.T) {
	tw, c := newFake(t)
	acct := twilio.Account{SID: testSID, AuthToken: testToken, MessagingServiceSID: testService}
	sid, err := c.Send(t.Context(), acct, testTo, "Your code is 654321", 10*time.Minute)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := twiliotest.Message{SID: sid, To: testTo, MessagingServiceSID: testService, Body: "Your code is 654321", ValidityPeriod: "600"}
	if got := tw.Messages(); len(got) != 1 || got[0] != want {
		t.Errorf("fake recorded %+v, want [%+v]", got, want)
	}
}

func TestSendValidityPeriod(t *testing.T) {
	tests := []struct {
		name     string
		validity time.Duration
		want     string
	}{
		{name: "none", validity: 0, want: ""},
		{name: "negative", validity: -time.Second, want: ""},
		{name: "below a second rounds up", validity: time.Nanosecond, want: "1"},
		{name: "whole seconds", validity: 5 * time.Minute, want: "300"},
		{name: "fraction rounds up", validity: 600*time.Second + time.Millisecond, want: "601"},
		{name: "at the maximum", validity: 10 * time.Hour, want: "36000"},
		{name: "above the maximum is capped", validity: 48 * time.Hour, want: "36000"},
	}
	tw, c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Send(t.Context(), fromAccount(), testTo, "code", tt.validity); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := tw.Last().ValidityPeriod; got != tt.want {
				t.Errorf("ValidityPeriod = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSendWrongToken(t *testing.T) {
	tw, c := newFake(t)
	acct := fromAccount()
	acct.AuthToken = "0000000000000000000000000000beef"
	_, err := c.Send(t.Context(), acct, testTo, "code", time.Minute)
	var e *twilio.Error
	if !errors.As(err, &e) {
		t.Fatalf("Send error = %v, want a *twilio.Error", err)
	}
	if e.Code != 20003 || e.Status != http.StatusUnauthorized || e.Message != "Authenticate" {
		t.Errorf("error = %+v, want code 20003, HTTP 401, Authenticate", e)
	}
	if e.MoreInfo != "https://www.twilio.com/docs/errors/20003" {
		t.Errorf("MoreInfo = %q", e.MoreInfo)
	}
	if e.Temporary() || twilio.IsTemporary(err) || !twilio.IsPermanent(err) {
		t.Errorf("bad credentials must be permanent: %v", err)
	}
	if got, want := twilio.FormMessage(err), "The workspace's Twilio account was refused (check the Account SID and Auth Token)."; got != want {
		t.Errorf("FormMessage = %q, want %q", got, want)
	}
	if strings.Contains(err.Error(), acct.AuthToken) {
		t.Errorf("error leaks the token: %v", err)
	}
	if len(tw.Messages()) != 0 || tw.Requests() != 1 {
		t.Errorf("messages %d, requests %d; want 0 and 1", len(tw.Messages()), tw.Requests())
	}
}

const (
	formInvalid     = "That number is not valid or cannot receive text messages. Check it, or use another method."
	formRegion      = "Text messages to that country are not enabled for this workspace."
	formOptedOut    = "That number has opted out of text messages from this workspace (reply START to opt back in)."
	formCredentials = "The workspace's Twilio account was refused (check the Account SID and Auth Token)."
	formSender      = "The workspace's Twilio sender number is not valid."
	formBusy        = "The text message service is busy. Try again in a minute."
	formFailed      = "The text message could not be sent."
)

func TestSendScriptedFailures(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		status      int
		wantStatus  int
		wantMessage string // Twilio's text, as the fake sends it
		form        string
		temporary   bool
	}{
		{name: "invalid number", code: 21211, status: 400, wantStatus: 400,
			wantMessage: "Invalid 'To' Phone Number: " + testTo, form: formInvalid},
		{name: "not a mobile", code: 21614, status: 400, wantStatus: 400,
			wantMessage: "'To' number is not a valid mobile number", form: formInvalid},
		{name: "region not enabled", code: 21408, status: 400, wantStatus: 400,
			wantMessage: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: " + testTo, form: formRegion},
		{name: "unsubscribed", code: 21610, status: 400, wantStatus: 400,
			wantMessage: "Attempt to send to unsubscribed recipient", form: formOptedOut},
		{name: "from not message-capable", code: 21606, status: 400, wantStatus: 400, form: formSender},
		{name: "from not a twilio number", code: 21659, status: 400, wantStatus: 400, form: formSender},
		{name: "from invalid", code: 21212, status: 400, wantStatus: 400, form: formSender},
		{name: "credentials", code: 20003, status: 0, wantStatus: 401, wantMessage: "Authenticate", form: formCredentials},
		{name: "unknown code", code: 21999, status: 400, wantStatus: 400, form: formFailed},
		{name: "too many requests", code: 20429, status: 429, wantStatus: 429,
			wantMessage: "Too Many Requests", form: formBusy, temporary: true},
		{name: "20429 status picked by the fake", code: 20429, status: 0, wantStatus: 429, form: formBusy, temporary: true},
		{name: "internal error", code: 20500, status: 500, wantStatus: 500, form: formBusy, temporary: true},
		{name: "plain 500 without a code", code: 0, status: 500, wantStatus: 500,
			wantMessage: "Internal Server Error", form: formBusy, temporary: true},
		{name: "bad gateway", code: 0, status: 502, wantStatus: 502, form: formBusy, temporary: true},
		{name: "unavailable", code: 0, status: 503, wantStatus: 503, form: formBusy, temporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw, c := newFake(t)
			tw.FailNext(testTo, tt.code, tt.status)
			_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
			var e *twilio.Error
			if !errors.As(err, &e) {
				t.Fatalf("Send error = %v, want a *twilio.Error", err)
			}
			if e.Code != tt.code || e.Status != tt.wantStatus {
				t.Errorf("error code %d, HTTP %d; want %d, %d", e.Code, e.Status, tt.code, tt.wantStatus)
			}
			if tt.wantMessage != "" && e.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", e.Message, tt.wantMessage)
			}
			if tt.code != 0 && e.MoreInfo != fmt.Sprintf("https://www.twilio.com/docs/errors/%d", tt.code) {
				t.Errorf("MoreInfo = %q", e.MoreInfo)
			}
			if got := twilio.FormMessage(err); got != tt.form {
				t.Errorf("FormMessage = %q, want %q", got, tt.form)
			}
			if e.Temporary() != tt.temporary || twilio.IsTemporary(err) != tt.temporary || twilio.IsPermanent(err) == tt.temporary {
				t.Errorf("Temporary %v, IsTemporary %v, IsPermanent %v; want temporary %v",
					e.Temporary(), twilio.IsTemporary(err), twilio.IsPermanent(err), tt.temporary)
			}
			assertNoToken(t, err)

			// FailNext is used up: the next send goes through.
			if _, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute); err != nil {
				t.Errorf("second Send: %v", err)
			}
			if n, m := tw.Requests(), len(tw.Messages()); n != 2 || m != 1 {
				t.Errorf("requests %d, messages %d; want 2 and 1", n, m)
			}
		})
	}
}

func TestFailAlwaysAndQueue(t *testing.T) {
	tw, c := newFake(t)
	other := "+14155550100"
	tw.FailAlways(testTo, 21610, 400)
	tw.FailNext(testTo, 20429, 429)
	send := func(to string) error {
		_, err := c.Send(t.Context(), fromAccount(), to, "code", time.Minute)
		return err
	}
	// FailNext goes first, then FailAlways holds, and only for testTo.
	if err := send(testTo); !twilio.IsTemporary(err) {
		t.Errorf("1st send: %v, want the queued 20429", err)
	}
	for i := range 2 {
		if err := send(testTo); twilio.FormMessage(err) != formOptedOut {
			t.Errorf("send %d: %v, want 21610", i+2, err)
		}
	}
	if err := send(other); err != nil {
		t.Errorf("send to another number: %v", err)
	}
	tw.FailAlways(testTo, 0, 0)
	if err := send(testTo); err != nil {
		t.Errorf("send after lifting FailAlways: %v", err)
	}
	// An empty number matches any recipient.
	tw.FailNext("", 0, 503)
	if err := send(other); !twilio.IsTemporary(err) {
		t.Errorf("send with FailNext(\"\"): %v, want a temporary error", err)
	}
	if got := len(tw.Messages()); got != 2 {
		t.Errorf("%d messages recorded, want 2", got)
	}
}

func TestSendNetworkError(t *testing.T) {
	tw, c := newFake(t)
	tw.Close()
	_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
	if err == nil {
		t.Fatal("Send to a closed server succeeded")
	}
	if _, ok := errors.AsType[*twilio.Error](err); ok {
		t.Errorf("a network error should not be a *twilio.Error: %v", err)
	}
	if !twilio.IsTemporary(err) || twilio.IsPermanent(err) {
		t.Errorf("network error should be temporary: %v", err)
	}
	if got := twilio.FormMessage(err); got != formBusy {
		t.Errorf("FormMessage = %q, want %q", got, formBusy)
	}
	assertNoToken(t, err)
}

// blockingServer answers nothing until the request is given up on; got
// receives a value when a request arrives.
func blockingServer(tb testing.TB) (url string, got <-chan struct{}) {
	tb.Helper()
	arrived := make(chan struct{}, 10)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets the server notice the client
		// hanging up, which cancels r.Context().
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	// One cleanup, in order: release the handlers, drop every connection
	// (so Close cannot wait on one a loaded machine left half-open), close.
	tb.Cleanup(func() {
		close(done)
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL, arrived
}

func TestSendContext(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		tw, c := newFake(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.Send(ctx, fromAccount(), testTo, "code", time.Minute)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send error = %v, want context.Canceled", err)
		}
		if !twilio.IsTemporary(err) {
			t.Errorf("cancellation should be temporary: %v", err)
		}
		if len(tw.Messages()) != 0 {
			t.Errorf("a message was sent with a cancelled context")
		}
	})
	t.Run("cancelled in flight", func(t *testing.T) {
		base, arrived := blockingServer(t)
		c := &twilio.Client{APIBase: base}
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		_, err := c.Send(ctx, fromAccount(), testTo, "code", time.Minute)
		if !errors.Is(err, context.Canceled) || !twilio.IsTemporary(err) {
			t.Fatalf("Send error = %v, want temporary context.Canceled", err)
		}
		assertNoToken(t, err)
	})
	t.Run("deadline of the context", func(t *testing.T) {
		base, _ := blockingServer(t)
		c := &twilio.Client{APIBase: base}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, fromAccount(), testTo, "code", time.Minute)
		if !errors.Is(err, context.DeadlineExceeded) || !twilio.IsTemporary(err) {
			t.Fatalf("Send error = %v, want temporary DeadlineExceeded", err)
		}
		if got := twilio.FormMessage(err); got != formBusy {
			t.Errorf("FormMessage = %q, want %q", got, formBusy)
		}
	})
	t.Run("client timeout when the context has no deadline", func(t *testing.T) {
		base, _ := blockingServer(t)
		c := &twilio.Client{APIBase: base, Timeout: 50 * time.Millisecond}
		start := time.Now()
		_, err := c.Send(context.Background(), fromAccount(), testTo, "code", time.Minute)
		if !errors.Is(err, context.DeadlineExceeded) || !twilio.IsTemporary(err) {
			t.Fatalf("Send error = %v, want temporary DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %v, want about 50ms", d)
		}
	})
}

func TestSendRefusedBeforeRequest(t *testing.T) {
	tests := []struct {
		name    string
		acct    twilio.Account
		to      string
		body    string
		wantErr error
		form    string
	}{
		{name: "number without plus", acct: fromAccount(), to: "07700900123", body: "code",
			wantErr: twilio.ErrInvalidNumber, form: formInvalid},
		{name: "number with spaces", acct: fromAccount(), to: "+44 7700 900123", body: "code",
			wantErr: twilio.ErrInvalidNumber, form: formInvalid},
		{name: "empty number", acct: fromAccount(), to: "", body: "code",
			wantErr: twilio.ErrInvalidNumber, form: formInvalid},
		{name: "empty body", acct: fromAccount(), to: testTo, body: "",
			wantErr: gatehouse.ErrInvalid, form: formFailed},
		{name: "invalid account", acct: twilio.Account{SID: testSID, AuthToken: testToken}, to: testTo, body: "code",
			wantErr: gatehouse.ErrInvalid, form: formFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw, c := newFake(t)
			_, err := c.Send(t.Context(), tt.acct, tt.to, tt.body, time.Minute)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Send error = %v, want %v", err, tt.wantErr)
			}
			if !twilio.IsPermanent(err) {
				t.Errorf("%v should be permanent", err)
			}
			if got := twilio.FormMessage(err); got != tt.form {
				t.Errorf("FormMessage = %q, want %q", got, tt.form)
			}
			if n := tw.Requests(); n != 0 {
				t.Errorf("%d requests reached Twilio, want 0", n)
			}
		})
	}
}

func TestSendBadAPIBase(t *testing.T) {
	for _, base := range []string{"ftp://example.com", "api.twilio.com", "http://", "://x"} {
		c := &twilio.Client{APIBase: base}
		_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
		if !errors.Is(err, gatehouse.ErrInvalid) || !twilio.IsPermanent(err) {
			t.Errorf("APIBase %q: error %v, want permanent ErrInvalid", base, err)
		}
	}
}

// replyServer answers every request with status and body.
func replyServer(tb testing.TB, status int, contentType, body string) *twilio.Client {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return &twilio.Client{APIBase: srv.URL}
}

func TestSendOddReplies(t *testing.T) {
	t.Run("HTML error page from a proxy", func(t *testing.T) {
		c := replyServer(t, 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>")
		_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
		e, ok := errors.AsType[*twilio.Error](err)
		if !ok || e.Status != 502 || e.Code != 0 || e.Message != "Bad Gateway" {
			t.Fatalf("Send error = %#v, want *Error HTTP 502 Bad Gateway", err)
		}
		if !twilio.IsTemporary(err) {
			t.Errorf("502 should be temporary")
		}
	})
	t.Run("401 without a Twilio body", func(t *testing.T) {
		c := replyServer(t, 401, "text/plain", "Unauthorized")
		_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
		if got := twilio.FormMessage(err); got != formCredentials {
			t.Errorf("FormMessage = %q, want %q", got, formCredentials)
		}
	})
	t.Run("201 without a sid", func(t *testing.T) {
		c := replyServer(t, 201, "application/json", `{"status": "queued"}`)
		_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
		if !errors.Is(err, twilio.ErrUnexpectedReply) || twilio.IsTemporary(err) {
			t.Errorf("Send error = %v, want permanent ErrUnexpectedReply", err)
		}
	})
	t.Run("201 that is not JSON", func(t *testing.T) {
		c := replyServer(t, 201, "text/plain", "ok")
		_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
		if !errors.Is(err, twilio.ErrUnexpectedReply) || !twilio.IsPermanent(err) {
			t.Errorf("Send error = %v, want permanent ErrUnexpectedReply", err)
		}
	})
	t.Run("201 with status failed", func(t *testing.T) {
		c := replyServer(t, 201, "application/json",
			`{"sid": "SM0123456789abcdef0123456789abcdef", "status": "failed", "error_code": 21610, "error_message": "Attempt to send to unsubscribed recipient"}`)
		_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
		e, ok := errors.AsType[*twilio.Error](err)
		if !ok || e.Code != 21610 || twilio.FormMessage(err) != formOptedOut || twilio.IsTemporary(err) {
			t.Errorf("Send error = %v, want permanent 21610", err)
		}
	})
	t.Run("200 from a gateway", func(t *testing.T) {
		c := replyServer(t, 200, "application/json", `{"sid": "SMabc", "status": "accepted"}`)
		sid, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
		if err != nil || sid != "SMabc" {
			t.Errorf("Send = %q, %v; want SMabc", sid, err)
		}
	})
}

// TestTokenNeverInErrors covers a server that echoes the credentials back,
// and the ways an Account may be printed or logged.
func TestTokenNeverInErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"code": 21211, "message": "bad request, token %s, header %s", "status": 400}`,
			pass, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	c := &twilio.Client{APIBase: srv.URL}
	_, err := c.Send(t.Context(), fromAccount(), testTo, "code", time.Minute)
	if err == nil {
		t.Fatal("Send succeeded")
	}
	assertNoToken(t, err)
	if !strings.Contains(err.Error(), "token [redacted], header Basic [redacted]") {
		t.Errorf("error leaks the Basic credential: %v", err)
	}
	e, ok := errors.AsType[*twilio.Error](err)
	if !ok || e.Code != 21211 || strings.Contains(e.Message, testToken) {
		t.Errorf("*Error = %#v, want code 21211 without the token", e)
	}
	if twilio.FormMessage(err) != formInvalid {
		t.Errorf("FormMessage = %q", twilio.FormMessage(err))
	}

	acct := fromAccount()
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("sending", "account", acct)
	for _, s := range []string{
		fmt.Sprint(acct), fmt.Sprintf("%v %+v %#v %s", acct, acct, acct, acct), logged.String(),
	} {
		if strings.Contains(s, testToken) {
			t.Errorf("printing an Account leaks the token: %s", s)
		}
	}
	if !strings.Contains(logged.String(), testSID) {
		t.Errorf("log lacks the SID: %s", logged.String())
	}

	// Validation errors never echo the values, even when a token is pasted
	// into the wrong field.
	for _, a := range []twilio.Account{
		{SID: testToken, AuthToken: testToken, From: testFrom},
		{SID: testSID, AuthToken: testToken, From: testToken},
		{SID: testSID, AuthToken: testToken, MessagingServiceSID: testToken},
	} {
		err := a.Validate()
		if err == nil {
			t.Errorf("Validate(%v) = nil", a)
		}
		assertNoToken(t, err)
	}
}

func TestAccountValidate(t *testing.T) {
	tests := []struct {
		name    string
		acct    twilio.Account
		wantErr string // a fragment of the error; "" for valid
	}{
		{name: "from number", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: testFrom}},
		{name: "messaging service", acct: twilio.Account{SID: testSID, AuthToken: testToken, MessagingServiceSID: testService}},
		{name: "upper-case hex", acct: twilio.Account{SID: "AC0123456789ABCDEF0123456789ABCDEF", AuthToken: testToken, From: testFrom}},
		{name: "shortest number", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: "+1234567"}},
		{name: "longest number", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: "+123456789012345"}},
		{name: "no SID", acct: twilio.Account{AuthToken: testToken, From: testFrom}, wantErr: "Account SID is required"},
		{name: "SID without AC", acct: twilio.Account{SID: "XY0123456789abcdef0123456789abcdef", AuthToken: testToken, From: testFrom}, wantErr: `Account SID must be "AC"`},
		{name: "SID too short", acct: twilio.Account{SID: "AC0123", AuthToken: testToken, From: testFrom}, wantErr: `Account SID must be "AC"`},
		{name: "SID not hex", acct: twilio.Account{SID: "AC0123456789abcdef0123456789abcdeg", AuthToken: testToken, From: testFrom}, wantErr: `Account SID must be "AC"`},
		{name: "SID with a path", acct: twilio.Account{SID: "AC0123456789abcdef0123456789abcdef/../x", AuthToken: testToken, From: testFrom}, wantErr: `Account SID must be "AC"`},
		{name: "no token", acct: twilio.Account{SID: testSID, From: testFrom}, wantErr: "Auth Token is required"},
		{name: "no sender", acct: twilio.Account{SID: testSID, AuthToken: testToken}, wantErr: "From number or a Messaging Service SID is required"},
		{name: "both senders", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: testFrom, MessagingServiceSID: testService}, wantErr: "not both"},
		{name: "from without plus", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: "15005550006"}, wantErr: "E.164"},
		{name: "from starting with 0", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: "+05005550006"}, wantErr: "E.164"},
		{name: "from too short", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: "+123456"}, wantErr: "E.164"},
		{name: "from too long", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: "+1234567890123456"}, wantErr: "E.164"},
		{name: "from with spaces", acct: twilio.Account{SID: testSID, AuthToken: testToken, From: "+1 500 555 0006"}, wantErr: "E.164"},
		{name: "service without MG", acct: twilio.Account{SID: testSID, AuthToken: testToken, MessagingServiceSID: testSID}, wantErr: `Messaging Service SID must be "MG"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.acct.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, gatehouse.ErrInvalid) {
				t.Errorf("Validate() = %v, want it to wrap gatehouse.ErrInvalid", err)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	if twilio.IsTemporary(nil) || twilio.IsPermanent(nil) || twilio.FormMessage(nil) != "" {
		t.Error("nil error: want not temporary, not permanent, no message")
	}
	other := errors.New("something else")
	if twilio.IsTemporary(other) || !twilio.IsPermanent(other) || twilio.FormMessage(other) != formFailed {
		t.Errorf("plain error: temporary %v, message %q", twilio.IsTemporary(other), twilio.FormMessage(other))
	}
	tests := []struct {
		err  *twilio.Error
		want string
	}{
		{&twilio.Error{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number: +1"}, "twilio: error 21211 (HTTP 400): Invalid 'To' Phone Number: +1"},
		{&twilio.Error{Status: 502, Message: "Bad Gateway"}, "twilio: HTTP 502: Bad Gateway"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	// Wrapped errors keep their meaning.
	wrapped := fmt.Errorf("send code: %w", &twilio.Error{Status: 400, Code: 21408})
	if twilio.FormMessage(wrapped) != formRegion || twilio.IsTemporary(wrapped) {
		t.Errorf("wrapped 21408: %q", twilio.FormMessage(wrapped))
	}
}
