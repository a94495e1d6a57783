package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

type smsPage struct {
	page
	Phone    string
	Sent     bool // a live code went to Phone: only then does the page say so
	ResendIn int
	Error    string
}

func (s *Server) handleSMSStart(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	_, err := s.mfa.StartSMS(r.Context(), rq.visit, r.PostForm.Get("country"), r.PostForm.Get("phone"), clientIP(r))
	s.observeCodeRefused(gatehouse.MethodSMS, err)
	switch {
	case errors.As(err, new(*mfa.TooSoonError)):
		// The same number again within the minute: it is saved, and the
		// confirm page says whether a code to it is live and counts down.
	case isFormMFAError(err):
		s.showSecurityWith(w, r, http.StatusUnprocessableEntity, "", mfaSentence(err))
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
			s.showCodeConfirm(w, r, http.StatusUnprocessableEntity, channel, tmpl, mfaSentence(err))
		case err != nil:
			s.serverError(w, r, err)
		default:
			s.methodAdded(w, r, nil)
		}
	}
}

// showCodeConfirm renders an enrollment code form with its resend countdown.
// It says a code was sent only when this session has a live one sent to
// where the channel's codes go now.
func (s *Server) showCodeConfirm(w http.ResponseWriter, r *http.Request, status int, channel gatehouse.Method, tmpl, msg string) {
	v := reqOf(r).visit
	st, err := s.mfa.CodeState(r.Context(), v, channel)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	secs := int((st.ResendIn + time.Second - 1) / time.Second)
	if channel == gatehouse.MethodEmail {
		p := emailConfirmPage{page: s.page(r, "Confirm your e-mail address"), Sent: st.Sent, ResendIn: secs, Error: msg}
		p.Flash = newCodeFlash(r, st, channel)
		s.render(w, r, status, tmpl, p)
		return
	}
	p := smsPage{page: s.page(r, "Confirm your phone"), Sent: st.Sent, ResendIn: secs, Error: msg}
	p.Flash = newCodeFlash(r, st, channel)
	factors, _, err := s.mfa.Factors(r.Context(), v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	for _, f := range factors {
		if f.Method == gatehouse.MethodSMS {
			p.Phone = mfa.MaskPhone(f.Phone)
		}
	}
	s.render(w, r, status, tmpl, p)
}

func (s *Server) handleSMSResend(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	err := s.mfa.SendCode(r.Context(), rq.visit, gatehouse.MethodSMS, clientIP(r))
	s.observeCodeRefused(gatehouse.MethodSMS, err)
	var tooSoon *mfa.TooSoonError
	switch {
	case errors.As(err, &tooSoon):
		w.Header().Set("Retry-After", retryAfter(tooSoon.RetryAfter))
		s.showCodeConfirm(w, r, http.StatusTooManyRequests, gatehouse.MethodSMS, "smsconfirm", mfaSentence(err))
	case isFormMFAError(err):
		s.showCodeConfirm(w, r, http.StatusUnprocessableEntity, gatehouse.MethodSMS, "smsconfirm", mfaSentence(err))
	case err != nil:
		s.serverError(w, r, err)
	default:
		http.Redirect(w, r, "/account/security/sms/confirm?"+newCodeParam, http.StatusSeeOther)
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
		s.render(w, r, http.StatusUnprocessableEntity, "totp", totpPage{page: s.page(r, "Set up an authenticator app"), Setup: setup, URI: template.URL(setup.URI), Error: mfaSentence(err)})
		return
	}
	if errors.Is(err, mfa.ErrNotPending) {
		s.renderError(w, r, http.StatusConflict, mfaSentence(err))
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
			s.promoteFailed(w, r, err)
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
	Sent     bool // a live code went to the address: only then does the page say so
	ResendIn int
}

func (s *Server) handleEmailEnable(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	needsCode, err := s.mfa.EnableEmail(r.Context(), rq.visit, clientIP(r))
	s.observeCodeRefused(gatehouse.MethodEmail, err)
	switch {
	case errors.As(err, new(*mfa.TooSoonError)):
		needsCode = true // the confirm page says whether a code is live, and counts down
	case isFormMFAError(err):
		ue, _ := mfaUserError(err)
		s.renderError(w, r, ue.status, ue.sentence)
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if needsCode {
		next := "/account/security/email/confirm"
		if err == nil && r.PostFormValue("resend") == "new" {
			next += "?" + newCodeParam // "Send a new code" did send one
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.methodAdded(w, r, nil)
}
