package web

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// Observer is told what the server did, for metrics (package metrics
// implements it). Every string it receives comes from a fixed set chosen
// here — a registered route pattern, a method name, a result word — never
// from the request, so no e-mail, token, slug or other user-chosen string
// can reach a metric label. Its methods must be cheap and never block.
type Observer interface {
	// Request starts timing a request; the returned function is called
	// once with the matched route pattern ("" when none matched), the
	// status, and the bytes of request body read and of response body
	// written (on the document routes, the documents' bytes in and out).
	Request() func(route string, status int, bodyIn, bodyOut int64)
	// SignIn counts a first-step sign-in: method "password"; result
	// "success", "bad_credentials", "throttled" or "error".
	SignIn(method, result string)
	// SecondFactor counts a second-factor check: method one of the
	// gatehouse methods, "recovery" or "other"; result "success",
	// "mismatch", "expired", "replay", "used", "no_code", "unavailable",
	// "throttled", "locked", "too_many_failures" or "error".
	SecondFactor(method, result string)
	// CodeRefused counts a one-time code refused before sending: channel
	// "email", "sms" or "other"; reason "too_soon", "daily_cap",
	// "sms_cap", "sms_ip_cap", "sms_country", "sms_not_ready",
	// "delivery" or "other".
	CodeRefused(channel, reason string)
}

// nopObserver is the Observer when metrics are off.
type nopObserver struct{}

func (nopObserver) Request() func(string, int, int64, int64) {
	return func(string, int, int64, int64) {}
}
func (nopObserver) SignIn(string, string) {}
func (nopObserver) SecondFactor(string, string) {
}
func (nopObserver) CodeRefused(string, string) {}

type routeKey struct{}

// route carries the matched pattern out of the (nested) muxes: each
// middleware hands its handler a copy of the request, so the pattern a mux
// sets is seen only below it, and the innermost mux records it here.
type route struct{ pattern string }

// observeRequests times every request and reports it with its route
// pattern and status. It wraps everything, the panic guard included, so a
// recovered panic counts as the 500 it answered.
func (s *Server) observeRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := s.obs.Request()
		rt := &route{}
		cw := &countingWriter{statusWriter: statusWriter{ResponseWriter: w}}
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, rt))
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		defer func() {
			status := cw.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http answers 200
			}
			var in int64
			if body != nil {
				in = body.n
			}
			done(rt.pattern, status, in, cw.n)
		}()
		next.ServeHTTP(cw, r)
	})
}

// countingWriter counts the response body bytes written.
type countingWriter struct {
	statusWriter
	n int64
}

func (cw *countingWriter) Write(b []byte) (int, error) {
	n, err := cw.statusWriter.Write(b)
	cw.n += int64(n)
	return n, err
}

// countingBody counts the request body bytes read.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// recordRoute notes the pattern mux matched, unless a mux below it already
// did (the innermost match names the route). ServeMux sets r.Pattern on the
// request it is given, so it is readable once mux returns.
func recordRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if rt, ok := r.Context().Value(routeKey{}).(*route); ok && rt.pattern == "" {
				rt.pattern = r.Pattern
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// signInResult names the outcome of a password check.
func signInResult(err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.As(err, new(*account.ThrottledError)):
		return "throttled"
	case errors.Is(err, account.ErrBadCredentials):
		return "bad_credentials"
	}
	return "error"
}

// methodLabel turns the method a form names into a label: a known method,
// or "other" for anything else a client sent.
func methodLabel(method string) string {
	switch m := gatehouse.Method(method); m {
	case gatehouse.MethodTOTP, gatehouse.MethodSMS, gatehouse.MethodEmail:
		return method
	}
	switch method {
	case "recovery", "passkey":
		return method
	}
	return "other"
}

// checkResult names the outcome of a second-factor check.
func checkResult(err error) string {
	for _, r := range []struct {
		err    error
		result string
	}{
		{mfa.ErrMismatch, "mismatch"},
		{mfa.ErrExpired, "expired"},
		{mfa.ErrReplay, "replay"},
		{mfa.ErrRecoveryUsed, "used"},
		{mfa.ErrNoCode, "no_code"},
		{mfa.ErrUnavailable, "unavailable"},
		{mfa.ErrLocked, "locked"},
		{mfa.ErrTooManyFailures, "too_many_failures"},
		{mfa.ErrPasskeyFailed, "mismatch"},
		{mfa.ErrPasskeyUnknown, "mismatch"},
		{mfa.ErrPasskeyUV, "mismatch"},
		{mfa.ErrPasskeyCeremony, "expired"},
		{mfa.ErrPasskeyCloned, "cloned"},
	} {
		if errors.Is(err, r.err) {
			return r.result
		}
	}
	switch {
	case err == nil:
		return "success"
	case errors.As(err, new(*mfa.ThrottledError)):
		return "throttled"
	}
	return "error"
}

// observeCodeRefused reports err if it refused a code on the channel;
// other errors (and success) are not refusals.
func (s *Server) observeCodeRefused(channel gatehouse.Method, err error) {
	if err == nil {
		return
	}
	reason := ""
	switch {
	case errors.As(err, new(*mfa.TooSoonError)):
		reason = "too_soon"
	case errors.Is(err, mfa.ErrDailyCap):
		reason = "daily_cap"
	case errors.Is(err, mfa.ErrSMSCap):
		reason = "sms_cap"
	case errors.Is(err, mfa.ErrSMSIPCap):
		reason = "sms_ip_cap"
	case errors.Is(err, mfa.ErrSMSCountry):
		reason = "sms_country"
	case errors.Is(err, mfa.ErrSMSNotReady):
		reason = "sms_not_ready"
	case errors.As(err, new(*mfa.DeliveryError)):
		reason = "delivery"
	default:
		return
	}
	ch := "other"
	if channel == gatehouse.MethodEmail || channel == gatehouse.MethodSMS {
		ch = string(channel)
	}
	s.obs.CodeRefused(ch, reason)
}
