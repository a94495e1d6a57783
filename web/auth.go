package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/password"
)

// cookieName is host-only by construction: no Domain attribute is ever set,
// and on https the __Host- prefix makes browsers enforce it.
func (s *Server) cookieName() string {
	if s.secure {
		return "__Host-gatehouse_session"
	}
	return "gatehouse_session"
}

// deviceCookieName names the trusted-device cookie, host-only like the
// session's.
func (s *Server) deviceCookieName() string {
	if s.secure {
		return "__Host-gatehouse_device"
	}
	return "gatehouse_device"
}

func (s *Server) setDeviceCookie(w http.ResponseWriter, d *mfa.NewDevice) {
	http.SetCookie(w, &http.Cookie{
		Name: s.deviceCookieName(), Value: d.Token, Path: "/", Expires: d.ExpiresAt,
		MaxAge:   int(d.ExpiresAt.Sub(s.accounts.Now()).Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) deviceToken(r *http.Request) string {
	c, err := r.Cookie(s.deviceCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

func (s *Server) sessionToken(r *http.Request) string {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

func (s *Server) setSessionCookie(w http.ResponseWriter, in *account.SignedIn) {
	c := &http.Cookie{
		Name: s.cookieName(), Value: in.Token, Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
	if in.Session.Remember && in.Decision.Next == mfa.SignedIn {
		// Only a remembered session outlives the browser.
		c.Expires = in.Session.ExpiresAt
		c.MaxAge = int(in.Session.ExpiresAt.Sub(s.accounts.Now()).Seconds())
	}
	http.SetCookie(w, c)
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// parseForm reads a form body: an oversized body is a 413 and a malformed
// one a 400, each with a page instead of a crash.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.renderError(w, r, http.StatusRequestEntityTooLarge, "That request was too large.")
		} else {
			s.renderError(w, r, http.StatusBadRequest, "That form could not be read. Please try again.")
		}
		return false
	}
	return true
}

// safeNext returns next when it is a path on this host, else "". It refuses
// absolute URLs, scheme-relative "//host" and backslash tricks, so a login
// link can never send anyone to another site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return next
}

// homeFor is where a user lands after signing in.
func homeFor(u *gatehouse.User) string {
	if u.Role.IsStaff() {
		return "/dashboard"
	}
	return "/portal"
}

// finishSignIn is where every way in (password, invitation, sign-up, reset)
// ends: it asks the account service for the session, rotating any old one,
// sets the cookie and sends the user on: to their page when the gate let
// them through, else to the verify or enrollment page.
func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, u *gatehouse.User, o account.SignInOptions) {
	rq := reqOf(r)
	o.UserAgent, o.IP, o.Replaces, o.Next = r.UserAgent(), clientIP(r), rq.token, safeNext(o.Next)
	in, err := s.accounts.SignIn(r.Context(), rq.ws, u, o)
	if errors.Is(err, account.ErrBadCredentials) {
		s.renderError(w, r, http.StatusForbidden, "This account cannot sign in. Ask your workspace admin.")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setSessionCookie(w, in)
	if in.Decision.Next != mfa.SignedIn {
		http.Redirect(w, r, gateURL(in.Decision), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, landing(u, o.Next), http.StatusSeeOther)
}

// landing is where a user goes once signed in: the page first asked for,
// when it is on this host and theirs to see, else their home.
func landing(u *gatehouse.User, next string) string {
	dest := safeNext(next)
	if dest == "" || (!u.Role.IsStaff() && strings.HasPrefix(dest, "/dashboard")) {
		return homeFor(u)
	}
	return dest
}

type loginPage struct {
	page
	Email        string
	Next         string
	Error        string
	ShowRemember bool
	Signup       bool
	Passkeys     bool // "Sign in with a passkey" is offered
}

func (s *Server) loginPage(r *http.Request, email, next, msg string) loginPage {
	rq := reqOf(r)
	return loginPage{
		page: s.page(r, "Sign in"), Email: email, Next: safeNext(next), Error: msg,
		ShowRemember: rq.ws.RememberMeEnabled, Signup: rq.ws.SignupEnabled, Passkeys: mfa.PasskeysOn(rq.ws),
	}
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	if v := reqOf(r).visit; v != nil {
		http.Redirect(w, r, homeFor(&v.User), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if v := reqOf(r).visit; v != nil {
		http.Redirect(w, r, homeFor(&v.User), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", s.loginPage(r, "", r.URL.Query().Get("next"), ""))
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	email, next := r.PostForm.Get("email"), r.PostForm.Get("next")
	u, err := s.accounts.Authenticate(r.Context(), rq.ws, account.Credentials{
		Email: email, Password: r.PostForm.Get("password"), IP: clientIP(r),
	})
	s.obs.SignIn("password", signInResult(err))
	var throttled *account.ThrottledError
	switch {
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", retryAfter(throttled.RetryAfter))
		s.render(w, r, http.StatusTooManyRequests, "login", s.loginPage(r, email, next, sentence(throttled)))
		return
	case errors.Is(err, account.ErrBadCredentials):
		s.render(w, r, http.StatusUnauthorized, "login", s.loginPage(r, email, next, sentence(err)))
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	// A trusted-device cookie skips only this user's second factor, never
	// the password, which was just checked.
	trusted, err := s.mfa.DeviceTrusted(r.Context(), rq.ws, u.ID, s.deviceToken(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.finishSignIn(w, r, u, account.SignInOptions{Remember: r.PostForm.Get("remember_me") == "on", Next: next, TrustedDevice: trusted})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	if err := s.accounts.SignOut(r.Context(), rq.ws.ID, rq.token); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.clearSessionCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type signupPage struct {
	page
	Name, Email string
	Error       string
	Sent        bool
}

func (s *Server) handleSignupPage(w http.ResponseWriter, r *http.Request) {
	if !reqOf(r).ws.SignupEnabled {
		s.renderError(w, r, http.StatusNotFound, "This portal does not offer sign-up. Ask the business for an invitation.")
		return
	}
	if r.URL.Query().Get("sent") != "" {
		s.render(w, r, http.StatusOK, "signup", signupPage{page: s.page(r, "Check your inbox"), Sent: true})
		return
	}
	s.render(w, r, http.StatusOK, "signup", signupPage{page: s.page(r, "Create your account")})
}

func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	name, email := r.PostForm.Get("name"), r.PostForm.Get("email")
	if !s.allowMailForm(w, r) {
		return
	}
	err := s.accounts.SignUp(r.Context(), rq.ws, name, email, r.PostForm.Get("password"))
	if errors.Is(err, account.ErrSignupClosed) {
		s.renderError(w, r, http.StatusNotFound, "This portal does not offer sign-up. Ask the business for an invitation.")
		return
	}
	if msg, ok := formError(err); ok {
		s.render(w, r, http.StatusUnprocessableEntity, "signup", signupPage{page: s.page(r, "Create your account"), Name: name, Email: email, Error: msg})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The same answer whether or not the address has an account.
	http.Redirect(w, r, "/signup?sent=1", http.StatusSeeOther)
}

// linkPage is the form behind an e-mailed link (invitation, reset, sign-up).
type linkPage struct {
	page
	Action string
	Email  string
	Name   string
	Error  string
}

// linkUser shows the "link expired" page and returns nil when the link is
// not valid.
func (s *Server) linkUser(w http.ResponseWriter, r *http.Request, kind gatehouse.TokenKind) *gatehouse.User {
	u, err := s.accounts.LinkUser(r.Context(), reqOf(r).ws, kind, r.PathValue("token"))
	if errors.Is(err, account.ErrLinkInvalid) {
		s.renderError(w, r, http.StatusNotFound, "That link has expired or was already used. Ask for a new one.")
		return nil
	}
	if err != nil {
		s.serverError(w, r, err)
		return nil
	}
	return u
}

func (s *Server) handleSignupConfirmPage(w http.ResponseWriter, r *http.Request) {
	// GET never spends the link: mail scanners open links to check them.
	if u := s.linkUser(w, r, gatehouse.TokenSignup); u != nil {
		s.render(w, r, http.StatusOK, "confirm", linkPage{page: s.page(r, "Confirm your account"), Action: r.URL.Path, Email: u.Email})
	}
}

func (s *Server) handleSignupConfirm(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u, err := s.accounts.ConfirmSignUp(r.Context(), reqOf(r).ws, r.PathValue("token"), r.PostForm.Get("password"))
	s.afterLink(w, r, gatehouse.TokenSignup, u, err, "confirm", linkPage{page: s.page(r, "Confirm your account"), Action: r.URL.Path})
}

func (s *Server) handleInvitePage(w http.ResponseWriter, r *http.Request) {
	if u := s.linkUser(w, r, gatehouse.TokenInvite); u != nil {
		s.render(w, r, http.StatusOK, "invite", linkPage{page: s.page(r, "Accept your invitation"), Action: r.URL.Path, Email: u.Email, Name: u.Name})
	}
}

func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	name := r.PostForm.Get("name")
	u, err := s.accounts.AcceptInvite(r.Context(), reqOf(r).ws, r.PathValue("token"), name, r.PostForm.Get("password"))
	s.afterLink(w, r, gatehouse.TokenInvite, u, err, "invite", linkPage{page: s.page(r, "Accept your invitation"), Action: r.URL.Path, Name: name})
}

func (s *Server) handleResetPage(w http.ResponseWriter, r *http.Request) {
	if u := s.linkUser(w, r, gatehouse.TokenPasswordReset); u != nil {
		s.render(w, r, http.StatusOK, "reset", linkPage{page: s.page(r, "Choose a new password"), Action: r.URL.Path, Email: u.Email})
	}
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u, err := s.accounts.ResetPassword(r.Context(), reqOf(r).ws, r.PathValue("token"), r.PostForm.Get("password"))
	s.afterLink(w, r, gatehouse.TokenPasswordReset, u, err, "reset", linkPage{page: s.page(r, "Choose a new password"), Action: r.URL.Path})
}

// afterReset reports whether a link kind is a password reset, whose login
// may not use e-mail as its second factor when the user has another.
func afterReset(kind gatehouse.TokenKind) bool { return kind == gatehouse.TokenPasswordReset }

// afterLink finishes a link form: a spent or expired link gets its page, a
// bad password re-shows the form (the link is still good), success signs in.
func (s *Server) afterLink(w http.ResponseWriter, r *http.Request, kind gatehouse.TokenKind, u *gatehouse.User, err error, tmpl string, p linkPage) {
	if errors.Is(err, account.ErrLinkInvalid) {
		s.renderError(w, r, http.StatusNotFound, "That link has expired or was already used. Ask for a new one.")
		return
	}
	if msg, ok := formError(err); ok {
		if lu, lerr := s.accounts.LinkUser(r.Context(), reqOf(r).ws, kind, r.PathValue("token")); lerr == nil {
			p.Email = lu.Email
		}
		p.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, tmpl, p)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The e-mailed link proved the mailbox in this login.
	s.finishSignIn(w, r, u, account.SignInOptions{AfterReset: afterReset(kind), MailboxProven: true})
}

type forgotPage struct {
	page
	Sent bool
}

func (s *Server) handleForgotPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("sent") != "" {
		s.render(w, r, http.StatusOK, "forgot", forgotPage{page: s.page(r, "Check your inbox"), Sent: true})
		return
	}
	s.render(w, r, http.StatusOK, "forgot", forgotPage{page: s.page(r, "Reset your password")})
}

func (s *Server) handleForgot(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	if !s.allowMailForm(w, r) {
		return
	}
	if err := s.accounts.RequestReset(r.Context(), reqOf(r).ws, r.PostForm.Get("email")); err != nil {
		s.serverError(w, r, err)
		return
	}
	// The same answer whether or not the address has an account.
	http.Redirect(w, r, "/password/forgot?sent=1", http.StatusSeeOther)
}

// allowMailForm applies the per-address limit of the forms that send mail,
// answering 429 past it.
func (s *Server) allowMailForm(w http.ResponseWriter, r *http.Request) bool {
	err := s.accounts.AllowMailForm(r.Context(), reqOf(r).ws, clientIP(r))
	switch {
	case errors.Is(err, account.ErrTooManyRequests):
		w.Header().Set("Retry-After", "3600")
		s.renderError(w, r, http.StatusTooManyRequests, sentence(err)+".")
		return false
	case err != nil:
		s.serverError(w, r, err)
		return false
	}
	return true
}

// formError returns the sentence for an error the visitor can fix.
func formError(err error) (string, bool) {
	for _, target := range []error{
		password.ErrTooShort, password.ErrTooLong, password.ErrCommon, password.ErrWorkspaceName,
		account.ErrBadEmail, account.ErrEmailTooLong, account.ErrNameTooLong, account.ErrAlreadyMember, account.ErrSignupPassword, gatehouse.ErrInvalid,
	} {
		if errors.Is(err, target) {
			return sentence(err), true
		}
	}
	return "", false
}

// sentence capitalises an error for display.
func sentence(err error) string {
	msg := err.Error()
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// retryAfter is d in whole seconds, rounded up, for the Retry-After header.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
