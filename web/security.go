package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
)

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
	// HasMethod reports whether the user has an active second-factor
	// method: only then are recovery codes offered (they replace one).
	HasMethod bool
	// Passkeys: offered in the workspace (On), the user's list, whether
	// they may remove one and add another.
	PasskeysOn       bool
	Passkeys         []passkeyRow
	PasskeyCanRemove bool
	PasskeyRoom      bool
	PasskeyErr       string
	PasskeyActive    bool // the user has a passkey
	// PortalMail reports whether the user gets the portal's e-mails
	// (new documents, requests, messages).
	PortalMail bool
}

type deviceRow struct {
	ID                           int64
	Browser                      string
	Created, LastUsed, ExpiresOn string
}

// methodRow is one method's card on the Security page.
type methodRow struct {
	Method, Name string
	About        string // what the method is, in plain words
	Active       bool
	CanDisable   bool
	// Offered reports that the workspace allows the method now; a card for
	// a method it no longer allows is shown only while the user still has
	// it, so it can be turned off.
	Offered bool
	Detail  string
	Weak    string
}

// methodAbout explains each method on its card (SPEC §16), for people who
// have never heard of two-step verification.
var methodAbout = map[gatehouse.Method]string{
	gatehouse.MethodTOTP:  "An app on your phone — Google Authenticator, 1Password, Authy, Microsoft Authenticator or another — shows a new 6-digit code every 30 seconds. It works without signal, and the codes never travel over the network.",
	gatehouse.MethodSMS:   "We text a 6-digit code to your mobile phone each time you sign in.",
	gatehouse.MethodEmail: "We e-mail a 6-digit code to your address each time you sign in.",
}

func (s *Server) handleSecurity(w http.ResponseWriter, r *http.Request) {
	s.showSecurity(w, r, http.StatusOK, "")
}

func (s *Server) showSecurity(w http.ResponseWriter, r *http.Request, status int, passwordErr string) {
	s.showSecurityWith(w, r, status, passwordErr, "")
}

func (s *Server) showSecurityWith(w http.ResponseWriter, r *http.Request, status int, passwordErr, smsErr string) {
	s.showSecurityPage(w, r, status, securityErrors{Password: passwordErr, SMS: smsErr})
}

// securityErrors are the form messages of the Security page's cards.
type securityErrors struct{ Password, SMS, Passkey string }

func (s *Server) showSecurityPage(w http.ResponseWriter, r *http.Request, status int, errs securityErrors) {
	passwordErr, smsErr := errs.Password, errs.SMS
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
		HasMethod:   len(v.Methods) > 0,
	}
	if p.CanSkip {
		p.GraceUntil = rq.decision.GraceUntil.Format("2 January 2006")
	}
	if p.PortalMail, err = s.portal.NotificationsOn(r.Context(), portal.ViewerOf(v)); err != nil {
		s.serverError(w, r, err)
		return
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
			"added": "The method is on: it will be asked for at sign-in.", "removed": "The method is off.", "reauth": "Verified. You can make changes for the next 10 minutes.", "notifications": "Your e-mail settings were saved.",
			"devices": "Trusted devices forgotten: they will be asked for the second step again.", "password": "Password changed. Your other browsers were signed out.",
		}[flash]
	}
	if err := s.passkeyCard(r, &p, errs.Passkey); err != nil {
		s.serverError(w, r, err)
		return
	}
	for _, m := range gatehouse.Methods {
		if m == gatehouse.MethodPasskey {
			continue // passkeys have their own card
		}
		row := methodRow{Method: string(m), Name: mfa.MethodName(m), About: methodAbout[m]}
		for _, f := range factors {
			if f.Method == m && f.Active {
				row.Active, row.CanDisable = true, mfa.CanDisable(v, m)
			}
		}
		switch m {
		case gatehouse.MethodSMS:
			row.Weak = "Text messages can be intercepted. An authenticator app is safer."
			for _, f := range factors {
				if f.Method == m && f.Active {
					row.Detail = "Codes go to " + mfa.MaskPhone(f.Phone) + "."
				}
			}
		case gatehouse.MethodEmail:
			row.Weak = "The weakest method: anyone who can read your e-mail can use it."
			row.Detail = "Codes go to " + v.User.Email + "."
		}
		// A method the owner does not allow is not offered, but one the user
		// already has stays listed so it can be removed.
		row.Offered = v.Workspace.MFA.Allows(m) && (m != gatehouse.MethodSMS || v.Workspace.Twilio.Ready())
		if row.Active || row.Offered {
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
		s.renderError(w, r, http.StatusConflict, mfaSentence(err))
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
	// Next is where to go once confirmed (a sensitive document); empty
	// goes back to the Security page.
	Next string
}

// reauthPage asks a user with two-step methods for one of them (or a
// recovery code), whatever the workspace's mode, and a user without any for
// the password (SPEC §6).
func (s *Server) reauthPage(r *http.Request, method, msg string) reauthPage {
	v := reqOf(r).visit
	p := reauthPage{page: s.page(r, "Confirm it's you"), Error: msg, Next: safeNext(r.URL.Query().Get("next"))}
	if r.Method == http.MethodPost {
		p.Next = safeNext(r.PostForm.Get("next"))
	}
	// Without a method, or while two-step verification is paused by the
	// plan or the mode, the password is what the user proves (SPEC §6, §14).
	if len(v.Methods) == 0 || !v.Workspace.Plan.HasMFA() || v.Workspace.MFA.Mode == gatehouse.MFADisabled {
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
		st, err := s.mfa.CodeState(r.Context(), reqOf(r).visit, gatehouse.Method(p.Method))
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		p.ResendIn = int((st.ResendIn + 999_999_999) / 1_000_000_000)
		p.Flash = newCodeFlash(r, st, gatehouse.Method(p.Method))
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
	} else {
		if method == string(gatehouse.MethodPasskey) {
			err = s.verifyPasskey(w, r)
		} else {
			_, err = s.mfa.Verify(r.Context(), rq.visit, method, r.PostForm.Get("code"), clientIP(r))
		}
		s.obs.SecondFactor(methodLabel(method), checkResult(err))
		if err == nil {
			err = s.accounts.MarkVerified(r.Context(), rq.visit)
		}
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
		s.render(w, r, http.StatusUnauthorized, "reauth", s.reauthPage(r, method, mfaSentence(err)))
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if next := safeNext(r.PostForm.Get("next")); next != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account/security?done=reauth", http.StatusSeeOther)
}
