package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// withVisit lets any session through, pending or not (verify, enrollment).
func (s *Server) withVisit(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqOf(r).visit == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// enrolling lets through signed-in sessions and pending sessions that must
// enroll; a pending session that owes a challenge goes to verify first.
func (s *Server) enrolling(h http.HandlerFunc) http.Handler {
	return s.withVisit(func(w http.ResponseWriter, r *http.Request) {
		rq := reqOf(r)
		if rq.pending && rq.decision.Next != mfa.Enroll {
			http.Redirect(w, r, gateURL(rq.decision), http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// signedInSensitive is a sensitive change that is not enrollment (disable a
// method, new recovery codes, new password): no pending session reaches it.
func (s *Server) signedInSensitive(h http.HandlerFunc) http.Handler {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request) {
		if !s.accounts.Recent(reqOf(r).visit) {
			http.Redirect(w, r, "/account/security/reauth", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// sensitive additionally asks for a recent re-verification (SPEC §6). A
// pending session enrolling has just typed its password, which counts.
func (s *Server) sensitive(h http.HandlerFunc) http.Handler {
	return s.enrolling(func(w http.ResponseWriter, r *http.Request) {
		if !s.accounts.Recent(reqOf(r).visit) {
			http.Redirect(w, r, "/account/security/reauth", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

type verifyPage struct {
	page
	Method       string // the method being challenged
	Options      []methodOption
	Recovery     bool
	RecoveryLeft int
	ProveMailbox bool
	Resend       bool // the method sends codes
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
		// Selecting a method that sends codes sends one, unless one went
		// out in the last minute.
		p.Resend = true
		wait, err := s.mfa.LastSend(ctx, rq.visit, m)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if wait == 0 && send {
			var tooSoon *mfa.TooSoonError
			switch err := s.mfa.SendCode(ctx, rq.visit, m, clientIP(r)); {
			case errors.As(err, &tooSoon):
				wait = tooSoon.RetryAfter
			case isFormMFAError(err):
				p.Error = err.Error()
			case err != nil:
				s.serverError(w, r, err)
				return
			default:
				wait = mfa.ResendGap
			}
		}
		p.ResendIn = int((wait + 999_999_999) / 1_000_000_000)
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
	verified, err := s.mfa.Verify(r.Context(), rq.visit, method, r.PostForm.Get("code"), clientIP(r))
	var throttled *mfa.ThrottledError
	switch {
	case s.endedLogin(w, r, err):
		return
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", retryAfter(throttled.RetryAfter))
		s.showVerify(w, r, http.StatusTooManyRequests, method, err.Error(), false)
		return
	case errors.Is(err, mfa.ErrLocked):
		s.showVerify(w, r, http.StatusForbidden, method, err.Error(), false)
		return
	case isFormMFAError(err):
		s.showVerify(w, r, http.StatusUnauthorized, method, err.Error(), false)
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
			s.serverError(w, r, err)
			return
		}
		s.setSessionCookie(w, in)
		q := url.Values{"done": {"recovery"}, "left": {strconv.Itoa(verified.RecoveryLeft)}, "next": {landing(&rq.visit.User, rq.visit.Session.Next)}}
		http.Redirect(w, r, "/account/security?"+q.Encode(), http.StatusSeeOther)
		return
	}
	s.promote(w, r, false)
}

// endedLogin handles mfa.ErrTooManyFailures: the pending login is over, so
// its session goes and the user is back at the password form.
func (s *Server) endedLogin(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, mfa.ErrTooManyFailures) {
		return false
	}
	rq := reqOf(r)
	if err := s.accounts.SignOut(r.Context(), rq.ws.ID, rq.token); err != nil {
		s.serverError(w, r, err)
		return true
	}
	s.clearSessionCookie(w)
	s.render(w, r, http.StatusUnauthorized, "login", s.loginPage(r, rq.visit.User.Email, "", mfa.ErrTooManyFailures.Error()))
	return true
}

// promote turns the pending session into a signed-in one with a new id and
// sends the user to the page first asked for. skipped marks a grace-period
// "Remind me later" rather than a verification.
func (s *Server) promote(w http.ResponseWriter, r *http.Request, skipped bool) {
	rq := reqOf(r)
	in, err := s.accounts.Promote(r.Context(), rq.visit, r.UserAgent(), clientIP(r), skipped)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setSessionCookie(w, in)
	http.Redirect(w, r, landing(&rq.visit.User, rq.visit.Session.Next), http.StatusSeeOther)
}

// isThrottle reports a pause or lock on the account's second factor.
func isThrottle(err error) bool {
	return errors.As(err, new(*mfa.ThrottledError)) || errors.Is(err, mfa.ErrLocked)
}

func isFormMFAError(err error) bool {
	var delivery *mfa.DeliveryError
	if errors.As(err, &delivery) {
		return true
	}
	for _, target := range []error{
		mfa.ErrMismatch, mfa.ErrExpired, mfa.ErrReplay, mfa.ErrRecoveryUsed, mfa.ErrNoCode, mfa.ErrUnavailable,
		mfa.ErrDailyCap, mfa.ErrNotPending, mfa.ErrLastMethod, mfa.ErrForbidden,
		mfa.ErrPhoneInvalid, mfa.ErrPhoneNotSMS, mfa.ErrSMSCountry, mfa.ErrSMSCap, mfa.ErrSMSIPCap, mfa.ErrSMSNotReady, mfa.ErrSMSNoPhone,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
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
	}
	// Codes go only where this login may use them: a method the gate offers
	// (or the mailbox being proven), or, re-verifying, an active method.
	if !mfa.Offers(rq.visit, rq.decision, method, 0) {
		s.renderError(w, r, http.StatusUnprocessableEntity, mfa.ErrUnavailable.Error())
		return
	}
	err := s.mfa.SendCode(r.Context(), rq.visit, gatehouse.Method(method), clientIP(r))
	var tooSoon *mfa.TooSoonError
	switch {
	case errors.As(err, &tooSoon):
		w.Header().Set("Retry-After", retryAfter(tooSoon.RetryAfter))
		s.render(w, r, http.StatusTooManyRequests, "toosoon", tooSoonPage{page: s.page(r, "Please wait"), Seconds: tooSoon.Seconds(), Back: back, Message: err.Error()})
		return
	case isFormMFAError(err):
		s.renderError(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
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

type securityPage struct {
	page
	Devices      []deviceRow
	Continue     string // where to go on after a recovery-code sign-in
	PasswordErr  string
	SMSErr       string
	Available    bool // the plan includes 2FA
	Mode         gatehouse.MFAMode
	Enrolling    bool // pending: must set up a method to continue
	CanSkip      bool
	GraceUntil   string
	Methods      []methodRow
	RecoveryLeft int
	RecoveryLow  bool
}

type deviceRow struct {
	ID                           int64
	Browser                      string
	Created, LastUsed, ExpiresOn string
}

type methodRow struct {
	Method, Name string
	Active       bool
	CanDisable   bool
	Detail       string
	Weak         string
}

func (s *Server) handleSecurity(w http.ResponseWriter, r *http.Request) {
	s.showSecurity(w, r, http.StatusOK, "")
}

func (s *Server) showSecurity(w http.ResponseWriter, r *http.Request, status int, passwordErr string) {
	s.showSecurityWith(w, r, status, passwordErr, "")
}

func (s *Server) showSecurityWith(w http.ResponseWriter, r *http.Request, status int, passwordErr, smsErr string) {
	rq := reqOf(r)
	v := rq.visit
	factors, left, err := s.mfa.Factors(r.Context(), v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	devices, err := s.mfa.Devices(r.Context(), v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := securityPage{
		SMSErr:      smsErr,
		PasswordErr: passwordErr,
		page:        s.page(r, "Security"), Available: v.Workspace.Plan.HasMFA(), Mode: v.Workspace.MFA.Mode,
		Enrolling: rq.pending, CanSkip: rq.decision.CanSkip, RecoveryLeft: left,
		RecoveryLow: left <= mfa.RecoveryWarnAt && len(v.Methods) > 0,
	}
	if p.CanSkip {
		p.GraceUntil = rq.decision.GraceUntil.Format("2 January 2006")
	}
	const day = "2 Jan 2006"
	for _, d := range devices {
		p.Devices = append(p.Devices, deviceRow{ID: d.ID, Browser: mfa.BrowserName(d.UserAgent),
			Created: d.CreatedAt.Format(day), LastUsed: d.LastUsedAt.Format(day), ExpiresOn: d.ExpiresAt.Format(day)})
	}
	if next := safeNext(r.URL.Query().Get("next")); next != "" {
		p.Continue = next
	}
	if r.URL.Query().Get("done") == "recovery" {
		p.Flash = "Recovery code accepted. You have " + strconv.Itoa(left) + " left."
	} else if flash := r.URL.Query().Get("done"); flash != "" {
		p.Flash = map[string]string{
			"added": "Two-factor method added.", "removed": "Two-factor method removed.", "reauth": "Verified. You can make changes for the next 10 minutes.",
			"devices": "Trusted devices forgotten: they will be asked for the second step again.", "password": "Password changed. Your other browsers were signed out.",
		}[flash]
	}
	for _, m := range gatehouse.Methods {
		row := methodRow{Method: string(m), Name: mfa.MethodName(m)}
		for _, f := range factors {
			if f.Method == m && f.Active {
				row.Active, row.CanDisable = true, mfa.CanDisable(v, m)
			}
		}
		switch m {
		case gatehouse.MethodSMS:
			row.Weak = "Text messages can be intercepted; an authenticator app is safer."
		case gatehouse.MethodEmail:
			row.Weak = "The weakest method: anyone who can read your e-mail can use it."
			row.Detail = v.User.Email
		}
		// A method the owner does not allow is not offered, but one the user
		// already has stays listed so it can be removed.
		if m == gatehouse.MethodSMS {
			for _, f := range factors {
				if f.Method == m && f.Active {
					row.Detail = mfa.MaskPhone(f.Phone)
				}
			}
		}
		usable := v.Workspace.MFA.Allows(m) && (m != gatehouse.MethodSMS || v.Workspace.Twilio.Ready())
		if row.Active || usable {
			p.Methods = append(p.Methods, row)
		}
	}
	s.render(w, r, status, "security", p)
}

// handleRevokeDevices forgets one trusted device ({id}) or all of them.
func (s *Server) handleRevokeDevices(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	var err error
	if raw := r.PathValue("id"); raw != "" {
		id, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil {
			s.renderError(w, r, http.StatusNotFound, "There is no such device.")
			return
		}
		err = s.mfa.RevokeDevice(r.Context(), rq.visit, id, clientIP(r))
	} else {
		err = s.mfa.RevokeDevices(r.Context(), rq.visit, clientIP(r))
	}
	if errors.Is(err, gatehouse.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "There is no such device.")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/security?done=devices", http.StatusSeeOther)
}

func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	err := s.accounts.ChangePassword(r.Context(), reqOf(r).visit, r.PostForm.Get("password"), clientIP(r))
	if msg, ok := formError(err); ok {
		s.showSecurity(w, r, http.StatusUnprocessableEntity, msg)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/security?done=password", http.StatusSeeOther)
}

type smsPage struct {
	page
	Phone    string
	ResendIn int
	Error    string
}

func (s *Server) handleSMSStart(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	_, err := s.mfa.StartSMS(r.Context(), rq.visit, r.PostForm.Get("country"), r.PostForm.Get("phone"), clientIP(r))
	switch {
	case errors.As(err, new(*mfa.TooSoonError)):
		// The number is saved; a code went out less than a minute ago, and
		// the confirm page counts down to the next.
	case isFormMFAError(err):
		s.showSecurityWith(w, r, http.StatusUnprocessableEntity, "", err.Error())
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/security/sms/confirm", http.StatusSeeOther)
}

// handleSMSConfirmPage asks for the code sent to the pending phone.
func (s *Server) handleSMSConfirmPage(w http.ResponseWriter, r *http.Request) {
	s.showCodeConfirm(w, r, http.StatusOK, gatehouse.MethodSMS, "smsconfirm", "")
}

// handleEmailConfirmPage asks for the code that proves the mailbox before
// e-mail codes are turned on.
func (s *Server) handleEmailConfirmPage(w http.ResponseWriter, r *http.Request) {
	s.showCodeConfirm(w, r, http.StatusOK, gatehouse.MethodEmail, "emailconfirm", "")
}

// confirmCode is the handler that activates an e-mail or SMS method with the
// code sent to it.
func (s *Server) confirmCode(channel gatehouse.Method, tmpl string, confirm func(context.Context, *gatehouse.Visit, string, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		err := confirm(r.Context(), reqOf(r).visit, r.PostForm.Get("code"), clientIP(r))
		switch {
		case s.endedLogin(w, r, err):
		case isFormMFAError(err) || isThrottle(err):
			s.showCodeConfirm(w, r, http.StatusUnprocessableEntity, channel, tmpl, err.Error())
		case err != nil:
			s.serverError(w, r, err)
		default:
			s.methodAdded(w, r, nil)
		}
	}
}

// showCodeConfirm renders an enrollment code form with its resend countdown.
func (s *Server) showCodeConfirm(w http.ResponseWriter, r *http.Request, status int, channel gatehouse.Method, tmpl, msg string) {
	v := reqOf(r).visit
	wait, err := s.mfa.LastSend(r.Context(), v, channel)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	secs := int((wait + time.Second - 1) / time.Second)
	if channel == gatehouse.MethodEmail {
		s.render(w, r, status, tmpl, emailConfirmPage{page: s.page(r, "Confirm your e-mail address"), ResendIn: secs, Error: msg})
		return
	}
	p := smsPage{page: s.page(r, "Confirm your phone"), ResendIn: secs, Error: msg}
	if factors, _, err := s.mfa.Factors(r.Context(), v); err == nil {
		for _, f := range factors {
			if f.Method == gatehouse.MethodSMS {
				p.Phone = mfa.MaskPhone(f.Phone)
			}
		}
	}
	s.render(w, r, status, tmpl, p)
}

func (s *Server) handleSMSResend(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	err := s.mfa.SendCode(r.Context(), rq.visit, gatehouse.MethodSMS, clientIP(r))
	var tooSoon *mfa.TooSoonError
	p := smsPage{page: s.page(r, "Confirm your phone"), ResendIn: int(mfa.ResendGap / time.Second)}
	switch {
	case errors.As(err, &tooSoon):
		w.Header().Set("Retry-After", retryAfter(tooSoon.RetryAfter))
		p.Error, p.ResendIn = err.Error(), tooSoon.Seconds()
		s.render(w, r, http.StatusTooManyRequests, "smsconfirm", p)
	case isFormMFAError(err):
		p.Error, p.ResendIn = err.Error(), 0
		s.render(w, r, http.StatusUnprocessableEntity, "smsconfirm", p)
	case err != nil:
		s.serverError(w, r, err)
	default:
		s.render(w, r, http.StatusOK, "smsconfirm", p)
	}
}

type totpPage struct {
	page
	Setup *mfa.TOTPSetup
	// URI is the otpauth:// URI, marked safe: html/template would blank
	// a non-web scheme in a URL-like attribute, and Gatehouse built it.
	URI   template.URL
	Error string
}

func (s *Server) handleTOTPStart(w http.ResponseWriter, r *http.Request) {
	setup, err := s.mfa.StartTOTP(r.Context(), reqOf(r).visit)
	if errors.Is(err, gatehouse.ErrInvalid) || errors.Is(err, mfa.ErrUnavailable) {
		s.renderError(w, r, http.StatusConflict, sentence(err))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "totp", totpPage{page: s.page(r, "Set up an authenticator app"), Setup: setup, URI: template.URL(setup.URI)})
}

func (s *Server) handleTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	codes, err := s.mfa.ConfirmTOTP(r.Context(), rq.visit, r.PostForm.Get("code"), clientIP(r))
	if s.endedLogin(w, r, err) {
		return
	}
	if errors.Is(err, mfa.ErrMismatch) || errors.Is(err, mfa.ErrReplay) || isThrottle(err) {
		setup, perr := s.mfa.PendingTOTP(r.Context(), rq.visit)
		if perr != nil {
			s.serverError(w, r, perr)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, "totp", totpPage{page: s.page(r, "Set up an authenticator app"), Setup: setup, URI: template.URL(setup.URI), Error: err.Error()})
		return
	}
	if errors.Is(err, mfa.ErrNotPending) {
		s.renderError(w, r, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.methodAdded(w, r, codes)
}

// methodAdded finishes an enrollment: confirming a new method counts as a
// verification, so a pending session is promoted (new id) and a signed-in
// one is marked verified. New recovery codes are shown once.
func (s *Server) methodAdded(w http.ResponseWriter, r *http.Request, codes []string) {
	rq := reqOf(r)
	next := "/account/security?done=added"
	if rq.pending {
		in, err := s.accounts.Promote(r.Context(), rq.visit, r.UserAgent(), clientIP(r), false)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		s.setSessionCookie(w, in)
		next = landing(&rq.visit.User, rq.visit.Session.Next)
	} else if err := s.accounts.MarkVerified(r.Context(), rq.visit); err != nil {
		s.serverError(w, r, err)
		return
	}
	if len(codes) == 0 {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.showRecoveryCodes(w, r, codes, next)
}

type recoveryPage struct {
	page
	Codes    []string
	Download template.URL
	Next     string
}

func (s *Server) showRecoveryCodes(w http.ResponseWriter, r *http.Request, codes []string, next string) {
	text := "Recovery codes for " + reqOf(r).visit.User.Email + " at " + reqOf(r).ws.Name + "\n" +
		"Each works once. Keep them somewhere safe.\n\n" + strings.Join(codes, "\n") + "\n"
	// A data: URL keeps the codes out of any server log or cache: they are
	// shown once and never stored in the clear.
	download := template.URL("data:text/plain;charset=utf-8," + url.PathEscape(text))
	s.render(w, r, http.StatusOK, "recovery", recoveryPage{page: s.page(r, "Your recovery codes"), Codes: codes, Download: download, Next: next})
}

type emailConfirmPage struct {
	page
	Error    string
	ResendIn int
}

func (s *Server) handleEmailEnable(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	needsCode, err := s.mfa.EnableEmail(r.Context(), rq.visit, clientIP(r))
	switch {
	case errors.As(err, new(*mfa.TooSoonError)):
		needsCode = true // a code went out less than a minute ago
	case isFormMFAError(err):
		s.renderError(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if needsCode {
		http.Redirect(w, r, "/account/security/email/confirm", http.StatusSeeOther)
		return
	}
	s.methodAdded(w, r, nil)
}

func (s *Server) handleDisable(w http.ResponseWriter, r *http.Request) {
	m, err := gatehouse.ParseMethod(r.PathValue("method"))
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, "There is no such method.")
		return
	}
	err = s.mfa.Disable(r.Context(), reqOf(r).visit, m, clientIP(r))
	if errors.Is(err, mfa.ErrUnavailable) {
		s.renderError(w, r, http.StatusNotFound, "You do not have that method.")
		return
	}
	if errors.Is(err, mfa.ErrLastMethod) {
		s.renderError(w, r, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/security?done=removed", http.StatusSeeOther)
}

func (s *Server) handleRegenerate(w http.ResponseWriter, r *http.Request) {
	codes, err := s.mfa.RegenerateRecovery(r.Context(), reqOf(r).visit, clientIP(r))
	if errors.Is(err, gatehouse.ErrInvalid) {
		s.renderError(w, r, http.StatusConflict, sentence(err))
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.showRecoveryCodes(w, r, codes, "/account/security")
}

type reauthPage struct {
	page
	Password bool // no second factor to ask for: ask for the password
	Method   string
	Options  []methodOption
	Resend   bool
	ResendIn int
	Error    string
}

// reauthPage asks a user with two-step methods for one of them (or a
// recovery code), whatever the workspace's mode, and a user without any for
// the password (SPEC §6).
func (s *Server) reauthPage(r *http.Request, method, msg string) reauthPage {
	v := reqOf(r).visit
	p := reauthPage{page: s.page(r, "Confirm it's you"), Error: msg}
	if len(v.Methods) == 0 {
		p.Password = true
		return p
	}
	if method != "recovery" && !slices.Contains(v.Methods, gatehouse.Method(method)) {
		method = string(v.Methods[0])
	}
	p.Method = method
	p.Resend = method == string(gatehouse.MethodEmail) || method == string(gatehouse.MethodSMS)
	for _, m := range v.Methods {
		p.Options = append(p.Options, methodOption{string(m), mfa.MethodName(m)})
	}
	p.Options = append(p.Options, methodOption{"recovery", "A recovery code"})
	return p
}

func (s *Server) handleReauthPage(w http.ResponseWriter, r *http.Request) {
	p := s.reauthPage(r, r.URL.Query().Get("method"), "")
	if p.Resend {
		wait, err := s.mfa.LastSend(r.Context(), reqOf(r).visit, gatehouse.Method(p.Method))
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		p.ResendIn = int((wait + 999_999_999) / 1_000_000_000)
	}
	s.render(w, r, http.StatusOK, "reauth", p)
}

func (s *Server) handleReauth(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	method := r.PostForm.Get("method")
	var err error
	if s.reauthPage(r, method, "").Password {
		err = s.accounts.Reauthenticate(r.Context(), rq.visit, r.PostForm.Get("password"), clientIP(r))
	} else if _, err = s.mfa.Verify(r.Context(), rq.visit, method, r.PostForm.Get("code"), clientIP(r)); err == nil {
		err = s.accounts.MarkVerified(r.Context(), rq.visit)
	}
	var throttled *account.ThrottledError
	var mfaThrottled *mfa.ThrottledError
	switch {
	case errors.Is(err, account.ErrBadCredentials):
		s.render(w, r, http.StatusUnauthorized, "reauth", s.reauthPage(r, method, "That password does not match."))
		return
	case errors.As(err, &throttled) || errors.As(err, &mfaThrottled) || errors.Is(err, mfa.ErrLocked):
		s.render(w, r, http.StatusTooManyRequests, "reauth", s.reauthPage(r, method, sentence(err)))
		return
	case isFormMFAError(err):
		s.render(w, r, http.StatusUnauthorized, "reauth", s.reauthPage(r, method, err.Error()))
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/security?done=reauth", http.StatusSeeOther)
}
