package web

import (
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
)

// Passkeys (SPEC §15). Each ceremony has two steps: the page's script
// POSTs to a begin endpoint, which answers the options for
// navigator.credentials as JSON and sets a short-lived cookie naming the
// ceremony kept in the store; the script then submits the page's form with
// the browser's answer in the field "credential", and the form's handler
// finishes the ceremony and answers like any other form (303, or the page
// again with a message).

// relyingParty is the workspace's WebAuthn relying party. Its ID is the
// workspace's own host without the port and its origin the exact origin
// built from GATEHOUSE_BASE_URL, never from the request's Host: a passkey
// made for one workspace can never sign in to another.
func (s *Server) relyingParty(ws *gatehouse.Workspace) mfa.RelyingParty {
	host := ws.Slug + "." + s.baseHost
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return mfa.RelyingParty{ID: host, Origin: s.WorkspaceURL(ws.Slug), Name: ws.Name}
}

// ceremonyCookieName is host-only like the session's.
func (s *Server) ceremonyCookieName() string {
	if s.secure {
		return "__Host-gatehouse_passkey"
	}
	return "gatehouse_passkey"
}

func (s *Server) ceremonyToken(r *http.Request) string {
	c, err := r.Cookie(s.ceremonyCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

func (s *Server) clearCeremonyCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.ceremonyCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// passkeyAnswer is the JSON error of a begin endpoint; the script shows
// Message.
type passkeyAnswer struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// begun answers a begin endpoint: the options, and the ceremony's cookie.
func (s *Server) begun(w http.ResponseWriter, r *http.Request, b *mfa.Begun, err error) {
	switch {
	case errors.Is(err, mfa.ErrPasskeyBusy):
		w.Header().Set("Retry-After", retryAfter(mfa.SignInCeremonyWindow))
		writeJSON(w, http.StatusTooManyRequests, passkeyAnswer{Error: "too_many_requests", Message: "Too many passkey sign-ins from this address. Wait a few minutes, or sign in with your password."})
		return
	case isFormMFAError(err) || isThrottle(err):
		writeJSON(w, http.StatusConflict, passkeyAnswer{Error: "unavailable", Message: mfaSentence(err)})
		return
	case err != nil:
		s.log.Error("begin passkey ceremony", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, passkeyAnswer{Error: "server", Message: "Something went wrong on our side. Please try again."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.ceremonyCookieName(), Value: b.Token, Path: "/", Expires: b.ExpiresAt,
		MaxAge:   int(b.ExpiresAt.Sub(s.accounts.Now()).Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusOK, b.Options)
}

func (s *Server) handlePasskeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	b, err := s.mfa.BeginPasskeyRegistration(r.Context(), rq.visit, s.relyingParty(rq.ws))
	s.begun(w, r, b, err)
}

// handlePasskeyRegister finishes adding a passkey. The first passkey (like
// the first authenticator app) shows new recovery codes, and adding a
// method counts as a verification, as confirming a code does.
func (s *Server) handlePasskeyRegister(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	s.clearCeremonyCookie(w)
	codes, err := s.mfa.FinishPasskeyRegistration(r.Context(), rq.visit, s.relyingParty(rq.ws), s.ceremonyToken(r),
		r.PostForm.Get("passkey_name"), r.PostForm.Get("credential"), clientIP(r))
	switch {
	case isFormMFAError(err):
		s.showSecurityPage(w, r, http.StatusUnprocessableEntity, securityErrors{Passkey: mfaSentence(err)})
	case err != nil:
		s.serverError(w, r, err)
	default:
		s.methodAdded(w, r, codes)
	}
}

func (s *Server) handlePasskeyRemove(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err == nil {
		err = s.mfa.RemovePasskey(r.Context(), reqOf(r).visit, id, clientIP(r))
	} else {
		err = gatehouse.ErrNotFound
	}
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		s.renderError(w, r, http.StatusNotFound, "You have no such passkey.")
	case errors.Is(err, mfa.ErrLastMethod):
		s.renderError(w, r, http.StatusConflict, mfaSentence(err))
	case err != nil:
		s.serverError(w, r, err)
	default:
		http.Redirect(w, r, "/account/security?done=removed", http.StatusSeeOther)
	}
}

// handlePasskeyVerifyBegin starts a passkey check of the visit's user: the
// second factor of a pending login, or a re-verification.
func (s *Server) handlePasskeyVerifyBegin(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	b, err := s.mfa.BeginPasskeyVerify(r.Context(), rq.visit, s.relyingParty(rq.ws), rq.decision)
	s.begun(w, r, b, err)
}

// verifyPasskey finishes the check begun by handlePasskeyVerifyBegin.
func (s *Server) verifyPasskey(w http.ResponseWriter, r *http.Request) error {
	rq := reqOf(r)
	s.clearCeremonyCookie(w)
	return s.mfa.VerifyPasskey(r.Context(), rq.visit, s.relyingParty(rq.ws), s.ceremonyToken(r), r.PostForm.Get("credential"), clientIP(r))
}

func (s *Server) handlePasskeySignInBegin(w http.ResponseWriter, r *http.Request) {
	b, err := s.mfa.BeginPasskeySignIn(r.Context(), reqOf(r).ws, s.relyingParty(reqOf(r).ws), clientIP(r))
	s.begun(w, r, b, err)
}

// handlePasskeySignIn finishes a passwordless sign-in: a discoverable,
// user-verified passkey counts as both factors, and the session passes the
// gate at once (with a new id, as every sign-in).
func (s *Server) handlePasskeySignIn(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	rq := reqOf(r)
	next := r.PostForm.Get("next")
	s.clearCeremonyCookie(w)
	u, err := s.mfa.FinishPasskeySignIn(r.Context(), rq.ws, s.relyingParty(rq.ws), s.ceremonyToken(r), r.PostForm.Get("credential"), clientIP(r))
	s.obs.SignIn("passkey", checkResult(err))
	switch {
	case isFormMFAError(err):
		s.render(w, r, http.StatusUnauthorized, "login", s.loginPage(r, "", next, mfaSentence(err)))
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	s.finishSignIn(w, r, u, account.SignInOptions{Passkey: true, Next: next})
}

type passkeyRow struct {
	ID                int64
	Name              string
	Created, LastUsed string
	BackedUp          bool
}

// passkeyCard fills the Security page's passkey card.
func (s *Server) passkeyCard(r *http.Request, p *securityPage, msg string) error {
	v := reqOf(r).visit
	ps, err := s.mfa.Passkeys(r.Context(), v)
	if err != nil {
		return err
	}
	const day = "2 Jan 2006"
	for _, k := range ps {
		row := passkeyRow{ID: k.ID, Name: k.Name, Created: k.CreatedAt.Format(day), LastUsed: "Never", BackedUp: k.BackupState}
		if k.LastUsedAt != nil {
			row.LastUsed = k.LastUsedAt.Format(day)
		}
		p.Passkeys = append(p.Passkeys, row)
	}
	p.PasskeysOn = mfa.PasskeysOn(&v.Workspace)
	p.PasskeyRoom = len(ps) < mfa.MaxPasskeys
	p.PasskeyActive = len(ps) > 0
	p.PasskeyCanRemove = len(ps) > 1 || mfa.CanDisable(v, gatehouse.MethodPasskey)
	p.PasskeyErr = msg
	return nil
}
