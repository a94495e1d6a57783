package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

type verifyPage struct {
	page
	Method       string // the method being challenged
	Options      []methodOption
	Recovery     bool
	RecoveryLeft int
	ProveMailbox bool
	Resend       bool // the method sends codes
	Sent         bool // this login has a live code on the method: only then does the page say one was sent
	ResendIn     int  // seconds until a new code may be sent
	Error        string
	ShowRemember bool
	RememberDays int
}

type methodOption struct {
	Method, Name string
}

func (s *Server) handleVerifyPage(w http.ResponseWriter, r *http.Request) {
	s.showVerify(w, r, http.StatusOK, r.URL.Query().Get("method"), "", true)
}

// showVerify renders the challenge for method (the strongest when empty).
// Selecting e-mail sends a code unless one was sent in the last minute.
func (s *Server) showVerify(w http.ResponseWriter, r *http.Request, status int, method, msg string, send bool) {
	rq := reqOf(r)
	switch {
	case !rq.pending:
		http.Redirect(w, r, homeFor(&rq.visit.User), http.StatusSeeOther)
		return
	case rq.decision.Next != mfa.Challenge && rq.decision.Next != mfa.ProveMailbox:
		http.Redirect(w, r, gateURL(rq.decision), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	ch, err := s.mfa.ChallengeFor(ctx, rq.visit)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := ch.Decision
	p := verifyPage{page: s.page(r, "Two-step verification"), Recovery: d.Recovery, RecoveryLeft: ch.RecoveryLeft, Error: msg}
	if d.Next == mfa.ProveMailbox {
		p.ProveMailbox, method = true, string(gatehouse.MethodEmail)
		p.Title = "Confirm your e-mail address"
	} else {
		if !offered(d, method) && (method != "recovery" || !d.Recovery) {
			method = string(d.Method)
		}
		for _, m := range d.Options {
			p.Options = append(p.Options, methodOption{string(m), mfa.MethodName(m)})
		}
	}
	p.Method = method
	p.ShowRemember = !p.ProveMailbox && rq.ws.MFA.TrustedDeviceDays > 0
	p.RememberDays = rq.ws.MFA.TrustedDeviceDays
	if m := gatehouse.Method(method); m == gatehouse.MethodEmail || m == gatehouse.MethodSMS {
		// Selecting a method that sends codes sends one, unless this login
		// has a live one or the user's last code went out less than a
		// minute ago (then the page says no code was sent, and counts down).
		p.Resend = true
		st, err := s.mfa.CodeState(ctx, rq.visit, m)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if !st.Sent && st.ResendIn == 0 && send {
			var tooSoon *mfa.TooSoonError
			err := s.mfa.SendCode(ctx, rq.visit, m, clientIP(r))
			s.observeCodeRefused(m, err)
			switch {
			case errors.As(err, &tooSoon):
				st.ResendIn = tooSoon.RetryAfter
			case isFormMFAError(err):
				p.Error = mfaSentence(err)
			case err != nil:
				s.serverError(w, r, err)
				return
			default:
				st.Sent, st.ResendIn = true, mfa.ResendGap
			}
		}
		p.Sent, p.ResendIn = st.Sent, int((st.ResendIn+time.Second-1)/time.Second)
		p.Flash = newCodeFlash(r, st, m)
	}
	s.render(w, r, status, "verify", p)
}

func offered(d mfa.Decision, method string) bool {
	for _, m := range d.Options {
		if string(m) == method {
			return true
		}
	}
	return false
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	if !rq.pending {
		http.Redirect(w, r, homeFor(&rq.visit.User), http.StatusSeeOther)
		return
	}
	method := r.PostForm.Get("method")
	proving := rq.decision.Next == mfa.ProveMailbox
	var verified *mfa.Verified
	var err error
	if method == string(gatehouse.MethodPasskey) {
		if err = s.verifyPasskey(w, r); err == nil {
			verified = &mfa.Verified{Method: method}
		}
	} else {
		verified, err = s.mfa.Verify(r.Context(), rq.visit, method, r.PostForm.Get("code"), clientIP(r))
	}
	s.obs.SecondFactor(methodLabel(method), checkResult(err))
	var throttled *mfa.ThrottledError
	switch {
	case s.endedLogin(w, r, err):
		return
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", retryAfter(throttled.RetryAfter))
		s.showVerify(w, r, http.StatusTooManyRequests, method, mfaSentence(err), false)
		return
	case errors.Is(err, mfa.ErrLocked):
		s.showVerify(w, r, http.StatusForbidden, method, mfaSentence(err), false)
		return
	case isFormMFAError(err):
		s.showVerify(w, r, http.StatusUnauthorized, method, mfaSentence(err), false)
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if proving {
		// The mailbox is proven; now the user picks and activates a method.
		http.Redirect(w, r, "/account/security", http.StatusSeeOther)
		return
	}
	if r.PostForm.Get("remember_device") == "on" {
		d, err := s.mfa.TrustDevice(r.Context(), rq.visit, r.UserAgent(), clientIP(r))
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if d != nil {
			s.setDeviceCookie(w, d)
		}
	}
	if verified.Method == "recovery" {
		// Tell the user how many codes remain (and warn when few do) before
		// sending them on.
		in, err := s.accounts.Promote(r.Context(), rq.visit, r.UserAgent(), clientIP(r), false)
		if err != nil {
			s.promoteFailed(w, r, err)
			return
		}
		s.setSessionCookie(w, in)
		q := url.Values{"done": {"recovery"}, "left": {strconv.Itoa(verified.RecoveryLeft)}, "next": {landing(&rq.visit.User, rq.visit.Session.Next)}}
		http.Redirect(w, r, "/account/security?"+q.Encode(), http.StatusSeeOther)
		return
	}
	s.promote(w, r, false)
}

// endedLogin handles the end of a pending login: the user is back at the
// password form. After mfa.ErrTooManyFailures the session goes here. After
// mfa.ErrLoginEnded it is already gone, replaced by the request that passed
// the gate with it (a double submit): the cookie is left alone, since the
// browser may hold that request's new session by now.
func (s *Server) endedLogin(w http.ResponseWriter, r *http.Request, err error) bool {
	if errors.Is(err, mfa.ErrLoginEnded) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return true
	}
	if !errors.Is(err, mfa.ErrTooManyFailures) {
		return false
	}
	rq := reqOf(r)
	if err := s.accounts.SignOut(r.Context(), rq.ws.ID, rq.token); err != nil {
		s.serverError(w, r, err)
		return true
	}
	s.clearSessionCookie(w)
	s.render(w, r, http.StatusUnauthorized, "login", s.loginPage(r, rq.visit.User.Email, "", mfaSentence(mfa.ErrTooManyFailures)))
	return true
}

// promote turns the pending session into a signed-in one with a new id and
// sends the user to the page first asked for. skipped marks a grace-period
// "Remind me later" rather than a verification.
func (s *Server) promote(w http.ResponseWriter, r *http.Request, skipped bool) {
	rq := reqOf(r)
	in, err := s.accounts.Promote(r.Context(), rq.visit, r.UserAgent(), clientIP(r), skipped)
	if err != nil {
		s.promoteFailed(w, r, err)
		return
	}
	s.setSessionCookie(w, in)
	http.Redirect(w, r, landing(&rq.visit.User, rq.visit.Session.Next), http.StatusSeeOther)
}

// promoteFailed answers a failed Promote: a login that another request
// already took through the gate (a double submit) is an ended login, as in
// endedLogin (the cookie is left alone for that request's new session);
// anything else is a server error.
func (s *Server) promoteFailed(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, account.ErrNoSession) {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// isThrottle reports a pause or lock on the account's second factor.
func isThrottle(err error) bool {
	return errors.As(err, new(*mfa.ThrottledError)) || errors.Is(err, mfa.ErrLocked)
}

func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	method := r.PostForm.Get("method")
	back := "/login/verify?method=" + url.QueryEscape(method)
	if !rq.pending {
		back = "/account/security/reauth?method=" + url.QueryEscape(method)
		// Re-verifying for a sensitive document: after the new code, the
		// page still goes on to the download.
		if next := safeNext(r.PostForm.Get("next")); next != "" {
			back += "&next=" + url.QueryEscape(next)
		}
	}
	// Codes go only where this login may use them: a method the gate offers
	// (or the mailbox being proven), or, re-verifying, an active method.
	if !mfa.Offers(rq.visit, rq.decision, method, 0) {
		s.renderError(w, r, http.StatusUnprocessableEntity, mfaSentence(mfa.ErrUnavailable))
		return
	}
	err := s.mfa.SendCode(r.Context(), rq.visit, gatehouse.Method(method), clientIP(r))
	s.observeCodeRefused(gatehouse.Method(method), err)
	var tooSoon *mfa.TooSoonError
	switch {
	case errors.As(err, &tooSoon):
		w.Header().Set("Retry-After", retryAfter(tooSoon.RetryAfter))
		s.render(w, r, http.StatusTooManyRequests, "toosoon", tooSoonPage{page: s.page(r, "Please wait"), Seconds: tooSoon.Seconds(), Back: back, Message: mfaSentence(err)})
		return
	case isFormMFAError(err):
		ue, _ := mfaUserError(err)
		s.renderError(w, r, ue.status, ue.sentence)
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, back+"&"+newCodeParam, http.StatusSeeOther)
}

// newCodeParam marks the page a resend leads to, which then says that a new
// code was sent.
const newCodeParam = "sent=new"

// newCodeFlash is the notice after "Send a new code" (SPEC §16). The query
// only asks for it: it is shown while the store says this session holds a
// live code on the channel, sent within the last minute, so a reload later
// or a hand-made link never claims a code that was not sent.
func newCodeFlash(r *http.Request, st mfa.CodeState, channel gatehouse.Method) string {
	if r.URL.Query().Get("sent") != "new" || !st.Sent || st.ResendIn <= 0 {
		return ""
	}
	if channel == gatehouse.MethodSMS {
		return "A new code was sent by text message."
	}
	return "A new code was sent to your e-mail address."
}

type tooSoonPage struct {
	page
	Seconds int
	Back    string
	Message string
}

// handleSkip lets a user in a grace period skip enrollment for this session.
func (s *Server) handleSkip(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	if !rq.pending || rq.decision.Next != mfa.Enroll || !rq.decision.CanSkip {
		s.renderError(w, r, http.StatusForbidden, "Two-factor sign-in must be set up now.")
		return
	}
	s.promote(w, r, true)
}
